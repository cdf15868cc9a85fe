import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonText } from "../src/cli/output.js";
import { initialHealth } from "../src/domain/health.js";
import type { RunningDaemon } from "../src/main.js";
import { listFromFile, OfflineReadModel } from "../src/offline-read-model.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { catalogEntry } from "./support/catalog-entry.js";
import {
  getJson,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");

// `endpoint: none`: no health endpoint to probe, so the registry's Watch stream feeds its status.
const SCENARIO = `
adapters:
  - { category: storage, provider: s3 }
  - { category: cache, provider: redis, behaviour: down }
  - { category: queue, provider: kafka, endpoint: none }
`;
const WATCH_FED = "mahavishnu.adapter.queue.kafka";

async function cli(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe("status asks the running daemon first, as the query commands do", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon | undefined;
  let url: string;
  let dbPath: string;
  /** The daemon's config as a file, naming its address and its database. */
  let configPath: string;

  beforeAll(async () => {
    dir = tempDir();
    // The daemon's clock, days before the wall clock: the file read at the wall clock's now
    // finds every verdict old, the daemon does not.
    const clock = new ManualClock();
    dbPath = join(dir.path, "healthd.db");
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath), clock);
    url = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await daemon.checkAllNow();
    configPath = join(dir.path, "healthd.yaml");
    writeFileSync(
      configPath,
      `oneiric_mcp:\n  grpc_host: 127.0.0.1\n  grpc_port: ${simulator.registryPort}\nhealthd:\n  http: { listen: "127.0.0.1:${daemon.httpAddress.port}" }\n  storage: { path: ${JSON.stringify(dbPath)} }\n`,
    );
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator.stop();
    dir.remove();
  });

  it("status --json --url lists what GET /v1/adapters lists, Watch-fed adapters included", async () => {
    const api = await getJson(daemon as RunningDaemon, "/v1/adapters");
    const result = await cli(["status", "--json", "--url", url]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(api.body);
    const watchFed = api.body.adapters.find(
      (adapter: { adapter_id: string }) => adapter.adapter_id === WATCH_FED,
    );
    expect(watchFed).toMatchObject({ source: "registry", stale: false });
  });

  it("status --config asks the daemon the config names, and says so", async () => {
    const api = await getJson(daemon as RunningDaemon, "/v1/adapters");
    const result = await cli(["status", "--json", "--config", configPath]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`answering from the daemon at ${url}`);
    expect(JSON.parse(result.stdout)).toEqual(api.body);
  });

  it("status ID --url shows that adapter as the daemon sees it", async () => {
    const result = await cli(["status", WATCH_FED, "--url", url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/status:\s+healthy/);
    expect(result.stdout).toMatch(/source:\s+registry/);
    const missing = await cli(["status", "nope", "--url", url]);
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.stderr).toContain(`no adapter "nope" in daemon at ${url}`);
  });

  it("refuses --url with --db", async () => {
    const result = await cli(["status", "--url", url, "--db", dbPath]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("pass --url or --db, not both");
  });

  it("status --config with the daemon down reads its database file, last-known state, and says so", async () => {
    const api = await getJson(daemon as RunningDaemon, "/v1/adapters");
    await daemon?.stop();
    daemon = undefined;
    const result = await cli(["status", "--json", "--config", configPath]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `no daemon answering at ${url}; answering from the database ${dbPath} (read-only, daemon not asked): last-known state`,
    );
    const fromFile = JSON.parse(result.stdout) as typeof api.body;
    const statusById = (body: typeof api.body) =>
      Object.fromEntries(
        body.adapters.map((adapter: { adapter_id: string; status: string }) => [
          adapter.adapter_id,
          adapter.status,
        ]),
      );
    expect(statusById(fromFile)).toEqual(statusById(api.body));
    // Read at the wall clock's now, days after the daemon's verdicts: each is old, so stale.
    expect(fromFile.adapters.every((adapter: { stale: boolean }) => adapter.stale)).toBe(true);
  });
});

describe("status --db on a listing larger than a pipe holds", () => {
  let dir: ReturnType<typeof tempDir>;
  let dbPath: string;
  const ids = Array.from({ length: 1_000 }, (_, index) => `t.adapter.cache.redis-${index}`);
  // Checked long ago: every verdict is stale whenever the command reads them.
  const checkedAt = Date.parse("2026-01-01T00:00:00Z");

  beforeAll(() => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    const store = new SqliteStore({ path: dbPath });
    try {
      store.commit(
        {
          upserted: ids.map((adapterId) => catalogEntry({ adapterId })),
          states: ids.map((adapterId, index) => ({
            ...initialHealth(adapterId, "healthy", checkedAt),
            status: index % 9 === 0 ? ("unhealthy" as const) : ("healthy" as const),
            lastChecked: checkedAt,
            latencyMs: index / 4,
            checkIntervalMs: 15_000,
          })),
          maintenance: [
            {
              adapterId: ids[3] as string,
              declared: { adapterId: ids[3] as string, untilMs: null, reason: "disk swap" },
            },
          ],
          events: [],
        },
        checkedAt,
      );
      store.commit({ removed: [ids[5] as string], events: [] }, checkedAt);
    } finally {
      store.close();
    }
  });

  afterAll(() => dir.remove());

  it("prints, through a pipe, the whole listing GET /v1/adapters gives for the file, byte for byte", async () => {
    const result = await cli(["status", "--json", "--db", dbPath]);
    expect(result.code).toBe(0);
    // Far more than the 64 KiB a pipe takes before the writer must wait for its reader.
    expect(result.stdout.length).toBeGreaterThan(200_000);
    const model = new OfflineReadModel({ path: dbPath });
    try {
      expect(result.stdout).toBe(jsonText(listFromFile(model.current())));
    } finally {
      model.close();
    }
    const listed = JSON.parse(result.stdout) as { adapters: { adapter_id: string }[] };
    expect(listed.adapters).toHaveLength(ids.length - 1);
  });
});
