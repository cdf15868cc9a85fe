import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
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

const SCENARIO = `
project: itest
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs, endpoint: grpc }
  - { category: cache, provider: redis, behaviour: down }
  - { category: cache, provider: memcached, endpoint: grpc, behaviour: down }
  - { category: orchestration, provider: prefect, behaviour: slow, slow_ms: 450 }
  - { category: orchestration, provider: airflow, endpoint: none }
  - { category: memory, provider: chroma, endpoint: none, registry_status: unhealthy }
  - { category: coordination, provider: etcd, dies_at_sec: 60, recovers_at_sec: 120 }
`;

const EXPECTED_AT_START: Record<string, string> = {
  "itest.adapter.storage.s3": "healthy",
  "itest.adapter.storage.gcs": "healthy",
  "itest.adapter.cache.redis": "unhealthy",
  "itest.adapter.cache.memcached": "unhealthy",
  "itest.adapter.orchestration.prefect": "degraded",
  "itest.adapter.orchestration.airflow": "healthy",
  "itest.adapter.memory.chroma": "unhealthy",
  "itest.adapter.coordination.etcd": "healthy",
};

function statuses(daemon: RunningDaemon): Record<string, string> {
  return Object.fromEntries(
    daemon.view.list().map((adapter) => [adapter.adapter_id, adapter.status]),
  );
}

describe("the daemon against a simulated registry", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator | undefined;
  let daemon: RunningDaemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    await simulator?.stop();
    simulator = undefined;
    dir.remove();
  });

  async function start(extraYaml = ""): Promise<RunningDaemon> {
    daemon = await startTestDaemon(
      testConfig(simulator?.registryPort ?? 1, join(dir.path, "healthd.db"), extraYaml),
      clock,
    );
    return daemon;
  }

  it("syncs the catalog and shows every adapter with its scripted status", async () => {
    const running = await start();
    await running.checkAllNow();

    expect(statuses(running)).toEqual(EXPECTED_AT_START);
    const { status, body } = await getJson(running, "/v1/adapters");
    expect(status).toBe(200);
    expect(body.registry.reachable).toBe(true);
    expect(body.registry.last_sync).toBe(new Date(clock.value).toISOString());
    const s3 = body.adapters.find(
      (adapter: { adapter_id: string }) => adapter.adapter_id === "itest.adapter.storage.s3",
    );
    expect(Object.keys(s3)).toEqual(
      expect.arrayContaining([
        "adapter_id",
        "project",
        "domain",
        "category",
        "provider",
        "status",
        "since",
        "last_checked",
        "latency_ms",
        "source",
        "stale",
      ]),
    );
    expect(s3).toMatchObject({
      project: "itest",
      domain: "adapter",
      category: "storage",
      provider: "s3",
      source: "probe",
      stale: false,
    });
    const airflow = body.adapters.find((adapter: { adapter_id: string }) =>
      adapter.adapter_id.endsWith("airflow"),
    );
    expect(airflow.source).toBe("registry");
  });

  it("needs `fall` failures to mark a dying adapter unhealthy and `rise` successes to bring it back", async () => {
    const running = await start();
    await running.checkAllNow();
    const etcd = "itest.adapter.coordination.etcd";

    clock.advance(61_000);
    await running.checkAllNow();
    expect(statuses(running)[etcd]).toBe("healthy");
    await running.checkAllNow();
    expect(statuses(running)[etcd]).toBe("unhealthy");
    expect(running.view.get(etcd)?.since).toBe(new Date(clock.value).toISOString());

    clock.advance(60_000);
    await running.checkAllNow();
    expect(statuses(running)[etcd]).toBe("unhealthy");
    await running.checkAllNow();
    expect(statuses(running)[etcd]).toBe("healthy");

    const changes = running
      .readEvents(0, 1000)
      .filter((event) => event.type === "adapter.health_changed" && event.subject === etcd)
      .map((event) => `${event.data.from}->${event.data.to}`);
    expect(changes).toEqual(["unknown->healthy", "healthy->unhealthy", "unhealthy->healthy"]);
  });

  it("follows a live change of behaviour", async () => {
    const running = await start();
    await running.checkAllNow();
    simulator?.setBehaviour("itest.adapter.storage.s3", "down");
    await running.checkAllNow();
    await running.checkAllNow();
    const s3 = running.view.get("itest.adapter.storage.s3");
    expect(s3?.status).toBe("unhealthy");
    expect(s3?.reason).toContain("HTTP 503");
  });

  it("answers an unknown adapter with a 404 problem and serves metrics, healthz and readyz", async () => {
    const running = await start();
    await running.checkAllNow();

    const missing = await getJson(running, "/v1/adapters/no.such.adapter");
    expect(missing.status).toBe(404);
    expect(missing.contentType).toBe("application/problem+json");
    expect(missing.body).toMatchObject({
      status: 404,
      code: "ADAPTER_NOT_FOUND",
      adapter_id: "no.such.adapter",
    });

    const one = await getJson(running, "/v1/adapters/itest.adapter.cache.redis");
    expect(one.body).toMatchObject({
      adapter_id: "itest.adapter.cache.redis",
      status: "unhealthy",
    });

    const metrics = await getJson(running, "/metrics");
    for (const name of [
      "oneiric_adapter_queries_total",
      "oneiric_adapter_query_duration_seconds",
      "oneiric_adapter_health_checks_total",
      "oneiric_cache_hits_total",
      "oneiric_cache_misses_total",
    ]) {
      expect(metrics.body).toContain(`# TYPE ${name} `);
    }
    expect(metrics.body).toContain('oneiric_healthd_adapters{status="unhealthy"} 3');
    expect(metrics.body).toContain("oneiric_healthd_registry_up 1");

    expect((await getJson(running, "/healthz")).status).toBe(200);
    expect((await getJson(running, "/readyz")).status).toBe(200);
    const post = await fetch(`http://127.0.0.1:${running.httpAddress.port}/v1/adapters`, {
      method: "POST",
    });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("lets `status` read the state from the database after the daemon stopped", async () => {
    const running = await start();
    await running.checkAllNow();
    await running.stop();
    daemon = undefined;
    const dbPath = join(dir.path, "healthd.db");

    const json = await run(process.execPath, [CLI, "status", "--json", "--db", dbPath]);
    const snapshot = JSON.parse(json.stdout);
    expect(
      Object.fromEntries(
        snapshot.adapters.map((adapter: { adapter_id: string; status: string }) => [
          adapter.adapter_id,
          adapter.status,
        ]),
      ),
    ).toEqual(EXPECTED_AT_START);
    expect(snapshot.registry.reachable).toBe(true);

    const table = await run(process.execPath, [CLI, "status", "--db", dbPath]);
    expect(table.stdout).toMatch(/itest\.adapter\.cache\.redis\s+unhealthy/);
    const one = await run(process.execPath, [
      CLI,
      "status",
      "itest.adapter.storage.s3",
      "--db",
      dbPath,
    ]);
    expect(one.stdout).toMatch(/status:\s+healthy/);
    await expect(
      run(process.execPath, [CLI, "status", "nope", "--db", dbPath]),
    ).rejects.toMatchObject({ code: 1 });
  });

  it("starts with the registry down, serves last-known state marked stale, and records the outage", async () => {
    const first = await start();
    await first.checkAllNow();
    await first.stop();
    await simulator?.stop();
    simulator = undefined;

    clock.advance(60_000);
    const second = await start("");
    const { body } = await getJson(second, "/v1/adapters");
    expect(body.registry.reachable).toBe(false);
    expect(body.registry.last_sync).not.toBeNull();
    expect(
      Object.fromEntries(
        body.adapters.map((adapter: { adapter_id: string; status: string }) => [
          adapter.adapter_id,
          adapter.status,
        ]),
      ),
    ).toEqual(EXPECTED_AT_START);
    // Registry-judged adapters get no verdict while the registry is down, so their last one goes stale.
    clock.advance(3 * 3600_000 + 1);
    await second.checkAllNow();
    expect(second.view.get("itest.adapter.orchestration.airflow")).toMatchObject({
      status: "healthy",
      stale: true,
    });
    expect(second.readEvents(0, 1000).some((event) => event.type === "registry.unreachable")).toBe(
      true,
    );
  });
});
