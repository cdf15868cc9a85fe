/**
 * Health engine throughput, the daemon at its defaults, and detection latency.
 *
 * 1. Throughput at 1,000, 10,000 and 50,000 simulated grpc.health.v1 adapters (one simulator
 *    process, one port): the daemon (`oneiric-healthd run`, its own process) polling every
 *    adapter (`watch: false`, every other probe setting at its default); probes/s, CPU per
 *    probe, commits/s, RSS.
 * 2. Side by side, against the same simulator and one after the other (never at the same
 *    time, so the two do not compete for the cores): Prometheus blackbox_exporter's gRPC module
 *    driven from here at the same offered probe rate; the same figures and the CPU-per-probe
 *    ratio from the two processes' /proc times. For reference, grpc-js's own Check calls from
 *    this process at the same rate.
 * 3. The daemon at its real defaults (nothing set but where the registry is): time until every
 *    adapter has a verdict, verdicts other than healthy (every adapter is served healthy), and
 *    query latency from a paced client during that first round; at the largest size also its
 *    CPU with Watch over one whole safety-net cycle, its RSS, and query latency during a sync.
 * 4. Detection latency at 1,000 adapters: one adapter at a time is switched to NOT_SERVING in
 *    an in-process simulator, and the daemon's HTTP API is polled until it says unhealthy,
 *    with 1 s polling and with grpc.health.v1 Watch.
 *
 * Every window also reports how much CPU processes outside the benchmark used ("others %"),
 * since this machine is shared: a busy window is flagged rather than silently reported.
 * Without blackbox_exporter the bench says so and exits non-zero instead of printing ratios.
 *
 * Run: npm run bench:engine   (prints figures; asserts nothing; --quick for a smoke run at
 * 1,000 adapters with short windows; --report <file> for the suite, see bench/report.ts)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, get as httpGet } from "node:http";
import { cpus, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { parseConfigText } from "../src/config/load.js";
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from "../src/gen/grpc/health/v1/health.js";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { goalAt } from "./goals.js";
import { benchOptions, type RowInput } from "./report.js";
import {
  DISTURBED_PCT,
  freePort,
  LeanHttpClient,
  machineBusySeconds,
  percentiles,
  processCpuSeconds,
  rssMiB,
} from "./support.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
const BLACKBOX = "prometheus-blackbox-exporter";
const { quick, reporter } = benchOptions("engine");

/** `BENCH_SIZES=10000` runs one size (the whole Watch cycle runs at the largest). */
const SIZES = (process.env.BENCH_SIZES ?? (quick ? "1000" : "1000,10000,50000"))
  .split(",")
  .map(Number);
/** The daemon's own defaults, from its config loader: what a config that sets nothing gets. */
const DEFAULT_CONFIG = parseConfigText("", "bench.yaml", {});
const DEFAULT_PROBES = {
  ...DEFAULT_CONFIG.adapters.defaults.probes,
  concurrency: DEFAULT_CONFIG.probes.concurrency,
  startupRatePerSec: DEFAULT_CONFIG.probes.startupRatePerSec,
};
/** Every probe runs at the default interval: the polling rows change only `watch`. */
const INTERVAL_SEC = DEFAULT_PROBES.intervalMs / 1000;
/**
 * With Watch, the safety-net poll interval (`watched_interval_sec`, by default 30 intervals).
 * The Watch window spans one whole such cycle, so it holds on average one safety-net poll per
 * adapter, not a lucky gap between them.
 */
const WATCHED_INTERVAL_SEC = DEFAULT_PROBES.watchedIntervalMs / 1000;
const WATCH_WINDOW_SEC = quick ? 10 : WATCHED_INTERVAL_SEC;
/** The driven peer's window (blackbox_exporter). */
const WINDOW_SEC = quick ? 5 : 30;
/**
 * The grpc-js reference's window: shorter, since it carries no goal and at the smallest size
 * 10 s still holds over 600 calls; it keeps the full suite within its time budget.
 */
const REFERENCE_WINDOW_SEC = quick ? 5 : 10;
/**
 * The polling daemon's window: at least one whole interval, since after the first round each
 * adapter is checked once per interval and a shorter window could fall between two rounds.
 */
const POLL_WINDOW_SEC = quick ? INTERVAL_SEC : 30;
/** The polling daemon's warm-up after its first round: one more whole round. */
const POLL_WARMUP_SEC = quick ? 0 : INTERVAL_SEC;
const BLACKBOX_CONCURRENCY = 64;
/** In-flight cap of the grpc-js reference prober. */
const GRPC_JS_CONCURRENCY = 256;
const WARMUP_SEC = quick ? 1 : 5;
const DETECTION_ADAPTERS = 1_000;
const DETECTION_SAMPLES = quick ? 2 : 10;
const POLL_MS = 5;
/**
 * The paced query client: one request every 25 ms, alternating a single-adapter GET and a
 * resolve, so with the bench's own once-a-second /metrics scrape it stays under the daemon's
 * default per-client limit (limits.requests_per_sec 50, burst 100): the defaults rows change
 * no limit either.
 */
const QUERY_PACE_MS = 25;

// ---------------------------------------------------------------------------------------------
// Processes and temp dirs: every one is registered here and removed on any exit.

interface LogSummary {
  /** `level msg` → count, for the daemon's JSON (pino) lines. */
  messages: Map<string, number>;
  /** The first few lines that were not pino JSON (warnings, stack traces). */
  other: string[];
  otherCount: number;
}

interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  log: LogSummary;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const tempDirs: string[] = [];

function cleanup(): void {
  for (const child of children) {
    try {
      child.proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.on("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanup();
    process.exit(130);
  });
}

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `oneiric-healthd-bench-${label}-`));
  tempDirs.push(dir);
  return dir;
}

const PINO_LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

function collectLines(stream: NodeJS.ReadableStream | null, log: LogSummary): void {
  if (!stream) return;
  let rest = "";
  stream.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let parsed: { level?: unknown; msg?: unknown; err?: { message?: unknown } } | undefined;
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed.level === "number" && typeof parsed.msg === "string") {
        const detail =
          parsed.err && typeof parsed.err.message === "string" ? `: ${parsed.err.message}` : "";
        const key = `${PINO_LEVELS[parsed.level] ?? parsed.level} ${parsed.msg}${detail}`;
        log.messages.set(key, (log.messages.get(key) ?? 0) + 1);
      } else {
        log.otherCount++;
        if (log.other.length < 5) log.other.push(line.slice(0, 300));
      }
    }
  });
}

function startChild(
  name: string,
  command: string,
  args: string[],
  onStdout?: (text: string) => void,
): Child {
  const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const log: LogSummary = { messages: new Map(), other: [], otherCount: 0 };
  if (onStdout) proc.stdout?.on("data", (chunk: Buffer) => onStdout(chunk.toString()));
  collectLines(proc.stdout, log);
  collectLines(proc.stderr, log);
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => resolve(code)),
  );
  const child: Child = { name, proc, pid: proc.pid, log, exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

async function stopChild(child: Child, graceMs = 10_000): Promise<number | null | "killed"> {
  if (child.proc.exitCode !== null) return child.proc.exitCode;
  child.proc.kill("SIGTERM");
  const code = await Promise.race([child.exited, sleep(graceMs).then(() => "timeout" as const)]);
  if (code !== "timeout") return code;
  child.proc.kill("SIGKILL");
  await child.exited;
  return "killed";
}

function printLog(child: Child): void {
  const lines = [...child.log.messages.entries()].filter(([key]) => !key.startsWith("info "));
  if (lines.length === 0 && child.log.otherCount === 0) {
    console.log(`    ${child.name} log: nothing at warn or above`);
    return;
  }
  console.log(`    ${child.name} log:`);
  for (const [key, count] of lines) console.log(`      ${count} × ${key}`);
  if (child.log.otherCount > 0) {
    console.log(`      ${child.log.otherCount} other line(s), first ones:`);
    for (const line of child.log.other) console.log(`        ${line}`);
  }
}

// ---------------------------------------------------------------------------------------------
// /proc, HTTP, metrics

/**
 * The whole machine's busy time against what this benchmark's own processes (this one and its
 * children) used, so a window disturbed by other work on the machine shows as such.
 */
class LoadMeter {
  private readonly machine0 = machineBusySeconds();
  private readonly ours0 = LoadMeter.oursSeconds();
  private readonly t0 = performance.now();

  private static oursSeconds(): number {
    const own = process.cpuUsage();
    let sum = (own.user + own.system) / 1e6;
    for (const child of children) {
      try {
        sum += processCpuSeconds(child.pid);
      } catch {
        // exited between the check and the read
      }
    }
    return sum;
  }

  /** Percent of one core that other processes used since the meter was made. */
  othersPct(): number {
    const seconds = (performance.now() - this.t0) / 1000;
    const machine = machineBusySeconds() - this.machine0;
    const ours = LoadMeter.oursSeconds() - this.ours0;
    return Math.max(0, ((machine - ours) / seconds) * 100);
  }
}

/** The most RSS the process ever had (VmHWM), MiB. */
function peakMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** MiB (what /proc counts in) to MB (10^6 bytes, the goals' unit). */
const toMB = (mib: number) => (mib * 1024 * 1024) / 1e6;

function request(
  url: string,
  agent: Agent,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const next = line[name.length];
    if (next !== "{" && next !== " ") continue;
    const labelText = next === "{" ? line.slice(name.length, line.indexOf("}") + 1) : "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  everyMs: number,
  probe: () => Promise<T | undefined>,
  alive?: Child,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (alive && alive.proc.exitCode !== null) {
      printLog(alive);
      throw new Error(`${alive.name} exited with ${alive.proc.exitCode} while waiting for ${what}`);
    }
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      if (alive) printLog(alive);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The simulator and the daemon as child processes

async function startSimulatorProcess(count: number): Promise<{ child: Child; port: number }> {
  const dir = tempDir("scenario");
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(scenario, `generate: { count: ${count}, endpoint: grpc }\n`);
  const port = await freePort();
  let started: () => void = () => {};
  let isStarted = false;
  const ready = new Promise<void>((resolve) => {
    started = () => {
      isStarted = true;
      resolve();
    };
  });
  const child = startChild(
    "simulator",
    process.execPath,
    [CLI, "simulate", "--scenario", scenario, "--listen", `127.0.0.1:${port}`],
    (text) => {
      if (text.includes("simulating")) started();
    },
  );
  const failed = child.exited.then((code) => {
    if (isStarted) return;
    printLog(child);
    throw new Error(`simulator exited with ${code}`);
  });
  // Only a start-up failure matters here; a later exit (stopChild) resolves quietly.
  failed.catch(() => {});
  await Promise.race([ready, failed]);
  return { child, port };
}

interface DaemonProcess {
  child: Child;
  base: string;
  httpPort: number;
  agent: Agent;
  /** performance.now() at spawn and when /readyz first answered 200. */
  spawnedAt: number;
  readyAt: number;
}

/**
 * The daemon as a child process. `settings` are lines under `healthd:` (two spaces in); the
 * config sets nothing else but where the registry and the database are.
 */
async function startDaemonProcess(
  label: string,
  registryPort: number,
  settings: string[],
): Promise<DaemonProcess> {
  const dir = tempDir(label);
  const configPath = join(dir, "healthd.yaml");
  writeFileSync(
    configPath,
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
${settings.map((line) => `  ${line}\n`).join("")}`,
  );
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const spawnedAt = performance.now();
  const child = startChild("daemon", process.execPath, [
    CLI,
    "run",
    "--config",
    configPath,
    "--http-listen",
    `127.0.0.1:${httpPort}`,
    "--grpc-listen",
    `127.0.0.1:${grpcPort}`,
  ]);
  const base = `http://127.0.0.1:${httpPort}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  await waitFor(
    "daemon /readyz",
    120_000,
    100,
    async () => ((await request(`${base}/readyz`, agent, 5_000)).status === 200 ? true : undefined),
    child,
  );
  return { child, base, httpPort, agent, spawnedAt, readyAt: performance.now() };
}

async function scrape(daemon: DaemonProcess): Promise<string> {
  return (await request(`${daemon.base}/metrics`, daemon.agent)).body;
}

/** Resolves once every adapter has a verdict of `status` (any verdict when undefined). */
async function waitForVerdicts(
  daemon: DaemonProcess,
  count: number,
  timeoutMs: number,
  status?: string,
): Promise<void> {
  await waitFor(
    `${count} adapters ${status ?? "checked"}`,
    timeoutMs,
    500,
    async () => {
      const text = await scrape(daemon);
      const total = metric(text, "oneiric_healthd_adapters");
      const done =
        status === undefined
          ? total - metric(text, "oneiric_healthd_adapters", { status: "unknown" })
          : metric(text, "oneiric_healthd_adapters", { status });
      return total === count && done === count ? true : undefined;
    },
    daemon.child,
  );
}

/** How long a first round may take before the bench measures what the daemon does anyway. */
const FIRST_ROUND_TIMEOUT_MS = (INTERVAL_SEC * 3 + 120) * 1000;

interface FirstRound {
  /** performance.now() when every adapter had a verdict, or when the bench stopped waiting. */
  at: number;
  /** Adapters still without a verdict then (0 when the round completed). */
  unknown: number;
  /** The /metrics text of that moment. */
  metrics: string;
}

/**
 * Waits until every adapter has a verdict, or FIRST_ROUND_TIMEOUT_MS: a daemon that cannot
 * finish its first round (a busy machine, a saturated daemon) is still measured, and the rows
 * say how many adapters were left.
 */
async function waitForFirstRound(daemon: DaemonProcess, count: number): Promise<FirstRound> {
  const deadline = performance.now() + FIRST_ROUND_TIMEOUT_MS;
  for (;;) {
    if (daemon.child.proc.exitCode !== null) {
      printLog(daemon.child);
      throw new Error(`daemon exited with ${daemon.child.proc.exitCode} during its first round`);
    }
    const metrics = await scrape(daemon).catch(() => "");
    const total = metric(metrics, "oneiric_healthd_adapters");
    const unknown =
      metrics === ""
        ? count
        : count - total + metric(metrics, "oneiric_healthd_adapters", { status: "unknown" });
    const at = performance.now();
    if (metrics !== "" && total === count && unknown === 0) return { at, unknown: 0, metrics };
    if (at > deadline) {
      console.log(
        `    first round not complete after ${FIRST_ROUND_TIMEOUT_MS / 1000} s: ${unknown} of ${count} adapters without a verdict; measuring anyway`,
      );
      return { at, unknown, metrics };
    }
    await sleep(500);
  }
}

// ---------------------------------------------------------------------------------------------
// Phase 1: the daemon's throughput

interface Figures {
  probes: number;
  failures: number;
  seconds: number;
  cpuSeconds: number;
  simulatorCpuSeconds: number;
  /** Percent of one core used by processes outside this benchmark during the window. */
  othersPct: number;
  rssMiB: number;
}

interface DaemonFigures extends Figures {
  peakMiB: number;
  commits: number;
  committed: number;
  rssStartMiB: number;
  firstRoundSec: number;
  /** Adapters without a verdict when the bench stopped waiting for the first round. */
  unknownAfterFirstRound: number;
  meanProbeMs: number;
  loopLagP99Ms: number;
}

/** What the polling rows set; everything else is the daemon's default. */
const POLLING_SETTINGS = [
  "probes: { watch: false }",
  // An hourly sync keeps the catalog sync's own CPU out of the per-probe figure; the sync
  // has its own rows (bench/catalog-sync.bench.ts) and the defaults rows keep it.
  "sync: { interval_sec: 3600 }",
];

async function daemonPhase(count: number, simulator: Child, simPort: number) {
  const startedAt = performance.now();
  const windowSec = POLL_WINDOW_SEC;
  const daemon = await startDaemonProcess(`daemon-${count}`, simPort, POLLING_SETTINGS);
  try {
    const firstRound = await waitForFirstRound(daemon, count);
    const firstRoundSec = (firstRound.at - startedAt) / 1000;
    await sleep(POLL_WARMUP_SEC * 1000); // warm-up: one more whole round
    const m0 = await scrape(daemon);
    const load = new LoadMeter();
    const cpu0 = processCpuSeconds(daemon.child.pid);
    const sim0 = processCpuSeconds(simulator.pid);
    const rssStart = rssMiB(daemon.child.pid);
    const t0 = performance.now();
    await sleep(windowSec * 1000);
    const cpu1 = processCpuSeconds(daemon.child.pid);
    const othersPct = load.othersPct();
    const sim1 = processCpuSeconds(simulator.pid);
    const t1 = performance.now();
    const m1 = await scrape(daemon);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metric(m1, name, labels) - metric(m0, name, labels);
    const probeCount = delta("oneiric_healthd_probe_duration_seconds_count", { kind: "grpc" });
    const figures: DaemonFigures = {
      probes: delta("oneiric_adapter_health_checks_total", { kind: "grpc" }),
      failures: delta("oneiric_adapter_health_checks_total", { kind: "grpc", result: "failure" }),
      seconds: (t1 - t0) / 1000,
      cpuSeconds: cpu1 - cpu0,
      simulatorCpuSeconds: sim1 - sim0,
      othersPct,
      rssMiB: rssMiB(daemon.child.pid),
      rssStartMiB: rssStart,
      peakMiB: peakMiB(daemon.child.pid),
      commits: delta("oneiric_healthd_commit_batches_total"),
      committed: delta("oneiric_healthd_committed_results_total"),
      firstRoundSec,
      unknownAfterFirstRound: firstRound.unknown,
      meanProbeMs:
        (delta("oneiric_healthd_probe_duration_seconds_sum", { kind: "grpc" }) * 1000) / probeCount,
      loopLagP99Ms: metric(m1, "nodejs_eventloop_lag_p99_seconds") * 1000,
    };
    return figures;
  } finally {
    const code = await stopChild(daemon.child);
    daemon.agent.destroy();
    if (code !== 0) console.log(`    daemon exit: ${code} (expected 0 after SIGTERM)`);
    printLog(daemon.child);
  }
}

// ---------------------------------------------------------------------------------------------
// Phase 2: blackbox_exporter, driven from here at the same rate

function blackboxInstalled(): boolean {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .some((dir) => dir !== "" && existsSync(join(dir, BLACKBOX)));
}

function blackboxVersion(): string {
  const out = spawnSync(BLACKBOX, ["--version"], { encoding: "utf8" });
  return `${out.stdout ?? ""}${out.stderr ?? ""}`.split("\n")[0]?.trim() ?? "?";
}

interface BlackboxFigures extends Figures {
  behind: number;
  /** Probes the window asked for at the daemon's rate. */
  offered: number;
}

interface DriveResult {
  ok: number;
  failed: number;
  seconds: number;
  /** Probes that should have started by the end but could not, for the concurrency cap. */
  behind: number;
}

/** `ratePerSec` probes a second, spread evenly, at most `concurrency` in flight. */
async function drive(
  call: (index: number) => Promise<boolean>,
  ratePerSec: number,
  durationSec: number,
  concurrency: number,
): Promise<DriveResult> {
  const start = performance.now();
  let issued = 0;
  let inFlight = 0;
  let ok = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  let due = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= durationSec * 1000) break;
    due = Math.floor((elapsed * ratePerSec) / 1000);
    while (issued < due && inFlight < concurrency) {
      inFlight++;
      const task: Promise<void> = call(issued++)
        .then(
          (success) => {
            if (success) ok++;
            else failed++;
          },
          () => {
            failed++;
          },
        )
        .finally(() => {
          inFlight--;
          pending.delete(task);
        });
      pending.add(task);
    }
    await sleep(2);
  }
  await Promise.all(pending);
  return { ok, failed, seconds: (performance.now() - start) / 1000, behind: due - issued };
}

async function blackboxPhase(
  count: number,
  simulator: Child,
  simPort: number,
): Promise<BlackboxFigures> {
  const dir = tempDir(`blackbox-${count}`);
  const configPath = join(dir, "blackbox.yml");
  // A module fixes one service name, so it cannot ask for each adapter's; "" asks after the
  // server as a whole, which the simulator answers SERVING like any adapter.
  writeFileSync(
    configPath,
    `modules:
  grpc_plain:
    prober: grpc
    timeout: 5s
    grpc:
      tls: false
      service: ""
      preferred_ip_protocol: ip4
`,
  );
  const port = await freePort();
  const child = startChild(BLACKBOX, BLACKBOX, [
    `--config.file=${configPath}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  const agent = new Agent({ keepAlive: true, maxSockets: BLACKBOX_CONCURRENCY });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      "blackbox_exporter",
      30_000,
      100,
      async () => ((await request(`${base}/-/healthy`, agent)).status === 200 ? true : undefined),
      child,
    );
    const url = `${base}/probe?module=grpc_plain&target=127.0.0.1:${simPort}`;
    const rate = count / INTERVAL_SEC;
    const probe = async () => {
      const { status, body } = await request(url, agent, 10_000);
      return status === 200 && /^probe_success 1$/m.test(body);
    };
    await drive(probe, rate, WARMUP_SEC, BLACKBOX_CONCURRENCY);
    const load = new LoadMeter();
    const cpu0 = processCpuSeconds(child.pid);
    const sim0 = processCpuSeconds(simulator.pid);
    const result = await drive(probe, rate, WINDOW_SEC, BLACKBOX_CONCURRENCY);
    const cpu1 = processCpuSeconds(child.pid);
    const othersPct = load.othersPct();
    const sim1 = processCpuSeconds(simulator.pid);
    return {
      probes: result.ok,
      failures: result.failed,
      seconds: result.seconds,
      cpuSeconds: cpu1 - cpu0,
      simulatorCpuSeconds: sim1 - sim0,
      othersPct,
      rssMiB: rssMiB(child.pid),
      behind: result.behind,
      offered: rate * WINDOW_SEC,
    };
  } finally {
    agent.destroy();
    await stopChild(child);
    printLog(child);
  }
}

/**
 * For reference: grpc.health.v1 Check from grpc-js alone, in this process (one channel, the
 * adapters' service names, the same rate), to show what the gRPC library itself costs per
 * probe, apart from anything the daemon does around it. Includes this process's pacing loop.
 */
async function grpcJsPhase(count: number, simulator: Child, simPort: number): Promise<Figures> {
  const services = parseScenario(
    `generate: { count: ${count}, endpoint: grpc }\n`,
    "reference",
  ).adapters.map((adapter) => adapter.id);
  const client = new HealthClient(`127.0.0.1:${simPort}`, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
  });
  const check = (index: number) =>
    new Promise<boolean>((resolve) => {
      client.check(
        { service: services[index % services.length] ?? "" },
        new Metadata(),
        { deadline: new Date(Date.now() + 5_000) },
        (error, response) =>
          resolve(!error && response.status === HealthCheckResponse_ServingStatus.SERVING),
      );
    });
  try {
    const rate = count / INTERVAL_SEC;
    await drive(check, rate, WARMUP_SEC, GRPC_JS_CONCURRENCY);
    const load = new LoadMeter();
    const cpu0 = process.cpuUsage();
    const sim0 = processCpuSeconds(simulator.pid);
    const result = await drive(check, rate, REFERENCE_WINDOW_SEC, GRPC_JS_CONCURRENCY);
    const cpu = process.cpuUsage(cpu0);
    const othersPct = load.othersPct();
    const sim1 = processCpuSeconds(simulator.pid);
    return {
      probes: result.ok,
      failures: result.failed,
      seconds: result.seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      simulatorCpuSeconds: sim1 - sim0,
      othersPct,
      rssMiB: Number.NaN,
    };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Phase 3: the daemon at its real defaults

/** The daemon's default catalog sync interval, from its config loader. */
const DEFAULT_SYNC_SEC = DEFAULT_CONFIG.sync.intervalMs / 1000;

interface QuerySamples {
  adapter: number[];
  resolve: number[];
  failed: number;
}

/**
 * A paced query client in this process over one raw keep-alive socket: a single-adapter GET
 * and a resolve in turn, one request every QUERY_PACE_MS; latency from writing the request to
 * having the whole answer.
 */
class PacedQueries {
  private stopped = false;
  private readonly samples: QuerySamples = { adapter: [], resolve: [], failed: 0 };
  private readonly running: Promise<void>;

  private constructor(
    private client: LeanHttpClient,
    private readonly port: number,
    private readonly ids: readonly string[],
    private readonly category: string,
  ) {
    this.running = this.loop();
  }

  static async start(port: number, ids: readonly string[], category: string) {
    return new PacedQueries(await LeanHttpClient.connect(port), port, ids, category);
  }

  private async loop(): Promise<void> {
    let next = performance.now();
    for (let n = 0; !this.stopped; n++) {
      const single = n % 2 === 0;
      const id = this.ids[Math.floor(Math.random() * this.ids.length)] ?? "";
      const path = single
        ? `/v1/adapters/${encodeURIComponent(id)}`
        : `/v1/resolve?domain=adapter&category=${encodeURIComponent(this.category)}`;
      const began = performance.now();
      const answered = await Promise.race([
        this.client.get(path).then(
          () => true,
          () => false,
        ),
        sleep(10_000).then(() => "timeout" as const),
      ]);
      if (answered === true)
        (single ? this.samples.adapter : this.samples.resolve).push(performance.now() - began);
      else {
        this.samples.failed++;
        // A request that failed or hung leaves the socket in an unknown state: start afresh.
        this.client.close();
        this.client = await LeanHttpClient.connect(this.port);
      }
      next += QUERY_PACE_MS;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now();
    }
  }

  async stop(): Promise<QuerySamples> {
    this.stopped = true;
    await this.running;
    this.client.close();
    return this.samples;
  }
}

interface DefaultsFigures {
  readySec: number;
  verdictsSec: number;
  unknownAfterFirstRound: number;
  falseVerdictsFirstRound: number;
  firstRoundQueries: QuerySamples;
  firstRoundOthersPct: number;
  settledRssMiB: number;
  /** Only at the largest size (the whole Watch cycle). */
  watch?: {
    seconds: number;
    cpuSeconds: number;
    polls: number;
    othersPct: number;
    rssMiB: number;
    falseVerdicts: number;
  };
  syncQueries?: QuerySamples & { othersPct: number; syncs: number };
  peakMiB: number;
}

/** Status changes to anything but healthy since the daemon started. */
function nonHealthyChanges(text: string): number {
  return (
    metric(text, "oneiric_healthd_status_changes_total") -
    metric(text, "oneiric_healthd_status_changes_total", { to: "healthy" })
  );
}

async function defaultsPhase(
  count: number,
  simPort: number,
  withCycle: boolean,
): Promise<DefaultsFigures> {
  const scenario = parseScenario(`generate: { count: ${count}, endpoint: grpc }\n`, "defaults");
  const ids = scenario.adapters.map((adapter) => adapter.id);
  const category = scenario.adapters[0]?.category ?? "storage";
  // Nothing but where the registry and the database are: every probe, sync, limit and log
  // setting is the daemon's default.
  const daemon = await startDaemonProcess(`defaults-${count}`, simPort, []);
  try {
    const load = new LoadMeter();
    const queries = await PacedQueries.start(daemon.httpPort, ids, category);
    const firstRound = await waitForFirstRound(daemon, count);
    const firstRoundQueries = await queries.stop();
    const firstRoundOthersPct = load.othersPct();
    await sleep((quick ? 2 : INTERVAL_SEC) * 1000);
    const figures: DefaultsFigures = {
      readySec: (daemon.readyAt - daemon.spawnedAt) / 1000,
      verdictsSec: (firstRound.at - daemon.spawnedAt) / 1000,
      unknownAfterFirstRound: firstRound.unknown,
      falseVerdictsFirstRound: nonHealthyChanges(firstRound.metrics),
      firstRoundQueries,
      firstRoundOthersPct,
      settledRssMiB: rssMiB(daemon.child.pid),
      peakMiB: Number.NaN,
    };
    if (withCycle) {
      // The sync's queries run inside the Watch window (the next periodic sync is due within a
      // minute of its start), so the suite waits one safety-net cycle, not a cycle and a sync.
      // Their few seconds of paced queries count in the window's CPU: a little against the daemon.
      const m0 = await scrape(daemon);
      const cycleLoad = new LoadMeter();
      const cpu0 = processCpuSeconds(daemon.child.pid);
      const t0 = performance.now();
      if (!quick) figures.syncQueries = await queriesDuringSync(daemon, ids, category);
      await sleep(Math.max(0, WATCH_WINDOW_SEC * 1000 - (performance.now() - t0)));
      const cpu1 = processCpuSeconds(daemon.child.pid);
      const t1 = performance.now();
      const othersPct = cycleLoad.othersPct();
      const m1 = await scrape(daemon);
      figures.watch = {
        seconds: (t1 - t0) / 1000,
        cpuSeconds: cpu1 - cpu0,
        polls:
          metric(m1, "oneiric_adapter_health_checks_total", { kind: "grpc" }) -
          metric(m0, "oneiric_adapter_health_checks_total", { kind: "grpc" }),
        othersPct,
        rssMiB: rssMiB(daemon.child.pid),
        falseVerdicts: nonHealthyChanges(m1) - nonHealthyChanges(m0),
      };
    }
    figures.peakMiB = peakMiB(daemon.child.pid);
    return figures;
  } finally {
    const code = await stopChild(daemon.child);
    daemon.agent.destroy();
    if (code !== 0) console.log(`    daemon exit: ${code} (expected 0 after SIGTERM)`);
    printLog(daemon.child);
  }
}

/**
 * Queries from a few seconds before the next periodic sync is due until a few seconds after
 * the daemon's last-sync time has moved: the answers that had to wait for a sync, if any did.
 */
async function queriesDuringSync(
  daemon: DaemonProcess,
  ids: readonly string[],
  category: string,
): Promise<QuerySamples & { othersPct: number; syncs: number }> {
  const lastSync = async () =>
    metric(await scrape(daemon), "oneiric_healthd_registry_last_sync_timestamp_seconds");
  const before = await lastSync();
  const dueInMs = (before + DEFAULT_SYNC_SEC) * 1000 - Date.now();
  await sleep(Math.max(0, dueInMs - 5_000));
  const load = new LoadMeter();
  const queries = await PacedQueries.start(daemon.httpPort, ids, category);
  let syncs = 0;
  try {
    await waitFor(
      "a periodic catalog sync",
      (DEFAULT_SYNC_SEC + 60) * 1000,
      1_000,
      async () => ((await lastSync()) > before ? true : undefined),
      daemon.child,
    );
    syncs = 1;
    await sleep(3_000);
  } catch (error) {
    console.log(`    no sync seen while querying: ${(error as Error).message}`);
  }
  const samples = await queries.stop();
  return { ...samples, othersPct: load.othersPct(), syncs };
}

// ---------------------------------------------------------------------------------------------
// Phase 4: detection latency

interface Detection {
  label: string;
  goalMs: number;
  samples: number[];
  missed: number;
  othersPct: number;
}

async function adapterStatus(daemon: DaemonProcess, id: string): Promise<string | undefined> {
  const { status, body } = await request(
    `${daemon.base}/v1/adapters/${encodeURIComponent(id)}`,
    daemon.agent,
    5_000,
  );
  return status === 200 ? (JSON.parse(body) as { status: string }).status : undefined;
}

async function detectionRun(
  simulator: RunningSimulator,
  ids: string[],
  label: string,
  probes: string,
  goalMs: number,
  offset: number,
): Promise<Detection> {
  const daemon = await startDaemonProcess("detect", simulator.registryPort, [
    `probes: ${probes}`,
    "sync: { interval_sec: 3600 }",
    "log: { level: warn }",
  ]);
  const samples: number[] = [];
  let missed = 0;
  let othersPct = Number.NaN;
  try {
    await waitForVerdicts(daemon, ids.length, 60_000, "healthy");
    await sleep(2_000); // every adapter's Watch stream (if any) is open by now
    const load = new LoadMeter();
    for (let n = 0; n < DETECTION_SAMPLES; n++) {
      const id = ids[(offset + n * 97) % ids.length] ?? "";
      const t0 = performance.now();
      simulator.setBehaviour(id, "down");
      let seen: number | undefined;
      while (performance.now() - t0 < 10_000) {
        if ((await adapterStatus(daemon, id)) === "unhealthy") {
          seen = performance.now();
          break;
        }
        await sleep(POLL_MS);
      }
      if (seen === undefined) missed++;
      else samples.push(seen - t0);
      simulator.setBehaviour(id, null);
      await waitFor(
        `${id} healthy again`,
        15_000,
        20,
        async () => ((await adapterStatus(daemon, id)) === "healthy" ? true : undefined),
        daemon.child,
      );
      await sleep(100 + Math.random() * 400);
    }
    othersPct = load.othersPct();
  } finally {
    const code = await stopChild(daemon.child);
    daemon.agent.destroy();
    if (code !== 0) console.log(`    daemon exit: ${code} (expected 0 after SIGTERM)`);
    printLog(daemon.child);
  }
  return { label, goalMs, samples, missed, othersPct };
}

// ---------------------------------------------------------------------------------------------
// Output

const fixed = (value: number, digits = 1) =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : "n/a";

function median(sorted: number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const verdict = (met: boolean) => (met ? "met" : "NOT met");

/** Whether blackbox_exporter can run here, and if not, why. */
function blackboxProblem(): string | undefined {
  if (!blackboxInstalled()) {
    return `blackbox_exporter is not on PATH (apt-get install ${BLACKBOX}); the CPU ratios need it measured in the same run`;
  }
  const run = spawnSync(BLACKBOX, ["--version"], { encoding: "utf8" });
  if (run.status !== 0) {
    return `${BLACKBOX} --version failed (${run.error?.message ?? `exit ${run.status}`}); the CPU ratios need it measured in the same run`;
  }
  return undefined;
}

const us = (seconds: number) => seconds * 1e6;
/** `{ goal: id }` for a row at `size` when the goal is about that size (or names none). */
const goalField = (id: string, size: number) => {
  const goal = goalAt(id, size);
  return goal === undefined ? {} : { goal };
};
const sizeText = (count: number) => count.toLocaleString("en-US");
const simulatorText = (count: number) =>
  `simulator process: ${sizeText(count)} grpc.health.v1 adapters on one port, all SERVING`;

async function main(): Promise<void> {
  console.log(
    `health engine benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}${quick ? " (quick)" : ""}`,
  );
  const peerProblem = blackboxProblem();
  if (peerProblem !== undefined) {
    // Without the peer in the same run there is no honest ratio: say so and stop.
    reporter.problem(peerProblem);
    return;
  }
  const peerVersion = blackboxVersion();
  reporter.fact("blackbox_exporter", peerVersion);
  console.log(`blackbox_exporter: ${peerVersion}`);
  console.log(
    `throughput: the daemon polls (probes.watch false, every other probe setting at its default: interval ${INTERVAL_SEC} s, registry_check on, concurrency ${DEFAULT_PROBES.concurrency}); window ${POLL_WINDOW_SEC} s after the first round and ${POLL_WARMUP_SEC} s of warm-up; blackbox_exporter and grpc-js driven at the same rate (at most ${BLACKBOX_CONCURRENCY} / ${GRPC_JS_CONCURRENCY} in flight);`,
  );
  console.log(
    "daemon and blackbox_exporter run one after the other against the same simulator process, never together.",
  );

  /** A row, with a note when the machine was busy with other work during its window. */
  const report = (row: RowInput, othersPct?: number) => {
    const notes = [row.note];
    if (othersPct !== undefined && othersPct > DISTURBED_PCT) {
      notes.push(`disturbed: other processes used ${fixed(othersPct, 0)} % of a core`);
    }
    const note = notes.filter((text) => text !== undefined).join("; ");
    reporter.row({ ...row, ...(note ? { note } : {}) });
  };
  const windows: { what: string; othersPct: number }[] = [];
  /** Figures of every process by name, then by size, for the marginal costs. */
  const bySize = new Map<string, Map<number, Figures>>();
  const keep = (who: string, count: number, f: Figures) => {
    const sizes = bySize.get(who) ?? new Map<number, Figures>();
    sizes.set(count, f);
    bySize.set(who, sizes);
  };
  const largest = Math.max(...SIZES);
  for (const count of SIZES) {
    console.log(`\n${fixed(count, 0)} adapters (grpc.health.v1, one simulator process, one port)`);
    const { child: simulator, port: simPort } = await startSimulatorProcess(count);
    const rate = count / INTERVAL_SEC;
    const pollingSettings = `daemon: ${POLLING_SETTINGS.join(", ")}, all else default (interval ${INTERVAL_SEC} s, registry_check on, concurrency ${DEFAULT_PROBES.concurrency}); ${simulatorText(count)}; ${POLL_WINDOW_SEC} s window after the first round and ${POLL_WARMUP_SEC} s warm-up; CPU utime+stime from /proc`;
    const peerSettings = (who: string, inFlight: number, windowSec: number) =>
      `${who} driven from the bench process at ${fixed(rate, 0)} probes/s offered (the daemon's polling rate, ${sizeText(count)} per ${INTERVAL_SEC} s), at most ${inFlight} in flight; same simulator, run after the daemon stopped; ${WARMUP_SEC} s warm-up, ${windowSec} s window`;
    try {
      const d = await daemonPhase(count, simulator, simPort);
      if (d.probes === 0)
        reporter.problem(`the polling daemon at ${sizeText(count)} made no probe in its window`);
      keep("oneiric-healthd", count, d);
      windows.push({ what: `daemon at ${count}`, othersPct: d.othersPct });
      const behindNote =
        d.probes / d.seconds < 0.95 * rate
          ? `the daemon did not keep up: ${fixed(d.probes / d.seconds, 0)} of the ${fixed(rate, 0)} probes/s its interval asks for (concurrency ${DEFAULT_PROBES.concurrency}, mean probe ${fixed(d.meanProbeMs, 1)} ms)`
          : undefined;
      report(
        {
          name: "daemon polling: probes/s",
          size: count,
          settings: pollingSettings,
          value: d.probes / d.seconds,
          unit: "/s",
          ...(behindNote ? { note: behindNote } : {}),
        },
        d.othersPct,
      );
      report(
        {
          name: "daemon polling: CPU",
          size: count,
          settings: pollingSettings,
          value: (d.cpuSeconds / d.seconds) * 100,
          unit: "% of a core",
        },
        d.othersPct,
      );
      report(
        {
          name: "daemon polling: CPU per probe",
          size: count,
          settings: pollingSettings,
          value: us(d.cpuSeconds / d.probes),
          unit: "µs",
        },
        d.othersPct,
      );
      report(
        {
          name: "daemon polling: RSS at the end of the window",
          size: count,
          settings: pollingSettings,
          value: toMB(d.rssMiB),
          unit: "MB",
        },
        d.othersPct,
      );
      report({
        name: "daemon polling: peak RSS (VmHWM)",
        size: count,
        settings: pollingSettings,
        value: toMB(d.peakMiB),
        unit: "MB",
      });
      report(
        {
          name: "daemon polling: commits/s",
          size: count,
          settings: pollingSettings,
          value: d.commits / d.seconds,
          unit: "/s",
        },
        d.othersPct,
      );
      report({
        name: "daemon polling: spawn → every adapter has a verdict",
        size: count,
        settings: `${pollingSettings}; /metrics polled every 0.5 s, for at most ${FIRST_ROUND_TIMEOUT_MS / 1000} s`,
        value: d.firstRoundSec,
        unit: "s",
        ...(d.unknownAfterFirstRound > 0
          ? {
              note: `lower bound: ${d.unknownAfterFirstRound} of ${sizeText(count)} adapters still had no verdict when the bench stopped waiting`,
            }
          : {}),
      });
      report({
        name: "daemon polling: failed probes in the window",
        size: count,
        settings: pollingSettings,
        value: d.failures,
        unit: "probes",
      });
      console.log(
        `    daemon: ${fixed(d.probes / d.seconds)} probes/s, CPU ${fixed((d.cpuSeconds / d.seconds) * 100)} % (${fixed(us(d.cpuSeconds / d.probes), 0)} µs/probe), ${fixed(d.commits / d.seconds)} commits/s, ${fixed(d.committed / d.commits)} results/commit; first round done ${fixed(d.firstRoundSec)} s after spawn; ${d.failures} failed probes; mean probe ${fixed(d.meanProbeMs, 2)} ms; event-loop lag p99 ${fixed(d.loopLagP99Ms, 1)} ms; RSS ${fixed(d.rssStartMiB)} → ${fixed(d.rssMiB)} MiB (peak ${fixed(d.peakMiB)}); simulator CPU ${fixed((d.simulatorCpuSeconds / d.seconds) * 100)} %; others ${fixed(d.othersPct)} %`,
      );

      const b = await blackboxPhase(count, simulator, simPort).catch((error: Error) => {
        reporter.problem(`blackbox_exporter at ${sizeText(count)}: ${error.message}`);
        return undefined;
      });
      let peerPerProbe: number | undefined;
      let peerNote: string | undefined;
      if (b) {
        keep("blackbox_exporter", count, b);
        windows.push({ what: `blackbox_exporter at ${count}`, othersPct: b.othersPct });
        const completedRate = b.probes / b.seconds;
        const saturated = b.probes < 0.95 * b.offered;
        peerNote = saturated
          ? `blackbox_exporter was saturated: it completed ${fixed(completedRate, 0)} of ${fixed(rate, 0)} offered probes/s (at most ${BLACKBOX_CONCURRENCY} in flight, ${fixed((b.cpuSeconds / b.seconds) * 100, 0)} % of a core, ${b.behind} behind schedule at the end); its CPU per probe is from the probes it completed`
          : undefined;
        const settings = peerSettings(
          'blackbox_exporter (module grpc_plain: prober grpc, service "", no TLS)',
          BLACKBOX_CONCURRENCY,
          WINDOW_SEC,
        );
        if (b.probes === 0) {
          reporter.problem(
            `blackbox_exporter at ${sizeText(count)} completed no probe (${b.failures} failed): no ratio`,
          );
        } else {
          peerPerProbe = b.cpuSeconds / b.probes;
          report(
            {
              name: "blackbox_exporter: completed probes/s",
              size: count,
              settings,
              value: completedRate,
              unit: "/s",
              ...(peerNote ? { note: peerNote } : {}),
            },
            b.othersPct,
          );
          report(
            {
              name: "blackbox_exporter: CPU",
              size: count,
              settings,
              value: (b.cpuSeconds / b.seconds) * 100,
              unit: "% of a core",
              ...(peerNote ? { note: peerNote } : {}),
            },
            b.othersPct,
          );
          report(
            {
              name: "blackbox_exporter: CPU per probe",
              size: count,
              settings,
              value: us(peerPerProbe),
              unit: "µs",
              ...(peerNote ? { note: peerNote } : {}),
            },
            b.othersPct,
          );
          report({
            name: "blackbox_exporter: RSS",
            size: count,
            settings,
            value: toMB(b.rssMiB),
            unit: "MB",
          });
        }
        console.log(
          `    blackbox_exporter: ${fixed(completedRate)} of ${fixed(rate)} offered probes/s, CPU ${fixed((b.cpuSeconds / b.seconds) * 100)} % (${fixed(us(b.cpuSeconds / b.probes), 0)} µs/probe); ${b.failures} failed; ${b.behind} behind schedule at the end; RSS ${fixed(b.rssMiB)} MiB; simulator CPU ${fixed((b.simulatorCpuSeconds / b.seconds) * 100)} % (a new connection per probe); others ${fixed(b.othersPct)} %${saturated ? "; SATURATED" : ""}`,
        );
      }

      const g = await grpcJsPhase(count, simulator, simPort);
      keep("grpc-js alone", count, g);
      windows.push({ what: `grpc-js alone at ${count}`, othersPct: g.othersPct });
      const grpcSettings = `${peerSettings("grpc-js HealthClient.check over one channel in the bench process (CPU from process.cpuUsage, pacing loop included)", GRPC_JS_CONCURRENCY, REFERENCE_WINDOW_SEC)}`;
      report(
        {
          name: "grpc-js alone: CPU per probe (reference)",
          size: count,
          settings: grpcSettings,
          value: us(g.cpuSeconds / g.probes),
          unit: "µs",
        },
        g.othersPct,
      );
      console.log(
        `    grpc-js alone: ${fixed(g.probes / g.seconds)} probes/s, ${fixed(us(g.cpuSeconds / g.probes), 0)} µs/probe, ${g.failures} failed; others ${fixed(g.othersPct)} %`,
      );

      if (peerPerProbe !== undefined) {
        const ratio = d.cpuSeconds / d.probes / peerPerProbe;
        report(
          {
            name: "CPU per probe, daemon polling ÷ blackbox_exporter",
            size: count,
            settings: `${pollingSettings}; blackbox_exporter as in its rows; ratio of the two processes' /proc CPU per completed probe`,
            value: ratio,
            unit: "×",
            goal: "cpu-ratio-polling",
            ...(peerNote || behindNote
              ? { note: [behindNote, peerNote].filter(Boolean).join("; ") }
              : {}),
          },
          Math.max(d.othersPct, b?.othersPct ?? 0),
        );
        console.log(
          `    CPU per probe, daemon ÷ blackbox_exporter: ${fixed(ratio, 3)} (goal ≤ 0.1: ${verdict(ratio <= 0.1)})`,
        );
      }

      const withCycle = count === largest;
      const f = await defaultsPhase(count, simPort, withCycle);
      const defaultsSettings = `daemon at its defaults: the config sets only oneiric_mcp.grpc_host/grpc_port (the simulator) and storage.path (a temp dir), listen addresses on the command line (interval ${INTERVAL_SEC} s, Watch on, registry_check on, concurrency ${DEFAULT_PROBES.concurrency}, startup_rate_per_sec ${DEFAULT_PROBES.startupRatePerSec}, sync every ${DEFAULT_SYNC_SEC} s, log level info, HTTP served by the front thread: http.serve_in_worker true); ${simulatorText(count)}`;
      const paced = `paced client in the bench process: one raw keep-alive HTTP/1.1 socket, a GET /v1/adapters/{random id} and a GET /v1/resolve?domain=adapter&category=… in turn every ${QUERY_PACE_MS} ms (under the default per-client rate limit)`;
      report({
        name: "defaults: spawn → ready (/readyz 200)",
        size: count,
        settings: defaultsSettings,
        value: f.readySec,
        unit: "s",
      });
      report(
        {
          name: "defaults: spawn → every adapter has a verdict",
          size: count,
          settings: `${defaultsSettings}; /metrics polled every 0.5 s, for at most ${FIRST_ROUND_TIMEOUT_MS / 1000} s`,
          value: f.verdictsSec,
          unit: "s",
          ...(f.unknownAfterFirstRound > 0
            ? {
                note: `lower bound: ${f.unknownAfterFirstRound} of ${sizeText(count)} adapters still had no verdict when the bench stopped waiting`,
              }
            : {}),
          ...goalField("first-verdict-50k", count),
        },
        f.firstRoundOthersPct,
      );
      report({
        name: "defaults: verdicts other than healthy in the first round",
        size: count,
        settings: `${defaultsSettings}; oneiric_healthd_status_changes_total{to!="healthy"} when every adapter had a verdict`,
        value: f.falseVerdictsFirstRound,
        unit: "verdicts",
        ...goalField("false-verdicts-50k", count),
      });
      const firstRoundSettings = `${defaultsSettings}; ${paced}, from ready until every adapter had a verdict`;
      for (const [kind, samples] of [
        ["GET /v1/adapters/{id}", f.firstRoundQueries.adapter],
        ["GET /v1/resolve", f.firstRoundQueries.resolve],
      ] as const) {
        const { p50, p99 } = percentiles(samples);
        const note = `${samples.length} samples${f.firstRoundQueries.failed > 0 ? `, ${f.firstRoundQueries.failed} requests failed or timed out (10 s)` : ""}`;
        report(
          {
            name: `defaults, first round: ${kind} p50`,
            size: count,
            settings: firstRoundSettings,
            value: p50,
            unit: "ms",
            note,
          },
          f.firstRoundOthersPct,
        );
        report(
          {
            name: `defaults, first round: ${kind} p99`,
            size: count,
            settings: firstRoundSettings,
            value: p99,
            unit: "ms",
            note,
            ...goalField("query-p99-50k-first-round", count),
          },
          f.firstRoundOthersPct,
        );
      }
      report({
        name: "defaults: RSS one interval after the first round",
        size: count,
        settings: defaultsSettings,
        value: toMB(f.settledRssMiB),
        unit: "MB",
        ...goalField("rss-50k", count),
      });
      report({
        name: "defaults: peak RSS (VmHWM)",
        size: count,
        settings: defaultsSettings,
        value: toMB(f.peakMiB),
        unit: "MB",
      });
      console.log(
        `    defaults: ready ${fixed(f.readySec, 2)} s, every adapter with a verdict ${fixed(f.verdictsSec)} s after spawn, ${f.falseVerdictsFirstRound} verdicts other than healthy; first-round queries: adapter p99 ${fixed(percentiles(f.firstRoundQueries.adapter).p99, 2)} ms (${f.firstRoundQueries.adapter.length}), resolve p99 ${fixed(percentiles(f.firstRoundQueries.resolve).p99, 2)} ms (${f.firstRoundQueries.resolve.length}), ${f.firstRoundQueries.failed} failed; RSS ${fixed(f.settledRssMiB)} MiB (peak ${fixed(f.peakMiB)})`,
      );
      if (f.watch) {
        const w = f.watch;
        windows.push({ what: `daemon at defaults (Watch) at ${count}`, othersPct: w.othersPct });
        const cycle = quick
          ? `a ${WATCH_WINDOW_SEC} s window (quick: not a whole safety-net cycle, so no safety-net polls)`
          : `a ${WATCH_WINDOW_SEC} s window, one whole safety-net cycle (watched_interval_sec default: 30 intervals), so every adapter's safety-net poll and every ${DEFAULT_SYNC_SEC} s sync in it count; the paced query client of the sync row runs in it for the seconds around one sync`;
        const watchSettings = `${defaultsSettings}; ${cycle}, starting ${quick ? "one interval" : "3 s after the sync queries (below), one interval or more"} after the first round; CPU utime+stime from /proc`;
        const perAdapterPerInterval = ((w.cpuSeconds / w.seconds) * INTERVAL_SEC) / count;
        report(
          {
            name: "defaults, Watch: CPU",
            size: count,
            settings: watchSettings,
            value: (w.cpuSeconds / w.seconds) * 100,
            unit: "% of a core",
          },
          w.othersPct,
        );
        report(
          {
            name: "defaults, Watch: CPU per adapter per interval",
            size: count,
            settings: watchSettings,
            value: us(perAdapterPerInterval),
            unit: "µs",
          },
          w.othersPct,
        );
        report({
          name: "defaults, Watch: safety-net polls/s",
          size: count,
          settings: watchSettings,
          value: w.polls / w.seconds,
          unit: "/s",
        });
        report({
          name: "defaults, Watch: verdicts other than healthy in the window",
          size: count,
          settings: watchSettings,
          value: w.falseVerdicts,
          unit: "verdicts",
          ...goalField("false-verdicts-50k", count),
        });
        report({
          name: "defaults, Watch: RSS at the end of the window",
          size: count,
          settings: watchSettings,
          value: toMB(w.rssMiB),
          unit: "MB",
          ...goalField("rss-50k", count),
        });
        if (peerPerProbe !== undefined) {
          const ratio = perAdapterPerInterval / peerPerProbe;
          report(
            {
              name: "CPU per adapter per interval, daemon at defaults (Watch) ÷ blackbox_exporter per probe",
              size: count,
              settings: `${watchSettings}; blackbox_exporter as in its rows (probing each adapter once per ${INTERVAL_SEC} s)`,
              value: ratio,
              unit: "×",
              goal: "cpu-ratio-watch-defaults",
              ...(peerNote ? { note: peerNote } : {}),
            },
            w.othersPct,
          );
          console.log(
            `    defaults with Watch over ${fixed(w.seconds, 0)} s: CPU ${fixed((w.cpuSeconds / w.seconds) * 100)} % of a core, ${fixed(w.polls / w.seconds)} polls/s, ${fixed(us(perAdapterPerInterval), 1)} µs per adapter per ${INTERVAL_SEC} s; ÷ blackbox_exporter's per probe: ${fixed(ratio, 3)} (goal ≤ 0.03: ${verdict(ratio <= 0.03)}); ${w.falseVerdicts} verdicts other than healthy; RSS ${fixed(w.rssMiB)} MiB; others ${fixed(w.othersPct)} %`,
          );
        }
      }
      if (f.syncQueries) {
        const q = f.syncQueries;
        const syncSettings = `${defaultsSettings}; ${paced}, from 5 s before the next periodic sync (unchanged catalog) was due until 3 s after oneiric_healthd_registry_last_sync_timestamp_seconds moved`;
        for (const [kind, samples] of [
          ["GET /v1/adapters/{id}", q.adapter],
          ["GET /v1/resolve", q.resolve],
        ] as const) {
          const { p50, p99 } = percentiles(samples);
          const note = `${samples.length} samples${q.syncs === 0 ? "; NO sync was seen in the window" : ""}${q.failed > 0 ? `; ${q.failed} requests failed` : ""}`;
          report(
            {
              name: `defaults, during a sync: ${kind} p50`,
              size: count,
              settings: syncSettings,
              value: p50,
              unit: "ms",
              note,
            },
            q.othersPct,
          );
          report(
            {
              name: `defaults, during a sync: ${kind} p99`,
              size: count,
              settings: syncSettings,
              value: q.syncs === 0 ? null : p99,
              unit: "ms",
              note,
              ...goalField("query-p99-50k-sync", count),
            },
            q.othersPct,
          );
        }
        console.log(
          `    queries during a sync: adapter p99 ${fixed(percentiles(q.adapter).p99, 2)} ms (${q.adapter.length}), resolve p99 ${fixed(percentiles(q.resolve).p99, 2)} ms (${q.resolve.length}); others ${fixed(q.othersPct)} %`,
        );
      }
    } catch (error) {
      // One size that could not be measured (a daemon that never finished its first round on
      // a busy machine) must not cost the other sizes' rows: say so and go on.
      reporter.problem(`at ${sizeText(count)} adapters: ${(error as Error).message}`);
    } finally {
      await stopChild(simulator);
    }
  }

  // What one more probe costs, with each process's fixed per-second work (timers, metrics, GC,
  // the pacing loop of this process) taken out: the slope between consecutive sizes.
  const cpuRate = (f: Figures) => f.cpuSeconds / f.seconds;
  const probeRate = (f: Figures) => f.probes / f.seconds;
  const sorted = [...SIZES].sort((x, y) => x - y);
  for (const [who, sizes] of bySize) {
    for (let index = 1; index < sorted.length; index++) {
      const lowSize = sorted[index - 1] ?? 0;
      const highSize = sorted[index] ?? 0;
      const low = sizes.get(lowSize);
      const high = sizes.get(highSize);
      if (!low || !high) continue;
      const micros = ((cpuRate(high) - cpuRate(low)) * 1e6) / (probeRate(high) - probeRate(low));
      report({
        name: `${who}: marginal CPU per probe (slope from the next smaller size)`,
        size: highSize,
        settings: `((CPU/s at ${sizeText(highSize)}) − (CPU/s at ${sizeText(lowSize)})) ÷ ((probes/s at ${sizeText(highSize)}) − (probes/s at ${sizeText(lowSize)})), from the rows above`,
        value: micros,
        unit: "µs",
      });
      console.log(
        `marginal CPU per probe, ${who}, ${sizeText(lowSize)} → ${sizeText(highSize)}: ${fixed(micros, 0)} µs`,
      );
    }
  }

  console.log(
    `\ndetection latency: ${fixed(DETECTION_ADAPTERS, 0)} adapters, in-process simulator (Watch re-read every 10 ms); interval 1 s, rise 1, fall 1, registry_check off;`,
  );
  console.log(
    `time from setBehaviour(id, "down") until GET /v1/adapters/{id} says unhealthy, polled every ${POLL_MS} ms; ${DETECTION_SAMPLES} adapters per mode`,
  );
  const scenario = parseScenario(
    `generate: { count: ${DETECTION_ADAPTERS}, endpoint: grpc }\n`,
    "detection",
  );
  const simulator = await startSimulator({ scenario, listen: "127.0.0.1:0", watchIntervalMs: 10 });
  const detections: (Detection & { goal: string; probes: string })[] = [];
  try {
    const ids = simulator.adapters.map((entry) => entry.adapterId);
    const base = "interval_sec: 1, rise: 1, fall: 1, registry_check: false";
    const modes: [string, string, number, number, string][] = [
      [
        "polling (watch off, jitter 0.1 default)",
        `{ ${base}, watch: false }`,
        1_050,
        13,
        "detection-polling",
      ],
      ["Watch (watch on)", `{ ${base}, watch: true }`, 100, 29, "detection-watch"],
      ...(quick
        ? []
        : ([
            [
              "polling, jitter 0 (for comparison)",
              `{ ${base}, watch: false, jitter: 0 }`,
              1_050,
              47,
              "",
            ],
          ] as [string, string, number, number, string][])),
    ];
    for (const [label, probes, goalMs, offset, goal] of modes) {
      detections.push({
        ...(await detectionRun(simulator, ids, label, probes, goalMs, offset)),
        goal,
        probes,
      });
    }
  } finally {
    await simulator.stop();
  }
  console.log(
    "mode                                      samples  median ms  max ms  others %  goal",
  );
  for (const d of detections) {
    const sortedSamples = [...d.samples].sort((x, y) => x - y);
    const max = d.missed > 0 ? Number.POSITIVE_INFINITY : (sortedSamples.at(-1) ?? Number.NaN);
    console.log(
      `${d.label.padEnd(42)}${String(d.samples.length).padStart(7)}${fixed(median(sortedSamples), 0).padStart(11)}${(Number.isFinite(max) ? fixed(max, 0) : "missed").padStart(8)}${fixed(d.othersPct).padStart(10)}  ≤ ${d.goalMs} ms: ${verdict(max <= d.goalMs)}`,
    );
    console.log(`    samples (ms): ${sortedSamples.map((sample) => fixed(sample, 0)).join(", ")}`);
    windows.push({ what: `detection, ${d.label}`, othersPct: d.othersPct });
    const settings = `${sizeText(DETECTION_ADAPTERS)} adapters, in-process simulator (Watch re-read every 10 ms); daemon probes ${d.probes}, sync hourly, log warn; from setBehaviour(id, "down") until GET /v1/adapters/{id} says unhealthy, polled every ${POLL_MS} ms; ${DETECTION_SAMPLES} adapters`;
    const note =
      d.missed > 0 ? `${d.missed} of ${DETECTION_SAMPLES} not detected within 10 s` : undefined;
    report(
      {
        name: `detection, ${d.label}: median`,
        size: DETECTION_ADAPTERS,
        settings,
        value: median(sortedSamples),
        unit: "ms",
        ...(note ? { note } : {}),
      },
      d.othersPct,
    );
    report(
      {
        name: `detection, ${d.label}: max`,
        size: DETECTION_ADAPTERS,
        settings,
        value: Number.isFinite(max) ? max : null,
        unit: "ms",
        ...(note ? { note } : {}),
        ...(d.goal ? { goal: d.goal } : {}),
      },
      d.othersPct,
    );
  }

  const disturbed = windows.filter((w) => w.othersPct > DISTURBED_PCT);
  console.log(
    disturbed.length === 0
      ? `other processes used at most ${DISTURBED_PCT} % of one core in every window: the machine was quiet`
      : `WARNING: other processes were busy during ${disturbed.map((w) => `${w.what} (${fixed(w.othersPct, 0)} %)`).join(", ")}: those figures are disturbed; rerun on a quiet machine`,
  );
}

try {
  await main();
} catch (error) {
  reporter.problem(`the engine benchmark stopped: ${(error as Error).stack ?? error}`);
} finally {
  cleanup();
}
reporter.finish();
process.exit(reporter.problems > 0 ? 1 : 0);
