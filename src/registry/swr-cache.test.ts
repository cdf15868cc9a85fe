import { describe, expect, it } from "vitest";
import { SwrCache } from "./swr-cache.js";

function setup(ttlMs = 1000, maxEntries = 10) {
  const clock = { now: 1_000_000 };
  const counts = { hits: 0, misses: 0, refreshErrors: 0 };
  const cache = new SwrCache<string>({
    ttlMs,
    refreshAhead: 0.8,
    maxEntries,
    now: () => clock.now,
    onHit: () => counts.hits++,
    onMiss: () => counts.misses++,
    onRefreshError: () => counts.refreshErrors++,
  });
  return { clock, counts, cache };
}

/** A load whose completion the test controls. */
function deferredLoad() {
  let calls = 0;
  let release: (value: string) => void = () => undefined;
  const load = () => {
    calls++;
    return new Promise<string>((resolve) => {
      release = resolve;
    });
  };
  return { load, calls: () => calls, release: (value: string) => release(value) };
}

describe("SwrCache", () => {
  it("answers N concurrent gets of a missing key with one load", async () => {
    const { cache, counts } = setup();
    const gate = deferredLoad();
    const gets = Array.from({ length: 50 }, () => cache.get("k", gate.load));
    gate.release("v1");
    const results = await Promise.all(gets);
    expect(gate.calls()).toBe(1);
    expect(results.every((result) => result.value === "v1" && !result.hit)).toBe(true);
    expect(counts.misses).toBe(50);
  });

  it("serves a fresh value without loading and counts a hit", async () => {
    const { cache, counts, clock } = setup();
    await cache.get("k", async () => "v1");
    clock.now += 500;
    let loads = 0;
    const second = await cache.get("k", async () => {
      loads++;
      return "v2";
    });
    expect(second).toMatchObject({ value: "v1", hit: true });
    expect(loads).toBe(0);
    expect(counts).toMatchObject({ hits: 1, misses: 1 });
  });

  it("refreshes in the background once past the refresh-ahead point, serving the old value meanwhile", async () => {
    const { cache, clock } = setup();
    await cache.get("k", async () => "v1");
    clock.now += 850;
    const gate = deferredLoad();
    const during = await cache.get("k", gate.load);
    expect(during).toMatchObject({ value: "v1", hit: true });
    expect(gate.calls()).toBe(1);
    // A second hit while the refresh runs does not start another.
    await cache.get("k", gate.load);
    expect(gate.calls()).toBe(1);
    gate.release("v2");
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.peek("k")).toEqual({ value: "v2", fetchedAt: clock.now });
  });

  it("keeps the old value when a background refresh fails, and reports the failure", async () => {
    const { cache, clock, counts } = setup();
    await cache.get("k", async () => "v1");
    clock.now += 900;
    await cache.get("k", async () => {
      throw new Error("registry down");
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(counts.refreshErrors).toBe(1);
    expect(cache.peek("k")?.value).toBe("v1");
  });

  it("does not serve an expired value from get, but peek still has it", async () => {
    const { cache, clock } = setup();
    await cache.get("k", async () => "v1");
    clock.now += 1000;
    await expect(
      cache.get("k", async () => {
        throw new Error("down");
      }),
    ).rejects.toThrow("down");
    expect(cache.peek("k")?.value).toBe("v1");
  });

  it("forgets everything on invalidate, including loads that were in flight", async () => {
    const { cache } = setup();
    await cache.get("a", async () => "v1");
    const gate = deferredLoad();
    const pending = cache.get("b", gate.load);
    cache.invalidate();
    gate.release("late");
    await pending;
    expect(cache.size).toBe(0);
    expect(cache.peek("a")).toBeUndefined();
  });

  it("evicts the least recently used key beyond maxEntries", async () => {
    const { cache } = setup(1000, 2);
    await cache.get("a", async () => "A");
    await cache.get("b", async () => "B");
    await cache.get("a", async () => "A2"); // touch a
    await cache.get("c", async () => "C");
    expect(cache.peek("b")).toBeUndefined();
    expect(cache.peek("a")?.value).toBe("A");
    expect(cache.peek("c")?.value).toBe("C");
  });

  it("with a TTL of 0 loads every time but still shares concurrent loads", async () => {
    const { cache } = setup(0);
    const gate = deferredLoad();
    const both = Promise.all([cache.get("k", gate.load), cache.get("k", gate.load)]);
    gate.release("v");
    await both;
    expect(gate.calls()).toBe(1);
    expect(cache.size).toBe(0);
  });
});
