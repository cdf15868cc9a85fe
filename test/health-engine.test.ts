import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import type { JournalEvent } from "../src/domain/events.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { ManualClock, tempDir } from "./support/stack.js";

/** Waits (real time, up to 5 s) until `condition` holds; fails the test otherwise. */
async function eventually(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `type subject-suffix detail` lines for one adapter, in journal order. */
function sequence(events: JournalEvent[], adapterId: string): string[] {
  return events
    .filter((event) => event.subject === adapterId)
    .map((event) => {
      const data = event.data as Record<string, unknown>;
      if (event.type === "adapter.health_changed")
        return `health ${String(data.from)}->${String(data.to)}`;
      if (event.type === "adapter.flapping" || event.type === "adapter.settled") {
        return `${event.type.slice(8)} ${String(data.status)}`;
      }
      return event.type;
    });
}

describe("the health engine against scripted adapters", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator | undefined;
  let daemon: RunningDaemon | undefined;

  beforeEach(() => {
    dir = tempDir();
    clock = new ManualClock();
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    await simulator?.stop();
    simulator = undefined;
    dir.remove();
  });

  async function start(
    scenario: string,
    healthd: string,
    random: () => number = () => 0.5,
  ): Promise<RunningDaemon> {
    simulator = await startSimulator({
      scenario: parseScenario(scenario, "engine-test.yaml"),
      listen: "127.0.0.1:0",
      now: clock.now,
      random,
    });
    const config = parseConfigText(
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${simulator.registryPort}, timeout_sec: 2 }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, "healthd.db"))} }
  sync: { interval_sec: 3600 }
  log: { level: silent }
${healthd}`,
      "engine-test.yaml",
      {},
    );
    daemon = await startDaemon(config, {
      logger: pino({ level: "silent" }),
      now: clock.now,
      sharedClock: clock.cell,
    });
    return daemon;
  }

  const PROBES =
    "  probes: { interval_sec: 3600, timeout_sec: 1, rise: 2, fall: 2, degraded_latency_ms: 300, watch: false }\n";

  it("records dies → unhealthy → breaker open → half-open trial → closed → healthy, in that order", async () => {
    const running = await start(
      "project: t\nadapters:\n  - { category: cache, provider: redis, dies_at_sec: 60, recovers_at_sec: 120 }\n",
      `${PROBES}  breaker: { kind: consecutive, threshold: 3, half_open_after_sec: 0.2 }\n`,
    );
    const id = "t.adapter.cache.redis";
    await running.checkAllNow();
    clock.advance(61_000);
    for (let round = 0; round < 3; round++) await running.checkAllNow();
    expect(running.view.get(id)).toMatchObject({
      status: "unhealthy",
      breaker: "open",
      usable: false,
    });
    // While open, checks do not run.
    const checkedAt = running.view.get(id)?.last_checked;
    await running.checkAllNow();
    expect(running.view.get(id)?.last_checked).toBe(checkedAt);

    clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await running.checkAllNow();
    expect(running.view.get(id)).toMatchObject({ status: "unhealthy", breaker: "closed" });
    await running.checkAllNow();
    expect(running.view.get(id)).toMatchObject({ status: "healthy", usable: true });

    expect(sequence(running.readEvents(0, 1000), id)).toEqual([
      "adapter.discovered",
      "health unknown->healthy",
      "health healthy->unhealthy",
      "breaker.opened",
      "breaker.half_opened",
      "breaker.closed",
      "health unhealthy->healthy",
    ]);
  });

  it("damps a flapping adapter: one flapping event instead of one per change, then settled", async () => {
    const running = await start(
      "project: t\nadapters:\n  - { category: orchestration, provider: airflow, behaviour: flapping, flap_period_sec: 20 }\n",
      `  probes: { interval_sec: 3600, timeout_sec: 1, rise: 1, fall: 1, watch: false }
  breaker: { threshold: 100 }
  flap: { transitions: 3, window_sec: 60 }\n`,
    );
    const id = "t.adapter.orchestration.airflow";
    for (let step = 0; step < 8; step++) {
      await running.checkAllNow();
      clock.advance(10_000);
    }
    expect(running.view.get(id)).toMatchObject({ flapping: true, usable: false });
    simulator?.setBehaviour(id, "healthy");
    for (let step = 0; step < 8; step++) {
      await running.checkAllNow();
      clock.advance(10_000);
    }
    expect(running.view.get(id)).toMatchObject({
      flapping: false,
      status: "healthy",
      usable: true,
    });
    expect(sequence(running.readEvents(0, 1000), id)).toEqual([
      "adapter.discovered",
      "health unknown->healthy",
      "health healthy->unhealthy",
      "health unhealthy->healthy",
      "flapping unhealthy",
      "settled healthy",
    ]);
  });

  it("marks a slow adapter degraded and a recovered one healthy again", async () => {
    const running = await start(
      // The registry's own view (as listed at the sync) stays healthy: the probe's latency decides.
      "project: t\nadapters:\n  - { category: storage, provider: file, behaviour: slow, slow_ms: 450, registry_status: healthy }\n",
      PROBES,
    );
    const id = "t.adapter.storage.file";
    await running.checkAllNow();
    expect(running.view.get(id)?.reason).toMatch(/^answered in \d+ ms, over the 300 ms threshold$/);
    simulator?.setBehaviour(id, "healthy");
    await running.checkAllNow();
    expect(sequence(running.readEvents(0, 1000), id)).toEqual([
      "adapter.discovered",
      "health unknown->degraded",
      "health degraded->healthy",
    ]);
  });

  it("does not flip an intermittent adapter on single failures (hysteresis)", async () => {
    // Every other HTTP check fails: never two failures in a row.
    let draws = 0;
    const running = await start(
      "project: t\nadapters:\n  - { category: cache, provider: valkey, behaviour: intermittent, failure_probability: 0.5 }\n",
      PROBES,
      () => (draws++ % 2 === 0 ? 0.9 : 0.1),
    );
    const id = "t.adapter.cache.valkey";
    for (let round = 0; round < 8; round++) await running.checkAllNow();
    expect(running.view.get(id)?.status).toBe("healthy");
    expect(sequence(running.readEvents(0, 1000), id)).toEqual([
      "adapter.discovered",
      "health unknown->healthy",
    ]);
  });

  it("emits a failover event naming the old and the new choice when the chosen adapter dies", async () => {
    const running = await start(
      `project: t
adapters:
  - { category: cache, provider: redis, dies_at_sec: 60 }
  - { category: cache, provider: memcached }\n`,
      `${PROBES}  overrides:
    - { match: { provider: redis }, priority: 10 }
  resolution:
    requirements: [{ domain: adapter, category: cache }]\n`,
    );
    await running.checkAllNow();
    expect(
      running.resolution.resolve({ domain: "adapter", category: "cache" }).choice?.adapterId,
    ).toBe("t.adapter.cache.redis");
    clock.advance(61_000);
    await running.checkAllNow();
    await running.checkAllNow();
    const failovers = running.readEvents(0, 1000).filter((event) => event.type === "failover");
    expect(failovers).toHaveLength(1);
    expect(failovers[0]?.data).toMatchObject({
      requirement: { domain: "adapter", category: "cache" },
      from: "t.adapter.cache.redis",
      to: "t.adapter.cache.memcached",
      from_status: "unhealthy",
    });
    const answer = running.resolution.resolve({ domain: "adapter", category: "cache" });
    expect(answer.choice?.adapterId).toBe("t.adapter.cache.memcached");
    expect(answer.excluded.map((candidate) => candidate.adapterId)).toEqual([
      "t.adapter.cache.redis",
    ]);
  });

  it("fails over when the chosen adapter goes into maintenance, and counts it out of the alerting gauge", async () => {
    const running = await start(
      `project: t
adapters:
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached }
`,
      `${PROBES}  overrides:
    - { match: { provider: redis }, priority: 10 }
  resolution:
    requirements: [{ domain: adapter, category: cache }]
`,
    );
    await running.checkAllNow();
    running.maintenance.declare("t.adapter.cache.redis", null, "redis upgrade");
    await new Promise((resolve) => setTimeout(resolve, 60));
    const types = running.readEvents(0, 1000).map((event) => event.type);
    expect(types.slice(-2)).toEqual(["adapter.maintenance_started", "failover"]);
    expect(running.view.get("t.adapter.cache.redis")).toMatchObject({
      status: "healthy",
      usable: false,
      maintenance: { until: null, reason: "redis upgrade" },
    });
    expect(running.view.countByStatus().healthy).toBe(1);
    running.maintenance.lift("t.adapter.cache.redis");
    expect(running.view.get("t.adapter.cache.redis")?.usable).toBe(true);
  });

  it("takes a watched adapter's change from its Watch stream, and does not call its silent verdict stale", async () => {
    const running = await start(
      `project: t
adapters:
  - { category: cache, provider: redis, endpoint: grpc, dies_at_sec: 120 }
  - { category: queue, provider: nats, endpoint: grpc }
`,
      `  probes: { interval_sec: 3600, timeout_sec: 1, rise: 1, fall: 1, stale_after_sec: 30, watch: true }
  overrides:
    - { match: { provider: nats }, probes: { watch: false } }
`,
    );
    const watched = "t.adapter.cache.redis";
    const polled = "t.adapter.queue.nats";
    // The first check opens the stream; there is no other check in this test.
    await running.checkAllNow();
    expect(running.view.get(watched)).toMatchObject({ status: "healthy", stale: false });
    clock.advance(4_000_000);
    // Both last checked 4,000 s ago: the polled adapter's hourly check is overdue (past its
    // interval, up to 10 % jitter and the 30 s grace), the watched one's safety-net poll is not.
    await eventually(() => running.view.get(watched)?.stale === false);
    expect(running.view.get(polled)).toMatchObject({ status: "healthy", stale: true });
    expect(running.view.get(watched)).toMatchObject({ status: "healthy", stale: false });
    const lastChecked = running.view.get(watched)?.last_checked;

    clock.advance(90_000);
    // The simulator's adapter dies now; no poll runs, the stream pushes NOT_SERVING.
    await eventually(() => running.view.get(watched)?.status === "unhealthy");
    expect(running.view.get(watched)?.reason).toMatch(/pushed by Watch/);
    expect(running.view.get(watched)?.last_checked).not.toBe(lastChecked);
    expect(sequence(running.readEvents(0, 1000), watched)).toEqual([
      "adapter.discovered",
      "health unknown->healthy",
      "health healthy->unhealthy",
    ]);
    expect(running.view.get(polled)).toMatchObject({ status: "healthy", stale: true });
  });

  it("polls a watched adapter within an interval once its Watch stream is lost", async () => {
    const running = await start(
      "project: t\nadapters:\n  - { category: cache, provider: redis, endpoint: grpc }\n",
      "  probes: { interval_sec: 1, watched_interval_sec: 3600, timeout_sec: 1, rise: 1, fall: 1, stale_after_sec: 30 }\n",
    );
    const id = "t.adapter.cache.redis";
    await running.checkAllNow();
    clock.advance(31_000);
    // Current despite its age: the stream is open, and the next poll is an hour away.
    await eventually(() => running.view.get(id)?.stale === false);
    expect(running.view.get(id)?.status).toBe("healthy");
    await simulator?.stop();
    simulator = undefined;
    // The stream ends with the server; a poll within the 1 s interval finds it gone.
    await eventually(() => running.view.get(id)?.status === "unhealthy");
    expect(running.view.get(id)?.reason).not.toMatch(/pushed by Watch/);
    expect(running.view.get(id)?.stale).toBe(false);
  });

  it("keeps an open breaker open, windows intact, across a restart", async () => {
    const healthd = `${PROBES}  breaker: { kind: count, threshold: 0.5, size: 10, min_calls: 4, half_open_after_sec: 3600 }\n`;
    const running = await start(
      "project: t\nadapters:\n  - { category: cache, provider: redis, behaviour: down }\n",
      healthd,
    );
    const id = "t.adapter.cache.redis";
    for (let round = 0; round < 4; round++) await running.checkAllNow();
    expect(running.view.get(id)?.breaker).toBe("open");
    // As stored: the JSON form of cockatiel's toJSON(), the failure window included.
    const saved = JSON.parse(JSON.stringify(running.view.state(id)?.breaker?.snapshot)) as unknown;
    expect(JSON.stringify(saved)).toContain('"breakerState"');
    await running.stop();
    daemon = undefined;

    const config = parseConfigText(
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${simulator?.registryPort ?? 0} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, "healthd.db"))} }
  sync: { interval_sec: 3600 }
  log: { level: silent }
${healthd}`,
      "engine-test.yaml",
      {},
    );
    daemon = await startDaemon(config, {
      logger: pino({ level: "silent" }),
      now: clock.now,
      sharedClock: clock.cell,
    });
    expect(daemon.view.get(id)?.breaker).toBe("open");
    const checkedAt = daemon.view.get(id)?.last_checked;
    await daemon.checkAllNow();
    expect(daemon.view.get(id)?.last_checked).toBe(checkedAt);
    expect(daemon.view.state(id)?.breaker?.snapshot).toEqual(saved);
    const store = new SqliteStore({ path: join(dir.path, "healthd.db"), readonly: true });
    try {
      expect(store.loadHealth().find((state) => state.adapterId === id)?.breaker?.state).toBe(
        "open",
      );
    } finally {
      store.close();
    }
  });
});
