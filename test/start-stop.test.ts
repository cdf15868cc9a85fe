import { type ChildProcessByStdio, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { join } from "node:path";
import type { Readable } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { screenEntries } from "../src/domain/catalog.js";
import type { NewEvent } from "../src/domain/events.js";
import type { HealthState } from "../src/domain/health.js";
import { fromWireEntry } from "../src/registry/registry-client.js";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { journalSoundness } from "./support/journal-soundness.js";
import { unusedPort } from "./support/ports.js";
import { tempDir } from "./support/stack.js";

const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");
const ADAPTERS = 3_000;

/**
 * A database as a previous run left it: the simulator's catalog, a healthy verdict
 * for each adapter and the journal that records them (written through the store).
 */
function writeStoredCatalog(dbPath: string, simulator: RunningSimulator, at: number): void {
  const { entries } = screenEntries(simulator.adapters.map(fromWireEntry));
  const store = new SqliteStore({ path: dbPath });
  try {
    const states: HealthState[] = [];
    const events: NewEvent[] = [];
    for (const entry of entries) {
      events.push(
        {
          type: "adapter.discovered",
          subject: entry.adapterId,
          time: at,
          data: { adapter_id: entry.adapterId },
        },
        {
          type: "adapter.health_changed",
          subject: entry.adapterId,
          time: at,
          data: { from: "unknown", to: "healthy", reason: "SERVING" },
        },
      );
      states.push({
        adapterId: entry.adapterId,
        status: "healthy",
        since: at,
        lastChecked: at,
        latencyMs: 1,
        source: "probe",
        reason: "SERVING",
        consecutiveSuccesses: 3,
        consecutiveFailures: 0,
        registryStatus: entry.registryStatus,
        flapping: false,
        recentTransitions: [at],
        breaker: null,
        checkIntervalMs: 15_000,
      });
    }
    store.commit({ upserted: entries, states, events }, at);
  } finally {
    store.close();
  }
}

function checkedSince(dbPath: string, since: number): number {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const row = db
      .prepare("SELECT COUNT(*) AS n FROM adapter_health WHERE last_checked >= ?")
      .get(since) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  transcript: () => string,
): Promise<T> {
  // Generous: this machine is shared, and the daemon loads and checks thousands of adapters.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${transcript()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(`a daemon restarted on a database of ${ADAPTERS.toLocaleString("en")} adapters, at default settings`, () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startSimulator({
      scenario: parseScenario(
        `generate: { count: ${ADAPTERS}, endpoint: grpc }\n`,
        "start-stop.yaml",
      ),
      listen: "127.0.0.1:0",
    });
  });

  afterEach(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    child = undefined;
    await simulator.stop();
    dir.remove();
  });

  it("is ready from storage with the registry down, and a SIGTERM in the first round exits 0 leaving a sound journal", async () => {
    const dbPath = join(dir.path, "healthd.db");
    writeStoredCatalog(dbPath, simulator, Date.now() - 60_000);
    const config = join(dir.path, "healthd.yaml");
    // Defaults but the addresses and the file: the adapters' endpoints answer, the registry does not.
    writeFileSync(
      config,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${await unusedPort()} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
`,
    );
    const spawnedAt = Date.now();
    const daemon = spawn(process.execPath, [CLI, "run", "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = daemon;
    const lines: { level: number; msg: string; http?: string }[] = [];
    let output = "";
    let pending = "";
    daemon.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const complete = pending.split("\n");
      pending = complete.pop() ?? "";
      for (const text of complete) if (text.startsWith("{")) lines.push(JSON.parse(text));
    });
    daemon.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => daemon.on("exit", resolve));
    const transcript = () => output.slice(-4_000);

    const listening = await eventually(
      "the listening line",
      () => lines.find((line) => line.msg === "listening"),
      transcript,
    );
    const base = `http://127.0.0.1:${String(listening.http).split(":").pop()}`;
    const ready = await eventually(
      "/readyz 200",
      async () => {
        const answer = await get(`${base}/readyz`);
        return answer.status === 200 ? answer : undefined;
      },
      transcript,
    );
    expect(JSON.parse(ready.body)).toEqual({
      status: "ready",
      note: "catalog from storage, registry not yet confirmed",
    });
    // Every stored adapter is served with a verdict before any sync: none is unknown.
    const metrics = (await get(`${base}/metrics`)).body;
    const byStatus = new Map(
      [...metrics.matchAll(/^oneiric_healthd_adapters\{status="(\w+)"\} (\d+)$/gm)].map((match) => [
        match[1],
        Number(match[2]),
      ]),
    );
    expect([...byStatus.values()].reduce((sum, n) => sum + n, 0)).toBe(ADAPTERS);
    expect(byStatus.get("unknown") ?? 0).toBe(0);

    // The first round is under way: at the default 200 a second, spread over 15 s.
    const checkedBefore = await eventually(
      "the first checks",
      () => {
        const checked = checkedSince(dbPath, spawnedAt);
        return checked >= 100 ? checked : undefined;
      },
      transcript,
    );
    expect(checkedBefore).toBeLessThan(ADAPTERS);
    daemon.kill("SIGTERM");
    expect(await exited, transcript()).toBe(0);
    expect(lines.some((line) => line.msg === "stopped")).toBe(true);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);

    // Every finished result committed, nothing half-done.
    expect(checkedSince(dbPath, spawnedAt)).toBeGreaterThanOrEqual(checkedBefore);
    const soundness = journalSoundness(dbPath);
    expect(soundness).toMatchObject({ integrity: "ok", contiguous: true, unmatched: [] });
    expect(soundness.verdicts).toBe(ADAPTERS);
  });
});
