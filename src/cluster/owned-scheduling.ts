import type { AdapterEntry } from "../domain/adapter.js";

/** The scheduler as ownership drives it. */
export interface SchedulingTarget {
  reconcile(entries: readonly AdapterEntry[]): void;
  applyCatalogChange(change: {
    readonly upserted: readonly AdapterEntry[];
    readonly removed: readonly string[];
  }): void;
}

/**
 * Puts only the adapters this member owns in the scheduler (docs/scale-out.md): the
 * catalog stays whole (every member answers for the fleet), the probing is split.
 * A catalog change is passed on as far as it concerns owned adapters; a new
 * assignment moves adapters in and out at the cost of one pass over the catalog.
 */
export class OwnedScheduling {
  private ownedIds = new Set<string>();

  constructor(
    private readonly scheduler: SchedulingTarget,
    private readonly catalog: { allEntries(): AdapterEntry[] },
    private owns: (adapterId: string) => boolean,
  ) {}

  /** How many catalog adapters this member owned at the last pass. */
  get owned(): number {
    return this.ownedIds.size;
  }

  /** Schedules exactly the owned adapters of the catalog as it is now; returns those newly owned. */
  reconcile(): string[] {
    const owned = this.catalog.allEntries().filter((entry) => this.owns(entry.adapterId));
    const before = this.ownedIds;
    this.ownedIds = new Set(owned.map((entry) => entry.adapterId));
    this.scheduler.reconcile(owned);
    return owned.map((entry) => entry.adapterId).filter((adapterId) => !before.has(adapterId));
  }

  /**
   * Follows a new assignment: adapters it gives this member start, the ones it took
   * away stop. Returns the adapters it gave this member.
   */
  reassign(owns: (adapterId: string) => boolean): string[] {
    this.owns = owns;
    return this.reconcile();
  }

  /**
   * Returns the owned adapters it scheduled that were not owned at the last pass: new
   * to the catalog, or known from the last run and changed by the first sync, which
   * can come before the first pass (a member vouches for those as for any gained).
   */
  applyCatalogChange(change: {
    readonly upserted: readonly AdapterEntry[];
    readonly removed: readonly string[];
  }): string[] {
    const upserted: AdapterEntry[] = [];
    const removed = [...change.removed];
    for (const entry of change.upserted) {
      // An entry owned elsewhere is dropped from the scheduler if it was there (a no-op if not).
      if (this.owns(entry.adapterId)) upserted.push(entry);
      else removed.push(entry.adapterId);
    }
    this.scheduler.applyCatalogChange({ upserted, removed });
    for (const adapterId of removed) this.ownedIds.delete(adapterId);
    const gained: string[] = [];
    for (const entry of upserted) {
      if (this.ownedIds.has(entry.adapterId)) continue;
      this.ownedIds.add(entry.adapterId);
      gained.push(entry.adapterId);
    }
    return gained;
  }
}
