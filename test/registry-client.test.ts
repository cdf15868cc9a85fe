import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import { parseScenario } from "../src/simulator/scenario.js";
import {
  type RunningSimulator,
  type SimulatorSecurity,
  startSimulator,
} from "../src/simulator/simulator.js";
import { type GeneratedCertificates, generateCertificates } from "./support/certificates.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { getJson, ManualClock, tempDir } from "./support/stack.js";

const SCENARIO = parseScenario(
  `
project: sec
adapters:
  - { category: storage, provider: s3, endpoint: none }
  - { category: cache, provider: redis, endpoint: none }
  - { category: orchestration, provider: prefect, endpoint: none }
`,
  "registry-client-test.yaml",
);
const JWT_SECRET = "correct horse battery staple";

/** Collects the daemon's log lines, to prove secrets stay out of them. */
class LogCapture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe("the registry client", () => {
  let dir: ReturnType<typeof tempDir>;
  let certs: GeneratedCertificates;
  const simulators: RunningSimulator[] = [];
  const daemons: RunningDaemon[] = [];
  let logs: LogCapture;

  beforeAll(() => {
    const certDir = tempDir();
    certs = generateCertificates(certDir.path);
  });

  beforeEach(() => {
    dir = tempDir();
    logs = new LogCapture();
  });

  afterEach(async () => {
    for (const daemon of daemons.splice(0)) await daemon.stop();
    for (const simulator of simulators.splice(0)) await simulator.stop();
    dir.remove();
  });

  async function simulator(security?: SimulatorSecurity, port = 0): Promise<RunningSimulator> {
    const running = await startSimulator({
      scenario: SCENARIO,
      listen: `127.0.0.1:${port}`,
      ...(security ? { security } : {}),
    });
    simulators.push(running);
    return running;
  }

  async function daemon(
    oneiric: string,
    healthd = "",
    clock?: ManualClock,
    database = "healthd.db",
  ): Promise<RunningDaemon> {
    const config = parseConfigText(
      `oneiric_mcp:\n  timeout_sec: 2\n  cache_ttl_sec: 60\n${oneiric}
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, database))} }
  sync: { interval_sec: 3600 }
  probes: { interval_sec: 3600 }
  log: { level: debug }
${healthd}`,
      "registry-client-test.yaml",
      { JWT_SECRET },
      {},
      true,
    );
    const running = await startDaemon(config, {
      logger: pino({ level: "debug" }, logs),
      ...(clock ? { now: clock.now, sharedClock: clock.cell } : {}),
    });
    daemons.push(running);
    return running;
  }

  const tls = () => ({
    certPem: readFileSync(certs.serverCert),
    keyPem: readFileSync(certs.serverKey),
  });

  describe("security", () => {
    it("connects over TLS with the right CA, and names the TLS failure with the wrong one", async () => {
      const registry = await simulator({ tls: tls() });
      const good = await daemon(
        `  grpc_host: localhost\n  grpc_port: ${registry.registryPort}\n  use_tls: true\n  tls_ca_path: ${certs.caCert}\n`,
      );
      expect(good.view.size).toBe(3);
      expect(good.view.registryView().reachable).toBe(true);

      const bad = await daemon(
        `  grpc_host: localhost\n  grpc_port: ${registry.registryPort}\n  use_tls: true\n  tls_ca_path: ${certs.wrongCaCert}\n`,
        "",
      );
      const result = await bad.syncNow();
      expect(result.ok).toBe(false);
      expect(result.error).toContain(
        `TLS handshake with registry localhost:${registry.registryPort} failed`,
      );
    });

    it("presents a client certificate for mTLS, and a wrong or missing one is refused clearly", async () => {
      const registry = await simulator({
        tls: { ...tls(), clientCaPem: readFileSync(certs.caCert) },
      });
      const base = `  grpc_host: localhost\n  grpc_port: ${registry.registryPort}\n  use_tls: true\n  tls_ca_path: ${certs.caCert}\n`;
      const good = await daemon(
        `${base}  tls_cert_path: ${certs.clientCert}\n  tls_key_path: ${certs.clientKey}\n`,
      );
      expect(good.view.size).toBe(3);

      const wrongCert = await daemon(
        `${base}  tls_cert_path: ${certs.wrongClientCert}\n  tls_key_path: ${certs.wrongClientKey}\n`,
      );
      const wrong = await wrongCert.syncNow();
      expect(wrong.ok).toBe(false);
      expect(wrong.error).toMatch(/registry localhost:\d+/);
      const noCert = await daemon(base);
      expect((await noCert.syncNow()).ok).toBe(false);
    });

    it("sends a JWT the registry accepts, names a wrong secret or an expired token, and never logs the secret", async () => {
      const registry = await simulator({ jwt: { secret: JWT_SECRET, project: "sec" } });
      const base = `  grpc_host: 127.0.0.1\n  grpc_port: ${registry.registryPort}\n  jwt_enabled: true\n  jwt_project: sec\n`;
      const good = await daemon(`${base}  jwt_secret: \${JWT_SECRET}\n`);
      expect(good.view.size).toBe(3);
      expect((await good.gateway.listAdapters({ category: "cache" })).value).toHaveLength(1);

      const wrongSecret = await daemon(`${base}  jwt_secret: not-the-secret\n`);
      const refused = await wrongSecret.syncNow();
      expect(refused.ok).toBe(false);
      expect(refused.error).toContain("refused the call: token signature invalid");

      // A clock two days slow signs tokens that expired long ago in real time. Its own
      // database: the breaker the wrong secret opened (saved as it opened) would be restored
      // and, by this clock, stay open for two days, hiding the token's error.
      const slow = new ManualClock(Date.now() - 2 * 86_400_000);
      const expired = await daemon(
        `${base}  jwt_secret: \${JWT_SECRET}\n`,
        "",
        slow,
        "expired-clock.db",
      );
      const lapsed = await expired.syncNow();
      expect(lapsed.error).toContain("token expired");

      expect(logs.text).toContain("token signature invalid");
      expect(logs.text).not.toContain(JWT_SECRET);
      expect(JSON.stringify([refused, lapsed])).not.toContain(JWT_SECRET);
    });
  });

  describe("the fallback chain", () => {
    it("answers from cache, then store, marked stale with a growing age, while the registry is down; recovery clears it", async () => {
      const clock = new ManualClock(Date.now());
      const registry = await simulator();
      const running = await daemon(
        `  grpc_host: 127.0.0.1\n  grpc_port: ${registry.registryPort}\n`,
        "  registry: { breaker: { threshold: 2, half_open_after_sec: 0.05, max_half_open_after_sec: 0.2 } }\n",
        clock,
      );
      const fresh = await running.gateway.listAdapters({});
      expect(fresh).toMatchObject({ source: "registry", stale: false });
      expect((await running.gateway.listAdapters({})).source).toBe("cache");

      await registry.stop();
      simulators.length = 0;
      clock.advance(61_000);
      const fromCache = await running.gateway.listAdapters({});
      expect(fromCache).toMatchObject({ source: "cache", stale: true });
      expect(fromCache.value).toHaveLength(3);
      expect(fromCache.ageMs).toBe(61_000);

      running.gateway.invalidateCache();
      clock.advance(5_000);
      const fromStore = await running.gateway.listAdapters({ category: "storage" });
      expect(fromStore).toMatchObject({ source: "store", stale: true });
      expect(fromStore.value.map((entry) => entry.adapterId)).toEqual(["sec.adapter.storage.s3"]);
      expect(fromStore.ageMs).toBe(66_000);
      clock.advance(10_000);
      expect((await running.gateway.getAdapter("sec.adapter.cache.redis")).ageMs).toBe(76_000);
      const health = await running.gateway.checkAdapterHealth("sec.adapter.cache.redis");
      expect(health).toMatchObject({ source: "store", stale: true, ageMs: 76_000 });
      expect(health.value).toMatchObject({ healthy: true, status: "healthy" });

      const sync = await running.syncNow();
      expect(sync.ok).toBe(false);
      expect((await getJson(running, "/v1/adapters")).body.registry.reachable).toBe(false);
      const metrics = (await getJson(running, "/metrics")).body as string;
      expect(metrics).toContain("oneiric_healthd_registry_up 0");
      expect(metrics).toMatch(
        /oneiric_healthd_registry_breaker_open\{endpoint="127\.0\.0\.1:\d+"\} 1/,
      );
      expect(
        running.readEvents(0, 100).some((event) => event.type === "registry.unreachable"),
      ).toBe(true);

      // The registry comes back on the same port; after the breaker's short wait it is used again.
      await simulator(undefined, Number(registry.registryAddress.split(":")[1]));
      let recovered = await running.gateway.listAdapters({ category: "storage" });
      for (let attempt = 0; attempt < 50 && recovered.source !== "registry"; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        recovered = await running.gateway.listAdapters({ category: "storage" });
      }
      expect(recovered).toMatchObject({ source: "registry", stale: false, ageMs: 0 });
      expect((await running.syncNow()).ok).toBe(true);
      expect(running.readEvents(0, 100).some((event) => event.type === "registry.recovered")).toBe(
        true,
      );
    });

    it("switches to a secondary registry when the primary dies", async () => {
      const primary = await simulator();
      const secondary = await simulator();
      const running = await daemon(
        `  grpc_host: 127.0.0.1\n  grpc_port: ${primary.registryPort}\n`,
        `  registry: { secondaries: ["127.0.0.1:${secondary.registryPort}"] }\n`,
      );
      expect((await running.gateway.listAdapters({})).endpoint).toBe(primary.registryAddress);
      await primary.stop();
      running.gateway.invalidateCache();
      const answer = await running.gateway.listAdapters({});
      expect(answer).toMatchObject({
        source: "registry",
        endpoint: secondary.registryAddress,
        stale: false,
      });
      const sync = await running.syncNow();
      expect(sync.ok).toBe(true);
      expect(running.view.registryView().endpoint).toBe(secondary.registryAddress);
      expect(running.gateway.healthCheck().status).toBe("degraded");
    });

    it("keeps an open registry breaker open across a restart", async () => {
      const registry = await simulator();
      const config = `  grpc_host: 127.0.0.1\n  grpc_port: ${registry.registryPort}\n`;
      const breaker = "  registry: { breaker: { threshold: 2, half_open_after_sec: 600 } }\n";
      const first = await daemon(config, breaker);
      await registry.stop();
      simulators.length = 0;
      first.gateway.invalidateCache();
      await first.syncNow();
      await first.syncNow();
      expect(first.gateway.endpoints[0]?.breakerState).toBe("open");
      await first.stop();
      daemons.length = 0;

      const second = await daemon(config, breaker);
      expect(second.gateway.endpoints[0]?.breakerState).toBe("open");
      const result = await second.syncNow();
      expect(result.error).toContain("circuit breaker is open");
    });

    it("watches the local registry file's adapters when no registry was ever reached", async () => {
      const file = join(dir.path, "local-registry.yaml");
      const { writeFileSync } = await import("node:fs");
      writeFileSync(
        file,
        "adapters:\n  - { adapter_id: local.adapter.storage.file, domain: adapter, category: storage, provider: file, health_status: healthy }\n",
      );
      const running = await daemon(
        "  grpc_host: 127.0.0.1\n  grpc_port: 1\n",
        `  registry: { local_file: ${file} }\n`,
      );
      expect(running.view.list().map((adapter) => adapter.adapter_id)).toEqual([
        "local.adapter.storage.file",
      ]);
    });
  });

  describe("the cache", () => {
    let fake: FakeRegistry;
    beforeEach(async () => {
      fake = await new FakeRegistry().start();
    });
    afterEach(() => fake.stop());

    it("answers N concurrent identical queries with one RPC", async () => {
      fake.entries = [FakeRegistry.entry({})];
      const running = await daemon(`  grpc_host: 127.0.0.1\n  grpc_port: ${fake.port}\n`);
      const callsAfterSync = fake.listCalls;
      fake.listDelayMs = 50;
      const answers = await Promise.all(
        Array.from({ length: 25 }, () => running.gateway.listAdapters({ category: "storage" })),
      );
      expect(fake.listCalls - callsAfterSync).toBe(1);
      expect(answers.every((answer) => answer.value.length === 1)).toBe(true);
      await running.gateway.listAdapters({ category: "storage" });
      expect(fake.listCalls - callsAfterSync).toBe(1);
      const metrics = (await getJson(running, "/metrics")).body as string;
      expect(metrics).toContain("oneiric_cache_misses_total 25");
      expect(metrics).toContain("oneiric_cache_hits_total 1");
    });
  });
});
