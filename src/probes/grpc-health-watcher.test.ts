import { spawn } from "node:child_process";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import {
  Server,
  ServerCredentials,
  type ServerWritableStream,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  type HealthServer,
  HealthService,
} from "../gen/grpc/health/v1/health.js";
import { GrpcHealthWatcher, type WatchUpdate } from "./grpc-health-watcher.js";

const { SERVING, NOT_SERVING } = HealthCheckResponse_ServingStatus;

type WatchCall = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/**
 * A tiny grpc.health.v1 service whose statuses the test flips. Watch behaves like
 * grpc-go's health server: the current status at once, then every change; an unknown
 * service is reported as SERVICE_UNKNOWN rather than failed.
 */
class FlippableHealth {
  readonly statuses = new Map<string, HealthCheckResponse_ServingStatus>();
  /** Open Watch streams, server side. */
  readonly streams = new Set<WatchCall>();
  /** Every Watch call received, by service name. */
  readonly watchCalls: string[] = [];

  readonly implementation: HealthServer = {
    check: (call, callback) => {
      const known = this.statuses.get(call.request.service);
      if (known === undefined) callback({ code: status.NOT_FOUND, details: "unknown service" });
      else callback(null, { status: known });
    },
    watch: (call) => {
      this.watchCalls.push(call.request.service);
      this.streams.add(call);
      call.on("cancelled", () => this.streams.delete(call));
      call.write({ status: this.current(call.request.service) });
    },
  };

  set(service: string, next: HealthCheckResponse_ServingStatus): void {
    this.statuses.set(service, next);
    for (const call of this.streams) {
      if (call.request.service === service) call.write({ status: next });
    }
  }

  private current(service: string): HealthCheckResponse_ServingStatus {
    return this.statuses.get(service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
  }
}

async function startServer(
  implementation: Partial<HealthServer>,
  port = 0,
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  // A method left out of `implementation` is answered UNIMPLEMENTED by grpc-js itself, as
  // by a server built without it; the cast only drops Partial's `| undefined`.
  server.addService(HealthService, implementation as UntypedServiceImplementation);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, actual) =>
      error ? reject(error) : resolve(actual),
    ),
  );
  return { server, port: bound };
}

/** A bare HTTP/2 server whose answers the test writes by hand; remembers each request's headers. */
async function startRawServer(
  answer: (stream: ServerHttp2Stream) => void,
): Promise<{ port: number; requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = [];
  const raw = createHttp2Server();
  raw.on("stream", (stream, headers) => {
    requests.push(headers);
    stream.on("error", () => {});
    answer(stream);
  });
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  rawServers.push(raw);
  const address = raw.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, requests };
}

/** One uncompressed gRPC message around `payload`. */
function grpcMessage(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

/** Polls `condition` every 5 ms for up to `withinMs`. */
async function eventually(condition: () => boolean, withinMs = 3_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

const fastReconnect = { reconnectDelayMs: { initial: 10, max: 50 } };

let health: FlippableHealth;
let server: Server;
let base: string;
let updates: WatchUpdate[];
let watcher: GrpcHealthWatcher;
const extraServers: Server[] = [];
const rawServers: Http2Server[] = [];

beforeEach(async () => {
  health = new FlippableHealth();
  health.statuses.set("adapter.Storage", SERVING);
  health.statuses.set("adapter.Queue", SERVING);
  const started = await startServer(health.implementation);
  server = started.server;
  base = `grpc://127.0.0.1:${started.port}`;
  updates = [];
  watcher = new GrpcHealthWatcher((update) => updates.push(update), fastReconnect);
});

afterEach(() => {
  watcher.close();
  server.forceShutdown();
  for (const extra of extraServers.splice(0)) extra.forceShutdown();
  for (const raw of rawServers.splice(0)) raw.close();
});

describe("GrpcHealthWatcher", () => {
  it("pushes the initial status, stamped with the watcher's clock", async () => {
    watcher.close();
    watcher = new GrpcHealthWatcher((update) => updates.push(update), {
      ...fastReconnect,
      now: () => 1_234,
    });
    const target = `${base}/adapter.Storage`;
    expect(watcher.supported(target)).toBeUndefined();
    watcher.watch(target);
    await eventually(() => updates.length === 1);
    expect(updates).toEqual([{ target, serving: true, status: "SERVING", at: 1_234 }]);
    expect(watcher.supported(target)).toBe(true);
    expect(health.watchCalls).toEqual(["adapter.Storage"]);
  });

  it("stamps updates with Date.now() by default", async () => {
    const before = Date.now();
    watcher.watch(`${base}/adapter.Storage`);
    await eventually(() => updates.length === 1);
    expect(updates[0]?.at).toBeGreaterThanOrEqual(before);
    expect(updates[0]?.at).toBeLessThanOrEqual(Date.now());
  });

  it("pushes a flip as soon as the server sends it", async () => {
    const target = `${base}/adapter.Storage`;
    watcher.watch(target);
    await eventually(() => updates.length === 1);
    const flippedAt = performance.now();
    health.set("adapter.Storage", NOT_SERVING);
    await eventually(() => updates.length === 2, 1_000);
    expect(performance.now() - flippedAt).toBeLessThan(1_000);
    health.set("adapter.Storage", SERVING);
    await eventually(() => updates.length === 3, 1_000);
    expect(updates.map(({ serving, status }) => ({ serving, status }))).toEqual([
      { serving: true, status: "SERVING" },
      { serving: false, status: "NOT_SERVING" },
      { serving: true, status: "SERVING" },
    ]);
    expect(updates.every((update) => update.target === target)).toBe(true);
  });

  it("reports the server's overall health for a target without a service", async () => {
    health.statuses.set("", NOT_SERVING);
    watcher.watch(base);
    await eventually(() => updates.length === 1);
    expect(updates[0]).toMatchObject({ target: base, serving: false, status: "NOT_SERVING" });
    expect(health.watchCalls).toEqual([""]);
  });

  it("passes on SERVICE_UNKNOWN as not serving", async () => {
    watcher.watch(`${base}/adapter.Missing`);
    await eventually(() => updates.length === 1);
    expect(updates[0]).toMatchObject({ serving: false, status: "SERVICE_UNKNOWN" });
    expect(watcher.supported(`${base}/adapter.Missing`)).toBe(true);
  });

  it("reports a serving status it does not know as UNKNOWN", async () => {
    health.statuses.set("adapter.Future", 7 as HealthCheckResponse_ServingStatus);
    watcher.watch(`${base}/adapter.Future`);
    await eventually(() => updates.length === 1);
    expect(updates[0]).toMatchObject({ serving: false, status: "UNKNOWN" });
  });

  it("opens one stream per target however often it is watched", async () => {
    const target = `${base}/adapter.Storage`;
    watcher.watch(target);
    watcher.watch(target);
    await eventually(() => updates.length === 1);
    watcher.watch(target);
    health.set("adapter.Storage", NOT_SERVING);
    await eventually(() => updates.length === 2);
    expect(health.watchCalls).toEqual(["adapter.Storage"]);
    expect(health.streams.size).toBe(1);
  });

  it("shares one connection between the targets of an address", async () => {
    watcher.watch(`${base}/adapter.Storage`);
    watcher.watch(`${base}/adapter.Queue`);
    await eventually(() => updates.length === 2);
    const peers = new Set([...health.streams].map((call) => call.getPeer()));
    expect(health.streams.size).toBe(2);
    expect(peers.size).toBe(1);
  });

  it("stops pushing a target once unwatched, and forgets it", async () => {
    const storage = `${base}/adapter.Storage`;
    const queue = `${base}/adapter.Queue`;
    watcher.watch(storage);
    watcher.watch(queue);
    await eventually(() => updates.length === 2);
    watcher.unwatch(storage);
    // The server sees the stream cancelled: nothing more can reach the watcher on it.
    await eventually(() => health.streams.size === 1);
    expect([...health.streams].map((call) => call.request.service)).toEqual(["adapter.Queue"]);
    expect(watcher.supported(storage)).toBeUndefined();
    health.set("adapter.Storage", NOT_SERVING);
    health.set("adapter.Queue", NOT_SERVING);
    await eventually(() => updates.length === 3);
    expect(updates[2]).toMatchObject({ target: queue, status: "NOT_SERVING" });
    expect(updates.filter((update) => update.target === storage)).toHaveLength(1);
    // Unwatching an unknown target is harmless; watching again opens a fresh stream.
    watcher.unwatch(`${base}/adapter.Never`);
    watcher.watch(storage);
    await eventually(() => updates.length === 4);
    expect(updates[3]).toMatchObject({ target: storage, status: "NOT_SERVING" });
  });

  it("gives up on a server without Watch, saying it is not supported", async () => {
    let checks = 0;
    const checkOnly = await startServer({
      check: (_call, callback) => {
        checks++;
        callback(null, { status: SERVING });
      },
    });
    extraServers.push(checkOnly.server);
    const target = `grpc://127.0.0.1:${checkOnly.port}/adapter.Storage`;
    watcher.watch(target);
    await eventually(() => watcher.supported(target) === false);
    expect(updates).toEqual([]);
    expect(checks).toBe(0);
    // It does not ask again: several reconnect delays (5-50 ms) pass without another
    // attempt. grpc-js answers an unimplemented method without calling into the service,
    // so attempts are counted on a raw HTTP/2 server that answers the same way.
    const unimplemented = await startRawServer((stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "12" },
        {
          endStream: true,
        },
      );
    });
    const counted = `grpc://127.0.0.1:${unimplemented.port}/adapter.Storage`;
    watcher.watch(counted);
    await eventually(() => watcher.supported(counted) === false);
    await pause(150);
    expect(unimplemented.requests).toHaveLength(1);
    expect(unimplemented.requests[0]).toMatchObject({
      ":path": "/grpc.health.v1.Health/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    // watch() again is a no-op while given up; unwatch() then watch() asks afresh.
    watcher.watch(target);
    expect(watcher.supported(target)).toBe(false);
    watcher.unwatch(target);
    expect(watcher.supported(target)).toBeUndefined();
    watcher.watch(target);
    await eventually(() => watcher.supported(target) === false);
  });

  it("takes a non-gRPC 404 as no Watch, and other non-gRPC answers as worth retrying", async () => {
    const notFound = await startRawServer((stream) => {
      stream.respond({ ":status": 404, "content-type": "text/html" });
      stream.end("<h1>not found</h1>");
    });
    const missing = `grpc://127.0.0.1:${notFound.port}/adapter.Storage`;
    watcher.watch(missing);
    await eventually(() => watcher.supported(missing) === false);
    const failing = await startRawServer((stream) => {
      stream.respond({ ":status": 502, "content-type": "text/plain" });
      stream.end("bad gateway");
    });
    const flaky = `grpc://127.0.0.1:${failing.port}/adapter.Storage`;
    watcher.watch(flaky);
    await eventually(() => failing.requests.length >= 3);
    expect(watcher.supported(flaky)).toBeUndefined();
    expect(updates).toEqual([]);
  });

  it("reads statuses however the server frames them, and drops a stream that sends garbage", async () => {
    const serving = grpcMessage(Buffer.from([0x08, 0x01]));
    const notServing = grpcMessage(Buffer.from([0x08, 0x02]));
    let attempt = 0;
    const raw = await startRawServer((stream) => {
      attempt++;
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      if (attempt === 1) {
        // Two messages in one DATA frame, then one split across two, then a compressed one.
        stream.write(Buffer.concat([serving, notServing]));
        stream.write(serving.subarray(0, 3));
        setTimeout(() => {
          stream.write(serving.subarray(3));
          setTimeout(() => stream.write(Buffer.from([1, 0, 0, 0, 2, 0x08, 0x01])), 20);
        }, 20);
      } else {
        stream.write(notServing);
      }
    });
    const target = `grpc://127.0.0.1:${raw.port}/adapter.Storage`;
    watcher.watch(target);
    await eventually(() => updates.length === 4);
    expect(updates.map(({ status }) => status)).toEqual([
      "SERVING",
      "NOT_SERVING",
      "SERVING",
      // the compressed message was not read as a status: the stream was re-opened
      "NOT_SERVING",
    ]);
    expect(attempt).toBe(2);
  });

  it("moves streams to another connection when the server allows fewer than were opened", async () => {
    const limited = new FlippableHealth();
    const small = new Server({ "grpc.max_concurrent_streams": 2 });
    small.addService(HealthService, limited.implementation as UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      small.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, actual) =>
        error ? reject(error) : resolve(actual),
      ),
    );
    extraServers.push(small);
    const services = ["a", "b", "c", "d", "e"];
    for (const service of services) limited.statuses.set(service, SERVING);
    // All five are asked for before the server's SETTINGS can arrive.
    for (const service of services) watcher.watch(`grpc://127.0.0.1:${port}/${service}`);
    await eventually(() => updates.length === 5);
    expect(new Set(updates.map((update) => update.target)).size).toBe(5);
    expect(watcher.sessionCounts().get(`127.0.0.1:${port}`)).toBe(3);
    limited.set("e", NOT_SERVING);
    await eventually(() => updates.length === 6);
  });

  it("re-opens a stream the server ends, without reporting the end as a status", async () => {
    const ended: string[] = [];
    const ending = await startServer({
      watch: (call) => {
        ended.push(call.request.service);
        if (ended.length === 1) call.end();
        else if (ended.length === 2) call.emit("error", { code: status.INTERNAL, details: "boom" });
        else call.write({ status: NOT_SERVING });
      },
    });
    extraServers.push(ending.server);
    const target = `grpc://127.0.0.1:${ending.port}/adapter.Storage`;
    watcher.watch(target);
    await eventually(() => updates.length === 1);
    expect(ended).toEqual(["adapter.Storage", "adapter.Storage", "adapter.Storage"]);
    expect(updates).toEqual([
      expect.objectContaining({ target, serving: false, status: "NOT_SERVING" }),
    ]);
    expect(watcher.supported(target)).toBe(true);
  });

  it("re-opens the stream after a server restart and pushes the new status", async () => {
    const target = `${base}/adapter.Storage`;
    watcher.watch(target);
    await eventually(() => updates.length === 1);
    const port = Number(new URL(base).port);
    server.forceShutdown();
    const restartedHealth = new FlippableHealth();
    restartedHealth.statuses.set("adapter.Storage", NOT_SERVING);
    const restarted = await startServer(restartedHealth.implementation, port);
    extraServers.push(restarted.server);
    await eventually(() => updates.length === 2);
    // The broken stream itself was not reported: only the two statuses servers sent.
    expect(updates.map(({ status }) => status)).toEqual(["SERVING", "NOT_SERVING"]);
    expect(restartedHealth.watchCalls).toEqual(["adapter.Storage"]);
  });

  it("tells the owner once when a delivering stream is lost, not when it is unwatched", async () => {
    const lost: string[] = [];
    const owned = new GrpcHealthWatcher((update) => updates.push(update), {
      ...fastReconnect,
      onStreamLost: (target) => lost.push(target),
    });
    try {
      const storage = `${base}/adapter.Storage`;
      const queue = `${base}/adapter.Queue`;
      owned.watch(storage);
      owned.watch(queue);
      await eventually(() => updates.length === 2);
      owned.unwatch(queue);
      await pause(50);
      expect(lost).toEqual([]);
      server.forceShutdown();
      await eventually(() => lost.length === 1);
      // Re-opening keeps failing while the server is down: still one notice.
      await pause(200);
      expect(lost).toEqual([storage]);
    } finally {
      owned.close();
    }
  });

  it("keeps retrying a server that is down and picks it up when it starts", async () => {
    const port = await closedPort();
    const target = `grpc://127.0.0.1:${port}/adapter.Storage`;
    watcher.watch(target);
    await pause(60);
    expect(updates).toEqual([]);
    expect(watcher.supported(target)).toBeUndefined();
    const late = new FlippableHealth();
    late.statuses.set("adapter.Storage", SERVING);
    extraServers.push((await startServer(late.implementation, port)).server);
    await eventually(() => updates.length === 1);
    expect(updates[0]).toMatchObject({ target, status: "SERVING" });
  });

  it("never watches a target it cannot parse", () => {
    watcher.watch("grpc://adapter.internal/svc");
    watcher.watch("http://adapter.internal:8080/health");
    expect(watcher.supported("grpc://adapter.internal/svc")).toBe(false);
    expect(watcher.supported("http://adapter.internal:8080/health")).toBe(false);
    expect(updates).toEqual([]);
  });

  it("does not re-open a stream that was waiting out its backoff when closed or unwatched", async () => {
    // Every connection is accepted and dropped at once, so each attempt is one connection.
    let attempts = 0;
    const dropping = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropping.listen(0, "127.0.0.1", resolve));
    const address = dropping.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const storage = `grpc://127.0.0.1:${address.port}/adapter.Storage`;
    const queue = `grpc://127.0.0.1:${address.port}/adapter.Queue`;
    try {
      watcher.watch(storage);
      watcher.watch(queue);
      // Each dropped attempt is followed by a 5-50 ms wait; a few of them prove retrying is on.
      await eventually(() => attempts >= 6);
      watcher.unwatch(storage);
      watcher.close();
      await pause(30);
      const attemptsAtClose = attempts;
      await pause(150);
      expect(attempts).toBe(attemptsAtClose);
    } finally {
      await new Promise<void>((resolve) => dropping.close(() => resolve()));
    }
  });

  describe("through a connection-tracking TCP proxy", () => {
    let proxy: NetServer;
    let proxied: string;
    /** Client-side connections the proxy holds open. */
    const open = new Set<Socket>();
    let frozen = false;

    beforeEach(async () => {
      const upstreamPort = Number(new URL(base).port);
      proxy = createServer((client) => {
        open.add(client);
        const upstream = connect(upstreamPort, "127.0.0.1");
        for (const socket of [client, upstream]) socket.on("error", () => socket.destroy());
        client.on("close", () => {
          open.delete(client);
          upstream.destroy();
        });
        upstream.on("close", () => client.destroy());
        // While frozen the proxy forwards nothing, as a network that silently drops packets.
        client.on("data", (chunk: Buffer) => {
          if (!frozen) upstream.write(chunk);
        });
        upstream.on("data", (chunk: Buffer) => {
          if (!frozen) client.write(chunk);
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const address = proxy.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      proxied = `grpc://127.0.0.1:${address.port}`;
    });

    afterEach(async () => {
      frozen = false;
      watcher.close();
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    });

    it("closes an address's connection when its last target is unwatched", async () => {
      watcher.watch(`${proxied}/adapter.Storage`);
      watcher.watch(`${proxied}/adapter.Queue`);
      await eventually(() => updates.length === 2);
      expect(open.size).toBe(1);
      watcher.unwatch(`${proxied}/adapter.Storage`);
      await eventually(() => health.streams.size === 1);
      expect(open.size).toBe(1);
      watcher.unwatch(`${proxied}/adapter.Queue`);
      await eventually(() => open.size === 0);
    });

    it("finds a peer gone silent by PING, reports the stream lost and re-opens it", async () => {
      const lost: string[] = [];
      const pinging = new GrpcHealthWatcher((update) => updates.push(update), {
        ...fastReconnect,
        keepaliveMs: 50,
        keepaliveTimeoutMs: 100,
        onStreamLost: (target) => lost.push(target),
      });
      try {
        const target = `${proxied}/adapter.Storage`;
        pinging.watch(target);
        await eventually(() => updates.length === 1);
        // PINGs answered: the stream stays up through several keepalive rounds.
        await pause(250);
        expect(lost).toEqual([]);
        frozen = true;
        await eventually(() => lost.length === 1, 2_000);
        expect(lost).toEqual([target]);
        frozen = false;
        health.set("adapter.Storage", NOT_SERVING);
        await eventually(() => updates.length === 2, 2_000);
        expect(updates[1]).toMatchObject({ target, status: "NOT_SERVING" });
      } finally {
        pinging.close();
      }
    });

    it("closes every connection on close()", async () => {
      watcher.watch(`${proxied}/adapter.Storage`);
      watcher.watch(`${base}/adapter.Queue`);
      await eventually(() => updates.length === 2);
      expect(open.size).toBe(1);
      watcher.close();
      await eventually(() => open.size === 0 && health.streams.size === 0);
    });
  });

  it("close() ends every stream, and the watcher can be used again", async () => {
    watcher.watch(`${base}/adapter.Storage`);
    watcher.watch(`${base}/adapter.Queue`);
    await eventually(() => updates.length === 2);
    watcher.close();
    await eventually(() => health.streams.size === 0);
    expect(watcher.supported(`${base}/adapter.Storage`)).toBeUndefined();
    health.set("adapter.Storage", NOT_SERVING);
    expect(updates).toHaveLength(2);
    watcher.watch(`${base}/adapter.Storage`);
    await eventually(() => updates.length === 3);
    expect(updates[2]).toMatchObject({ status: "NOT_SERVING" });
  });

  it("leaves nothing running after close(): a process using it exits on its own", async () => {
    // The watcher runs in a child process against this process's server, which stays up, so
    // a leftover stream or reconnect timer would keep the child alive. (An idle channel would
    // not: grpc-js unrefs it, so channels are checked through the proxy tests above.)
    const watcherModule = fileURLToPath(new URL("./grpc-health-watcher.ts", import.meta.url));
    const script = `
      const { GrpcHealthWatcher } = await import(${JSON.stringify(watcherModule)});
      const watcher = new GrpcHealthWatcher((update) => {
        console.log(update.status);
        watcher.close();
      }, { reconnectDelayMs: { initial: 10, max: 50 } });
      watcher.watch(process.argv[1] + "/adapter.Storage");
      watcher.watch(process.argv[1] + "/adapter.Queue");
      // Refused again and again: at close() it is most likely waiting out a reconnect delay.
      watcher.watch(process.argv[2] + "/adapter.Storage");
    `;
    const dead = `grpc://127.0.0.1:${await closedPort()}`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", script, base, dead],
      { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exit = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("still running after 10 s");
      }, 10_000);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve(code ?? String(signal));
      });
    });
    expect({ exit, output: output.trim() }).toEqual({ exit: 0, output: "SERVING" });
    expect(health.watchCalls.length).toBeGreaterThanOrEqual(1);
  }, 15_000);
});
