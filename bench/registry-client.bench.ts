/**
 * Registry client latency: cached listAdapters in-process, and uncached over
 * loopback gRPC against the simulator, with 50 and 10,000 adapters.
 * Run: npm run bench -- registry   (prints figures; asserts nothing)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parseConfigText } from "../src/config/load.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import { GrpcRegistryClient } from "../src/registry/registry-client.js";
import { freePort } from "./support.js";

const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

async function measure(
  iterations: number,
  call: () => Promise<unknown>,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(200, iterations); i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const format = (micros: number) =>
  micros < 1000 ? `${micros.toFixed(1)} µs` : `${(micros / 1000).toFixed(2)} ms`;

async function daemonFor(port: number, cacheTtlSec: number, dir: string): Promise<RunningDaemon> {
  const config = parseConfigText(
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${port}, cache_ttl_sec: ${cacheTtlSec} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir, `bench-${cacheTtlSec}.db`))} }
  sync: { interval_sec: 3600 }
  probes: { interval_sec: 3600 }
  registry: { max_queued_calls: 100000 }
  log: { level: silent }`,
    "bench",
    {},
  );
  return startDaemon(config, { logger: pino({ level: "silent" }) });
}

async function startSimulatorProcess(
  count: number,
): Promise<{ registryPort: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-scenario-"));
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(
    scenario,
    `generate: { count: ${count}, endpoint: none, categories: [storage, cache, orchestration] }\n`,
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, "simulate", "--scenario", scenario, "--listen", `127.0.0.1:${port}`],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("simulating")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return {
    registryPort: port,
    stop: () => {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  console.log(
    `registry client benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  console.log("adapters  path                                   iterations  p50         p99");
  for (const count of [50, 10_000]) {
    // The registry runs in its own process, as it would in production, so its work
    // does not share this event loop with the client being measured.
    const simulator = await startSimulatorProcess(count);
    const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-"));
    const cached = await daemonFor(simulator.registryPort, 300, dir);
    const uncached = await daemonFor(simulator.registryPort, 0, dir);
    const raw = new GrpcRegistryClient({
      host: "127.0.0.1",
      port: simulator.registryPort,
      timeoutMs: 10_000,
      useTls: false,
    });
    const small = count <= 50;
    const rows: [string, number, () => Promise<unknown>][] = [
      [
        "cached listAdapters (in-process)",
        100_000,
        () => cached.gateway.listAdapters({ category: "storage" }),
      ],
      [
        "uncached listAdapters (gateway, gRPC)",
        small ? 5_000 : 100,
        () => uncached.gateway.listAdapters({}),
      ],
      ["uncached ListAdapters (bare gRPC client)", small ? 5_000 : 100, () => raw.listAdapters({})],
    ];
    for (const [name, iterations, call] of rows) {
      const { p50, p99 } = await measure(iterations, call);
      console.log(
        `${String(count).padStart(8)}  ${name.padEnd(39)}${String(iterations).padStart(10)}  ${format(p50).padEnd(10)}  ${format(p99)}`,
      );
    }
    raw.close();
    await cached.stop();
    await uncached.stop();
    simulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
