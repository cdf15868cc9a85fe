import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TEST_ADAPTER_SETTINGS } from "../../test/support/adapter-settings.js";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { HistoryQueries } from "../api/history-queries.js";
import { SettingsBook } from "../config/settings-book.js";
import type { CheckReport } from "../domain/decide.js";
import { HOUR_MS, MINUTE_MS } from "../domain/history.js";
import { type AdapterStatusView, DEFAULT_OFFLINE_STALE_RULE } from "../domain/status-view.js";
import { EventHub } from "../events/event-hub.js";
import { MaintenanceDesk } from "../maintenance/maintenance-desk.js";
import { MaintenanceService } from "../maintenance/maintenance-service.js";
import { ResolutionService } from "../resolution/resolution-service.js";
import { FaultyStore } from "../storage/faulty-store.js";
import { MemoryStore } from "../storage/memory-store.js";
import { HealthEngine } from "./health-engine.js";
import { HealthView } from "./health-view.js";
import { HistoryRecorder, StagedHistory } from "./history-recorder.js";

/** A minute boundary, so the fake clock's buckets are easy to name. */
const T0 = Date.parse("2026-12-01T10:00:00Z");
const KAFKA = "t.adapter.queue.kafka";
const EVERY_MS = 15_000;

/** The engine as main.ts wires it, with history, over a MemoryStore that can refuse commits. */
function harness() {
  const store = new FaultyStore(new MemoryStore());
  const logger = pino({ level: "silent" });
  // Rise and fall 1: each result decides, so the history follows the script exactly.
  const settings = new SettingsBook(
    TEST_ADAPTER_SETTINGS,
    [{ match: { category: "queue" }, probes: { rise: 1, fall: 1 } }],
    { transitions: 100, windowMs: 1_000 },
  );
  const maintenance = new MaintenanceService([], [], Date.now);
  const view = new HealthView(
    "registry:8679",
    DEFAULT_OFFLINE_STALE_RULE,
    Date.now,
    (adapterId) => maintenance.current(adapterId),
    Date.now,
  );
  const resolution = new ResolutionService(view, maintenance, settings, { panic: false }, []);
  const recorder = new HistoryRecorder(store, DEFAULT_OFFLINE_STALE_RULE);
  const engine = new HealthEngine({
    store,
    mirror: view,
    failovers: resolution,
    publisher: new EventHub(store),
    maintenance,
    metrics: {
      committed: () => undefined,
      commitFailed: () => undefined,
      storeWritable: () => undefined,
      pendingEvents: () => undefined,
    },
    logger,
    now: Date.now,
    contextOf: (entry) =>
      settings.decisionContextOf(entry, maintenance.current(entry.adapterId) !== undefined),
    history: recorder,
  });
  maintenance.onWindowsChanged((ids) => engine.touch(ids === "all" ? [KAFKA] : ids));
  const desk = new MaintenanceDesk({
    commit: (change, event) => engine.commitMaintenance(change, event),
    isDeclared: (adapterId) => maintenance.isDeclared(adapterId),
    now: Date.now,
  });
  const queries = new HistoryQueries({
    store,
    now: Date.now,
    minuteBucketsKeptMs: () => 48 * HOUR_MS,
    lastObservation: (adapterId) => recorder.lastObservation(adapterId),
  });
  const entry = catalogEntry({ adapterId: KAFKA });
  engine.commitCatalog({ added: [entry], updated: [], removed: [], events: [], at: Date.now() });
  return { store, engine, desk, queries, recorder };
}

type Harness = ReturnType<typeof harness>;

function report(ok: boolean): CheckReport {
  const at = Date.now();
  return {
    adapterId: KAFKA,
    outcome: { ok, latencyMs: 4, detail: ok ? "HTTP 200" : "HTTP 503", source: "probe", at },
    breaker: { state: "closed", snapshot: {} },
    breakerTransitions: [],
    trialDueInMs: undefined,
    pushed: false,
    watching: false,
    at,
    jitterDraw: 0.5,
  };
}

/** Checks every 15 s for `ms`, each saying `ok`, committing as the engine does. */
async function checks(h: Harness, ms: number, ok: boolean): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += EVERY_MS) {
    h.engine.recordCheck(report(ok));
    await vi.advanceTimersByTimeAsync(EVERY_MS);
  }
}

const KAFKA_VIEW = { adapter_id: KAFKA, domain: "adapter", category: "queue", provider: "kafka" };
const uptimeOfLastHour = (h: Harness) =>
  h.queries.uptime([KAFKA_VIEW as AdapterStatusView], "1h").adapters[0];

describe("history recorded by the engine", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows a scripted outage in the minute buckets and the uptime, to the second", async () => {
    const h = harness();
    await checks(h, 2 * MINUTE_MS, true);
    await checks(h, MINUTE_MS, false);
    await checks(h, MINUTE_MS, true);
    // A second into the fifth minute, which no check has reached yet.
    await vi.advanceTimersByTimeAsync(1_000);
    const answer = h.queries.adapterHistory(KAFKA, { window: "1h", bucket: "1m" });
    const last = answer.buckets.slice(-5);
    expect(last.map((bucket) => bucket.status)).toEqual([
      "healthy",
      "healthy",
      "unhealthy",
      "healthy",
      "healthy",
    ]);
    expect(last[2]).toMatchObject({ unhealthy_s: 60, healthy_s: 0, checks: 4, failures: 4 });
    expect(last[0]?.latency_p50_ms).toBeCloseTo(4, 0);
    const uptime = uptimeOfLastHour(h);
    expect(uptime?.down_s).toBe(60);
    // The last check's time up to now is counted though no check has come since (carried to now).
    expect(uptime?.up_s).toBe(181);
    expect(uptime?.uptime_percent).toBe(75.104);
  });

  it("writes no bucket while the store refuses commits, then writes them all when it recovers", async () => {
    const h = harness();
    await checks(h, MINUTE_MS, true);
    h.store.failCommits();
    await checks(h, MINUTE_MS, false);
    expect(h.store.readBuckets(KAFKA, "minute", T0 + MINUTE_MS, T0 + HOUR_MS)).toEqual([]);
    h.store.heal();
    await vi.advanceTimersByTimeAsync(10_000);
    const stored = h.store.readBuckets(KAFKA, "minute", T0, T0 + HOUR_MS);
    expect(stored.map((row) => row.tally.checks)).toEqual([4, 4]);
    expect(stored[1]?.tally.unhealthyMs).toBe(45_000);
  });

  it("counts declared maintenance as maintenance, not as downtime", async () => {
    const h = harness();
    await checks(h, MINUTE_MS, true);
    h.desk.declare(KAFKA, null, "upgrade");
    await checks(h, 2 * MINUTE_MS, false);
    h.desk.lift(KAFKA);
    await checks(h, MINUTE_MS, true);
    await vi.advanceTimersByTimeAsync(1_000);
    const statuses = h.queries
      .adapterHistory(KAFKA, { window: "1h", bucket: "1m" })
      .buckets.slice(-5)
      .map((bucket) => bucket.status);
    expect(statuses).toEqual(["healthy", "maintenance", "maintenance", "healthy", "healthy"]);
    const uptime = uptimeOfLastHour(h);
    expect(uptime?.down_s).toBe(0);
    expect(uptime?.maintenance_s).toBe(120);
    expect(uptime?.uptime_percent).toBe(100);
  });

  it("carries forward the history of an adapter not observed for a while, a slice at a time", async () => {
    const h = harness();
    await checks(h, MINUTE_MS, true);
    // Three minutes without a check (watched, nothing pushed): nothing is written meanwhile.
    await vi.advanceTimersByTimeAsync(3 * MINUTE_MS);
    const before = h.store.newestBuckets(KAFKA).minute?.start;
    expect(h.engine.advanceHistory(Date.now() - 2 * MINUTE_MS, 0)).toBe(0);
    expect(h.engine.advanceHistory(Date.now() - 2 * MINUTE_MS, 10)).toBe(1);
    h.engine.flush();
    const rows = h.store.readBuckets(KAFKA, "minute", T0, T0 + HOUR_MS);
    expect(rows.at(-1)?.start).toBeGreaterThan(before ?? 0);
    // Every millisecond since the first check is in a bucket: fresh time healthy, the rest unknown.
    const time = rows.reduce((sum, row) => sum + row.tally.healthyMs + row.tally.unknownMs, 0);
    expect(time).toBe(Date.now() - T0);
    // Observed just now: not carried again.
    expect(h.engine.advanceHistory(Date.now() - 2 * MINUTE_MS, 10)).toBe(0);
  });

  it("closes every adapter's history at stop, and a restart carries on without counting the gap", async () => {
    const h = harness();
    await checks(h, MINUTE_MS, true);
    await vi.advanceTimersByTimeAsync(5_000);
    h.engine.stop();
    const stopped = h.store.readBuckets(KAFKA, "minute", T0, T0 + HOUR_MS);
    // Checked at 0, 15, 30, 45 s; the stop at 65 s closes the time up to it (fresh all along).
    expect(stopped.map((row) => row.tally.healthyMs)).toEqual([60_000, 5_000]);

    // Ten minutes later a new engine over the same store carries on.
    await vi.advanceTimersByTimeAsync(10 * MINUTE_MS);
    const recorder = new HistoryRecorder(h.store, DEFAULT_OFFLINE_STALE_RULE);
    const next = observeWith(recorder, h.store);
    next(true);
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    next(true);
    const hour = h.store.newestBuckets(KAFKA).hour;
    expect(hour?.tally.healthyMs).toBe(65_000 + EVERY_MS);
    expect(hour?.tally.checks).toBe(4 + 2);
  });
});

/** Observes KAFKA now through `recorder`, commits the rows and adopts them, as a committed check would. */
function observeWith(recorder: HistoryRecorder, store: FaultyStore): (ok: boolean) => void {
  return (ok) => {
    const staged = new StagedHistory();
    const at = Date.now();
    recorder.stage(
      staged,
      KAFKA,
      { at, status: ok ? "healthy" : "unhealthy", maintenance: false, freshUntil: at + 30_000 },
      { ok, latencyMs: 3 },
    );
    store.commit({ history: [...staged.rows.values()], events: [] }, at);
    recorder.adopt(staged);
  };
}
