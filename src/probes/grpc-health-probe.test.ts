import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import {
  type ChannelOptions,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  type HealthServer,
  HealthService,
} from "../gen/grpc/health/v1/health.js";
import { GrpcHealthProbe, parseGrpcTarget } from "./grpc-health-probe.js";

const { SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;

/** Serving status by service name; "slow" answers only after `slowMs`. */
const statuses = new Map<string, HealthCheckResponse_ServingStatus>([
  ["", SERVING],
  ["mahavishnu.Storage", SERVING],
  ["mahavishnu.Queue", NOT_SERVING],
  ["mahavishnu.Starting", UNKNOWN],
  ["mahavishnu.Gone", SERVICE_UNKNOWN],
  ["slow", SERVING],
]);
const slowMs = 2_000;

let server: Server;
let base: string;
/** `base` through a TCP proxy that counts the connections made to the server. */
let proxied: string;
let proxy: NetServer;
let connectionsSeen: number;
const proxySockets = new Set<Socket>();
let probe: GrpcHealthProbe;
let requested: string[];
/** Calls to "slow" being answered now, and the most there were at once. */
let inFlight: number;
let maxInFlight: number;
const pendingTimers = new Set<ReturnType<typeof setTimeout>>();

/** A tiny grpc.health.v1 Check implementation, answering like grpc-go's health server. */
function check(
  call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
  callback: sendUnaryData<HealthCheckResponse>,
): void {
  const service = call.request.service;
  requested.push(service);
  const known = statuses.get(service);
  if (known === undefined) {
    callback({ code: status.NOT_FOUND, details: "unknown service" });
    return;
  }
  if (service === "slow") {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      inFlight--;
      callback(null, { status: known });
    }, slowMs);
    pendingTimers.add(timer);
    return;
  }
  callback(null, { status: known });
}

async function startHealthServer(address: string, options: ChannelOptions = {}): Promise<Server> {
  const started = new Server(options);
  const implementation: HealthServer = { check, watch: (call) => call.end() };
  started.addService(HealthService, implementation);
  await new Promise<number>((resolve, reject) =>
    started.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return started;
}

function portOf(listening: NetServer): number {
  const address = listening.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

beforeEach(async () => {
  requested = [];
  inFlight = 0;
  maxInFlight = 0;
  // A known port rather than 0, so a test can bring the server back on the same one.
  const port = await closedPort();
  server = await startHealthServer(`127.0.0.1:${port}`);
  base = `grpc://127.0.0.1:${port}`;
  connectionsSeen = 0;
  proxy = createServer((client) => {
    connectionsSeen++;
    const upstream = connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      proxySockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => proxySockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxied = `grpc://127.0.0.1:${portOf(proxy)}`;
  probe = new GrpcHealthProbe();
});

afterEach(async () => {
  probe.close();
  for (const timer of pendingTimers) clearTimeout(timer);
  pendingTimers.clear();
  server.forceShutdown();
  for (const socket of proxySockets) socket.destroy();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

/** Waits for `condition` to hold, polling; generous, since the machine may be busy. */
async function until(
  condition: () => boolean | Promise<boolean>,
  withinMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  const address = spare.address();
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("GrpcHealthProbe", () => {
  it("reports SERVING as ok, asking for the service in the URL path", async () => {
    const result = await probe.check(`${base}/mahavishnu.Storage`, 2_000);
    expect(result).toMatchObject({ ok: true, detail: "SERVING" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requested).toEqual(["mahavishnu.Storage"]);
  });

  it("asks for the server's overall health when the URL has no path", async () => {
    expect(await probe.check(base, 2_000)).toMatchObject({ ok: true, detail: "SERVING" });
    expect(requested).toEqual([""]);
  });

  it("reports NOT_SERVING as not ok", async () => {
    expect(await probe.check(`${base}/mahavishnu.Queue`, 2_000)).toMatchObject({
      ok: false,
      detail: "NOT_SERVING",
    });
  });

  it("reports an UNKNOWN serving status as not ok", async () => {
    expect(await probe.check(`${base}/mahavishnu.Starting`, 2_000)).toMatchObject({
      ok: false,
      detail: "UNKNOWN",
    });
  });

  it("reports SERVICE_UNKNOWN as not ok", async () => {
    expect(await probe.check(`${base}/mahavishnu.Gone`, 2_000)).toMatchObject({
      ok: false,
      detail: "SERVICE_UNKNOWN",
    });
  });

  it("measures latency from when the request was written, and says when that was", async () => {
    const before = performance.now();
    const result = await probe.check(`${base}/mahavishnu.Storage`, 2_000);
    const after = performance.now();
    expect(result.writtenAt).toBeGreaterThanOrEqual(before);
    expect((result.writtenAt ?? 0) + result.latencyMs).toBeLessThanOrEqual(after);
  });

  it("reports an unknown service as not ok, naming the NOT_FOUND status and details", async () => {
    expect(await probe.check(`${base}/mahavishnu.Missing`, 2_000)).toMatchObject({
      ok: false,
      detail: "NOT_FOUND: unknown service",
    });
    expect(requested).toEqual(["mahavishnu.Missing"]);
  });

  it("gives up on a slow answer at the deadline, naming the timeout", async () => {
    const result = await probe.check(`${base}/slow`, 150);
    expect(result).toMatchObject({ ok: false, detail: "no answer within 150 ms" });
    expect(requested).toEqual(["slow"]);
  });

  it("reports a refused connection as not ok (UNAVAILABLE)", async () => {
    const port = await closedPort();
    const result = await probe.check(`grpc://127.0.0.1:${port}/svc`, 2_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^UNAVAILABLE: /);
  });

  describe("through a connection-counting TCP proxy", () => {
    it("reuses one channel (one connection) across checks of an address", async () => {
      for (const service of ["mahavishnu.Storage", "mahavishnu.Queue", "", "mahavishnu.Missing"]) {
        await probe.check(`${proxied}/${service}`, 2_000);
      }
      expect(requested).toEqual([
        "mahavishnu.Storage",
        "mahavishnu.Queue",
        "",
        "mahavishnu.Missing",
      ]);
      expect(connectionsSeen).toBe(1);
    });

    it("opens a new channel after close() and still works", async () => {
      expect(await probe.check(`${proxied}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
      probe.close();
      expect(await probe.check(`${proxied}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
      expect(connectionsSeen).toBe(2);
    });
  });

  it("answers many services at once over one connection", async () => {
    // Fewer than one connection's default 256 streams.
    const services = Array.from({ length: 250 }, (_, index) =>
      index % 3 === 0 ? "mahavishnu.Queue" : "mahavishnu.Storage",
    );
    const results = await Promise.all(
      services.map((service) => probe.check(`${proxied}/${service}`, 10_000)),
    );
    expect(results.map((result) => result.detail)).toEqual(
      services.map((service) => (service === "mahavishnu.Queue" ? "NOT_SERVING" : "SERVING")),
    );
    expect(connectionsSeen).toBe(1);
    expect([...probe.sessionCounts().values()]).toEqual([1]);
  });

  it("gives a check in flight a failed result when the probe is closed", async () => {
    const pending = probe.check(`${base}/slow`, 10_000);
    await until(() => requested.length === 1);
    probe.close();
    const result = await pending;
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^UNAVAILABLE: /);
  });

  it("reconnects to a server restarted on the same port", async () => {
    expect(await probe.check(`${base}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
    const port = Number(new URL(base).port);
    server.forceShutdown();
    const whileDown = await probe.check(`${base}/mahavishnu.Storage`, 2_000);
    expect(whileDown.ok).toBe(false);
    expect(whileDown.detail).toMatch(/^UNAVAILABLE: /);
    server = await startHealthServer(`127.0.0.1:${port}`);
    await until(async () => (await probe.check(`${base}/mahavishnu.Storage`, 2_000)).ok);
    expect(await probe.check(`${base}/mahavishnu.Queue`, 2_000)).toMatchObject({
      detail: "NOT_SERVING",
    });
  });

  describe("with stream limits", () => {
    it("opens another connection when every stream of the first is busy, up to the limit", async () => {
      const limited = new GrpcHealthProbe({ maxStreamsPerSession: 2, maxSessionsPerAddress: 3 });
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, () => limited.check(`${proxied}/slow`, 10_000)),
        );
        expect(results.every((result) => result.detail === "SERVING")).toBe(true);
        expect(connectionsSeen).toBe(3);
        expect(maxInFlight).toBe(6);
      } finally {
        limited.close();
      }
    });

    it("queues checks past the last connection's streams, and sends them as streams free up", {
      timeout: 60_000,
    }, async () => {
      const limited = new GrpcHealthProbe({ maxStreamsPerSession: 2, maxSessionsPerAddress: 1 });
      try {
        const results = await Promise.all(
          Array.from({ length: 5 }, () => limited.check(`${proxied}/slow`, 20_000)),
        );
        expect(results.every((result) => result.detail === "SERVING")).toBe(true);
        expect(connectionsSeen).toBe(1);
        expect(maxInFlight).toBe(2);
        // The wait for a stream is this process's, not the target's: not in the latency.
        const latencies = results.map((result) => result.latencyMs).sort((a, b) => a - b);
        expect(latencies.at(-1)).toBeLessThan(2 * slowMs);
      } finally {
        limited.close();
      }
    });

    it("names the local queue when a check never got a stream before its deadline", async () => {
      const limited = new GrpcHealthProbe({ maxStreamsPerSession: 1, maxSessionsPerAddress: 1 });
      try {
        const first = limited.check(`${base}/slow`, 10_000);
        const queued = await limited.check(`${base}/mahavishnu.Storage`, 200);
        expect(queued.ok).toBe(false);
        expect(queued.detail).toMatch(/^not sent within 200 ms: every stream to .* was busy$/);
        expect((await first).detail).toBe("SERVING");
      } finally {
        limited.close();
      }
    });

    it("keeps to fewer streams when the server allows fewer", { timeout: 60_000 }, async () => {
      server.forceShutdown();
      server = await startHealthServer(`127.0.0.1:${new URL(base).port}`, {
        "grpc.max_concurrent_streams": 3,
      });
      const limited = new GrpcHealthProbe({ maxSessionsPerAddress: 1 });
      try {
        // The first answer brings the server's SETTINGS.
        expect(await limited.check(`${base}/mahavishnu.Storage`, 5_000)).toMatchObject({
          ok: true,
        });
        const results = await Promise.all(
          Array.from({ length: 7 }, () => limited.check(`${base}/slow`, 20_000)),
        );
        expect(results.every((result) => result.detail === "SERVING")).toBe(true);
        expect(maxInFlight).toBe(3);
      } finally {
        limited.close();
      }
    });

    it("rejects limits that are not positive integers, naming them", () => {
      expect(() => new GrpcHealthProbe({ maxStreamsPerSession: 0 })).toThrow(
        "maxStreamsPerSession must be a positive integer, got 0",
      );
      expect(() => new GrpcHealthProbe({ maxSessionsPerAddress: 1.5 })).toThrow(
        "maxSessionsPerAddress must be a positive integer, got 1.5",
      );
    });
  });

  it("resolves with the problem for a target it cannot parse", async () => {
    expect(await probe.check("grpc://adapter.internal/svc", 100)).toEqual({
      ok: false,
      latencyMs: 0,
      detail: "grpc target needs host and port",
    });
    expect(await probe.check(`${base}/%zz`, 100)).toMatchObject({
      ok: false,
      detail: "service name in grpc target is not valid percent-encoding",
    });
    expect(requested).toEqual([]);
  });
});

describe("parseGrpcTarget", () => {
  it.each([
    [
      "grpc://adapter.internal:50051/mahavishnu.Storage",
      "adapter.internal:50051",
      false,
      "mahavishnu.Storage",
    ],
    ["grpcs://adapter.internal:443/a.b.C", "adapter.internal:443", true, "a.b.C"],
    ["grpc://adapter.internal:50051", "adapter.internal:50051", false, ""],
    ["grpc://adapter.internal:50051/", "adapter.internal:50051", false, ""],
    ["grpc://[::1]:50051/svc", "[::1]:50051", false, "svc"],
    ["grpc://h:1/my%20svc", "h:1", false, "my svc"],
    ["grpc://h:1/svc?x=1#frag", "h:1", false, "svc"],
  ])("parses %s", (target, address, secure, service) => {
    expect(parseGrpcTarget(target)).toEqual({ address, secure, service });
  });

  it.each([
    ["not a url", "invalid URL"],
    ["http://adapter.internal:8080/health", "not a grpc:// URL"],
    ["grpc://adapter.internal/svc", "grpc target needs host and port"],
    ["grpc://h:1/%zz", "service name in grpc target is not valid percent-encoding"],
  ])("rejects %s: %s", (target, problem) => {
    expect(parseGrpcTarget(target)).toBe(problem);
  });
});
