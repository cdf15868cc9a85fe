/**
 * Where the daemon's memory per adapter goes, structure by structure.
 *
 * Builds, in one process and in the daemon's order, each per-adapter structure
 * for N adapters, and reads the V8 heap and array buffers (after a full collection) before and
 * after each: the difference ÷ N is that structure's bytes per adapter. The
 * catalog is decoded from real ListAdapters bytes (the daemon's own decoder), so
 * its strings are as many and as long as in the daemon. Timers, breakers and
 * settings are the daemon's own classes. Outside the heap: what the process's
 * RSS adds (code, native buffers, SQLite's cache) is in the engine benchmark's
 * RSS column, not here.
 *
 * Then the live heap per open Watch stream: the daemon's node:http2 watcher beside grpc-js's
 * client (what carried Watch before), 20,000 streams (2,000 with --quick) to the simulator
 * run as a child process.
 *
 * Run: npm run bench:memory   (BENCH_SIZES=1000,10000,50000; prints a table; --quick for 1,000
 * only; --report <file> for the suite, see bench/report.ts)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import { credentials } from "@grpc/grpc-js";
import { parseConfigText } from "../src/config/load.js";
import { SettingsBook } from "../src/config/settings-book.js";
import type { AdapterEntry } from "../src/domain/adapter.js";
import { initialHealth } from "../src/domain/health.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../src/domain/status-view.js";
import { HealthView } from "../src/engine/health-view.js";
import { HealthClient } from "../src/gen/grpc/health/v1/health.js";
import {
  ListResponse,
  type AdapterEntry as WireAdapterEntry,
} from "../src/gen/oneiric/registry/v1/registry.js";
import { GrpcHealthWatcher } from "../src/probes/grpc-health-watcher.js";
import { decodeListInSlices } from "../src/registry/registry-client.js";
import { AdapterBreakers } from "../src/schedule/adapter-breakers.js";
import { ProbeScheduler } from "../src/schedule/probe-scheduler.js";
import { benchOptions } from "./report.js";
import { freePort } from "./support.js";

const { quick, reporter } = benchOptions("memory");
const SIZES = (process.env.BENCH_SIZES ?? (quick ? "1000" : "1000,10000,50000"))
  .split(",")
  .map(Number);
const CATEGORIES = ["storage", "cache", "orchestration", "memory", "coordination"];

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with node --expose-gc (npm run bench:memory does)");
  });

/** V8's used heap plus array buffers' memory (typed arrays keep their data outside the heap). */
function heapUsed(): number {
  gc();
  gc();
  return getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
}

/** ListAdapters bytes for `count` adapters shaped like a real catalog. */
function listBytes(count: number): Uint8Array {
  const adapters: WireAdapterEntry[] = [];
  for (let index = 0; index < count; index++) {
    const category = CATEGORIES[index % CATEGORIES.length] ?? "storage";
    const provider = `provider${index}`;
    const adapterId = `loadtest.adapter.${category}.${provider}`;
    adapters.push({
      adapterId,
      project: "loadtest",
      domain: "adapter",
      category,
      provider,
      capabilities: ["read", "write"],
      factoryPath: `loadtest.adapters.${category}.${provider}:Adapter`,
      healthCheckUrl: `grpc://127.0.0.1:50051/${adapterId}`,
      metadata: { region: "eu-west-1", tier: "standard" },
      registeredAt: 1_700_000_000,
      lastHeartbeat: 1_700_000_100,
      healthStatus: "healthy",
    });
  }
  return ListResponse.encode({ adapters }).finish();
}

/** A committed-looking state: checked, healthy, its closed breaker's snapshot stored. */
function checkedStates(entries: readonly AdapterEntry[], breakers: AdapterBreakers, now: number) {
  return entries.map((entry) => ({
    ...initialHealth(entry.adapterId, entry.registryStatus, now),
    status: "healthy" as const,
    lastChecked: now,
    latencyMs: 1.234,
    source: "probe" as const,
    reason: "SERVING",
    consecutiveSuccesses: 3,
    breaker: breakers.snapshot(entry.adapterId) ?? null,
    checkIntervalMs: 15_000,
  }));
}

interface Row {
  structure: string;
  bytesPerAdapter: number;
}

async function measure(count: number): Promise<Row[]> {
  const rows: Row[] = [];
  // Everything measured is kept reachable from here until the end of the size.
  const keep: unknown[] = [];
  const step = async (structure: string, build: () => unknown | Promise<unknown>) => {
    const before = heapUsed();
    keep.push(await build());
    rows.push({ structure, bytesPerAdapter: (heapUsed() - before) / count });
  };
  const bytes = listBytes(count);
  let entries: AdapterEntry[] = [];
  await step("catalog entries, decoded from ListAdapters", async () => {
    entries = await decodeListInSlices(bytes);
    return entries;
  });
  const config = parseConfigText("", "bench.yaml", {});
  const now = Date.now();
  const view = new HealthView("bench:0", DEFAULT_OFFLINE_STALE_RULE, () => now);
  await step("mirror: catalog maps and the by-kind index", () => {
    for (const entry of entries) view.putEntry(entry);
    return view;
  });
  const settings = new SettingsBook(
    config.adapters.defaults,
    config.adapters.overrides,
    config.flap,
  );
  await step("settings book (per-adapter settings, memoised)", () => {
    for (const entry of entries) settings.of(entry);
    return settings;
  });
  const breakers = new AdapterBreakers();
  await step("breakers (closed after one check; at rest: no object)", async () => {
    for (const entry of entries) {
      await breakers.run(entry.adapterId, settings.of(entry).breaker, async () => ({
        ok: true,
        latencyMs: 1,
        detail: "SERVING",
        source: "probe",
        at: now,
      }));
    }
    return breakers;
  });
  await step("health states in the mirror (breaker snapshot included)", () => {
    for (const state of checkedStates(entries, breakers, now)) view.putState(state);
    return undefined;
  });
  await step("recent checks (10 per adapter)", () => {
    for (const entry of entries) {
      for (let check = 0; check < 10; check++) {
        view.recordCheck(entry.adapterId, {
          atMs: now - check * 15_000,
          ok: true,
          latencyMs: 1.234,
          // A fresh string per check, as a probe's "HTTP 200" is.
          detail: `HTTP ${200 + (check & 0)}`,
          source: "probe",
        });
      }
    }
    return undefined;
  });
  const scheduler = new ProbeScheduler(
    { run: async () => 3_600_000, forget: () => undefined },
    {
      firstSpreadMs: () => 3_600_000,
      startupRatePerSec: 1e-9,
      startupMaxRatePerSec: 1e-9,
      concurrency: 64,
    },
    // A logger the scheduler never calls in this run.
    { error: () => undefined } as unknown as ConstructorParameters<typeof ProbeScheduler>[2],
  );
  await step("scheduler (a slot per adapter, one timer)", () => {
    scheduler.reconcile(entries);
    return scheduler;
  });
  await scheduler.stop(0);
  keep.length = 0;
  return rows;
}

const WATCH_STREAMS = quick ? 2_000 : 20_000;

/** The simulator as a child process: a grpc.health.v1 server that holds Watch streams open. */
async function startWatchServer(): Promise<{ port: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-memory-"));
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(scenario, "generate: { count: 1, endpoint: grpc }\n");
  const port = await freePort();
  const cli = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));
  const child = spawn(
    process.execPath,
    [cli, "simulate", "--scenario", scenario, "--listen", `127.0.0.1:${port}`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("simulating")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return {
    port,
    stop: () => {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 120_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("Watch streams did not all deliver");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Live heap per open Watch stream, the daemon's client (node:http2) beside grpc-js's (what the
 * daemon used before), each after every stream delivered its first status. Only the heap: in
 * one process the second client reuses pages the first one's garbage grew, so RSS growth would
 * not compare; the daemon's RSS with Watch is in the engine rows.
 */
async function watchStreamCost(port: number): Promise<Row[]> {
  const targets = Array.from(
    { length: WATCH_STREAMS },
    (_, index) => `grpc://127.0.0.1:${port}/watched-${index}`,
  );
  const rows: Row[] = [];
  const record = (structure: string, heapBefore: number) => {
    rows.push({ structure, bytesPerAdapter: (heapUsed() - heapBefore) / WATCH_STREAMS });
  };
  {
    const heapBefore = heapUsed();
    let delivered = 0;
    const watcher = new GrpcHealthWatcher(() => {
      delivered++;
    });
    for (const target of targets) watcher.watch(target);
    await until(() => delivered >= WATCH_STREAMS);
    record("Watch stream, node:http2 (the daemon's watcher)", heapBefore);
    watcher.close();
  }
  {
    const heapBefore = heapUsed();
    let delivered = 0;
    const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const calls = targets.map((_, index) => {
      const call = client.watch({ service: `watched-${index}` });
      call.on("data", () => {
        delivered++;
      });
      call.on("error", () => {});
      return call;
    });
    await until(() => delivered >= WATCH_STREAMS);
    record("Watch stream, grpc-js client (before)", heapBefore);
    for (const call of calls) call.cancel();
    client.close();
  }
  return rows;
}

async function main(): Promise<void> {
  // One process, sizes in increasing order: each size's structures are dropped (and
  // collected) before the next is built, so the sizes do not add up.
  console.log(
    `memory per adapter by structure: node ${process.version}, ${new Date().toISOString()}; V8 heap + array buffers after full GC, difference ÷ adapters`,
  );
  const results = new Map<number, Row[]>();
  for (const count of SIZES) results.set(count, await measure(count));
  const structures = results.get(SIZES[0] ?? 0)?.map((row) => row.structure) ?? [];
  const header = [
    "structure".padEnd(62),
    ...SIZES.map((n) => `${n.toLocaleString("en")}`.padStart(10)),
  ];
  console.log(header.join(""));
  for (const structure of structures) {
    const cells = SIZES.map((count) => {
      const row = results.get(count)?.find((candidate) => candidate.structure === structure);
      return `${Math.round(row?.bytesPerAdapter ?? Number.NaN).toLocaleString("en")} B`.padStart(
        10,
      );
    });
    console.log([structure.padEnd(62), ...cells].join(""));
  }
  const totals = SIZES.map((count) => {
    const total = (results.get(count) ?? []).reduce((sum, row) => sum + row.bytesPerAdapter, 0);
    return `${Math.round(total).toLocaleString("en")} B`.padStart(10);
  });
  console.log(["total (heap and array buffers)".padEnd(62), ...totals].join(""));

  // Watch streams: grpc-js first would leave its garbage in the RSS the daemon's figure reads.
  const server = await startWatchServer();
  let watchRows: Row[];
  try {
    watchRows = await watchStreamCost(server.port);
  } finally {
    server.stop();
  }
  console.log(
    `\nper open Watch stream, ${WATCH_STREAMS.toLocaleString("en")} streams to one address`,
  );
  for (const row of watchRows) {
    console.log(
      `${row.structure.padEnd(62)}${`${Math.round(row.bytesPerAdapter).toLocaleString("en")} B`.padStart(10)}`,
    );
  }
  const watchSettings = `${WATCH_STREAMS.toLocaleString("en")} streams from this process to the simulator (a child process), each to its own service, measured once every stream delivered its first status; node:http2 (the daemon's GrpcHealthWatcher) first, then grpc-js HealthClient.watch; heap as above (RSS with Watch: the engine rows)${quick ? "; quick run" : ""}`;
  for (const row of watchRows) {
    reporter.row({
      name: `live heap per stream: ${row.structure}`,
      size: WATCH_STREAMS,
      settings: watchSettings,
      value: Math.round(row.bytesPerAdapter),
      unit: "B",
    });
  }
  const settings = `one process, the daemon's own classes; V8 used heap plus array buffers after two full collections before and after building each structure, difference ÷ adapters (live memory only: RSS is in the engine rows)${quick ? "; quick run" : ""}`;
  for (const count of SIZES) {
    const rows = results.get(count) ?? [];
    for (const row of rows) {
      reporter.row({
        name: `live heap per adapter: ${row.structure}`,
        size: count,
        settings,
        value: Math.round(row.bytesPerAdapter),
        unit: "B",
      });
    }
    reporter.row({
      name: "live heap per adapter: total",
      size: count,
      settings,
      value: Math.round(rows.reduce((sum, row) => sum + row.bytesPerAdapter, 0)),
      unit: "B",
    });
  }
}

await main();
reporter.finish();
