import { describe, expect, it } from "vitest";
import type { HealthStatus } from "./adapter.js";
import {
  type AdapterHistory,
  addBuckets,
  type BucketRow,
  bucketStatus,
  decodeBins,
  EMPTY_BUCKET,
  EMPTY_TIME,
  encodeBins,
  HOUR_MS,
  latencyBin,
  latencyQuantile,
  MINUTE_MS,
  observe,
  resumeHistory,
  type TimeTally,
  uptimeFigures,
} from "./history.js";

const ID = "mahavishnu.adapter.storage.s3";
/** A fake clock's start: an hour boundary. */
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const FRESH_MS = 21_000;

/** Feeds observations to a history, keeping every row it writes (latest per bucket). */
class Recorder {
  history: AdapterHistory = resumeHistory(undefined, undefined);
  readonly rows = new Map<string, BucketRow>();

  see(
    at: number,
    status: HealthStatus,
    options: {
      maintenance?: boolean;
      latencyMs?: number | null;
      ok?: boolean;
      check?: boolean;
    } = {},
  ): void {
    const check =
      options.check === false
        ? undefined
        : {
            ok: options.ok ?? status !== "unhealthy",
            latencyMs: options.latencyMs === undefined ? 2 : options.latencyMs,
          };
    const next = observe(
      this.history,
      ID,
      { at, status, maintenance: options.maintenance ?? false, freshUntil: at + FRESH_MS },
      check,
    );
    this.history = next.history;
    for (const row of next.rows) this.rows.set(`${row.granularity}:${row.start}`, row);
  }

  /** Checks every `everyMs` from `from` to before `to`, all saying `status`. */
  checks(
    from: number,
    to: number,
    everyMs: number,
    status: HealthStatus,
    maintenance = false,
  ): void {
    for (let at = from; at < to; at += everyMs) this.see(at, status, { maintenance });
  }

  bucket(granularity: "minute" | "hour", start: number): BucketRow | undefined {
    return this.rows.get(`${granularity}:${start}`);
  }

  total(granularity: "minute" | "hour"): TimeTally {
    let sum = { ...EMPTY_BUCKET };
    for (const row of this.rows.values()) {
      if (row.granularity === granularity) sum = addBuckets(sum, row.tally);
    }
    return sum;
  }
}

describe("history buckets", () => {
  it("counts the time between checks for the status the first one left, split at minute boundaries", () => {
    const recorder = new Recorder();
    recorder.see(T0 + 50_000, "healthy");
    recorder.see(T0 + 65_000, "healthy");
    expect(recorder.bucket("minute", T0)?.tally.healthyMs).toBe(10_000);
    expect(recorder.bucket("minute", T0 + MINUTE_MS)?.tally.healthyMs).toBe(5_000);
    expect(recorder.bucket("minute", T0)?.tally.checks).toBe(1);
    expect(recorder.bucket("minute", T0 + MINUTE_MS)?.tally.checks).toBe(1);
    expect(recorder.bucket("hour", T0)?.tally.healthyMs).toBe(15_000);
    expect(recorder.bucket("hour", T0)?.tally.checks).toBe(2);
  });

  it("counts an outage as unhealthy time and recovers into healthy time", () => {
    const recorder = new Recorder();
    recorder.checks(T0, T0 + 120_000, 15_000, "healthy");
    recorder.checks(T0 + 120_000, T0 + 180_000, 15_000, "unhealthy");
    recorder.checks(T0 + 180_000, T0 + 241_000, 15_000, "healthy");
    const hour = recorder.total("hour");
    expect(hour.healthyMs).toBe(180_000);
    expect(hour.unhealthyMs).toBe(60_000);
    expect(bucketStatus(recorder.bucket("minute", T0 + 2 * MINUTE_MS)?.tally ?? EMPTY_TIME)).toBe(
      "unhealthy",
    );
    expect(bucketStatus(recorder.bucket("minute", T0)?.tally ?? EMPTY_TIME)).toBe("healthy");
    expect(recorder.bucket("minute", T0 + 2 * MINUTE_MS)?.tally.failures).toBe(4);
  });

  it("counts maintenance as maintenance whatever the status, and it stays out of uptime", () => {
    const recorder = new Recorder();
    recorder.checks(T0, T0 + 60_000, 15_000, "healthy");
    // Down for maintenance for two minutes: the adapter is unhealthy, but that is not downtime.
    recorder.checks(T0 + 60_000, T0 + 180_000, 15_000, "unhealthy", true);
    recorder.checks(T0 + 180_000, T0 + 241_000, 15_000, "healthy");
    const hour = recorder.total("hour");
    expect(hour.maintenanceMs).toBe(120_000);
    expect(hour.unhealthyMs).toBe(0);
    expect(bucketStatus(recorder.bucket("minute", T0 + MINUTE_MS)?.tally ?? EMPTY_TIME)).toBe(
      "maintenance",
    );
    const figures = uptimeFigures(hour, 240_000);
    expect(figures.uptime_percent).toBe(100);
    expect(figures.maintenance_s).toBe(120);
    expect(figures.coverage_percent).toBe(100);
  });

  it("counts time past a verdict's stale limit as unknown, not as its status", () => {
    const recorder = new Recorder();
    recorder.see(T0, "healthy");
    // The next check comes 5 minutes later: only the fresh 21 s count as healthy.
    recorder.see(T0 + 300_000, "healthy");
    const hour = recorder.total("hour");
    expect(hour.healthyMs).toBe(FRESH_MS);
    expect(hour.unknownMs).toBe(300_000 - FRESH_MS);
    expect(uptimeFigures(hour, 300_000).uptime_percent).toBe(100);
    expect(uptimeFigures(hour, 300_000).coverage_percent).toBe(7);
  });

  it("leaves a daemon's downtime out: after a restart the history carries on, the gap is unknown", () => {
    const before = new Recorder();
    before.checks(T0, T0 + 60_001, 15_000, "healthy");
    // The daemon stops (crashes) at T0 + 60 s and comes back at T0 + 30 min.
    const newestMinute = [...before.rows.values()]
      .filter((row) => row.granularity === "minute")
      .sort((a, b) => b.start - a.start)[0];
    const newestHour = before.bucket("hour", T0);
    const after = new Recorder();
    after.history = resumeHistory(newestMinute, newestHour);
    for (const [key, row] of before.rows) after.rows.set(key, row);
    after.checks(T0 + 1_800_000, T0 + 1_860_001, 15_000, "healthy");
    const hour = after.bucket("hour", T0);
    // 60 s before the stop and 60 s after the restart; nothing for the 29 minutes between.
    expect(hour?.tally.healthyMs).toBe(120_000);
    expect(hour?.tally.unknownMs).toBe(0);
    expect(hour?.tally.checks).toBe(5 + 5);
    const figures = uptimeFigures(hour?.tally ?? EMPTY_TIME, 1_860_000);
    expect(figures.uptime_percent).toBe(100);
    expect(figures.unknown_s).toBe(1_740);
    // Gaps are neither up nor down: uptime stays 100 %, coverage says how little was seen.
    expect(figures.coverage_percent).toBeCloseTo(6.452, 3);
  });

  it("keeps running totals across hour buckets, through a gap of several hours", () => {
    const recorder = new Recorder();
    recorder.checks(T0, T0 + HOUR_MS, 15_000, "healthy");
    recorder.checks(T0 + HOUR_MS, T0 + 2 * HOUR_MS, 15_000, "unhealthy");
    recorder.see(T0 + 2 * HOUR_MS, "healthy");
    const first = recorder.bucket("hour", T0);
    const second = recorder.bucket("hour", T0 + HOUR_MS);
    expect(first?.through?.healthyMs).toBe(HOUR_MS);
    expect(second?.through?.healthyMs).toBe(HOUR_MS);
    expect(second?.through?.unhealthyMs).toBe(HOUR_MS);
    // A watched adapter reported again only after three quiet hours (fresh all along).
    const watched = new Recorder();
    watched.history = observe(
      watched.history,
      ID,
      { at: T0, status: "healthy", maintenance: false, freshUntil: T0 + 4 * HOUR_MS },
      { ok: true, latencyMs: null },
    ).history;
    const step = observe(
      watched.history,
      ID,
      {
        at: T0 + 3 * HOUR_MS + 5,
        status: "healthy",
        maintenance: false,
        freshUntil: T0 + 7 * HOUR_MS,
      },
      { ok: true, latencyMs: null },
    );
    const hours = step.rows.filter((row) => row.granularity === "hour");
    expect(hours.map((row) => row.start)).toEqual([
      T0,
      T0 + HOUR_MS,
      T0 + 2 * HOUR_MS,
      T0 + 3 * HOUR_MS,
    ]);
    expect(hours.map((row) => row.through?.healthyMs)).toEqual([
      HOUR_MS,
      2 * HOUR_MS,
      3 * HOUR_MS,
      3 * HOUR_MS + 5,
    ]);
    expect(step.rows.filter((row) => row.granularity === "minute")).toHaveLength(181);
  });

  it("counts pushed statuses as checks without a latency", () => {
    const recorder = new Recorder();
    recorder.see(T0, "healthy", { latencyMs: null });
    recorder.see(T0 + 1_000, "healthy", { latencyMs: 4 });
    const minute = recorder.bucket("minute", T0);
    expect(minute?.tally.checks).toBe(2);
    expect(latencyQuantile(minute?.tally.latency ?? new Map(), 0.5)).toBeCloseTo(4, 0);
  });

  it("ignores an observation without a check when nothing came before it", () => {
    const recorder = new Recorder();
    recorder.see(T0, "unknown", { check: false });
    expect(recorder.rows.size).toBe(0);
    recorder.see(T0 + 10_000, "healthy");
    expect(recorder.bucket("minute", T0)?.tally.unknownMs).toBe(10_000);
  });
});

describe("latency bins", () => {
  it("estimates percentiles within a bin's width (about 9 %)", () => {
    const bins = new Map<number, number>();
    for (let i = 1; i <= 100; i++) {
      const bin = latencyBin(i);
      bins.set(bin, (bins.get(bin) ?? 0) + 1);
    }
    const p50 = latencyQuantile(bins, 0.5) ?? 0;
    const p95 = latencyQuantile(bins, 0.95) ?? 0;
    expect(Math.abs(p50 - 50) / 50).toBeLessThan(0.09);
    expect(Math.abs(p95 - 95) / 95).toBeLessThan(0.09);
    expect(latencyQuantile(new Map(), 0.5)).toBeNull();
  });

  it("round-trips through bytes, large counts included", () => {
    const bins = new Map([
      [0, 1],
      [80, 300],
      [239, 1_000_000],
    ]);
    expect(decodeBins(encodeBins(bins))).toEqual(bins);
    expect(latencyBin(10_000_000)).toBe(239);
    expect(latencyBin(0)).toBe(0);
  });
});

describe("uptime figures", () => {
  it("reports null uptime when nothing was up or down, and null coverage for all maintenance", () => {
    expect(uptimeFigures(EMPTY_TIME, HOUR_MS)).toEqual({
      uptime_percent: null,
      up_s: 0,
      down_s: 0,
      maintenance_s: 0,
      unknown_s: 3_600,
      coverage_percent: 0,
    });
    const allMaintenance = uptimeFigures({ ...EMPTY_TIME, maintenanceMs: HOUR_MS }, HOUR_MS);
    expect(allMaintenance.uptime_percent).toBeNull();
    expect(allMaintenance.coverage_percent).toBeNull();
  });

  it("counts degraded time as up", () => {
    const figures = uptimeFigures(
      { ...EMPTY_TIME, healthyMs: 30_000, degradedMs: 20_000, unhealthyMs: 50_000 },
      100_000,
    );
    expect(figures.uptime_percent).toBe(50);
    expect(figures.up_s).toBe(50);
    expect(figures.down_s).toBe(50);
  });
});
