import { createServer, type LookupFunction, type Server, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseTcpTarget, TcpProbe } from "./tcp-probe.js";

let server: Server;
let port: number;
let accepted: Socket[];
let closedByPeer: number;

beforeEach(async () => {
  accepted = [];
  closedByPeer = 0;
  server = createServer((socket) => {
    accepted.push(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      closedByPeer++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = listeningPort(server);
});

afterEach(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function listeningPort(listening: Server): number {
  const address = listening.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  const free = listeningPort(spare);
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  return free;
}

/** Polls `condition` every 5 ms for up to `withinMs`. */
async function eventually(condition: () => boolean, withinMs = 2_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("TcpProbe", () => {
  it("reports a completed connection as ok and closes it at once", async () => {
    const probe = new TcpProbe();
    const result = await probe.check(`tcp://127.0.0.1:${port}`, 2_000);
    expect(result).toMatchObject({ ok: true, detail: "connected" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(accepted).toHaveLength(1);
    // The server sees the probe hang up without having to time it out.
    await eventually(() => closedByPeer === 1);
    probe.close();
  });

  it("accepts a trailing slash", async () => {
    expect(await new TcpProbe().check(`tcp://127.0.0.1:${port}/`, 2_000)).toMatchObject({
      ok: true,
    });
  });

  it("reports a refused connection as not ok", async () => {
    const free = await closedPort();
    const result = await new TcpProbe().check(`tcp://127.0.0.1:${free}`, 2_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^ECONNREFUSED: /);
  });

  it("gives up at the deadline, naming the timeout", async () => {
    // A name lookup that never answers stalls the connect deterministically, which no
    // listening socket can do: the kernel completes the handshake for it.
    const lookups: string[] = [];
    const stalled: LookupFunction = (hostname) => {
      lookups.push(hostname);
    };
    const probe = new TcpProbe({ lookup: stalled });
    const result = await probe.check("tcp://adapter.internal:5432", 50);
    expect(result).toMatchObject({ ok: false, detail: "no connection within 50 ms" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(45);
    expect(lookups).toEqual(["adapter.internal"]);
  });

  it("reports a host that does not resolve as not ok", async () => {
    const notFound: LookupFunction = (hostname, _options, callback) => {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = "ENOTFOUND";
      callback(error, "", 4);
    };
    const result = await new TcpProbe({ lookup: notFound }).check(
      "tcp://nowhere.invalid:80",
      2_000,
    );
    expect(result).toMatchObject({
      ok: false,
      detail: "ENOTFOUND: getaddrinfo ENOTFOUND nowhere.invalid",
    });
  });

  it("resolves with the problem for a target it cannot parse, without connecting", async () => {
    const probe = new TcpProbe();
    expect(await probe.check("tcp://127.0.0.1", 100)).toEqual({
      ok: false,
      latencyMs: 0,
      detail: "tcp target needs host and port",
    });
    expect(await probe.check(`http://127.0.0.1:${port}/health`, 100)).toMatchObject({
      ok: false,
      detail: "not a tcp:// URL",
    });
    expect(accepted).toHaveLength(0);
  });
});

describe("parseTcpTarget", () => {
  it.each([
    ["tcp://adapter.internal:5432", "adapter.internal", 5432],
    ["tcp://adapter.internal:5432/", "adapter.internal", 5432],
    ["tcp://10.0.0.7:6379", "10.0.0.7", 6379],
    ["tcp://[::1]:50051", "::1", 50051],
    ["tcp://h:65535", "h", 65535],
  ])("parses %s", (target, host, port) => {
    expect(parseTcpTarget(target)).toEqual({ host, port });
  });

  it.each([
    ["not a url", "invalid URL"],
    ["http://adapter.internal:8080/health", "not a tcp:// URL"],
    ["tcp://adapter.internal", "tcp target needs host and port"],
    ["tcp://:5432", "invalid URL"],
    ["tcp://h:0", "tcp target needs a port from 1 to 65535"],
    ["tcp://h:65536", "invalid URL"],
    ["tcp://h:1/health", "tcp target takes only host and port"],
    ["tcp://h:1?x=1", "tcp target takes only host and port"],
  ])("rejects %s: %s", (target, problem) => {
    expect(parseTcpTarget(target)).toBe(problem);
  });
});
