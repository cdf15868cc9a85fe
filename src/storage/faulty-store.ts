import type { AdapterEntry } from "../domain/adapter.js";
import type { JournalEvent } from "../domain/events.js";
import type { HealthState } from "../domain/health.js";
import type { BucketRow, Granularity, TimeTally } from "../domain/history.js";
import type { ManualMaintenance } from "../domain/maintenance.js";
import type {
  EndpointState,
  HealthStore,
  HistoryPrunePage,
  RegistryState,
  StoreCommit,
  WebhookCursor,
} from "./store.js";

/** The error a full disk gives, shaped like better-sqlite3's SqliteError (message and code). */
export function diskFullError(): Error {
  return Object.assign(new Error("SQLITE_FULL: database or disk is full"), {
    code: "SQLITE_FULL",
  });
}

/**
 * Wraps a HealthStore so that `commit` fails on demand, for tests of what the
 * daemon does when a transaction cannot be written. A failed commit throws
 * before reaching the wrapped store, so it changes nothing there, exactly like
 * a rolled-back transaction. Every other method is passed through unchanged.
 */
export class FaultyStore implements HealthStore {
  private failure: Error | undefined;
  private failuresLeft = 0;
  private attempted = 0;
  private failed = 0;

  constructor(readonly inner: HealthStore) {}

  /**
   * Makes the next `count` commits (all of them by default, until `heal()`)
   * throw `error`.
   */
  failCommits(error: Error = diskFullError(), count = Number.POSITIVE_INFINITY): void {
    this.failure = error;
    this.failuresLeft = count;
  }

  /** Lets commits through again. */
  heal(): void {
    this.failure = undefined;
    this.failuresLeft = 0;
  }

  /** Commits asked for, failed or not. */
  get commitsAttempted(): number {
    return this.attempted;
  }

  /** Commits that were made to throw. */
  get commitsFailed(): number {
    return this.failed;
  }

  commit(change: StoreCommit, now: number): JournalEvent[] {
    this.attempted++;
    if (this.failuresLeft > 0 && this.failure) {
      this.failed++;
      this.failuresLeft--;
      throw this.failure;
    }
    return this.inner.commit(change, now);
  }

  loadState(): { catalog: AdapterEntry[]; health: HealthState[] } {
    return this.inner.loadState();
  }

  loadCatalog(): AdapterEntry[] {
    return this.inner.loadCatalog();
  }

  loadHealth(): HealthState[] {
    return this.inner.loadHealth();
  }

  loadRemovedHealth(adapterIds: readonly string[]): HealthState[] {
    return this.inner.loadRemovedHealth(adapterIds);
  }

  loadRegistryState(): RegistryState | undefined {
    return this.inner.loadRegistryState();
  }

  loadEndpoints(): EndpointState[] {
    return this.inner.loadEndpoints();
  }

  saveEndpoint(state: EndpointState, now: number): void {
    this.inner.saveEndpoint(state, now);
  }

  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    return this.inner.readEvents(afterSeq, limit);
  }

  journalBounds(): { oldestSeq: number | null; newestSeq: number | null } {
    return this.inner.journalBounds();
  }

  pruneEvents(olderThan: number, keepNewest: number): number {
    return this.inner.pruneEvents(olderThan, keepNewest);
  }

  pruneRemovedAdapters(olderThan: number): number {
    return this.inner.pruneRemovedAdapters(olderThan);
  }

  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow } {
    return this.inner.newestBuckets(adapterId);
  }

  readBuckets(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
  ): BucketRow[] {
    return this.inner.readBuckets(adapterId, granularity, from, until);
  }

  sumTime(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
    slotMs: number,
  ): { start: number; time: TimeTally }[] {
    return this.inner.sumTime(adapterId, granularity, from, until, slotMs);
  }

  readThrough(adapterIds: readonly string[], before: number): Map<string, TimeTally> {
    return this.inner.readThrough(adapterIds, before);
  }

  pruneHistory(
    minutesBefore: number,
    hoursBefore: number,
    page: HistoryPrunePage,
  ): { deleted: number; last: string | undefined } {
    return this.inner.pruneHistory(minutesBefore, hoursBefore, page);
  }

  loadMaintenance(): ManualMaintenance[] {
    return this.inner.loadMaintenance();
  }

  loadWebhookCursors(): WebhookCursor[] {
    return this.inner.loadWebhookCursors();
  }

  saveWebhookCursor(cursor: WebhookCursor, now: number): void {
    this.inner.saveWebhookCursor(cursor, now);
  }

  loadClusterCursor(name: string): number | undefined {
    return this.inner.loadClusterCursor(name);
  }

  saveClusterCursor(name: string, position: number, now: number): void {
    this.inner.saveClusterCursor(name, position, now);
  }

  setMeta(key: string, value: string): void {
    this.inner.setMeta(key, value);
  }

  getMeta(key: string): string | undefined {
    return this.inner.getMeta(key);
  }

  close(): void {
    this.inner.close();
  }
}
