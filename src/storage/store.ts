import type { AdapterEntry } from "../domain/adapter.js";
import type { ForeignEvent, JournalEvent, NewEvent } from "../domain/events.js";
import type { HealthState } from "../domain/health.js";
import type { BucketRow, Granularity, TimeTally } from "../domain/history.js";
import type { ManualMaintenance } from "../domain/maintenance.js";

/** The registry link as last seen by the daemon. */
export interface RegistryState {
  endpoint: string;
  reachable: boolean;
  /** ms of the last successful sync, or null. */
  lastSync: number | null;
  /** ms of the last attempt, or null. */
  lastAttempt: number | null;
  lastError: string | null;
}

/** One registry endpoint's link state and breaker, as persisted. */
export interface EndpointState {
  endpoint: string;
  role: "primary" | "secondary";
  /** cockatiel CircuitBreakerPolicy.toJSON(), or null before it was first saved. */
  breaker: unknown;
  reachable: boolean;
  lastOk: number | null;
  lastError: string | null;
}

/** A webhook subscriber's delivery position, as persisted. */
export interface WebhookCursor {
  name: string;
  /** seq of the last event delivered (or skipped by the subscriber's type filter). */
  cursor: number;
  parked: boolean;
  parkedReason: string | null;
  /** Failed attempts in a row on the event after `cursor`. */
  failures: number;
  /** Fingerprint of the url and secret the state was reached with; null if unknown. */
  configHash: string | null;
}

/** Declared maintenance set (or, with null, lifted) for one adapter. */
export interface MaintenanceChange {
  adapterId: string;
  declared: ManualMaintenance | null;
}

/**
 * Everything one engine step changes, written in one transaction with the events
 * that record it: either all of it is durable, or none of it is.
 */
export interface StoreCommit {
  /** Catalog entries added or changed (an entry removed earlier comes back). */
  upserted?: readonly AdapterEntry[];
  /**
   * Catalog entries in the catalog whose description is as stored and whose live
   * readings changed: only `last_heartbeat` and `registry_status` are written.
   */
  readings?: readonly AdapterEntry[];
  /**
   * Adapters leaving the catalog. Their rows are kept, marked removed, until
   * retention passes the removal, so an adapter that comes back keeps its history.
   */
  removed?: readonly string[];
  /** Health rows to write (new adapters' first rows included). */
  states?: readonly HealthState[];
  registry?: RegistryState;
  maintenance?: readonly MaintenanceChange[];
  /** History buckets to write, each as it now stands (see src/domain/history.ts). */
  history?: readonly BucketRow[];
  events: readonly NewEvent[];
  /**
   * Events other cluster members committed, mirrored from the fleet's stream: journalled
   * after `events`, in order, keeping their ids. One whose id the journal already has was
   * mirrored before (a redelivery) and is skipped silently.
   */
  foreignEvents?: readonly ForeignEvent[];
  /** Cluster stream positions to write with the rest, e.g. how far the stream was mirrored. */
  cursors?: readonly ClusterCursor[];
}

/** A named position in one of the cluster's streams (see `HealthStore.loadClusterCursor`). */
export interface ClusterCursor {
  name: string;
  position: number;
}

/** Which adapters one call of `pruneHistory` goes through. */
export interface HistoryPrunePage {
  /** Start after this adapter id; undefined for the first. */
  after: string | undefined;
  adapters: number;
}

/** The health history's buckets, as kept by the store. */
export interface HistoryStore {
  /** The adapter's newest minute and hour buckets, to carry on after a restart. */
  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow };
  /** The adapter's buckets of one size starting in [from, until), oldest first. */
  readBuckets(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
  ): BucketRow[];
  /**
   * The adapter's time per kind in buckets of one size starting in [from, until),
   * summed into slots of `slotMs` (a multiple of the bucket size, aligned to the
   * epoch), by slot start, oldest first: only the slots with buckets.
   */
  sumTime(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
    slotMs: number,
  ): { start: number; time: TimeTally }[];
  /**
   * For each adapter with hour buckets: its running totals just before `before`,
   * that is those of its newest hour bucket starting before it, or (when
   * retention took those) those of its oldest kept bucket less its own time.
   * With Number.MAX_SAFE_INTEGER: through its newest bucket.
   */
  readThrough(adapterIds: readonly string[], before: number): Map<string, TimeTally>;
  /**
   * Deletes minute buckets starting before `minutesBefore` and hour buckets before
   * `hoursBefore`, of at most `page.adapters` adapters (in id order) after
   * `page.after`: how many buckets, and the last adapter done (undefined when none
   * was left), to go on from in the next call.
   */
  pruneHistory(
    minutesBefore: number,
    hoursBefore: number,
    page: HistoryPrunePage,
  ): { deleted: number; last: string | undefined };
}

export interface HealthStore extends HistoryStore {
  /**
   * The adapters in the catalog (not those removed), by id. Entries are the
   * caller's to keep, not to change: a capability list may be shared (frozen)
   * between entries that have the same one.
   */
  loadCatalog(): AdapterEntry[];
  /** The health rows of the adapters in the catalog. */
  loadHealth(): HealthState[];
  /**
   * What start-up restores: the catalog and the health rows of its adapters,
   * as `loadCatalog` and `loadHealth` give them but in no particular order (the
   * daemon's mirror keeps no order), so neither is read through an index.
   */
  loadState(): { catalog: AdapterEntry[]; health: HealthState[] };
  /** The kept health rows of adapters removed from the catalog, for those of `adapterIds` that have one. */
  loadRemovedHealth(adapterIds: readonly string[]): HealthState[];
  loadRegistryState(): RegistryState | undefined;
  /**
   * Commits one engine step in one transaction and returns its events as
   * journalled (with seq, id and, when set, origin): the local ones, then the
   * foreign ones that were not in the journal yet. Throws when the transaction
   * failed: then nothing of it is stored.
   */
  commit(change: StoreCommit, now: number): JournalEvent[];
  loadEndpoints(): EndpointState[];
  saveEndpoint(state: EndpointState, now: number): void;
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  /** The lowest and highest seq still in the journal. */
  journalBounds(): { oldestSeq: number | null; newestSeq: number | null };
  /** Deletes events older than `olderThan` (ms) and beyond the newest `keepNewest`; returns how many. */
  pruneEvents(olderThan: number, keepNewest: number): number;
  /** Forgets adapters removed before `olderThan` (ms), rows and history and all; returns how many. */
  pruneRemovedAdapters(olderThan: number): number;
  loadMaintenance(): ManualMaintenance[];
  loadWebhookCursors(): WebhookCursor[];
  /** Upserts one subscriber's cursor. */
  saveWebhookCursor(cursor: WebhookCursor, now: number): void;
  /** The position saved under `name` (by a commit's `cursors` or saveClusterCursor), if any. */
  loadClusterCursor(name: string): number | undefined;
  /** Upserts one cluster cursor outside a commit (the journal publisher's progress). */
  saveClusterCursor(name: string, position: number, now: number): void;
  setMeta(key: string, value: string): void;
  getMeta(key: string): string | undefined;
  close(): void;
}
