/**
 * CPU per check of the probe clients, side by side in one run.
 *
 * A child process (so its CPU is not counted here) serves grpc.health.v1 with grpc-js and a
 * keep-alive HTTP health endpoint, both answering every one of `--services` names. This
 * process then drives, one after the other, at a fixed paced rate for `--seconds` each after
 * a short warm-up:
 *
 *   idle loop          the pacing loop with no check at all (its cost is in every other row)
 *   grpc-js            a grpc-js HealthClient, one channel: the old GrpcHealthProbe path
 *   GrpcHealthProbe    the node:http2 client with hand-built frames, one session
 *   node:http agent    node:http keep-alive agent, as HttpProbe used to do it
 *   HttpProbe          the daemon's HTTP probe as it is now (undici's dispatch API)
 *   undici request     undici's promise API with a body stream, for comparison
 *   undici dispatch    undici's handler API bare, the floor under HttpProbe
 *
 * CPU is `process.cpuUsage()` of this process over the window, divided by checks answered;
 * "net" subtracts the idle loop's CPU per tick. "others %" is the machine's busy time outside
 * this process and its child, from /proc/stat: a disturbed window shows as such. No ratio to
 * blackbox_exporter here: this bench does not run the exporter, and a ratio is only honest
 * against the peer measured in the same run (the engine bench does that).
 *
 * Run: npx tsx bench/probe-cost.bench.ts [--rate 1000] [--seconds 12] [--warmup 2]
 *      [--services 1000] [--only <client>] [--quick] [--report <file>]
 *      (prints figures; asserts nothing; --quick: 3 s rows after 1 s of warm-up; --report for
 *      the suite, see bench/report.ts)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  credentials,
  status as grpcStatus,
  Metadata,
  Server,
  ServerCredentials,
} from "@grpc/grpc-js";
import { Agent } from "undici";
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  type HealthServer,
  HealthService,
} from "../src/gen/grpc/health/v1/health.js";
import { GrpcHealthProbe } from "../src/probes/grpc-health-probe.js";
import { HttpProbe } from "../src/probes/http-probe.js";
import { benchOptions, type Reporter } from "./report.js";
import { DISTURBED_PCT, machineBusySeconds, percentiles, processCpuSeconds } from "./support.js";

const SELF = fileURLToPath(import.meta.url);
const CONCURRENCY = 256;
const TIMEOUT_MS = 5_000;

function serviceName(index: number): string {
  return `bench.adapter-${String(index).padStart(5, "0")}.Health`;
}

// ---------------------------------------------------------------------------------------------
// The child: a grpc-js health server and a keep-alive HTTP server.

async function serve(services: number): Promise<void> {
  const known = new Set(Array.from({ length: services }, (_, index) => serviceName(index)));
  const server = new Server();
  const health: HealthServer = {
    check: (call, callback) => {
      if (known.has(call.request.service)) {
        callback(null, { status: HealthCheckResponse_ServingStatus.SERVING });
      } else callback({ code: grpcStatus.NOT_FOUND, details: "unknown service" });
    },
    watch: (call) => call.end(),
  };
  server.addService(HealthService, health);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  const body = Buffer.from('{"status":"ok"}');
  const httpServer = http.createServer((request, response) => {
    const name = decodeURIComponent((request.url ?? "").replace(/^\/health\//, ""));
    response.statusCode = known.has(name) ? 200 : 404;
    response.setHeader("content-type", "application/json");
    response.end(body);
  });
  httpServer.keepAliveTimeout = 600_000;
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { port: httpPort } = httpServer.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ grpcPort, httpPort })}\n`);
  // Ends with the parent: stdin closes when it exits, however it exits.
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Measurement

function ownCpuSeconds(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6;
}

interface Figures {
  label: string;
  checks: number;
  failed: number;
  behind: number;
  seconds: number;
  cpuSeconds: number;
  serverCpuSeconds: number;
  othersPct: number;
  latenciesMs: number[];
  firstFailure: string | undefined;
}

/** What one check call says: ok, a detail for a failure, and the latency where it is known. */
interface CheckOutcome {
  ok: boolean;
  detail?: string;
  latencyMs?: number;
}

type Check = (index: number) => Promise<CheckOutcome>;

/**
 * `ratePerSec` checks a second, spread evenly over `seconds` on a 2 ms tick, at most
 * `CONCURRENCY` in flight; measures this process's CPU, the server's, and everyone else's.
 */
async function drive(
  label: string,
  check: Check,
  ratePerSec: number,
  seconds: number,
  server: ChildProcess,
): Promise<Figures> {
  const serverPid = server.pid as number;
  const machine0 = machineBusySeconds();
  const server0 = processCpuSeconds(serverPid);
  const cpu0 = ownCpuSeconds();
  const start = performance.now();
  let issued = 0;
  let inFlight = 0;
  let checks = 0;
  let failed = 0;
  let due = 0;
  let firstFailure: string | undefined;
  const latenciesMs: number[] = [];
  const pending = new Set<Promise<void>>();
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= seconds * 1000) break;
    due = Math.floor((elapsed * ratePerSec) / 1000);
    while (issued < due && inFlight < CONCURRENCY) {
      inFlight++;
      const task: Promise<void> = check(issued++).then(
        (outcome) => {
          checks++;
          if (!outcome.ok) {
            failed++;
            firstFailure ??= outcome.detail;
          }
          if (outcome.latencyMs !== undefined) latenciesMs.push(outcome.latencyMs);
          inFlight--;
          pending.delete(task);
        },
        (error: unknown) => {
          checks++;
          failed++;
          firstFailure ??= String(error);
          inFlight--;
          pending.delete(task);
        },
      );
      pending.add(task);
    }
    await sleep(2);
  }
  await Promise.all(pending);
  const secondsTaken = (performance.now() - start) / 1000;
  const cpuSeconds = ownCpuSeconds() - cpu0;
  const serverCpuSeconds = processCpuSeconds(serverPid) - server0;
  const othersSeconds = machineBusySeconds() - machine0 - cpuSeconds - serverCpuSeconds;
  return {
    label,
    checks,
    failed,
    behind: due - issued,
    seconds: secondsTaken,
    cpuSeconds,
    serverCpuSeconds,
    othersPct: Math.max(0, (othersSeconds / secondsTaken) * 100),
    latenciesMs,
    firstFailure,
  };
}

// ---------------------------------------------------------------------------------------------
// The clients

const RESOLVED_OK: Promise<CheckOutcome> = Promise.resolve({ ok: true });

function grpcJsCheck(port: number, services: number): { check: Check; close: () => void } {
  // As the old GrpcHealthProbe made its channel.
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.initial_reconnect_backoff_ms": 500,
  });
  const check: Check = (index) => {
    const startedAt = performance.now();
    return new Promise((resolve) => {
      client.check(
        { service: serviceName(index % services) },
        new Metadata(),
        { deadline: new Date(Date.now() + TIMEOUT_MS) },
        (error, response) => {
          const latencyMs = performance.now() - startedAt;
          if (error) resolve({ ok: false, detail: `${error.code}: ${error.details}`, latencyMs });
          else {
            resolve({
              ok: response.status === HealthCheckResponse_ServingStatus.SERVING,
              latencyMs,
            });
          }
        },
      );
    });
  };
  return { check, close: () => client.close() };
}

function grpcProbeCheck(port: number, services: number): { check: Check; close: () => void } {
  const probe = new GrpcHealthProbe();
  const base = `grpc://127.0.0.1:${port}/`;
  const targets = Array.from({ length: services }, (_, index) => base + serviceName(index));
  return {
    check: (index) => probe.check(targets[index % services] as string, TIMEOUT_MS),
    close: () => probe.close(),
  };
}

/** The node:http keep-alive agent path exactly as HttpProbe had it, without expectBody. */
function nodeHttpCheck(port: number, services: number): { check: Check; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const targets = Array.from(
    { length: services },
    (_, index) => `http://127.0.0.1:${port}/health/${serviceName(index)}`,
  );
  const check: Check = (index) =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      let settled = false;
      const finish = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ok, detail, latencyMs: performance.now() - startedAt });
      };
      const request = http.request(new URL(targets[index % services] as string), {
        method: "GET",
        agent,
        headers: {
          accept: "application/json, text/plain;q=0.9, */*;q=0.1",
          "user-agent": "oneiric-healthd",
        },
      });
      const timer = setTimeout(() => {
        finish(false, "timeout");
        request.destroy();
      }, TIMEOUT_MS);
      request.on("error", (error) => finish(false, error.message));
      request.on("response", (response) => {
        const status = response.statusCode ?? 0;
        response.on("data", () => {});
        const done = () => finish(status >= 200 && status < 300, `HTTP ${status}`);
        response.on("end", done);
        response.on("close", done);
        response.on("error", (error) => finish(false, error.message));
      });
      request.end();
    });
  return { check, close: () => agent.destroy() };
}

function httpProbeCheck(port: number, services: number): { check: Check; close: () => void } {
  const probe = new HttpProbe();
  const targets = Array.from(
    { length: services },
    (_, index) => `http://127.0.0.1:${port}/health/${serviceName(index)}`,
  );
  return {
    check: (index) => probe.check(targets[index % services] as string, TIMEOUT_MS),
    close: () => probe.close(),
  };
}

/** undici's promise API through an Agent (a Pool per origin), 16 connections as HttpProbe's agent. */
function undiciRequestCheck(port: number, services: number): { check: Check; close: () => void } {
  const agent = new Agent({ connections: 16 });
  const origin = `http://127.0.0.1:${port}`;
  const paths = Array.from({ length: services }, (_, index) => `/health/${serviceName(index)}`);
  const headers = {
    accept: "application/json, text/plain;q=0.9, */*;q=0.1",
    "user-agent": "oneiric-healthd",
  };
  const check: Check = async (index) => {
    const startedAt = performance.now();
    try {
      const { statusCode, body } = await agent.request({
        origin,
        path: paths[index % services] as string,
        method: "GET",
        headers,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      await body.dump();
      return {
        ok: statusCode >= 200 && statusCode < 300,
        detail: `HTTP ${statusCode}`,
        latencyMs: performance.now() - startedAt,
      };
    } catch (error) {
      return { ok: false, detail: String(error) };
    }
  };
  return { check, close: () => void agent.close() };
}

/** undici's lowest level: `dispatch` with a handler object, no body stream. */
function undiciDispatchCheck(port: number, services: number): { check: Check; close: () => void } {
  const agent = new Agent({ connections: 16 });
  const origin = `http://127.0.0.1:${port}`;
  const paths = Array.from({ length: services }, (_, index) => `/health/${serviceName(index)}`);
  const headers = {
    accept: "application/json, text/plain;q=0.9, */*;q=0.1",
    "user-agent": "oneiric-healthd",
  };
  const check: Check = (index) =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      let statusCode = 0;
      agent.dispatch(
        {
          origin,
          path: paths[index % services] as string,
          method: "GET",
          headers,
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        },
        {
          onRequestStart() {},
          onResponseStart(_controller, status) {
            statusCode = status;
          },
          onResponseData() {},
          onResponseEnd() {
            resolve({
              ok: statusCode >= 200 && statusCode < 300,
              detail: `HTTP ${statusCode}`,
              latencyMs: performance.now() - startedAt,
            });
          },
          onResponseError(_controller, error) {
            resolve({ ok: false, detail: error.message });
          },
        },
      );
    });
  return { check, close: () => void agent.close() };
}

// ---------------------------------------------------------------------------------------------

async function startServer(services: number): Promise<{
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
}> {
  const child = spawn(process.execPath, ["--import", "tsx", SELF, "--serve", String(services)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const ports = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split("\n", 1)[0];
      if (text.includes("\n") && line) resolve(JSON.parse(line));
    });
    child.once("exit", (code) => reject(new Error(`health server exited with ${code}`)));
  });
  return { child, ...ports };
}

const fixed = (value: number, digits = 1) =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : "–";

/** This bench's own flags; the rest (`--quick`, `--report`) go to `benchOptions`. */
const OWN_FLAGS = ["rate", "seconds", "warmup", "services", "only"] as const;
type OwnFlag = (typeof OWN_FLAGS)[number];

function splitArgs(argv: readonly string[]): {
  own: Partial<Record<OwnFlag, string>>;
  rest: string[];
} {
  const own: Partial<Record<OwnFlag, string>> = {};
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const [flag, inline] = arg.startsWith("--") ? arg.slice(2).split("=", 2) : [undefined];
    const name = OWN_FLAGS.find((candidate) => candidate === flag);
    if (name === undefined) {
      rest.push(arg);
      continue;
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    own[name] = value;
  }
  return { own, rest };
}

function report(
  reporter: Reporter,
  settings: string,
  idleUsPerTick: number,
  rows: readonly Figures[],
  idle: Figures,
): void {
  const notesOf = (row: Figures): string | undefined => {
    const notes: string[] = [];
    if (row.othersPct > DISTURBED_PCT) {
      notes.push(`disturbed: other processes used ${fixed(row.othersPct, 0)} % of a core`);
    }
    if (row.failed > 0) {
      notes.push(`${row.failed} of ${row.checks} checks failed (first: ${row.firstFailure})`);
    }
    if (row.behind > 0) notes.push(`${row.behind} checks behind the pace at the end`);
    return notes.length === 0 ? undefined : notes.join("; ");
  };
  const idleNote = notesOf(idle);
  reporter.row({
    name: "idle pacing loop: CPU per tick",
    settings,
    value: idleUsPerTick,
    unit: "µs",
    ...(idleNote ? { note: idleNote } : {}),
  });
  for (const row of rows) {
    if (row === idle) continue;
    if (row.checks - row.failed === 0) {
      reporter.problem(`${row.label}: no check succeeded (first failure: ${row.firstFailure})`);
    }
    const perCheck = (row.cpuSeconds * 1e6) / Math.max(1, row.checks);
    const { p50, p99 } = percentiles(row.latenciesMs);
    const note = notesOf(row);
    // The window's notes once, on the figure the row is about.
    reporter.row({
      name: `${row.label}: net CPU per check`,
      settings,
      value: perCheck - idleUsPerTick,
      unit: "µs",
      ...(note ? { note } : {}),
    });
    reporter.row({
      name: `${row.label}: server CPU per check`,
      settings,
      value: (row.serverCpuSeconds * 1e6) / Math.max(1, row.checks),
      unit: "µs",
    });
    for (const [percentile, value] of [
      ["p50", p50],
      ["p99", p99],
    ] as const) {
      reporter.row({
        name: `${row.label}: latency ${percentile}`,
        settings,
        value: Number.isFinite(value) ? value : null,
        unit: "ms",
      });
    }
  }
}

async function main(): Promise<void> {
  const { own, rest } = splitArgs(process.argv.slice(2));
  const { quick, reporter } = benchOptions("probe-cost", rest);
  const rate = Number(own.rate ?? 1000);
  const seconds = Number(own.seconds ?? (quick ? 3 : 12));
  const warmupSec = Number(own.warmup ?? (quick ? 1 : 2));
  const services = Number(own.services ?? 1000);
  for (const [name, value] of [
    ["--rate", rate],
    ["--seconds", seconds],
    ["--services", services],
    ["--warmup", warmupSec],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  }
  console.log(
    `probe cost benchmark${quick ? " (--quick)" : ""}: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  const serverText = `server in a child process (grpc-js ${grpcJsVersion()} grpc.health.v1, node:http keep-alive), its CPU not counted in the client's`;
  console.log(
    `${fixed(rate, 0)} checks/s for ${seconds} s each (after ${warmupSec} s warm-up), over ${services} service names on one address, at most ${CONCURRENCY} in flight; ${serverText}`,
  );
  const settings = `${fixed(rate, 0)} checks/s paced on a 2 ms tick, ${seconds} s per row after ${warmupSec} s of warm-up, ${services.toLocaleString("en-US")} service names on one address, at most ${CONCURRENCY} in flight, timeout ${TIMEOUT_MS / 1000} s; CPU: process.cpuUsage() of the client process ÷ checks answered; net: minus the idle loop's CPU per tick; latency: GrpcHealthProbe and HttpProbe from the request's write, the others from the call; ${serverText}${quick ? "; quick run" : ""}`;
  reporter.fact("grpc-js", grpcJsVersion());
  const server = await startServer(services);
  try {
    const rows: Figures[] = [];
    const clients: [
      string,
      (port: { grpcPort: number; httpPort: number }) => { check: Check; close: () => void },
    ][] = [
      ["grpc-js HealthClient", ({ grpcPort }) => grpcJsCheck(grpcPort, services)],
      ["GrpcHealthProbe (http2)", ({ grpcPort }) => grpcProbeCheck(grpcPort, services)],
      ["node:http agent", ({ httpPort }) => nodeHttpCheck(httpPort, services)],
      ["HttpProbe (undici dispatch)", ({ httpPort }) => httpProbeCheck(httpPort, services)],
      ["undici Agent.request", ({ httpPort }) => undiciRequestCheck(httpPort, services)],
      ["undici Agent.dispatch", ({ httpPort }) => undiciDispatchCheck(httpPort, services)],
    ];
    const idle = await drive("idle loop", () => RESOLVED_OK, rate, seconds, server.child);
    rows.push(idle);
    for (const [label, make] of clients) {
      if (own.only && !label.toLowerCase().includes(own.only.toLowerCase())) continue;
      const client = make(server);
      try {
        await drive(label, client.check, rate, warmupSec, server.child);
        rows.push(await drive(label, client.check, rate, seconds, server.child));
      } finally {
        client.close();
      }
    }
    const idleUsPerTick = (idle.cpuSeconds * 1e6) / Math.max(1, idle.checks);
    console.log("");
    console.log(
      `${"client".padEnd(28)}${"checks/s".padStart(9)}${"failed".padStart(8)}${"CPU %".padStart(7)}${"µs/check".padStart(10)}${"net µs".padStart(9)}${"server µs".padStart(11)}${"p50 ms".padStart(8)}${"p99 ms".padStart(8)}${"others %".padStart(10)}`,
    );
    for (const row of rows) {
      const perCheck = (row.cpuSeconds * 1e6) / Math.max(1, row.checks);
      const net = row === idle ? Number.NaN : perCheck - idleUsPerTick;
      const { p50, p99 } = percentiles(row.latenciesMs);
      console.log(
        `${row.label.padEnd(28)}${fixed(row.checks / row.seconds, 0).padStart(9)}${String(row.failed).padStart(8)}${fixed((row.cpuSeconds / row.seconds) * 100).padStart(7)}${fixed(perCheck, 0).padStart(10)}${fixed(net, 0).padStart(9)}${fixed((row.serverCpuSeconds * 1e6) / Math.max(1, row.checks), 0).padStart(11)}${fixed(p50, 2).padStart(8)}${fixed(p99, 2).padStart(8)}${fixed(row.othersPct).padStart(10)}`,
      );
      if (row.firstFailure !== undefined) console.log(`    first failure: ${row.firstFailure}`);
      if (row.behind > 0) console.log(`    ${row.behind} checks behind the pace at the end`);
    }
    console.log("");
    console.log(
      `net µs = µs/check − the idle loop's µs per tick (${fixed(idleUsPerTick, 1)}); the ratio to blackbox_exporter comes from the engine bench, which runs the exporter in the same run`,
    );
    console.log(
      "latency: GrpcHealthProbe and HttpProbe from when the request was written; the grpc-js and node:http rows from the call",
    );
    const disturbed = rows.filter((row) => row.othersPct > DISTURBED_PCT);
    if (disturbed.length > 0) {
      console.log(
        `WARNING: other processes were busy during ${disturbed.map((row) => `${row.label} (${fixed(row.othersPct, 0)} %)`).join(", ")}: those figures are disturbed`,
      );
    }
    report(reporter, settings, idleUsPerTick, rows, idle);
  } catch (error) {
    reporter.problem(`the probe cost benchmark stopped: ${(error as Error).stack ?? error}`);
  } finally {
    server.child.stdin?.end();
    server.child.kill();
  }
  reporter.finish();
  process.exitCode = reporter.problems > 0 ? 1 : 0;
}

function grpcJsVersion(): string {
  try {
    const manifest = new URL("../node_modules/@grpc/grpc-js/package.json", import.meta.url);
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

if (process.argv[2] === "--serve") {
  await serve(Number(process.argv[3] ?? 1000));
} else {
  await main();
}
