/**
 * The daemon's MCP surface: seven tools (mcp-tools.ts), two resources
 * (mcp-resources.ts) with subscriptions (mcp-subscriptions.ts), one factory.
 * Whatever answers the queries (the daemon in-process, a running daemon over
 * HTTP, a database file) is a QueryBackend; the transports (mcp-http.ts,
 * mcp-stdio.ts) only connect an McpServer made here.
 */

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Logger } from "pino";
import type { EventHub } from "../../events/event-hub.js";
import type { QueryBackend } from "../query-backend.js";
import { followJournal } from "./journal-follower.js";
import { registerResources } from "./mcp-resources.js";
import { enableSubscriptions } from "./mcp-subscriptions.js";
import { registerTools } from "./mcp-tools.js";

export { TOOL_NAMES } from "../tool-names.js";
export { ERROR_META_KEY, errorCode, toolError } from "./mcp-errors.js";
export { ADAPTERS_URI, adapterUri } from "./mcp-resources.js";

export const MCP_SERVER_NAME = "oneiric-healthd";

export interface McpServerOptions {
  /** The daemon's version, announced in `initialize`. */
  version: string;
  /**
   * The daemon's event hub, when the server runs inside the daemon: subscriptions
   * follow committed journal events live. Without it the server polls
   * `backend.events()` every `pollIntervalMs` while something is subscribed.
   */
  hub?: EventHub | undefined;
  /** Polling period without a hub (default 500 ms). */
  pollIntervalMs?: number | undefined;
  /** Where to report trouble following the journal; must not write to stdout under stdio. */
  logger?: Logger | undefined;
  /**
   * MCP over HTTP with authentication on: tools that change something (the
   * cache invalidation) need the `admin` scope of the request's auth info,
   * which the HTTP server attaches (`extra.authInfo`); without it they refuse.
   */
  scopesEnforced?: boolean | undefined;
}

/**
 * An McpServer answering from `backend`: one per MCP session. Journal
 * following starts with the first subscription and stops with the last one
 * or when the session closes.
 */
export function createMcpServer(backend: QueryBackend, options: McpServerOptions): McpServer {
  const mcp = new McpServer(
    { name: MCP_SERVER_NAME, title: "Oneiric adapter health", version: options.version },
    {
      capabilities: {
        tools: { listChanged: false },
        resources: { subscribe: true, listChanged: false },
      },
      instructions:
        "Adapter health for the Oneiric adapter registry, as the oneiric-healthd daemon sees it. " +
        "Use oneiric_resolve_adapter to pick an adapter for a domain/category (it skips unhealthy, " +
        "flapping, in-maintenance and breaker-open adapters and names fallbacks), " +
        "oneiric_list_adapters / oneiric_get_adapter to inspect, oneiric_check_health to compare the " +
        "daemon's verdict with the registry's, oneiric_uptime for how reliable adapters were over " +
        "a window. Subscribe to oneiric://adapters/{adapter_id} to hear " +
        "about changes.",
    },
  );

  registerTools(mcp, backend, options.scopesEnforced ?? false);
  registerResources(mcp, backend);
  enableSubscriptions(mcp, (deliver) => followJournal(backend, options, deliver));
  return mcp;
}
