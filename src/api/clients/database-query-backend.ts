import { existsSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { DaemonConfig } from "../../config/load.js";
import type { AdapterEntry } from "../../domain/adapter.js";
import { settingsFor } from "../../domain/adapter-settings.js";
import { type CloudEvent, toCloudEvent } from "../../domain/events.js";
import type { HealthState } from "../../domain/health.js";
import { type ManualMaintenance, maintenanceFor, openWindows } from "../../domain/maintenance.js";
import { type Candidate, type Requirement, resolve } from "../../domain/resolution.js";
import {
  type AdapterStatusView,
  DEFAULT_OFFLINE_STALE_RULE,
  decodeStaleRule,
  isStale,
  type RegistryView,
  STALE_RULE_META,
  type StaleRule,
  toStatusView,
} from "../../domain/status-view.js";
import { toRegistryView } from "../../engine/health-view.js";
import { CursorExpiredError } from "../../events/event-hub.js";
import { SqliteStore } from "../../storage/sqlite-store.js";
import { ApiError } from "../api-error.js";
import type {
  CheckHealthAnswer,
  EventsPage,
  HealthCheckAnswer,
  QueryBackend,
} from "../query-backend.js";
import {
  type AdapterDetail,
  DEFAULT_LISTED,
  eventsPageSchema,
  limitResolution,
  listFilterSchema,
  matchesListFilter,
  parseParameters,
  type ResolutionAnswer,
  requirementSchema,
  resolveBatchSchema,
  toAdapterDetail,
} from "../query-service.js";
import type { EventFollower, NoticeListener } from "./http-query-client.js";

/** Default adapter priority (the config schema's default). */
const DEFAULT_PRIORITY = 100;

export interface DatabaseQueryBackendOptions {
  path: string;
  /**
   * The daemon's config, when the user named it: its priorities and fixed
   * maintenance windows are not in the file, so without it they cannot apply.
   */
  config?: DaemonConfig | undefined;
  now?: () => number;
  /** How often `followEvents` looks at the file for new events. */
  pollMs?: number;
}

/** A resolution read from the file, saying what it could not take into account. */
export interface DatabaseResolutionAnswer extends ResolutionAnswer {
  note: string;
}

/** One read of the file: catalog, verdicts and maintenance at the same moment. */
interface Snapshot {
  now: number;
  staleRule: StaleRule;
  entries: AdapterEntry[];
  health: Map<string, HealthState>;
  manual: Map<string, ManualMaintenance>;
}

/**
 * QueryBackend over the daemon's SQLite file, opened read-only, so questions
 * are answered while the daemon is stopped. Answers are the last verdicts the
 * daemon committed (they may be stale) and say so; what only a running daemon
 * knows (recent checks, the registry's opinion, recurring maintenance windows)
 * is left out or refused rather than guessed.
 */
export class DatabaseQueryBackend implements QueryBackend, EventFollower {
  readonly kind = "database";
  readonly description: string;
  private readonly now: () => number;
  private readonly pollMs: number;
  private store: SqliteStore | undefined;

  constructor(private readonly options: DatabaseQueryBackendOptions) {
    this.description = `database ${options.path} (read-only, daemon not asked)`;
    this.now = options.now ?? Date.now;
    this.pollMs = options.pollMs ?? 500;
  }

  /** What a resolution read from the file leaves out, in words. */
  get note(): string {
    const config = this.options.config;
    const base = `read from the database file ${this.options.path} without the daemon: the last verdicts it committed (check "stale"); maintenance declared through the API applies`;
    if (!config) {
      return `${base}; configured priorities and config maintenance windows are not in the file and are not applied (pass --config FILE to apply them)`;
    }
    const recurring = config.maintenance.filter((window) => window.cron !== undefined).length;
    return `${base}; priorities and fixed maintenance windows from ${config.source} apply${
      recurring > 0
        ? `; ${recurring} recurring (cron) maintenance window${recurring > 1 ? "s" : ""} cannot be known without the daemon and ${recurring > 1 ? "are" : "is"} not applied`
        : ""
    }`;
  }

  async listAdapters(
    filter?: unknown,
  ): Promise<{ adapters: AdapterStatusView[]; registry: RegistryView | null }> {
    const wanted = parseParameters(listFilterSchema, filter ?? {}, "filter");
    const snapshot = this.read();
    const adapters = this.views(snapshot).filter((adapter) => matchesListFilter(adapter, wanted));
    const registry = this.open().loadRegistryState();
    return { adapters, registry: registry ? toRegistryView(registry) : null };
  }

  async getAdapter(adapterId: string): Promise<AdapterDetail> {
    const snapshot = this.read();
    const entry = snapshot.entries.find((candidate) => candidate.adapterId === adapterId);
    const state = snapshot.health.get(adapterId);
    if (!entry || !state) throw notFound(adapterId, this.options.path);
    // Recent checks live in the daemon's memory only.
    return toAdapterDetail(this.view(snapshot, entry, state), entry, state, []);
  }

  async checkHealth(adapterId: string): Promise<CheckHealthAnswer> {
    const snapshot = this.read();
    const entry = snapshot.entries.find((candidate) => candidate.adapterId === adapterId);
    const state = snapshot.health.get(adapterId);
    if (!entry || !state) throw notFound(adapterId, this.options.path);
    return {
      adapter_id: adapterId,
      daemon: this.view(snapshot, entry, state),
      registry: null,
      registry_error: "the registry is not asked when reading a database file",
    };
  }

  async resolve(requirement: unknown): Promise<DatabaseResolutionAnswer> {
    const valid = parseParameters(requirementSchema, requirement, "requirement");
    return this.resolveAll([valid], this.read())[0] as DatabaseResolutionAnswer;
  }

  async resolveBatch(body: unknown): Promise<DatabaseResolutionAnswer[]> {
    const { requirements } = parseParameters(resolveBatchSchema, body, "body");
    return this.resolveAll(requirements, this.read());
  }

  async events(page: unknown): Promise<EventsPage> {
    const { since, limit } = parseParameters(eventsPageSchema, page ?? {}, "parameter");
    const store = this.open();
    const { oldestSeq } = store.journalBounds();
    // The same rule as the daemon's event hub: a gap before the oldest kept event is an error.
    if (oldestSeq !== null && since < oldestSeq - 1) {
      const expired = new CursorExpiredError(since, oldestSeq);
      throw new ApiError("CURSOR_EXPIRED", expired.message, {
        oldest_seq: oldestSeq,
        requested: since,
      });
    }
    const events = store.readEvents(since, limit).map(toCloudEvent);
    return {
      events,
      next_since: events[events.length - 1]?.seq ?? since,
      oldest_seq: oldestSeq,
    };
  }

  async invalidateCache(): Promise<{ invalidated: true }> {
    throw new ApiError(
      "NOT_READY",
      "invalidating the registry cache needs a running daemon (pass --url)",
    );
  }

  async healthCheck(): Promise<HealthCheckAnswer> {
    throw new ApiError(
      "NOT_READY",
      "the daemon's health check needs a running daemon (pass --url)",
    );
  }

  /** Polls the file for new events until `signal` aborts (works with the daemon stopped). */
  async followEvents(
    since: number | undefined,
    onEvent: (event: CloudEvent) => void,
    signal: AbortSignal,
    _onNotice?: NoticeListener,
  ): Promise<void> {
    let cursor =
      since === undefined
        ? (this.open().journalBounds().newestSeq ?? 0)
        : parseParameters(eventsPageSchema, { since }, "parameter").since;
    while (!signal.aborted) {
      const page = await this.events({ since: cursor, limit: 1000 });
      for (const event of page.events) onEvent(event);
      cursor = page.next_since;
      if (page.events.length < 1000)
        await delay(this.pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  close(): void {
    this.store?.close();
    this.store = undefined;
  }

  private open(): SqliteStore {
    if (this.store) return this.store;
    if (!existsSync(this.options.path)) {
      throw new ApiError(
        "NOT_READY",
        `no database at ${this.options.path}: start the daemon once, or pass --db PATH or --url URL`,
      );
    }
    try {
      // Kept open: a WAL reader sees each commit of a running daemon at its next statement.
      this.store = new SqliteStore({ path: this.options.path, readonly: true });
    } catch (error) {
      throw new ApiError("NOT_READY", (error as Error).message);
    }
    return this.store;
  }

  private read(): Snapshot {
    const store = this.open();
    return {
      now: this.now(),
      staleRule: decodeStaleRule(
        store.getMeta(STALE_RULE_META),
        this.options.config?.probes.stale ?? DEFAULT_OFFLINE_STALE_RULE,
      ),
      entries: store.loadCatalog(),
      health: new Map(store.loadHealth().map((state) => [state.adapterId, state])),
      manual: new Map(store.loadMaintenance().map((item) => [item.adapterId, item])),
    };
  }

  private maintenance(snapshot: Snapshot, adapterId: string) {
    // Recurring windows open when their cron fires inside the daemon: unknowable from the file.
    const windows = openWindows(
      (this.options.config?.maintenance ?? []).filter((window) => window.cron === undefined),
      new Map(),
      snapshot.now,
    );
    return maintenanceFor(adapterId, windows, snapshot.manual, snapshot.now);
  }

  private view(snapshot: Snapshot, entry: AdapterEntry, state: HealthState): AdapterStatusView {
    const ageMs = state.lastChecked === null ? 0 : snapshot.now - state.lastChecked;
    return toStatusView(
      entry,
      state,
      isStale(state, ageMs, snapshot.staleRule),
      this.maintenance(snapshot, entry.adapterId),
    );
  }

  private views(snapshot: Snapshot): AdapterStatusView[] {
    const views: AdapterStatusView[] = [];
    for (const entry of snapshot.entries) {
      const state = snapshot.health.get(entry.adapterId);
      if (state) views.push(this.view(snapshot, entry, state));
    }
    return views;
  }

  private resolveAll(
    requirements: readonly (Requirement & { panic?: boolean | undefined; limit?: number })[],
    snapshot: Snapshot,
  ): DatabaseResolutionAnswer[] {
    const config = this.options.config;
    const candidates: Candidate[] = [];
    for (const entry of snapshot.entries) {
      const health = snapshot.health.get(entry.adapterId);
      if (!health) continue;
      candidates.push({
        entry,
        health,
        maintenance: this.maintenance(snapshot, entry.adapterId) !== undefined,
        priority: config
          ? settingsFor(entry, config.adapters.defaults, config.adapters.overrides).priority
          : DEFAULT_PRIORITY,
      });
    }
    const at = new Date(snapshot.now).toISOString();
    const note = this.note;
    return requirements.map(({ panic, limit, ...requirement }) => ({
      ...limitResolution(
        resolve(candidates, requirement, {
          panic: panic ?? config?.resolution.panic ?? false,
          limit: limit ?? DEFAULT_LISTED,
        }),
        limit ?? DEFAULT_LISTED,
      ),
      at,
      note,
    }));
  }
}

function notFound(adapterId: string, path: string): ApiError {
  return new ApiError(
    "ADAPTER_NOT_FOUND",
    `no adapter with id ${JSON.stringify(adapterId)} in the catalog stored in ${path}`,
    { adapter_id: adapterId },
  );
}
