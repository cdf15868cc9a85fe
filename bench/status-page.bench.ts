/**
 * The status page's cost, in Debian's chromium (/usr/bin/chromium) driven by
 * playwright-core, against the daemon and the simulator each in its own process:
 *
 * - time to first render at 1,000 and 10,000 adapters: from navigation start to
 *   the page's `board-rendered` mark (every category on screen with its first
 *   rows) and its `history-rendered` mark (every bar drawn), median of cold
 *   loads (a new browser context each, so an empty cache) and of warm ones (the
 *   same context: the page's files come back 304);
 * - bytes transferred per load, cold and warm, by kind: the page's files
 *   (HTML, JS, CSS, icon), the API's JSON, and the event stream (SSE), headers
 *   included, as chromium's network layer counts them (CDP encodedDataLength);
 * - the daemon's CPU with 50 pages open (in 25 browser contexts of two pages,
 *   each page with its event stream) while 5 % of the adapters flip every 15 s,
 *   beside the same window with no page open; the browser's own CPU apart.
 *
 * For the loads, the simulator runs in its own process over a scenario with
 * 5 % of the adapters flapping, and the daemon at its defaults but for the
 * registry's address, the listen addresses, its database file,
 * `limits.requests_per_sec: 0` (every page here comes from 127.0.0.1, so the
 * per-client rate limit would measure itself) and `breaker.threshold: 1000`.
 * A scripted flapping adapter turned out not to flip where the pages see it (no
 * event in a minute; the daemon damps flapping), so for the CPU windows the
 * simulator runs in this process and a different 5 % of the adapters are set
 * down every 15 s (the previous 5 % back up), with probes polled every 5 s
 * without Watch, so each change is an event within about 10 s; the simulator's
 * CPU is then this process's.
 * BENCH_PAGE_PARTS=loads or =cpu runs one part only; BENCH_PAGE_PAGES=N opens N pages
 * instead of 50.
 * Run: npm run bench:page   (prints figures; asserts nothing; --quick for a smoke run
 * with 500 adapters, 10 pages and short windows; --report <file> for the suite, see
 * bench/report.ts)
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { benchOptions } from "./report.js";
import {
  freePort,
  machineBusySeconds,
  percentiles,
  processCpuSeconds,
  startCli,
} from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const { quick, reporter } = benchOptions("page");
const SIZES = quick ? [500] : [1_000, 10_000];
/** Loads timed for each median, cold and warm. */
const LOADS = quick ? 2 : 5;
/** The adapters of the CPU windows: the first size. */
const CPU_SIZE = SIZES[0] ?? 1_000;
/** BENCH_PAGE_PAGES sets it: 50 pages with 5 % flipping saturate two cores (see bench/README.md). */
const PAGES = Number(process.env.BENCH_PAGE_PAGES ?? (quick ? 10 : 50));
/**
 * Two pages a context: chromium opens at most 6 HTTP/1.1 connections to one host
 * per context, and each page's event stream holds one for good, so a context
 * with six pages open has none left for their other requests.
 */
const CONTEXTS = Math.ceil(PAGES / 2);
const WINDOW_SEC = quick ? 15 : 60;
/** After the pages are open, before the window: their first readings done. */
const SETTLE_SEC = quick ? 5 : 10;
/** After the daemon is ready: its first round of checks (spread over the 15 s interval). */
const FIRST_ROUND_SEC = quick ? 8 : 20;
const FLAPPING = 0.05;
/** The adapters set down at each flip of the CPU windows. */
const FLIPPED = 0.05;
const FLIP_EVERY_MS = 15_000;
const SCENARIO_TEXT = `${FLAPPING * 100} % of the adapters scripted flapping (behaviour_mix { healthy: ${1 - FLAPPING}, flapping: ${FLAPPING} }, 30 s period)`;
const DAEMON_SETTINGS =
  "simulator in its own process; daemon at its defaults (probes every 15 s, Watch on) but limits.requests_per_sec 0 (every page is 127.0.0.1) and breaker.threshold 1000";
const CPU_SCENARIO_TEXT = `every 15 s a different ${FLIPPED * 100} % of the adapters set down and the previous ${FLIPPED * 100} % back up (simulator in the bench's process)`;
const CPU_DAEMON_SETTINGS =
  "daemon at its defaults but limits.requests_per_sec 0 (every page is 127.0.0.1), probes { interval_sec: 5, watch: false } and breaker.threshold 1000 (each change an event within about 10 s)";
const PARTS = (process.env.BENCH_PAGE_PARTS ?? "loads,cpu").split(",");

const children: ChildProcess[] = [];
const dirs: string[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const start = (args: string[], readyText: string): Promise<ChildProcess> =>
  startCli(args, readyText, children);

interface Stack {
  base: string;
  daemon: ChildProcess;
  /** The simulator's process, or none when it runs in this one. */
  simulator: ChildProcess | undefined;
  stop(): Promise<void>;
}

/** The loads' stack: the simulator in its own process, playing 5 % flapping adapters. */
async function startStack(adapters: number): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-page-"));
  dirs.push(dir);
  writeFileSync(
    join(dir, "scenario.yaml"),
    `generate: { count: ${adapters}, endpoint: grpc, behaviour_mix: { healthy: ${1 - FLAPPING}, flapping: ${FLAPPING} } }\n`,
  );
  const [registryPort, httpPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const simulator = await start(
    [
      "simulate",
      "--scenario",
      join(dir, "scenario.yaml"),
      "--listen",
      `127.0.0.1:${registryPort}`,
      // Watch streams see a flip within a second; re-reading every status each 100 ms
      // would take CPU from the daemon and the browser on a 2-core machine.
      "--watch-interval-ms",
      "1000",
    ],
    "simulating",
  );
  const daemon = await startDaemon(dir, registryPort, httpPort, grpcPort, "");
  return {
    base: `http://127.0.0.1:${httpPort}`,
    daemon,
    simulator,
    stop: async () => {
      await stopChild(daemon);
      await stopChild(simulator);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The CPU windows' stack: the simulator in this process, so `flip()` can set a
 * different 5 % of the adapters down each time (the previous 5 % back up).
 */
async function startFlippingStack(
  adapters: number,
): Promise<Stack & { simulatorInProcess: RunningSimulator; flip(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-page-"));
  dirs.push(dir);
  const simulatorInProcess = await startSimulator({
    scenario: parseScenario(
      `generate: { count: ${adapters}, endpoint: grpc }\n`,
      "bench-page-scenario.yaml",
    ),
    listen: "127.0.0.1:0",
    watchIntervalMs: 1_000,
  });
  const ids = simulatorInProcess.adapters.map((entry) => entry.adapterId);
  const perFlip = Math.round(ids.length * FLIPPED);
  let down: string[] = [];
  let next = 0;
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const daemon = await startDaemon(
    dir,
    simulatorInProcess.registryPort,
    httpPort,
    grpcPort,
    `  # Each change seen within about 10 s (fall 2 at 5 s polls), and no breaker opens on
  # a 15 s outage (at the default 3 it would hold the adapter for 300 s).
  probes: { interval_sec: 5, watch: false }
`,
  );
  return {
    base: `http://127.0.0.1:${httpPort}`,
    daemon,
    simulator: undefined,
    simulatorInProcess,
    flip: () => {
      for (const id of down) simulatorInProcess.setBehaviour(id, null);
      down = Array.from({ length: perFlip }, (_, index) => ids[(next + index) % ids.length] ?? "");
      next = (next + perFlip) % ids.length;
      for (const id of down) simulatorInProcess.setBehaviour(id, "down");
    },
    stop: async () => {
      await stopChild(daemon);
      await simulatorInProcess.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function startDaemon(
  dir: string,
  registryPort: number,
  httpPort: number,
  grpcPort: number,
  extraYaml: string,
): Promise<ChildProcess> {
  writeFileSync(
    join(dir, "healthd.yaml"),
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
  # Every page here is 127.0.0.1: the per-client rate limit would measure itself.
  limits: { requests_per_sec: 0 }
  # A flapping or flipped adapter's breaker stays shut, so it goes on changing.
  breaker: { threshold: 1000 }
${extraYaml}`,
  );
  return start(
    [
      "run",
      "--config",
      join(dir, "healthd.yaml"),
      "--http-listen",
      `127.0.0.1:${httpPort}`,
      "--grpc-listen",
      `127.0.0.1:${grpcPort}`,
    ],
    '"msg":"ready"',
  );
}

type Kind = "files" | "api" | "sse";
const KINDS: readonly Kind[] = ["files", "api", "sse"];

/** Bytes a page received, by kind, headers included, as chromium's network layer counts them. */
class NetworkTally {
  private readonly requests = new Map<string, { kind: Kind; bytes: number }>();
  /** Event-stream messages the page received. */
  messages = 0;

  static async attach(page: Page): Promise<NetworkTally> {
    const tally = new NetworkTally();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    cdp.on("Network.responseReceived", (event) => {
      const kind: Kind =
        event.type === "EventSource"
          ? "sse"
          : event.type === "Fetch" || event.type === "XHR"
            ? "api"
            : "files";
      tally.requests.set(event.requestId, {
        kind,
        bytes: event.response.encodedDataLength,
      });
    });
    cdp.on("Network.dataReceived", (event) => {
      const request = tally.requests.get(event.requestId);
      if (request) request.bytes += event.encodedDataLength;
    });
    cdp.on("Network.eventSourceMessageReceived", () => {
      tally.messages++;
    });
    cdp.on("Network.loadingFinished", (event) => {
      const request = tally.requests.get(event.requestId);
      // The total, headers and body, once the response is complete.
      if (request) request.bytes = event.encodedDataLength;
    });
    return tally;
  }

  bytes(kind: Kind): number {
    let sum = 0;
    for (const request of this.requests.values()) if (request.kind === kind) sum += request.bytes;
    return sum;
  }

  count(kind: Kind): number {
    let count = 0;
    for (const request of this.requests.values()) if (request.kind === kind) count++;
    return count;
  }
}

/** The page's own globals, named here: this project's TypeScript has no DOM library. */
interface PageGlobals {
  performance: { getEntriesByName(name: string): { startTime: number }[] };
  document: { getElementById(id: string): { dataset: Record<string, string> } | null };
}

interface Load {
  boardMs: number;
  barsMs: number;
  bytes: Record<Kind, number>;
  requests: Record<Kind, number>;
}

/** One load of `/` in `context`: until the board and its bars are drawn, and the stream open. */
async function loadOnce(context: BrowserContext, base: string): Promise<Load> {
  const page = await context.newPage();
  const tally = await NetworkTally.attach(page);
  await page.goto(`${base}/`);
  await page.waitForFunction(
    () => {
      const state = globalThis as unknown as PageGlobals;
      return (
        state.performance.getEntriesByName("history-rendered").length > 0 &&
        state.document.getElementById("live")?.dataset.live === "live"
      );
    },
    null,
    { timeout: 120_000, polling: 50 },
  );
  // No named functions inside: tsx's transform would wrap them in a helper the page lacks.
  const [boardMs = -1, barsMs = -1] = await page.evaluate(
    (names) =>
      names.map(
        (name) =>
          (globalThis as unknown as PageGlobals).performance.getEntriesByName(name)[0]?.startTime ??
          -1,
      ),
    ["board-rendered", "history-rendered"],
  );
  // Answers already asked for (the rows' reads after early events) finish counting.
  await sleep(300);
  const load: Load = {
    boardMs,
    barsMs,
    bytes: { files: tally.bytes("files"), api: tally.bytes("api"), sse: tally.bytes("sse") },
    requests: { files: tally.count("files"), api: tally.count("api"), sse: tally.count("sse") },
  };
  await page.close();
  return load;
}

const median = (values: readonly number[]) => percentiles(values).p50;
const kB = (bytes: number) => bytes / 1000;

function reportLoads(adapters: number, temperature: "cold" | "warm", loads: Load[]): void {
  const settings = `${adapters.toLocaleString("en-US")} adapters, ${SCENARIO_TEXT}; ${DAEMON_SETTINGS}; chromium ${CHROMIUM} headless through playwright-core, viewport 1400×1000; ${temperature === "cold" ? "a new browser context each load (empty cache)" : "one browser context, its cache warm (the page's files revalidated: 304, headers only)"}; median of ${loads.length} loads${quick ? "; quick run" : ""}`;
  const board = median(loads.map((load) => load.boardMs));
  const bars = median(loads.map((load) => load.barsMs));
  console.log(
    `${String(adapters).padStart(6)}  ${temperature}  first render ${board.toFixed(0).padStart(5)} ms  bars ${bars.toFixed(0).padStart(5)} ms  ` +
      KINDS.map(
        (kind) =>
          `${kind} ${kB(median(loads.map((load) => load.bytes[kind])))
            .toFixed(1)
            .padStart(8)} kB (${median(loads.map((load) => load.requests[kind]))} req)`,
      ).join("  "),
  );
  console.log(
    `        each load: first render ${loads.map((load) => load.boardMs.toFixed(0)).join(", ")} ms; bars ${loads.map((load) => load.barsMs.toFixed(0)).join(", ")} ms`,
  );
  reporter.row({
    name: `time to first render (board-rendered), ${temperature}`,
    size: adapters,
    settings,
    value: board,
    unit: "ms",
  });
  reporter.row({
    name: `time to every bar drawn (history-rendered), ${temperature}`,
    size: adapters,
    settings,
    value: bars,
    unit: "ms",
  });
  for (const kind of KINDS) {
    reporter.row({
      name: `bytes per load, ${temperature}, ${{ files: "page files (HTML, JS, CSS, icon)", api: "API JSON", sse: "event stream until rendered" }[kind]}`,
      size: adapters,
      settings,
      value: kB(median(loads.map((load) => load.bytes[kind]))),
      unit: "kB",
    });
  }
}

async function measureLoads(browser: Browser, stack: Stack, adapters: number): Promise<void> {
  const cold: Load[] = [];
  for (let index = 0; index < LOADS; index++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    cold.push(await loadOnce(context, stack.base));
    await context.close();
  }
  reportLoads(adapters, "cold", cold);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await loadOnce(context, stack.base);
  const warm: Load[] = [];
  for (let index = 0; index < LOADS; index++) warm.push(await loadOnce(context, stack.base));
  await context.close();
  reportLoads(adapters, "warm", warm);
}

/** The processes below `root` (its children, theirs, …), read from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // Gone since the directory was read.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function cpuOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += processCpuSeconds(pid);
    } catch {
      // Exited meanwhile: its time is lost to this sum, which a window notes.
    }
  }
  return sum;
}

interface Window {
  daemon: number;
  browser: number;
  simulator: number;
  bench: number;
  others: number;
}

/** CPU of each party over `seconds`, in seconds of CPU per second (1 = one core busy). */
async function cpuWindow(stack: Stack, seconds: number): Promise<Window> {
  const daemonPid = stack.daemon.pid ?? 0;
  // Everything this process started but the daemon (and a simulator's process) is the browser.
  const browserPids = () => {
    const theirs = new Set([daemonPid, ...descendants(daemonPid)]);
    const simulatorPid = stack.simulator?.pid;
    if (simulatorPid !== undefined) {
      for (const pid of [simulatorPid, ...descendants(simulatorPid)]) theirs.add(pid);
    }
    return descendants(process.pid).filter((pid) => !theirs.has(pid));
  };
  const read = () => {
    const browserTree = browserPids();
    return {
      daemon: processCpuSeconds(daemonPid),
      browser: cpuOf(browserTree),
      simulator: stack.simulator?.pid === undefined ? 0 : processCpuSeconds(stack.simulator.pid),
      bench: processCpuSeconds("self"),
      machine: machineBusySeconds(),
      at: performance.now(),
    };
  };
  const before = read();
  await sleep(seconds * 1000);
  const after = read();
  const elapsed = (after.at - before.at) / 1000;
  const rate = (key: "daemon" | "browser" | "simulator" | "bench" | "machine") =>
    (after[key] - before[key]) / elapsed;
  const ours = rate("daemon") + rate("browser") + rate("simulator") + rate("bench");
  return {
    daemon: rate("daemon"),
    browser: rate("browser"),
    simulator: rate("simulator"),
    bench: rate("bench"),
    others: Math.max(0, rate("machine") - ours),
  };
}

const percentOfCore = (rate: number) => `${(rate * 100).toFixed(1)} %`;

async function measureCpu(browser: Browser, adapters: number): Promise<void> {
  const stack = await startFlippingStack(adapters);
  console.log(
    `\n${adapters.toLocaleString("en-US")} adapters, ${CPU_SCENARIO_TEXT}: daemon ready; ${FIRST_ROUND_SEC} s for the first round of checks`,
  );
  await sleep(FIRST_ROUND_SEC * 1000);
  stack.flip();
  const flipper = setInterval(() => stack.flip(), FLIP_EVERY_MS);
  const settings = (pages: number) =>
    `${adapters.toLocaleString("en-US")} adapters, ${CPU_SCENARIO_TEXT}; ${CPU_DAEMON_SETTINGS}; ${pages === 0 ? "no page open" : `${pages} pages open in ${CONTEXTS} browser contexts of chromium (headless), each with its event stream`}; ${WINDOW_SEC} s window${pages === 0 ? "" : ` after ${SETTLE_SEC} s of settling`}; CPU as utime+stime from /proc per second (100 % = one core busy)${quick ? "; quick run" : ""}`;
  const idle = await cpuWindow(stack, WINDOW_SEC);
  const contexts = await Promise.all(
    Array.from({ length: CONTEXTS }, () =>
      browser.newContext({ viewport: { width: 1400, height: 1000 } }),
    ),
  );
  const requests: Record<string, number> = {};
  for (const context of contexts) {
    context.on("request", (request) => {
      const kind = request.url().includes("/v1/history")
        ? "history"
        : request.url().includes("/v1/events")
          ? "events"
          : request.url().includes("/v1/")
            ? "other API"
            : "files";
      requests[kind] = (requests[kind] ?? 0) + 1;
    });
  }
  const pages: Page[] = [];
  let watched: NetworkTally | undefined;
  const openedAt = performance.now();
  for (let index = 0; index < PAGES; index++) {
    const context = contexts[index % CONTEXTS] as BrowserContext;
    const page = await context.newPage();
    if (index === 0) watched = await NetworkTally.attach(page);
    await page.goto(`${stack.base}/`);
    await page.waitForFunction(
      () => {
        const state = globalThis as unknown as PageGlobals;
        return (
          state.performance.getEntriesByName("history-rendered").length > 0 &&
          state.document.getElementById("live")?.dataset.live === "live"
        );
      },
      null,
      { timeout: 120_000, polling: 100 },
    );
    pages.push(page);
  }
  console.log(
    `${PAGES} pages open in ${((performance.now() - openedAt) / 1000).toFixed(1)} s; settling ${SETTLE_SEC} s`,
  );
  await sleep(SETTLE_SEC * 1000);
  for (const key of Object.keys(requests)) requests[key] = 0;
  const streamBefore = watched?.bytes("sse") ?? 0;
  const apiBefore = watched?.bytes("api") ?? 0;
  const messagesBefore = watched?.messages ?? 0;
  const open = await cpuWindow(stack, WINDOW_SEC);
  const streamBytes = (watched?.bytes("sse") ?? 0) - streamBefore;
  const apiBytes = (watched?.bytes("api") ?? 0) - apiBefore;
  const messages = (watched?.messages ?? 0) - messagesBefore;
  const live = await Promise.all(
    pages.map((page) =>
      page.evaluate(
        () =>
          (globalThis as unknown as PageGlobals).document.getElementById("live")?.dataset.live ===
          "live",
      ),
    ),
  );
  console.log(
    `\nCPU per second (100 % = one core), ${WINDOW_SEC} s windows, ${adapters.toLocaleString("en-US")} adapters, 5 % flipping every 15 s:`,
  );
  console.log("              daemon    browser   simulator and bench   others");
  for (const [label, window] of [
    ["0 pages", idle],
    [`${PAGES} pages`, open],
  ] as const) {
    console.log(
      `${label.padEnd(12)}  ${percentOfCore(window.daemon).padStart(7)}  ${percentOfCore(window.browser).padStart(8)}  ${percentOfCore(window.simulator + window.bench).padStart(19)}  ${percentOfCore(window.others).padStart(6)}`,
    );
  }
  console.log(
    `${live.filter(Boolean).length} of ${PAGES} pages live at the end; requests in the window (all pages): ${Object.entries(
      requests,
    )
      .map(([kind, count]) => `${kind} ${count}`)
      .join(", ")}`,
  );
  console.log(
    `one page's traffic in the window: ${messages} events, event stream ${kB(streamBytes).toFixed(1)} kB, API ${kB(apiBytes).toFixed(1)} kB (${((streamBytes + apiBytes) / WINDOW_SEC / 1000).toFixed(1)} kB/s)`,
  );
  const disturbed = (window: Window) =>
    window.others > 0.1
      ? { note: `disturbed: other processes used ${percentOfCore(window.others)} of a core` }
      : {};
  reporter.row({
    name: "daemon CPU, 0 pages open",
    size: adapters,
    settings: settings(0),
    value: idle.daemon * 100,
    unit: "% of a core",
    ...disturbed(idle),
  });
  reporter.row({
    name: `daemon CPU, ${PAGES} pages open`,
    size: adapters,
    settings: settings(PAGES),
    value: open.daemon * 100,
    unit: "% of a core",
    ...disturbed(open),
  });
  reporter.row({
    name: `browser CPU, ${PAGES} pages open`,
    size: adapters,
    settings: settings(PAGES),
    value: open.browser * 100,
    unit: "% of a core",
    ...disturbed(open),
  });
  reporter.row({
    name: "one page's event stream",
    size: adapters,
    settings: settings(PAGES),
    value: kB(streamBytes) / (WINDOW_SEC / 60),
    unit: "kB/min",
  });
  reporter.row({
    name: "one page's API reads after events",
    size: adapters,
    settings: settings(PAGES),
    value: kB(apiBytes) / (WINDOW_SEC / 60),
    unit: "kB/min",
  });
  reporter.row({
    name: "events one page received",
    size: adapters,
    settings: settings(PAGES),
    value: messages / (WINDOW_SEC / 60),
    unit: "/min",
  });
  if (messages === 0) reporter.problem("no event reached the pages in the window: nothing flipped");
  if (live.some((isLive) => !isLive)) {
    reporter.problem(`${live.filter((isLive) => !isLive).length} pages lost their event stream`);
  }
  for (const context of contexts) await context.close();
  clearInterval(flipper);
  await stack.stop();
}

async function main(): Promise<void> {
  console.log(
    `status page benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString()}`,
  );
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  reporter.fact("chromium", browser.version());
  console.log(`chromium ${browser.version()}; ${SCENARIO_TEXT}; ${DAEMON_SETTINGS}`);
  try {
    for (const adapters of PARTS.includes("loads") ? SIZES : []) {
      const stack = await startStack(adapters);
      console.log(
        `\n${adapters.toLocaleString("en-US")} adapters: daemon ready; ${FIRST_ROUND_SEC} s for the first round of checks`,
      );
      await sleep(FIRST_ROUND_SEC * 1000);
      console.log(
        "  size  load   board          bars        page files              API JSON                 SSE",
      );
      await measureLoads(browser, stack, adapters);
      await stack.stop();
    }
    if (PARTS.includes("cpu")) await measureCpu(browser, CPU_SIZE);
  } finally {
    await browser.close();
  }
}

await main();
reporter.finish();
process.exit(0);
