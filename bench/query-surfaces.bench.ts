/**
 * Query surfaces with 10,000 adapters loaded: single-adapter and resolve
 * latency over loopback HTTP and gRPC, and event delivery latency from commit
 * to 1,000 concurrent SSE subscribers. The simulator and the daemon each run
 * in their own process; this process is the client.
 *
 * The rows that measure the daemon use lean clients (one raw keep-alive
 * HTTP/1.1 socket; gRPC framed by hand over one node:http2 session; SSE
 * subscribers on raw sockets), because on a 2-core machine a heavyweight
 * client's own CPU and garbage collection show up in every sample. Rows marked
 * "node:http" and "grpc-js" repeat the floor and a query with the stock
 * clients, so the difference the client makes is printed beside the figures.
 *
 * Three ways to load the 10,000 adapters: by default ("quiet") they have no
 * health endpoint of their own and their first checks are spread over an
 * hour, so the queries meet almost no other work; with
 * BENCH_QUERIES_LOAD=watch every adapter is a grpc.health.v1 target on the
 * simulator and the daemon runs its default probe settings (Watch streams,
 * safety-net polls, commits), as it would in production; with
 * BENCH_QUERIES_LOAD=poll the same targets are polled every 10 s without
 * Watch (1,000 checks a second: the heaviest steady load); with BENCH_QUERIES_LOAD=flip,
 * issue 11's scenario: 20,000 grpc.health.v1 targets, 5 % of them flapping (up half of each
 * 30 s period), all polled every 5 s without Watch (about 4,000 results a second), and the
 * daemon's RSS measured beside the queries.
 * Run: npm run bench:queries   (prints figures; asserts nothing; --quick for a smoke run with
 * fewer adapters, calls and subscribers; --report <file> for the suite, see bench/report.ts)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import {
  GetAdapterRequest,
  HealthdClient,
  ResolveRequest,
} from "../src/gen/oneiric/healthd/v1/healthd.js";
import { goalAt } from "./goals.js";
import { benchOptions } from "./report.js";
import { formatMs, freePort, LeanHttpClient, percentiles, startCli } from "./support.js";

const LOAD =
  (["watch", "poll", "flip"] as const).find((load) => load === process.env.BENCH_QUERIES_LOAD) ??
  "quiet";
const { quick, reporter } = benchOptions(`queries-${LOAD}`);
const ADAPTERS = LOAD === "flip" ? (quick ? 2_000 : 20_000) : quick ? 2_000 : 10_000;
const ITERATIONS = quick ? 500 : 5_000;
const WARMUP_CALLS = quick ? 50 : 300;
const SUBSCRIBERS = quick ? 100 : 1_000;
const EVENTS = quick ? 5 : 20;
/**
 * Queries before measuring: a daemon that has just started is still compiling its
 * hot paths and collecting its start-up garbage (for about the first half minute its
 * p99 is two to three times the steady one), which is not what a long-running
 * daemon's clients see.
 */
const SETTLE_SEC = quick ? 3 : 20;
/** How long the first round (and the Watch streams it opens) gets before measuring. */
const FIRST_ROUND_SEC = quick ? 6 : 25;
const LOAD_SETTINGS = {
  quiet: "no health endpoints, probes.interval_sec 3600 (first checks spread over an hour)",
  watch: "every adapter a grpc.health.v1 target, default probe settings (Watch on)",
  poll: "every adapter a grpc.health.v1 target, probes {interval_sec: 10, watch: false, registry_check: false, concurrency: 256}",
  flip: "every adapter a grpc.health.v1 target, 5 % flapping (30 s period), probes {interval_sec: 5, watch: false}",
}[LOAD];

const children: ChildProcess[] = [];
const dirs: string[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const start = (args: string[], readyText: string): Promise<ChildProcess> =>
  startCli(args, readyText, children);

/** VmRSS and VmHWM (the peak) of a process, in MB (10^6 bytes). */
function rssMB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => {
    const match = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
    return match ? (Number(match[1]) * 1024) / 1e6 : Number.NaN;
  };
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

const fmt = (ms: number) => formatMs(ms);

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function get(
  port: number,
  path: string,
  method = "GET",
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method, agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** gRPC unary calls framed by hand over one HTTP/2 session: the daemon's cost, little of the client's. */
function leanUnary(
  session: ClientHttp2Session,
  path: string,
  message: Uint8Array,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    stream.on("response", (headers) => {
      // A failure without a body comes as a trailers-only response.
      if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
    });
    stream.on("trailers", (trailers) => {
      status = String(trailers["grpc-status"]);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      if (status !== "0") reject(new Error(`${path}: grpc-status ${status}`));
      else resolve(Buffer.concat(chunks).subarray(5));
    });
    stream.end(frame);
  });
}

async function measure(call: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const began = performance.now();
    await call();
    samples.push(performance.now() - began);
  }
  return percentiles(samples);
}

function unary<T>(
  invoke: (callback: (error: Error | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    invoke((error, value) => (error ? reject(error) : resolve(value as T))),
  );
}

const CHECK_PATH = "/grpc.health.v1.Health/Check";

/** A health Check answered SERVING by a bare node:http2 server: no gRPC library at all. */
const BARE_HTTP2_SERVER = `
import http2 from "node:http2";
const server = http2.createServer();
const serving = Buffer.from([0, 0, 0, 0, 2, 8, 1]);
server.on("stream", (stream) => {
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(serving);
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

/** The same Check answered by grpc-js with a handler that does nothing else. */
const BARE_GRPC_JS_SERVER = `
import { Server, ServerCredentials } from "@grpc/grpc-js";
const server = new Server();
const identity = (bytes) => bytes;
server.register("${CHECK_PATH}", (call, done) => done(null, Buffer.from([8, 1])), identity, identity, "unary");
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => console.log(port));
`;

async function startGrpcFloorServers(): Promise<{ http2: string; grpcJs: string }> {
  const startScript = (source: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      child.stdout?.once("data", (chunk: Buffer) =>
        resolve(`127.0.0.1:${chunk.toString().trim()}`),
      );
      child.on("exit", (code) => reject(new Error(`floor server exited with ${code}`)));
    });
  return {
    http2: await startScript(BARE_HTTP2_SERVER),
    grpcJs: await startScript(BARE_GRPC_JS_SERVER),
  };
}

async function main(): Promise<void> {
  console.log(
    `query surfaces benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-queries-"));
  dirs.push(dir);
  console.log(`load ${LOAD}: ${ADAPTERS.toLocaleString("en-US")} adapters, ${LOAD_SETTINGS}`);
  const mix = LOAD === "flip" ? ", behaviour_mix: { healthy: 0.95, flapping: 0.05 }" : "";
  writeFileSync(
    join(dir, "scenario.yaml"),
    `generate: { count: ${ADAPTERS}, endpoint: ${LOAD === "quiet" ? "none" : "grpc"}${mix} }\n`,
  );
  const [registryPort, httpPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  await start(
    [
      "simulate",
      "--scenario",
      join(dir, "scenario.yaml"),
      "--listen",
      `127.0.0.1:${registryPort}`,
      // Nothing changes in this scenario: re-reading 10,000 watched statuses every 100 ms
      // would only take CPU from the daemon and this client on a 2-core machine.
      "--watch-interval-ms",
      "1000",
    ],
    "simulating",
  );
  writeFileSync(
    join(dir, "healthd.yaml"),
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
${
  {
    watch: "",
    poll: "  probes: { interval_sec: 10, watch: false, registry_check: false, concurrency: 256 }\n",
    flip: "  probes: { interval_sec: 5, watch: false }\n",
    quiet: `  # First checks spread over an hour: the queries measured here compete with little probing.
  probes: { interval_sec: 3600 }
`,
  }[LOAD]
}  http: { max_event_streams: ${SUBSCRIBERS + 10} }
  # Every client here is 127.0.0.1: the per-client limits would measure themselves.
  limits: { requests_per_sec: 0, max_connections: ${SUBSCRIBERS + 100} }
  log: { level: info }
`,
  );
  const daemon = await start(
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
  if (LOAD !== "quiet") {
    // The first round (spread over the 15 s default interval, or 10 s) and what it opens.
    await new Promise((resolve) => setTimeout(resolve, FIRST_ROUND_SEC * 1000));
    const metrics = (await get(httpPort, "/metrics")).text;
    const unknown = /^oneiric_healthd_adapters\{status="unknown"\} (\d+)/gm;
    let stillUnknown = 0;
    for (const match of metrics.matchAll(unknown)) stillUnknown += Number(match[1]);
    console.log(`after ${FIRST_ROUND_SEC} s: ${stillUnknown} adapters still unknown`);
  }
  const list = JSON.parse((await get(httpPort, "/v1/adapters?category=storage")).text) as {
    adapters: { adapter_id: string; provider: string }[];
  };
  const ids = list.adapters.map((adapter) => adapter.adapter_id);
  const provider = list.adapters[0]?.provider ?? "s3";
  const total = (JSON.parse((await get(httpPort, "/v1/adapters")).text) as { adapters: unknown[] })
    .adapters.length;
  console.log(
    `${total} adapters loaded; resolve candidates per query: ${ids.length} (storage), ${list.adapters.filter((a) => a.provider === provider).length} with provider ${provider}`,
  );
  let next = 0;
  const someId = () => ids[next++ % ids.length] ?? "";

  const http = await LeanHttpClient.connect(httpPort);
  const session = http2Connect(`http://127.0.0.1:${grpcPort}`);
  const storageQuery = ResolveRequest.encode({
    domain: "adapter",
    category: "storage",
    provider: "",
    project: "",
    panic: false,
  }).finish();
  const providerQuery = ResolveRequest.encode({
    domain: "adapter",
    category: "storage",
    provider,
    project: "",
    panic: false,
  }).finish();
  const path = (method: string) => `/oneiric.healthd.v1.Healthd/${method}`;
  console.log("\nsurface  client     query                                      p50        p99");
  const rows: [string, string, string, () => Promise<unknown>][] = [
    // The floor: the same HTTP stack and client, with a handler that does no work.
    ["HTTP", "lean", "GET /healthz (floor)", () => http.get("/healthz")],
    [
      "HTTP",
      "lean",
      "GET /v1/adapters/{id}",
      () => http.get(`/v1/adapters/${encodeURIComponent(someId())}`),
    ],
    [
      "HTTP",
      "lean",
      "GET /v1/resolve (domain, category)",
      () => http.get("/v1/resolve?domain=adapter&category=storage"),
    ],
    [
      "HTTP",
      "lean",
      `GET /v1/resolve (… provider=${provider})`,
      () => http.get(`/v1/resolve?domain=adapter&category=storage&provider=${provider}`),
    ],
    [
      "gRPC",
      "lean",
      "Healthd.GetAdapter",
      () =>
        leanUnary(
          session,
          path("GetAdapter"),
          GetAdapterRequest.encode({ adapterId: someId() }).finish(),
        ),
    ],
    [
      "gRPC",
      "lean",
      "Healthd.Resolve (domain, category)",
      () => leanUnary(session, path("Resolve"), storageQuery),
    ],
    [
      "gRPC",
      "lean",
      `Healthd.Resolve (… provider=${provider})`,
      () => leanUnary(session, path("Resolve"), providerQuery),
    ],
    // The same floor and one query through the stock clients, for comparison.
    ["HTTP", "node:http", "GET /healthz (floor)", () => get(httpPort, "/healthz")],
    [
      "HTTP",
      "node:http",
      "GET /v1/resolve (domain, category)",
      () => get(httpPort, "/v1/resolve?domain=adapter&category=storage"),
    ],
  ];
  const client = new HealthdClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  rows.push([
    "gRPC",
    "grpc-js",
    "Healthd.Resolve (domain, category)",
    () =>
      unary((done) =>
        client.resolve(
          { domain: "adapter", category: "storage", provider: "", project: "", panic: false },
          new Metadata(),
          done,
        ),
      ),
  ]);
  const settleUntil = performance.now() + SETTLE_SEC * 1000;
  for (let i = 0; performance.now() < settleUntil; i++) {
    const [, , , call] = rows[i % rows.length] ?? [];
    await call?.();
  }
  console.log(`(after ${SETTLE_SEC} s of these queries to let the daemon settle)`);
  const settings = `load ${LOAD}: ${ADAPTERS.toLocaleString("en-US")} adapters, ${LOAD_SETTINGS}; simulator and daemon in their own processes, limits.requests_per_sec 0, HTTP served by the front thread (http.serve_in_worker at its default, true); ${ITERATIONS.toLocaleString("en-US")} sequential calls per row after ${WARMUP_CALLS} warm-up and ${SETTLE_SEC} s of settling${quick ? "; quick run" : ""}`;
  // The query goal is for single-adapter and resolve answers over HTTP.
  const queryGoalId = { quiet: "query-p99-10k", flip: "query-p99-20k-flip" }[LOAD as string];
  const queryGoal = queryGoalId === undefined ? undefined : goalAt(queryGoalId, ADAPTERS);
  for (const [surface, clientName, name, call] of rows) {
    const { p50, p99 } = await measure(call);
    console.log(
      `${surface.padEnd(8)} ${clientName.padEnd(10)} ${name.padEnd(42)} ${fmt(p50).padEnd(10)} ${fmt(p99)}`,
    );
    const judged =
      queryGoal !== undefined &&
      surface === "HTTP" &&
      clientName === "lean" &&
      !name.includes("healthz");
    const figure = `${surface} ${clientName} ${name.replace(provider, "{provider}")}`;
    reporter.row({ name: `${figure} p50`, size: ADAPTERS, settings, value: p50, unit: "ms" });
    reporter.row({
      name: `${figure} p99`,
      size: ADAPTERS,
      settings,
      value: p99,
      unit: "ms",
      ...(judged ? { goal: queryGoal } : {}),
    });
  }
  const memory = rssMB(daemon.pid ?? 0);
  console.log(
    `daemon RSS after the queries: ${memory.rss.toFixed(0)} MB (peak ${memory.peak.toFixed(0)} MB)`,
  );
  const rssSettings = `${settings}; read from /proc after the query rows`;
  reporter.row({
    name: "daemon RSS",
    size: ADAPTERS,
    settings: rssSettings,
    value: memory.rss,
    unit: "MB",
    ...(LOAD === "flip" && goalAt("rss-20k-flip", ADAPTERS) ? { goal: "rss-20k-flip" } : {}),
  });
  reporter.row({
    name: "daemon peak RSS (VmHWM)",
    size: ADAPTERS,
    settings: rssSettings,
    value: memory.peak,
    unit: "MB",
  });
  client.close();
  session.close();

  // gRPC again from grpcio (C core) in its own process, when Debian's python3-grpcio is there.
  const python = "/usr/bin/python3";
  const script = fileURLToPath(new URL("./grpc_latency.py", import.meta.url));
  const grpcio = spawnSync(python, ["-c", "import grpc"], { stdio: "ignore" }).status === 0;
  if (!grpcio) {
    console.log("(python3-grpcio not installed: no grpcio rows)");
  } else {
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
    const pythonRows: [string, string, string[]][] = [
      [
        "Healthd.GetAdapter",
        path("GetAdapter"),
        ids.slice(0, 100).map((adapterId) => hex(GetAdapterRequest.encode({ adapterId }).finish())),
      ],
      ["Healthd.Resolve (domain, category)", path("Resolve"), [hex(storageQuery)]],
      [`Healthd.Resolve (… provider=${provider})`, path("Resolve"), [hex(providerQuery)]],
    ];
    // The floors under the daemon's gRPC: the same health Check answered by a bare
    // node:http2 server (a canned gRPC response) and by a bare grpc-js server, each in
    // its own process, so the stack's own latency is printed beside the daemon's.
    const floors = await startGrpcFloorServers();
    const rowsToRun: [string, string, string, string[]][] = [
      ...pythonRows.map(([name, method, requests]): [string, string, string, string[]] => [
        name,
        `127.0.0.1:${grpcPort}`,
        method,
        requests,
      ]),
      ["health Check: bare node:http2 (floor)", floors.http2, CHECK_PATH, [""]],
      ["health Check: bare grpc-js (floor)", floors.grpcJs, CHECK_PATH, [""]],
      ["health Check: the daemon's own", `127.0.0.1:${grpcPort}`, CHECK_PATH, [""]],
    ];
    for (const [name, target, method, requests] of rowsToRun) {
      const run = spawnSync(python, [script, target, String(ITERATIONS), method, ...requests], {
        encoding: "utf8",
      });
      if (run.status !== 0) {
        console.log(`gRPC     grpcio     ${name}: failed: ${run.stderr.trim().split("\n").pop()}`);
        continue;
      }
      const { p50_ms, p99_ms } = JSON.parse(run.stdout) as { p50_ms: number; p99_ms: number };
      console.log(
        `${"gRPC".padEnd(8)} ${"grpcio".padEnd(10)} ${name.padEnd(42)} ${fmt(p50_ms).padEnd(10)} ${fmt(p99_ms)}`,
      );
      const figure = `gRPC grpcio ${name.replace(provider, "{provider}")}`;
      const grpcioSettings = `${settings}; grpcio (python3-grpcio) client in its own process`;
      for (const [percentile, value] of [
        ["p50", p50_ms],
        ["p99", p99_ms],
      ] as const) {
        reporter.row({
          name: `${figure} ${percentile}`,
          size: ADAPTERS,
          settings: grpcioSettings,
          value,
          unit: "ms",
        });
      }
    }
  }

  // SSE fan-out: 1,000 subscribers on raw sockets, then events committed one at a time.
  // Each subscriber counts the maintenance events it has seen, so the n-th one it
  // sees is event n; the marker is searched across chunk boundaries.
  const marker = Buffer.from("event: adapter.maintenance_");
  const received: number[][] = Array.from({ length: EVENTS }, () => []);
  const starts: number[] = [];
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: SUBSCRIBERS },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = netConnect(httpPort, "127.0.0.1");
          sockets.push(socket);
          let seen = 0;
          let carry: Buffer = Buffer.alloc(0);
          let connected = false;
          socket.on("error", (error) => (connected ? undefined : reject(error)));
          socket.on("connect", () =>
            socket.write(
              "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
            ),
          );
          socket.on("data", (chunk: Buffer) => {
            const arrived = performance.now();
            if (!connected) {
              if (!chunk.toString("latin1", 0, 12).startsWith("HTTP/1.1 200")) {
                reject(new Error(`SSE subscription refused: ${chunk.toString("latin1", 0, 80)}`));
                return;
              }
              connected = true;
              resolve();
            }
            const text = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
            let at = text.indexOf(marker);
            while (at >= 0) {
              received[seen]?.push(arrived - (starts[seen] ?? arrived));
              seen++;
              at = text.indexOf(marker, at + marker.length);
            }
            carry = text.subarray(Math.max(0, text.length - marker.length + 1));
          });
        }),
    ),
  );
  console.log(`\n${sockets.length} SSE subscribers connected`);
  const target = encodeURIComponent(ids[0] ?? "");
  for (let event = 0; event < EVENTS; event++) {
    starts[event] = performance.now();
    // Each PUT/DELETE commits one maintenance event; the clock starts before the commit.
    await get(
      httpPort,
      `/v1/adapters/${target}/maintenance`,
      event % 2 === 0 ? "PUT" : "DELETE",
      event % 2 === 0 ? "{}" : undefined,
    );
    const deadline = performance.now() + 5_000;
    while ((received[event]?.length ?? 0) < SUBSCRIBERS && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // A pause between events, as between real commits, so one event's fan-out
    // is not measured while the previous one is still being read.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const slowest = received.map((latencies) => Math.max(...latencies));
  const complete = received.filter((latencies) => latencies.length === SUBSCRIBERS).length;
  const all = received.flat();
  const { p50, p99 } = percentiles(all);
  const { p50: slowestMedian } = percentiles(slowest);
  console.log(`events: ${EVENTS}, delivered to all ${SUBSCRIBERS} subscribers: ${complete}`);
  console.log(
    `latency from before the committing request to each subscriber: p50 ${fmt(p50)}, p99 ${fmt(p99)}`,
  );
  console.log(
    `time until the LAST subscriber had each event: median ${fmt(slowestMedian)}, worst ${fmt(Math.max(...slowest))}`,
  );
  console.log(
    `per event, the last subscriber: ${slowest.map((ms) => ms.toFixed(1)).join(", ")} ms`,
  );
  const sseSettings = `load ${LOAD}: ${ADAPTERS.toLocaleString("en-US")} adapters, ${LOAD_SETTINGS}; ${SUBSCRIBERS.toLocaleString("en-US")} raw-socket subscribers to /v1/events, ${EVENTS} maintenance events 50 ms apart, from before the committing request${quick ? "; quick run" : ""}`;
  reporter.row({
    name: "SSE, events that reached every subscriber",
    size: ADAPTERS,
    settings: sseSettings,
    value: complete,
    unit: `of ${EVENTS}`,
  });
  reporter.row({
    name: "SSE latency p50",
    size: ADAPTERS,
    settings: sseSettings,
    value: p50,
    unit: "ms",
  });
  reporter.row({
    name: "SSE latency p99",
    size: ADAPTERS,
    settings: sseSettings,
    value: p99,
    unit: "ms",
  });
  reporter.row({
    name: "SSE, last subscriber, worst event",
    size: ADAPTERS,
    settings: sseSettings,
    value: Math.max(...slowest),
    unit: "ms",
    ...(LOAD === "quiet" ? { goal: "sse-50ms" } : {}),
  });
  for (const socket of sockets) socket.destroy();
  http.close();
}

await main();
reporter.finish();
process.exit(0);
