import { mkdtempSync, rmSync } from "node:fs";
import http2, {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Stream,
} from "node:http2";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChannelOptions,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type GeneratedCertificates,
  generateCertificates,
} from "../../test/support/certificates.js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  type HealthServer,
  HealthService,
} from "../gen/grpc/health/v1/health.js";
import { GrpcHealthProbe, parseGrpcTarget, parseGrpcTargetAsUrl } from "./grpc-health-probe.js";

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

  it("takes its shortcut only where URL parsing means the same", () => {
    const from = (chars: string, maxLength: number) =>
      fc.string({ unit: fc.constantFrom(...chars), maxLength });
    const target = fc
      .tuple(
        fc.constantFrom("grpc://", "grpcs://", "GRPC://", "http://"),
        from("aZ09-.", 12),
        fc.constantFrom(":", ""),
        from("0123456789", 6),
        fc.constantFrom("", "/"),
        from("aZ09_.-%/ ?#", 12),
      )
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(target, (text) => {
        expect(parseGrpcTarget(text)).toEqual(parseGrpcTargetAsUrl(text));
      }),
      { numRuns: 2_000 },
    );
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

describe("GrpcHealthProbe against servers that misbehave", () => {
  let http2Server: Http2Server | undefined;
  let rawServer: NetServer | undefined;
  const rawSockets = new Set<Socket>();

  afterEach(async () => {
    // The servers wait for the probe's connections to end before they close.
    probe.close();
    for (const socket of rawSockets) socket.destroy();
    rawSockets.clear();
    if (http2Server) await new Promise<void>((resolve) => http2Server?.close(() => resolve()));
    if (rawServer) await new Promise<void>((resolve) => rawServer?.close(() => resolve()));
    http2Server = undefined;
    rawServer = undefined;
  });

  /** A plaintext HTTP/2 server whose every stream `answer` handles; its `grpc://` base. */
  async function http2Answering(answer: (stream: ServerHttp2Stream) => void): Promise<string> {
    http2Server = createHttp2Server();
    http2Server.on("stream", (stream) => {
      stream.on("error", () => {});
      answer(stream);
    });
    http2Server.on("session", (session) => session.on("error", () => {}));
    await new Promise<void>((resolve) => http2Server?.listen(0, "127.0.0.1", resolve));
    return `grpc://127.0.0.1:${portOf(http2Server as unknown as NetServer)}`;
  }

  /** A TCP server that does `onConnection` with each socket; its `grpc://` base. */
  async function tcpAnswering(onConnection: (socket: Socket) => void): Promise<string> {
    rawServer = createServer((socket) => {
      rawSockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => rawSockets.delete(socket));
      onConnection(socket);
    });
    await new Promise<void>((resolve) => rawServer?.listen(0, "127.0.0.1", resolve));
    return `grpc://127.0.0.1:${portOf(rawServer)}`;
  }

  it("gives up at the deadline on a server that takes the call and never answers", async () => {
    const silent = await http2Answering(() => {});
    const result = await probe.check(`${silent}/svc`, 150);
    expect(result).toMatchObject({ ok: false, detail: "no answer within 150 ms" });
  });

  it("gives up at the deadline on a peer that accepts the connection and says nothing", async () => {
    const mute = await tcpAnswering(() => {});
    expect(await probe.check(`${mute}/svc`, 150)).toMatchObject({
      ok: false,
      detail: "no answer within 150 ms",
    });
  });

  it("reports a non-gRPC HTTP/2 answer clearly", async () => {
    const web = await http2Answering((stream) => {
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html>hello</html>");
    });
    expect(await probe.check(`${web}/svc`, 2_000)).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      writtenAt: expect.any(Number),
      detail: 'UNKNOWN: not a gRPC answer (HTTP 200, content-type "text/html")',
    });
  });

  it("maps an HTTP error status as gRPC does", async () => {
    const missing = await http2Answering((stream) => {
      stream.respond({ ":status": 404 }, { endStream: true });
    });
    expect(await probe.check(`${missing}/svc`, 2_000)).toMatchObject({
      ok: false,
      detail: "UNIMPLEMENTED: Received HTTP status code 404",
    });
  });

  it("reads the status of a trailers-only answer and decodes its message", async () => {
    const refusing = await http2Answering((stream) => {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "7",
          "grpc-message": "not%20for%20you",
        },
        { endStream: true },
      );
    });
    expect(await probe.check(`${refusing}/svc`, 2_000)).toMatchObject({
      ok: false,
      detail: "PERMISSION_DENIED: not for you",
    });
  });

  it.each([
    ["a body shorter than its prefix says", Buffer.from([0, 0, 0, 0, 9, 0x08])],
    ["a compressed message", Buffer.from([1, 0, 0, 0, 2, 0x08, 0x01])],
    ["a truncated field", Buffer.from([0, 0, 0, 0, 1, 0x08])],
    ["no message at all", Buffer.alloc(0)],
  ])("reports an OK answer with %s as a failure, not a crash", async (_what, body) => {
    const garbled = await http2Answering((stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc" },
        { waitForTrailers: true },
      );
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(body);
    });
    const result = await probe.check(`${garbled}/svc`, 2_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^INTERNAL: /);
  });

  it("reports a server that resets the stream without a status", async () => {
    const cutting = await http2Answering((stream) => {
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    expect(await probe.check(`${cutting}/svc`, 2_000)).toMatchObject({
      ok: false,
      detail: "INTERNAL: Received RST_STREAM with code 2",
    });
  });

  it("reports an answer that ends without a status", async () => {
    const unfinished = await http2Answering((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
    });
    expect(await probe.check(`${unfinished}/svc`, 2_000)).toMatchObject({
      ok: false,
      detail: "INTERNAL: Call ended without gRPC status",
    });
  });

  it("stops reading an answer far too big for a health answer", async () => {
    const flood = await http2Answering((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.end(Buffer.alloc(200 * 1024));
    });
    expect(await probe.check(`${flood}/svc`, 5_000)).toMatchObject({
      ok: false,
      detail: "RESOURCE_EXHAUSTED: answer over 65536 bytes",
    });
  });

  it("reports a peer that does not speak HTTP/2 as UNAVAILABLE", async () => {
    const http1 = await tcpAnswering((socket) => {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    });
    const result = await probe.check(`${http1}/svc`, 2_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^UNAVAILABLE: /);
  });

  it("replaces a connection that went silent, once a timed-out check finds it dead", {
    timeout: 60_000,
  }, async () => {
    // A proxy that can stop forwarding while keeping its connections open, as a dropped
    // network path does.
    let frozen = false;
    let opened = 0;
    const upstreamPort = Number(new URL(base).port);
    const stalling = await tcpAnswering((client) => {
      opened++;
      const upstream = connect(upstreamPort, "127.0.0.1");
      rawSockets.add(upstream);
      upstream.on("error", () => client.destroy());
      client.on("data", (chunk) => {
        if (!frozen) upstream.write(chunk);
      });
      upstream.on("data", (chunk) => {
        if (!frozen) client.write(chunk);
      });
      client.on("close", () => upstream.destroy());
    });
    expect(await probe.check(`${stalling}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
    frozen = true;
    expect(await probe.check(`${stalling}/mahavishnu.Storage`, 200)).toMatchObject({
      ok: false,
      detail: "no answer within 200 ms",
    });
    // A PING on the silent connection goes unanswered; the connection is dropped.
    await until(
      () => probe.sessionCounts().get(`127.0.0.1:${portOf(rawServer as NetServer)}`) === 0,
    );
    frozen = false;
    expect(await probe.check(`${stalling}/mahavishnu.Storage`, 2_000)).toMatchObject({ ok: true });
    expect(opened).toBe(2);
  });
});

describe("GrpcHealthProbe over TLS (grpcs://)", () => {
  let certDir: string;
  let certs: GeneratedCertificates;
  let tlsServer: Server;
  let tlsPort: number;

  beforeAll(() => {
    certDir = mkdtempSync(join(tmpdir(), "grpc-probe-tls-"));
    certs = generateCertificates(certDir);
  });

  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  beforeEach(async () => {
    tlsServer = new Server();
    const implementation: HealthServer = { check, watch: (call) => call.end() };
    tlsServer.addService(HealthService, implementation);
    const credentials = ServerCredentials.createSsl(null, [
      { cert_chain: certs.read(certs.serverCert), private_key: certs.read(certs.serverKey) },
    ]);
    tlsPort = await new Promise<number>((resolve, reject) =>
      tlsServer.bindAsync("127.0.0.1:0", credentials, (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  });

  afterEach(() => tlsServer.forceShutdown());

  it("checks over TLS, verifying the server's certificate by host name or IP address", async () => {
    const trusting = new GrpcHealthProbe({ tls: { ca: certs.read(certs.caCert) } });
    try {
      for (const host of ["localhost", "127.0.0.1"]) {
        expect(
          await trusting.check(`grpcs://${host}:${tlsPort}/mahavishnu.Storage`, 5_000),
        ).toMatchObject({ ok: true, detail: "SERVING" });
      }
      expect(
        await trusting.check(`grpcs://localhost:${tlsPort}/mahavishnu.Queue`, 5_000),
      ).toMatchObject({ ok: false, detail: "NOT_SERVING" });
    } finally {
      trusting.close();
    }
  });

  it("refuses a server whose certificate Node's CA store does not trust", async () => {
    const result = await probe.check(`grpcs://localhost:${tlsPort}/mahavishnu.Storage`, 5_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^UNAVAILABLE: .*(self-signed|unable to verify|certificate)/i);
  });

  it("fails a plaintext check of a TLS server, without crashing", async () => {
    const result = await probe.check(`grpc://127.0.0.1:${tlsPort}/mahavishnu.Storage`, 2_000);
    expect(result.ok).toBe(false);
  });
});
