/**
 * What the health history (docs/history.md) costs, at the defaults:
 *
 * 1. **Write cost per check**, with and without history, side by side: the daemon's own
 *    HealthEngine over a real SqliteStore file, wired as src/main.ts wires it, 10,000
 *    adapters checked every 15 s on a fake clock. Commits happen when the engine's batch
 *    timer would fire: 20 ms (its `maxDelayMs`) of fake time after the first result of a
 *    batch, the bench calling `engine.flush()` at that moment; the history ticker of main.ts
 *    (`advanceHistory` as HISTORY_CARRY says) is called on the same clock. The two arms
 *    alternate A/B/A/B, each on a fresh file; CPU is `process.cpuUsage()` of this process.
 *    Then, with history, no check for longer than the carry age (every adapter watched):
 *    what one tick's commit of a slice of adapters costs.
 * 2. **Disk per adapter**: a file filled with the history of 1,000 adapters at full default
 *    retention (48 h of minute buckets, 90 days of hour buckets), committed through
 *    `store.commit({ history, events: [] })` in time order, one commit per minute (or per
 *    hour, before the minute buckets start) for all adapters; bytes from the file after a
 *    checkpoint and per table from `dbstat`.
 * 3. **Read cost**: HistoryQueries (uptime, board, adapterHistory) over that file and over
 *    one of 10,000 adapters with 7 days of hour and 2 hours of minute buckets (a bounded
 *    fill), with the time since each adapter's last observation added as the daemon adds it.
 *
 * Run: npm run bench:history   (prints figures; asserts nothing; --quick for a smoke run;
 * --report <file> for the suite, see bench/report.ts; BENCH_HISTORY_PARTS=write,disk,reads
 * for some parts only)
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { HistoryQueries } from "../src/api/history-queries.js";
import { parseConfigText } from "../src/config/load.js";
import type { AdapterEntry } from "../src/domain/adapter.js";
import type { CheckReport } from "../src/domain/decide.js";
import type { JournalEvent } from "../src/domain/events.js";
import type { BreakerSnapshot, HealthState } from "../src/domain/health.js";
import {
  addTime,
  type BucketRow,
  type BucketTally,
  DAY_MS,
  EMPTY_TIME,
  HOUR_MS,
  latencyBin,
  MINUTE_MS,
  type TimeTally,
  timeOf,
} from "../src/domain/history.js";
import { HealthView } from "../src/engine/health-view.js";
import { HISTORY_CARRY, HistoryRecorder, StagedHistory } from "../src/engine/history-recorder.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import type { StoreCommit } from "../src/storage/store.js";
import { benchOptions } from "./report.js";
import {
  breakerSnapshots,
  DISTURBED_PCT,
  machineBusySeconds,
  percentiles,
  selectedParts,
} from "./support.js";
import { wiredEngine } from "./wired-engine.js";

const { quick, reporter } = benchOptions("history");

/** Which parts to run (a run by hand can take one at a time): write, disk, reads. */
const PARTS = selectedParts("BENCH_HISTORY_PARTS", ["write", "disk", "reads"]);

/** The daemon's defaults: an empty config file. */
const CONFIG = parseConfigText("", "bench.yaml", {});
const CHECK_INTERVAL_MS = 15_000;
/** The engine's batch timer (DEFAULT_ENGINE_OPTIONS.maxDelayMs). */
const BATCH_DELAY_MS = 20;
/** main.ts's ticker: every `everyMs`, at most `slice` adapters unobserved `afterMs`. */
const { afterMs: CARRY_AFTER_MS, everyMs: CARRY_EVERY_MS, slice: CARRY_SLICE } = HISTORY_CARRY;

const WRITE_ADAPTERS = quick ? 1_000 : 10_000;
const WARM_UP_ROUNDS = 2;
const MEASURED_ROUNDS = quick ? 4 : 20;
const PAIRS = quick ? 1 : 3;

const DISK_ADAPTERS = quick ? 100 : 1_000;
const MINUTES_KEPT_MS = CONFIG.history.minuteBucketsKeptMs;
const HOURS_KEPT_MS = CONFIG.history.hourBucketsKeptMs;
/** The second read file: bounded so that its fill takes seconds, not minutes. */
const WIDE_ADAPTERS = 10_000;
const WIDE_MINUTES_MS = 2 * HOUR_MS;
const WIDE_HOURS_MS = 7 * DAY_MS;
const READ_REPEATS = quick ? 3 : 9;
/** Past this much time in one figure's calls, no more than 3 are made (the slow reads). */
const READ_BUDGET_MS = 4_000;

/** A minute boundary (and an hour's): the fake clock's start, and where the filled files end. */
const START = Date.parse("2026-12-02T00:00:00Z");

const CATEGORIES = ["storage", "cache", "queue", "database", "orchestration", "secrets", "search"];
const PROVIDERS = ["s3", "gcs", "azure-blob", "minio", "redis", "kafka"];

const median = (values: readonly number[]) => percentiles(values).p50;
const mb = (bytes: number) => bytes / 1e6;
const count = (n: number) => n.toLocaleString("en-US");

/** How much CPU other processes used since it was made, as a percentage of one core. */
class OthersMeter {
  private readonly machine0 = machineBusySeconds();
  private readonly own0 = process.cpuUsage();
  private readonly t0 = performance.now();

  othersPct(): number {
    const seconds = (performance.now() - this.t0) / 1000;
    const own = process.cpuUsage(this.own0);
    const ownSeconds = (own.user + own.system) / 1e6;
    return Math.max(0, ((machineBusySeconds() - this.machine0 - ownSeconds) / seconds) * 100);
  }
}

/** A note for figures measured while other processes were busy, or nothing. */
function disturbance(othersPct: readonly number[]): string | undefined {
  const worst = Math.max(...othersPct);
  return worst > DISTURBED_PCT
    ? `disturbed: other processes used up to ${worst.toFixed(0)} % of a core`
    : undefined;
}

/** A small deterministic generator, so every run fills the same values. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A loopback check's latency: about 2 ms, log-normal with a 20 % spread. */
function latencyDraw(next: () => number): number {
  const normal = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return 2 * Math.exp(0.2 * normal);
}

function catalog(count: number, at: number): AdapterEntry[] {
  return Array.from({ length: count }, (_, index) => {
    const category = CATEGORIES[index % CATEGORIES.length] ?? "storage";
    const provider = PROVIDERS[Math.floor(index / CATEGORIES.length) % PROVIDERS.length] ?? "s3";
    const adapterId = `mahavishnu.adapter.${category}.${provider}-${index + 1}`;
    return {
      adapterId,
      project: "mahavishnu",
      domain: "adapter",
      category,
      provider,
      capabilities: ["read", "write"],
      factoryPath: `mahavishnu.adapters.${category}.${provider.replaceAll("-", "_")}:Adapter${index + 1}`,
      healthCheckUrl: `grpc://127.0.0.1:8690/${adapterId}`,
      metadata: {},
      registeredAt: Math.floor(at / 1000) - 3600,
      lastHeartbeat: Math.floor(at / 1000),
      registryStatus: "healthy",
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Write cost per check

interface WriteRun {
  cpuPerCheckUs: number;
  commitP50Ms: number;
  commitP99Ms: number;
  commitWallPerCheckUs: number;
  commits: number;
  historyRowsPerCommit: number;
  othersPct: number;
  /** With history: main.ts's ticker carrying a slice of unobserved adapters up to now (as if all watched). */
  carried?: { cpuMs: number; commitMs: number; rows: number };
}

type Carried = NonNullable<WriteRun["carried"]>;

/** Minutes without any check in which the ticker carries every adapter's history up to now. */
/** Ticks measured once no adapter was observed for the carry age (10,000 adapters take four). */
const CARRIED_TICKS = 4;

/** The daemon's store, counting the history rows its commits carry. */
class CountingStore extends SqliteStore {
  historyRows = 0;

  override commit(change: StoreCommit, now: number): JournalEvent[] {
    this.historyRows += change.history?.length ?? 0;
    return super.commit(change, now);
  }
}

/** The engine as main.ts wires it, over a fresh SqliteStore file, on a clock the bench moves. */
/** The engine as main.ts wires it, over a store that counts its commits (the same in both arms). */
function countedEngine(path: string, withHistory: boolean, clock: { now: number }) {
  const now = () => clock.now;
  const store = new CountingStore({ path, synchronous: CONFIG.storage.synchronous, now });
  const { engine, failedCommits } = wiredEngine({
    store,
    config: CONFIG,
    now,
    history: withHistory,
  });
  return { store, engine, failedCommits };
}

function writeRun(withHistory: boolean, resting: BreakerSnapshot): WriteRun {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-history-"));
  const path = join(dir, "healthd.db");
  const clock = { now: START };
  const others = new OthersMeter();
  const { store, engine, failedCommits } = countedEngine(path, withHistory, clock);
  try {
    const entries = catalog(WRITE_ADAPTERS, clock.now);
    engine.commitCatalog({ added: entries, updated: [], removed: [], events: [], at: clock.now });
    const next = random(7);
    const spacingMs = CHECK_INTERVAL_MS / WRITE_ADAPTERS;
    let batchStartedAt: number | undefined;
    let nextAdvanceAt = START + CARRY_EVERY_MS;
    const commitMs: number[] = [];
    const timedFlush = (at: number) => {
      clock.now = at;
      const began = performance.now();
      engine.flush();
      commitMs.push(performance.now() - began);
      batchStartedAt = undefined;
    };
    const cpuPerCheck: number[] = [];
    let measuredCommitsFrom = 0;
    let measuredRowsFrom = 0;
    for (let round = 0; round < WARM_UP_ROUNDS + MEASURED_ROUNDS; round++) {
      if (round === WARM_UP_ROUNDS) {
        measuredCommitsFrom = commitMs.length;
        measuredRowsFrom = store.historyRows;
      }
      const roundStart = START + (round + 1) * CHECK_INTERVAL_MS;
      const cpuBefore = process.cpuUsage();
      for (let index = 0; index < entries.length; index++) {
        // Whole milliseconds, as the daemon's clock gives them (the store keeps integers).
        const at = roundStart + Math.floor(index * spacingMs);
        // The batch timer fires 20 ms after the batch's first result.
        if (batchStartedAt !== undefined && at >= batchStartedAt + BATCH_DELAY_MS) {
          timedFlush(batchStartedAt + BATCH_DELAY_MS);
        }
        if (at >= nextAdvanceAt) {
          clock.now = nextAdvanceAt;
          engine.advanceHistory(nextAdvanceAt - CARRY_AFTER_MS, CARRY_SLICE);
          nextAdvanceAt += CARRY_EVERY_MS;
        }
        clock.now = at;
        const entry = entries[index] as AdapterEntry;
        const report: CheckReport = {
          adapterId: entry.adapterId,
          outcome: {
            ok: true,
            latencyMs: latencyDraw(next),
            detail: "SERVING",
            source: "probe",
            at,
          },
          breaker: resting,
          breakerTransitions: [],
          trialDueInMs: undefined,
          pushed: false,
          watching: false,
          at,
          jitterDraw: 0.5,
        };
        engine.recordCheck(report);
        batchStartedAt ??= at;
      }
      const cpu = process.cpuUsage(cpuBefore);
      if (round >= WARM_UP_ROUNDS) cpuPerCheck.push((cpu.user + cpu.system) / entries.length);
    }
    if (batchStartedAt !== undefined) timedFlush(batchStartedAt + BATCH_DELAY_MS);
    const measured = commitMs.slice(measuredCommitsFrom);
    const { p50, p99 } = percentiles(measured);
    const checks = MEASURED_ROUNDS * entries.length;
    const historyRowsPerCommit = (store.historyRows - measuredRowsFrom) / measured.length;
    // Then no check for a few minutes (every adapter watched, nothing pushed): each minute
    // the ticker stages every adapter, and the batch timer commits them in one transaction.
    const carried = { cpuMs: [] as number[], commitMs: [] as number[], rows: [] as number[] };
    if (withHistory) {
      let at = START + (WARM_UP_ROUNDS + MEASURED_ROUNDS + 1) * CHECK_INTERVAL_MS;
      // Past the carry age, then one tick after another, as main.ts's ticker runs.
      at += CARRY_AFTER_MS;
      for (let tick = 0; tick < CARRIED_TICKS; tick++) {
        at += CARRY_EVERY_MS;
        clock.now = at;
        const rowsBefore = store.historyRows;
        const cpuBefore = process.cpuUsage();
        engine.advanceHistory(at - CARRY_AFTER_MS, CARRY_SLICE);
        clock.now = at + BATCH_DELAY_MS;
        const flushBegan = performance.now();
        engine.flush();
        const done = performance.now();
        const cpu = process.cpuUsage(cpuBefore);
        carried.cpuMs.push((cpu.user + cpu.system) / 1000);
        carried.commitMs.push(done - flushBegan);
        carried.rows.push(store.historyRows - rowsBefore);
      }
    }
    if (failedCommits.count > 0) {
      reporter.problem(
        `${failedCommits.count} commits failed in a ${withHistory ? "with" : "without"}-history run: ${engine.status().lastError}`,
      );
    }
    engine.stop();
    store.close();
    return {
      cpuPerCheckUs: median(cpuPerCheck),
      commitP50Ms: p50,
      commitP99Ms: p99,
      commitWallPerCheckUs: (measured.reduce((sum, ms) => sum + ms, 0) * 1000) / checks,
      commits: measured.length,
      historyRowsPerCommit,
      ...(withHistory
        ? {
            carried: {
              cpuMs: median(carried.cpuMs),
              commitMs: median(carried.commitMs),
              rows: median(carried.rows),
            },
          }
        : {}),
      othersPct: others.othersPct(),
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureWrites(): Promise<void> {
  const { resting } = await breakerSnapshots(START, 60_000);
  const runs: Record<"with" | "without", WriteRun[]> = { with: [], without: [] };
  console.log(
    `\n1. write cost: ${count(WRITE_ADAPTERS)} adapters, ${WARM_UP_ROUNDS} + ${MEASURED_ROUNDS} rounds of 15 s, ${PAIRS} pairs`,
  );
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const arm of ["without", "with"] as const) {
      const run = writeRun(arm === "with", resting);
      runs[arm].push(run);
      console.log(
        `  pair ${pair + 1}, ${arm.padEnd(7)} history: CPU ${run.cpuPerCheckUs.toFixed(1)} µs/check, commit p50 ${run.commitP50Ms.toFixed(3)} ms p99 ${run.commitP99Ms.toFixed(3)} ms (${count(run.commits)} commits, ${run.historyRowsPerCommit.toFixed(1)} history rows each), commits ${run.commitWallPerCheckUs.toFixed(1)} µs/check; others ${run.othersPct.toFixed(0)} % of a core${run.carried ? `; ticker, one slice: ${run.carried.cpuMs.toFixed(0)} ms CPU, commit ${run.carried.commitMs.toFixed(0)} ms, ${count(run.carried.rows)} rows` : ""}`,
      );
    }
  }
  const settings = `in process: HealthEngine over a SqliteStore file wired as main.ts does, defaults (empty config: 15 s interval, synchronous normal); ${count(WRITE_ADAPTERS)} adapters, every check healthy (about 2 ms), checks spread evenly over each 15 s round on a fake clock; commits when the engine's batch timer would fire (engine.flush() 20 ms after a batch's first result), advanceHistory once a minute as main.ts; ${WARM_UP_ROUNDS} warm-up rounds then ${MEASURED_ROUNDS} measured; arms alternated without/with, ${PAIRS} pair(s), a fresh file each; medians of the runs${quick ? "; quick run" : ""}`;
  const figures: [string, string, (run: WriteRun) => number][] = [
    ["CPU per check", "µs", (run) => run.cpuPerCheckUs],
    ["commit wall time p50", "ms", (run) => run.commitP50Ms],
    ["commit wall time p99", "ms", (run) => run.commitP99Ms],
    ["commit wall time per check", "µs", (run) => run.commitWallPerCheckUs],
  ];
  const disturbed = disturbance([...runs.with, ...runs.without].map((run) => run.othersPct));
  for (const [name, unit, of] of figures) {
    const without = median(runs.without.map(of));
    const withHistory = median(runs.with.map(of));
    const ratios = runs.with.map((run, index) => of(run) / of(runs.without[index] as WriteRun));
    const row = { size: WRITE_ADAPTERS, settings, ...(disturbed ? { note: disturbed } : {}) };
    reporter.row({ ...row, name: `${name}, without history`, value: without, unit });
    reporter.row({ ...row, name: `${name}, with history (defaults)`, value: withHistory, unit });
    reporter.row({
      ...row,
      name: `${name}, with ÷ without history`,
      value: median(ratios),
      unit: "×",
      note: [`per pair: ${ratios.map((ratio) => ratio.toFixed(2)).join(", ")}`, disturbed]
        .filter(Boolean)
        .join("; "),
    });
  }
  const carriedRuns = runs.with.flatMap((run) => (run.carried ? [run.carried] : []));
  const carriedSettings = `${settings}; then no check for ${CARRY_AFTER_MS / 60_000} minutes and ${CARRIED_TICKS} ticks more (as if every adapter were watched and nothing pushed): main.ts's ticker (advanceHistory every ${CARRY_EVERY_MS / 1000} s, at most ${CARRY_SLICE} adapters unobserved ${CARRY_AFTER_MS / 60_000} min) stages a slice, committed by one flush; medians of the ticks, then of the runs`;
  for (const [name, unit, value] of [
    ["ticker, one slice of unobserved adapters: CPU", "ms", (c: Carried) => c.cpuMs],
    [
      "ticker, one slice of unobserved adapters: commit wall time",
      "ms",
      (c: Carried) => c.commitMs,
    ],
    ["ticker, one slice of unobserved adapters: history rows", "rows", (c: Carried) => c.rows],
  ] as const) {
    reporter.row({
      size: WRITE_ADAPTERS,
      settings: carriedSettings,
      name,
      value: median(carriedRuns.map(value)),
      unit,
      ...(disturbed ? { note: disturbed } : {}),
    });
  }
  reporter.row({
    size: WRITE_ADAPTERS,
    settings,
    name: "history rows per commit",
    value: median(runs.with.map((run) => run.historyRowsPerCommit)),
    unit: "rows",
    note: `commits per run: ${runs.with.map((run) => count(run.commits)).join(", ")}`,
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Disk per adapter

/** Tallies to pick from: real-looking minutes and hours, a few of them with trouble in them. */
function templates(next: () => number) {
  const tally = (
    checks: number,
    failures: number,
    time: Partial<TimeTally>,
    spanMs: number,
  ): BucketTally => {
    const latency = new Map<number, number>();
    for (let i = 0; i < checks - failures; i++) {
      const bin = latencyBin(latencyDraw(next));
      latency.set(bin, (latency.get(bin) ?? 0) + 1);
    }
    const unhealthyMs = time.unhealthyMs ?? 0;
    return {
      ...EMPTY_TIME,
      ...time,
      healthyMs: spanMs - unhealthyMs,
      checks,
      failures,
      latency,
    };
  };
  const checksIn = (spanMs: number) => spanMs / CHECK_INTERVAL_MS;
  const minutes = Array.from({ length: 64 }, () => tally(4, 0, {}, MINUTE_MS));
  // One check failed: its 15 s until the next check counted unhealthy.
  const troubledMinute = tally(4, 1, { unhealthyMs: 15_000 }, MINUTE_MS);
  const hours = Array.from({ length: 64 }, () => tally(checksIn(HOUR_MS), 0, {}, HOUR_MS));
  const troubledHours = Array.from({ length: 8 }, (_, index) =>
    tally(checksIn(HOUR_MS), index + 1, { unhealthyMs: (index + 1) * 15_000 }, HOUR_MS),
  );
  return { minutes, troubledMinute, hours, troubledHours };
}

interface Fill {
  adapters: number;
  /** How busy other processes were during the fill (% of a core). */
  othersPct: number;
  minuteRows: number;
  hourRows: number;
  fillSeconds: number;
  end: number;
}

/**
 * A file holding `adapters` adapters (catalog and a healthy verdict each) with `hoursMs` of
 * hour buckets and `minutesMs` of minute buckets ending at `end`, committed in time order:
 * one commit per hour for all adapters before the minute buckets start, then one per minute
 * (with the hour's rows at each hour's last minute). Rows are written once each; the daemon
 * writes an open bucket again at every check, which ends in the same row.
 */
function fillFile(path: string, adapters: number, hoursMs: number, minutesMs: number): Fill {
  const end = START;
  const began = performance.now();
  const others = new OthersMeter();
  const next = random(11);
  const { minutes, troubledMinute, hours, troubledHours } = templates(next);
  const entries = catalog(adapters, end - hoursMs);
  const store = new SqliteStore({ path, synchronous: CONFIG.storage.synchronous, now: () => end });
  const states: HealthState[] = entries.map((entry) => ({
    adapterId: entry.adapterId,
    status: "healthy",
    since: end - hoursMs,
    lastChecked: end - 5_000,
    latencyMs: 2,
    source: "probe",
    reason: "SERVING",
    consecutiveSuccesses: 5,
    consecutiveFailures: 0,
    registryStatus: "healthy",
    flapping: false,
    recentTransitions: [],
    breaker: null,
    checkIntervalMs: CHECK_INTERVAL_MS,
  }));
  store.commit({ upserted: entries, states, events: [] }, end - hoursMs);
  // As if the daemon had run 30 days before the oldest hour kept: totals of a long-lived file.
  const through = entries.map(() => ({ ...EMPTY_TIME, healthyMs: 30 * DAY_MS }));
  const minutesFrom = end - minutesMs;
  let minuteRows = 0;
  let hourRows = 0;
  for (let hour = end - hoursMs; hour < end; hour += HOUR_MS) {
    const hourRowsOf = (): BucketRow[] =>
      entries.map((entry, index) => {
        const tally =
          next() < 0.02
            ? (troubledHours[Math.floor(next() * troubledHours.length)] as BucketTally)
            : (hours[Math.floor(next() * hours.length)] as BucketTally);
        const total = addTime(through[index] as TimeTally, timeOf(tally));
        through[index] = total;
        return {
          adapterId: entry.adapterId,
          granularity: "hour",
          start: hour,
          tally,
          through: total,
        };
      });
    if (hour < minutesFrom) {
      const rows = hourRowsOf();
      store.commit({ history: rows, events: [] }, hour + HOUR_MS);
      hourRows += rows.length;
      continue;
    }
    for (let minute = hour; minute < hour + HOUR_MS; minute += MINUTE_MS) {
      const rows: BucketRow[] = entries.map((entry) => ({
        adapterId: entry.adapterId,
        granularity: "minute",
        start: minute,
        tally:
          next() < 0.005
            ? troubledMinute
            : (minutes[Math.floor(next() * minutes.length)] as BucketTally),
      }));
      minuteRows += rows.length;
      if (minute + MINUTE_MS === hour + HOUR_MS) {
        const closing = hourRowsOf();
        hourRows += closing.length;
        rows.push(...closing);
      }
      store.commit({ history: rows, events: [] }, minute + MINUTE_MS);
    }
  }
  store.close();
  return {
    adapters,
    othersPct: others.othersPct(),
    minuteRows,
    hourRows,
    fillSeconds: (performance.now() - began) / 1000,
    end,
  };
}

interface TableBytes {
  pages: number;
  bytes: number;
  payload: number;
  unused: number;
}

/** The file's bytes after a checkpoint, and each table's and index's from dbstat (when built in). */
function measureFile(path: string) {
  const db = new Database(path);
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const freelist = db.pragma("freelist_count", { simple: true }) as number;
    let tables: Map<string, TableBytes> | undefined;
    try {
      const rows = db
        .prepare(
          "SELECT name, COUNT(*) AS pages, SUM(pgsize) AS bytes, SUM(payload) AS payload, SUM(unused) AS unused FROM dbstat GROUP BY name",
        )
        .all() as ({ name: string } & TableBytes)[];
      tables = new Map(rows.map(({ name, ...bytes }) => [name, bytes]));
    } catch {
      tables = undefined;
    }
    return { fileBytes: statSync(path).size, pageSize, freelist, tables };
  } finally {
    db.close();
  }
}

function reportDisk(path: string, fill: Fill): void {
  const file = measureFile(path);
  const settings = `${count(fill.adapters)} adapters at full default retention (${MINUTES_KEPT_MS / HOUR_MS} h of minute buckets, ${HOURS_KEPT_MS / DAY_MS} days of hour buckets: ${count(fill.minuteRows)} minute and ${count(fill.hourRows)} hour rows), committed through SqliteStore.commit in time order (one commit per minute for all adapters), every check healthy at about 2 ms, 4 checks a minute, 0.5 % of minutes and 2 % of hours with failures; page size ${file.pageSize}; after wal_checkpoint(TRUNCATE)${quick ? "; quick run" : ""}`;
  const sizes = file.tables;
  const of = (name: string) => sizes?.get(name)?.bytes ?? 0;
  // The tables have no index besides their primary key (retention deletes through it).
  const minuteBytes = of("history_minute");
  const hourBytes = of("history_hour");
  const historyBytes =
    minuteBytes + hourBytes + of("history_adapters") + of("sqlite_autoindex_history_adapters_1");
  const perAdapter = sizes ? historyBytes / fill.adapters : file.fileBytes / fill.adapters;
  console.log(
    `\n2. disk: ${count(fill.adapters)} adapters filled in ${fill.fillSeconds.toFixed(1)} s; file ${mb(file.fileBytes).toFixed(1)} MB, ${count(file.freelist)} free pages`,
  );
  if (sizes) {
    for (const [name, bytes] of [...sizes].sort((a, b) => b[1].bytes - a[1].bytes)) {
      console.log(
        `  ${name.padEnd(36)} ${mb(bytes.bytes).toFixed(2).padStart(9)} MB in ${count(bytes.pages)} pages, payload ${mb(bytes.payload).toFixed(2)} MB, unused ${mb(bytes.unused).toFixed(2)} MB`,
      );
    }
  } else {
    console.log("  (this SQLite build has no dbstat: per-table figures left out)");
  }
  const row = { size: fill.adapters, settings };
  const note = sizes ? undefined : "no dbstat in this SQLite build";
  reporter.row({
    ...row,
    name: "bytes per minute row",
    value: sizes ? minuteBytes / fill.minuteRows : null,
    unit: "B",
    ...(note ? { note } : {}),
  });
  reporter.row({
    ...row,
    name: "bytes per hour row",
    value: sizes ? hourBytes / fill.hourRows : null,
    unit: "B",
  });
  reporter.row({ ...row, name: "history per adapter", value: perAdapter / 1000, unit: "KB" });
  reporter.row({
    ...row,
    name: "whole file per adapter (catalog and verdict included)",
    value: file.fileBytes / fill.adapters / 1000,
    unit: "KB",
  });
  for (const adapters of [10_000, 50_000]) {
    reporter.row({
      size: adapters,
      settings: `extrapolated from ${count(fill.adapters)} adapters: history per adapter × adapters`,
      name: "history on disk at full default retention",
      value: mb(perAdapter * adapters),
      unit: "MB",
    });
  }
  const disturbed = disturbance([fill.othersPct]);
  reporter.row({
    ...row,
    name: "fill time",
    value: fill.fillSeconds,
    unit: "s",
    ...(disturbed ? { note: disturbed } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// 3. Read cost

/**
 * Median wall time of calls after one warm-up call: `READ_REPEATS` of them, or fewer (at
 * least 3) once they have taken `READ_BUDGET_MS`; and the answer's JSON size.
 */
function timed(call: () => unknown): { ms: number; calls: number; jsonBytes: number } {
  const answer = call();
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < READ_REPEATS && (samples.length < 3 || spent < READ_BUDGET_MS)) {
    const began = performance.now();
    call();
    const took = performance.now() - began;
    samples.push(took);
    spent += took;
  }
  return {
    ms: median(samples),
    calls: samples.length,
    jsonBytes: Buffer.byteLength(JSON.stringify(answer)),
  };
}

function measureReads(path: string, fill: Fill, describe: string): void {
  const now = fill.end + 10_000;
  const store = new SqliteStore({ path, synchronous: CONFIG.storage.synchronous, now: () => now });
  try {
    const view = new HealthView(
      "127.0.0.1:8679",
      CONFIG.probes.stale,
      () => now,
      () => undefined,
    );
    view.restore(store.loadCatalog(), store.loadHealth());
    // What the daemon holds: every adapter observed 5 s ago, carried up to now from its last observation.
    const recorder = new HistoryRecorder(store, CONFIG.probes.stale);
    const staged = new StagedHistory();
    for (const state of store.loadHealth()) {
      recorder.stage(staged, state.adapterId, recorder.observation(state, false, now - 5_000), {
        ok: true,
        latencyMs: 2,
      });
    }
    recorder.adopt(staged);
    const queries = new HistoryQueries({
      store,
      now: () => now,
      minuteBucketsKeptMs: () => MINUTES_KEPT_MS,
      lastObservation: (adapterId) => recorder.lastObservation(adapterId),
    });
    const all = view.list();
    const page = { offset: 0, limit: 100 };
    const one = all[0]?.adapter_id ?? "";
    const settings = `${describe}; HistoryQueries over the daemon's SqliteStore on the file (warm page cache), with the daemon's projection (every adapter last observed 5 s before now); median of up to ${READ_REPEATS} calls (at least 3) after one, the adapter list made beforehand${quick ? "; quick run" : ""}`;
    const cases: [string, () => unknown][] = [
      ["uptime, all adapters, 1h", () => queries.uptime(all, "1h")],
      ["uptime, all adapters, 24h", () => queries.uptime(all, "24h")],
      ["uptime, all adapters, 90d", () => queries.uptime(all, "90d")],
      [
        "board, 100 adapters, 1h × 90",
        () => queries.board(all, { bucket: "1h", buckets: 90, ...page }),
      ],
      [
        "board, 100 adapters, 1m × 90",
        () => queries.board(all, { bucket: "1m", buckets: 90, ...page }),
      ],
      [
        "board, 100 adapters, 1d × 90",
        () => queries.board(all, { bucket: "1d", buckets: 90, ...page }),
      ],
      [
        "adapterHistory, one adapter, 24h / 15m",
        () => queries.adapterHistory(one, { window: "24h", bucket: "15m" }),
      ],
      [
        "adapterHistory, one adapter, 90d / 1d",
        () => queries.adapterHistory(one, { window: "90d", bucket: "1d" }),
      ],
    ];
    console.log(`\n3. reads: ${describe}`);
    for (const [name, call] of cases) {
      const others = new OthersMeter();
      const { ms, calls, jsonBytes } = timed(call);
      const disturbed = disturbance([others.othersPct()]);
      console.log(
        `  ${name.padEnd(42)} ${ms.toFixed(2).padStart(8)} ms  (answer ${count(jsonBytes)} B of JSON)`,
      );
      reporter.row({
        size: fill.adapters,
        settings,
        name,
        value: ms,
        unit: "ms",
        note: [`median of ${calls} calls; answer ${count(jsonBytes)} bytes of JSON`, disturbed]
          .filter(Boolean)
          .join("; "),
      });
    }
  } finally {
    store.close();
  }
}

// ---------------------------------------------------------------------------------------------

console.log(
  `history benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}${quick ? " (quick)" : ""}`,
);
if (PARTS.has("write")) await measureWrites();

if (PARTS.has("disk") || PARTS.has("reads")) {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-history-disk-"));
  try {
    const fullPath = join(dir, "full.db");
    const full = fillFile(fullPath, DISK_ADAPTERS, HOURS_KEPT_MS, MINUTES_KEPT_MS);
    if (PARTS.has("disk")) reportDisk(fullPath, full);
    if (PARTS.has("reads")) {
      measureReads(
        fullPath,
        full,
        `${count(full.adapters)} adapters, full default retention (48 h of minutes, 90 days of hours)`,
      );
    }
    if (PARTS.has("reads") && !quick) {
      rmSync(fullPath, { force: true });
      const widePath = join(dir, "wide.db");
      const wide = fillFile(widePath, WIDE_ADAPTERS, WIDE_HOURS_MS, WIDE_MINUTES_MS);
      console.log(
        `\n(${count(WIDE_ADAPTERS)}-adapter file filled in ${wide.fillSeconds.toFixed(1)} s)`,
      );
      measureReads(
        widePath,
        wide,
        `${count(wide.adapters)} adapters, 7 days of hour and 2 h of minute buckets (a bounded fill, not full retention)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
reporter.finish();
