import * as perfHooks from "node:perf_hooks";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { type AdapterCheck, ProbeScheduler, type SchedulerOptions } from "./probe-scheduler.js";

/** Checks that take `durationMs` and ask to be run again after `nextMs`; counts runs and overlap. */
function slowCheck(durationMs: number, nextMs: number) {
  const stats = { runs: 0, inFlight: 0, maxInFlight: 0 };
  const check: AdapterCheck = {
    async run() {
      stats.runs++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((resolve) => setTimeout(resolve, durationMs));
      stats.inFlight--;
      return nextMs;
    },
    forget: () => undefined,
  };
  return { check, stats };
}

/** Checks that finish at once and record which adapter ran when (fake ms since the start). */
function recordingCheck(nextMs: (adapterId: string, run: number) => number) {
  const runs: { adapterId: string; at: number }[] = [];
  const counts = new Map<string, number>();
  const check: AdapterCheck = {
    async run(checked) {
      const count = counts.get(checked.adapterId) ?? 0;
      counts.set(checked.adapterId, count + 1);
      runs.push({ adapterId: checked.adapterId, at: Date.now() - START });
      return nextMs(checked.adapterId, count);
    },
    forget: () => undefined,
  };
  return { check, runs };
}

const HOUR = 3_600_000;
const START = Date.parse("2025-06-01T00:00:00Z");
/** The default of probes.startup_rate_per_sec. */
const DEFAULT_RATE = 200;
/** The default of probes.startup_max_rate_per_sec. */
const DEFAULT_MAX_RATE = 2_500;
const silent = pino({ level: "silent" });

function options(overrides: Partial<SchedulerOptions> = {}): SchedulerOptions {
  return {
    firstSpreadMs: () => 15_000,
    startupRatePerSec: DEFAULT_RATE,
    startupMaxRatePerSec: DEFAULT_MAX_RATE,
    concurrency: 4,
    random: () => 0.5,
    ...overrides,
  };
}

let scheduler: ProbeScheduler | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(START);
  // The scheduler reads node:perf_hooks' performance, which fake timers leave alone: follow the fake clock.
  vi.spyOn(perfHooks.performance, "now").mockImplementation(() => globalThis.performance.now());
});

afterEach(async () => {
  const stopping = scheduler?.stop(1_000);
  await vi.advanceTimersByTimeAsync(1_000);
  await stopping;
  scheduler = undefined;
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("ProbeScheduler.reconfigure", () => {
  it("brings in waits longer than a shortened interval", async () => {
    const { check, stats } = slowCheck(1, HOUR);
    const initial = options({ firstSpreadMs: () => HOUR });
    scheduler = new ProbeScheduler(check, initial, silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })]);
    // The first checks (spread by the start-up rate), after which each waits an hour.
    await vi.advanceTimersByTimeAsync(50);
    expect(stats.runs).toBe(2);
    await vi.advanceTimersByTimeAsync(50);
    expect(stats.runs).toBe(2);
    // Unchanged settings leave the schedule alone.
    scheduler.reconfigure(initial, false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stats.runs).toBe(2);
    scheduler.reconfigure({ ...initial, firstSpreadMs: () => 40 }, true);
    // Brought in to a random point within the new 40 ms (0.5 of it here).
    await vi.advanceTimersByTimeAsync(19);
    expect(stats.runs).toBe(2);
    await vi.advanceTimersByTimeAsync(5);
    expect(stats.runs).toBe(4);
  });

  it("caps checks in flight at the new concurrency", async () => {
    const { check, stats } = slowCheck(60, 5);
    const initial = options({ firstSpreadMs: () => 10, concurrency: 1 });
    scheduler = new ProbeScheduler(check, initial, silent);
    scheduler.reconcile(["a", "b", "c", "d"].map((adapterId) => catalogEntry({ adapterId })));
    await vi.advanceTimersByTimeAsync(300);
    expect(stats.runs).toBeGreaterThanOrEqual(4);
    expect(stats.maxInFlight).toBe(1);
    scheduler.reconfigure({ ...initial, concurrency: 4 }, false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stats.maxInFlight).toBe(4);
  });
});

describe("ProbeScheduler.pollSoon", () => {
  it("brings the named adapters' far-off checks within their interval, and only theirs", async () => {
    // After the first check, the next is an hour away (as while a Watch stream is open).
    const { check, runs } = recordingCheck(() => HOUR);
    scheduler = new ProbeScheduler(
      check,
      options({ firstSpreadMs: (checked) => (checked.adapterId === "c" ? HOUR : 40) }),
      silent,
    );
    scheduler.reconcile([
      catalogEntry({ adapterId: "a" }),
      catalogEntry({ adapterId: "b" }),
      catalogEntry({ adapterId: "c" }),
    ]);
    await vi.advanceTimersByTimeAsync(20);
    // Three first checks at 200/s spread over 15 ms: c's hour-long interval does not delay it.
    expect(runs.map((run) => run.adapterId).sort()).toEqual(["a", "b", "c"]);
    scheduler.pollSoon(["a", "unknown-id"]);
    await vi.advanceTimersByTimeAsync(40);
    expect(runs.map((run) => run.adapterId)).toEqual(["a", "b", "c", "a"]);
    // c's wait is within its (hour-long) interval already: nothing to bring in.
    scheduler.pollSoon(["c"]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs.map((run) => run.adapterId)).toEqual(["a", "b", "c", "a"]);
  });
});

describe("ProbeScheduler first checks", () => {
  it("gives 4 adapters their first check within 20 ms at the default 200/s", async () => {
    const { check, runs } = recordingCheck(() => HOUR);
    // The largest draw: any draw in [0, 1) lands within the spread.
    scheduler = new ProbeScheduler(check, options({ random: () => 0.999_999 }), silent);
    scheduler.reconcile(["a", "b", "c", "d"].map((adapterId) => catalogEntry({ adapterId })));
    await vi.advanceTimersByTimeAsync(20);
    expect(runs.map((run) => run.adapterId).sort()).toEqual(["a", "b", "c", "d"]);
    expect(Math.max(...runs.map((run) => run.at))).toBeLessThanOrEqual(20);
  });

  it.each([
    { intervalMs: 60_000, maxRate: DEFAULT_MAX_RATE, spreadMs: 50_000, count: 10_000 },
    { intervalMs: 15_000, maxRate: DEFAULT_MAX_RATE, spreadMs: 15_000, count: 10_000 },
    // Over one interval would be 2,000 a second: the ceiling spreads them over 30 s instead.
    { intervalMs: 15_000, maxRate: 1_000, spreadMs: 30_000, count: 30_000 },
  ])(
    "spreads $count adapters' first checks over $spreadMs ms (interval $intervalMs ms, ceiling $maxRate/s)",
    ({ intervalMs, maxRate, spreadMs, count }) => {
      const { check } = recordingCheck(() => HOUR);
      // Evenly spaced draws, so the spread shows in the delays themselves.
      let draw = 0;
      scheduler = new ProbeScheduler(
        check,
        options({
          firstSpreadMs: () => intervalMs,
          startupMaxRatePerSec: maxRate,
          random: () => draw++ / count,
        }),
        silent,
      );
      const entries = Array.from({ length: count }, (_, index) =>
        catalogEntry({ adapterId: `adapter-${index}` }),
      );
      scheduler.reconcile(entries);
      const delays = entries.map((entry) => scheduler?.nextCheckInMs(entry.adapterId) ?? -1);
      expect(Math.min(...delays)).toBe(0);
      expect(Math.max(...delays)).toBeLessThan(spreadMs);
      // The whole width is used, not a burst at the start.
      expect(Math.max(...delays)).toBeGreaterThan(spreadMs * 0.99);
      // No second has more than its share (count / spread per second, and one for rounding).
      const perSecond = new Map<number, number>();
      for (const delay of delays) {
        const second = Math.floor(delay / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      const share = Math.ceil(count / (spreadMs / 1000));
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(share + 1);
      expect(perSecond.size).toBe(Math.ceil(spreadMs / 1000));
    },
  );

  it("holds 2,000 adapters' first checks to the ceiling rate, one timer for all", async () => {
    const { check, runs } = recordingCheck(() => HOUR);
    let draw = 0;
    scheduler = new ProbeScheduler(
      check,
      options({ startupMaxRatePerSec: 100, random: () => draw++ / 2_000, concurrency: 64 }),
      silent,
    );
    const timers = vi.spyOn(globalThis, "setTimeout");
    scheduler.reconcile(
      Array.from({ length: 2_000 }, (_, index) => catalogEntry({ adapterId: `adapter-${index}` })),
    );
    // Not a timer per adapter: one, for the earliest check due.
    expect(timers.mock.calls.length).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(10_000);
    // 100 a second: half of them after 10 s, never more than the rate in any second.
    expect(runs.length).toBeGreaterThanOrEqual(990);
    expect(runs.length).toBeLessThanOrEqual(1_010);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toHaveLength(2_000);
    const perSecond = new Map<number, number>();
    for (const run of runs) {
      const second = Math.floor(run.at / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(101);
  });

  it("spreads adapters added later by their own number, not the catalog's", async () => {
    const { check, runs } = recordingCheck(() => HOUR);
    scheduler = new ProbeScheduler(check, options({ random: () => 0.999_999 }), silent);
    scheduler.reconcile(
      Array.from({ length: 400 }, (_, index) => catalogEntry({ adapterId: `adapter-${index}` })),
    );
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toHaveLength(400);
    // One new adapter: its first check within 1/200 s, though the catalog holds 401.
    scheduler.reconcile([
      ...Array.from({ length: 400 }, (_, index) => catalogEntry({ adapterId: `adapter-${index}` })),
      catalogEntry({ adapterId: "new" }),
    ]);
    await vi.advanceTimersByTimeAsync(5);
    expect(runs.at(-1)?.adapterId).toBe("new");
  });
});

describe("ProbeScheduler.checkWithin", () => {
  it("brings a later check in to within the delay", async () => {
    const { check, runs } = recordingCheck(() => HOUR);
    scheduler = new ProbeScheduler(check, options(), silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })]);
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toHaveLength(2);
    const firstDone = Date.now() - START;
    scheduler.checkWithin("a", 100);
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs.slice(2)).toEqual([{ adapterId: "a", at: firstDone + 100 }]);
    // b was not named: still an hour away.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toHaveLength(3);
  });

  it("never pushes an earlier check out", async () => {
    // The first check asks for the next in 500 ms.
    const { check, runs } = recordingCheck((_, run) => (run === 0 ? 500 : HOUR));
    scheduler = new ProbeScheduler(check, options(), silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" })]);
    await vi.advanceTimersByTimeAsync(5);
    expect(runs).toHaveLength(1);
    const firstAt = runs[0]?.at ?? 0;
    scheduler.checkWithin("a", HOUR);
    await vi.advanceTimersByTimeAsync(300);
    // 200 ms are left: asking for "within 250 ms" changes nothing either.
    scheduler.checkWithin("a", 250);
    scheduler.checkWithin("a", 200);
    await vi.advanceTimersByTimeAsync(200);
    expect(runs.map((run) => run.at)).toEqual([firstAt, firstAt + 500]);
  });

  it("leaves alone an adapter it does not know, one whose check is running, and a stopped scheduler", async () => {
    let finish: (next: number) => void = () => undefined;
    const started: number[] = [];
    const check: AdapterCheck = {
      run: () => {
        started.push(Date.now() - START);
        return new Promise<number>((resolve) => {
          finish = resolve;
        });
      },
      forget: () => undefined,
    };
    scheduler = new ProbeScheduler(check, options(), silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" })]);
    await vi.advanceTimersByTimeAsync(5);
    expect(started).toHaveLength(1);
    scheduler.checkWithin("unknown-id", 0);
    // Running: its next check is scheduled when this one ends, by the delay it asks for.
    scheduler.checkWithin("a", 0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toHaveLength(1);
    finish(HOUR);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toHaveLength(1);
    await scheduler.stop(0);
    scheduler.checkWithin("a", 0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toHaveLength(1);
  });
});

describe("ProbeScheduler: waits longer than a timer can hold", () => {
  it("waits 30 days for a check asked for in 30 days, without spinning", async () => {
    const days30 = 30 * 24 * HOUR;
    const { check, runs } = recordingCheck(() => days30);
    scheduler = new ProbeScheduler(check, options(), silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" })]);
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toHaveLength(1);
    const timers = vi.spyOn(globalThis, "setTimeout");
    await vi.advanceTimersByTimeAsync(days30 - 1_000);
    expect(runs).toHaveLength(1);
    // Re-armed once past the 24.8-day limit of a timer, not every millisecond.
    expect(timers.mock.calls.length).toBeLessThanOrEqual(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toHaveLength(2);
  });
});

describe("ProbeScheduler.stop", () => {
  it("starts no queued check, and waits for probes under way no longer than the grace", async () => {
    const { check, stats } = slowCheck(10_000, HOUR);
    scheduler = new ProbeScheduler(check, options({ concurrency: 2 }), silent);
    scheduler.reconcile(
      Array.from({ length: 6 }, (_, index) => catalogEntry({ adapterId: `adapter-${index}` })),
    );
    await vi.advanceTimersByTimeAsync(100);
    // Two probing, four waiting for a bulkhead slot.
    expect(stats.runs).toBe(2);
    let stopped = false;
    const stopping = scheduler.stop(1_000).then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(stopped).toBe(true);
    // The two probes finish later; the queued four never start.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(stats.runs).toBe(2);
  });

  it("returns at once when nothing is probing", async () => {
    const { check } = recordingCheck(() => HOUR);
    scheduler = new ProbeScheduler(check, options(), silent);
    scheduler.reconcile([catalogEntry({ adapterId: "a" })]);
    await vi.advanceTimersByTimeAsync(20);
    let stopped = false;
    await scheduler.stop(60_000).then(() => {
      stopped = true;
    });
    expect(stopped).toBe(true);
  });
});

describe("ProbeScheduler.applyCatalogChange", () => {
  it("follows a change as reconcile follows the whole catalog: starts, drops and updates only what changed", async () => {
    const checked: string[] = [];
    const forgotten: string[] = [];
    const check: AdapterCheck = {
      async run(entry) {
        checked.push(`${entry.adapterId}@${entry.lastHeartbeat}`);
        return HOUR;
      },
      forget: (adapterId) => forgotten.push(adapterId),
    };
    scheduler = new ProbeScheduler(check, options({ firstSpreadMs: () => 100 }), silent);
    scheduler.reconcile(
      ["a", "b", "c"].map((adapterId) => catalogEntry({ adapterId, lastHeartbeat: 1 })),
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(checked.sort()).toEqual(["a@1", "b@1", "c@1"]);
    checked.length = 0;

    // b has a new reading, c left, d came: only d is checked soon; a and b keep their schedule.
    scheduler.applyCatalogChange({
      upserted: [
        catalogEntry({ adapterId: "b", lastHeartbeat: 2 }),
        catalogEntry({ adapterId: "d", lastHeartbeat: 1 }),
      ],
      removed: ["c", "never-seen"],
    });
    expect(forgotten).toEqual(["c"]);
    expect(scheduler.nextCheckInMs("c")).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(checked).toEqual(["d@1"]);
    // b's next check, when due, runs with the entry as it is now.
    await scheduler.checkAllNow();
    expect(checked.sort()).toEqual(["a@1", "b@2", "d@1", "d@1"]);
  });
});
