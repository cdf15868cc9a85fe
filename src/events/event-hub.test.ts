import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JournalEvent, NewEvent } from "../domain/events.js";
import { MemoryStore } from "../storage/memory-store.js";
import { CursorExpiredError, EventHub } from "./event-hub.js";

function events(count: number, from = 0): NewEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    type: "adapter.updated" as const,
    subject: `t.adapter.cache.a${from + index}`,
    time: Date.parse("2026-11-26T12:00:00Z"),
    data: { index: from + index },
  }));
}

describe("EventHub", () => {
  let store: MemoryStore;
  let hub: EventHub;

  /** As the engine does: commit, then publish what the journal holds. */
  const commit = (count: number, from = 0): JournalEvent[] => {
    const journalled = store.commit({ events: events(count, from) }, Date.now());
    hub.publish(journalled);
    return journalled;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    store = new MemoryStore();
    hub = new EventHub(store);
  });

  afterEach(() => {
    hub.close();
    vi.useRealTimers();
  });

  it("replays a long backlog in pages across turns of the event loop, then follows live", async () => {
    commit(1_200);
    const seen: number[] = [];
    const deliveries: number[] = [];
    hub.subscribe(0, (batch) => {
      deliveries.push(batch.length);
      for (const event of batch) seen.push(event.seq);
    });
    // The first page comes at once; the rest wait for the loop to turn.
    expect(seen).toHaveLength(500);
    await vi.runAllTimersAsync();
    expect(seen).toHaveLength(1_200);
    expect(deliveries).toEqual([500, 500, 200]);
    commit(3, 1_200);
    expect(seen.slice(-3)).toEqual([1_201, 1_202, 1_203]);
    expect(seen).toEqual(Array.from({ length: 1_203 }, (_, index) => index + 1));
  });

  it("delivers events published during a replay exactly once, in seq order", async () => {
    commit(1_000);
    const seen: number[] = [];
    hub.subscribe(0, (batch) => {
      for (const event of batch) seen.push(event.seq);
    });
    // Between replay pages: the replay itself picks these up, the live path must not repeat them.
    commit(10, 1_000);
    await vi.runAllTimersAsync();
    commit(2, 1_010);
    expect(seen).toEqual(Array.from({ length: 1_012 }, (_, index) => index + 1));
  });

  it("refuses a cursor before the oldest kept event, naming where to resume", () => {
    commit(10);
    store.pruneEvents(0, 5);
    expect(() => hub.subscribe(2, () => undefined)).toThrow(CursorExpiredError);
    expect(() => hub.subscribe(2, () => undefined)).toThrow(/oldest available is seq 6/);
    expect(() => hub.subscribe(5, () => undefined)).not.toThrow();
  });

  it("drops a subscriber that throws, and keeps delivering to the others", () => {
    const good: number[] = [];
    hub.subscribe(0, () => {
      throw new Error("consumer bug");
    });
    hub.subscribe(0, (batch) => {
      for (const event of batch) good.push(event.seq);
    });
    expect(hub.subscriberCount).toBe(2);
    commit(1);
    expect(hub.subscriberCount).toBe(1);
    commit(1, 1);
    expect(good).toEqual([1, 2]);
  });

  it("says the newest seq, for a consumer starting from now", () => {
    expect(hub.newestSeq()).toBe(0);
    commit(4);
    expect(hub.newestSeq()).toBe(4);
  });
});
