import { randomUUID } from "node:crypto";
import { type AdapterEntry, HEALTH_STATUSES } from "../domain/adapter.js";
import type { JournalEvent, NewEvent } from "../domain/events.js";
import type { HealthState } from "../domain/health.js";
import {
  addTime,
  type BucketRow,
  EMPTY_TIME,
  type Granularity,
  subtractTime,
  type TimeTally,
  timeOf,
} from "../domain/history.js";
import type { ManualMaintenance } from "../domain/maintenance.js";
import type {
  EndpointState,
  HealthStore,
  HistoryPrunePage,
  RegistryState,
  StoreCommit,
  WebhookCursor,
} from "./store.js";

interface StoredAdapter {
  entry: AdapterEntry;
  /** ms of the removal, or null while in the catalog (the `removed_at` column). */
  removedAt: number | null;
}

/**
 * A HealthStore kept in memory, for tests that want the daemon's storage
 * semantics without a file. It behaves like SqliteStore as far as callers can
 * see: the same ordering, the same seq numbering (from 1, never reused), the
 * same all-or-nothing commits, and the same refusals where the SQLite schema
 * refuses a row (foreign keys, STRICT integer columns, CHECK constraints), so
 * code that passes against it does not fail only in production.
 */
export class MemoryStore implements HealthStore {
  private readonly adapters = new Map<string, StoredAdapter>();
  private readonly health = new Map<string, HealthState>();
  private registry: RegistryState | undefined;
  private readonly maintenance = new Map<string, ManualMaintenance>();
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly cursors = new Map<string, WebhookCursor>();
  private readonly meta = new Map<string, string>();
  private readonly clusterCursors = new Map<string, number>();
  /** History buckets by granularity, then adapter, then start. */
  private readonly buckets: Record<Granularity, Map<string, Map<number, BucketRow>>> = {
    minute: new Map(),
    hour: new Map(),
  };
  /** Ordered by seq: appends go to the end and pruning only filters. */
  private events: JournalEvent[] = [];
  /** Like SQLite AUTOINCREMENT: the highest seq ever given, pruned or not. */
  private lastSeq = 0;
  private closed = false;

  loadCatalog(): AdapterEntry[] {
    this.assertOpen();
    return sortedBy([...this.adapters.values()], (stored) => stored.entry.adapterId)
      .filter((stored) => stored.removedAt === null)
      .map((stored) => structuredClone(stored.entry));
  }

  loadHealth(): HealthState[] {
    this.assertOpen();
    return sortedBy([...this.health.values()], (state) => state.adapterId)
      .filter((state) => this.adapters.get(state.adapterId)?.removedAt === null)
      .map((state) => structuredClone(state));
  }

  loadRemovedHealth(adapterIds: readonly string[]): HealthState[] {
    this.assertOpen();
    // In the order asked, as SqliteStore looks them up one by one.
    const found: HealthState[] = [];
    for (const id of adapterIds) {
      const state = this.health.get(id);
      const removedAt = this.adapters.get(id)?.removedAt ?? null;
      if (state && removedAt !== null) found.push(structuredClone(state));
    }
    return found;
  }

  loadState(): { catalog: AdapterEntry[]; health: HealthState[] } {
    return { catalog: this.loadCatalog(), health: this.loadHealth() };
  }

  loadRegistryState(): RegistryState | undefined {
    this.assertOpen();
    return this.registry && structuredClone(this.registry);
  }

  commit(change: StoreCommit, now: number): JournalEvent[] {
    this.assertOpen();
    // Everything that can throw happens here, before any state is touched: a
    // failed commit must leave nothing behind, as a rolled-back transaction does.
    const upserted = (change.upserted ?? []).map((entry) => storedEntry(entry, now));
    const readings = (change.readings ?? []).map((entry) => {
      integer(entry.lastHeartbeat, "adapters.last_heartbeat");
      return entry;
    });
    // Rows as they stand once the upserts are in, which is when SQL marks removals
    // and checks the health rows' foreign key.
    const catalogIds = new Set([
      ...this.adapters.keys(),
      ...upserted.map((entry) => entry.adapterId),
    ]);
    const removed = (change.removed ?? []).filter((id) => catalogIds.has(id));
    if (removed.length > 0) integer(now, "adapters.removed_at");
    const states = (change.states ?? []).map((state) => {
      // adapter_health references adapters: removed rows still count, forgotten ones do not.
      if (!catalogIds.has(state.adapterId)) throw new Error("FOREIGN KEY constraint failed");
      return storedHealth(state);
    });
    for (const row of change.history ?? []) integer(row.start, "history.bucket");
    const registry = change.registry && storedRegistry(change.registry);
    const maintenance = (change.maintenance ?? []).map(({ adapterId, declared }) => {
      if (declared === null) return { adapterId, declared };
      integer(declared.untilMs, "maintenance.until", true);
      integer(now, "maintenance.created_at");
      return {
        adapterId,
        declared: { adapterId, untilMs: declared.untilMs, reason: declared.reason },
      };
    });
    const events = change.events.map(storedEvent);
    // As the UNIQUE id column: a foreign event already journalled (or earlier in this
    // commit) is not journalled again.
    const journalledIds = new Set(this.events.map((event) => event.id));
    const foreign: Omit<JournalEvent, "seq">[] = [];
    for (const event of change.foreignEvents ?? []) {
      const stored = { ...storedEvent(event), id: event.id, origin: event.origin };
      if (journalledIds.has(event.id)) continue;
      journalledIds.add(event.id);
      foreign.push(stored);
    }
    const cursors = (change.cursors ?? []).map(({ name, position }) => {
      integer(position, "cluster_cursors.position");
      integer(now, "cluster_cursors.updated_at");
      return { name, position };
    });

    // Same order as SqliteStore's statements, so a commit that both upserts and
    // removes an adapter ends the same way in both.
    for (const entry of upserted) this.adapters.set(entry.adapterId, { entry, removedAt: null });
    for (const { adapterId, lastHeartbeat, registryStatus } of readings) {
      // As SQL's UPDATE: a row that is not there is not made.
      const stored = this.adapters.get(adapterId);
      if (stored) stored.entry = { ...stored.entry, lastHeartbeat, registryStatus };
    }
    for (const id of removed) {
      const stored = this.adapters.get(id);
      if (stored) stored.removedAt = now;
    }
    for (const state of states) this.health.set(state.adapterId, state);
    for (const row of change.history ?? []) {
      const byAdapter = this.buckets[row.granularity];
      let rows = byAdapter.get(row.adapterId);
      if (!rows) {
        rows = new Map();
        byAdapter.set(row.adapterId, rows);
      }
      rows.set(row.start, structuredClone(row));
    }
    if (registry) this.registry = registry;
    for (const { adapterId, declared } of maintenance) {
      if (declared) this.maintenance.set(adapterId, declared);
      else this.maintenance.delete(adapterId);
    }
    for (const { name, position } of cursors) this.clusterCursors.set(name, position);
    const journalled: JournalEvent[] = [
      ...events.map((event) => ({ ...event, id: randomUUID(), seq: ++this.lastSeq })),
      ...foreign.map((event) => ({ ...event, seq: ++this.lastSeq })),
    ];
    this.events.push(...journalled);
    return structuredClone(journalled);
  }

  loadEndpoints(): EndpointState[] {
    this.assertOpen();
    return sortedBy([...this.endpoints.values()], (state) => state.endpoint).map((state) =>
      structuredClone(state),
    );
  }

  saveEndpoint(state: EndpointState, now: number): void {
    this.assertOpen();
    if (state.role !== "primary" && state.role !== "secondary") {
      throw new Error("CHECK constraint failed: registry_endpoints.role");
    }
    integer(state.lastOk, "registry_endpoints.last_ok", true);
    integer(now, "registry_endpoints.updated_at");
    this.endpoints.set(state.endpoint, {
      endpoint: state.endpoint,
      role: state.role,
      breaker: state.breaker === null ? null : viaJson(state.breaker),
      reachable: state.reachable,
      lastOk: state.lastOk ?? null,
      lastError: state.lastError ?? null,
    });
  }

  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    this.assertOpen();
    const after = this.events.filter((event) => event.seq > afterSeq);
    // SQLite reads a negative LIMIT as no limit.
    return structuredClone(limit < 0 ? after : after.slice(0, limit));
  }

  journalBounds(): { oldestSeq: number | null; newestSeq: number | null } {
    this.assertOpen();
    return { oldestSeq: this.events[0]?.seq ?? null, newestSeq: this.events.at(-1)?.seq ?? null };
  }

  pruneEvents(olderThan: number, keepNewest: number): number {
    this.assertOpen();
    const before = this.events.length;
    this.events = this.events.filter((event) => event.time >= olderThan);
    // As in the SQL: the newest seq is taken after the age cut, and the count
    // cut is by seq distance from it.
    const newest = this.events.at(-1)?.seq;
    if (newest !== undefined) {
      this.events = this.events.filter((event) => event.seq > newest - keepNewest);
    }
    return before - this.events.length;
  }

  pruneRemovedAdapters(olderThan: number): number {
    this.assertOpen();
    let forgotten = 0;
    for (const [id, stored] of this.adapters) {
      if (stored.removedAt !== null && stored.removedAt < olderThan) {
        // The health row goes with it (ON DELETE CASCADE); maintenance has no such link.
        this.adapters.delete(id);
        this.health.delete(id);
        this.buckets.minute.delete(id);
        this.buckets.hour.delete(id);
        forgotten++;
      }
    }
    return forgotten;
  }

  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow } {
    this.assertOpen();
    const newest = (granularity: Granularity) => {
      const rows = [...(this.buckets[granularity].get(adapterId)?.values() ?? [])];
      return rows.sort((a, b) => b.start - a.start)[0];
    };
    const minute = newest("minute");
    const hour = newest("hour");
    return {
      ...(minute ? { minute: structuredClone(minute) } : {}),
      ...(hour ? { hour: structuredClone(hour) } : {}),
    };
  }

  readBuckets(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
  ): BucketRow[] {
    this.assertOpen();
    return [...(this.buckets[granularity].get(adapterId)?.values() ?? [])]
      .filter((row) => row.start >= from && row.start < until)
      .sort((a, b) => a.start - b.start)
      .map((row) => structuredClone(row));
  }

  sumTime(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
    slotMs: number,
  ): { start: number; time: TimeTally }[] {
    const slots = new Map<number, TimeTally>();
    for (const row of this.readBuckets(adapterId, granularity, from, until)) {
      const start = row.start - (row.start % slotMs);
      slots.set(start, addTime(slots.get(start) ?? EMPTY_TIME, row.tally));
    }
    return [...slots].map(([start, time]) => ({ start, time: timeOf(time) }));
  }

  readThrough(adapterIds: readonly string[], before: number): Map<string, TimeTally> {
    this.assertOpen();
    const totals = new Map<string, TimeTally>();
    for (const adapterId of adapterIds) {
      const rows = [...(this.buckets.hour.get(adapterId)?.values() ?? [])].sort(
        (a, b) => b.start - a.start,
      );
      const newestBefore = rows.find((row) => row.start < before);
      // Retention took the buckets before: the totals before the oldest kept one.
      const oldestFrom = rows.filter((row) => row.start >= before).at(-1);
      if (newestBefore?.through) totals.set(adapterId, { ...newestBefore.through });
      else if (oldestFrom?.through) {
        totals.set(adapterId, subtractTime(oldestFrom.through, oldestFrom.tally));
      }
    }
    return totals;
  }

  pruneHistory(
    minutesBefore: number,
    hoursBefore: number,
    page: HistoryPrunePage,
  ): { deleted: number; last: string | undefined } {
    this.assertOpen();
    const ids = [...new Set([...this.buckets.minute.keys(), ...this.buckets.hour.keys()])]
      .filter((id) => page.after === undefined || id > page.after)
      .sort()
      .slice(0, page.adapters);
    let deleted = 0;
    const prune = (rows: Map<number, BucketRow> | undefined, before: number) => {
      for (const start of rows?.keys() ?? []) {
        if (start < before && rows?.delete(start)) deleted++;
      }
    };
    for (const id of ids) {
      prune(this.buckets.minute.get(id), minutesBefore);
      prune(this.buckets.hour.get(id), hoursBefore);
    }
    return { deleted, last: ids.at(-1) };
  }

  loadMaintenance(): ManualMaintenance[] {
    this.assertOpen();
    return sortedBy([...this.maintenance.values()], (declared) => declared.adapterId).map(
      (declared) => structuredClone(declared),
    );
  }

  loadWebhookCursors(): WebhookCursor[] {
    this.assertOpen();
    return sortedBy([...this.cursors.values()], (cursor) => cursor.name).map((cursor) =>
      structuredClone(cursor),
    );
  }

  saveWebhookCursor(cursor: WebhookCursor, now: number): void {
    this.assertOpen();
    integer(cursor.cursor, "webhook_cursors.cursor");
    integer(cursor.failures, "webhook_cursors.failures");
    integer(now, "webhook_cursors.updated_at");
    this.cursors.set(cursor.name, {
      name: cursor.name,
      cursor: cursor.cursor,
      parked: cursor.parked,
      parkedReason: cursor.parkedReason ?? null,
      failures: cursor.failures,
      configHash: cursor.configHash ?? null,
    });
  }

  loadClusterCursor(name: string): number | undefined {
    this.assertOpen();
    return this.clusterCursors.get(name);
  }

  saveClusterCursor(name: string, position: number, now: number): void {
    this.assertOpen();
    integer(position, "cluster_cursors.position");
    integer(now, "cluster_cursors.updated_at");
    this.clusterCursors.set(name, position);
  }

  setMeta(key: string, value: string): void {
    this.assertOpen();
    this.meta.set(key, value);
  }

  getMeta(key: string): string | undefined {
    this.assertOpen();
    return this.meta.get(key);
  }

  /** Further calls throw, as they do on a closed SqliteStore, so use-after-close shows in tests. */
  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("store is closed");
  }
}

/** Sorts by a text key as SQLite's BINARY collation does (code units, not locale). */
function sortedBy<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * A value as it comes back from a JSON column: what JSON.stringify drops is
 * dropped, a value it cannot encode at all reads back as null (the column is
 * bound NULL), and what it cannot serialise (a BigInt) throws.
 */
function viaJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/** STRICT tables refuse a fractional or non-finite number in an INTEGER column. */
function integer(value: number | null | undefined, column: string, nullable = false): void {
  if (nullable && (value === null || value === undefined)) return;
  if (!Number.isInteger(value)) {
    throw new Error(`cannot store REAL value in INTEGER column ${column}`);
  }
}

/** An event as its row keeps it: the columns there are, origin only when set (NULL otherwise). */
function storedEvent(event: NewEvent): NewEvent {
  integer(event.time, "events.time");
  return {
    type: event.type,
    subject: event.subject,
    time: event.time,
    data: viaJson(event.data) as Record<string, unknown>,
    ...(event.origin === undefined || event.origin === null ? {} : { origin: event.origin }),
  };
}

function storedEntry(entry: AdapterEntry, now: number): AdapterEntry {
  integer(entry.registeredAt, "adapters.registered_at");
  integer(entry.lastHeartbeat, "adapters.last_heartbeat");
  integer(now, "adapters.first_seen");
  // Field by field, as the columns are: properties the table has no column for are not kept.
  return {
    adapterId: entry.adapterId,
    project: entry.project,
    domain: entry.domain,
    category: entry.category,
    provider: entry.provider,
    capabilities: viaJson(entry.capabilities) as string[],
    factoryPath: entry.factoryPath,
    healthCheckUrl: entry.healthCheckUrl,
    metadata: viaJson(entry.metadata) as Record<string, string>,
    registeredAt: entry.registeredAt,
    lastHeartbeat: entry.lastHeartbeat,
    registryStatus: entry.registryStatus,
  };
}

function storedHealth(state: HealthState): HealthState {
  if (!HEALTH_STATUSES.includes(state.status)) {
    throw new Error("CHECK constraint failed: adapter_health.status");
  }
  if (!["probe", "registry", "none"].includes(state.source)) {
    throw new Error("CHECK constraint failed: adapter_health.source");
  }
  integer(state.since, "adapter_health.since");
  integer(state.lastChecked, "adapter_health.last_checked", true);
  integer(state.consecutiveSuccesses, "adapter_health.consecutive_successes");
  integer(state.consecutiveFailures, "adapter_health.consecutive_failures");
  integer(state.checkIntervalMs, "adapter_health.check_interval_ms", true);
  return {
    adapterId: state.adapterId,
    status: state.status,
    since: state.since,
    lastChecked: state.lastChecked ?? null,
    latencyMs: state.latencyMs ?? null,
    source: state.source,
    reason: state.reason,
    consecutiveSuccesses: state.consecutiveSuccesses,
    consecutiveFailures: state.consecutiveFailures,
    registryStatus: state.registryStatus,
    flapping: state.flapping,
    recentTransitions: viaJson(state.recentTransitions) as number[],
    // SqliteStore keeps the breaker in two columns; a missing snapshot reads back null.
    breaker: state.breaker
      ? { state: state.breaker.state, snapshot: viaJson(state.breaker.snapshot) }
      : null,
    // A caller that leaves the interval out gets NULL from SQLite, not a missing field.
    checkIntervalMs: state.checkIntervalMs ?? null,
    ...(state.owner === undefined || state.owner === null ? {} : { owner: state.owner }),
  };
}

function storedRegistry(state: RegistryState): RegistryState {
  integer(state.lastSync, "registry_state.last_sync", true);
  integer(state.lastAttempt, "registry_state.last_attempt", true);
  return {
    endpoint: state.endpoint,
    reachable: state.reachable,
    lastSync: state.lastSync ?? null,
    lastAttempt: state.lastAttempt ?? null,
    lastError: state.lastError ?? null,
  };
}
