/**
 * The daemon's read model, built from its database file instead of a running
 * daemon: the same HealthView and MaintenanceService (restored as the daemon
 * restores them at start; `status` lists without them, see offline-view.ts), SettingsBook,
 * ResolutionService, EventHub and QueryService as startDaemon wires, so that
 * the query commands and `mcp --db` answer as the daemon's API would
 * for the same file. Nothing is checked, synced or published here.
 */

import { existsSync } from "node:fs";
import type { Database } from "better-sqlite3";
import { ApiError } from "./api/api-error.js";
import { HistoryQueries } from "./api/history-queries.js";
import { QueryService, type Readiness } from "./api/query-service.js";
import { type DaemonConfig, defaultConfig } from "./config/load.js";
import { SettingsBook } from "./config/settings-book.js";
import type { JournalEvent } from "./domain/events.js";
import {
  type AdapterStatusView,
  DEFAULT_OFFLINE_STALE_RULE,
  decodeStaleRule,
  type RegistryView,
  STALE_RULE_META,
} from "./domain/status-view.js";
import { HealthView } from "./engine/health-view.js";
import { EventHub } from "./events/event-hub.js";
import { MaintenanceService } from "./maintenance/maintenance-service.js";
import { type OfflineViewSettings, offlineViewSettings } from "./offline-view.js";
import { ResolutionService } from "./resolution/resolution-service.js";
import { openDatabaseFile } from "./storage/database-file.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import { StorageError } from "./storage/storage-error.js";

/** Why answers read from the file are never "ready": nothing keeps them current. */
export const OFFLINE_NOT_READY_REASON =
  "read from the database file; no daemon is running the checks";

/** Loads in a row that may see the file change under them before one is taken as is. */
const MAX_LOAD_ATTEMPTS = 3;

export interface OfflineReadOptions {
  path: string;
  /**
   * The daemon's config, when known: its priorities, resolution default and
   * fixed maintenance windows are not in the file. Without it, the defaults'.
   */
  config?: DaemonConfig | undefined;
  /** The wall clock: verdict ages, maintenance and answer times are read off it. */
  now?: () => number;
}

/** The daemon's read parts, as one load of the file filled them. */
export interface OfflineParts {
  readonly view: HealthView;
  readonly maintenance: MaintenanceService;
  readonly settings: SettingsBook;
  readonly resolution: ResolutionService;
  readonly queries: QueryService;
  /** False when the file holds no registry state (the daemon never recorded the link). */
  readonly registryKnown: boolean;
}

/**
 * The read model of one database file, opened read-only. Parts are loaded on
 * first use and loaded again when another connection (a running daemon) has
 * committed since (SQLite's `data_version`): a WAL reader sees each commit,
 * so answers follow the daemon without re-reading an unchanged file.
 */
export class OfflineReadModel {
  readonly path: string;
  private readonly config: DaemonConfig;
  private readonly configGiven: boolean;
  private readonly now: () => number;
  private store: SqliteStore | undefined;
  /** A second connection, only to ask `data_version`: it changes on others' commits. */
  private versions: Database | undefined;
  private journalHub: EventHub | undefined;
  private loaded: { version: number; parts: OfflineParts } | undefined;
  private loads = 0;

  constructor(options: OfflineReadOptions) {
    this.path = options.path;
    this.config = options.config ?? defaultConfig();
    this.configGiven = options.config !== undefined;
    this.now = options.now ?? Date.now;
  }

  /** How many times the parts were built from the file (for tests and measurements). */
  get loadCount(): number {
    return this.loads;
  }

  /** The parts as the file holds them now. */
  current(): OfflineParts {
    this.open();
    const version = this.dataVersion();
    if (this.loaded?.version === version) return this.loaded.parts;
    return this.load(version);
  }

  /**
   * The parts last loaded (loading them once if none), without looking for
   * changes: for the journal, which QueryService reads from the file itself.
   */
  latest(): OfflineParts {
    return this.loaded?.parts ?? this.current();
  }

  /** The event hub over the file's journal: cursor checks and "newest seq"; nothing is published. */
  hub(): EventHub {
    if (!this.journalHub) this.journalHub = new EventHub(this.open());
    return this.journalHub;
  }

  /** Journal events after `afterSeq`, oldest first. */
  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    return this.open().readEvents(afterSeq, limit);
  }

  /** Opens the file (once): a StorageError when it cannot serve, NOT_READY when it is missing. */
  openFile(): void {
    this.open();
  }

  close(): void {
    this.versions?.close();
    this.store?.close();
    this.versions = undefined;
    this.store = undefined;
    this.journalHub = undefined;
    this.loaded = undefined;
  }

  private open(): SqliteStore {
    if (this.store) return this.store;
    if (!existsSync(this.path)) {
      throw new ApiError(
        "NOT_READY",
        `no database at ${this.path}: start the daemon once, or pass --db PATH or --url URL`,
      );
    }
    try {
      // Kept open: a WAL reader sees each commit of a running daemon at its next statement.
      this.store = new SqliteStore({ path: this.path, readonly: true });
      this.versions = openDatabaseFile(this.path, { readonly: true });
    } catch (error) {
      this.close();
      // A file that cannot serve is the user's to mend (the CLI exits 78): said as it is.
      if (error instanceof StorageError) throw error;
      throw new ApiError("NOT_READY", (error as Error).message);
    }
    return this.store;
  }

  private dataVersion(): number {
    return (this.versions as Database).pragma("data_version", { simple: true }) as number;
  }

  /**
   * Builds the parts from the file. The reads are separate statements, so a
   * commit landing between them would mix the states before and after it: a
   * load the file changed under is done again, a few times at most (a daemon
   * committing faster than a load takes gets the last one, mixed or not).
   */
  private load(version: number): OfflineParts {
    const store = this.open();
    let before = version;
    for (let attempt = 1; ; attempt++) {
      const parts = this.build(store);
      this.loads++;
      const after = this.dataVersion();
      if (after === before || attempt >= MAX_LOAD_ATTEMPTS) {
        this.loaded = { version: after, parts };
        return parts;
      }
      before = after;
    }
  }

  private build(store: SqliteStore): OfflineParts {
    const { config, now } = this;
    const { view, maintenance, registryKnown } = loadOfflineView(
      store,
      {
        ...offlineViewSettings(config),
        // Without a config the defaults' endpoint is shown (GET /v1/health), as the daemon would.
        ...(this.configGiven ? {} : { staleRule: DEFAULT_OFFLINE_STALE_RULE }),
      },
      now,
    );
    const settings = new SettingsBook(
      config.adapters.defaults,
      config.adapters.overrides,
      config.flap,
    );
    const resolution = new ResolutionService(
      view,
      maintenance,
      settings,
      { panic: config.resolution.panic },
      config.resolution.requirements,
    );
    const notReady: Readiness = { ready: false, reason: OFFLINE_NOT_READY_REASON };
    const queries = new QueryService({
      view,
      resolution,
      maintenance: {
        declare: () => refuseMaintenance(),
        lift: () => refuseMaintenance(),
      },
      // No gateway: the registry is not asked when reading a file.
      hub: this.hub(),
      store,
      now,
      readiness: () => notReady,
      // What the daemon wrote; the time after its last observation is unknown without it.
      history: new HistoryQueries({
        store,
        now,
        minuteBucketsKeptMs: () => config.history.minuteBucketsKeptMs,
      }),
    });
    return {
      view,
      maintenance,
      settings,
      resolution,
      queries,
      registryKnown,
    };
  }
}

/** The view and maintenance one read of the file filled. */
export interface OfflineView {
  readonly view: HealthView;
  readonly maintenance: MaintenanceService;
  /** False when the file holds no registry state (the daemon never recorded the link). */
  readonly registryKnown: boolean;
}

/** Loads the view from an open store, as the daemon restores it at start. */
export function loadOfflineView(
  store: SqliteStore,
  settings: OfflineViewSettings,
  now: () => number,
): OfflineView {
  const maintenance = new MaintenanceService(settings.fixedWindows, store.loadMaintenance(), now);
  const registry = store.loadRegistryState();
  const view = new HealthView(
    registry?.endpoint ?? settings.registryEndpoint,
    decodeStaleRule(store.getMeta(STALE_RULE_META), settings.staleRule),
    now,
    (adapterId) => maintenance.current(adapterId),
    // No monotonic clock spans the daemon's run and this one: a verdict's age
    // is the wall clock's `now - lastChecked` (putState keeps lastChecked as is).
    now,
  );
  const stored = store.loadState();
  view.restore(stored.catalog, stored.health, registry);
  return { view, maintenance, registryKnown: registry !== undefined };
}

function refuseMaintenance(): never {
  throw new ApiError(
    "NOT_READY",
    "declaring or lifting maintenance needs a running daemon (pass --url)",
  );
}

/** Adapters as `GET /v1/adapters` lists them; the registry `null` when the file has never had it. */
export function listFromFile(
  parts: OfflineParts,
  filter: unknown = {},
): { adapters: AdapterStatusView[]; registry: RegistryView | null } {
  const { adapters, registry } = parts.queries.listAdapters(filter);
  return { adapters, registry: parts.registryKnown ? registry : null };
}

/** Reads journal events after `afterSeq` from a database file. */
export function readJournal(dbPath: string, afterSeq: number, limit: number): JournalEvent[] {
  const model = new OfflineReadModel({ path: dbPath });
  try {
    return model.readEvents(afterSeq, limit);
  } finally {
    model.close();
  }
}
