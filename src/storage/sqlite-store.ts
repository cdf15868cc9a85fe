import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Database, Statement } from "better-sqlite3";
import { type AdapterEntry, type HealthStatus, isHealthStatus } from "../domain/adapter.js";
import type { EventType, ForeignEvent, JournalEvent, NewEvent } from "../domain/events.js";
import type { BreakerState, HealthState, StatusSource } from "../domain/health.js";
import type { BucketRow, Granularity, TimeTally } from "../domain/history.js";
import type { ManualMaintenance } from "../domain/maintenance.js";
import type { StatusViewEntry, StatusViewHealth } from "../domain/status-view.js";
import { explainOpenFailure, openDatabaseFile } from "./database-file.js";
import { migrate, readMigrations } from "./migrator.js";
import { SqliteHistory } from "./sqlite-history.js";
import { StorageError } from "./storage-error.js";
import type {
  EndpointState,
  HealthStore,
  HistoryPrunePage,
  RegistryState,
  StoreCommit,
  WebhookCursor,
} from "./store.js";

/** Where the numbered migration files ship, relative to this module (src/ or dist/). */
export const MIGRATIONS_DIRECTORY = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface SqliteStoreOptions {
  path: string;
  synchronous?: "normal" | "full";
  readonly?: boolean;
  now?: () => number;
}

interface HealthRow {
  adapter_id: string;
  status: string;
  since: number;
  last_checked: number | null;
  latency_ms: number | null;
  source: string;
  reason: string;
  consecutive_successes: number;
  consecutive_failures: number;
  registry_status: string;
  flapping: number;
  recent_transitions: string;
  breaker_state: string | null;
  breaker: string | null;
  check_interval_ms: number | null;
  owner: string | null;
}

const asStatus = (value: string): HealthStatus => (isHealthStatus(value) ? value : "unknown");

/** The SQLite implementation of HealthStore (better-sqlite3, WAL). */
export class SqliteStore implements HealthStore {
  private readonly db: Database;
  private readonly statements: ReturnType<typeof prepareStatements> | undefined;
  private readonly history: SqliteHistory;

  /**
   * Opens (and, unless read-only, migrates) the database at `path`. A file or
   * place that cannot serve (see openDatabaseFile), or a schema this version
   * cannot use, is a StorageError naming the path and the cause.
   */
  constructor(options: SqliteStoreOptions) {
    const now = options.now ?? Date.now;
    const mode = { readonly: options.readonly ?? false };
    const known = readMigrations(MIGRATIONS_DIRECTORY);
    this.db = openDatabaseFile(options.path, mode);
    try {
      this.db.pragma("busy_timeout = 5000");
      checkSchemaVersion(this.db, known.length, options.path, mode.readonly);
      if (mode.readonly) {
        this.statements = undefined;
        this.history = new SqliteHistory(this.db, false);
        return;
      }
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      this.db.pragma("foreign_keys = ON");
      migrate(this.db, known, now);
      this.statements = prepareStatements(this.db);
      this.history = new SqliteHistory(this.db, true);
    } catch (error) {
      this.db.close();
      throw explainOpenFailure(options.path, mode, error);
    }
  }

  private get writable(): ReturnType<typeof prepareStatements> {
    if (!this.statements) throw new Error("store was opened read-only");
    return this.statements;
  }

  loadCatalog(): AdapterEntry[] {
    return entriesFrom(
      this.db
        .prepare(`${CATALOG_SELECT} WHERE removed_at IS NULL ORDER BY adapter_id`)
        .raw(true)
        .all() as AdapterTuple[],
    );
  }

  loadHealth(): HealthState[] {
    return statesFrom(
      this.db
        .prepare(
          `SELECT ${HEALTH_COLUMNS.map((column) => `h.${column}`).join(", ")}
           FROM adapter_health h JOIN adapters a USING (adapter_id)
           WHERE a.removed_at IS NULL ORDER BY h.adapter_id`,
        )
        .raw(true)
        .all() as HealthTuple[],
    );
  }

  loadState(): { catalog: AdapterEntry[]; health: HealthState[] } {
    // Both tables in storage order (no id index to walk, no join), each page of rows as one
    // JSON text built by SQLite and parsed at once: at 100,000 adapters about half the time
    // of reading rows one by one. Removed adapters are few; their health rows are left out.
    const catalog = entriesFrom(
      this.rowsAsJson<AdapterTuple>("adapters", CATALOG_COLUMNS, "removed_at IS NULL"),
    );
    const removed = new Set(
      this.db
        .prepare("SELECT adapter_id FROM adapters WHERE removed_at IS NOT NULL")
        .pluck(true)
        .all() as string[],
    );
    let rows = this.rowsAsJson<HealthTuple>("adapter_health", HEALTH_COLUMNS, "1");
    if (removed.size > 0) rows = rows.filter((row) => !removed.has(row[0]));
    return { catalog, health: statesFrom(rows) };
  }

  /**
   * What a status listing shows of each adapter with a verdict, removed ones left out, in
   * the catalog's storage order (loadState's): the columns the listing reads and no others,
   * both tables in one join, so no breaker snapshot, transitions or metadata is parsed.
   */
  loadStatusRows(): StatusRow[] {
    return statusRowsFrom(
      this.rowsAsJson<StatusTuple>(
        "adapters",
        STATUS_COLUMNS,
        "adapters.removed_at IS NULL",
        // CROSS JOIN keeps adapters the outer loop: its rowid pages and order hold.
        "CROSS JOIN adapter_health ON adapter_health.adapter_id = adapters.adapter_id",
      ),
    );
  }

  /**
   * The rows of `table` (with what `join` adds to each) matching `where`, as arrays of
   * `columns`, in `table`'s rowid order, a page of rowids per query so no one JSON text
   * grows past what a string can hold. SQLite writes every REAL with the digits that read
   * back as the same double, so the values are those a row-by-row read gives.
   */
  private rowsAsJson<T>(table: string, columns: readonly string[], where: string, join = ""): T[] {
    const bounds = this.db
      .prepare(`SELECT MIN(rowid) AS low, MAX(rowid) AS high FROM ${table}`)
      .get() as { low: number | null; high: number | null };
    if (bounds.low === null || bounds.high === null) return [];
    const page = this.db
      .prepare(
        `SELECT json_group_array(json_array(${columns.join(", ")})) FROM ${table} ${join}
         WHERE ${table}.rowid >= ? AND ${table}.rowid < ? AND (${where})`,
      )
      .pluck(true);
    const rows: T[] = [];
    for (let low = bounds.low; low <= bounds.high; low += JSON_PAGE_ROWIDS) {
      const text = page.get(low, low + JSON_PAGE_ROWIDS) as string;
      for (const row of JSON.parse(text) as T[]) rows.push(row);
    }
    return rows;
  }

  loadRegistryState(): RegistryState | undefined {
    const row = this.db.prepare("SELECT * FROM registry_state WHERE id = 1").get() as
      | {
          endpoint: string;
          reachable: number;
          last_sync: number | null;
          last_attempt: number | null;
          last_error: string | null;
        }
      | undefined;
    if (!row) return undefined;
    return {
      endpoint: row.endpoint,
      reachable: row.reachable === 1,
      lastSync: row.last_sync,
      lastAttempt: row.last_attempt,
      lastError: row.last_error,
    };
  }

  loadRemovedHealth(adapterIds: readonly string[]): HealthState[] {
    if (adapterIds.length === 0) return [];
    const select = this.db.prepare(
      `SELECT h.* FROM adapter_health h JOIN adapters a USING (adapter_id)
       WHERE a.removed_at IS NOT NULL AND h.adapter_id = ?`,
    );
    const rows: HealthRow[] = [];
    for (const id of adapterIds) {
      const row = select.get(id) as HealthRow | undefined;
      if (row) rows.push(row);
    }
    return rows.map(toHealthState);
  }

  commit(change: StoreCommit, now: number): JournalEvent[] {
    const statements = this.writable;
    let madeKeys: Map<string, number> | undefined;
    const journalled = this.db.transaction(() => {
      for (const entry of change.upserted ?? []) {
        statements.upsertAdapter.run({
          adapter_id: entry.adapterId,
          project: entry.project,
          domain: entry.domain,
          category: entry.category,
          provider: entry.provider,
          capabilities: JSON.stringify(entry.capabilities),
          factory_path: entry.factoryPath,
          health_check_url: entry.healthCheckUrl,
          metadata: JSON.stringify(entry.metadata),
          registered_at: entry.registeredAt,
          last_heartbeat: entry.lastHeartbeat,
          registry_status: entry.registryStatus,
          now,
        });
      }
      for (const entry of change.readings ?? []) {
        statements.updateReadings.run(
          entry.lastHeartbeat,
          entry.registryStatus,
          now,
          entry.adapterId,
        );
      }
      for (const id of change.removed ?? []) statements.markRemoved.run(now, id);
      for (const state of change.states ?? []) statements.upsertHealth.run(healthRow(state));
      if (change.registry) {
        statements.upsertRegistry.run({
          endpoint: change.registry.endpoint,
          reachable: change.registry.reachable ? 1 : 0,
          last_sync: change.registry.lastSync,
          last_attempt: change.registry.lastAttempt,
          last_error: change.registry.lastError,
        });
      }
      for (const { adapterId, declared } of change.maintenance ?? []) {
        if (declared) {
          statements.upsertMaintenance.run(adapterId, declared.untilMs, declared.reason, now);
        } else {
          statements.deleteMaintenance.run(adapterId);
        }
      }
      madeKeys = this.history.write(change.history ?? []);
      for (const { name, position } of change.cursors ?? []) {
        statements.upsertClusterCursor.run(name, position, now);
      }
      const local = this.appendEvents(change.events);
      return change.foreignEvents ? [...local, ...this.mirrorEvents(change.foreignEvents)] : local;
    })();
    if (madeKeys) this.history.remember(madeKeys);
    return journalled;
  }

  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow } {
    return this.history.newestBuckets(adapterId);
  }

  readBuckets(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
  ): BucketRow[] {
    return this.history.readBuckets(adapterId, granularity, from, until);
  }

  sumTime(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
    slotMs: number,
  ): { start: number; time: TimeTally }[] {
    return this.history.sumTime(adapterId, granularity, from, until, slotMs);
  }

  readThrough(adapterIds: readonly string[], before: number): Map<string, TimeTally> {
    return this.history.readThrough(adapterIds, before);
  }

  pruneHistory(
    minutesBefore: number,
    hoursBefore: number,
    page: HistoryPrunePage,
  ): { deleted: number; last: string | undefined } {
    this.writable;
    return this.db.transaction(() => this.history.prune(minutesBefore, hoursBefore, page))();
  }

  loadEndpoints(): EndpointState[] {
    const rows = this.db.prepare("SELECT * FROM registry_endpoints ORDER BY endpoint").all() as {
      endpoint: string;
      role: "primary" | "secondary";
      breaker: string | null;
      reachable: number;
      last_ok: number | null;
      last_error: string | null;
    }[];
    return rows.map((row) => ({
      endpoint: row.endpoint,
      role: row.role,
      breaker: row.breaker === null ? null : (JSON.parse(row.breaker) as unknown),
      reachable: row.reachable === 1,
      lastOk: row.last_ok,
      lastError: row.last_error,
    }));
  }

  saveEndpoint(state: EndpointState, now: number): void {
    this.writable.upsertEndpoint.run({
      endpoint: state.endpoint,
      role: state.role,
      breaker: state.breaker === null ? null : JSON.stringify(state.breaker),
      reachable: state.reachable ? 1 : 0,
      last_ok: state.lastOk,
      last_error: state.lastError,
      now,
    });
  }

  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    const rows = this.db
      .prepare("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
      .all(afterSeq, limit) as {
      seq: number;
      id: string;
      type: string;
      subject: string;
      time: number;
      data: string;
      origin: string | null;
    }[];
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      type: row.type as EventType,
      subject: row.subject,
      time: row.time,
      data: JSON.parse(row.data) as Record<string, unknown>,
      // Absent, not null, for a lone daemon's events: they read back as they always did.
      ...(row.origin === null ? {} : { origin: row.origin }),
    }));
  }

  loadMaintenance(): ManualMaintenance[] {
    const rows = this.db.prepare("SELECT * FROM maintenance ORDER BY adapter_id").all() as {
      adapter_id: string;
      until: number | null;
      reason: string;
    }[];
    return rows.map((row) => ({
      adapterId: row.adapter_id,
      untilMs: row.until,
      reason: row.reason,
    }));
  }

  pruneEvents(olderThan: number, keepNewest: number): number {
    const statements = this.writable;
    return this.db.transaction(() => {
      let deleted = statements.deleteEventsBefore.run(olderThan).changes;
      const newest = this.db.prepare("SELECT MAX(seq) AS seq FROM events").get() as {
        seq: number | null;
      };
      if (newest.seq !== null) {
        deleted += statements.deleteEventsUpTo.run(newest.seq - keepNewest).changes;
      }
      return deleted;
    })();
  }

  pruneRemovedAdapters(olderThan: number): number {
    const statements = this.writable;
    return this.db.transaction(() => {
      const forgotten = statements.deleteRemovedBefore.run(olderThan).changes;
      if (forgotten > 0) this.history.forgetRemoved();
      return forgotten;
    })();
  }

  journalBounds(): { oldestSeq: number | null; newestSeq: number | null } {
    const row = this.db
      .prepare("SELECT MIN(seq) AS oldest, MAX(seq) AS newest FROM events")
      .get() as {
      oldest: number | null;
      newest: number | null;
    };
    return { oldestSeq: row.oldest, newestSeq: row.newest };
  }

  loadWebhookCursors(): WebhookCursor[] {
    const rows = this.db.prepare("SELECT * FROM webhook_cursors ORDER BY name").all() as {
      name: string;
      cursor: number;
      parked: number;
      parked_reason: string | null;
      failures: number;
      config_hash: string | null;
    }[];
    return rows.map((row) => ({
      name: row.name,
      cursor: row.cursor,
      parked: row.parked === 1,
      parkedReason: row.parked_reason,
      failures: row.failures,
      configHash: row.config_hash,
    }));
  }

  saveWebhookCursor(cursor: WebhookCursor, now: number): void {
    this.writable.upsertWebhookCursor.run({
      name: cursor.name,
      cursor: cursor.cursor,
      parked: cursor.parked ? 1 : 0,
      parked_reason: cursor.parkedReason,
      failures: cursor.failures,
      config_hash: cursor.configHash,
      now,
    });
  }

  loadClusterCursor(name: string): number | undefined {
    const row = this.db.prepare("SELECT position FROM cluster_cursors WHERE name = ?").get(name) as
      | { position: number }
      | undefined;
    return row?.position;
  }

  saveClusterCursor(name: string, position: number, now: number): void {
    this.writable.upsertClusterCursor.run(name, position, now);
  }

  setMeta(key: string, value: string): void {
    this.writable.setMeta.run(key, value);
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM daemon_meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private appendEvents(events: readonly NewEvent[]): JournalEvent[] {
    const insert: Statement = this.writable.insertEvent;
    return events.map((event) => {
      const id = randomUUID();
      const info = insert.run(
        id,
        event.type,
        event.subject,
        event.time,
        JSON.stringify(event.data),
        event.origin ?? null,
      );
      return { ...event, id, seq: Number(info.lastInsertRowid) };
    });
  }

  /** Journals foreign events under their own ids; an id already journalled is left out. */
  private mirrorEvents(events: readonly ForeignEvent[]): JournalEvent[] {
    const { insertEvent: insert, eventIdKnown } = this.writable;
    const journalled: JournalEvent[] = [];
    for (const event of events) {
      // Looked up rather than left to ON CONFLICT DO NOTHING: AUTOINCREMENT would use up
      // a seq for each skipped insert, and consumers read a gap in seq as events pruned.
      if (eventIdKnown.get(event.id) !== undefined) continue;
      const info = insert.run(
        event.id,
        event.type,
        event.subject,
        event.time,
        JSON.stringify(event.data),
        event.origin,
      );
      journalled.push({ ...event, seq: Number(info.lastInsertRowid) });
    }
    return journalled;
  }
}

/**
 * A file from a newer version is refused before anything is written to it; a
 * read-only reader cannot migrate, so it also needs the schema this version writes.
 */
function checkSchemaVersion(db: Database, known: number, path: string, readonly: boolean): void {
  const tracked = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  const applied = tracked
    ? ((
        db.prepare("SELECT MAX(version) AS version FROM schema_migrations").get() as {
          version: number | null;
        }
      ).version ?? 0)
    : 0;
  if (applied > known) {
    throw new StorageError(
      path,
      `has schema version ${applied}, newer than this oneiric-healthd's ${known}: it was written by a newer oneiric-healthd; upgrade, or use another database`,
    );
  }
  if (readonly && applied < known) {
    throw new StorageError(
      path,
      `has schema version ${applied}, older than this oneiric-healthd's ${known}: start the daemon once on it to migrate`,
    );
  }
}

const HEALTH_COLUMNS = [
  "adapter_id",
  "status",
  "since",
  "last_checked",
  "latency_ms",
  "source",
  "reason",
  "consecutive_successes",
  "consecutive_failures",
  "registry_status",
  "flapping",
  "recent_transitions",
  "breaker_state",
  "breaker",
  "check_interval_ms",
  "owner",
] as const;

type HealthTuple = [
  adapterId: string,
  status: string,
  since: number,
  lastChecked: number | null,
  latencyMs: number | null,
  source: string,
  reason: string,
  consecutiveSuccesses: number,
  consecutiveFailures: number,
  registryStatus: string,
  flapping: number,
  recentTransitions: string,
  breakerState: string | null,
  breaker: string | null,
  checkIntervalMs: number | null,
  owner: string | null,
];

type AdapterTuple = [
  adapterId: string,
  project: string,
  domain: string,
  category: string,
  provider: string,
  capabilities: string,
  factoryPath: string,
  healthCheckUrl: string,
  metadata: string,
  registeredAt: number,
  lastHeartbeat: number,
  registryStatus: string,
];

const CATALOG_COLUMNS = [
  "adapter_id",
  "project",
  "domain",
  "category",
  "provider",
  "capabilities",
  "factory_path",
  "health_check_url",
  "metadata",
  "registered_at",
  "last_heartbeat",
  "registry_status",
] as const;

const CATALOG_SELECT = `SELECT ${CATALOG_COLUMNS.join(", ")} FROM adapters`;

/** One adapter as a status listing shows it: its entry's and its verdict's fields that the view reads. */
export interface StatusRow extends StatusViewEntry, StatusViewHealth {}

const STATUS_COLUMNS = [
  "adapters.adapter_id",
  "adapters.project",
  "adapters.domain",
  "adapters.category",
  "adapters.provider",
  "adapters.health_check_url",
  "adapter_health.status",
  "adapter_health.since",
  "adapter_health.last_checked",
  "adapter_health.latency_ms",
  "adapter_health.source",
  "adapter_health.reason",
  "adapter_health.registry_status",
  "adapter_health.flapping",
  "adapter_health.breaker_state",
  "adapter_health.check_interval_ms",
  "adapter_health.owner",
] as const;

type StatusTuple = [
  adapterId: string,
  project: string,
  domain: string,
  category: string,
  provider: string,
  healthCheckUrl: string,
  status: string,
  since: number,
  lastChecked: number | null,
  latencyMs: number | null,
  source: string,
  reason: string,
  registryStatus: string,
  flapping: number,
  breakerState: string | null,
  checkIntervalMs: number | null,
  owner: string | null,
];

/** Rowids per page of {@link SqliteStore.rowsAsJson}: a few MB of JSON text each. */
const JSON_PAGE_ROWIDS = 20_000;

/**
 * Catalog rows as entries. Raw rows (arrays, not one object per row) and a shared
 * parse of repeated capability lists: at 100,000 adapters the start-up load is
 * mostly allocation and collection.
 */
function entriesFrom(rows: readonly AdapterTuple[]): AdapterEntry[] {
  const capabilityLists = new Map<string, readonly string[]>();
  const entries: AdapterEntry[] = new Array(rows.length);
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as AdapterTuple;
    const capabilitiesText = row[5];
    let capabilities = capabilityLists.get(capabilitiesText);
    if (!capabilities) {
      // Shared by every entry with the same list, so frozen: entries are never changed in place.
      capabilities = Object.freeze(JSON.parse(capabilitiesText) as string[]);
      capabilityLists.set(capabilitiesText, capabilities);
    }
    const metadataText = row[8];
    entries[index] = {
      adapterId: row[0],
      project: row[1],
      domain: row[2],
      category: row[3],
      provider: row[4],
      capabilities: capabilities as string[],
      factoryPath: row[6],
      healthCheckUrl: row[7],
      metadata: metadataText === "{}" ? {} : (JSON.parse(metadataText) as Record<string, string>),
      registeredAt: row[9],
      lastHeartbeat: row[10],
      registryStatus: asStatus(row[11]),
    };
  }
  return entries;
}

/** Status rows from their tuples, decoded as fromHealthTuple decodes the same columns. */
function statusRowsFrom(tuples: readonly StatusTuple[]): StatusRow[] {
  // The view reads only a breaker's state: one object per state, shared.
  const breakers = new Map<string, { readonly state: BreakerState }>();
  const rows: StatusRow[] = new Array(tuples.length);
  for (let index = 0; index < tuples.length; index++) {
    const tuple = tuples[index] as StatusTuple;
    const breakerState = tuple[14];
    let breaker = breakerState === null ? null : breakers.get(breakerState);
    if (breaker === undefined) {
      breaker = Object.freeze({ state: breakerState as BreakerState });
      breakers.set(breakerState as string, breaker);
    }
    rows[index] = {
      adapterId: tuple[0],
      project: tuple[1],
      domain: tuple[2],
      category: tuple[3],
      provider: tuple[4],
      healthCheckUrl: tuple[5],
      status: asStatus(tuple[6]),
      since: tuple[7],
      lastChecked: tuple[8],
      latencyMs: tuple[9],
      source: tuple[10] as StatusSource,
      reason: tuple[11],
      registryStatus: asStatus(tuple[12]),
      flapping: tuple[13] === 1,
      breaker,
      checkIntervalMs: tuple[15],
      ...(tuple[16] === null ? {} : { owner: tuple[16] }),
    };
  }
  return rows;
}

/** Health rows as states; breaker snapshots repeat (every breaker at rest has the same one): each text is parsed once. */
function statesFrom(rows: readonly HealthTuple[]): HealthState[] {
  const snapshots = new Map<string, unknown>();
  const states: HealthState[] = new Array(rows.length);
  for (let index = 0; index < rows.length; index++) {
    states[index] = fromHealthTuple(rows[index] as HealthTuple, snapshots);
  }
  return states;
}

/**
 * A stored breaker snapshot, parsed. Snapshots whose objects cockatiel only ever
 * replaces (a closed breaker counting failures in a plain number) are parsed once
 * per text and shared, frozen; any other (open, half-open, windows, samples) is
 * changed in place once a breaker takes it up, so each adapter gets its own.
 */
function parseSnapshot(text: string, shared: Map<string, unknown>): unknown {
  const known = shared.get(text);
  if (known !== undefined) return known;
  const parsed = JSON.parse(text) as { ownState?: Record<string, unknown>; breakerState?: unknown };
  const ownState = parsed?.ownState;
  const shareable =
    ownState !== undefined &&
    ownState.value === 0 &&
    Object.keys(ownState).length === 1 &&
    typeof parsed.breakerState === "number";
  if (shareable) {
    Object.freeze(ownState);
    shared.set(text, Object.freeze(parsed));
  }
  return parsed;
}

function fromHealthTuple(row: HealthTuple, snapshots: Map<string, unknown>): HealthState {
  const transitions = row[11];
  const breakerText = row[13];
  return {
    adapterId: row[0],
    status: asStatus(row[1]),
    since: row[2],
    lastChecked: row[3],
    latencyMs: row[4],
    source: row[5] as StatusSource,
    reason: row[6],
    consecutiveSuccesses: row[7],
    consecutiveFailures: row[8],
    registryStatus: asStatus(row[9]),
    flapping: row[10] === 1,
    recentTransitions: transitions === "[]" ? [] : (JSON.parse(transitions) as number[]),
    breaker:
      row[12] === null
        ? null
        : {
            state: row[12] as BreakerState,
            snapshot: breakerText === null ? null : parseSnapshot(breakerText, snapshots),
          },
    checkIntervalMs: row[14],
    // Absent, not null, on a lone daemon: its states stay deep-equal to what they were.
    ...(row[15] === null ? {} : { owner: row[15] }),
  };
}

function toHealthState(row: HealthRow): HealthState {
  return fromHealthTuple(HEALTH_COLUMNS.map((column) => row[column]) as HealthTuple, new Map());
}

function healthRow(state: HealthState): Record<string, unknown> {
  return {
    adapter_id: state.adapterId,
    status: state.status,
    since: state.since,
    last_checked: state.lastChecked,
    latency_ms: state.latencyMs,
    source: state.source,
    reason: state.reason,
    consecutive_successes: state.consecutiveSuccesses,
    consecutive_failures: state.consecutiveFailures,
    registry_status: state.registryStatus,
    flapping: state.flapping ? 1 : 0,
    recent_transitions: JSON.stringify(state.recentTransitions),
    breaker_state: state.breaker?.state ?? null,
    breaker: state.breaker ? JSON.stringify(state.breaker.snapshot) : null,
    check_interval_ms: state.checkIntervalMs,
    owner: state.owner ?? null,
  };
}

function prepareStatements(db: Database) {
  return {
    upsertAdapter: db.prepare(`
      INSERT INTO adapters (adapter_id, project, domain, category, provider, capabilities,
        factory_path, health_check_url, metadata, registered_at, last_heartbeat, registry_status,
        first_seen, updated_at)
      VALUES (@adapter_id, @project, @domain, @category, @provider, @capabilities, @factory_path,
        @health_check_url, @metadata, @registered_at, @last_heartbeat, @registry_status, @now, @now)
      ON CONFLICT (adapter_id) DO UPDATE SET project = excluded.project, domain = excluded.domain,
        category = excluded.category, provider = excluded.provider,
        capabilities = excluded.capabilities, factory_path = excluded.factory_path,
        health_check_url = excluded.health_check_url, metadata = excluded.metadata,
        registered_at = excluded.registered_at, last_heartbeat = excluded.last_heartbeat,
        registry_status = excluded.registry_status, updated_at = excluded.updated_at,
        removed_at = NULL`),
    updateReadings: db.prepare(
      "UPDATE adapters SET last_heartbeat = ?, registry_status = ?, updated_at = ? WHERE adapter_id = ?",
    ),
    markRemoved: db.prepare("UPDATE adapters SET removed_at = ? WHERE adapter_id = ?"),
    deleteRemovedBefore: db.prepare(
      "DELETE FROM adapters WHERE removed_at IS NOT NULL AND removed_at < ?",
    ),
    upsertHealth: db.prepare(`
      INSERT INTO adapter_health (adapter_id, status, since, last_checked, latency_ms, source,
        reason, consecutive_successes, consecutive_failures, registry_status, flapping,
        recent_transitions, breaker_state, breaker, check_interval_ms, owner)
      VALUES (@adapter_id, @status, @since, @last_checked, @latency_ms, @source, @reason,
        @consecutive_successes, @consecutive_failures, @registry_status, @flapping,
        @recent_transitions, @breaker_state, @breaker, @check_interval_ms, @owner)
      ON CONFLICT (adapter_id) DO UPDATE SET status = excluded.status, since = excluded.since,
        last_checked = excluded.last_checked, latency_ms = excluded.latency_ms,
        source = excluded.source, reason = excluded.reason,
        consecutive_successes = excluded.consecutive_successes,
        consecutive_failures = excluded.consecutive_failures,
        registry_status = excluded.registry_status, flapping = excluded.flapping,
        recent_transitions = excluded.recent_transitions, breaker_state = excluded.breaker_state,
        breaker = excluded.breaker, check_interval_ms = excluded.check_interval_ms,
        owner = excluded.owner`),
    upsertMaintenance: db.prepare(`
      INSERT INTO maintenance (adapter_id, until, reason, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (adapter_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
        created_at = excluded.created_at`),
    deleteMaintenance: db.prepare("DELETE FROM maintenance WHERE adapter_id = ?"),
    deleteEventsBefore: db.prepare("DELETE FROM events WHERE time < ?"),
    deleteEventsUpTo: db.prepare("DELETE FROM events WHERE seq <= ?"),
    upsertRegistry: db.prepare(`
      INSERT INTO registry_state (id, endpoint, reachable, last_sync, last_attempt, last_error)
      VALUES (1, @endpoint, @reachable, @last_sync, @last_attempt, @last_error)
      ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, reachable = excluded.reachable,
        last_sync = excluded.last_sync, last_attempt = excluded.last_attempt,
        last_error = excluded.last_error`),
    upsertEndpoint: db.prepare(`
      INSERT INTO registry_endpoints (endpoint, role, breaker, reachable, last_ok, last_error, updated_at)
      VALUES (@endpoint, @role, @breaker, @reachable, @last_ok, @last_error, @now)
      ON CONFLICT (endpoint) DO UPDATE SET role = excluded.role, breaker = excluded.breaker,
        reachable = excluded.reachable, last_ok = excluded.last_ok,
        last_error = excluded.last_error, updated_at = excluded.updated_at`),
    insertEvent: db.prepare(
      "INSERT INTO events (id, type, subject, time, data, origin) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    eventIdKnown: db.prepare("SELECT 1 FROM events WHERE id = ?").pluck(true),
    upsertClusterCursor: db.prepare(`
      INSERT INTO cluster_cursors (name, position, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET position = excluded.position,
        updated_at = excluded.updated_at`),
    upsertWebhookCursor: db.prepare(`
      INSERT INTO webhook_cursors (name, cursor, parked, parked_reason, failures, config_hash, updated_at)
      VALUES (@name, @cursor, @parked, @parked_reason, @failures, @config_hash, @now)
      ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, parked = excluded.parked,
        parked_reason = excluded.parked_reason, failures = excluded.failures,
        config_hash = excluded.config_hash, updated_at = excluded.updated_at`),
    setMeta: db.prepare(
      "INSERT INTO daemon_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
  };
}
