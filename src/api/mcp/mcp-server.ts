/**
 * The daemon's MCP surface: six tools, two resources (with subscriptions), one
 * factory. Whatever answers the queries (the daemon in-process, a running daemon
 * over HTTP, a database file) is a QueryBackend; the transports (mcp-http.ts,
 * mcp-stdio.ts) only connect an McpServer made here.
 *
 * Validation: the SDK checks arguments against the tools' zod input schemas
 * before a tool runs, and a failure there has no error code. So those schemas
 * check JSON types only (string, boolean, required) while advertising, in the
 * JSON Schema clients see, the constraints of the daemon's own schemas
 * (query-service.ts: lengths, the status enum, no extra keys). The values are
 * then validated by the backend with those same schemas, so a bad value gets
 * the same stable code and parameter name as over HTTP (INVALID_PARAMETER,
 * UNKNOWN_PARAMETER, …). Every failure is a tool result with `isError: true`,
 * text `CODE: message`, and `_meta["io.oneiric.healthd/error"]` = {code, …};
 * nothing is thrown as a protocol error from a tool.
 */

import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type ReadResourceResult,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { z } from "zod";
import { HEALTH_STATUSES } from "../../domain/adapter.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import type { EventHub, Subscription } from "../../events/event-hub.js";
import { ApiError } from "../api-error.js";
import { forbidden } from "../auth/access-control.js";
import type { QueryBackend } from "../query-backend.js";
import { listFilterSchema, parseParameters, requirementSchema } from "../query-service.js";

import { TOOL_NAMES } from "../tool-names.js";

export const MCP_SERVER_NAME = "oneiric-healthd";
export { TOOL_NAMES };
export const ADAPTERS_URI = "oneiric://adapters";
const ADAPTER_URI_PREFIX = `${ADAPTERS_URI}/`;
/** Where a tool error's code and extra fields are, in the result's `_meta`. */
export const ERROR_META_KEY = "io.oneiric.healthd/error";
/** MCP's "resource not found" JSON-RPC error code. */
const RESOURCE_NOT_FOUND = -32002;
const MAX_SUBSCRIPTIONS = 1000;
const EVENTS_PAGE = 500;
const MAX_PAGES_PER_POLL = 20;
/** Lines of adapters in list_adapters' text content (structuredContent has them all). */
const TEXT_LINES = 20;

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

// --- Input schemas -----------------------------------------------------------

const nameSchema = requirementSchema.shape.domain;
const statusSchema = listFilterSchema.shape.status.unwrap();

/**
 * `base` (a JSON-typed schema the SDK checks) advertising `real`'s JSON Schema
 * constraints; the backend validates the value with `real`'s rules.
 */
function advertising<T extends z.ZodType>(base: T, real: z.ZodType, description: string): T {
  const json = z.toJSONSchema(real, { io: "input" }) as Record<string, unknown>;
  const constraints = Object.fromEntries(Object.entries(json).filter(([key]) => key !== "$schema"));
  return base.meta({ ...constraints, description });
}

/** Passes unknown keys through to the backend (UNKNOWN_PARAMETER) while advertising none allowed. */
function argumentsOf<T extends z.ZodRawShape>(shape: T) {
  return z.looseObject(shape).meta({ additionalProperties: false });
}

const nameArgument = (description: string) => advertising(z.string(), nameSchema, description);
const adapterIdArguments = argumentsOf({
  adapter_id: nameArgument("The adapter's id, e.g. mahavishnu.adapter.storage.s3"),
});
const noArguments = argumentsOf({});

const listArguments = argumentsOf({
  project: nameArgument("Only adapters of this project").optional(),
  domain: nameArgument('Only adapters of this domain, e.g. "adapter"').optional(),
  category: nameArgument('Only this category, e.g. "storage", "cache"').optional(),
  provider: nameArgument('Only this provider, e.g. "s3", "redis"').optional(),
  status: advertising(z.string(), statusSchema, "Only adapters with this status").optional(),
  healthy_only: z
    .boolean()
    .optional()
    .describe("Only adapters that are healthy and usable by resolution"),
});

const resolveArguments = argumentsOf({
  domain: nameArgument('The domain, e.g. "adapter"'),
  category: nameArgument('The category, e.g. "storage", "orchestration"'),
  provider: nameArgument('A provider, e.g. "s3"; any when omitted').optional(),
  project: nameArgument("A project; any when omitted").optional(),
  panic: z
    .boolean()
    .optional()
    .describe(
      "When nothing is usable, answer the least-bad candidate (marked panic) instead of none",
    ),
});

// --- Output schemas (loose: fields may be added without breaking clients) -----

const healthStatus = z.enum(HEALTH_STATUSES);
const statusViewSchema = z.looseObject({
  adapter_id: z.string(),
  project: z.string(),
  domain: z.string(),
  category: z.string(),
  provider: z.string(),
  status: healthStatus,
  since: z.string(),
  last_checked: z.string().nullable(),
  latency_ms: z.number().nullable(),
  source: z.string(),
  stale: z.boolean(),
  reason: z.string(),
  registry_status: healthStatus,
  registry_disagrees: z.boolean(),
  flapping: z.boolean(),
  breaker: z.string(),
  maintenance: z.looseObject({ until: z.string().nullable(), reason: z.string() }).nullable(),
  usable: z.boolean(),
  health_check_url: z.string(),
});
const registryViewSchema = z.looseObject({
  endpoint: z.string(),
  reachable: z.boolean(),
  last_sync: z.string().nullable(),
  last_error: z.string().nullable(),
});
const listOutput = z.looseObject({
  count: z.number().int(),
  adapters: z.array(statusViewSchema),
  registry: registryViewSchema.nullable(),
});
const detailOutput = statusViewSchema.extend({
  capabilities: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  factory_path: z.string(),
  last_heartbeat: z.string().nullable(),
  consecutive_successes: z.number(),
  consecutive_failures: z.number(),
  recent_checks: z.array(
    z.looseObject({
      at: z.string(),
      ok: z.boolean(),
      latency_ms: z.number(),
      detail: z.string(),
      source: z.string(),
    }),
  ),
});
const checkHealthOutput = z.looseObject({
  adapter_id: z.string(),
  daemon: statusViewSchema.nullable(),
  registry: z
    .looseObject({
      healthy: z.boolean(),
      status: z.string(),
      message: z.string(),
      source: z.string(),
      age_ms: z.number(),
      stale: z.boolean(),
    })
    .nullable(),
  registry_error: z.string().nullable(),
});
const candidateSchema = z.looseObject({
  adapterId: z.string(),
  provider: z.string(),
  status: healthStatus,
  breaker: z.string(),
  flapping: z.boolean(),
  maintenance: z.boolean(),
  priority: z.number(),
  latencyMs: z.number().nullable(),
  excludedBecause: z.string().nullable(),
});
const resolveOutput = z.looseObject({
  adapter_id: z.string().nullable().describe("The chosen adapter's id, or null when none"),
  requirement: z.looseObject({
    domain: z.string(),
    category: z.string(),
    provider: z.string().optional(),
    project: z.string().optional(),
  }),
  choice: candidateSchema.nullable(),
  fallbacks: z.array(candidateSchema),
  excluded: z.array(candidateSchema),
  reason: z.string(),
  panic: z.boolean(),
  at: z.string(),
});
const invalidateOutput = z.looseObject({ invalidated: z.literal(true) });
const healthOutput = z.looseObject({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  ready: z.boolean(),
  adapters: z.looseObject({
    by_status: z.record(z.string(), z.number()),
    flapping: z.number(),
    maintenance: z.number(),
    breakers: z.record(z.string(), z.number()),
  }),
  registry: z.looseObject({
    status: z.enum(["healthy", "degraded", "unhealthy"]),
    endpoints: z.array(
      z.looseObject({
        endpoint: z.string(),
        role: z.string(),
        breaker: z.string(),
        reachable: z.boolean(),
        last_error: z.string().nullable(),
      }),
    ),
    cached_lists: z.number(),
    last_sync: z.string().nullable(),
    local_file: z.boolean(),
  }),
  journal: z.looseObject({
    oldest_seq: z.number().nullable(),
    newest_seq: z.number().nullable(),
    subscribers: z.number(),
  }),
});

// --- Errors -------------------------------------------------------------------

/** The stable code of an error: ApiError's, a coded error's (CURSOR_EXPIRED, …), else INTERNAL. */
export function errorCode(error: unknown): string {
  if (error instanceof ApiError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z_]*$/.test(code) ? code : "INTERNAL";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed tool call as a tool result, never a protocol error. */
export function toolError(error: unknown): CallToolResult {
  const code = errorCode(error);
  const extra = error instanceof ApiError ? error.extra : {};
  return {
    isError: true,
    content: [{ type: "text", text: `${code}: ${errorMessage(error)}` }],
    _meta: { [ERROR_META_KEY]: { ...extra, code, message: errorMessage(error) } },
  };
}

/** A failed resource read as a JSON-RPC error (resources have no "tool error"). */
function resourceError(error: unknown, uri: string): McpError {
  const code = errorCode(error);
  const jsonRpcCode =
    code === "ADAPTER_NOT_FOUND" || code === "NOT_FOUND"
      ? RESOURCE_NOT_FOUND
      : code === "INVALID_PARAMETER" || code === "UNKNOWN_PARAMETER"
        ? ErrorCode.InvalidParams
        : ErrorCode.InternalError;
  return new McpError(jsonRpcCode, `${code}: ${errorMessage(error)}`, { uri, code });
}

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

// --- Texts ---------------------------------------------------------------------

function adapterLine(adapter: AdapterStatusView): string {
  const notes = [
    adapter.usable ? "usable" : "not usable",
    ...(adapter.stale ? ["stale"] : []),
    ...(adapter.flapping ? ["flapping"] : []),
    ...(adapter.maintenance ? ["maintenance"] : []),
    ...(adapter.breaker !== "closed" ? [`breaker ${adapter.breaker}`] : []),
  ];
  return `${adapter.adapter_id}: ${adapter.status} (${notes.join(", ")})`;
}

function listText(adapters: AdapterStatusView[]): string {
  const counts = HEALTH_STATUSES.map(
    (status) => `${adapters.filter((adapter) => adapter.status === status).length} ${status}`,
  );
  const lines = adapters.slice(0, TEXT_LINES).map((adapter) => `- ${adapterLine(adapter)}`);
  if (adapters.length > TEXT_LINES) lines.push(`- … and ${adapters.length - TEXT_LINES} more`);
  return [`${adapters.length} adapter(s): ${counts.join(", ")}`, ...lines].join("\n");
}

// --- Resource URIs -------------------------------------------------------------

export function adapterUri(adapterId: string): string {
  return `${ADAPTER_URI_PREFIX}${encodeURIComponent(adapterId)}`;
}

/** "list", an adapter id, or undefined when `uri` is none of this server's resources. */
function resourceOf(uri: string): { kind: "list" } | { kind: "adapter"; id: string } | undefined {
  if (uri === ADAPTERS_URI) return { kind: "list" };
  if (!uri.startsWith(ADAPTER_URI_PREFIX)) return undefined;
  const rest = uri.slice(ADAPTER_URI_PREFIX.length);
  if (rest.length === 0 || rest.includes("/")) return undefined;
  try {
    return { kind: "adapter", id: decodeURIComponent(rest) };
  } catch {
    return undefined;
  }
}

function jsonContents(uri: string, value: unknown): ReadResourceResult {
  return {
    contents: [{ uri, mimeType: "application/json", text: JSON.stringify(value, null, 2) }],
  };
}

// --- Following the journal -------------------------------------------------------

/** What the server needs of a journal event: which adapter (or endpoint) it is about. */
interface JournalMark {
  subject: string;
}

interface JournalFollower {
  /** Settles once the follower knows where "now" is in the journal (or failed to learn it). */
  readonly ready: Promise<void>;
  close(): void;
}

/** Inside the daemon: committed events, live, from the hub. */
function followHub(hub: EventHub, deliver: (events: readonly JournalMark[]) => void) {
  let subscription: Subscription | undefined = hub.subscribe(hub.newestSeq(), deliver);
  return {
    ready: Promise.resolve(),
    close: () => {
      subscription?.close();
      subscription = undefined;
    },
  } satisfies JournalFollower;
}

/**
 * Outside the daemon: polls `backend.events({since, limit})`. Starts from the
 * journal's newest seq (`healthCheck().journal.newest_seq`); an expired cursor
 * (CURSOR_EXPIRED) restarts from the oldest kept event and reports a gap.
 */
function followByPolling(
  backend: QueryBackend,
  intervalMs: number,
  deliver: (events: readonly JournalMark[] | "gap") => void,
  logger: Logger | undefined,
): JournalFollower {
  let since: number | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastProblem = "";

  const report = (error: unknown) => {
    const problem = `${errorCode(error)}: ${errorMessage(error)}`;
    if (problem !== lastProblem) {
      logger?.warn({ problem, backend: backend.description }, "cannot follow the daemon's events");
    }
    lastProblem = problem;
  };

  const poll = async (): Promise<void> => {
    try {
      if (since === undefined) {
        since = (await backend.healthCheck()).journal.newest_seq ?? 0;
        return;
      }
      for (let pages = 0; pages < MAX_PAGES_PER_POLL && !closed; pages++) {
        const page = await backend.events({ since, limit: EVENTS_PAGE });
        if (closed) return;
        since = Math.max(since, page.next_since);
        if (page.events.length > 0) deliver(page.events);
        if (page.events.length < EVENTS_PAGE) break;
      }
      lastProblem = "";
    } catch (error) {
      if (errorCode(error) === "CURSOR_EXPIRED") {
        // Events were pruned before we read them: resume from the oldest kept (or from now).
        const oldest = error instanceof ApiError ? error.extra.oldest_seq : undefined;
        since = typeof oldest === "number" ? Math.max(0, oldest - 1) : undefined;
        if (!closed) deliver("gap");
        return;
      }
      report(error);
    }
  };

  const loop = () => {
    timer = setTimeout(async () => {
      await poll();
      if (!closed) loop();
    }, intervalMs);
    timer.unref();
  };

  const ready = poll().then(() => {
    if (!closed) loop();
  });
  return {
    ready,
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
  };
}

// --- The server ------------------------------------------------------------------

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
        "daemon's verdict with the registry's. Subscribe to oneiric://adapters/{adapter_id} to hear " +
        "about changes.",
    },
  );

  registerTools(mcp, backend, options.scopesEnforced ?? false);
  registerResources(mcp, backend);
  enableSubscriptions(mcp, backend, options);
  return mcp;
}

function registerTools(mcp: McpServer, backend: QueryBackend, scopesEnforced: boolean): void {
  const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true };

  mcp.registerTool(
    "oneiric_list_adapters",
    {
      title: "List adapters",
      description:
        "Adapters in the registry's catalog with the daemon's last-known health verdict, filtered by " +
        "project, domain, category, provider, status; healthy_only keeps healthy, usable ones.",
      inputSchema: listArguments,
      outputSchema: listOutput,
      annotations: { ...readOnly, openWorldHint: false },
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
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      answer(
        async () => {
          const { adapter_id } = parseParameters(
            z.strictObject({ adapter_id: nameSchema }),
            args,
            "argument",
          );
          return backend.getAdapter(adapter_id);
        },
        (detail) =>
          `${adapterLine(detail)}; since ${detail.since}; ${detail.reason || "no reason given"}`,
      ),
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
      annotations: { ...readOnly, openWorldHint: true },
    },
    (args) =>
      answer(
        async () => {
          const { adapter_id } = parseParameters(
            z.strictObject({ adapter_id: nameSchema }),
            args,
            "argument",
          );
          return backend.checkHealth(adapter_id);
        },
        (value) => {
          const daemon = value.daemon
            ? `${value.daemon.status}${value.daemon.stale ? " (stale)" : ""}`
            : "nothing (not in the catalog)";
          const registry = value.registry
            ? `${value.registry.status} (${value.registry.source}${value.registry.stale ? ", stale" : ""})`
            : `nothing (${value.registry_error ?? "no answer"})`;
          return `${value.adapter_id}: the daemon says ${daemon}; the registry says ${registry}`;
        },
      ),
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
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      answer(
        async () => {
          const resolution = await backend.resolve(args);
          return { adapter_id: resolution.choice?.adapterId ?? null, ...resolution };
        },
        (value) => {
          const head = value.choice
            ? `use ${value.choice.adapterId} (${value.choice.status}${value.panic ? ", panic" : ""})`
            : "no usable adapter";
          return `${head}: ${value.reason} [${value.fallbacks.length} fallback(s), ${value.excluded.length} excluded]`;
        },
      ),
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
          parseParameters(z.strictObject({}), args, "argument");
          return backend.invalidateCache();
        },
        () => "registry cache invalidated; the next queries ask the registry",
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
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      answer(
        async () => {
          parseParameters(z.strictObject({}), args, "argument");
          return backend.healthCheck();
        },
        (value) => {
          const reachable = value.registry.endpoints.filter((endpoint) => endpoint.reachable);
          const adapters = Object.values(value.adapters.by_status).reduce((a, b) => a + b, 0);
          return (
            `daemon ${value.status}${value.ready ? "" : " (not ready)"}; registry link ` +
            `${value.registry.status} (${reachable.length}/${value.registry.endpoints.length} ` +
            `endpoint(s) reachable, last sync ${value.registry.last_sync ?? "never"}); ${adapters} adapter(s)`
          );
        },
      ),
  );
}

function registerResources(mcp: McpServer, backend: QueryBackend): void {
  mcp.registerResource(
    "adapters",
    ADAPTERS_URI,
    {
      title: "Adapters",
      description: "Every adapter with its health verdict, and the registry link (JSON).",
      mimeType: "application/json",
    },
    async (uri) => {
      try {
        const { adapters, registry } = await backend.listAdapters({});
        return jsonContents(uri.href, { count: adapters.length, adapters, registry });
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  );

  mcp.registerResource(
    "adapter",
    new ResourceTemplate(`${ADAPTER_URI_PREFIX}{adapter_id}`, {
      list: async () => {
        const { adapters } = await backend.listAdapters({});
        return {
          resources: adapters.map((adapter) => ({
            uri: adapterUri(adapter.adapter_id),
            name: adapter.adapter_id,
            description: adapterLine(adapter),
            mimeType: "application/json",
          })),
        };
      },
      complete: {
        adapter_id: async (value) => {
          const { adapters } = await backend.listAdapters({});
          return adapters
            .map((adapter) => adapter.adapter_id)
            .filter((id) => id.startsWith(value))
            .slice(0, 100);
        },
      },
    }),
    {
      title: "Adapter",
      description: "One adapter's details, health verdict and recent checks (JSON).",
      mimeType: "application/json",
    },
    async (uri) => {
      const resource = resourceOf(uri.href);
      if (resource?.kind !== "adapter") {
        throw new McpError(RESOURCE_NOT_FOUND, `no resource ${uri.href}`, { uri: uri.href });
      }
      try {
        return jsonContents(uri.href, await backend.getAdapter(resource.id));
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  );
}

function enableSubscriptions(
  mcp: McpServer,
  backend: QueryBackend,
  options: McpServerOptions,
): void {
  // adapter id → the URI the client subscribed with (notifications echo it).
  const adapters = new Map<string, string>();
  let list = false;
  let follower: JournalFollower | undefined;

  const notify = (uri: string) => {
    mcp.server.sendResourceUpdated({ uri }).catch(() => {
      // The session is closing; nothing to tell.
    });
  };
  const deliver = (events: readonly JournalMark[] | "gap") => {
    if (events === "gap") {
      if (list) notify(ADAPTERS_URI);
      for (const uri of adapters.values()) notify(uri);
      return;
    }
    if (events.length === 0) return;
    // Every event changes the list (an adapter's state or the registry link); one notice per batch.
    if (list) notify(ADAPTERS_URI);
    const touched = new Set<string>();
    for (const event of events) {
      const uri = adapters.get(event.subject);
      if (uri !== undefined) touched.add(uri);
    }
    for (const uri of touched) notify(uri);
  };
  const stopFollowing = () => {
    follower?.close();
    follower = undefined;
  };

  mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const uri = request.params.uri;
    const resource = resourceOf(uri);
    if (!resource) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `cannot subscribe to ${uri}: not a resource of this server (${ADAPTERS_URI} or ${ADAPTER_URI_PREFIX}{adapter_id})`,
      );
    }
    if (resource.kind === "list") {
      list = true;
    } else if (!adapters.has(resource.id)) {
      if (adapters.size >= MAX_SUBSCRIPTIONS) {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `at most ${MAX_SUBSCRIPTIONS} adapter subscriptions per session; subscribe to ${ADAPTERS_URI} instead`,
        );
      }
      adapters.set(resource.id, uri);
    }
    if (!follower) {
      follower = options.hub
        ? followHub(options.hub, deliver)
        : followByPolling(backend, options.pollIntervalMs ?? 500, deliver, options.logger);
    }
    await follower.ready;
    return {};
  });

  mcp.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    const resource = resourceOf(request.params.uri);
    if (resource?.kind === "list") list = false;
    if (resource?.kind === "adapter") adapters.delete(resource.id);
    if (!list && adapters.size === 0) stopFollowing();
    return {};
  });

  const previous = mcp.server.onclose;
  mcp.server.onclose = () => {
    stopFollowing();
    adapters.clear();
    list = false;
    previous?.();
  };
}
