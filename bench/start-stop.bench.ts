/**
 * Start and stop with a large database: restart → ready, the first round, SIGTERM → exit.
 *
 * For each size N the simulator runs in its own process (`oneiric-healthd simulate` with
 * `generate: {count: N, endpoint: grpc}`), and the database is written directly through the
 * daemon's own store (`SqliteStore.commit`, batches of 5,000): the simulator's catalog as
 * ListAdapters serves it (screened as a sync would), a verdict per adapter with its breaker
 * snapshot (90 % at rest, 8 % with failures counted, 2 % open since an hour ago, so their
 * trial is due at once) and a journal in which each verdict is the last `health_changed` of
 * its adapter. Each run starts from a copy of that file.
 *
 * The daemon (`oneiric-healthd run`, its own process) runs at its DEFAULT settings: only the
 * registry address, the database path and the listen ports are set. Runs, per size
 * (`BENCH_START_STOP_RUNS`, a comma-separated list of `down`, `up`, `early`; by default `up`
 * alone, which measures every figure the goals and the growth with size need):
 * - **registry down** (`down`): the registry address is a closed port (the adapters' own endpoints, on
 *   the simulator, answer): spawn → `/readyz` 200, RSS at ready; SIGTERM 5 s after ready
 *   (first round under way) → exit.
 * - **registry up** (`up`): spawn → `/readyz` 200, RSS at ready, spawn → every adapter checked since
 *   the spawn (read from the database file, read-only, every second), the first round's peak
 *   checks per second (over any 5 s); then SIGTERM in steady state (10 s after the first
 *   round) → exit.
 * - **registry up, stop in the first round** (`early`): SIGTERM 5 s after ready → exit.
 * After every stop the database is checked: exit code 0, `integrity_check` ok, the journal's
 * seq contiguous, every verdict matched by its adapter's last `health_changed` event.
 *
 * The daemon is started through `bin/oneiric-healthd.js`, which in a checkout compiles the
 * TypeScript with tsx on the fly: spawn → ready includes that (about 0.3-0.5 s here; the
 * daemon's own "ready" log line says how long it took from its own start).
 *
 * The first round is waited for until 4 intervals after the spawn (60 s at defaults, twice the
 * goal at 100,000; quick: 30 s); a round not done by then is reported as a lower bound, with
 * the adapters checked by then, and the daemon is stopped in the round.
 *
 * Run: npx tsx bench/start-stop.bench.ts [--quick] [--report <file>]   (--quick: 2,000
 * adapters, shorter waits; --report for the suite, see bench/report.ts)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, get as httpGet } from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { parseConfigText } from "../src/config/load.js";
import type { AdapterEntry } from "../src/domain/adapter.js";
import { screenEntries } from "../src/domain/catalog.js";
import type { NewEvent } from "../src/domain/events.js";
import type { HealthState } from "../src/domain/health.js";
import { GrpcRegistryClient } from "../src/registry/registry-client.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { goalAt } from "./goals.js";
import { benchOptions, type Reporter } from "./report.js";
import { breakerSnapshots, freePort, processCpuSeconds, rssMiB } from "./support.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
const { quick: QUICK, reporter } = benchOptions("start-stop");
const SIZES = QUICK
  ? [2_000]
  : (process.env.BENCH_SIZES ?? "10000,50000,100000").split(",").map(Number);
if (SIZES.some((size) => !Number.isInteger(size) || size <= 0)) {
  throw new Error(`BENCH_SIZES must be positive whole numbers, e.g. 10000,50000 (got ${SIZES})`);
}
const RUN_KINDS = ["down", "up", "early"] as const;
type RunKind = (typeof RUN_KINDS)[number];
const RUNS = (process.env.BENCH_START_STOP_RUNS ?? "up").split(",").filter(Boolean);
const unknownRuns = RUNS.filter((run) => !(RUN_KINDS as readonly string[]).includes(run));
if (unknownRuns.length > 0 || RUNS.length === 0) {
  throw new Error(
    `BENCH_START_STOP_RUNS: ${unknownRuns.length > 0 ? `no run named ${unknownRuns.join(", ")}` : "empty"} (known: ${RUN_KINDS.join(", ")})`,
  );
}
const DEFAULTS = parseConfigText("{}", "defaults.yaml", {});
const INTERVAL_MS = DEFAULTS.adapters.defaults.probes.intervalMs;
/** How long after the spawn to wait for the first round before reporting how far it got. */
const FIRST_ROUND_LIMIT_MS = QUICK ? 30_000 : 4 * INTERVAL_MS;
const STOP_AFTER_READY_MS = QUICK ? 3_000 : 5_000;
const STEADY_AFTER_ROUND_MS = QUICK ? 3_000 : 10_000;

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(130));
}

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `oneiric-healthd-startstop-${label}-`));
  tempDirs.push(dir);
  return dir;
}

interface Child {
  proc: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  /** Lines at warn and above (pino JSON) or not JSON, for the report. */
  complaints: Map<string, number>;
  readyLine?: Record<string, unknown>;
}

function startChild(args: string[], onLine?: (line: string) => void): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`could not start ${args[0]}`);
  children.add(proc);
  const child: Child = {
    proc,
    pid: proc.pid,
    complaints: new Map(),
    exited: new Promise((resolve) => proc.once("exit", (code) => resolve(code))),
  };
  void child.exited.then(() => children.delete(proc));
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        onLine?.(line);
        let parsed: { level?: number; msg?: string; err?: { message?: string } } | undefined;
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          parsed = undefined;
        }
        if (parsed?.msg === "ready") child.readyLine = parsed as Record<string, unknown>;
        if (parsed && (parsed.level ?? 0) < 40) continue;
        const key = parsed
          ? `${parsed.msg ?? ""}${parsed.err?.message ? `: ${parsed.err.message}` : ""}`
          : line.slice(0, 200);
        child.complaints.set(key, (child.complaints.get(key) ?? 0) + 1);
      }
    });
  }
  return child;
}

function getStatus(url: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent, timeout: 2_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

// ---------------------------------------------------------------------------------------------
// The simulator and the database

async function startSimulator(count: number): Promise<{ child: Child; port: number }> {
  const dir = tempDir("scenario");
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(scenario, `generate: { count: ${count}, endpoint: grpc }\n`);
  const port = await freePort();
  let started: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  // Watch streams re-read the simulator's time model once a second, not every 100 ms: with
  // 100,000 streams open the simulator would otherwise spend a core on it (its cost, not the
  // daemon's, on the same two cores).
  const child = startChild(
    [
      "simulate",
      "--scenario",
      scenario,
      "--listen",
      `127.0.0.1:${port}`,
      "--watch-interval-ms",
      "1000",
    ],
    (line) => {
      if (line.includes("simulating")) started();
    },
  );
  await Promise.race([
    ready,
    child.exited.then((code) => {
      throw new Error(`simulator exited with ${code}`);
    }),
  ]);
  return { child, port };
}

async function buildDatabase(path: string, registryPort: number): Promise<{ adapters: number }> {
  const client = new GrpcRegistryClient({
    host: "127.0.0.1",
    port: registryPort,
    timeoutMs: 60_000,
    useTls: false,
  });
  const { entries } = screenEntries(await client.listAdapters());
  client.close();
  const at = Date.now() - 60_000;
  // Opened an hour ago: the half-open trial is due at the first check.
  const breakers = await breakerSnapshots(at, 3_600_000);
  const store = new SqliteStore({ path });
  const batch = 5_000;
  for (let start = 0; start < entries.length; start += batch) {
    const slice: AdapterEntry[] = entries.slice(start, start + batch);
    const states: HealthState[] = [];
    const events: NewEvent[] = [];
    slice.forEach((entry, offset) => {
      const index = start + offset;
      const isOpen = index % 50 === 7;
      const breaker = isOpen
        ? breakers.open
        : index % 12 === 3
          ? breakers.counting
          : breakers.resting;
      const status = isOpen ? "unhealthy" : "healthy";
      const reason = isOpen ? "connection refused" : "SERVING";
      events.push({
        type: "adapter.discovered",
        subject: entry.adapterId,
        time: at - 1_000,
        data: { adapter_id: entry.adapterId },
      });
      events.push({
        type: "adapter.health_changed",
        subject: entry.adapterId,
        time: at,
        data: { from: "unknown", to: status, reason },
      });
      states.push({
        adapterId: entry.adapterId,
        status,
        since: at,
        lastChecked: at,
        latencyMs: 2,
        source: "probe",
        reason,
        consecutiveSuccesses: isOpen ? 0 : 5,
        consecutiveFailures: isOpen ? 5 : 0,
        registryStatus: entry.registryStatus,
        flapping: false,
        recentTransitions: [at],
        breaker,
        checkIntervalMs: INTERVAL_MS,
      });
    });
    store.commit({ upserted: slice, states, events }, at);
  }
  store.commit(
    {
      registry: {
        endpoint: `127.0.0.1:${registryPort}`,
        reachable: true,
        lastSync: at,
        lastAttempt: at,
        lastError: null,
      },
      events: [],
    },
    at,
  );
  store.close();
  return { adapters: entries.length };
}

// ---------------------------------------------------------------------------------------------
// The daemon

interface Daemon {
  child: Child;
  base: string;
  agent: Agent;
  spawnedAt: number;
  spawnedWall: number;
}

async function spawnDaemon(dbPath: string, registryPort: number): Promise<Daemon> {
  const dir = tempDir("daemon");
  const configPath = join(dir, "healthd.yaml");
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  // Defaults everywhere but the addresses and the file.
  writeFileSync(
    configPath,
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(dbPath)} }
  http: { listen: "127.0.0.1:${httpPort}" }
  grpc: { listen: "127.0.0.1:${grpcPort}" }
`,
  );
  const spawnedWall = Date.now();
  const spawnedAt = performance.now();
  const child = startChild(["run", "--config", configPath]);
  return {
    child,
    base: `http://127.0.0.1:${httpPort}`,
    agent: new Agent({ keepAlive: true, maxSockets: 2 }),
    spawnedAt,
    spawnedWall,
  };
}

/** Spawn → /readyz 200 (ms), the note it carried, and RSS then. */
async function untilReady(daemon: Daemon): Promise<{ ms: number; note: string; rss: number }> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (daemon.child.proc.exitCode !== null) {
      throw new Error(`daemon exited with ${daemon.child.proc.exitCode} before ready`);
    }
    const answer = await getStatus(`${daemon.base}/readyz`, daemon.agent).catch(() => undefined);
    if (answer?.status === 200) {
      const ms = performance.now() - daemon.spawnedAt;
      const body = JSON.parse(answer.body) as { note?: string };
      return { ms, note: body.note ?? "", rss: rssMiB(daemon.child.pid) };
    }
    if (performance.now() > deadline) throw new Error("daemon not ready within 120 s");
    await sleep(20);
  }
}

function checkedSince(dbPath: string, since: number): number {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    return (
      db.prepare("SELECT COUNT(*) AS n FROM adapter_health WHERE last_checked >= ?").get(since) as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

/** Spawn → every adapter checked since the spawn, and the peak rate over any 5 s. */
async function firstRound(
  daemon: Daemon,
  dbPath: string,
  count: number,
): Promise<{ ms: number | undefined; checked: number; peakPerSec: number; cpuPct: number }> {
  const samples: { t: number; n: number }[] = [];
  const cpu0 = processCpuSeconds(daemon.child.pid);
  const t0 = performance.now();
  let checked = 0;
  let ms: number | undefined;
  while (performance.now() - daemon.spawnedAt < FIRST_ROUND_LIMIT_MS) {
    checked = checkedSince(dbPath, daemon.spawnedWall);
    const t = performance.now();
    samples.push({ t, n: checked });
    if (checked >= count) {
      ms = t - daemon.spawnedAt;
      break;
    }
    await sleep(1_000);
  }
  const cpuPct =
    ((processCpuSeconds(daemon.child.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
  let peakPerSec = 0;
  for (const later of samples) {
    const earlier = samples.find((sample) => later.t - sample.t <= 5_500 && later.t > sample.t);
    if (!earlier || later.t - earlier.t < 4_500) continue;
    peakPerSec = Math.max(peakPerSec, ((later.n - earlier.n) / (later.t - earlier.t)) * 1000);
  }
  return { ms, checked, peakPerSec, cpuPct };
}

/** SIGTERM → exit (ms) and the exit code. */
async function stopDaemon(daemon: Daemon): Promise<{ ms: number; code: number | null | string }> {
  const t0 = performance.now();
  daemon.child.proc.kill("SIGTERM");
  const code = await Promise.race([
    daemon.child.exited,
    sleep(30_000).then(() => "still running after 30 s"),
  ]);
  const ms = performance.now() - t0;
  if (typeof code === "string") {
    daemon.child.proc.kill("SIGKILL");
    await daemon.child.exited;
  }
  daemon.agent.destroy();
  return { ms, code };
}

/** What a stop must leave: a sound file whose verdicts agree with their journal. */
function soundness(dbPath: string): string {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    const bounds = db
      .prepare("SELECT MIN(seq) AS low, MAX(seq) AS high, COUNT(*) AS n FROM events")
      .get() as { low: number; high: number; n: number };
    const contiguous = bounds.n === bounds.high - bounds.low + 1;
    const mismatched = (
      db
        .prepare(
          `SELECT COUNT(*) AS n FROM adapter_health h
           LEFT JOIN (SELECT subject, json_extract(data, '$.to') AS status FROM events
                      WHERE seq IN (SELECT MAX(seq) FROM events
                                    WHERE type = 'adapter.health_changed' GROUP BY subject)) e
             ON e.subject = h.adapter_id
           WHERE h.status <> 'unknown' AND (e.status IS NULL OR e.status <> h.status)`,
        )
        .get() as { n: number }
    ).n;
    const problems = [
      integrity === "ok" ? "" : `integrity ${String(integrity)}`,
      contiguous
        ? ""
        : `journal not contiguous (${bounds.n} events in ${bounds.low}..${bounds.high})`,
      mismatched === 0 ? "" : `${mismatched} verdicts not matched by their last event`,
    ].filter((text) => text !== "");
    return problems.length === 0 ? "sound" : problems.join("; ");
  } finally {
    db.close();
  }
}

function complaints(child: Child): string {
  const lines = [...child.complaints.entries()].map(([key, n]) => `${n} × ${key}`);
  return lines.length === 0 ? "" : `\n      warn+: ${lines.slice(0, 6).join(" | ")}`;
}

function daemonReadyMs(daemon: Daemon): string {
  const line = daemon.child.readyLine;
  const time = typeof line?.time === "number" ? line.time : undefined;
  return time === undefined ? "?" : `${((time - daemon.spawnedWall) / 1000).toFixed(2)}`;
}

// ---------------------------------------------------------------------------------------------

interface Row {
  count: number;
  run: string;
  readyS: string;
  note: string;
  rss: string;
  roundS: string;
  peak: string;
  stopAt: string;
  stopS: string;
  exit: string;
  db: string;
}

const fmt = (ms: number | undefined) => (ms === undefined ? "–" : (ms / 1000).toFixed(2));
const MIB_IN_MB = 1.048_576;

const RUN_PLANS: Record<
  RunKind,
  { label: string; registryUp: boolean; plan: "stop-in-round" | "round-then-steady" }
> = {
  down: { label: "registry down", registryUp: false, plan: "stop-in-round" },
  up: { label: "registry up", registryUp: true, plan: "round-then-steady" },
  early: { label: "registry up, stop in the first round", registryUp: true, plan: "stop-in-round" },
};

function settingsOf(kind: RunKind): string {
  const { registryUp, plan } = RUN_PLANS[kind];
  const stop =
    plan === "stop-in-round"
      ? `SIGTERM ${STOP_AFTER_READY_MS / 1000} s after ready`
      : `SIGTERM ${STEADY_AFTER_ROUND_MS / 1000} s after every adapter was checked since the spawn (read from the database file every second), or, when that takes over ${FIRST_ROUND_LIMIT_MS / 1000} s after the spawn, then, in the first round`;
  return [
    `daemon: oneiric-healthd run (bin/oneiric-healthd.js: tsx compiles the sources, included in spawn → ready) at defaults, only oneiric_mcp.grpc_host/grpc_port, storage.path and the listen addresses set (interval ${INTERVAL_MS / 1000} s, startup_rate_per_sec ${DEFAULTS.probes.startupRatePerSec}, startup_max_rate_per_sec ${DEFAULTS.probes.startupMaxRatePerSec}, concurrency ${DEFAULTS.probes.concurrency}, watch ${DEFAULTS.adapters.defaults.probes.watch}, registry_check ${DEFAULTS.adapters.defaults.probes.registryCheck})`,
    "database: N adapters written through SqliteStore.commit (the simulator's catalog, a verdict each: 90 % of breakers at rest, 8 % counting failures, 2 % open an hour ago; every verdict its adapter's last health_changed event)",
    `simulator: generate: { count: N, endpoint: grpc }, --watch-interval-ms 1000, in its own process`,
    registryUp ? "registry up" : "registry down (a closed port; the adapters' endpoints answer)",
    stop,
    ...(QUICK ? ["quick run"] : []),
  ].join("; ");
}

async function runOnce(
  count: number,
  pristine: string,
  registryPort: number,
  kind: RunKind,
): Promise<Row> {
  const { label, plan } = RUN_PLANS[kind];
  const settings = settingsOf(kind);
  const dir = tempDir("run");
  const dbPath = join(dir, "healthd.db");
  copyFileSync(pristine, dbPath);
  const daemon = await spawnDaemon(dbPath, registryPort);
  const ready = await untilReady(daemon);
  reporter.row({
    name: `${label}: spawn → ready`,
    size: count,
    settings,
    value: ready.ms / 1000,
    unit: "s",
    ...goalIfAt("ready-100k", count),
    ...(ready.note ? { note: `/readyz said: ${ready.note}` } : {}),
  });
  reporter.row({
    name: `${label}: RSS at ready`,
    size: count,
    settings,
    value: ready.rss * MIB_IN_MB,
    unit: "MB",
  });
  let roundS = "–";
  let peak = "–";
  let stopAt: string;
  if (plan === "stop-in-round") {
    await sleep(STOP_AFTER_READY_MS);
    const checked = checkedSince(dbPath, daemon.spawnedWall);
    stopAt = `round (${checked.toLocaleString("en")} checked)`;
  } else {
    const round = await firstRound(daemon, dbPath, count);
    roundS =
      round.ms === undefined
        ? `> ${FIRST_ROUND_LIMIT_MS / 1000} (${round.checked.toLocaleString("en")})`
        : fmt(round.ms);
    peak = `${Math.round(round.peakPerSec).toLocaleString("en")}/s, CPU ${Math.round(round.cpuPct)} %`;
    reporter.row({
      name: `${label}: spawn → every adapter checked`,
      size: count,
      settings,
      value: (round.ms ?? FIRST_ROUND_LIMIT_MS) / 1000,
      unit: "s",
      ...goalIfAt("first-verdict-100k", count),
      ...(round.ms === undefined
        ? {
            note: `lower bound: ${(count - round.checked).toLocaleString("en-US")} of ${count.toLocaleString("en-US")} adapters not yet checked since the spawn when the bench stopped waiting`,
          }
        : {}),
    });
    reporter.row({
      name: `${label}: first round, peak checks/s over 5 s`,
      size: count,
      settings,
      value: round.peakPerSec,
      unit: "/s",
    });
    reporter.row({
      name: `${label}: first round, daemon CPU`,
      size: count,
      settings,
      value: round.cpuPct,
      unit: "% of a core",
    });
    if (round.ms !== undefined) await sleep(STEADY_AFTER_ROUND_MS);
    stopAt = round.ms === undefined ? "round (limit)" : "steady";
  }
  const stop = await stopDaemon(daemon);
  const db = soundness(dbPath);
  reporter.row({
    name: `${label}: SIGTERM → exit`,
    size: count,
    settings,
    value: stop.ms / 1000,
    unit: "s",
    ...goalIfAt("stop-100k", count),
    note: `stopped in ${stopAt === "steady" ? "steady state" : `the first round${stopAt === "round (limit)" ? ", at the bench's limit" : ` (${stopAt.slice("round (".length, -1)})`}`}; exit ${stop.code}; database ${db}`,
  });
  if (stop.code !== 0 || db !== "sound") {
    reporter.problem(
      `${label} at ${count.toLocaleString("en-US")}: SIGTERM left exit ${stop.code}, database ${db}`,
    );
  }
  const row: Row = {
    count,
    run: label,
    readyS: `${fmt(ready.ms)} (${daemonReadyMs(daemon)})`,
    note: ready.note || "–",
    rss: ready.rss.toFixed(0),
    roundS,
    peak,
    stopAt,
    stopS: fmt(stop.ms),
    exit: String(stop.code),
    db,
  };
  console.log(`    ${label}: ${JSON.stringify(row)}${complaints(daemon.child)}`);
  rmSync(dir, { recursive: true, force: true });
  return row;
}

/** `{ goal }` where the goal applies at this size (so a run at 10,000 judges no 100,000 goal). */
function goalIfAt(id: string, count: number): { goal?: string } {
  const goal = goalAt(id, count);
  return goal === undefined ? {} : { goal };
}

async function main(reporter: Reporter): Promise<void> {
  console.log(
    `start-stop benchmark${QUICK ? " (--quick)" : ""}: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}, ${new Date().toISOString()}`,
  );
  console.log(
    `daemon at defaults: interval ${INTERVAL_MS / 1000} s, startup_rate_per_sec ${DEFAULTS.probes.startupRatePerSec}, concurrency ${DEFAULTS.probes.concurrency}, watch ${DEFAULTS.adapters.defaults.probes.watch}, registry_check ${DEFAULTS.adapters.defaults.probes.registryCheck}; runs ${RUNS.join(", ")}; first round waited for up to ${FIRST_ROUND_LIMIT_MS / 1000} s after the spawn`,
  );
  const rows: Row[] = [];
  for (const count of SIZES) {
    const simulator = await startSimulator(count);
    const dir = tempDir("pristine");
    const pristine = join(dir, "healthd.db");
    const built = performance.now();
    const { adapters } = await buildDatabase(pristine, simulator.port);
    console.log(
      `  ${count.toLocaleString("en")}: database of ${adapters.toLocaleString("en")} adapters written in ${fmt(performance.now() - built)} s`,
    );
    if (adapters !== count) {
      reporter.problem(`the simulator served ${adapters} adapters, not ${count}`);
    }
    const closedPort = await freePort();
    for (const kind of RUNS as RunKind[]) {
      const port = RUN_PLANS[kind].registryUp ? simulator.port : closedPort;
      try {
        rows.push(await runOnce(count, pristine, port, kind));
      } catch (error) {
        reporter.problem(
          `${RUN_PLANS[kind].label} at ${count.toLocaleString("en-US")}: ${(error as Error).message}`,
        );
      }
    }
    simulator.child.proc.kill("SIGTERM");
    await simulator.child.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  console.log("");
  console.log(
    "| adapters | run | spawn → ready s (daemon's own) | /readyz note | RSS at ready MiB | spawn → all checked s | first round peak | SIGTERM during | SIGTERM → exit s | exit | database after |",
  );
  console.log("| ---: | --- | ---: | --- | ---: | ---: | --- | --- | ---: | ---: | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.count.toLocaleString("en")} | ${r.run} | ${r.readyS} | ${r.note} | ${r.rss} | ${r.roundS} | ${r.peak} | ${r.stopAt} | ${r.stopS} | ${r.exit} | ${r.db} |`,
    );
  }
  console.log(
    `\ngoals: ready < 2 s; every adapter checked within ${(2 * INTERVAL_MS) / 1000} s at 100k (${INTERVAL_MS / 1000 + 10} s at 50k); SIGTERM → exit < 5 s; database sound`,
  );
}

try {
  await main(reporter);
} catch (error) {
  reporter.problem(`the start-stop benchmark stopped: ${(error as Error).stack ?? error}`);
}
reporter.finish();
process.exit(reporter.problems > 0 ? 1 : 0);
