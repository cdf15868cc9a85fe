import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TEST_ADAPTER_SETTINGS } from "../../test/support/adapter-settings.js";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { SettingsBook } from "../config/settings-book.js";
import type { AdapterEntry } from "../domain/adapter.js";
import type { AdapterSettings, SettingsOverride } from "../domain/adapter-settings.js";
import type { CheckReport } from "../domain/decide.js";
import type { JournalEvent, NewEvent } from "../domain/events.js";
import type { BreakerSnapshot, CheckOutcome, HealthState } from "../domain/health.js";
import { maintenanceEndedEvent, maintenanceStartedEvent } from "../domain/maintenance.js";
import type { Requirement } from "../domain/resolution.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../domain/status-view.js";
import { EventHub } from "../events/event-hub.js";
import { MaintenanceDesk } from "../maintenance/maintenance-desk.js";
import { MaintenanceService } from "../maintenance/maintenance-service.js";
import { ResolutionService } from "../resolution/resolution-service.js";
import { FaultyStore } from "../storage/faulty-store.js";
import { MemoryStore } from "../storage/memory-store.js";
import type { RegistryState, StoreCommit } from "../storage/store.js";
import {
  type EngineMetrics,
  type EngineOptions,
  HealthEngine,
  StoreUnavailableError,
} from "./health-engine.js";
import { HealthView } from "./health-view.js";

const T0 = Date.parse("2025-06-01T00:00:00Z");
const ENDPOINT = "registry:8679";

/** Storage adapters: alpha (faster, and first by id) is the baseline choice, beta its fallback. */
const ALPHA = "t.adapter.storage.alpha";
const BETA = "t.adapter.storage.beta";
/** Cache adapters: redis is the choice; valkey failing changes no choice. */
const REDIS = "t.adapter.cache.redis";
const VALKEY = "t.adapter.cache.valkey";
/** A queue adapter with rise and fall 1, so that each alternating result flips it; no requirement tracks it. */
const KAFKA = "t.adapter.queue.kafka";

const STORAGE: Requirement = { domain: "adapter", category: "storage" };
const CACHE: Requirement = { domain: "adapter", category: "cache" };
const STORAGE_KEY = "adapter/storage//";

const OPTIONS: EngineOptions = {
  maxBatch: 3,
  maxDelayMs: 20,
  retryDelayMs: 100,
  maxRetryDelayMs: 800,
};

const DEFAULTS: AdapterSettings = TEST_ADAPTER_SETTINGS;
const OVERRIDES: SettingsOverride[] = [
  { match: { category: "queue" }, probes: { rise: 1, fall: 1 } },
];
const FLAP = { transitions: 4, windowMs: 120_000 };

/** A FaultyStore that notes the (fake) time of every commit it is asked for. */
class TimedStore extends FaultyStore {
  readonly attempts: number[] = [];

  override commit(change: StoreCommit, now: number): JournalEvent[] {
    this.attempts.push(Date.now());
    return super.commit(change, now);
  }
}

interface RecordingMetrics extends EngineMetrics {
  /** Every event the engine counted, in the order counted. */
  events: JournalEvent[];
  results: number;
  batches: number;
  failures: number;
  writable: boolean[];
  pending: number[];
}

function recordingMetrics(): RecordingMetrics {
  const metrics: RecordingMetrics = {
    events: [],
    results: 0,
    batches: 0,
    failures: 0,
    writable: [],
    pending: [],
    committed({ events, results }) {
      metrics.batches++;
      metrics.results += results;
      metrics.events.push(...events);
    },
    commitFailed() {
      metrics.failures++;
    },
    storeWritable(writable) {
      metrics.writable.push(writable);
    },
    pendingEvents(count) {
      metrics.pending.push(count);
    },
  };
  return metrics;
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The engine wired as startDaemon wires it, over a MemoryStore behind a FaultyStore. */
function harness(configured: Requirement[] = [STORAGE, CACHE], member?: string) {
  /** The verdicts of this member the engine handed on after each commit, one array per commit. */
  const ownVerdicts: HealthState[][] = [];
  const memory = new MemoryStore();
  const store = new TimedStore(memory);
  const log: LogLine[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void log.push(JSON.parse(line) as LogLine) },
  );
  const settings = new SettingsBook(DEFAULTS, OVERRIDES, FLAP);
  const maintenance = new MaintenanceService([], store.loadMaintenance(), Date.now);
  const view = new HealthView(
    ENDPOINT,
    DEFAULT_OFFLINE_STALE_RULE,
    Date.now,
    (adapterId) => maintenance.current(adapterId),
    Date.now,
  );
  view.restore(store.loadCatalog(), store.loadHealth(), store.loadRegistryState());
  const hub = new EventHub(store);
  const resolution = new ResolutionService(
    view,
    maintenance,
    settings,
    { panic: false },
    configured,
  );
  const metrics = recordingMetrics();
  const engine = new HealthEngine({
    store,
    mirror: view,
    failovers: resolution,
    publisher: hub,
    maintenance,
    metrics,
    logger,
    now: Date.now,
    contextOf: (entry) =>
      settings.decisionContextOf(entry, maintenance.current(entry.adapterId) !== undefined),
    options: OPTIONS,
    ...(member === undefined
      ? {}
      : { member, ownVerdictsCommitted: (states) => void ownVerdicts.push([...states]) }),
  });
  maintenance.onWindowsChanged((adapterIds) =>
    engine.touch(
      adapterIds === "all" ? view.allEntries().map((entry) => entry.adapterId) : adapterIds,
    ),
  );
  const desk = new MaintenanceDesk({
    commit: (change, event) => engine.commitMaintenance(change, event),
    isDeclared: (adapterId) => maintenance.isDeclared(adapterId),
    now: Date.now,
  });
  /** Every committed event delivered to a subscriber that follows the hub from now on. */
  const delivered: JournalEvent[] = [];
  hub.subscribe(hub.newestSeq(), (events) => delivered.push(...events));
  return {
    memory,
    store,
    log,
    maintenance,
    view,
    hub,
    resolution,
    metrics,
    engine,
    desk,
    delivered,
    ownVerdicts,
  };
}

type Harness = ReturnType<typeof harness>;

const CLOSED: BreakerSnapshot = {
  state: "closed",
  snapshot: { ownState: { value: 0 }, breakerState: 0 },
};

function openBreaker(openedAt = Date.now()): BreakerSnapshot {
  return { state: "open", snapshot: { ownState: { value: 1, openedAt, attemptNo: 1 } } };
}

/** A polled check's report, finished now. */
function check(
  adapterId: string,
  ok: boolean | null,
  overrides: Partial<CheckReport> & { latencyMs?: number; detail?: string } = {},
): CheckReport {
  const { latencyMs = 10, detail = ok ? "HTTP 200" : "HTTP 503", ...rest } = overrides;
  const at = Date.now();
  const outcome: CheckOutcome | null =
    ok === null ? null : { ok, latencyMs, detail, source: "probe", at };
  return {
    adapterId,
    outcome,
    breaker: CLOSED,
    breakerTransitions: [],
    trialDueInMs: undefined,
    pushed: false,
    watching: false,
    at,
    jitterDraw: 0.5,
    ...rest,
  };
}

function discovered(entry: AdapterEntry): NewEvent {
  return {
    type: "adapter.discovered",
    subject: entry.adapterId,
    time: Date.now(),
    data: { adapter_id: entry.adapterId },
  };
}

/** Adds adapters through a catalog step, as catalog sync does. */
function add(h: Harness, ...adapterIds: string[]): void {
  const entries = adapterIds.map((adapterId) => catalogEntry({ adapterId }));
  h.engine.commitCatalog({
    added: entries,
    updated: [],
    removed: [],
    events: entries.map(discovered),
    at: Date.now(),
  });
}

function remove(h: Harness, ...adapterIds: string[]): void {
  h.engine.commitCatalog({
    added: [],
    updated: [],
    removed: adapterIds,
    events: adapterIds.map((adapterId) => ({
      type: "adapter.removed" as const,
      subject: adapterId,
      time: Date.now(),
      data: { adapter_id: adapterId },
    })),
    at: Date.now(),
  });
}

/** Four adapters, each checked healthy once and committed: the baseline of most tests. */
async function healthyCatalog(h: Harness): Promise<void> {
  add(h, ALPHA, BETA, REDIS, VALKEY);
  h.engine.recordCheck(check(ALPHA, true, { latencyMs: 10 }));
  h.engine.recordCheck(check(BETA, true, { latencyMs: 50 }));
  h.engine.recordCheck(check(REDIS, true, { latencyMs: 10 }));
  h.engine.recordCheck(check(VALKEY, true, { latencyMs: 50 }));
  await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
  for (const id of [ALPHA, BETA, REDIS, VALKEY]) expect(h.view.state(id)?.status).toBe("healthy");
}

/** Waits `ms` of fake time, one step at a time, letting timers (batch, retries) fire. */
async function wait(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

const journal = (h: Harness) => h.memory.readEvents(0, -1);
const ofSubject = (events: readonly JournalEvent[], subject: string) =>
  events.filter((event) => event.subject === subject);
const describeEvent = (event: JournalEvent) =>
  event.type === "adapter.health_changed"
    ? `${event.type} ${String(event.data.from)}->${String(event.data.to)}`
    : event.type === "adapter.flapping"
      ? `${event.type} ${String(event.data.status)}`
      : event.type;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("HealthEngine: batches", () => {
  it("commits maxDelayMs after the first report of a batch, and the mirror changes only then", async () => {
    const h = harness();
    add(h, ALPHA, BETA);
    const attempts = h.store.commitsAttempted;
    const decided = h.engine.recordCheck(check(ALPHA, true));
    h.engine.recordCheck(check(BETA, false));
    expect(decided?.state.status).toBe("healthy");
    // Decided, not committed: the mirror, the journal and the recent checks still say nothing.
    expect(h.view.state(ALPHA)?.status).toBe("unknown");
    expect(h.view.recentChecks(ALPHA)).toEqual([]);
    expect(h.memory.loadHealth().map((state) => state.status)).toEqual(["unknown", "unknown"]);
    expect(h.engine.status()).toMatchObject({ writable: true, pendingStates: 2, pendingEvents: 2 });
    await wait(OPTIONS.maxDelayMs - 1);
    expect(h.store.commitsAttempted).toBe(attempts);
    expect(h.view.state(ALPHA)?.status).toBe("unknown");
    await wait(1);
    expect(h.store.commitsAttempted).toBe(attempts + 1);
    expect(h.view.state(ALPHA)?.status).toBe("healthy");
    expect(h.view.state(BETA)?.status).toBe("unhealthy");
    expect(h.view.recentChecks(ALPHA)).toEqual([
      {
        at: new Date(T0).toISOString(),
        ok: true,
        latency_ms: 10,
        detail: "HTTP 200",
        source: "probe",
      },
    ]);
    expect(h.memory.loadHealth()).toEqual([h.view.state(ALPHA), h.view.state(BETA)]);
    expect(h.engine.status()).toMatchObject({ pendingStates: 0, pendingEvents: 0 });
    expect(h.metrics.results).toBe(2);
  });

  it("commits at once when maxBatch results are waiting, without the timer", () => {
    const h = harness();
    add(h, ALPHA, BETA, REDIS);
    const attempts = h.store.commitsAttempted;
    h.engine.recordCheck(check(ALPHA, true));
    h.engine.recordCheck(check(BETA, true));
    expect(h.store.commitsAttempted).toBe(attempts);
    h.engine.recordCheck(check(REDIS, true));
    // The third result fills the batch: committed in the same turn.
    expect(h.store.commitsAttempted).toBe(attempts + 1);
    for (const id of [ALPHA, BETA, REDIS]) expect(h.view.state(id)?.status).toBe("healthy");
    expect(h.metrics.results).toBe(3);
  });

  it("counts reports for one adapter towards the batch, keeping one state", () => {
    const h = harness();
    add(h, ALPHA);
    const attempts = h.store.commitsAttempted;
    h.engine.recordCheck(check(ALPHA, true));
    h.engine.recordCheck(check(ALPHA, false));
    expect(h.engine.status().pendingStates).toBe(1);
    h.engine.recordCheck(check(ALPHA, false));
    expect(h.store.commitsAttempted).toBe(attempts + 1);
    expect(h.view.state(ALPHA)).toMatchObject({ status: "healthy", consecutiveFailures: 2 });
    expect(h.view.recentChecks(ALPHA).map((recent) => recent.ok)).toEqual([false, false, true]);
  });

  it("commits nothing for a check skipped by an open breaker, but says when the next is due", async () => {
    const h = harness();
    await healthyCatalog(h);
    const opened = openBreaker();
    h.engine.recordCheck(check(ALPHA, false, { breaker: opened, breakerTransitions: ["open"] }));
    await wait(OPTIONS.maxDelayMs);
    const attempts = h.store.commitsAttempted;
    const skipped = h.engine.recordCheck(
      check(ALPHA, null, { breaker: opened, trialDueInMs: 10_000 }),
    );
    expect(skipped?.state).toBe(h.view.state(ALPHA));
    // The open interval (60 s at draw 0.5) is later than the trial.
    expect(skipped?.nextCheckInMs).toBe(60_000);
    expect(h.engine.status()).toMatchObject({ pendingStates: 0, pendingEvents: 0 });
    await wait(1_000);
    expect(h.store.commitsAttempted).toBe(attempts);
  });

  it("keeps the last measured latency for a pushed status, and records the check as the Watch's", async () => {
    const h = harness();
    await healthyCatalog(h);
    h.engine.recordCheck(check(ALPHA, true, { pushed: true, watching: true, latencyMs: 0 }));
    await wait(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)?.latencyMs).toBe(10);
    expect(h.view.recentChecks(ALPHA)[0]).toMatchObject({ source: "watch", latency_ms: 10 });
  });

  it("commits what is pending on stop()", () => {
    const h = harness();
    add(h, ALPHA);
    h.engine.recordCheck(check(ALPHA, true));
    expect(h.engine.stop()).toBe(true);
    expect(h.view.state(ALPHA)?.status).toBe("healthy");
    expect(h.engine.status().pendingStates).toBe(0);
  });

  it("takes nothing after stop(): late checks are abandoned, catalog steps refused", async () => {
    const h = harness();
    await healthyCatalog(h);
    const journalBefore = journal(h);
    expect(h.engine.stop()).toBe(true);
    // A probe that outlived the stop's grace: not staged, no next check.
    expect(h.engine.recordCheck(check(ALPHA, false))).toBeUndefined();
    h.engine.touch([BETA]);
    const gamma = catalogEntry({ adapterId: "t.adapter.storage.gamma" });
    expect(() =>
      h.engine.commitCatalog({
        added: [gamma],
        updated: [],
        removed: [],
        events: [discovered(gamma)],
        at: Date.now(),
      }),
    ).toThrow(/stopping/);
    await wait(OPTIONS.maxRetryDelayMs);
    expect(h.engine.status()).toMatchObject({ pendingStates: 0, pendingEvents: 0 });
    expect(h.view.state(ALPHA)?.status).toBe("healthy");
    expect(journal(h)).toEqual(journalBefore);
    expect(h.engine.flush()).toBe(true);
  });
});

describe("HealthEngine: publishing", () => {
  it("tells a subscriber of a change only once the mirror shows it", async () => {
    const h = harness();
    const seen: string[] = [];
    const mismatches: string[] = [];
    h.hub.subscribe(h.hub.newestSeq(), (events) => {
      for (const event of events) {
        seen.push(describeEvent(event));
        // Inside the callback: the mirror and the journal already hold what the event says.
        if (!h.memory.readEvents(event.seq - 1, 1).some((stored) => stored.id === event.id)) {
          mismatches.push(`${event.seq} not in the journal`);
        }
        if (event.type === "adapter.discovered" && !h.view.entry(event.subject)) {
          mismatches.push(`${event.subject} not in the mirror's catalog`);
        }
        if (event.type === "adapter.health_changed") {
          const shown = h.view.get(event.subject)?.status;
          if (shown !== event.data.to) mismatches.push(`${event.subject} shows ${shown}`);
        }
        if (event.type === "failover") {
          const from = String(event.data.from);
          if (h.view.get(from)?.usable !== false) mismatches.push(`${from} still usable`);
        }
      }
    });
    await healthyCatalog(h);
    h.engine.recordCheck(check(ALPHA, false));
    h.engine.recordCheck(check(ALPHA, false));
    h.engine.recordCheck(check(ALPHA, false));
    await wait(OPTIONS.maxDelayMs);
    expect(mismatches).toEqual([]);
    expect(seen).toEqual([
      ...Array(4).fill("adapter.discovered"),
      ...Array(4).fill("adapter.health_changed unknown->healthy"),
      "adapter.health_changed healthy->unhealthy",
      "failover",
    ]);
  });
});

describe("HealthEngine: while the store refuses commits", () => {
  it("changes nothing in memory, publishes nothing, retries with backoff, warns once, then commits everything", async () => {
    const h = harness();
    await healthyCatalog(h);
    const before = new Map([ALPHA, BETA, REDIS, VALKEY].map((id) => [id, h.view.state(id)]));
    const journalBefore = journal(h);
    const deliveredBefore = h.delivered.length;
    const attemptsBefore = h.store.attempts.length;
    h.log.length = 0;

    h.store.failCommits();
    const failedAt = Date.now() + OPTIONS.maxDelayMs;
    const opened = openBreaker();
    const reports: CheckReport[] = [];
    const record = async (report: CheckReport) => {
      reports.push(report);
      h.engine.recordCheck(report);
      await wait(500);
    };
    await record(check(ALPHA, false));
    await record(check(BETA, false));
    await record(check(ALPHA, false));
    // The third failure in a row: unhealthy, and its breaker opens.
    await record(
      check(ALPHA, false, { breaker: opened, breakerTransitions: ["open"], trialDueInMs: 30_000 }),
    );
    // Skipped while open: nothing to keep.
    for (let i = 0; i < 3; i++) {
      await record(check(ALPHA, null, { breaker: opened, trialDueInMs: 20_000 }));
    }
    for (let i = 0; i < 3; i++) await record(check(VALKEY, false));
    await record(check(BETA, true, { latencyMs: 40 }));
    await wait(6_000);

    // Nothing in the mirror changed, nothing was published, nothing reached the journal.
    for (const [id, state] of before) expect(h.view.state(id)).toBe(state);
    expect(h.view.recentChecks(ALPHA)).toHaveLength(1);
    expect(h.delivered).toHaveLength(deliveredBefore);
    expect(journal(h)).toEqual(journalBefore);
    expect(h.metrics.events).toHaveLength(journalBefore.length);

    // The newest decisions are pending, one state per adapter.
    expect(h.engine.latestState(ALPHA)).toMatchObject({
      status: "unhealthy",
      consecutiveFailures: 3,
      breaker: opened,
    });
    expect(h.engine.latestState(BETA)).toMatchObject({ status: "healthy", latencyMs: 40 });
    expect(h.engine.latestState(VALKEY)?.status).toBe("unhealthy");
    const status = h.engine.status();
    expect(status).toEqual({
      writable: false,
      failingSince: failedAt,
      lastError: "SQLITE_FULL: database or disk is full",
      // The last commit that went through: the healthy catalog's.
      lastWriteAt: failedAt - OPTIONS.maxDelayMs,
      pendingStates: 3,
      // breaker.opened and health_changed for alpha, health_changed for valkey, the failover.
      pendingEvents: 4,
    });

    // Retries back off, doubling up to maxRetryDelayMs.
    const attempts = h.store.attempts.slice(attemptsBefore);
    expect(attempts[0]).toBe(failedAt);
    const gaps = attempts.slice(1).map((at, index) => at - (attempts[index] ?? 0));
    expect(gaps.slice(0, 5)).toEqual([100, 200, 400, 800, 800]);
    expect(new Set(gaps.slice(3))).toEqual(new Set([800]));
    expect(h.store.commitsFailed).toBe(attempts.length);
    expect(h.metrics.failures).toBe(attempts.length);
    expect(h.metrics.writable).toEqual([false]);
    expect(h.metrics.pending.at(-1)).toBe(4);

    // One WARN for the whole episode.
    const warnings = h.log.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      msg: "could not commit to the database; keeping results pending and retrying",
      pending_states: expect.any(Number),
      err: expect.objectContaining({ message: "SQLITE_FULL: database or disk is full" }),
    });
    expect(h.engine.flush()).toBe(false);

    h.store.heal();
    await wait(OPTIONS.maxRetryDelayMs);
    expect(h.engine.status()).toEqual({
      writable: true,
      failingSince: null,
      lastError: null,
      lastWriteAt: expect.any(Number),
      pendingStates: 0,
      pendingEvents: 0,
    });
    expect(h.metrics.writable).toEqual([false, true]);
    expect(h.log.some((line) => line.msg.startsWith("database writable again"))).toBe(true);

    // The journal holds every event, in the order decided, each published once.
    const committed = journal(h).slice(journalBefore.length);
    expect(committed.map((event) => [event.subject, describeEvent(event)])).toEqual([
      [ALPHA, "breaker.opened"],
      [ALPHA, "adapter.health_changed healthy->unhealthy"],
      [STORAGE_KEY, "failover"],
      [VALKEY, "adapter.health_changed healthy->unhealthy"],
    ]);
    expect(committed[0]?.data.last_failure).toBe("HTTP 503");
    expect(h.delivered.slice(deliveredBefore)).toEqual(committed);

    // Each adapter's state is its newest decision, and agrees with its last health event.
    const all = journal(h);
    for (const id of [ALPHA, BETA, REDIS, VALKEY]) {
      const state = h.view.state(id);
      expect(state).toEqual(h.engine.latestState(id));
      expect(h.memory.loadHealth().find((stored) => stored.adapterId === id)).toEqual(state);
      const changes = ofSubject(all, id).filter((e) => e.type === "adapter.health_changed");
      expect(state?.status).toBe(changes.at(-1)?.data.to);
      const breakerEvents = ofSubject(all, id).filter((e) => e.type.startsWith("breaker."));
      if (state?.breaker?.state === "open") {
        expect(breakerEvents.at(-1)?.type).toBe("breaker.opened");
      } else {
        expect(breakerEvents).toEqual([]);
      }
    }
    expect(h.view.recentChecks(ALPHA).map((recent) => recent.ok)).toEqual([
      false,
      false,
      false,
      true,
    ]);

    // A failover exactly where a tracked choice changed: storage moved to beta, cache stayed on redis.
    const failovers = all.filter((event) => event.type === "failover");
    expect(failovers.map((event) => [event.subject, event.data.from, event.data.to])).toEqual([
      [STORAGE_KEY, ALPHA, BETA],
    ]);
    expect(failovers[0]?.data.from_status).toBe("unhealthy");
    expect(h.resolution.resolve(STORAGE).choice?.adapterId).toBe(BETA);
    expect(h.resolution.resolve(CACHE).choice?.adapterId).toBe(REDIS);
    // The committed choices are the baseline now: judging again finds nothing.
    const everyone = new Set([ALPHA, BETA, REDIS, VALKEY]);
    expect(h.resolution.failovers(new Map(), everyone, Date.now()).events).toEqual([]);

    // Metrics counted each committed event once, and each result once.
    expect(h.metrics.events).toEqual(all);
    expect(new Set(h.metrics.events.map((event) => event.seq)).size).toBe(all.length);
    expect(h.metrics.results).toBe(4 + reports.filter((report) => report.outcome).length);
  });

  it("coalesces many reports for one adapter into one pending state, keeping every event in order", async () => {
    const h = harness();
    add(h, KAFKA);
    h.store.failCommits();
    // Alternating results with rise and fall 1: each flips it, until it is flapping.
    for (let i = 0; i < 20; i++) {
      h.engine.recordCheck(check(KAFKA, i % 2 === 1));
      await wait(1_000);
    }
    expect(h.engine.status()).toMatchObject({
      writable: false,
      pendingStates: 1,
      pendingEvents: 5,
    });
    expect(h.view.state(KAFKA)?.status).toBe("unknown");
    const latest = h.engine.latestState(KAFKA);
    expect(latest).toMatchObject({ status: "healthy", flapping: true, consecutiveSuccesses: 1 });

    h.store.heal();
    await wait(OPTIONS.maxRetryDelayMs);
    expect(ofSubject(journal(h), KAFKA).map(describeEvent)).toEqual([
      "adapter.discovered",
      "adapter.health_changed unknown->unhealthy",
      "adapter.health_changed unhealthy->healthy",
      "adapter.health_changed healthy->unhealthy",
      "adapter.health_changed unhealthy->healthy",
      "adapter.flapping unhealthy",
    ]);
    const times = journal(h).map((event) => event.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(h.view.state(KAFKA)).toEqual(latest);
    // The mirror keeps the newest ten checks, all committed at once.
    expect(h.view.recentChecks(KAFKA)).toHaveLength(10);
    expect(h.metrics.results).toBe(20);
  });

  it("says when a write last went through: none before the first commit, a refused one changes nothing", async () => {
    const h = harness();
    expect(h.engine.status()).toMatchObject({ writable: true, lastWriteAt: null });
    await healthyCatalog(h);
    const committedAt = h.engine.status().lastWriteAt;
    expect(committedAt).toBeGreaterThanOrEqual(T0);
    h.store.failCommits();
    await wait(1_000);
    h.engine.recordCheck(check(BETA, false));
    await wait(OPTIONS.maxDelayMs);
    expect(h.engine.status()).toMatchObject({ writable: false, lastWriteAt: committedAt });
    h.store.heal();
    await wait(OPTIONS.maxRetryDelayMs);
    expect(h.engine.status().writable).toBe(true);
    expect(h.engine.status().lastWriteAt).toBeGreaterThan(committedAt ?? 0);
  });

  it("refuses catalog and maintenance commits with StoreUnavailableError, keeping nothing of them", async () => {
    const h = harness();
    await healthyCatalog(h);
    const journalBefore = journal(h);
    h.store.failCommits();

    const gamma = catalogEntry({ adapterId: "t.adapter.storage.gamma" });
    const step = {
      added: [gamma],
      updated: [],
      removed: [],
      events: [discovered(gamma)],
      at: Date.now(),
    };
    expect(() => h.engine.commitCatalog(step)).toThrow(StoreUnavailableError);
    expect(h.engine.status()).toMatchObject({
      writable: false,
      pendingStates: 0,
      pendingEvents: 0,
    });
    expect(h.engine.latestEntry(gamma.adapterId)).toBeUndefined();
    expect(h.engine.latestState(gamma.adapterId)).toBeUndefined();

    expect(() => h.desk.declare(ALPHA, null, "disk swap")).toThrow(StoreUnavailableError);
    let refused: unknown;
    try {
      h.engine.commitMaintenance(
        { adapterId: BETA, declared: { adapterId: BETA, untilMs: null, reason: "x" } },
        { type: "adapter.maintenance_started", subject: BETA, time: Date.now(), data: {} },
      );
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({
      name: "StoreUnavailableError",
      code: "STORE_UNAVAILABLE",
      message: "the database refused the write: SQLITE_FULL: database or disk is full",
    });
    expect(h.engine.status()).toMatchObject({ pendingStates: 0, pendingEvents: 0 });
    expect(h.maintenance.isDeclared(ALPHA)).toBe(false);
    expect(h.maintenance.current(ALPHA)).toBeUndefined();

    // Check results pending before a refused catalog step stay pending; the step does not.
    h.engine.recordCheck(check(BETA, false));
    expect(() => h.engine.commitCatalog(step)).toThrow(StoreUnavailableError);
    expect(h.engine.status()).toMatchObject({ pendingStates: 1, pendingEvents: 0 });
    expect(h.engine.latestEntry(gamma.adapterId)).toBeUndefined();

    await wait(2_000);
    expect(journal(h)).toEqual(journalBefore);
    expect(h.memory.loadCatalog()).toHaveLength(4);
    expect(h.memory.loadMaintenance()).toEqual([]);
    expect(h.delivered.filter((event) => event.type.startsWith("adapter.maintenance"))).toEqual([]);

    h.store.heal();
    await wait(OPTIONS.maxRetryDelayMs);
    expect(h.view.state(BETA)?.consecutiveFailures).toBe(1);
    // Healed: a declaration commits, then is applied, then failovers are judged in the next commit.
    h.desk.declare(ALPHA, null, "disk swap");
    expect(h.maintenance.isDeclared(ALPHA)).toBe(true);
    expect(h.memory.loadMaintenance()).toEqual([
      { adapterId: ALPHA, untilMs: null, reason: "disk swap" },
    ]);
    await wait(OPTIONS.maxDelayMs);
    const after = journal(h).slice(journalBefore.length);
    expect(after.map((event) => [event.subject, event.type])).toEqual([
      [ALPHA, "adapter.maintenance_started"],
      [STORAGE_KEY, "failover"],
    ]);
    expect(after[1]?.data).toMatchObject({ from: ALPHA, to: BETA, from_status: "healthy" });
    expect(h.desk.lift(ALPHA)).toBe(true);
    expect(h.maintenance.isDeclared(ALPHA)).toBe(false);
    expect(h.desk.lift(ALPHA)).toBe(false);
  });

  // A refused catalog or maintenance step leaves nothing pending but the failure recorded: the
  // next report must arm a retry of its own, or it would wait for the next catalog step.
  it("commits a report recorded after a refused catalog step once the store heals", async () => {
    const h = harness();
    await healthyCatalog(h);
    h.store.failCommits();
    const gamma = catalogEntry({ adapterId: "t.adapter.storage.gamma" });
    expect(() =>
      h.engine.commitCatalog({
        added: [gamma],
        updated: [],
        removed: [],
        events: [discovered(gamma)],
        at: Date.now(),
      }),
    ).toThrow(StoreUnavailableError);
    h.store.heal();
    // The retry timer finds nothing pending; then a check reports.
    await wait(OPTIONS.maxRetryDelayMs);
    h.engine.recordCheck(check(ALPHA, false));
    await wait(10_000);
    expect(h.view.state(ALPHA)?.consecutiveFailures).toBe(1);
    expect(h.engine.status()).toMatchObject({ writable: true, pendingStates: 0 });
  });
});

describe("HealthEngine: the latest decisions", () => {
  it("answers latestState and latestRegistry from pending work before the mirror has it", async () => {
    const h = harness();
    await healthyCatalog(h);
    h.engine.recordCheck(check(ALPHA, false));
    expect(h.engine.latestState(ALPHA)).toMatchObject({
      status: "healthy",
      consecutiveFailures: 1,
    });
    expect(h.view.state(ALPHA)?.consecutiveFailures).toBe(0);
    const registry: RegistryState = {
      endpoint: ENDPOINT,
      reachable: false,
      lastSync: null,
      lastAttempt: Date.now(),
      lastError: "UNAVAILABLE",
    };
    const flip: NewEvent = {
      type: "registry.unreachable",
      subject: ENDPOINT,
      time: Date.now(),
      data: { endpoint: ENDPOINT, error: "UNAVAILABLE" },
    };
    const mirrored = h.view.registryState();
    h.engine.recordRegistry(registry, [flip]);
    expect(h.engine.latestRegistry()).toEqual(registry);
    expect(h.view.registryState()).toBe(mirrored);
    await wait(OPTIONS.maxDelayMs);
    expect(h.view.registryState()).toEqual(registry);
    expect(h.view.state(ALPHA)?.consecutiveFailures).toBe(1);
    expect(h.memory.loadRegistryState()).toEqual(registry);
    expect(journal(h).at(-1)?.type).toBe("registry.unreachable");
    expect(h.engine.latestState(ALPHA)).toBe(h.view.state(ALPHA));
  });

  it("answers latestEntry from a catalog step while it commits, and from the mirror after", async () => {
    const h = harness();
    await healthyCatalog(h);
    const updated = catalogEntry({ adapterId: ALPHA, metadata: { zone: "b" } });
    const seen: { latest: AdapterEntry | undefined; mirrored: AdapterEntry | undefined }[] = [];
    const commit = h.memory.commit.bind(h.memory);
    vi.spyOn(h.memory, "commit").mockImplementation((change, now) => {
      seen.push({ latest: h.engine.latestEntry(ALPHA), mirrored: h.view.entry(ALPHA) });
      return commit(change, now);
    });
    h.engine.commitCatalog({
      added: [],
      updated: [updated],
      removed: [],
      events: [],
      at: Date.now(),
    });
    expect(seen).toEqual([{ latest: updated, mirrored: catalogEntry({ adapterId: ALPHA }) }]);
    expect(h.engine.latestEntry(ALPHA)).toEqual(updated);
    expect(h.view.entry(ALPHA)).toEqual(updated);
    seen.length = 0;
    remove(h, ALPHA);
    expect(seen).toEqual([{ latest: undefined, mirrored: updated }]);
    expect(h.engine.latestEntry(ALPHA)).toBeUndefined();
    expect(h.view.entry(ALPHA)).toBeUndefined();
  });
});

describe("HealthEngine: the catalog", () => {
  it("fails a requirement over when its chosen adapter leaves the catalog", async () => {
    const h = harness();
    await healthyCatalog(h);
    // alpha answers faster: it is the storage requirement's choice.
    expect(h.resolution.resolve(STORAGE).choice?.adapterId).toBe(ALPHA);
    remove(h, ALPHA);
    await wait(OPTIONS.maxDelayMs);
    const failovers = journal(h).filter((event) => event.type === "failover");
    expect(failovers.map((event) => event.data)).toEqual([
      expect.objectContaining({ from: ALPHA, to: BETA }),
    ]);
  });

  it("ignores the report of an adapter removed while its check ran", async () => {
    const h = harness();
    await healthyCatalog(h);
    const running = check(BETA, false);
    remove(h, BETA);
    const attempts = h.store.commitsAttempted;
    expect(h.engine.recordCheck(running)).toBeUndefined();
    expect(h.engine.status()).toMatchObject({ pendingStates: 0, pendingEvents: 0 });
    await wait(1_000);
    expect(h.store.commitsAttempted).toBe(attempts);
    expect(h.view.state(BETA)).toBeUndefined();
    expect(h.memory.loadHealth().map((state) => state.adapterId)).not.toContain(BETA);
  });

  it("restores the kept state of an adapter that comes back after its removal", async () => {
    const h = harness();
    await healthyCatalog(h);
    for (let i = 0; i < 3; i++) h.engine.recordCheck(check(BETA, false));
    await wait(OPTIONS.maxDelayMs);
    const kept = h.view.state(BETA);
    expect(kept).toMatchObject({ status: "unhealthy", consecutiveFailures: 3 });
    remove(h, BETA);
    expect(h.engine.latestState(BETA)).toBeUndefined();

    await wait(60_000);
    const returning = catalogEntry({ adapterId: BETA });
    const fresh = catalogEntry({ adapterId: "t.adapter.storage.gamma" });
    h.engine.commitCatalog({
      added: [returning, fresh],
      updated: [],
      removed: [],
      events: [discovered(returning), discovered(fresh)],
      at: Date.now(),
    });
    expect(h.view.state(BETA)).toEqual(kept);
    expect(h.engine.latestState(BETA)).toEqual(kept);
    expect(h.view.state(fresh.adapterId)).toMatchObject({
      status: "unknown",
      since: Date.now(),
      lastChecked: null,
    });
    expect(ofSubject(journal(h), BETA).map((event) => event.type)).toEqual([
      "adapter.discovered",
      "adapter.health_changed",
      "adapter.health_changed",
      "adapter.removed",
      "adapter.discovered",
    ]);
    // And it carries on from there: one success of the two it needs to recover.
    h.engine.recordCheck(check(BETA, true));
    await wait(OPTIONS.maxDelayMs);
    expect(h.view.state(BETA)).toMatchObject({ status: "unhealthy", consecutiveSuccesses: 1 });
  });

  it("tells catalog listeners what a step changed, not after a check", async () => {
    const h = harness();
    const heard: { upserted: string[]; removed: readonly string[] }[] = [];
    h.engine.onCatalogCommitted((change) =>
      heard.push({
        upserted: change.upserted.map((entry) => entry.adapterId),
        removed: change.removed,
      }),
    );
    add(h, ALPHA, BETA);
    h.engine.recordCheck(check(ALPHA, true));
    await wait(OPTIONS.maxDelayMs);
    remove(h, BETA);
    expect(heard).toEqual([
      { upserted: [ALPHA, BETA], removed: [] },
      { upserted: [], removed: [BETA] },
    ]);
  });

  it("commits new readings of an entry as readings: mirror, store and listeners have them", async () => {
    const h = harness();
    const heard: string[][] = [];
    add(h, ALPHA, BETA);
    h.engine.onCatalogCommitted((change) =>
      heard.push(change.upserted.map((entry) => `${entry.adapterId}@${entry.lastHeartbeat}`)),
    );
    const before = h.view.entry(ALPHA) as AdapterEntry;
    const refreshed = { ...before, lastHeartbeat: before.lastHeartbeat + 30 };
    h.engine.commitCatalog({
      added: [],
      updated: [],
      refreshed: [refreshed],
      removed: [],
      events: [],
      at: Date.now(),
    });
    expect(h.view.entry(ALPHA)).toBe(refreshed);
    expect(h.engine.latestEntry(ALPHA)).toBe(refreshed);
    expect(h.store.loadCatalog().find((entry) => entry.adapterId === ALPHA)).toEqual(refreshed);
    expect(heard).toEqual([[`${ALPHA}@${refreshed.lastHeartbeat}`]]);
  });
});

describe("HealthEngine: as a cluster member", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A verdict member `owner` gave for `adapterId`, checked at `at`. */
  function verdictOf(
    adapterId: string,
    owner: string,
    at: number,
    overrides: Partial<HealthState> = {},
  ) {
    return {
      adapterId,
      status: "healthy" as const,
      since: at,
      lastChecked: at,
      latencyMs: 7,
      source: "probe" as const,
      reason: "HTTP 200",
      consecutiveSuccesses: 3,
      consecutiveFailures: 0,
      registryStatus: "healthy" as const,
      flapping: false,
      recentTransitions: [],
      breaker: CLOSED,
      checkIntervalMs: 15_000,
      owner,
      ...overrides,
    };
  }

  it("stamps its own checks' verdicts with its id and hands them on once committed", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA, BETA);
    h.engine.recordCheck(check(ALPHA, true));
    expect(h.ownVerdicts).toEqual([]);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)?.owner).toBe("member-a");
    expect(h.view.get(ALPHA)?.owner).toBe("member-a");
    expect(h.ownVerdicts.flat().map((state) => state.adapterId)).toEqual([ALPHA]);
    // Stored with its owner: a restart shows who gave it.
    expect(h.memory.loadHealth().find((state) => state.adapterId === ALPHA)?.owner).toBe(
      "member-a",
    );
  });

  it("adopts another member's verdicts into the view and the store, and hands none of them on", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA, BETA);
    const unhealthy = verdictOf(BETA, "member-b", Date.now(), {
      status: "unhealthy",
      consecutiveFailures: 2,
      consecutiveSuccesses: 0,
    });
    expect(h.engine.adoptVerdicts([unhealthy])).toBe(1);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(BETA)).toEqual(unhealthy);
    // Its age runs from its check, on this daemon's clock.
    expect(h.view.get(BETA)).toMatchObject({
      status: "unhealthy",
      owner: "member-b",
      age_ms: OPTIONS.maxDelayMs,
    });
    expect(h.memory.loadHealth().find((state) => state.adapterId === BETA)?.owner).toBe("member-b");
    expect(h.ownVerdicts).toEqual([]);
  });

  it("keeps the newer verdict when one member's older verdict arrives late, and skips unknown adapters", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    const newer = verdictOf(ALPHA, "member-b", Date.now());
    const older = verdictOf(ALPHA, "member-b", Date.now() - 5_000, { status: "unhealthy" });
    expect(h.engine.adoptVerdicts([newer, older, verdictOf(KAFKA, "member-b", Date.now())])).toBe(
      1,
    );
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)?.status).toBe("healthy");
    expect(h.view.state(KAFKA)).toBeUndefined();
  });

  it("answers for a verdict taken over with its breaker open, before any check of its own", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    const opened = verdictOf(ALPHA, "member-b", Date.now() - 20_000, {
      status: "unhealthy",
      breaker: openBreaker(Date.now() - 20_000),
    });
    h.engine.adoptVerdicts([opened]);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    // Its breaker skips the check: no outcome, yet the adapter is this member's now.
    h.engine.recordCheck(check(ALPHA, null, { breaker: openBreaker(Date.now() - 20_000) }));
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)).toEqual({ ...opened, owner: "member-a" });
    expect(h.ownVerdicts.flat().map((state) => state.owner)).toEqual(["member-a"]);
  });

  it("vouches for the checked verdicts of adapters it comes to own, before checking them", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA, BETA);
    const held = verdictOf(ALPHA, "member-b", Date.now() - 9_000);
    h.engine.adoptVerdicts([held]);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    // BETA was never checked: there is no verdict to answer for.
    expect(h.engine.vouchFor([ALPHA, BETA, KAFKA])).toBe(1);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)).toEqual({ ...held, owner: "member-a" });
    expect(h.ownVerdicts.flat()).toEqual([{ ...held, owner: "member-a" }]);
    expect(h.view.state(BETA)).not.toHaveProperty("owner");
  });

  it("takes an adapter over from another member's verdict: its own next check replaces the owner", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    h.engine.adoptVerdicts([verdictOf(ALPHA, "member-b", Date.now() - 20_000)]);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    h.engine.recordCheck(check(ALPHA, true));
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)?.owner).toBe("member-a");
    expect(h.ownVerdicts.flat().map((state) => state.owner)).toEqual(["member-a"]);
  });

  it("judges failovers on another member's verdict as on its own", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    await healthyCatalog(h);
    expect(h.resolution.resolve(STORAGE).choice?.adapterId).toBe(ALPHA);
    h.engine.adoptVerdicts([
      verdictOf(ALPHA, "member-b", Date.now(), { status: "unhealthy", consecutiveFailures: 2 }),
    ]);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs * 2);
    const failovers = h.delivered.filter((event) => event.type === "failover");
    expect(failovers.map((event) => [event.data.from, event.data.to])).toEqual([[ALPHA, BETA]]);
  });

  it("journals its own events with its id as origin", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.delivered.map((event) => [event.type, event.origin])).toEqual([
      ["adapter.discovered", "member-a"],
    ]);
    expect(h.memory.readEvents(0, 10).map((event) => event.origin)).toEqual(["member-a"]);
  });

  it("mirrors another member's events with their ids and the stream position, once, and neither counts nor logs them", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    const countedBefore = h.metrics.events.length;
    const foreign = {
      id: "0b7a4e0e-6a2f-4a53-9a51-5d1f3f0a7c11",
      origin: "member-b",
      type: "adapter.health_changed" as const,
      subject: BETA,
      time: Date.now(),
      data: { from: "healthy", to: "unhealthy", reason: "HTTP 503" },
    };
    h.engine.mirrorEvents([foreign], { name: "fleet", position: 41 });
    // Only the position moved: stored, nothing journalled.
    h.engine.mirrorEvents([], { name: "fleet", position: 42 });
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.delivered.at(-1)).toMatchObject({ ...foreign, seq: 2 });
    expect(h.memory.loadClusterCursor("fleet")).toBe(42);
    // A redelivery of the same event (a restart before the position was stored) is journalled once.
    h.engine.mirrorEvents([foreign], { name: "fleet", position: 41 });
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.memory.readEvents(0, 10).filter((event) => event.id === foreign.id)).toHaveLength(1);
    expect(h.metrics.events.length).toBe(countedBefore);
    expect(h.log.some((line) => line.msg === "adapter health changed")).toBe(false);
  });

  it("applies maintenance declared and lifted through another member's API, from its events", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    await healthyCatalog(h);
    expect(h.resolution.resolve(STORAGE).choice?.adapterId).toBe(ALPHA);
    // Member b's desk made these events; they reach member a on the fleet's stream.
    const untilMs = Date.now() + 3_600_000;
    const started = {
      ...maintenanceStartedEvent({ adapterId: ALPHA, untilMs, reason: "disk swap" }, Date.now()),
      id: "7c1d2e3f-0000-4000-8000-000000000001",
      origin: "member-b",
    };
    h.engine.mirrorEvents([started], { name: "fleet", position: 3 });
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs * 2);
    expect(h.maintenance.current(ALPHA)).toMatchObject({ reason: "disk swap", untilMs });
    // Committed with the event: a restart keeps it.
    expect(h.memory.loadMaintenance()).toEqual([
      { adapterId: ALPHA, untilMs, reason: "disk swap" },
    ]);
    // Out of resolution here too: the failover is judged as for maintenance declared here.
    expect(h.resolution.resolve(STORAGE).choice?.adapterId).toBe(BETA);
    const ended = {
      ...maintenanceEndedEvent(ALPHA, Date.now()),
      id: "7c1d2e3f-0000-4000-8000-000000000002",
      origin: "member-b",
    };
    h.engine.mirrorEvents([ended], { name: "fleet", position: 4 });
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs * 2);
    expect(h.maintenance.isDeclared(ALPHA)).toBe(false);
    expect(h.memory.loadMaintenance()).toEqual([]);
  });

  it("keeps mirrored events and the position pending while the store refuses commits", async () => {
    const h = harness([STORAGE, CACHE], "member-a");
    add(h, ALPHA);
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    h.store.failCommits();
    const foreign = {
      id: "5f4e2d1c-0000-4000-8000-000000000001",
      origin: "member-b",
      type: "breaker.opened" as const,
      subject: BETA,
      time: Date.now(),
      data: {},
    };
    h.engine.mirrorEvents([foreign], { name: "fleet", position: 7 });
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.memory.loadClusterCursor("fleet")).toBeUndefined();
    h.store.heal();
    await vi.advanceTimersByTimeAsync(OPTIONS.maxRetryDelayMs);
    expect(h.memory.loadClusterCursor("fleet")).toBe(7);
    expect(h.memory.readEvents(0, 10).map((event) => event.id)).toContain(foreign.id);
  });

  it("drops a check that finished after its adapter went to another member", async () => {
    const memory = new MemoryStore();
    const view = new HealthView(
      ENDPOINT,
      DEFAULT_OFFLINE_STALE_RULE,
      Date.now,
      () => undefined,
      Date.now,
    );
    const settings = new SettingsBook(DEFAULTS, OVERRIDES, FLAP);
    const resolution = new ResolutionService(
      view,
      new MaintenanceService([], [], Date.now),
      settings,
      { panic: false },
      [],
    );
    let owned = true;
    const engine = new HealthEngine({
      store: memory,
      mirror: view,
      failovers: resolution,
      publisher: new EventHub(memory),
      maintenance: { applyCommitted: () => undefined },
      metrics: recordingMetrics(),
      logger: pino({ level: "silent" }),
      now: Date.now,
      contextOf: (entry) => settings.decisionContextOf(entry, false),
      options: OPTIONS,
      member: "member-a",
      owns: () => owned,
    });
    const entry = catalogEntry({ adapterId: ALPHA });
    engine.commitCatalog({ added: [entry], updated: [], removed: [], events: [], at: Date.now() });
    expect(engine.recordCheck(check(ALPHA, true))).toBeDefined();
    owned = false;
    expect(engine.recordCheck(check(ALPHA, false))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(view.state(ALPHA)).toMatchObject({ owner: "member-a", consecutiveFailures: 0 });
  });

  it("gives no verdict an owner when the daemon runs alone", async () => {
    const h = harness();
    add(h, ALPHA);
    h.engine.recordCheck(check(ALPHA, true));
    await vi.advanceTimersByTimeAsync(OPTIONS.maxDelayMs);
    expect(h.view.state(ALPHA)).not.toHaveProperty("owner");
    expect(h.view.get(ALPHA)).not.toHaveProperty("owner");
  });
});
