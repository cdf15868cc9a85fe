import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { AdapterEntry } from "../domain/adapter.js";
import { type AdapterCheck, ProbeScheduler } from "./probe-scheduler.js";

function entry(adapterId: string): AdapterEntry {
  return {
    adapterId,
    project: "mahavishnu",
    domain: "adapter",
    category: "storage",
    provider: "s3",
    capabilities: [],
    factoryPath: "x:Y",
    healthCheckUrl: "",
    metadata: {},
    registeredAt: 0,
    lastHeartbeat: 0,
    registryStatus: "healthy",
  };
}

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

const HOUR = 3_600_000;
let scheduler: ProbeScheduler | undefined;

afterEach(async () => {
  await scheduler?.stop(1_000);
});

describe("ProbeScheduler.reconfigure", () => {
  it("brings in waits longer than a shortened interval", async () => {
    const { check, stats } = slowCheck(1, HOUR);
    const options = { firstSpreadMs: () => HOUR, concurrency: 4, random: () => 0.5 };
    scheduler = new ProbeScheduler(check, options, pino({ level: "silent" }));
    scheduler.reconcile([entry("a"), entry("b")]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stats.runs).toBe(0);
    // Unchanged settings leave the schedule alone.
    scheduler.reconfigure(options, false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stats.runs).toBe(0);
    scheduler.reconfigure({ ...options, firstSpreadMs: () => 40 }, true);
    await expect.poll(() => stats.runs, { timeout: 1_000 }).toBe(2);
  });

  it("caps checks in flight at the new concurrency", async () => {
    const { check, stats } = slowCheck(60, 5);
    const options = { firstSpreadMs: () => 10, concurrency: 1, random: () => 0.5 };
    scheduler = new ProbeScheduler(check, options, pino({ level: "silent" }));
    const entries = ["a", "b", "c", "d"].map(entry);
    scheduler.reconcile(entries);
    await expect.poll(() => stats.runs, { timeout: 2_000 }).toBeGreaterThanOrEqual(4);
    expect(stats.maxInFlight).toBe(1);
    scheduler.reconfigure({ ...options, concurrency: 4 }, false);
    await expect.poll(() => stats.maxInFlight, { timeout: 2_000 }).toBe(4);
  });
});

describe("ProbeScheduler.pollSoon", () => {
  it("brings the named adapters' far-off checks within their interval, and only theirs", async () => {
    const runs: string[] = [];
    const check: AdapterCheck = {
      async run(checked) {
        runs.push(checked.adapterId);
        // After the first check, the next is an hour away (as while a Watch stream is open).
        return HOUR;
      },
      forget: () => undefined,
    };
    const options = {
      firstSpreadMs: (checked: AdapterEntry) => (checked.adapterId === "c" ? HOUR : 40),
      concurrency: 4,
      random: () => 0.5,
    };
    scheduler = new ProbeScheduler(check, options, pino({ level: "silent" }));
    scheduler.reconcile([entry("a"), entry("b"), entry("c")]);
    await expect.poll(() => runs.length, { timeout: 1_000 }).toBe(2);
    expect(runs.sort()).toEqual(["a", "b"]);
    scheduler.pollSoon(["a", "unknown-id"]);
    await expect.poll(() => runs.length, { timeout: 1_000 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(runs).toEqual(["a", "b", "a"]);
  });
});
