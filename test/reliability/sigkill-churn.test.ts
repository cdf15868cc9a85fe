/**
 * 20 SIGKILLs at random moments while adapters flip and the catalog changes; after
 * each the daemon restarts on the same database. After every kill and at the end:
 * integrity_check ok, the journal's seq contiguous, every stored verdict and breaker
 * the one its adapter's last event says, and every breaker that was open when the
 * daemon was killed open again after the restart.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AdapterEntry } from "../../src/gen/oneiric/registry/v1/registry.js";
import { parseScenario } from "../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../src/simulator/simulator.js";
import { DaemonProcess } from "../support/daemon-process.js";
import { FakeRegistry } from "../support/fake-registry.js";
import { auditJournal, type JournalAudit } from "../support/journal-audit.js";
import { tempDir } from "../support/stack.js";
import { eventually, httpGet, seededRandom, sleep, writeDaemonConfig } from "./support/harness.js";

const KILLS = 20;

// cache: flapping every 0.5 s, breakers that never open (threshold 1000), so they
// change state all the time. storage: always down, so their breakers open at once and,
// waiting an hour for a trial, stay open. orchestration: the test turns them down and
// up at random; their breakers open when down twice in a row and stay open too.
const SCENARIO = `project: churn
generate: { count: 40, categories: [cache], behaviour_mix: { flapping: 1 }, flap_period_sec: 1 }
adapters:
${["s3", "gcs", "azure-blob", "file", "minio"].map((p) => `  - { category: storage, provider: ${p}, behaviour: down }`).join("\n")}
${Array.from({ length: 20 }, (_, i) => `  - { category: orchestration, provider: worker-${i} }`).join("\n")}
`;
const HEALTHD = `  sync: { interval_sec: 0.5 }
  probes: { interval_sec: 0.1, jitter: 0.5, timeout_sec: 1, rise: 1, fall: 1, registry_check: false }
  breaker: { threshold: 2, half_open_after_sec: 3600 }
  flap: { transitions: 1000 }
  overrides:
    - { match: { category: cache }, breaker: { threshold: 1000 } }
  log: { level: info }
`;

function expectSound(audit: JournalAudit, when: string): void {
  expect(audit.integrity, when).toBe("ok");
  expect(audit.gaps, `${when}: seq gaps in ${audit.lowSeq}..${audit.highSeq}`).toBe(0);
  expect(audit.unmatchedStates, when).toEqual([]);
  expect(audit.unmatchedBreakers, when).toEqual([]);
}

describe(`${KILLS} SIGKILLs during churn`, () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let registry: FakeRegistry;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startSimulator({
      scenario: parseScenario(SCENARIO, "churn.yaml"),
      listen: "127.0.0.1:0",
    });
    // The catalog comes from a registry the test edits; the adapters' health
    // endpoints are the simulator's.
    registry = await new FakeRegistry().start();
    registry.entries = simulator.adapters;
  });

  afterEach(async () => {
    daemon?.kill();
    await daemon?.exited;
    daemon = undefined;
    registry.stop();
    await simulator.stop();
    dir.remove();
  });

  it("leaves a sound journal after every kill and restores open breakers on restart", async () => {
    const random = seededRandom("sigkill-churn");
    const pick = <T>(items: readonly T[]): T => {
      const item = items[Math.floor(random.next() * items.length)];
      if (item === undefined) throw new Error("pick from an empty list");
      return item;
    };
    const all = simulator.adapters;
    const flippable = all.filter((entry) => entry.category === "orchestration");
    // Some adapters come and go from the catalog (a minority, so no removal is held back).
    const movable = all.filter((entry) => entry.category !== "storage").slice(0, 30);
    const absent = new Map<string, AdapterEntry>();
    const down = new Set<string>();

    const dbPath = join(dir.path, "healthd.db");
    const config = writeDaemonConfig(dir.path, {
      registryPort: registry.port,
      dbPath,
      healthdYaml: HEALTHD,
    });
    let openBeforeKill: string[] = [];
    let breakersCheckedOpen = 0;
    let killsDuringWork = 0;

    const churn = () => {
      if (random.next() < 0.6) {
        const entry = pick(flippable);
        if (down.has(entry.adapterId)) {
          down.delete(entry.adapterId);
          simulator.setBehaviour(entry.adapterId, null);
        } else {
          down.add(entry.adapterId);
          simulator.setBehaviour(entry.adapterId, "down");
        }
      } else {
        const entry = pick(movable);
        if (absent.has(entry.adapterId)) absent.delete(entry.adapterId);
        else if (absent.size < 5) absent.set(entry.adapterId, entry);
        registry.entries = all.filter((candidate) => !absent.has(candidate.adapterId));
      }
    };

    for (let round = 1; round <= KILLS + 1; round++) {
      daemon = new DaemonProcess(["--config", config], { keepLines: 2_000 });
      const running = daemon;
      const port = await running.httpPort(60_000);
      await eventually(
        `round ${round}: ready`,
        async () => (await httpGet(port, "/readyz")).status === 200,
        60_000,
      );
      // Every breaker that was open at the kill is open again, not closed.
      for (const adapterId of openBeforeKill) {
        const answer = await httpGet(port, `/v1/adapters/${adapterId}`);
        // Removed from the catalog while the daemon was down: nothing to show.
        if (answer.status === 404 && absent.has(adapterId)) continue;
        expect(answer.status, adapterId).toBe(200);
        expect(answer.json.breaker, `round ${round}: ${adapterId} after restart`).toBe("open");
        breakersCheckedOpen++;
      }
      if (round > KILLS) break;

      const seqAtReady = auditJournal(dbPath).highSeq;
      const killAfterMs = Math.floor(random.next() * 2_500);
      const killAt = Date.now() + killAfterMs;
      while (Date.now() < killAt) {
        churn();
        await sleep(Math.min(100, Math.max(0, killAt - Date.now())));
      }
      expect(running.running, running.transcript()).toBe(true);
      running.signal("SIGKILL");
      expect(await running.exited).toBe("SIGKILL");
      daemon = undefined;

      const audit = auditJournal(dbPath);
      expectSound(audit, `after kill ${round} (${killAfterMs} ms after ready)`);
      if (audit.highSeq > seqAtReady) killsDuringWork++;
      openBeforeKill = audit.openBreakers;
    }

    const final = daemon;
    if (!final) throw new Error("no daemon after the last restart");
    final.signal("SIGTERM");
    expect(await final.exited, final.transcript()).toBe(0);
    daemon = undefined;
    const audit = auditJournal(dbPath);
    expectSound(audit, "at the end");
    console.log(
      `sigkill-churn: seed ${random.seed}, ${KILLS} kills (${killsDuringWork} with events committed since ready), ` +
        `${audit.events} events, ${audit.judged} adapters judged, ${breakersCheckedOpen} open breakers found open after restarts`,
    );
    // The run did what it says: events came between kills and open breakers were checked.
    expect(killsDuringWork).toBeGreaterThanOrEqual(KILLS / 2);
    expect(breakersCheckedOpen).toBeGreaterThanOrEqual(5 * KILLS);
    expect(audit.judged).toBeGreaterThanOrEqual(60);
  }, 420_000);
});
