import type { AdapterEntry } from "../domain/adapter.js";
import type { JournalEvent, NewEvent } from "../domain/events.js";
import type { HealthState } from "../domain/health.js";
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

/** A change to the catalog, applied atomically with its events. */
export interface CatalogChange {
  upserted: AdapterEntry[];
  removed: string[];
  /** Health rows for adapters seen for the first time. */
  initialHealth: HealthState[];
}

/**
 * Durable last-known state. Every write that changes state takes the events
 * that record the change and commits both in one transaction.
 */
export interface HealthStore {
  loadCatalog(): AdapterEntry[];
  loadHealth(): HealthState[];
  loadRegistryState(): RegistryState | undefined;
  applyCatalogChange(change: CatalogChange, events: readonly NewEvent[], now: number): void;
  commitHealth(states: readonly HealthState[], events: readonly NewEvent[]): void;
  saveRegistryState(state: RegistryState, events: readonly NewEvent[]): void;
  loadEndpoints(): EndpointState[];
  saveEndpoint(state: EndpointState, events: readonly NewEvent[], now: number): void;
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  /** Calls `listener` with the events of every committed transaction, in seq order; returns an unsubscribe. */
  onCommitted(listener: (events: readonly JournalEvent[]) => void): () => void;
  /** The lowest and highest seq still in the journal. */
  journalBounds(): { oldestSeq: number | null; newestSeq: number | null };
  /** Deletes events older than `olderThan` (ms) and beyond the newest `keepNewest`; returns how many. */
  pruneEvents(olderThan: number, keepNewest: number): number;
  loadMaintenance(): ManualMaintenance[];
  /** Declares (or, with null, lifts) maintenance for one adapter, with its events. */
  saveMaintenance(
    adapterId: string,
    maintenance: ManualMaintenance | null,
    events: readonly NewEvent[],
    now: number,
  ): void;
  loadWebhookCursors(): WebhookCursor[];
  /** Upserts one subscriber's cursor; no events, so it never wakes journal listeners. */
  saveWebhookCursor(cursor: WebhookCursor, now: number): void;
  setMeta(key: string, value: string): void;
  getMeta(key: string): string | undefined;
  close(): void;
}
