import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("allows a burst, then one request per 1/rate seconds, saying when to retry", () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSec: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take("a").allowed)).toEqual([true, true, true]);
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSec: 1 });
    now += 500;
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    // A long pause refills up to the burst, not beyond.
    now += 60_000;
    expect([1, 2, 3, 4].map(() => limiter.take("a").allowed)).toEqual([true, true, true, false]);
  });

  it("keeps one bucket per key", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, now: () => 0 });
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    expect(limiter.take("b").allowed).toBe(true);
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    const limiter = new RateLimiter({ ratePerSec: 0.1, burst: 1, now: () => 0 });
    limiter.take("a");
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSec: 10 });
  });

  it("remembers at most maxKeys keys, forgetting the least recently seen", () => {
    const limiter = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3, now: () => 0 });
    for (const key of ["a", "b", "c"]) limiter.take(key);
    limiter.take("a"); // a is now the most recently seen
    for (let index = 0; index < 1000; index++) limiter.take(`flood-${index}`);
    expect(limiter.size).toBe(3);
    const fresh = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3, now: () => 0 });
    for (const key of ["a", "b", "c"]) fresh.take(key);
    fresh.take("a");
    fresh.take("d"); // evicts b, the least recently seen
    expect(fresh.take("a").allowed).toBe(false);
    expect(fresh.take("b").allowed).toBe(true);
  });

  it("refuses a rate or burst that would block everything", () => {
    expect(() => new RateLimiter({ ratePerSec: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSec: 1, burst: 0 })).toThrow(RangeError);
  });
});
