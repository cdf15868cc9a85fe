/**
 * Query surfaces with 10,000 adapters loaded: single-adapter and resolve
 * latency over loopback HTTP and gRPC, and event delivery latency from commit
 * to 1,000 concurrent SSE subscribers. The simulator and the daemon each run
 * in their own process; this process is the client.
 * Run: npm run bench:queries   (prints figures; asserts nothing)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { HealthdClient } from "../src/gen/oneiric/healthd/v1/healthd.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
const ADAPTERS = 10_000;
const ITERATIONS = 5_000;
const SUBSCRIBERS = 1_000;
const EVENTS = 20;

const children: ChildProcess[] = [];
const dirs: string[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function start(args: string[], readyText: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyText)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

function percentiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
  return { p50: at(50), p99: at(99) };
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

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

async function measure(call: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 300; i++) await call();
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

async function main(): Promise<void> {
  console.log(
    `query surfaces benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-queries-"));
  dirs.push(dir);
  writeFileSync(join(dir, "scenario.yaml"), `generate: { count: ${ADAPTERS}, endpoint: none }\n`);
  const [registryPort, httpPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  await start(
    ["simulate", "--scenario", join(dir, "scenario.yaml"), "--listen", `127.0.0.1:${registryPort}`],
    "simulating",
  );
  writeFileSync(
    join(dir, "healthd.yaml"),
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  storage: { path: ${JSON.stringify(join(dir, "healthd.db"))} }
  # First checks spread over an hour: the queries measured here compete with little probing.
  probes: { interval_sec: 3600 }
  http: { max_event_streams: ${SUBSCRIBERS + 10} }
  # Every client here is 127.0.0.1: the per-client limits would measure themselves.
  limits: { requests_per_sec: 0, max_connections: ${SUBSCRIBERS + 100} }
  log: { level: info }
`,
  );
  await start(
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

  console.log("\nsurface  query                                      p50        p99");
  const rows: [string, string, () => Promise<unknown>][] = [
    // The floor: the same HTTP stack and client, with a handler that does no work.
    ["HTTP", "GET /healthz (floor)", () => get(httpPort, "/healthz")],
    [
      "HTTP",
      "GET /v1/adapters/{id}",
      () => get(httpPort, `/v1/adapters/${encodeURIComponent(someId())}`),
    ],
    [
      "HTTP",
      "GET /v1/resolve (domain, category)",
      () => get(httpPort, "/v1/resolve?domain=adapter&category=storage"),
    ],
    [
      "HTTP",
      `GET /v1/resolve (… provider=${provider})`,
      () => get(httpPort, `/v1/resolve?domain=adapter&category=storage&provider=${provider}`),
    ],
  ];
  const client = new HealthdClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  rows.push(
    [
      "gRPC",
      "Healthd.GetAdapter",
      () => unary((done) => client.getAdapter({ adapterId: someId() }, new Metadata(), done)),
    ],
    [
      "gRPC",
      "Healthd.Resolve (domain, category)",
      () =>
        unary((done) =>
          client.resolve(
            { domain: "adapter", category: "storage", provider: "", project: "", panic: false },
            new Metadata(),
            done,
          ),
        ),
    ],
    [
      "gRPC",
      `Healthd.Resolve (… provider=${provider})`,
      () =>
        unary((done) =>
          client.resolve(
            { domain: "adapter", category: "storage", provider, project: "", panic: false },
            new Metadata(),
            done,
          ),
        ),
    ],
  );
  for (const [surface, name, call] of rows) {
    const { p50, p99 } = await measure(call);
    console.log(`${surface.padEnd(8)} ${name.padEnd(42)} ${fmt(p50).padEnd(10)} ${fmt(p99)}`);
  }
  client.close();

  // SSE fan-out: 1,000 subscribers, then events committed one at a time.
  const received: number[][] = Array.from({ length: EVENTS }, () => []);
  let sent = 0;
  const starts: number[] = [];
  const controllers: AbortController[] = [];
  let connected = 0;
  await Promise.all(
    Array.from({ length: SUBSCRIBERS }, async () => {
      const controller = new AbortController();
      controllers.push(controller);
      const response = await fetch(`http://127.0.0.1:${httpPort}/v1/events`, {
        headers: { accept: "text/event-stream" },
        signal: controller.signal,
      });
      connected++;
      void (async () => {
        const decoder = new TextDecoder();
        let buffer = "";
        try {
          for await (const chunk of response.body ?? []) {
            buffer += decoder.decode(chunk as Uint8Array, { stream: true });
            let end = buffer.indexOf("\n\n");
            while (end >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (block.includes("event: adapter.maintenance_")) {
                const index = sent - 1;
                received[index]?.push(performance.now() - (starts[index] ?? 0));
              }
              end = buffer.indexOf("\n\n");
            }
          }
        } catch {
          // aborted at the end
        }
      })();
    }),
  );
  console.log(`\n${connected} SSE subscribers connected`);
  const target = encodeURIComponent(ids[0] ?? "");
  for (let event = 0; event < EVENTS; event++) {
    starts[event] = performance.now();
    sent = event + 1;
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
  for (const controller of controllers) controller.abort();
}

await main();
process.exit(0);
