/**
 * The engine tells the truth at the daemon's own settings: what it serves has
 * been committed, comes in time, and survives a failing disk, a stepped clock
 * and a registry that answers nonsense. Settings other than the defaults are
 * named in each test.
 */
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import type { JournalEvent } from "../src/domain/events.js";
import { HealthCheckResponse } from "../src/gen/oneiric/registry/v1/registry.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { FaultyStore } from "../src/storage/faulty-store.js";
import type { HealthStore } from "../src/storage/store.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { SseClient } from "./support/sse-client.js";
import { getJson, ManualClock, tempDir } from "./support/stack.js";

/** A config with nothing but where things are: every other setting at its default. */
function defaultsConfig(registryPort: number, dbPath: string, extraHealthd = "") {
  return parseConfigText(
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
  log: { level: silent }
${extraHealthd}`,
    "defaults.yaml",
    {},
  );
}

/** The last event of each type group for every adapter, to check states against. */
function lastHealthChange(events: readonly JournalEvent[], adapterId: string) {
  return events
    .filter((event) => event.subject === adapterId && event.type === "adapter.health_changed")
    .at(-1);
}

describe("the engine at the daemon's default settings", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator | undefined;
  let daemon: RunningDaemon | undefined;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    vi.useRealTimers();
    await daemon?.stop();
    daemon = undefined;
    await simulator?.stop();
    simulator = undefined;
    dir.remove();
  });

  async function simulate(scenario: string, now?: () => number): Promise<RunningSimulator> {
    simulator = await startSimulator({
      scenario: parseScenario(scenario, "truth.yaml"),
      listen: "127.0.0.1:0",
      watchIntervalMs: 20,
      ...(now ? { now } : {}),
    });
    return simulator;
  }

  it("gives 4 adapters a verdict within 3 s of start", async () => {
    const sim = await simulate(
      "project: t\nadapters:\n" +
        ["s3", "gcs", "redis", "memcached"]
          .map((provider) => `  - { category: storage, provider: ${provider} }\n`)
          .join(""),
    );
    const startedAt = Date.now();
    daemon = await startDaemon(defaultsConfig(sim.registryPort, join(dir.path, "h.db")), {
      logger: pino({ level: "silent" }),
    });
    const running = daemon;
    await vi.waitFor(
      () => {
        expect(running.view.list().map((adapter) => adapter.status)).toEqual([
          "healthy",
          "healthy",
          "healthy",
          "healthy",
        ]);
      },
      { timeout: 3_000, interval: 20 },
    );
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it("turns a Watch push of NOT_SERVING into unhealthy and a failover within (fall − 1) × edge_interval_sec + 1 s", async () => {
    // Two gRPC adapters; redis is preferred and dies 2 s after the simulator starts.
    const sim = await simulate(`project: t
adapters:
  - { category: cache, provider: redis, endpoint: grpc, dies_at_sec: 2 }
  - { category: cache, provider: memcached, endpoint: grpc }
`);
    daemon = await startDaemon(
      defaultsConfig(
        sim.registryPort,
        join(dir.path, "h.db"),
        `  overrides:
    - { match: { provider: redis }, priority: 10 }
  resolution:
    requirements: [{ domain: adapter, category: cache }]
`,
      ),
      { logger: pino({ level: "silent" }) },
    );
    const running = daemon;
    const redis = "t.adapter.cache.redis";
    await vi.waitFor(() => expect(running.view.get(redis)?.status).toBe("healthy"), {
      timeout: 3_000,
    });
    // The push arrives when the simulator's adapter dies.
    await vi.waitFor(
      () => expect(running.view.get(redis)?.reason).toMatch(/NOT_SERVING \(pushed by Watch\)/),
      { timeout: 5_000, interval: 10 },
    );
    const pushedAt = Date.now();
    const detail = running.view.get(redis);
    expect(detail).toMatchObject({ status: "healthy" });
    expect(running.view.state(redis)?.consecutiveFailures).toBe(1);
    // Defaults: fall 3, edge_interval_sec = interval_sec / 3 = 5 s.
    const bound = (3 - 1) * 5_000 + 1_000;
    await vi.waitFor(() => expect(running.view.get(redis)?.status).toBe("unhealthy"), {
      timeout: bound,
      interval: 20,
    });
    await vi.waitFor(
      () =>
        expect(running.readEvents(0, 1000).some((event) => event.type === "failover")).toBe(true),
      { timeout: 500, interval: 10 },
    );
    expect(Date.now() - pushedAt).toBeLessThan(bound);
    const failover = running.readEvents(0, 1000).find((event) => event.type === "failover");
    expect(failover?.data).toMatchObject({ from: redis, to: "t.adapter.cache.memcached" });
    expect(
      running.resolution.resolve({ domain: "adapter", category: "cache" }).choice?.adapterId,
    ).toBe("t.adapter.cache.memcached");
  }, 30_000);

  it("tells a subscriber of each health change only once the adapter's detail shows it", async () => {
    const sim = await simulate(`project: t
adapters:
  - { category: cache, provider: redis, dies_at_sec: 1, recovers_at_sec: 2 }
  - { category: storage, provider: s3, dies_at_sec: 1 }
`);
    daemon = await startDaemon(
      defaultsConfig(
        sim.registryPort,
        join(dir.path, "h.db"),
        // Said: checks every second so the changes come within the test.
        "  probes: { interval_sec: 1 }\n",
      ),
      { logger: pino({ level: "silent" }) },
    );
    const running = daemon;
    // In process: at the moment an event is delivered, the mirror already holds it.
    const mismatches: string[] = [];
    let delivered = 0;
    const subscription = running.hub.subscribe(running.hub.newestSeq(), (events) => {
      for (const event of events) {
        if (event.type !== "adapter.health_changed") continue;
        delivered++;
        const shown = running.view.get(event.subject)?.status;
        if (shown !== event.data.to)
          mismatches.push(`${event.subject}: ${shown} ≠ ${event.data.to}`);
      }
    });
    // Over HTTP: each SSE event is followed by a GET that must already agree.
    const base = `http://127.0.0.1:${running.httpAddress.port}`;
    const sse = new SseClient(`${base}/v1/events`);
    const checked: string[] = [];
    try {
      await sse.until(
        (client) =>
          client.messages.filter((message) => message.data.includes("health_changed")).length >= 3,
        15_000,
      );
      for (const message of sse.messages) {
        const event = JSON.parse(message.data) as { type: string; subject: string; seq: number };
        if (!event.type.endsWith("adapter.health_changed")) continue;
        const journal = running.readEvents(event.seq - 1, 1)[0];
        const { body } = await getJson(running, `/v1/adapters/${event.subject}`);
        // A later change may have followed; the detail is never behind this one.
        expect(Date.parse(body.since)).toBeGreaterThanOrEqual(journal?.time ?? 0);
        checked.push(event.subject);
      }
    } finally {
      sse.close();
      subscription.close();
    }
    expect(checked.length).toBeGreaterThanOrEqual(3);
    expect(delivered).toBeGreaterThanOrEqual(3);
    expect(mismatches).toEqual([]);
  }, 30_000);

  it("never calls an unhealthy adapter with an open breaker stale while its checks are on schedule", async () => {
    const clock = new ManualClock();
    const sim = await simulate(
      "project: t\nadapters:\n  - { category: cache, provider: redis, behaviour: down }\n",
      clock.now,
    );
    daemon = await startDaemon(defaultsConfig(sim.registryPort, join(dir.path, "h.db")), {
      logger: pino({ level: "silent" }),
      now: clock.now,
      sharedClock: clock.cell,
    });
    const running = daemon;
    const id = "t.adapter.cache.redis";
    // Defaults: the breaker opens after 3 consecutive failures and lets a trial through after 300 s.
    for (let round = 0; round < 3; round++) await running.checkAllNow();
    expect(running.view.get(id)).toMatchObject({ status: "unhealthy", breaker: "open" });
    const interval = running.view.state(id)?.checkIntervalMs ?? 0;
    // The next check is the trial, 300 s on (later than the 60 s open interval).
    expect(interval).toBeGreaterThanOrEqual(300_000);
    expect(interval).toBeLessThan(301_000);
    for (const step of [45_000, 60_000, 120_000, 240_000, interval]) {
      clock.value += step - (clock.value - (running.view.state(id)?.lastChecked ?? 0));
      expect(running.view.get(id)?.stale, `${step} ms after the last check`).toBe(false);
    }
    // Overdue once the trial is late by more than the grace (5 s timeout + 1 s).
    clock.value = (running.view.state(id)?.lastChecked ?? 0) + interval + 6_001;
    expect(running.view.get(id)?.stale).toBe(true);
  });

  it("reports the registry unreachable within 2 × timeout_sec of the first failed call", async () => {
    const registry = await new FakeRegistry().start();
    registry.entries = [FakeRegistry.entry({ adapterId: "fake.adapter.storage.s3" })];
    try {
      daemon = await startDaemon(defaultsConfig(registry.port, join(dir.path, "h.db")), {
        logger: pino({ level: "silent" }),
      });
      const running = daemon;
      expect((await getJson(running, "/v1/adapters")).body.registry.reachable).toBe(true);
      // The first round's checks (due at start) are done: the next call is made after the stop.
      await running.checkAllNow();
      registry.stop();
      // Any registry call notices: here the registry HealthCheck beside the next check.
      const calledAt = Date.now();
      void running.checkAllNow();
      await vi.waitFor(
        async () =>
          expect((await getJson(running, "/v1/adapters")).body.registry.reachable).toBe(false),
        { timeout: 10_000, interval: 50 },
      );
      // Defaults: timeout_sec 5.
      expect(Date.now() - calledAt).toBeLessThan(2 * 5_000);
      expect(
        running.readEvents(0, 1000).filter((event) => event.type === "registry.unreachable"),
      ).toHaveLength(1);
    } finally {
      registry.stop();
    }
  }, 30_000);

  it("keeps every event through 10 s of failing commits and leaves each state matched by its last event", async () => {
    const sim = await simulate(`project: t
adapters:
  - { category: cache, provider: redis, dies_at_sec: 2 }
  - { category: cache, provider: memcached }
`);
    let faulty: FaultyStore | undefined;
    daemon = await startDaemon(
      defaultsConfig(
        sim.registryPort,
        join(dir.path, "h.db"),
        // Said: checks every second, so the outage sees many results.
        `  probes: { interval_sec: 1 }
  overrides:
    - { match: { provider: redis }, priority: 10 }
  resolution:
    requirements: [{ domain: adapter, category: cache }]
`,
      ),
      {
        logger: pino({ level: "silent" }),
        wrapStore: (store: HealthStore) => {
          faulty = new FaultyStore(store);
          return faulty;
        },
      },
    );
    const running = daemon;
    const redis = "t.adapter.cache.redis";
    await vi.waitFor(() => expect(running.view.get(redis)?.status).toBe("healthy"), {
      timeout: 3_000,
    });
    const before = running.view.get(redis);
    faulty?.failCommits();
    await vi.waitFor(
      async () => {
        const ready = await getJson(running, "/readyz");
        expect(ready.status).toBe(503);
        expect(ready.body.detail).toMatch(/database refuses commits/);
      },
      { timeout: 3_000, interval: 50 },
    );
    expect((await getJson(running, "/metrics")).body).toMatch(
      /^oneiric_healthd_store_writable 0$/m,
    );
    // While failing (10 s), redis dies: nothing of it may show before the disk takes it.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(running.view.get(redis)).toEqual({ ...before, stale: running.view.get(redis)?.stale });
    expect(running.engineStatus().pendingEvents).toBeGreaterThan(0);
    faulty?.heal();
    // Retries back off to every 5 s at most.
    await vi.waitFor(() => expect(running.engineStatus().writable).toBe(true), {
      timeout: 8_000,
      interval: 50,
    });
    expect((await getJson(running, "/readyz")).status).toBe(200);
    expect(running.view.get(redis)).toMatchObject({ status: "unhealthy", breaker: "open" });
    const events = running.readEvents(0, 10_000);
    for (const adapter of running.view.list()) {
      expect(lastHealthChange(events, adapter.adapter_id)?.data.to).toBe(adapter.status);
    }
    const redisTypes = events.filter((event) => event.subject === redis).map((e) => e.type);
    expect(redisTypes).toContain("breaker.opened");
    expect(events.filter((event) => event.type === "failover")).toHaveLength(1);
    const metrics = (await getJson(running, "/metrics")).body as string;
    expect(metrics).toMatch(/^oneiric_healthd_failovers_total 1$/m);
    expect(metrics).toMatch(/^oneiric_healthd_store_writable 1$/m);
    // Seq numbers have no gap: nothing was written twice or half.
    const seqs = events.map((event) => event.seq);
    expect(seqs).toEqual(seqs.map((_, index) => (seqs[0] ?? 0) + index));
  }, 40_000);

  it("lets no breaker stay open and no adapter flap past their own rules after the clock steps forward and back an hour", async () => {
    // The simulator keeps its own time, so only the daemon's wall clock steps.
    const simulatorStart = performance.now();
    const sim = await simulate(
      "project: t\nadapters:\n  - { category: cache, provider: redis, dies_at_sec: 1, recovers_at_sec: 5 }\n",
      () => Date.parse("2026-11-26T12:00:00Z") + (performance.now() - simulatorStart),
    );
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    daemon = await startDaemon(
      defaultsConfig(
        sim.registryPort,
        join(dir.path, "h.db"),
        // Said: checks every second and a short half-open wait, so it runs in seconds.
        "  probes: { interval_sec: 1 }\n  breaker: { half_open_after_sec: 2 }\n",
      ),
      { logger: pino({ level: "silent" }) },
    );
    const running = daemon;
    const id = "t.adapter.cache.redis";
    await vi.waitFor(() => expect(running.view.get(id)?.status).toBe("healthy"), {
      timeout: 3_000,
    });
    vi.setSystemTime(Date.now() + 3_600_000);
    // The breaker opens during the hour ahead.
    await vi.waitFor(() => expect(running.view.get(id)?.breaker).toBe("open"), {
      timeout: 8_000,
      interval: 20,
    });
    vi.setSystemTime(Date.now() - 3_600_000);
    // Back on time: the breaker's trial comes 2 s on, finds the adapter recovered, closes.
    await vi.waitFor(
      () => expect(running.view.get(id)).toMatchObject({ status: "healthy", breaker: "closed" }),
      { timeout: 12_000, interval: 50 },
    );
    expect(running.view.get(id)?.flapping).toBe(false);
    const transitions = running.view.state(id)?.recentTransitions ?? [];
    for (const time of transitions) expect(time).toBeLessThanOrEqual(Date.now());
  }, 40_000);

  it("is ready from the stored catalog within 2 s when the registry is slow to answer, and takes its answer after", async () => {
    const registry = await new FakeRegistry().start();
    registry.entries = ["s3", "gcs"].map((provider) =>
      FakeRegistry.entry({ adapterId: `fake.adapter.storage.${provider}`, provider }),
    );
    const dbPath = join(dir.path, "h.db");
    try {
      const first = await startDaemon(defaultsConfig(registry.port, dbPath), {
        logger: pino({ level: "silent" }),
      });
      await first.stop();
      // The registry now takes 3 s to list, and has gained an adapter.
      registry.listDelayMs = 3_000;
      registry.entries.push(FakeRegistry.entry({ adapterId: "fake.adapter.storage.azure" }));
      const startedAt = Date.now();
      daemon = await startDaemon(defaultsConfig(registry.port, dbPath), {
        logger: pino({ level: "silent" }),
      });
      const running = daemon;
      expect(Date.now() - startedAt).toBeLessThan(2_000);
      const ready = await getJson(running, "/readyz");
      expect(ready).toMatchObject({
        status: 200,
        body: { status: "ready", note: "catalog from storage, registry not yet confirmed" },
      });
      expect(running.view.size).toBe(2);
      await vi.waitFor(() => expect(running.view.size).toBe(3), { timeout: 6_000 });
      // The note goes once the sync that applied the answer has finished (moments later).
      await vi.waitFor(
        async () => expect((await getJson(running, "/readyz")).body).toEqual({ status: "ready" }),
        { timeout: 2_000 },
      );
    } finally {
      registry.stop();
    }
  }, 30_000);

  it("removes nothing when the registry answers ListAdapters with another message type, twice", async () => {
    const registry = await new FakeRegistry().start();
    registry.entries = ["s3", "gcs", "azure"].map((provider) =>
      FakeRegistry.entry({ adapterId: `fake.adapter.storage.${provider}`, provider }),
    );
    try {
      daemon = await startDaemon(defaultsConfig(registry.port, join(dir.path, "h.db")), {
        logger: pino({ level: "silent" }),
      });
      const running = daemon;
      expect(running.view.size).toBe(3);
      registry.rawListAnswer = HealthCheckResponse.encode({
        healthy: true,
        status: "healthy",
        message: "",
      }).finish();
      for (let attempt = 0; attempt < 2; attempt++) {
        const result = await running.syncNow();
        expect(result.ok).toBe(false);
        expect(result.error).toMatch(/not a ListResponse/);
      }
      expect(running.view.size).toBe(3);
      await vi.waitFor(() =>
        expect(running.readEvents(0, 1000).map((event) => event.type)).toContain(
          "registry.unreachable",
        ),
      );
      const types = running.readEvents(0, 1000).map((event) => event.type);
      expect(types).not.toContain("adapter.removed");
    } finally {
      registry.stop();
    }
  });
});
