/**
 * Registry client latency: cached listAdapters in-process, and uncached over
 * loopback gRPC against the simulator, with 50 and 10,000 adapters.
 * Run: npm run bench:registry   (prints figures; asserts nothing; --quick for fewer
 * iterations; --report <file> for the suite, see bench/report.ts)
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
import { benchOptions } from "./report.js";
import { freePort } from "./support.js";

const { quick, reporter } = benchOptions("registry");

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
  // A quick run is a smoke run: the small size only (the 10,000 one takes most of the time).
  for (const count of quick ? [50] : [50, 10_000]) {
    const settings = `simulator process with ${count} adapters (endpoint none, 3 categories), loopback gRPC; sequential calls after min(200, iterations) warm-up calls${quick ? "; quick run" : ""}`;
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
    const scale = quick ? 0.1 : 1;
    const rows: [string, number, () => Promise<unknown>, string | undefined][] = [
      [
        "cached listAdapters (in-process)",
        100_000 * scale,
        () => cached.gateway.listAdapters({ category: "storage" }),
        "registry-cached-p99",
      ],
      [
        "uncached listAdapters (gateway, gRPC)",
        (small ? 5_000 : 100) * scale,
        () => uncached.gateway.listAdapters({}),
        small ? "registry-uncached-p99-50" : undefined,
      ],
      [
        "uncached ListAdapters (bare gRPC client)",
        (small ? 5_000 : 100) * scale,
        () => raw.listAdapters({}),
        undefined,
      ],
    ];
    for (const [name, iterations, call, goal] of rows) {
      const { p50, p99 } = await measure(iterations, call);
      console.log(
        `${String(count).padStart(8)}  ${name.padEnd(39)}${String(iterations).padStart(10)}  ${format(p50).padEnd(10)}  ${format(p99)}`,
      );
      // The cached path is in µs, the others in ms, as their goals are.
      const cachedPath = name.startsWith("cached");
      const unit = cachedPath ? "µs" : "ms";
      const scaleTo = cachedPath ? 1 : 1 / 1000;
      const rowSettings = `${settings}; ${iterations.toLocaleString("en-US")} calls`;
      reporter.row({
        name: `${name} p50`,
        size: count,
        settings: rowSettings,
        value: p50 * scaleTo,
        unit,
      });
      reporter.row({
        name: `${name} p99`,
        size: count,
        settings: rowSettings,
        value: p99 * scaleTo,
        unit,
        ...(goal ? { goal } : {}),
      });
    }
    raw.close();
    await cached.stop();
    await uncached.stop();
    simulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
reporter.finish();
process.exit(0);
