/**
 * Catalog sync CPU: what one periodic sync (`sync.interval_sec`) costs the daemon
 * at 10,000 and 50,000 adapters, for a catalog that did not change, one in which
 * 1 % or 100 % of the entries changed, and entries removed and added.
 *
 * The registry is `oneiric-healthd simulate` in a child process; the daemon
 * (`startDaemon`, the real wiring: gRPC client, gateway, SQLite store, engine,
 * scheduler) runs in this process and each sync is started with `syncNow()`, so
 * the figure is the CPU of this process (`process.cpuUsage()`, every thread)
 * from the call to its end: receiving the answer, comparing it, committing what
 * changed. "GC ms" is the time in garbage collection within that (perf_hooks
 * "gc" entries). The "read only" rows call the gateway's `readCatalog()`
 * alone: receiving and comparing the answer, no commit. "others %" is the
 * machine's CPU outside this process and the simulator during the row's
 * window, from /proc/stat.
 *
 * Run: npx tsx bench/catalog-sync.bench.ts [--quick] [--report <file>]   (prints figures;
 * asserts nothing; --quick: 10,000 only, fewer syncs; --report for the suite, see
 * bench/report.ts)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import pino from "pino";
import { parseConfigText } from "../src/config/load.js";
import {
  AdapterRegistryClient,
  type AdapterEntry as WireAdapterEntry,
} from "../src/gen/oneiric/registry/v1/registry.js";
import { startDaemon } from "../src/main.js";
import { goalAt } from "./goals.js";
import { benchOptions, type Reporter } from "./report.js";
import { DISTURBED_PCT, freePort, processCpuSeconds } from "./support.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
const editorAt = process.argv.indexOf("--editor");
// The editor child takes only its own argument; the bench itself the suite's.
const options = editorAt >= 0 ? undefined : benchOptions("catalog-sync");
const QUICK = options?.quick ?? false;
const SIZES = QUICK ? [10_000] : [10_000, 50_000];
const UNCHANGED_SYNCS = QUICK ? 5 : 9;
const CHANGED_SYNCS = QUICK ? 1 : 3;
/**
 * Syncs after every heartbeat changed: fewer, since each needs N heartbeat RPCs first (about
 * 17 s at 50,000), which would otherwise be most of the bench's time.
 */
const ALL_CHANGED_SYNCS = QUICK ? 1 : 2;
/** Jiffies per second in /proc (USER_HZ, 100 on Linux everywhere that matters). */
const CLOCK_TICKS = 100;

interface Simulator {
  pid: number;
  stop(): void;
}

async function startSimulator(count: number, port: number, dir: string): Promise<Simulator> {
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(
    scenario,
    `generate: { count: ${count}, endpoint: http, categories: [storage, cache, orchestration] }\n`,
  );
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, "simulate", "--scenario", scenario, "--listen", `127.0.0.1:${port}`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("simulating")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return { pid: child.pid ?? 0, stop: () => child.kill("SIGTERM") };
}

/** utime + stime of a process, in ms. */
function processCpuMs(pid: number | "self"): number {
  return processCpuSeconds(pid) * 1000;
}

/** Busy CPU of the whole machine, in ms summed over cores, from /proc/stat. */
function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>(
    (sum, value) => sum + (value ?? 0),
    0,
  );
  return (busy * 1000) / CLOCK_TICKS;
}

/** The machine's CPU outside this process and the simulator, as % of all cores, over a window. */
class OthersWindow {
  private readonly startedAt = performance.now();
  private readonly machine = machineBusyMs();
  private readonly own: number;

  constructor(private readonly simulatorPid: number) {
    this.own = processCpuMs("self") + processCpuMs(simulatorPid);
  }

  percent(): number {
    const elapsedMs = performance.now() - this.startedAt;
    const machine = machineBusyMs() - this.machine;
    const own = processCpuMs("self") + processCpuMs(this.simulatorPid) - this.own;
    return (Math.max(0, machine - own) / (elapsedMs * cpus().length)) * 100;
  }
}

interface SyncSample {
  cpuMs: number;
  /** Time in garbage collection during the sync (every kind, incremental steps included). */
  gcMs: number;
  wallMs: number;
  simulatorMs: number;
  added: number;
  updated: number;
  removed: number;
}

/** Sums the duration of garbage collections while a measured call runs. */
class GcTime {
  private totalMs = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.totalMs += entry.duration;
  });

  constructor() {
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** GC time so far, after the entries of collections just ended are delivered. */
  async readMs(): Promise<number> {
    await delay(0);
    return this.totalMs;
  }
}

async function measured(
  call: () => Promise<{
    ok: boolean;
    error?: string;
    added: number;
    updated: number;
    removed: number;
  }>,
  simulatorPid: number,
  gc: GcTime,
): Promise<SyncSample> {
  const simulatorBefore = processCpuMs(simulatorPid);
  const gcBefore = await gc.readMs();
  const startedAt = performance.now();
  const before = process.cpuUsage();
  const result = await call();
  const used = process.cpuUsage(before);
  const wallMs = performance.now() - startedAt;
  const gcMs = (await gc.readMs()) - gcBefore;
  if (!result.ok) throw new Error(`sync failed: ${result.error}`);
  return {
    cpuMs: (used.user + used.system) / 1000,
    gcMs,
    wallMs,
    simulatorMs: processCpuMs(simulatorPid) - simulatorBefore,
    added: result.added,
    updated: result.updated,
    removed: result.removed,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs `calls` with at most `inFlight` at once. */
async function inParallel<T>(
  items: readonly T[],
  inFlight: number,
  call: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await call(item);
      }
    }),
  );
}

/** Changes the simulator's catalog over its own RPCs, as adapters and operators would. */
class CatalogEditor {
  private readonly client: AdapterRegistryClient;

  constructor(port: number) {
    this.client = new AdapterRegistryClient(`127.0.0.1:${port}`, credentials.createInsecure());
  }

  heartbeat(ids: readonly string[]): Promise<void> {
    return inParallel(
      ids,
      64,
      (adapterId) =>
        new Promise<void>((resolve, reject) =>
          this.client.heartbeat({ adapterId }, (error) => (error ? reject(error) : resolve())),
        ),
    );
  }

  entries(ids: readonly string[]): Promise<WireAdapterEntry[]> {
    const found: WireAdapterEntry[] = [];
    return inParallel(
      ids,
      64,
      (adapterId) =>
        new Promise<void>((resolve, reject) =>
          this.client.getAdapter({ adapterId }, (error, response) => {
            if (error || !response?.adapter) reject(error ?? new Error(`no ${adapterId}`));
            else {
              found.push(response.adapter);
              resolve();
            }
          }),
        ),
    ).then(() => found);
  }

  /** Registers the entries again (the simulator moves each to the end of its list). */
  register(entries: readonly WireAdapterEntry[]): Promise<void> {
    return inParallel(
      entries,
      64,
      (adapter) =>
        new Promise<void>((resolve, reject) =>
          this.client.registerAdapter({ adapter }, (error) => (error ? reject(error) : resolve())),
        ),
    );
  }

  unregister(ids: readonly string[]): Promise<void> {
    return inParallel(
      ids,
      64,
      (adapterId) =>
        new Promise<void>((resolve, reject) =>
          this.client.unregisterAdapter({ adapterId }, (error) =>
            error ? reject(error) : resolve(),
          ),
        ),
    );
  }

  close(): void {
    this.client.close();
  }
}

/** The registry's RPCs that change the catalog, as a command a {@link RemoteEditor} sends. */
interface EditCommand {
  op: "heartbeat" | "reregister" | "unregister" | "restore";
  ids: string[];
}

/**
 * Runs {@link CatalogEditor} in a child process, so the garbage of thousands of
 * RPCs that prepare a row is not collected inside this process's measured sync.
 */
class RemoteEditor {
  private readonly child: ChildProcess;
  private pending: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(port: number) {
    this.child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), "--editor", String(port)],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    this.child.stdout?.on("data", () => {
      const waiting = this.pending;
      this.pending = undefined;
      waiting?.resolve();
    });
    this.child.on("exit", (code) => this.pending?.reject(new Error(`editor exited with ${code}`)));
  }

  run(op: EditCommand["op"], ids: readonly string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.stdin?.write(`${JSON.stringify({ op, ids })}\n`);
    });
  }

  close(): void {
    this.child.kill("SIGTERM");
  }
}

/** The child's side: applies each command line from stdin, answers "done" on stdout. */
async function serveEdits(port: number): Promise<void> {
  const editor = new CatalogEditor(port);
  const removed = new Map<string, WireAdapterEntry>();
  let buffered = "";
  for await (const chunk of process.stdin) {
    buffered += String(chunk);
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const command = JSON.parse(buffered.slice(0, newline)) as EditCommand;
      buffered = buffered.slice(newline + 1);
      if (command.op === "heartbeat") await editor.heartbeat(command.ids);
      else if (command.op === "reregister") {
        const entries = await editor.entries(command.ids);
        await editor.register(
          entries.map((entry) => ({ ...entry, metadata: { ...entry.metadata, revision: "2" } })),
        );
      } else if (command.op === "unregister") {
        for (const entry of await editor.entries(command.ids)) removed.set(entry.adapterId, entry);
        await editor.unregister(command.ids);
      } else {
        await editor.register(command.ids.flatMap((id) => removed.get(id) ?? []));
      }
      process.stdout.write("done\n");
      newline = buffered.indexOf("\n");
    }
  }
  editor.close();
}

interface Row {
  size: number;
  name: string;
  samples: SyncSample[];
  othersPercent: number;
}

function printRow(row: Row): void {
  const cpu = row.samples.map((sample) => sample.cpuMs);
  const last = row.samples[row.samples.length - 1];
  const changes = last ? `+${last.added} ~${last.updated} -${last.removed}` : "";
  console.log(
    [
      String(row.size).padStart(7),
      row.name.padEnd(34),
      String(row.samples.length).padStart(5),
      median(cpu).toFixed(1).padStart(9),
      `${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}`.padStart(15),
      median(row.samples.map((sample) => sample.gcMs))
        .toFixed(1)
        .padStart(7),
      median(row.samples.map((sample) => sample.wallMs))
        .toFixed(1)
        .padStart(9),
      median(row.samples.map((sample) => sample.simulatorMs))
        .toFixed(0)
        .padStart(8),
      changes.padStart(18),
      row.othersPercent.toFixed(0).padStart(8),
    ].join("  "),
  );
}

const SETTINGS = [
  "registry: oneiric-healthd simulate in a child process, generate: { count: N, endpoint: http, categories: [storage, cache, orchestration] }",
  "daemon: startDaemon in the bench process with sync: { interval_sec: 86400 }, probes: { interval_sec: 86400, startup_rate_per_sec: 0.01, registry_check: false, watch: false }, registry: { max_queued_calls: 100000, breaker: { threshold: 1000 } }, oneiric_mcp.timeout_sec: 60, a SQLite file in a temp dir; each sync started by syncNow()",
  "CPU: process.cpuUsage() of the bench process (every thread) from the call to its end; GC: perf_hooks gc entries in that window",
  "catalog edited between syncs from another child process over the simulator's RPCs",
].join("; ");

/** One row's figures to the suite: CPU p50 and minimum, GC p50; the unchanged row judged at 50,000. */
function reportRow(reporter: Reporter, row: Row): void {
  const cpu = row.samples.map((sample) => sample.cpuMs);
  const last = row.samples[row.samples.length - 1];
  const readOnly = row.name.startsWith("read only");
  const settings = `${SETTINGS}${readOnly ? "; read only: the gateway's readCatalog() alone, no commit" : ""}${QUICK ? "; quick run" : ""}`;
  const othersOfACore = row.othersPercent * cpus().length;
  const changed = last !== undefined && last.added + last.updated + last.removed > 0;
  const notes = [
    `${row.samples.length} sync${row.samples.length === 1 ? "" : "s"}`,
    ...(changed ? [`the last one: +${last.added} ~${last.updated} -${last.removed} entries`] : []),
    ...(othersOfACore > DISTURBED_PCT
      ? [`disturbed: other processes used ${othersOfACore.toFixed(0)} % of a core`]
      : []),
  ];
  const note = { note: notes.join("; ") };
  const goal = row.name === "unchanged" ? goalAt("sync-unchanged-50k", row.size) : undefined;
  reporter.row({
    name: `${row.name}: CPU per sync, p50`,
    size: row.size,
    settings,
    value: median(cpu),
    unit: "ms",
    ...(goal ? { goal } : {}),
    ...note,
  });
  if (row.samples.length > 1) {
    reporter.row({
      name: `${row.name}: CPU per sync, min`,
      size: row.size,
      settings,
      value: Math.min(...cpu),
      unit: "ms",
    });
  }
  reporter.row({
    name: `${row.name}: GC per sync, p50`,
    size: row.size,
    settings,
    value: median(row.samples.map((sample) => sample.gcMs)),
    unit: "ms",
  });
}

/** Lets the clock pass a second, so a heartbeat now differs from the one before. */
const nextSecond = () => delay(1_100);

async function benchSize(size: number, reporter: Reporter): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-sync-"));
  const port = await freePort();
  const config = parseConfigText(
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${port}, timeout_sec: 60 }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
  sync: { interval_sec: 86400 }
  probes: { interval_sec: 86400, startup_rate_per_sec: 0.01, registry_check: false, watch: false }
  registry: { max_queued_calls: 100000, breaker: { threshold: 1000 } }
  log: { level: silent }`,
    "bench",
    {},
  );
  // The daemon starts before the registry, so its first sync (an empty database,
  // every entry new) can be measured on its own.
  const daemon = await startDaemon(config, { logger: pino({ level: "silent" }) });
  const simulator = await startSimulator(size, port, dir);
  const editor = new RemoteEditor(port);
  const rows: Row[] = [];
  const gc = new GcTime();
  const sync = () => measured(() => daemon.syncNow(), simulator.pid, gc);
  // The registry answer alone (receive, compare, decide): the gateway's read, no commit.
  const readOnly = () =>
    measured(
      async () => {
        const answer = await daemon.gateway.readCatalog();
        const changed = answer.changes?.changed.length ?? answer.entries.length;
        return {
          ok: true,
          added: 0,
          updated: changed,
          removed: answer.changes?.removed.length ?? 0,
        };
      },
      simulator.pid,
      gc,
    );
  const row = async (
    name: string,
    repetitions: number,
    prepare: (repetition: number) => Promise<void>,
    measure: () => Promise<SyncSample> = sync,
  ) => {
    const window = new OthersWindow(simulator.pid);
    const samples: SyncSample[] = [];
    for (let repetition = 0; repetition < repetitions; repetition++) {
      await prepare(repetition);
      samples.push(await measure());
    }
    const done: Row = { size, name, samples, othersPercent: window.percent() };
    rows.push(done);
    printRow(done);
    reportRow(reporter, done);
  };
  try {
    const firstWindow = new OthersWindow(simulator.pid);
    let first: SyncSample | undefined;
    for (let attempt = 0; first === undefined; attempt++) {
      // Until the channel has connected to the simulator the sync fails fast and cheaply.
      first = await sync().catch(async (error: unknown) => {
        if (attempt > 60) throw error;
        await delay(1_000);
        return undefined;
      });
    }
    const firstRow: Row = {
      size,
      name: "first sync (empty database)",
      samples: [first],
      othersPercent: firstWindow.percent(),
    };
    rows.push(firstRow);
    printRow(firstRow);
    reportRow(reporter, firstRow);
    const ids = daemon.view.allEntries().map((entry) => entry.adapterId);
    const everyHundredth = (offset: number) => ids.filter((_, index) => index % 100 === offset);

    await row("unchanged", UNCHANGED_SYNCS, () => delay(200));
    await row("1 % heartbeats (live readings)", CHANGED_SYNCS, async (repetition) => {
      await nextSecond();
      await editor.run("heartbeat", everyHundredth(repetition));
    });
    await row("1 % re-registered (described anew)", CHANGED_SYNCS, async (repetition) => {
      await nextSecond();
      await editor.run("reregister", everyHundredth(50 + repetition));
    });
    await row("100 % heartbeats (live readings)", ALL_CHANGED_SYNCS, async () => {
      await nextSecond();
      await editor.run("heartbeat", ids);
    });
    const leaving = everyHundredth(7);
    await row("1 % removed", 1, () => editor.run("unregister", leaving));
    await row("1 % added", 1, () => editor.run("restore", leaving));
    await row("unchanged, again", UNCHANGED_SYNCS, () => delay(200));
    // What follows reads without committing: the sync after it would compare whole.
    await row("read only: unchanged", UNCHANGED_SYNCS, () => delay(200), readOnly);
    await row(
      "read only: 100 % heartbeats",
      ALL_CHANGED_SYNCS,
      async () => {
        await nextSecond();
        await editor.run("heartbeat", ids);
      },
      readOnly,
    );
  } finally {
    editor.close();
    await daemon.stop();
    simulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(reporter: Reporter): Promise<void> {
  console.log(
    `catalog sync benchmark${QUICK ? " (--quick)" : ""}: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  console.log(
    "settings: simulator child (generate, endpoint http); daemon in this process, sync by syncNow(), probes and periodic sync hourly+ so they stay out of the windows",
  );
  console.log(
    [
      "adapters",
      "case".padEnd(34),
      "syncs",
      "CPU ms p50",
      "CPU ms min–max",
      "  GC ms",
      " wall ms",
      "sim ms",
      "changes (last)".padStart(18),
      "others %",
    ].join("  "),
  );
  for (const size of SIZES) await benchSize(size, reporter);
}

if (options === undefined) {
  await serveEdits(Number(process.argv[editorAt + 1]));
  process.exit(0);
}
try {
  await main(options.reporter);
} catch (error) {
  options.reporter.problem(
    `the catalog sync benchmark stopped: ${(error as Error).stack ?? error}`,
  );
}
options.reporter.finish();
process.exit(options.reporter.problems > 0 ? 1 : 0);
