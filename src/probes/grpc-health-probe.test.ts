import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import {
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

const { SERVING, NOT_SERVING, UNKNOWN } = HealthCheckResponse_ServingStatus;

/** Serving status by service name; "slow" answers only after `slowMs`. */
const statuses = new Map<string, HealthCheckResponse_ServingStatus>([
  ["", SERVING],
  ["mahavishnu.Storage", SERVING],
  ["mahavishnu.Queue", NOT_SERVING],
  ["mahavishnu.Starting", UNKNOWN],
  ["slow", SERVING],
]);
const slowMs = 2_000;

let server: Server;
let base: string;
let probe: GrpcHealthProbe;
let requested: string[];
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
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      callback(null, { status: known });
    }, slowMs);
    pendingTimers.add(timer);
    return;
  }
  callback(null, { status: known });
}

beforeEach(async () => {
  requested = [];
  server = new Server();
  const implementation: HealthServer = { check, watch: (call) => call.end() };
  server.addService(HealthService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  base = `grpc://127.0.0.1:${port}`;
  probe = new GrpcHealthProbe();
});

afterEach(() => {
  probe.close();
  for (const timer of pendingTimers) clearTimeout(timer);
  pendingTimers.clear();
  server.forceShutdown();
});

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
    let proxy: NetServer;
    let proxied: string;
    let connections: number;
    const sockets = new Set<Socket>();

    beforeEach(async () => {
      connections = 0;
      const upstreamPort = Number(new URL(base).port);
      proxy = createServer((client) => {
        connections++;
        const upstream = connect(upstreamPort, "127.0.0.1");
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("error", () => socket.destroy());
          socket.on("close", () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const address = proxy.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      proxied = `grpc://127.0.0.1:${address.port}`;
    });

    afterEach(async () => {
      probe.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    });

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
      expect(connections).toBe(1);
    });

    it("opens a new channel after close() and still works", async () => {
      expect(await probe.check(`${proxied}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
      probe.close();
      expect(await probe.check(`${proxied}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
      expect(connections).toBe(2);
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
