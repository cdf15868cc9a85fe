import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LinkState, NatsLink } from "../src/cluster/nats-link.js";
import { CapturedLog } from "./support/captured-log.js";
import { type GeneratedCertificates, generateCertificates } from "./support/certificates.js";
import { type CustomNatsServer, startNatsServerWith } from "./support/custom-nats-server.js";
import { NatsServerProcess } from "./support/nats-server.js";

/** Generous: a 2-core CI machine under load may take its time to (re)connect. */
const WAIT = { timeout: 20_000, interval: 50 };

let server: NatsServerProcess;
const links: NatsLink[] = [];

beforeAll(async () => {
  server = await NatsServerProcess.start();
});

afterEach(async () => {
  await Promise.all(links.splice(0).map((link) => link.close()));
  await server.start();
});

afterAll(async () => {
  await server.dispose();
});

function linkTo(urls: string[], log: CapturedLog) {
  const link = new NatsLink({
    servers: urls,
    connectionName: "oneiric-healthd test/link",
    logger: log.logger,
  });
  links.push(link);
  const states: LinkState[] = [];
  link.onState((state) => states.push(state));
  return { link, states };
}

describe("NatsLink", () => {
  it("connects to a real server in the background and hands out the connection", async () => {
    const log = new CapturedLog();
    const { link, states } = linkTo([server.url], log);
    expect(link.state()).toBe("connecting");
    expect(link.connection()).toBeUndefined();
    link.start();
    await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
    const nc = link.connection();
    expect(nc).toBeDefined();
    await nc?.flush();
    expect(nc?.info?.jetstream).toBe(true);
    expect(states).toEqual(["connected"]);
    expect(link.status()).toMatchObject({ state: "connected", lastError: null, reconnects: 0 });
    expect(log.warnings()).toEqual([]);
    expect(log.infos().map((line) => line.msg)).toEqual(["connected to NATS"]);
  });

  it("starts with NATS down, says so once however many retries, and connects when it comes up", async () => {
    await server.stop();
    const log = new CapturedLog();
    const { link, states } = linkTo([server.url], log);
    const before = Date.now();
    link.start();
    expect(link.state()).toBe("connecting");
    await vi.waitFor(() => expect(log.warnings()).toHaveLength(1), WAIT);
    // Several more retries (one a second) while it stays down: still one line.
    await delay(3_500);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toMatch(/^NATS unreachable; /);
    expect(link.state()).toBe("connecting");
    expect(link.connection()).toBeUndefined();
    expect(link.status().lastError).toBe("no NATS server accepted a connection");
    expect(link.status().since).toBeGreaterThanOrEqual(before);

    await server.start();
    await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
    expect(states).toEqual(["connected"]);
    expect(log.warnings()).toHaveLength(1);
    const back = log.infos().filter((line) => line.msg === "NATS reachable again");
    expect(back).toHaveLength(1);
    expect(back[0]?.downMs).toBeGreaterThanOrEqual(3_500);
  });

  it("goes disconnected when the server stops and connected again when it is back, one warning per outage", async () => {
    const log = new CapturedLog();
    const { link, states } = linkTo([server.url], log);
    link.start();
    await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
    const nc = link.connection();

    for (const outage of [1, 2]) {
      const stoppedAt = Date.now();
      await server.stop();
      await vi.waitFor(() => expect(link.state()).toBe("disconnected"), WAIT);
      expect(link.status().since).toBeGreaterThanOrEqual(stoppedAt);
      expect(link.status().lastError).toMatch(/^disconnected from /);
      // The connection stays handed out while nats.js reconnects it.
      expect(link.connection()).toBe(nc);
      await delay(3_000);
      expect(log.warnings()).toHaveLength(outage);

      await server.start();
      await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
      expect(link.connection()).toBe(nc);
      expect(link.status().reconnects).toBe(outage);
    }
    expect(states).toEqual(["connected", "disconnected", "connected", "disconnected", "connected"]);
    expect(log.warnings().map((line) => line.msg)).toEqual([
      expect.stringMatching(/^NATS unreachable; reconnecting/),
      expect.stringMatching(/^NATS unreachable; reconnecting/),
    ]);
    const back = log.infos().filter((line) => line.msg === "NATS reachable again");
    expect(back).toHaveLength(2);
    for (const line of back) expect(line.downMs).toBeGreaterThanOrEqual(3_000);
  });

  it("tries every server and uses the one that answers", async () => {
    const spare = await NatsServerProcess.start();
    await spare.stop();
    try {
      const log = new CapturedLog();
      const { link } = linkTo([spare.url, server.url], log);
      link.start();
      await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
      expect(link.connection()?.getServer()).toBe(`127.0.0.1:${server.port}`);
    } finally {
      await spare.dispose();
    }
  });

  it("closes within 2 s while disconnected, and stops a first connection that is still trying", async () => {
    const log = new CapturedLog();
    const connected = linkTo([server.url], log);
    connected.link.start();
    await vi.waitFor(() => expect(connected.link.state()).toBe("connected"), WAIT);
    await server.stop();
    await vi.waitFor(() => expect(connected.link.state()).toBe("disconnected"), WAIT);
    const trying = linkTo([server.url], log);
    trying.link.start();

    for (const { link } of [connected, trying]) {
      const began = performance.now();
      await link.close();
      // 2 s at most by design; the rest is slack for a loaded machine.
      expect(performance.now() - began).toBeLessThan(3_000);
      expect(link.state()).toBe("closed");
      expect(link.connection()).toBeUndefined();
    }
    expect(connected.states.at(-1)).toBe("closed");
    expect(trying.states).toEqual(["closed"]);

    // Once the server is back, the closed links stay closed: nothing retried behind them.
    await server.start();
    await delay(2_500);
    expect(connected.link.state()).toBe("closed");
    expect(trying.link.state()).toBe("closed");
    expect(trying.states).toEqual(["closed"]);
  });

  it("closes a connected link by draining it", async () => {
    const log = new CapturedLog();
    const { link, states } = linkTo([server.url], log);
    link.start();
    await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
    const nc = link.connection();
    await link.close();
    expect(nc?.isClosed()).toBe(true);
    expect(states).toEqual(["connected", "closed"]);
    // start() after close() does nothing.
    link.start();
    await delay(200);
    expect(link.state()).toBe("closed");
  });
});

describe("NatsLink over TLS", () => {
  let certs: GeneratedCertificates;
  let certDir: string;
  let tlsServer: CustomNatsServer;

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), "healthd-nats-tls-"));
    certs = generateCertificates(certDir);
    // Mutual TLS: the server only takes clients with a certificate from our CA.
    tlsServer = await startNatsServerWith([
      "--tlsverify",
      "--tlscert",
      certs.serverCert,
      "--tlskey",
      certs.serverKey,
      "--tlscacert",
      certs.caCert,
    ]);
  });

  afterAll(async () => {
    await tlsServer.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  it("connects with the CA and a client certificate from tls.*", async () => {
    const log = new CapturedLog();
    const link = new NatsLink({
      servers: [tlsServer.url.replace("nats://", "tls://")],
      tls: { caPath: certs.caCert, certPath: certs.clientCert, keyPath: certs.clientKey },
      connectionName: "oneiric-healthd test/tls",
      logger: log.logger,
    });
    links.push(link);
    link.start();
    await vi.waitFor(() => expect(link.state()).toBe("connected"), WAIT);
    expect(link.connection()?.info?.tls_required).toBe(true);
    expect(log.warnings()).toEqual([]);
  });

  it("stays connecting, warning once, when the server refuses its certificate", async () => {
    const log = new CapturedLog();
    const link = new NatsLink({
      servers: [tlsServer.url],
      tls: { caPath: certs.caCert, certPath: certs.wrongClientCert, keyPath: certs.wrongClientKey },
      connectionName: "oneiric-healthd test/wrong-cert",
      logger: log.logger,
    });
    links.push(link);
    link.start();
    await vi.waitFor(() => expect(log.warnings()).toHaveLength(1), WAIT);
    await delay(2_500);
    expect(link.state()).toBe("connecting");
    expect(log.warnings()).toHaveLength(1);
  });
});
