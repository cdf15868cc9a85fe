import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import type { AdapterEntry } from "../domain/adapter.js";
import { OwnedScheduling, type SchedulingTarget } from "./owned-scheduling.js";

/** A scheduler that only keeps the set of adapters it was given. */
class ScheduledSet implements SchedulingTarget {
  readonly ids = new Set<string>();
  reconcile(entries: readonly AdapterEntry[]): void {
    this.ids.clear();
    for (const entry of entries) this.ids.add(entry.adapterId);
  }
  applyCatalogChange(change: {
    readonly upserted: readonly AdapterEntry[];
    readonly removed: readonly string[];
  }): void {
    for (const adapterId of change.removed) this.ids.delete(adapterId);
    for (const entry of change.upserted) this.ids.add(entry.adapterId);
  }
}

const entries = ["a1", "a2", "b1", "b2"].map((adapterId) => catalogEntry({ adapterId }));

describe("OwnedScheduling", () => {
  it("schedules only the owned adapters, and moves them when the assignment changes", () => {
    const scheduler = new ScheduledSet();
    const catalog = [...entries];
    const owned = new OwnedScheduling(scheduler, { allEntries: () => catalog }, (id) =>
      id.startsWith("a"),
    );
    expect(owned.reconcile().sort()).toEqual(["a1", "a2"]);
    expect([...scheduler.ids].sort()).toEqual(["a1", "a2"]);
    expect(owned.owned).toBe(2);
    // What the new assignment gives this member, for it to vouch for.
    expect(owned.reassign((id) => id.endsWith("1"))).toEqual(["b1"]);
    expect([...scheduler.ids].sort()).toEqual(["a1", "b1"]);
  });

  it("passes a catalog change on as far as it concerns owned adapters", () => {
    const scheduler = new ScheduledSet();
    const catalog = [...entries];
    const owned = new OwnedScheduling(scheduler, { allEntries: () => catalog }, (id) =>
      id.startsWith("a"),
    );
    owned.reconcile();
    const added = [catalogEntry({ adapterId: "a3" }), catalogEntry({ adapterId: "b3" })];
    catalog.push(...added);
    catalog.splice(0, 1);
    expect(owned.applyCatalogChange({ upserted: added, removed: ["a1"] })).toEqual(["a3"]);
    expect([...scheduler.ids].sort()).toEqual(["a2", "a3"]);
    expect(owned.owned).toBe(2);
    // An owned adapter that changed is not gained again.
    expect(owned.applyCatalogChange({ upserted: [added[0] as AdapterEntry], removed: [] })).toEqual(
      [],
    );
  });

  it("reports an owned adapter changed by a sync before the first pass as gained, once", () => {
    const scheduler = new ScheduledSet();
    const catalog = [...entries];
    const owned = new OwnedScheduling(scheduler, { allEntries: () => catalog }, (id) =>
      id.startsWith("a"),
    );
    // The first sync of a restart can change a stored adapter before ownership is known.
    const changed = catalog.filter((entry) => entry.adapterId === "a2" || entry.adapterId === "b2");
    expect(owned.applyCatalogChange({ upserted: changed, removed: [] })).toEqual(["a2"]);
    expect(owned.reconcile()).toEqual(["a1"]);
    expect(owned.owned).toBe(2);
  });
});
