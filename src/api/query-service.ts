import { z } from "zod";
import { type AdapterEntry, HEALTH_STATUSES, type HealthStatus } from "../domain/adapter.js";
import { type CloudEvent, toCloudEvent } from "../domain/events.js";
import type { BreakerState, HealthState } from "../domain/health.js";
import type { RankedCandidate, Requirement, Resolution } from "../domain/resolution.js";
import { roundToMicroseconds } from "../domain/round-to-microseconds.js";
import type { AdapterStatusView, RegistryView } from "../domain/status-view.js";
import type { HealthView } from "../engine/health-view.js";
import type { RecentCheck } from "../engine/recent-checks.js";
import { CursorExpiredError, type EventHub } from "../events/event-hub.js";
import {
  AdapterNotFoundError,
  type RegistryGateway,
  RegistryUnavailableError,
} from "../registry/registry-gateway.js";
import type { ResolutionService } from "../resolution/resolution-service.js";
import type { HealthStore } from "../storage/store.js";
import { ApiError } from "./api-error.js";
import {
  type AdapterHistoryAnswer,
  type BoardAnswer,
  boardSchema,
  type HistoryQueries,
  historySchema,
  type UptimeAnswer,
  uptimeWindowSchema,
} from "./history-queries.js";
import { parameterProblem } from "./parameter-problem.js";

const name = z.string().min(1).max(256);
const flag = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1"),
]);

/** The names a requirement or filter matches, with the example an error message offers. */
const projectName = name.meta({ examples: ["mahavishnu"] });
export const domainName = name.meta({ examples: ["adapter"] });
export const categoryName = name.meta({ examples: ["storage"] });
const providerName = name.meta({ examples: ["s3"] });
export const adapterIdSchema = name.meta({ examples: ["mahavishnu.adapter.storage.s3"] });

export const listFilterSchema = z.strictObject({
  project: projectName.optional(),
  domain: domainName.optional(),
  category: categoryName.optional(),
  provider: providerName.optional(),
  status: z.enum(HEALTH_STATUSES).optional(),
  healthy_only: flag.optional(),
});
export type ListFilter = z.input<typeof listFilterSchema>;

/** Whether an adapter passes a validated list filter (the same rule for every backend). */
export function matchesListFilter(
  adapter: AdapterStatusView,
  filter: z.output<typeof listFilterSchema>,
): boolean {
  return (
    (!filter.project || adapter.project === filter.project) &&
    (!filter.domain || adapter.domain === filter.domain) &&
    (!filter.category || adapter.category === filter.category) &&
    (!filter.provider || adapter.provider === filter.provider) &&
    (!filter.status || adapter.status === filter.status) &&
    (!filter.healthy_only || (adapter.status === "healthy" && adapter.usable))
  );
}

/** `GET /v1/uptime`'s question: the window and the list filter (clients check it before asking). */
export const uptimeQuerySchema = uptimeWindowSchema.extend(listFilterSchema.shape);

export const requirementSchema = z.strictObject({
  domain: domainName,
  category: categoryName,
  provider: providerName.optional(),
  project: projectName.optional(),
  panic: flag.optional(),
  /** Most fallbacks and excluded candidates listed (the totals are always given). */
  limit: z.coerce.number().int().min(0).max(1000).optional(),
});

/** Fallbacks and excluded candidates listed in a resolution unless `limit` says otherwise. */
export const DEFAULT_LISTED = 10;

/** Most requirements in one batch resolve. */
export const MAX_BATCH = 100;
export const resolveBatchSchema = z.strictObject({
  requirements: z.array(requirementSchema).min(1).max(MAX_BATCH),
});

export const eventsPageSchema = z.strictObject({
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const maintenanceSchema = z.strictObject({
  /** ISO time, or omitted for "until lifted". */
  until: z.iso.datetime({ offset: true }).optional(),
  reason: z.string().max(500).default(""),
});

/**
 * Parses with a zod schema; a problem becomes an ApiError that names the
 * parameter, what it must be and what was given (parameter-problem.ts).
 */
export function parseParameters<T extends z.ZodType>(
  schema: T,
  input: unknown,
  where = "parameter",
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw parameterProblem(schema, input, result.error.issues, where);
}

export interface AdapterDetail extends AdapterStatusView {
  capabilities: string[];
  metadata: Record<string, string>;
  factory_path: string;
  last_heartbeat: string | null;
  consecutive_successes: number;
  consecutive_failures: number;
  recent_checks: RecentCheck[];
}

/** One adapter in full, as every backend answers it. */
export function toAdapterDetail(
  view: AdapterStatusView,
  entry: AdapterEntry,
  state: HealthState,
  recentChecks: RecentCheck[],
): AdapterDetail {
  return {
    ...view,
    capabilities: entry.capabilities,
    metadata: entry.metadata,
    factory_path: entry.factoryPath,
    last_heartbeat:
      entry.lastHeartbeat > 0 ? new Date(entry.lastHeartbeat * 1000).toISOString() : null,
    consecutive_successes: state.consecutiveSuccesses,
    consecutive_failures: state.consecutiveFailures,
    recent_checks: recentChecks,
  };
}

/** One candidate of a resolution as every surface answers it (snake_case, like the list). */
export interface CandidateAnswer {
  adapter_id: string;
  provider: string;
  status: HealthStatus;
  breaker: BreakerState;
  flapping: boolean;
  maintenance: boolean;
  priority: number;
  /** The last check's latency, to the microsecond; null before the first. */
  latency_ms: number | null;
  /** Why it may not be used, or null when usable. */
  excluded_because: string | null;
}

export interface ResolutionAnswer {
  requirement: Requirement;
  /** The adapter to use, or null when none is usable (and panic mode is off). */
  choice: CandidateAnswer | null;
  /** Usable alternatives, best first (at most `limit`). */
  fallbacks: CandidateAnswer[];
  /** Candidates that match but may not be used, with the reason each (at most `limit`). */
  excluded: CandidateAnswer[];
  /** How many usable fallbacks there are; `fallbacks` lists the first `limit`. */
  fallbacks_total: number;
  /** How many matching candidates are excluded; `excluded` lists the first `limit`. */
  excluded_total: number;
  /** Why this answer, in words. */
  reason: string;
  /** True when the choice is the least-bad of unusable candidates (panic mode). */
  panic: boolean;
  /** When this answer was given. */
  at: string;
}

/** A ranked candidate as the API answers it. */
export function toCandidateAnswer(candidate: RankedCandidate): CandidateAnswer {
  return {
    adapter_id: candidate.adapterId,
    provider: candidate.provider,
    status: candidate.status,
    breaker: candidate.breaker,
    flapping: candidate.flapping,
    maintenance: candidate.maintenance,
    priority: candidate.priority,
    latency_ms: candidate.latencyMs === null ? null : roundToMicroseconds(candidate.latencyMs),
    excluded_because: candidate.excludedBecause,
  };
}

/**
 * The answer for a resolution, listing at most `limit` fallbacks and excluded
 * candidates with their totals: a category of thousands of adapters must not
 * make every answer thousands long.
 */
export function limitResolution(
  resolution: Resolution,
  limit: number,
): Omit<ResolutionAnswer, "at"> {
  return {
    requirement: resolution.requirement,
    choice: resolution.choice === null ? null : toCandidateAnswer(resolution.choice),
    fallbacks: resolution.fallbacks.slice(0, limit).map(toCandidateAnswer),
    excluded: resolution.excluded.slice(0, limit).map(toCandidateAnswer),
    fallbacks_total: resolution.fallbacksTotal,
    excluded_total: resolution.excludedTotal,
    reason: resolution.reason,
    panic: resolution.panic,
  };
}

/** Maintenance declared and lifted through the API (committed before it shows). */
export interface MaintenanceWrites {
  declare(adapterId: string, untilMs: number | null, reason: string): void;
  lift(adapterId: string): boolean;
}

/** Whether the daemon is ready, and if not, why (start-up, a database refusing commits). */
export type Readiness = { ready: true; note?: string } | { ready: false; reason: string };

/** `registry_error` of checkHealth when no registry is asked (answers read from a database file). */
export const NO_REGISTRY_ERROR = "the registry is not asked when reading a database file";

export interface QueryParts {
  view: HealthView;
  resolution: ResolutionService;
  maintenance: MaintenanceWrites;
  /**
   * The registry client with its fallback chain. Absent when the answers are
   * read from a database file: checkHealth then gives the daemon's verdict
   * alone, and invalidating the cache and the health check need a running daemon.
   */
  gateway?: RegistryGateway | undefined;
  hub: EventHub;
  /** Event streams another thread serves (the HTTP front's), counted with the hub's subscribers. */
  streamsElsewhere?: (() => number) | undefined;
  store: HealthStore;
  now: () => number;
  readiness: () => Readiness;
  /** History and uptime answers; absent where no history is read (the front's thread). */
  history?: HistoryQueries | undefined;
}

/**
 * The one query service every transport (HTTP, gRPC, MCP, CLI) calls. Inputs
 * are validated here, so each transport gives the same answer and the same
 * error for the same question.
 */
export class QueryService {
  constructor(private readonly parts: QueryParts) {}

  isReady(): boolean {
    return this.parts.readiness().ready;
  }

  readiness(): Readiness {
    return this.parts.readiness();
  }

  listAdapters(input: unknown = {}): { adapters: AdapterStatusView[]; registry: RegistryView } {
    const filter = parseParameters(listFilterSchema, input, "filter");
    return { adapters: this.filteredAdapters(filter), registry: this.parts.view.registryView() };
  }

  /** `GET /v1/adapters/{id}/history`: the adapter's history buckets over a window. */
  adapterHistory(adapterId: string, input: unknown = {}): AdapterHistoryAnswer {
    const query = parseParameters(historySchema, input, "parameter");
    if (!this.parts.view.entry(adapterId)) throw adapterNotFound(adapterId);
    return this.historyQueries().adapterHistory(adapterId, query);
  }

  /** `GET /v1/uptime`: uptime over a window of each adapter the list filter matches. */
  uptime(input: unknown = {}): UptimeAnswer {
    const { window, ...filter } = parseParameters(uptimeQuerySchema, input, "parameter");
    return this.historyQueries().uptime(this.filteredAdapters(filter), window);
  }

  /** `GET /v1/history`: the status board's bars and sparklines for a page of adapters. */
  board(input: unknown = {}): BoardAnswer {
    const { bucket, buckets, offset, limit, ...filter } = parseParameters(
      boardSchema.extend(listFilterSchema.shape),
      input,
      "parameter",
    );
    return this.historyQueries().board(this.filteredAdapters(filter), {
      bucket,
      buckets,
      offset,
      limit,
    });
  }

  private filteredAdapters(filter: z.output<typeof listFilterSchema>): AdapterStatusView[] {
    return this.parts.view.list().filter((adapter) => matchesListFilter(adapter, filter));
  }

  private historyQueries(): HistoryQueries {
    const history = this.parts.history;
    if (!history) throw new Error("no history here: it is read on the main thread");
    return history;
  }

  getAdapter(adapterId: string): AdapterDetail {
    const view = this.parts.view.get(adapterId);
    const entry = this.parts.view.entry(adapterId);
    const state = this.parts.view.state(adapterId);
    if (!view || !entry || !state) throw adapterNotFound(adapterId);
    return toAdapterDetail(view, entry, state, this.parts.view.recentChecks(adapterId));
  }

  resolve(input: unknown): ResolutionAnswer {
    const { panic, limit, ...requirement } = parseParameters(
      requirementSchema,
      input,
      "requirement",
    );
    const listed = limit ?? DEFAULT_LISTED;
    const resolution = this.parts.resolution.resolve(requirement as Requirement, panic, listed);
    return {
      ...limitResolution(resolution, listed),
      at: new Date(this.parts.now()).toISOString(),
    };
  }

  resolveBatch(input: unknown): ResolutionAnswer[] {
    const { requirements } = parseParameters(resolveBatchSchema, input, "body");
    return requirements.map((requirement) => this.resolve(requirement));
  }

  events(input: unknown): { events: CloudEvent[]; next_since: number; oldest_seq: number | null } {
    const { since, limit } = parseParameters(eventsPageSchema, input, "parameter");
    try {
      this.parts.hub.checkCursor(since);
    } catch (error) {
      throw this.cursorError(error);
    }
    const events = this.parts.store.readEvents(since, limit).map(toCloudEvent);
    return {
      events,
      next_since: events[events.length - 1]?.seq ?? since,
      oldest_seq: this.parts.store.journalBounds().oldestSeq,
    };
  }

  /** Turns the hub's expired-cursor error into the API's, with the oldest available seq. */
  cursorError(error: unknown): unknown {
    if (error instanceof CursorExpiredError) {
      return new ApiError("CURSOR_EXPIRED", error.message, {
        oldest_seq: error.oldestSeq,
        requested: error.requested,
      });
    }
    return error;
  }

  setMaintenance(adapterId: string, input: unknown): AdapterStatusView {
    this.getAdapter(adapterId);
    const { until, reason } = parseParameters(maintenanceSchema, input ?? {}, "body");
    const untilMs = until === undefined ? null : Date.parse(until);
    if (untilMs !== null && untilMs <= this.parts.now()) {
      throw new ApiError("INVALID_PARAMETER", `until must be in the future; got ${until}`, {
        parameter: "until",
      });
    }
    this.storeWrite(() => this.parts.maintenance.declare(adapterId, untilMs, reason));
    return this.parts.view.get(adapterId) as AdapterStatusView;
  }

  liftMaintenance(adapterId: string): AdapterStatusView {
    this.getAdapter(adapterId);
    this.storeWrite(() => this.parts.maintenance.lift(adapterId));
    return this.parts.view.get(adapterId) as AdapterStatusView;
  }

  /** A write the database refused is a 503 that says so, and nothing was changed. */
  private storeWrite(write: () => unknown): void {
    try {
      write();
    } catch (error) {
      if (error instanceof Error && "code" in error && error.code === "STORE_UNAVAILABLE") {
        throw new ApiError("NOT_READY", `${error.message}; nothing was changed, try again later`);
      }
      throw error;
    }
  }

  /** The registry's view of one adapter (through the fallback chain) beside the daemon's. */
  async checkHealth(adapterId: string): Promise<{
    adapter_id: string;
    daemon: AdapterStatusView | null;
    registry: {
      healthy: boolean;
      status: string;
      message: string;
      source: string;
      age_ms: number;
      stale: boolean;
    } | null;
    registry_error: string | null;
  }> {
    parseParameters(adapterIdSchema, adapterId, "adapter_id");
    const daemon = this.parts.view.get(adapterId) ?? null;
    const gateway = this.parts.gateway;
    if (!gateway) {
      if (daemon === null) throw adapterNotFound(adapterId);
      return { adapter_id: adapterId, daemon, registry: null, registry_error: NO_REGISTRY_ERROR };
    }
    try {
      const answer = await gateway.checkAdapterHealth(adapterId);
      return {
        adapter_id: adapterId,
        daemon,
        registry: {
          ...answer.value,
          source: answer.source,
          age_ms: roundToMicroseconds(answer.ageMs),
          stale: answer.stale,
        },
        registry_error: null,
      };
    } catch (error) {
      if (error instanceof AdapterNotFoundError && daemon === null) {
        throw new ApiError("ADAPTER_NOT_FOUND", error.message, { adapter_id: adapterId });
      }
      if (error instanceof AdapterNotFoundError || error instanceof RegistryUnavailableError) {
        return { adapter_id: adapterId, daemon, registry: null, registry_error: error.message };
      }
      throw error;
    }
  }

  invalidateCache(): { invalidated: true } {
    if (!this.parts.gateway) throw needsDaemon("invalidating the registry cache");
    this.parts.gateway.invalidateCache();
    return { invalidated: true };
  }

  healthCheck(): {
    status: "healthy" | "degraded" | "unhealthy";
    ready: boolean;
    not_ready_reason?: string;
    ready_note?: string;
    adapters: {
      by_status: Record<string, number>;
      flapping: number;
      maintenance: number;
      breakers: Record<string, number>;
    };
    registry: ReturnType<RegistryGateway["healthCheck"]>;
    journal: { oldest_seq: number | null; newest_seq: number | null; subscribers: number };
  } {
    if (!this.parts.gateway) throw needsDaemon("the daemon's health check");
    const registry = this.parts.gateway.healthCheck();
    const bounds = this.parts.store.journalBounds();
    const readiness = this.parts.readiness();
    return {
      status: readiness.ready ? registry.status : "unhealthy",
      ready: readiness.ready,
      ...(readiness.ready
        ? readiness.note
          ? { ready_note: readiness.note }
          : {}
        : { not_ready_reason: readiness.reason }),
      adapters: {
        by_status: this.parts.view.countByStatus(),
        ...this.parts.view.countConditions(),
      },
      registry,
      journal: {
        oldest_seq: bounds.oldestSeq,
        newest_seq: bounds.newestSeq,
        subscribers: this.parts.hub.subscriberCount + (this.parts.streamsElsewhere?.() ?? 0),
      },
    };
  }
}

function adapterNotFound(adapterId: string): ApiError {
  return new ApiError(
    "ADAPTER_NOT_FOUND",
    `no adapter with id ${JSON.stringify(adapterId)} in the catalog`,
    { adapter_id: adapterId },
  );
}

/** What only a running daemon can do, asked of answers read from a database file. */
function needsDaemon(what: string): ApiError {
  return new ApiError("NOT_READY", `${what} needs a running daemon (pass --url)`);
}
