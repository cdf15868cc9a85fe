/**
 * History and uptime over HTTP, from a real daemon over a real simulator and
 * SQLite file, on a manual clock: a scripted outage and a maintenance window
 * show in the buckets, the uptime and the board; bad questions name the parameter;
 * and the history outlives a restart.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import {
  getJson,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: hist
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
`;
const S3 = "hist.adapter.storage.s3";
const GCS = "hist.adapter.storage.gcs";
/**
 * Rise and fall 1, so the scripted minutes are exactly the buckets' statuses, and a
 * breaker that does not open in three minutes of failures (recovery shows at once).
 */
const POLICY = `  breaker: { threshold: 1000 }
  overrides:
    - { match: { project: hist }, probes: { rise: 1, fall: 1 } }
`;

describe("history and uptime over HTTP", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let base: string;
  const dbPath = () => join(dir.path, "healthd.db");

  /** Checks everything every 15 s for `minutes` minutes of the manual clock. */
  async function checkFor(minutes: number): Promise<void> {
    for (let step = 0; step < minutes * 4; step++) {
      await daemon.checkAllNow();
      clock.advance(15_000);
    }
  }

  beforeAll(async () => {
    dir = tempDir();
    // A minute boundary, so minutes are easy to read.
    clock = new ManualClock(Date.parse("2026-12-01T10:00:00Z"));
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath(), POLICY), clock);
    base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    // Two healthy minutes, a minute down, two minutes in maintenance (down all the same), two healthy.
    await checkFor(2);
    simulator.setBehaviour(S3, "down");
    await checkFor(1);
    const declared = await fetch(`${base}/v1/adapters/${S3}/maintenance`, {
      method: "PUT",
      body: JSON.stringify({ reason: "disk swap" }),
    });
    expect(declared.status).toBe(200);
    await checkFor(2);
    simulator.setBehaviour(S3, null);
    await fetch(`${base}/v1/adapters/${S3}/maintenance`, { method: "DELETE" });
    await checkFor(2);
    await daemon.checkAllNow();
    clock.advance(1_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator?.stop();
    dir?.remove();
  });

  it("shows the outage as down time and the maintenance as maintenance, minute by minute", async () => {
    const { status, body } = await getJson(
      daemon,
      `/v1/adapters/${S3}/history?window=1h&bucket=1m`,
    );
    expect(status).toBe(200);
    const minutes = body.buckets.slice(-8);
    expect(minutes.map((bucket: { status: string }) => bucket.status)).toEqual([
      "healthy",
      "healthy",
      "unhealthy",
      "maintenance",
      "maintenance",
      "healthy",
      "healthy",
      "healthy",
    ]);
    expect(minutes[2]).toMatchObject({ unhealthy_s: 60, failures: 4, checks: 4 });
    expect(minutes[3]).toMatchObject({ maintenance_s: 60, unhealthy_s: 0 });
    expect(body.uptime).toMatchObject({ down_s: 60, maintenance_s: 120, up_s: 241 });
    expect(body.uptime.uptime_percent).toBeCloseTo((241 / 301) * 100, 2);
  });

  it("gives every adapter's uptime with the list filters, and the board's bars", async () => {
    const uptime = await getJson(daemon, `/v1/uptime?window=24h&provider=gcs`);
    expect(uptime.status).toBe(200);
    expect(uptime.body.adapters).toHaveLength(1);
    expect(uptime.body.adapters[0]).toMatchObject({
      adapter_id: GCS,
      uptime_percent: 100,
      down_s: 0,
      up_s: 421,
    });
    const board = await getJson(daemon, `/v1/history?bucket=1m&buckets=8`);
    expect(board.status).toBe(200);
    expect(board.body.total).toBe(2);
    const bars = Object.fromEntries(
      board.body.adapters.map((entry: { adapter_id: string; status_bar: string }) => [
        entry.adapter_id,
        entry.status_bar,
      ]),
    );
    expect(bars).toEqual({ [GCS]: "hhhhhhhh", [S3]: "hhummhhh" });
    const page = await getJson(daemon, `/v1/history?bucket=1m&buckets=8&offset=1&limit=1`);
    expect(page.body.adapters).toHaveLength(1);
    expect(page.body.total).toBe(2);
  });

  it("draws the uptime badge from the same history", async () => {
    const uptime = (await getJson(daemon, `/v1/uptime?window=1h&provider=s3`)).body.adapters[0];
    const response = await fetch(`${base}/v1/badges/${S3}.svg?kind=uptime&window=1h`);
    const svg = await response.text();
    expect(response.status).toBe(200);
    // Cut to two decimals, as the badge does.
    const shown = `${(Math.floor(uptime.uptime_percent * 100) / 100).toFixed(2)}%`;
    expect(svg).toContain(shown);
    expect(shown).not.toBe("100.00%");
  });

  it("names the parameter of a bad question", async () => {
    const cases: [string, string, RegExp][] = [
      [`/v1/adapters/${S3}/history?window=2d`, "window", /one of .*got "2d"/],
      [`/v1/adapters/${S3}/history?window=90d&bucket=1m`, "bucket", /at most 1440/],
      [`/v1/adapters/${S3}/history?window=7d&bucket=15m`, "bucket", /reach back 48 h/],
      [`/v1/adapters/${S3}/history?windw=1h`, "windw", /did you mean "window"/],
      ["/v1/uptime?window=1y", "window", /got "1y"/],
      ["/v1/history?buckets=91", "buckets", /91/],
      ["/v1/history?bucket=5m", "bucket", /got "5m"/],
    ];
    for (const [path, parameter, detail] of cases) {
      const { status, body } = await getJson(daemon, `${path}`);
      expect({ path, status, parameter: body.parameter }).toEqual({ path, status: 400, parameter });
      expect(body.detail).toMatch(detail);
    }
    const missing = await getJson(daemon, `/v1/adapters/hist.adapter.storage.nope/history`);
    expect(missing.status).toBe(404);
  });

  it("bounds what fine buckets may ask for by the minute retention in effect, reloaded or not", async () => {
    expect((await getJson(daemon, `/v1/adapters/${S3}/history?window=6h&bucket=5m`)).status).toBe(
      200,
    );
    const config = (hours: number) =>
      testConfig(
        simulator.registryPort,
        dbPath(),
        `${POLICY}  history: { minute_buckets_kept_hours: ${hours} }\n`,
      );
    daemon.reload(config(1));
    try {
      const refused = await getJson(daemon, `/v1/adapters/${S3}/history?window=6h&bucket=5m`);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ parameter: "bucket" });
      expect(refused.body.detail).toMatch(/reach back 1 h/);
    } finally {
      daemon.reload(config(48));
    }
  });

  it("keeps the history through a restart and counts the time stopped as unknown", async () => {
    const before = (await getJson(daemon, `/v1/adapters/${GCS}/history?window=1h&bucket=1m`)).body;
    await daemon.stop();
    clock.advance(5 * 60_000);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath(), POLICY), clock);
    base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await checkFor(1);
    await daemon.checkAllNow();
    const after = (await getJson(daemon, `/v1/adapters/${GCS}/history?window=1h&bucket=1m`)).body;
    // Everything seen before the stop is still there, and the five minutes stopped are not up.
    expect(after.uptime.up_s).toBeGreaterThanOrEqual(before.uptime.up_s + 60);
    expect(after.uptime.up_s).toBeLessThan(before.uptime.up_s + 5 * 60);
    expect(after.uptime.down_s).toBe(0);
    const stopped = after.buckets.slice(-5, -2);
    expect(stopped.map((bucket: { status: string }) => bucket.status)).toEqual([
      "unknown",
      "unknown",
      "unknown",
    ]);
  });

  it("retention deletes buckets past their age, minute buckets before hour buckets", async () => {
    const file = () => new SqliteStore({ path: dbPath(), readonly: true });
    const read = (granularity: "minute" | "hour") => {
      const store = file();
      try {
        return store.readBuckets(GCS, granularity, 0, Number.MAX_SAFE_INTEGER);
      } finally {
        store.close();
      }
    };
    const hoursBefore = read("hour");
    expect(read("minute").length).toBeGreaterThan(5);
    // Two days and a bit later, one-minute buckets (kept 48 h) are past retention; hours are not.
    clock.advance(49 * 3_600_000);
    await daemon.pruneJournalNow();
    expect(read("minute")).toEqual([]);
    expect(read("hour")).toEqual(hoursBefore);
    // The 90 d uptime still reads the hour buckets' totals.
    const quarter = await getJson(daemon, "/v1/uptime?window=90d&provider=gcs");
    expect(quarter.body.adapters[0].up_s).toBeGreaterThan(400);
  });
});
