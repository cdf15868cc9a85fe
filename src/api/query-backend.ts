import type { CloudEvent } from "../domain/events.js";
import type { AdapterStatusView, RegistryView } from "../domain/status-view.js";
import type { UptimeAnswer } from "./history-queries.js";
import type { AdapterDetail, QueryService, ResolutionAnswer } from "./query-service.js";

export type HealthCheckAnswer = ReturnType<QueryService["healthCheck"]>;
export type CheckHealthAnswer = Awaited<ReturnType<QueryService["checkHealth"]>>;
export interface EventsPage {
  events: CloudEvent[];
  next_since: number;
  oldest_seq: number | null;
}

/**
 * The queries a client surface (MCP tools, CLI commands) needs, whoever answers
 * them: the daemon in-process, a running daemon over HTTP, or a database file
 * read directly while the daemon is stopped. Inputs are unvalidated; every
 * implementation validates them the same way (QueryService's schemas) and
 * throws ApiError with the same codes.
 */
export interface QueryBackend {
  /** Says who answers, for people: "daemon at http://…", "database … (read-only)". */
  readonly description: string;
  listAdapters(
    filter?: unknown,
  ): Promise<{ adapters: AdapterStatusView[]; registry: RegistryView | null }>;
  getAdapter(adapterId: string): Promise<AdapterDetail>;
  checkHealth(adapterId: string): Promise<CheckHealthAnswer>;
  resolve(requirement: unknown): Promise<ResolutionAnswer>;
  resolveBatch(body: unknown): Promise<ResolutionAnswer[]>;
  events(page: unknown): Promise<EventsPage>;
  /** Each adapter's uptime over a window (`GET /v1/uptime`: window and list filter). */
  uptime(query: unknown): Promise<UptimeAnswer>;
  invalidateCache(): Promise<{ invalidated: true }>;
  healthCheck(): Promise<HealthCheckAnswer>;
}

/** The daemon's own QueryService as a backend (for /mcp inside the daemon). */
export function localBackend(queries: QueryService, description = "this daemon"): QueryBackend {
  return {
    description,
    listAdapters: async (filter) => queries.listAdapters(filter ?? {}),
    getAdapter: async (adapterId) => queries.getAdapter(adapterId),
    checkHealth: (adapterId) => queries.checkHealth(adapterId),
    resolve: async (requirement) => queries.resolve(requirement),
    resolveBatch: async (body) => queries.resolveBatch(body),
    events: async (page) => queries.events(page ?? {}),
    uptime: async (query) => queries.uptime(query ?? {}),
    invalidateCache: async () => queries.invalidateCache(),
    healthCheck: async () => queries.healthCheck(),
  };
}
