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
  private ownedCount = 0;

  constructor(
    private readonly scheduler: SchedulingTarget,
    private readonly catalog: { allEntries(): AdapterEntry[] },
    private owns: (adapterId: string) => boolean,
  ) {}

  /** How many catalog adapters this member owned at the last pass. */
  get owned(): number {
    return this.ownedCount;
  }

  /** Schedules exactly the owned adapters of the catalog as it is now. */
  reconcile(): void {
    const owned = this.catalog.allEntries().filter((entry) => this.owns(entry.adapterId));
    this.ownedCount = owned.length;
    this.scheduler.reconcile(owned);
  }

  /** Follows a new assignment: adapters it gives this member start, the ones it took away stop. */
  reassign(owns: (adapterId: string) => boolean): void {
    this.owns = owns;
    this.reconcile();
  }

  applyCatalogChange(change: {
    readonly upserted: readonly AdapterEntry[];
    readonly removed: readonly string[];
  }): void {
    const upserted: AdapterEntry[] = [];
    const removed = [...change.removed];
    for (const entry of change.upserted) {
      // An entry owned elsewhere is dropped from the scheduler if it was there (a no-op if not).
      if (this.owns(entry.adapterId)) upserted.push(entry);
      else removed.push(entry.adapterId);
    }
    this.scheduler.applyCatalogChange({ upserted, removed });
    this.ownedCount = this.catalog
      .allEntries()
      .reduce((count, entry) => (this.owns(entry.adapterId) ? count + 1 : count), 0);
  }
}
