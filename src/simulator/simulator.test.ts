import { createServer } from "node:net";
import {
  type ClientReadableStream,
  credentials,
  type ServiceError,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type HealthCheckResponse,
  HealthClient,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/grpc/health/v1/health.js";
import {
  type AdapterEntry,
  AdapterRegistryClient,
  type GetResponse,
  type HeartbeatResponse,
  type ListRequest,
  type ListResponse,
  type RegisterResponse,
  type HealthCheckResponse as RegistryHealthResponse,
  type UnregisterResponse,
} from "../gen/oneiric/registry/v1/registry.js";
import { parseScenario } from "./scenario.js";
import { type RunningSimulator, startSimulator } from "./simulator.js";

const START_MS = 1_700_000_000_000;
const START_SEC = START_MS / 1000;

const SCENARIO = parseScenario(
  [
    "project: mahavishnu",
    "adapters:",
    "  - { provider: s3, category: storage, capabilities: [read, write], metadata: { region: us-east-1 } }",
    "  - { provider: gcs, category: storage, endpoint: grpc }",
    "  - { provider: sqlite, category: storage, behaviour: down }",
    "  - { provider: file, category: storage, behaviour: slow, slow_ms: 60 }",
    "  - { provider: redis, category: cache, dies_at_sec: 45, recovers_at_sec: 100 }",
    "  - { provider: memcached, category: cache, behaviour: intermittent, failure_probability: 0.5 }",
    "  - { provider: airflow, category: orchestration, behaviour: flapping, flap_period_sec: 30 }",
    "  - { provider: dagster, category: orchestration, endpoint: grpc, behaviour: down, registry_status: healthy }",
    "  - { provider: etcd, category: coordination, domain: service, endpoint: none }",
  ].join("\n"),
  "simulator.test.yaml",
);

const S3 = "mahavishnu.adapter.storage.s3";
const GCS = "mahavishnu.adapter.storage.gcs";
const SQLITE = "mahavishnu.adapter.storage.sqlite";
const FILE = "mahavishnu.adapter.storage.file";
const REDIS = "mahavishnu.adapter.cache.redis";
const MEMCACHED = "mahavishnu.adapter.cache.memcached";
const AIRFLOW = "mahavishnu.adapter.orchestration.airflow";
const DAGSTER = "mahavishnu.adapter.orchestration.dagster";
const ETCD = "mahavishnu.service.coordination.etcd";

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/** A unary gRPC call as a promise. */
function unary<Res>(invoke: (callback: Callback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke((error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** Collects a server stream's messages so a test can await the next one. */
function collect(stream: ClientReadableStream<HealthCheckResponse>) {
  const received: ServingStatus[] = [];
  const waiters: Array<() => void> = [];
  let ended: StatusObject | undefined;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  stream.on("data", (message: HealthCheckResponse) => {
    received.push(message.status);
    wake();
  });
  stream.on("status", (s: StatusObject) => {
    ended = s;
    wake();
  });
  // An error also arrives as a status; without a listener it would be thrown.
  stream.on("error", () => {});
  const until = (done: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else {
          waiters.push(check);
        }
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 3_000);
      check();
    });
  return {
    received,
    status: () => ended,
    nth: async (n: number) => {
      await until(() => received.length > n, `message ${n}`);
      return received[n];
    },
    end: async () => {
      await until(() => ended !== undefined, "end of stream");
      return ended as StatusObject;
    },
  };
}

describe("startSimulator", () => {
  let clock: number;
  let draws: number[];
  let sim: RunningSimulator;
  let registry: AdapterRegistryClient;
  let health: HealthClient;

  beforeEach(async () => {
    clock = START_MS;
    draws = [];
    sim = await startSimulator({
      scenario: SCENARIO,
      listen: "127.0.0.1:0",
      now: () => clock,
      random: () => {
        const next = draws.shift();
        if (next === undefined) throw new Error("test did not script a random draw");
        return next;
      },
      watchIntervalMs: 10,
    });
    registry = new AdapterRegistryClient(sim.registryAddress, credentials.createInsecure());
    health = new HealthClient(sim.registryAddress, credentials.createInsecure());
  });

  afterEach(async () => {
    registry.close();
    health.close();
    await sim.stop();
  });

  const list = (request: Partial<ListRequest> = {}) =>
    unary<ListResponse>((cb) =>
      registry.listAdapters(
        { project: "", domain: "", category: "", healthyOnly: false, ...request },
        cb,
      ),
    ).then((r) => r.adapters);
  const get = (adapterId: string) =>
    unary<GetResponse>((cb) => registry.getAdapter({ adapterId }, cb)).then((r) => r.adapter);
  const registryHealth = (adapterId: string) =>
    unary<RegistryHealthResponse>((cb) => registry.healthCheck({ adapterId }, cb));
  const heartbeat = (adapterId: string) =>
    unary<HeartbeatResponse>((cb) => registry.heartbeat({ adapterId }, cb));
  const register = (adapter: AdapterEntry | undefined) =>
    unary<RegisterResponse>((cb) => registry.registerAdapter({ adapter }, cb));
  const unregister = (adapterId: string) =>
    unary<UnregisterResponse>((cb) => registry.unregisterAdapter({ adapterId }, cb));
  const check = (service: string) =>
    unary<HealthCheckResponse>((cb) => health.check({ service }, cb)).then((r) => r.status);
  const httpStatus = async (adapterId: string) => {
    const response = await fetch(`http://127.0.0.1:${sim.httpPort}/health/${adapterId}`);
    return { code: response.status, body: await response.json() };
  };

  it("counts the HTTP checks it answers, per adapter and per user agent", async () => {
    clock = START_MS + 1_000;
    const url = `http://127.0.0.1:${sim.httpPort}/health/${S3}`;
    await (await fetch(url, { headers: { "user-agent": "oneiric-healthd (member a)" } })).text();
    await (await fetch(url, { headers: { "user-agent": "oneiric-healthd (member a)" } })).text();
    await (await fetch(url, { headers: { "user-agent": "oneiric-healthd (member b)" } })).text();
    await (await fetch(`http://127.0.0.1:${sim.httpPort}/health/no.such.adapter`)).text();
    const counts = sim.probeCounts();
    expect([...counts.keys()]).toEqual([S3]);
    expect(Object.fromEntries(counts.get(S3) ?? [])).toEqual({
      "oneiric-healthd (member a)": 2,
      "oneiric-healthd (member b)": 1,
    });
  });

  it("binds real ports on 127.0.0.1", () => {
    expect(sim.registryAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sim.registryPort).toBeGreaterThan(0);
    expect(sim.httpPort).toBeGreaterThan(0);
    expect(sim.httpAddress).toBe(`127.0.0.1:${sim.httpPort}`);
    expect(sim.registryPort).not.toBe(sim.httpPort);
  });

  describe("AdapterRegistry", () => {
    it("lists every adapter with its fields as served", async () => {
      const adapters = await list();
      expect(adapters.map((a) => a.adapterId)).toEqual([
        S3,
        GCS,
        SQLITE,
        FILE,
        REDIS,
        MEMCACHED,
        AIRFLOW,
        DAGSTER,
        ETCD,
      ]);
      const s3 = adapters[0] as AdapterEntry;
      expect(s3).toEqual({
        adapterId: S3,
        project: "mahavishnu",
        domain: "adapter",
        category: "storage",
        provider: "s3",
        capabilities: ["read", "write"],
        factoryPath: "mahavishnu.adapters.storage.s3:S3Adapter",
        healthCheckUrl: `http://127.0.0.1:${sim.httpPort}/health/${S3}`,
        metadata: { region: "us-east-1" },
        registeredAt: START_SEC,
        lastHeartbeat: START_SEC,
        healthStatus: "healthy",
      });
      expect(adapters.find((a) => a.adapterId === GCS)?.healthCheckUrl).toBe(
        `grpc://127.0.0.1:${sim.registryPort}/${GCS}`,
      );
      expect(adapters.find((a) => a.adapterId === ETCD)?.healthCheckUrl).toBe("");
      expect(sim.adapters).toEqual(adapters);
    });

    it("reports the registry status from the live behaviour", async () => {
      const statusOf = async () =>
        Object.fromEntries((await list()).map((a) => [a.adapterId, a.healthStatus]));
      expect(await statusOf()).toMatchObject({
        [S3]: "healthy",
        [SQLITE]: "unhealthy",
        [FILE]: "degraded",
        [REDIS]: "healthy",
        [MEMCACHED]: "healthy",
        [AIRFLOW]: "healthy",
        [DAGSTER]: "healthy",
      });
      clock = START_MS + 50_000;
      // 50 s is 20 s into the second 30 s period: the down half.
      expect(await statusOf()).toMatchObject({ [REDIS]: "unhealthy", [AIRFLOW]: "unhealthy" });
      clock = START_MS + 100_000;
      // 100 s into a 30 s period is 10 s into the fourth: up again; redis has recovered.
      expect(await statusOf()).toMatchObject({ [REDIS]: "healthy", [AIRFLOW]: "healthy" });
      clock = START_MS + 110_000;
      expect(await statusOf()).toMatchObject({ [AIRFLOW]: "unhealthy" });
    });

    it("filters by project, domain and category, and by health", async () => {
      const ids = async (request: Partial<ListRequest>) =>
        (await list(request)).map((a) => a.adapterId);
      expect(await ids({ category: "cache" })).toEqual([REDIS, MEMCACHED]);
      expect(await ids({ domain: "service" })).toEqual([ETCD]);
      expect(await ids({ project: "elsewhere" })).toEqual([]);
      expect(await ids({ category: "storage", healthyOnly: true })).toEqual([S3, GCS]);
      clock = START_MS + 60_000;
      expect(await ids({ category: "cache", healthyOnly: true })).toEqual([MEMCACHED]);
    });

    it("gets one adapter, and answers NOT_FOUND naming an unknown id", async () => {
      expect((await get(FILE))?.healthStatus).toBe("degraded");
      const error = (await get("no.such.adapter").catch((e: unknown) => e)) as ServiceError;
      expect(error.code).toBe(status.NOT_FOUND);
      expect(error.details).toContain('"no.such.adapter"');
    });

    it("answers HealthCheck from the registry's view", async () => {
      expect(await registryHealth(S3)).toEqual({
        healthy: true,
        status: "healthy",
        message: "adapter is healthy",
      });
      expect(await registryHealth(SQLITE)).toMatchObject({ healthy: false, status: "unhealthy" });
      expect(await registryHealth(FILE)).toMatchObject({ healthy: false, status: "degraded" });
      // The registry's claim, not the endpoint's truth.
      expect(await registryHealth(DAGSTER)).toMatchObject({ healthy: true, status: "healthy" });
      const error = (await registryHealth("ghost").catch((e: unknown) => e)) as ServiceError;
      expect(error.code).toBe(status.NOT_FOUND);
      expect(error.details).toContain('"ghost"');
    });

    it("records heartbeats and refuses unknown ids", async () => {
      clock = START_MS + 42_000;
      expect(await heartbeat(S3)).toEqual({
        registered: true,
      });
      expect((await get(S3))?.lastHeartbeat).toBe(START_SEC + 42);
      expect((await get(S3))?.registeredAt).toBe(START_SEC);
      expect((await get(GCS))?.lastHeartbeat).toBe(START_SEC);
      expect(await heartbeat("ghost")).toEqual({
        registered: false,
      });
    });

    it("registers and unregisters adapters in memory", async () => {
      clock = START_MS + 5_000;
      const registered = await register({
        adapterId: "",
        project: "mahavishnu",
        domain: "adapter",
        category: "storage",
        provider: "minio",
        capabilities: ["read"],
        factoryPath: "x:Y",
        healthCheckUrl: "",
        metadata: { k: "v" },
        registeredAt: 0,
        lastHeartbeat: 0,
        healthStatus: "unknown",
      });
      const minio = "mahavishnu.adapter.storage.minio";
      expect(registered).toEqual({ success: true, message: `registered ${minio}` });
      expect(await get(minio)).toMatchObject({
        adapterId: minio,
        capabilities: ["read"],
        metadata: { k: "v" },
        healthCheckUrl: "",
        registeredAt: START_SEC + 5,
        healthStatus: "healthy",
      });
      expect(await check(minio)).toBe(ServingStatus.SERVING);

      const empty = await register(undefined);
      expect(empty.success).toBe(false);

      expect(await unregister(minio)).toEqual({ success: true });
      expect(await unregister(minio)).toEqual({ success: false });
      expect((await get(minio).catch((e: ServiceError) => e)) as ServiceError).toMatchObject({
        code: status.NOT_FOUND,
      });
    });
  });

  describe("HTTP health endpoints", () => {
    it("answers 200 when up, 503 when down and 404 for unknown ids", async () => {
      expect(await httpStatus(S3)).toEqual({ code: 200, body: { status: "ok", adapter_id: S3 } });
      expect(await httpStatus(SQLITE)).toEqual({
        code: 503,
        body: { status: "down", adapter_id: SQLITE },
      });
      expect((await httpStatus("ghost")).code).toBe(404);
      // A registry that claims healthy does not make the endpoint answer.
      expect((await httpStatus(DAGSTER)).code).toBe(503);
    });

    it("is reachable at the advertised health_check_url", async () => {
      const url = (await get(S3))?.healthCheckUrl ?? "";
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
    });

    it("follows the clock through an outage and back", async () => {
      expect((await httpStatus(REDIS)).code).toBe(200);
      clock = START_MS + 45_000;
      expect((await httpStatus(REDIS)).code).toBe(503);
      clock = START_MS + 100_000;
      expect((await httpStatus(REDIS)).code).toBe(200);
    });

    it("delays slow adapters", async () => {
      const started = performance.now();
      expect((await httpStatus(FILE)).code).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    });

    it("decides intermittent failures per request", async () => {
      draws.push(0.1, 0.9, 0.49, 0.5);
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await httpStatus(MEMCACHED)).code);
      expect(codes).toEqual([503, 200, 503, 200]);
      expect(draws).toEqual([]);
    });

    it("follows a live override and its removal", async () => {
      sim.setBehaviour(S3, "down");
      expect((await httpStatus(S3)).code).toBe(503);
      expect((await get(S3))?.healthStatus).toBe("unhealthy");
      sim.setBehaviour(REDIS, "healthy");
      clock = START_MS + 50_000;
      // The override replaces the scripted outage too.
      expect((await httpStatus(REDIS)).code).toBe(200);
      sim.setBehaviour(S3, null);
      expect((await httpStatus(S3)).code).toBe(200);
      expect(() => sim.setBehaviour("ghost", "down")).toThrow(/ghost/);
      expect(() =>
        sim.setBehaviour(S3, { behaviour: { kind: "intermittent", failureProbability: 7 } }),
      ).toThrow(RangeError);
    });
  });

  describe("grpc.health.v1", () => {
    it("Check answers per adapter, and for the simulator itself", async () => {
      expect(await check("")).toBe(ServingStatus.SERVING);
      expect(await check(GCS)).toBe(ServingStatus.SERVING);
      expect(await check(DAGSTER)).toBe(ServingStatus.NOT_SERVING);
      const error = (await check("ghost").catch((e: unknown) => e)) as ServiceError;
      expect(error.code).toBe(status.NOT_FOUND);
      clock = START_MS + 15_000;
      expect(await check(AIRFLOW)).toBe(ServingStatus.NOT_SERVING);
    });

    it("Check delays slow adapters", async () => {
      const started = performance.now();
      expect(await check(FILE)).toBe(ServingStatus.SERVING);
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    });

    it("Watch sends the current status, then every change", async () => {
      const stream = collect(health.watch({ service: REDIS }));
      expect(await stream.nth(0)).toBe(ServingStatus.SERVING);
      clock = START_MS + 45_000;
      expect(await stream.nth(1)).toBe(ServingStatus.NOT_SERVING);
      sim.setBehaviour(REDIS, "healthy");
      expect(await stream.nth(2)).toBe(ServingStatus.SERVING);
      // No change, no message.
      clock += 1_000;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stream.received).toEqual([
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
        ServingStatus.SERVING,
      ]);
    });

    it("Watch follows a steady adapter given a changing behaviour, and back", async () => {
      // A healthy adapter is steady (not re-read on the timer) until its behaviour changes.
      const stream = collect(health.watch({ service: S3 }));
      expect(await stream.nth(0)).toBe(ServingStatus.SERVING);
      sim.setBehaviour(S3, "down");
      expect(await stream.nth(1)).toBe(ServingStatus.NOT_SERVING);
      // Now time-dependent: each half period of the clock is pushed.
      sim.setBehaviour(S3, { behaviour: { kind: "flapping", flapPeriodSec: 10 } });
      const afterOverride = await stream.nth(2);
      clock += 5_000;
      expect(await stream.nth(3)).not.toBe(afterOverride);
      clock += 5_000;
      expect(await stream.nth(4)).toBe(afterOverride);
    });

    it("Watch draws an intermittent adapter's status once per second, not per poll", async () => {
      draws.push(0.1);
      const stream = collect(health.watch({ service: MEMCACHED }));
      expect(await stream.nth(0)).toBe(ServingStatus.NOT_SERVING);
      // Several polls within the same second: no further draw (an unscripted one would throw).
      await new Promise((resolve) => setTimeout(resolve, 50));
      draws.push(0.9);
      clock += 1_000;
      expect(await stream.nth(1)).toBe(ServingStatus.SERVING);
      expect(draws).toEqual([]);
    });

    it("Watch reports an unknown service without failing, and its arrival", async () => {
      const stream = collect(health.watch({ service: "later.adapter.cache.x" }));
      expect(await stream.nth(0)).toBe(ServingStatus.SERVICE_UNKNOWN);
      await register({
        adapterId: "later.adapter.cache.x",
        project: "later",
        domain: "adapter",
        category: "cache",
        provider: "x",
        capabilities: [],
        factoryPath: "",
        healthCheckUrl: "",
        metadata: {},
        registeredAt: 0,
        lastHeartbeat: 0,
        healthStatus: "",
      });
      expect(await stream.nth(1)).toBe(ServingStatus.SERVING);
    });
  });

  describe("stop", () => {
    it("ends open Watch streams cleanly and closes both servers promptly", async () => {
      const stream = collect(health.watch({ service: S3 }));
      expect(await stream.nth(0)).toBe(ServingStatus.SERVING);
      // Checks still waiting out a long delay must not hold stop() up.
      sim.setBehaviour(FILE, { behaviour: { kind: "slow", slowMs: 10_000 } });
      const slowCheck = check(FILE).catch((e: ServiceError) => e);
      // Settled into a value at once, so its rejection is never briefly unhandled.
      const slowFetch = fetch(`http://127.0.0.1:${sim.httpPort}/health/${FILE}`).then(
        (response) => response.status,
        (error: unknown) => error,
      );
      // Calls on one connection are dispatched in order: once this answers, the slow check
      // is being delayed by the server.
      await get(S3);
      await new Promise((resolve) => setTimeout(resolve, 20));

      const started = performance.now();
      await sim.stop();
      expect(performance.now() - started).toBeLessThan(500);

      expect((await stream.end()).code).toBe(status.OK);
      expect(await slowCheck).toMatchObject({
        code: status.UNAVAILABLE,
        details: "simulator is stopping",
      });
      expect(await slowFetch).toBeInstanceOf(Error);
      await expect(fetch(`http://127.0.0.1:${sim.httpPort}/health/${S3}`)).rejects.toThrow();
      const after = (await check(S3).catch((e: unknown) => e)) as ServiceError;
      expect(after.code).toBe(status.UNAVAILABLE);
      // Stopping twice is harmless (afterEach stops again).
      await sim.stop();
    });
  });
});

describe("startSimulator listen addresses", () => {
  it("fails with the address when the port is taken, leaving nothing bound", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        startSimulator({ scenario: SCENARIO, listen: `127.0.0.1:${port}` }),
      ).rejects.toThrow(`simulated registry address 127.0.0.1:${port} is in use`);
      await expect(
        startSimulator({
          scenario: SCENARIO,
          listen: "127.0.0.1:0",
          httpListen: `127.0.0.1:${port}`,
        }),
      ).rejects.toThrow(`simulator HTTP address 127.0.0.1:${port} is in use`);
    } finally {
      blocker.close();
    }
  });

  it("rejects a malformed listen address", async () => {
    await expect(startSimulator({ scenario: SCENARIO, listen: "localhost" })).rejects.toThrow(
      /invalid listen address "localhost": expected HOST:PORT/,
    );
  });

  it("uses a separate HTTP address and an advertised host when given", async () => {
    const sim = await startSimulator({
      scenario: SCENARIO,
      listen: "127.0.0.1:0",
      httpListen: "127.0.0.1:0",
      advertiseHost: "sim.example",
    });
    try {
      const s3 = sim.adapters.find((a) => a.adapterId === S3);
      expect(s3?.healthCheckUrl).toBe(`http://sim.example:${sim.httpPort}/health/${S3}`);
      const gcs = sim.adapters.find((a) => a.adapterId === GCS);
      expect(gcs?.healthCheckUrl).toBe(`grpc://sim.example:${sim.registryPort}/${GCS}`);
    } finally {
      await sim.stop();
    }
  });
});
