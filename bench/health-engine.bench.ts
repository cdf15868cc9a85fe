/**
 * Health engine throughput and detection latency.
 *
 * 1. Throughput at 1,000 and 10,000 simulated grpc.health.v1 adapters (one simulator process,
 *    one port): the daemon (`oneiric-healthd run`, its own process) probing every adapter every
 *    10 s; probes/s, CPU per probe, commits/s, RSS.
 * 2. Side by side, against the same simulator and one after the other (never at the same
 *    time, so the two do not compete for the cores): Prometheus blackbox_exporter's gRPC module
 *    driven from here at the same probe rate; the same figures and the CPU-per-probe ratio.
 *    For reference, grpc-js's own Check calls from this process at the same rate.
 * 3. Detection latency at 1,000 adapters: one adapter at a time is switched to NOT_SERVING in
 *    an in-process simulator, and the daemon's HTTP API is polled until it says unhealthy,
 *    with 1 s polling and with grpc.health.v1 Watch.
 *
 * Every window also reports how much CPU processes outside the benchmark used ("others %"),
 * since this machine is shared: a busy window is flagged rather than silently reported.
 *
 * Run: npm run bench:engine   (prints figures; asserts nothing)
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
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
import { freePort } from "./support.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
const BLACKBOX = "prometheus-blackbox-exporter";

/** `BENCH_SIZES=10000` runs one size (the Watch row runs at the largest). */
const SIZES = (process.env.BENCH_SIZES ?? "1000,10000").split(",").map(Number);
const INTERVAL_SEC = 10;
const WINDOW_SEC = 30;
/**
 * With Watch, the safety-net poll interval (`watched_interval_sec`); the daemon's default
 * unless `BENCH_WATCHED_INTERVAL_SEC` is set. The Watch window spans one whole such cycle, so
 * it holds on average one safety-net poll per adapter, not a lucky gap between them.
 */
const WATCHED_INTERVAL_SEC = Number(process.env.BENCH_WATCHED_INTERVAL_SEC ?? 0) || undefined;
/** The daemon's own default for this interval, from its config loader. */
const DEFAULT_WATCHED_INTERVAL_SEC =
  parseConfigText(`healthd: { probes: { interval_sec: ${INTERVAL_SEC} } }`, "bench.yaml", {})
    .adapters.defaults.probes.watchedIntervalMs / 1000;
const DAEMON_CONCURRENCY = 256;
const BLACKBOX_CONCURRENCY = 64;
const WARMUP_SEC = 5;
const DETECTION_ADAPTERS = 1_000;
const DETECTION_SAMPLES = 10;
const POLL_MS = 5;

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

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

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of proc(5); field 3 (state) is fields[0] here.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * The whole machine's busy time against what this benchmark's own processes (this one and its
 * children) used, so a window disturbed by other work on the machine shows as such.
 */
class LoadMeter {
  private readonly machine0 = LoadMeter.machineBusySeconds();
  private readonly ours0 = LoadMeter.oursSeconds();
  private readonly t0 = performance.now();

  private static machineBusySeconds(): number {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy is user, nice, system, irq and
    // softirq (guest time is inside user); steal is the hypervisor's, not another process's.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
    return (user + nice + system + irq + softirq) / CLK_TCK;
  }

  private static oursSeconds(): number {
    const own = process.cpuUsage();
    let sum = (own.user + own.system) / 1e6;
    for (const child of children) {
      try {
        sum += cpuSeconds(child.pid);
      } catch {
        // exited between the check and the read
      }
    }
    return sum;
  }

  /** Percent of one core that other processes used since the meter was made. */
  othersPct(): number {
    const seconds = (performance.now() - this.t0) / 1000;
    const machine = LoadMeter.machineBusySeconds() - this.machine0;
    const ours = LoadMeter.oursSeconds() - this.ours0;
    return Math.max(0, ((machine - ours) / seconds) * 100);
  }
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

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
  agent: Agent;
}

async function startDaemonProcess(
  label: string,
  registryPort: number,
  probes: string,
): Promise<DaemonProcess> {
  const dir = tempDir(label);
  const configPath = join(dir, "healthd.yaml");
  writeFileSync(
    configPath,
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
  sync: { interval_sec: 3600 }
  probes: ${probes}
  log: { level: warn }
`,
  );
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
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
  return { child, base, agent };
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
  commits: number;
  committed: number;
  rssStartMiB: number;
  firstRoundSec: number;
  meanProbeMs: number;
  loopLagP99Ms: number;
}

async function daemonPhase(
  count: number,
  simulator: Child,
  simPort: number,
  watch = false,
  windowSec = WINDOW_SEC,
) {
  const startedAt = performance.now();
  const watched =
    watch && WATCHED_INTERVAL_SEC !== undefined
      ? `, watched_interval_sec: ${WATCHED_INTERVAL_SEC}`
      : "";
  const daemon = await startDaemonProcess(
    `daemon-${count}${watch ? "-watch" : ""}`,
    simPort,
    `{ interval_sec: ${INTERVAL_SEC}, timeout_sec: 5, watch: ${watch}${watched}, registry_check: false, concurrency: ${DAEMON_CONCURRENCY} }`,
  );
  try {
    await waitForVerdicts(daemon, count, (INTERVAL_SEC * 3 + 60) * 1000);
    const firstRoundSec = (performance.now() - startedAt) / 1000;
    await sleep(INTERVAL_SEC * 1000); // warm-up: one more whole round
    const m0 = await scrape(daemon);
    const load = new LoadMeter();
    const cpu0 = cpuSeconds(daemon.child.pid);
    const sim0 = cpuSeconds(simulator.pid);
    const rssStart = rssMiB(daemon.child.pid);
    const t0 = performance.now();
    await sleep(windowSec * 1000);
    const cpu1 = cpuSeconds(daemon.child.pid);
    const othersPct = load.othersPct();
    const sim1 = cpuSeconds(simulator.pid);
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
      commits: delta("oneiric_healthd_commit_batches_total"),
      committed: delta("oneiric_healthd_committed_results_total"),
      firstRoundSec,
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
): Promise<(Figures & { behind: number }) | undefined> {
  if (!blackboxInstalled()) return undefined;
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
    const cpu0 = cpuSeconds(child.pid);
    const sim0 = cpuSeconds(simulator.pid);
    const result = await drive(probe, rate, WINDOW_SEC, BLACKBOX_CONCURRENCY);
    const cpu1 = cpuSeconds(child.pid);
    const othersPct = load.othersPct();
    const sim1 = cpuSeconds(simulator.pid);
    return {
      probes: result.ok,
      failures: result.failed,
      seconds: result.seconds,
      cpuSeconds: cpu1 - cpu0,
      simulatorCpuSeconds: sim1 - sim0,
      othersPct,
      rssMiB: rssMiB(child.pid),
      behind: result.behind,
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
    await drive(check, rate, WARMUP_SEC, DAEMON_CONCURRENCY);
    const load = new LoadMeter();
    const cpu0 = process.cpuUsage();
    const sim0 = cpuSeconds(simulator.pid);
    const result = await drive(check, rate, WINDOW_SEC, DAEMON_CONCURRENCY);
    const cpu = process.cpuUsage(cpu0);
    const othersPct = load.othersPct();
    const sim1 = cpuSeconds(simulator.pid);
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
// Phase 3: detection latency

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
  const daemon = await startDaemonProcess("detect", simulator.registryPort, probes);
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

function row(count: number, who: string, f: Figures, extra = ""): string {
  const rate = f.probes / f.seconds;
  const cpuPct = (f.cpuSeconds / f.seconds) * 100;
  const perProbe = (f.cpuSeconds * 1e6) / f.probes;
  return `${fixed(count, 0).padStart(8)}  ${who.padEnd(18)}${fixed(rate).padStart(9)}${fixed(cpuPct).padStart(9)}${fixed(perProbe, 0).padStart(10)}${extra}${fixed(f.othersPct).padStart(10)}`;
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const verdict = (met: boolean) => (met ? "met" : "NOT met");

async function main(): Promise<void> {
  const hasBlackbox = blackboxInstalled();
  console.log(
    `health engine benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  console.log(
    hasBlackbox
      ? `blackbox_exporter: ${blackboxVersion()}`
      : `blackbox_exporter not installed: apt-get install ${BLACKBOX}`,
  );
  console.log(
    `throughput: interval ${INTERVAL_SEC} s, window ${WINDOW_SEC} s after one interval of warm-up; daemon concurrency ${DAEMON_CONCURRENCY}, blackbox driven at the same rate with at most ${BLACKBOX_CONCURRENCY} in flight;`,
  );
  console.log(
    "daemon and blackbox_exporter run one after the other against the same simulator process, never together.",
  );

  const goals: string[] = [];
  /** Each measurement window and how busy the rest of the machine was during it. */
  const windows: { what: string; othersPct: number }[] = [];
  const ratios: { count: number; ratio: number }[] = [];
  const watchRatios: { count: number; ratio: number; cycleSec: number }[] = [];
  const daemonBySize = new Map<number, DaemonFigures>();
  /** Figures of every process by name, then by size, for the marginal costs. */
  const bySize = new Map<string, Map<number, Figures>>();
  const keep = (who: string, count: number, f: Figures) => {
    const sizes = bySize.get(who) ?? new Map<number, Figures>();
    sizes.set(count, f);
    bySize.set(who, sizes);
  };
  for (const count of SIZES) {
    console.log(`\n${fixed(count, 0)} adapters (grpc.health.v1, one simulator process, one port)`);
    const { child: simulator, port: simPort } = await startSimulatorProcess(count);
    try {
      const d = await daemonPhase(count, simulator, simPort);
      daemonBySize.set(count, d);
      const b = hasBlackbox ? await blackboxPhase(count, simulator, simPort) : undefined;
      const g = await grpcJsPhase(count, simulator, simPort);
      keep("oneiric-healthd", count, d);
      if (b) keep("blackbox_exporter", count, b);
      keep("grpc-js alone", count, g);
      windows.push({ what: `daemon at ${count}`, othersPct: d.othersPct });
      if (b) windows.push({ what: `blackbox_exporter at ${count}`, othersPct: b.othersPct });
      windows.push({ what: `grpc-js alone at ${count}`, othersPct: g.othersPct });
      console.log(
        "adapters  process               probes/s    CPU %   µs/probe  commits/s  results/commit  RSS MiB  others %",
      );
      console.log(
        row(
          count,
          "oneiric-healthd",
          d,
          `${fixed(d.commits / d.seconds).padStart(11)}${fixed(d.committed / d.commits).padStart(16)}${fixed(d.rssMiB).padStart(9)}`,
        ),
      );
      if (b) {
        console.log(
          row(
            count,
            "blackbox_exporter",
            b,
            `${"-".padStart(11)}${"-".padStart(16)}${fixed(b.rssMiB).padStart(9)}`,
          ),
        );
      }
      console.log(
        row(count, "grpc-js alone", g, `${"-".padStart(11)}${"-".padStart(16)}${"-".padStart(9)}`),
      );
      console.log(
        `    daemon: first round done ${fixed(d.firstRoundSec)} s after spawn; ${d.failures} failed probes in the window; mean probe ${fixed(d.meanProbeMs, 2)} ms; event-loop lag p99 ${fixed(d.loopLagP99Ms, 1)} ms; RSS ${fixed(d.rssStartMiB)} → ${fixed(d.rssMiB)} MiB over the window; simulator CPU ${fixed((d.simulatorCpuSeconds / d.seconds) * 100)} %`,
      );
      if (count === Math.max(...SIZES)) {
        // With Watch, changes are pushed and the poll every watched_interval_sec (30 intervals)
        // is only a safety net: the steady-state cost of keeping N adapters current.
        const cycleSec = WATCHED_INTERVAL_SEC ?? DEFAULT_WATCHED_INTERVAL_SEC;
        const w = await daemonPhase(count, simulator, simPort, true, cycleSec);
        windows.push({ what: `daemon with Watch at ${count}`, othersPct: w.othersPct });
        console.log(
          `    daemon with Watch (polls every ${cycleSec} s as a safety net; window ${cycleSec} s, one whole cycle): CPU ${fixed((w.cpuSeconds / w.seconds) * 100)} % of a core, ${fixed(w.probes / w.seconds)} polls/s, RSS ${fixed(w.rssMiB)} MiB; CPU per adapter kept current per ${INTERVAL_SEC} s: ${fixed(((w.cpuSeconds / w.seconds) * INTERVAL_SEC * 1e6) / count)} µs`,
        );
        if (b) {
          const perAdapter = ((w.cpuSeconds / w.seconds) * INTERVAL_SEC) / count;
          const ratio = perAdapter / (b.cpuSeconds / b.probes);
          console.log(
            `    with Watch, CPU per adapter per interval ÷ blackbox_exporter's per probe: ${fixed(ratio, 3)} (goal < 0.1: ${verdict(ratio < 0.1)})`,
          );
          watchRatios.push({ count, ratio, cycleSec });
        }
      }
      if (b) {
        const ratio = d.cpuSeconds / d.probes / (b.cpuSeconds / b.probes);
        ratios.push({ count, ratio });
        console.log(
          `    blackbox: ${b.failures} failed probes; ${b.behind} probes behind schedule at the end; simulator CPU ${fixed((b.simulatorCpuSeconds / b.seconds) * 100)} % (a new connection per probe)`,
        );
        console.log(
          `    grpc-js alone: ${g.failures} failed; Check calls from this process over one channel, same rate and service names: the floor under any grpc-js prober`,
        );
        console.log(
          `    CPU per probe, daemon ÷ blackbox_exporter: ${fixed(ratio, 3)} (goal < 0.1: ${verdict(ratio < 0.1)})`,
        );
      }
    } finally {
      await stopChild(simulator);
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
  const detections: Detection[] = [];
  try {
    const ids = simulator.adapters.map((entry) => entry.adapterId);
    const base = "interval_sec: 1, rise: 1, fall: 1, registry_check: false";
    detections.push(
      await detectionRun(
        simulator,
        ids,
        "polling (watch off, jitter 0.1 default)",
        `{ ${base}, watch: false }`,
        1_050,
        13,
      ),
    );
    detections.push(
      await detectionRun(simulator, ids, "Watch (watch on)", `{ ${base}, watch: true }`, 100, 29),
    );
    detections.push(
      await detectionRun(
        simulator,
        ids,
        "polling, jitter 0 (for comparison)",
        `{ ${base}, watch: false, jitter: 0 }`,
        1_050,
        47,
      ),
    );
  } finally {
    await simulator.stop();
  }
  console.log(
    "mode                                      samples  median ms  max ms  others %  goal",
  );
  for (const d of detections) {
    const sorted = [...d.samples].sort((a, b) => a - b);
    const max = d.missed > 0 ? Number.POSITIVE_INFINITY : (sorted.at(-1) ?? Number.NaN);
    console.log(
      `${d.label.padEnd(42)}${String(d.samples.length).padStart(7)}${fixed(median(sorted), 0).padStart(11)}${(Number.isFinite(max) ? fixed(max, 0) : "missed").padStart(8)}${fixed(d.othersPct).padStart(10)}  ≤ ${d.goalMs} ms: ${verdict(max <= d.goalMs)}`,
    );
    console.log(`    samples (ms): ${sorted.map((s) => fixed(s, 0)).join(", ")}`);
  }

  // What one more probe costs, with each process's fixed per-second work (timers, metrics, GC,
  // the pacing loop of this process) taken out: the slope between the two sizes.
  const cpuRate = (f: Figures) => f.cpuSeconds / f.seconds;
  const probeRate = (f: Figures) => f.probes / f.seconds;
  const marginals = new Map<string, number>();
  for (const [who, sizes] of bySize) {
    const low = sizes.get(1_000);
    const high = sizes.get(10_000);
    if (!low || !high) continue;
    marginals.set(who, ((cpuRate(high) - cpuRate(low)) * 1e6) / (probeRate(high) - probeRate(low)));
  }
  if (marginals.size > 0) {
    console.log("\nmarginal CPU per probe between 1,000 and 10,000 adapters (slope):");
    for (const [who, micros] of marginals)
      console.log(`  ${who.padEnd(18)}${fixed(micros, 0).padStart(6)} µs`);
    const daemon = marginals.get("oneiric-healthd");
    const blackbox = marginals.get("blackbox_exporter");
    if (daemon !== undefined && blackbox !== undefined) {
      console.log(`  daemon ÷ blackbox_exporter: ${fixed(daemon / blackbox, 3)}`);
    }
  }
  const daemonAt10k = daemonBySize.get(10_000);
  if (daemonAt10k) {
    const pct = (daemonAt10k.cpuSeconds / daemonAt10k.seconds) * 100;
    goals.push(
      `10,000 adapters at 10 s on under half a core: ${fixed(pct)} % of one core: ${verdict(pct < 50)}`,
    );
  }
  for (const { count, ratio } of ratios) {
    goals.push(
      `under 1/10 of blackbox_exporter's CPU per probe at ${fixed(count, 0)}, polling every adapter: ratio ${fixed(ratio, 3)}: ${verdict(ratio < 0.1)}`,
    );
  }
  for (const { count, ratio, cycleSec } of watchRatios) {
    goals.push(
      `under 1/10 of blackbox_exporter's CPU per adapter per interval at ${fixed(count, 0)}, with Watch (safety-net poll every ${cycleSec} s): ratio ${fixed(ratio, 3)}: ${verdict(ratio < 0.1)}`,
    );
  }
  for (const d of detections) {
    const max = d.missed > 0 ? Number.POSITIVE_INFINITY : Math.max(...d.samples);
    goals.push(
      `detection, ${d.label}: max ${Number.isFinite(max) ? `${fixed(max, 0)} ms` : "missed"} vs ≤ ${d.goalMs} ms: ${verdict(max <= d.goalMs)}`,
    );
  }
  for (const d of detections)
    windows.push({ what: `detection, ${d.label}`, othersPct: d.othersPct });
  console.log("\ngoals:");
  for (const goal of goals) console.log(`  ${goal}`);
  const disturbed = windows.filter((w) => w.othersPct > 10);
  console.log(
    disturbed.length === 0
      ? "other processes used at most 10 % of one core in every window: the machine was quiet"
      : `WARNING: other processes were busy during ${disturbed.map((w) => `${w.what} (${fixed(w.othersPct, 0)} %)`).join(", ")}: those figures are disturbed; rerun on a quiet machine`,
  );
}

try {
  await main();
} finally {
  cleanup();
}
process.exit(0);
