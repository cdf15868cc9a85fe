import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type ClientReadableStream,
  credentials,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHealthdService } from "../src/api/grpc/healthd-service.js";
import { QueryService } from "../src/api/query-service.js";
import type { JournalEvent } from "../src/domain/events.js";
import { EventHub, type JournalSource } from "../src/events/event-hub.js";
import {
  HealthCheckRequest as GrpcHealthCheckRequest,
  type HealthCheckResponse as GrpcHealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from "../src/gen/grpc/health/v1/health.js";
import {
  type AdapterDetail,
  type Event,
  GetAdapterRequest,
  HealthdClient,
  HealthdService,
  ListAdaptersRequest,
  type ListAdaptersResponse,
  type Resolution,
  ResolveRequest,
  WatchEventsRequest,
} from "../src/gen/oneiric/healthd/v1/healthd.js";
import {
  AdapterRegistryClient,
  GetRequest,
  type GetResponse,
  HealthCheckRequest,
  type HealthCheckResponse,
  HeartbeatRequest,
  type HeartbeatResponse,
  ListRequest,
  type ListResponse,
} from "../src/gen/oneiric/registry/v1/registry.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import type { HealthStore } from "../src/storage/store.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");

const SCENARIO = `
project: g
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs, endpoint: grpc }
  - { category: storage, provider: file, behaviour: down }
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached, behaviour: down, registry_status: healthy }
  - { category: coordination, provider: etcd }
  - { project: other, category: memory, provider: chroma, endpoint: none }
`;

const S3 = "g.adapter.storage.s3";
const GCS = "g.adapter.storage.gcs";
const FILE = "g.adapter.storage.file";
const MEMCACHED = "g.adapter.cache.memcached";
const ETCD = "g.adapter.coordination.etcd";
const CHROMA = "other.adapter.memory.chroma";

/** Runs one callback-style unary call as a promise. */
function unary<Response>(
  invoke: (callback: (error: ServiceError | null, response: Response) => void) => unknown,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    invoke((error, response) => (error ? reject(error) : resolve(response)));
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A WatchEvents call with what it has received so far and how it ended. */
class Watch {
  readonly events: Event[] = [];
  ended: { code: number; details: string; metadata: Record<string, unknown> } | undefined;
  readonly call: ClientReadableStream<Event>;

  constructor(client: HealthdClient, since: number) {
    this.call = client.watchEvents(WatchEventsRequest.fromPartial({ since }));
    this.call.on("data", (event: Event) => this.events.push(event));
    this.call.on("status", (final) => {
      this.ended = {
        code: final.code,
        details: final.details,
        metadata: final.metadata.getMap(),
      };
    });
    // The status event carries the outcome; without a listener an error status would throw.
    this.call.on("error", () => {});
  }

  seqs(): number[] {
    return this.events.map((event) => event.seq);
  }
}

/** Finds a python3 that has grpcio and grpc_tools (Debian's python3-grpcio, python3-grpc-tools). */
async function findPython(): Promise<string | undefined> {
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter(
    (candidate): candidate is string => Boolean(candidate),
  );
  for (const candidate of candidates) {
    try {
      await run(candidate, ["-c", "import grpc, grpc_tools.protoc"], { timeout: 20_000 });
      return candidate;
    } catch {
      // Not this one (a pyenv or venv python without the Debian packages, say).
    }
  }
  return undefined;
}

describe("the daemon's gRPC services", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon | undefined;
  let healthd: HealthdClient;
  let registry: AdapterRegistryClient;
  const watches: Watch[] = [];

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db")),
      clock,
    );
    await daemon.checkAllNow();
    healthd = new HealthdClient(daemon.grpcAddress, credentials.createInsecure());
    registry = new AdapterRegistryClient(daemon.grpcAddress, credentials.createInsecure());
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.call.cancel();
    healthd.close();
    registry.close();
    await daemon?.stop();
    daemon = undefined;
    await simulator.stop();
    dir.remove();
  });

  function running(): RunningDaemon {
    if (!daemon) throw new Error("daemon not started");
    return daemon;
  }

  function watch(since: number): Watch {
    const opened = new Watch(healthd, since);
    watches.push(opened);
    return opened;
  }

  describe("oneiric.healthd.v1.Healthd", () => {
    it("lists adapters with the daemon's verdict, filtered", async () => {
      const all = await unary<ListAdaptersResponse>((cb) =>
        healthd.listAdapters(ListAdaptersRequest.fromPartial({}), cb),
      );
      expect(all.adapters.map((adapter) => adapter.adapterId)).toEqual(
        [S3, GCS, FILE, "g.adapter.cache.redis", MEMCACHED, ETCD, CHROMA].sort(),
      );
      expect(all.registry?.reachable).toBe(true);
      expect(all.registry?.lastSync).toMatch(/^\d{4}-\d\d-\d\dT/);

      const storage = await unary<ListAdaptersResponse>((cb) =>
        healthd.listAdapters(ListAdaptersRequest.fromPartial({ category: "storage" }), cb),
      );
      expect(storage.adapters.map((adapter) => adapter.adapterId)).toEqual([FILE, GCS, S3]);

      const unhealthy = await unary<ListAdaptersResponse>((cb) =>
        healthd.listAdapters(ListAdaptersRequest.fromPartial({ status: "unhealthy" }), cb),
      );
      expect(unhealthy.adapters.map((adapter) => adapter.adapterId)).toEqual([MEMCACHED, FILE]);
      const memcached = unhealthy.adapters.find((adapter) => adapter.adapterId === MEMCACHED);
      expect(memcached).toMatchObject({
        status: "unhealthy",
        registryStatus: "healthy",
        registryDisagrees: true,
        usable: false,
        source: "probe",
      });

      const healthyOthers = await unary<ListAdaptersResponse>((cb) =>
        healthd.listAdapters(
          ListAdaptersRequest.fromPartial({ project: "other", healthyOnly: true }),
          cb,
        ),
      );
      expect(healthyOthers.adapters.map((adapter) => adapter.adapterId)).toEqual([CHROMA]);
    });

    it("rejects an invalid status filter with INVALID_ARGUMENT naming the parameter", async () => {
      const answer = unary<ListAdaptersResponse>((cb) =>
        healthd.listAdapters(ListAdaptersRequest.fromPartial({ status: "fine" }), cb),
      );
      await expect(answer).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: `status must be one of "unknown", "healthy", "degraded", "unhealthy"; got "fine"`,
      });
      const error = (await answer.catch((caught: ServiceError) => caught)) as ServiceError;
      expect(error.metadata.get("error-code")).toEqual(["INVALID_PARAMETER"]);
      expect(error.metadata.get("parameter")).toEqual(["status"]);
    });

    it("gets one adapter in detail, and NOT_FOUND for an unknown id", async () => {
      const detail = await unary<AdapterDetail>((cb) =>
        healthd.getAdapter(GetAdapterRequest.fromPartial({ adapterId: MEMCACHED }), cb),
      );
      expect(detail).toMatchObject({
        adapterId: MEMCACHED,
        status: "unhealthy",
        breaker: "closed",
        flapping: false,
        usable: false,
        registryStatus: "healthy",
        registryDisagrees: true,
        consecutiveSuccesses: 0,
      });
      expect(detail.maintenance).toBeUndefined();
      expect(detail.factoryPath).not.toBe("");
      expect(detail.recentChecks.length).toBeGreaterThan(0);
      expect(detail.recentChecks[0]?.ok).toBe(false);

      await expect(
        unary<AdapterDetail>((cb) =>
          healthd.getAdapter(GetAdapterRequest.fromPartial({ adapterId: "nope" }), cb),
        ),
      ).rejects.toMatchObject({ code: status.NOT_FOUND, details: expect.stringContaining("nope") });
    });

    it("resolves a requirement to a choice with fallbacks and exclusions", async () => {
      const resolution = await unary<Resolution>((cb) =>
        healthd.resolve(
          ResolveRequest.fromPartial({ domain: "adapter", category: "storage", project: "g" }),
          cb,
        ),
      );
      const usable = [
        resolution.choice?.adapterId,
        ...resolution.fallbacks.map((c) => c.adapterId),
      ];
      expect(usable.sort()).toEqual([GCS, S3]);
      expect(resolution.excluded.map((candidate) => candidate.adapterId)).toEqual([FILE]);
      expect(resolution.excluded[0]?.excludedBecause).toMatch(/unhealthy/);
      expect(resolution.choice?.excludedBecause).toBe("");
      expect(resolution.panic).toBe(false);
      expect(resolution.reason).toContain(resolution.choice?.adapterId);
      expect(resolution.requirement).toEqual({
        domain: "adapter",
        category: "storage",
        provider: "",
        project: "g",
      });

      await expect(
        unary<Resolution>((cb) =>
          healthd.resolve(ResolveRequest.fromPartial({ domain: "adapter" }), cb),
        ),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining("category"),
      });
    });

    it("streams the journal from 0 in order, then a live change", async () => {
      const journal = running().readEvents(0, 10_000);
      expect(journal.length).toBeGreaterThan(7);
      const stream = watch(0);
      await waitFor(() => stream.events.length >= journal.length, "the existing events");
      expect(stream.seqs()).toEqual(journal.map((event) => event.seq));
      const first = stream.events[0];
      expect(first).toMatchObject({
        specversion: "1.0",
        source: "oneiric-healthd",
        type: `io.oneiric.healthd.${journal[0]?.type}`,
        subject: journal[0]?.subject,
        datacontenttype: "application/json",
      });
      expect(JSON.parse(first?.dataJson ?? "")).toEqual(journal[0]?.data);

      simulator.setBehaviour(ETCD, "down");
      for (let attempt = 0; attempt < 4; attempt++) await running().checkAllNow();
      await waitFor(
        () =>
          stream.events.some(
            (event) =>
              event.type === "io.oneiric.healthd.adapter.health_changed" && event.subject === ETCD,
          ),
        "the live health change",
      );
      const seqs = stream.seqs();
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(stream.ended).toBeUndefined();

      // Resuming from a seq delivers exactly what came after it.
      const middle = journal[3]?.seq ?? 0;
      const resumed = watch(middle);
      await waitFor(() => resumed.events.length >= seqs.length - 4, "the resumed events");
      expect(resumed.seqs()).toEqual(seqs.filter((seq) => seq > middle));
    });

    it("ends open streams cleanly when the daemon stops", async () => {
      const stream = watch(0);
      await waitFor(() => stream.events.length > 0, "the first events");
      await running().stop();
      daemon = undefined;
      await waitFor(() => stream.ended !== undefined, "the end of the stream");
      expect(stream.ended?.code).toBe(status.OK);
    });
  });

  describe("oneiric.registry.v1.AdapterRegistry, served from the daemon's verdicts", () => {
    it("lists adapters with health_status the daemon's verdict; healthy_only leaves out a down one the registry calls healthy", async () => {
      const all = await unary<ListResponse>((cb) =>
        registry.listAdapters(ListRequest.fromPartial({}), cb),
      );
      const memcached = all.adapters.find((entry) => entry.adapterId === MEMCACHED);
      expect(memcached).toMatchObject({
        project: "g",
        domain: "adapter",
        category: "cache",
        provider: "memcached",
        healthStatus: "unhealthy",
      });
      expect(memcached?.healthCheckUrl).toMatch(/^http:\/\//);
      expect(memcached?.registeredAt).toBeGreaterThan(0);

      const healthy = await unary<ListResponse>((cb) =>
        registry.listAdapters(ListRequest.fromPartial({ healthyOnly: true }), cb),
      );
      const ids = healthy.adapters.map((entry) => entry.adapterId);
      expect(ids).toEqual([CHROMA, "g.adapter.cache.redis", ETCD, GCS, S3].sort());
      expect(ids).not.toContain(MEMCACHED);
      expect(healthy.adapters.every((entry) => entry.healthStatus === "healthy")).toBe(true);

      const filtered = await unary<ListResponse>((cb) =>
        registry.listAdapters(
          ListRequest.fromPartial({ project: "g", domain: "adapter", category: "storage" }),
          cb,
        ),
      );
      expect(filtered.adapters.map((entry) => entry.adapterId)).toEqual([FILE, GCS, S3]);
    });

    it("answers HealthCheck with the daemon's verdict and GetAdapter like the registry", async () => {
      const down = await unary<HealthCheckResponse>((cb) =>
        registry.healthCheck(HealthCheckRequest.fromPartial({ adapterId: MEMCACHED }), cb),
      );
      expect(down.healthy).toBe(false);
      expect(down.status).toBe("unhealthy");
      expect(down.message).not.toBe("");
      const up = await unary<HealthCheckResponse>((cb) =>
        registry.healthCheck(HealthCheckRequest.fromPartial({ adapterId: S3 }), cb),
      );
      expect(up).toMatchObject({ healthy: true, status: "healthy" });

      const got = await unary<GetResponse>((cb) =>
        registry.getAdapter(GetRequest.fromPartial({ adapterId: S3 }), cb),
      );
      expect(got.adapter).toMatchObject({ adapterId: S3, healthStatus: "healthy" });

      for (const ask of [
        () =>
          unary<GetResponse>((cb) =>
            registry.getAdapter(GetRequest.fromPartial({ adapterId: "nope" }), cb),
          ),
        () =>
          unary<HealthCheckResponse>((cb) =>
            registry.healthCheck(HealthCheckRequest.fromPartial({ adapterId: "nope" }), cb),
          ),
      ]) {
        await expect(ask()).rejects.toMatchObject({ code: status.NOT_FOUND });
      }
    });

    it("refuses writes with UNIMPLEMENTED, pointing at the registry", async () => {
      await expect(
        unary<HeartbeatResponse>((cb) =>
          registry.heartbeat(HeartbeatRequest.fromPartial({ adapterId: S3 }), cb),
        ),
      ).rejects.toMatchObject({
        code: status.UNIMPLEMENTED,
        details: expect.stringMatching(/read-only.*registry/),
      });
    });

    it("serves an existing Python grpcio client generated from registry.proto", async () => {
      const python = await findPython();
      if (!python) {
        throw new Error(
          "no python3 with grpcio and grpc_tools: apt-get install python3-grpcio python3-grpc-tools",
        );
      }
      const { stdout } = await run(
        python,
        [
          join(ROOT, "test", "python", "registry_client.py"),
          running().grpcAddress,
          join(ROOT, "proto", "oneiric", "registry", "v1", "registry.proto"),
          "--check",
          MEMCACHED,
          "--check",
          S3,
        ],
        { timeout: 60_000 },
      );
      const answer = JSON.parse(stdout);
      expect(answer.adapters).toHaveLength(7);
      expect(
        answer.adapters.find((entry: { adapter_id: string }) => entry.adapter_id === MEMCACHED),
      ).toMatchObject({ health_status: "unhealthy", category: "cache", provider: "memcached" });
      expect(answer.healthy_only).not.toContain(MEMCACHED);
      expect(answer.healthy_only).toContain(S3);
      expect(answer.health_checks[MEMCACHED]).toMatchObject({
        healthy: false,
        status: "unhealthy",
      });
      expect(answer.health_checks[S3]).toMatchObject({ healthy: true, status: "healthy" });
      expect(answer.missing_health_check).toBe("NOT_FOUND");
    });
  });

  it("answers grpc.health.v1 SERVING for the server and the Healthd service", async () => {
    const client = new HealthClient(running().grpcAddress, credentials.createInsecure());
    try {
      for (const service of ["", "oneiric.healthd.v1.Healthd"]) {
        const answer = await unary<GrpcHealthCheckResponse>((cb) =>
          client.check(GrpcHealthCheckRequest.fromPartial({ service }), cb),
        );
        expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      }
    } finally {
      client.close();
    }
  });

  // grpcurl asks v1 and falls back to v1alpha; older tools know only v1alpha.
  it.each(["v1", "v1alpha"])(
    "lists its services and their files through server reflection (%s)",
    async (version) => {
      const definition = loadSync(`grpc/reflection/${version}/reflection.proto`, {
        includeDirs: [join(ROOT, "node_modules", "@grpc", "reflection", "build", "proto")],
        keepCase: true,
      });
      // biome-ignore lint/suspicious/noExplicitAny: a dynamic client loaded from the reflection proto
      const loaded = loadPackageDefinition(definition) as any;
      const client = new loaded.grpc.reflection[version].ServerReflection(
        running().grpcAddress,
        credentials.createInsecure(),
      );
      try {
        const call = client.ServerReflectionInfo();
        // biome-ignore lint/suspicious/noExplicitAny: reflection responses are read structurally
        const responses: any[] = [];
        call.on("data", (response: unknown) => responses.push(response));
        call.write({ list_services: "" });
        call.write({ file_containing_symbol: "oneiric.healthd.v1.Healthd" });
        call.end();
        await new Promise((resolve, reject) => {
          call.on("end", resolve);
          call.on("error", reject);
        });
        const services = responses[0]?.list_services_response?.service.map(
          (service: { name: string }) => service.name,
        );
        expect(services).toEqual(
          expect.arrayContaining([
            "oneiric.healthd.v1.Healthd",
            "oneiric.registry.v1.AdapterRegistry",
            "grpc.health.v1.Health",
          ]),
        );
        const files: Buffer[] = responses[1]?.file_descriptor_response?.file_descriptor_proto ?? [];
        expect(files.length).toBeGreaterThan(0);
        // protobufjs names the files it describes by package (oneiric_healthd_v1.proto), not by path.
        const described = Buffer.concat(files).toString("latin1");
        expect(described).toContain("oneiric.healthd.v1");
        expect(described).toContain("WatchEvents");
      } finally {
        client.close();
      }
    },
  );
});

/** A journal held in memory, so a test can commit thousands of events at once. */
class MemoryJournal implements JournalSource {
  readonly events: JournalEvent[] = [];
  private readonly listeners = new Set<(events: readonly JournalEvent[]) => void>();

  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    return this.events.filter((event) => event.seq > afterSeq).slice(0, limit);
  }

  onCommitted(listener: (events: readonly JournalEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  journalBounds(): { oldestSeq: number | null; newestSeq: number | null } {
    return {
      oldestSeq: this.events[0]?.seq ?? null,
      newestSeq: this.events[this.events.length - 1]?.seq ?? null,
    };
  }

  commit(count: number): void {
    const next = (this.events[this.events.length - 1]?.seq ?? 0) + 1;
    const batch = Array.from({ length: count }, (_, index) => ({
      seq: next + index,
      id: `event-${next + index}`,
      type: "adapter.updated" as const,
      subject: "m.adapter.cache.redis",
      time: Date.parse("2026-11-26T12:00:00Z"),
      // Padding, so a few hundred events fill HTTP/2 flow-control windows.
      data: { padding: "x".repeat(2000) },
    }));
    this.events.push(...batch);
    for (const listener of this.listeners) listener(batch);
  }

  prune(beforeSeq: number): void {
    while ((this.events[0]?.seq ?? Number.POSITIVE_INFINITY) < beforeSeq) this.events.shift();
  }
}

describe("WatchEvents flow control", () => {
  let journal: MemoryJournal;
  let hub: EventHub;
  let server: Server;
  let service: ReturnType<typeof createHealthdService>;
  let client: HealthdClient;
  const calls: ClientReadableStream<Event>[] = [];

  beforeEach(async () => {
    journal = new MemoryJournal();
    hub = new EventHub(journal);
    // As the engine does: each commit's events are published after they are journalled.
    journal.onCommitted((events) => hub.publish(events));
    // WatchEvents uses only the events page and the cursor error of the query service.
    const queries = new QueryService({
      hub,
      store: journal as unknown as HealthStore,
      now: Date.now,
      readiness: () => ({ ready: true }),
    } as unknown as ConstructorParameters<typeof QueryService>[0]);
    service = createHealthdService({ queries, hub, maxQueuedEvents: 50 });
    server = new Server();
    server.addService(HealthdService, service.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = new HealthdClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterEach(async () => {
    for (const call of calls.splice(0)) call.cancel();
    client.close();
    service.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    hub.close();
  });

  function open(since: number): Watch {
    const opened = new Watch(client, since);
    calls.push(opened.call);
    return opened;
  }

  it("paces a long catch-up to the client instead of cutting it off", async () => {
    journal.commit(5_000);
    const stream = open(0);
    await waitFor(() => stream.events.length === 5_000, "the catch-up", 15_000);
    journal.commit(3);
    await waitFor(() => stream.events.length === 5_003, "the live events");
    expect(stream.seqs()).toEqual(Array.from({ length: 5_003 }, (_, index) => index + 1));
    expect(stream.ended).toBeUndefined();
  });

  it("treats since 0 as the oldest kept event, and an older cursor as OUT_OF_RANGE", async () => {
    journal.commit(20);
    journal.prune(11);
    const fromOldest = open(0);
    await waitFor(() => fromOldest.events.length === 10, "the kept events");
    expect(fromOldest.seqs()[0]).toBe(11);

    const expired = open(5);
    await waitFor(() => expired.ended !== undefined, "the refusal");
    expect(expired.ended?.code).toBe(status.OUT_OF_RANGE);
    expect(expired.ended?.details).toContain("seq 11");
    expect(expired.ended?.metadata["oldest-seq"]).toBe("11");

    const negative = open(-1);
    await waitFor(() => negative.ended !== undefined, "the refusal of a negative cursor");
    expect(negative.ended?.code).toBe(status.INVALID_ARGUMENT);
    expect(negative.ended?.details).toContain("since");
  });

  it("cuts off a client that stops reading with RESOURCE_EXHAUSTED and where to resume", async () => {
    const stream = open(0);
    await waitFor(() => service.openStreams === 1, "the stream to open");
    stream.call.pause();
    for (let batch = 0; batch < 200 && stream.ended === undefined; batch++) {
      journal.commit(10);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(service.openStreams).toBe(0);
    // Reading again drains what was queued, then the status arrives.
    stream.call.resume();
    await waitFor(() => stream.ended !== undefined, "the status");
    expect(stream.ended?.code).toBe(status.RESOURCE_EXHAUSTED);
    const last = stream.events[stream.events.length - 1]?.seq ?? 0;
    expect(stream.ended?.details).toContain(`since=${last}`);
    expect(stream.ended?.metadata["resume-since"]).toBe(String(last));
    expect(stream.seqs()).toEqual(Array.from({ length: last }, (_, index) => index + 1));

    const resumed = open(last);
    const total = journal.events.length;
    await waitFor(() => resumed.events.length === total - last, "the rest");
    expect(resumed.seqs()[0]).toBe(last + 1);
  });
});
