/**
 * The MCP tools the daemon offers, named as the integration plan names them.
 * Kept apart from the MCP server so `workflow check` can validate tool names
 * without loading the MCP SDK.
 */
export const TOOL_NAMES = [
  "oneiric_list_adapters",
  "oneiric_get_adapter",
  "oneiric_check_health",
  "oneiric_resolve_adapter",
  "oneiric_invalidate_cache",
  "oneiric_health_check",
  "oneiric_uptime",
] as const;

export type ToolName = (typeof TOOL_NAMES)[number];
