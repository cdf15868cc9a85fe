/**
 * The seven oneiric_* tools. Each asks the backend, answers its result as
 * structuredContent plus a line of text, and turns any failure into a tool
 * error (mcp-errors.ts); arguments are checked as mcp-schemas.ts explains.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { forbidden } from "../auth/access-control.js";
import type { QueryBackend } from "../query-backend.js";
import { parseParameters } from "../query-service.js";
import { toolError } from "./mcp-errors.js";
import {
  adapterIdArguments,
  adapterIdParameters,
  checkHealthOutput,
  detailOutput,
  healthOutput,
  invalidateOutput,
  listArguments,
  listOutput,
  noArguments,
  noParameters,
  resolveArguments,
  resolveOutput,
  uptimeArguments,
  uptimeOutput,
} from "./mcp-schemas.js";
import {
  checkHealthText,
  daemonHealthText,
  detailText,
  INVALIDATED_TEXT,
  listText,
  resolutionText,
  uptimeText,
} from "./mcp-tool-texts.js";

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true };

/**
 * `scopesEnforced`: MCP over HTTP with authentication on, where the tool that
 * changes something needs the request's `admin` scope.
 */
export function registerTools(
  mcp: McpServer,
  backend: QueryBackend,
  scopesEnforced: boolean,
): void {
  mcp.registerTool(
    "oneiric_list_adapters",
    {
      title: "List adapters",
      description:
        "Adapters in the registry's catalog with the daemon's last-known health verdict, filtered by " +
        "project, domain, category, provider, status; healthy_only keeps healthy, usable ones.",
      inputSchema: listArguments,
      outputSchema: listOutput,
      annotations: { ...READ_ONLY, openWorldHint: false },
    },
    (args) =>
      answer(
        async () => {
          const { adapters, registry } = await backend.listAdapters(args);
          return { count: adapters.length, adapters, registry };
        },
        (value) => listText(value.adapters),
      ),
  );

  mcp.registerTool(
    "oneiric_get_adapter",
    {
      title: "Get an adapter",
      description:
        "One adapter's details: catalog entry (capabilities, metadata, factory path), health verdict, " +
        "breaker, maintenance, and its recent checks.",
      inputSchema: adapterIdArguments,
      outputSchema: detailOutput,
      annotations: { ...READ_ONLY, openWorldHint: false },
    },
    (args) =>
      answer(async () => {
        const { adapter_id } = parseParameters(adapterIdParameters, args, "argument");
        return backend.getAdapter(adapter_id);
      }, detailText),
  );

  mcp.registerTool(
    "oneiric_check_health",
    {
      title: "Check an adapter's health",
      description:
        "The daemon's verdict on one adapter beside the registry's own HealthCheck answer " +
        "(asked now, through the registry client's cache and fallbacks).",
      inputSchema: adapterIdArguments,
      outputSchema: checkHealthOutput,
      annotations: { ...READ_ONLY, openWorldHint: true },
    },
    (args) =>
      answer(async () => {
        const { adapter_id } = parseParameters(adapterIdParameters, args, "argument");
        return backend.checkHealth(adapter_id);
      }, checkHealthText),
  );

  mcp.registerTool(
    "oneiric_resolve_adapter",
    {
      title: "Resolve an adapter",
      description:
        "Which adapter a workflow should use for a domain/category (and optionally provider, " +
        "project): the choice (adapter_id), ordered fallbacks, excluded candidates with the reason " +
        "each, and why.",
      inputSchema: resolveArguments,
      outputSchema: resolveOutput,
      annotations: { ...READ_ONLY, openWorldHint: false },
    },
    (args) =>
      answer(async () => {
        const resolution = await backend.resolve(args);
        return { adapter_id: resolution.choice?.adapter_id ?? null, ...resolution };
      }, resolutionText),
  );

  mcp.registerTool(
    "oneiric_uptime",
    {
      title: "Adapter uptime",
      description:
        "Each adapter's uptime over a window ending now (1h, 24h, 7d, 30d, 90d; default 24h), " +
        "as GET /v1/uptime answers it, with the list filters of oneiric_list_adapters: up " +
        "(healthy + degraded) over up + down (unhealthy) time; maintenance and unknown time are " +
        "left out and reported beside it, with coverage_percent saying how much was seen.",
      inputSchema: uptimeArguments,
      outputSchema: uptimeOutput,
      annotations: { ...READ_ONLY, openWorldHint: false },
    },
    (args) =>
      answer(async () => {
        const uptime = await backend.uptime(args);
        return { ...uptime, count: uptime.adapters.length };
      }, uptimeText),
  );

  mcp.registerTool(
    "oneiric_invalidate_cache",
    {
      title: "Invalidate the registry cache",
      description:
        "Drops the daemon's cached registry answers, so the next queries ask the registry.",
      inputSchema: noArguments,
      outputSchema: invalidateOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    (args, extra) =>
      answer(
        async () => {
          // Every MCP request already needed `read` at the HTTP layer; this one changes state.
          const scopes = extra.authInfo?.scopes ?? [];
          if (scopesEnforced && !scopes.includes("admin")) throw forbidden("admin", scopes);
          parseParameters(noParameters, args, "argument");
          return backend.invalidateCache();
        },
        () => INVALIDATED_TEXT,
      ),
  );

  mcp.registerTool(
    "oneiric_health_check",
    {
      title: "Daemon health",
      description:
        "The daemon's own health: readiness, adapters by status, the registry link (endpoints, " +
        "breakers, last sync) and the event journal.",
      inputSchema: noArguments,
      outputSchema: healthOutput,
      annotations: { ...READ_ONLY, openWorldHint: false },
    },
    (args) =>
      answer(async () => {
        parseParameters(noParameters, args, "argument");
        return backend.healthCheck();
      }, daemonHealthText),
  );
}

/** `work`'s value as structuredContent with `text(value)` beside it, or the tool error. */
async function answer<T extends object>(
  work: () => Promise<T>,
  text: (value: T) => string,
): Promise<CallToolResult> {
  try {
    const value = await work();
    return {
      content: [{ type: "text", text: text(value) }],
      structuredContent: { ...value } as Record<string, unknown>,
    };
  } catch (error) {
    return toolError(error);
  }
}
