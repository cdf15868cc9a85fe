/**
 * The database stops taking writes while the daemon runs: its filesystem is full,
 * or turns read-only. The daemon says so (readyz 503 with the reason, the
 * store_writable gauge at 0, one WARN per episode), keeps answering, and once the
 * filesystem takes writes again commits everything it decided meanwhile.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseScenario } from "../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../src/simulator/simulator.js";
import { DaemonProcess, type LogLine } from "../support/daemon-process.js";
import { auditJournal } from "../support/journal-audit.js";
import { tempDir } from "../support/stack.js";
import { SmallTmpfs, SwitchableFilesystem } from "./support/filesystems.js";
import { eventually, httpGet, metricSum, sleep, writeDaemonConfig } from "./support/harness.js";

// Six adapters flap every second, two stay healthy: with rise = fall = 1 and checks
// every 0.2 s there are health changes (and so events) every few hundred ms.
const SCENARIO = `project: t
generate: { count: 6, categories: [cache], behaviour_mix: { flapping: 1 }, flap_period_sec: 2 }
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
`;
const HEALTHD = `  probes: { interval_sec: 0.2, jitter: 0.5, timeout_sec: 1, rise: 1, fall: 1, registry_check: false }
  breaker: { threshold: 1000 }
  flap: { transitions: 1000 }
  log: { level: info }
`;
const WARNING = "could not commit to the database; keeping results pending and retrying";
const RECOVERED = "database writable again; pending results and events committed";
const WARN_LEVEL = 40;

function highestSeq(dbPath: string): number {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT MAX(seq) AS high FROM events").get() as { high: number }).high;
  } finally {
    db.close();
  }
}

function eventsSince(dbPath: string, seq: number): { seq: number; time: number }[] {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT seq, time FROM events WHERE seq > ? ORDER BY seq").all(seq) as {
      seq: number;
      time: number;
    }[];
  } finally {
    db.close();
  }
}

interface Outage {
  /** Makes the database's filesystem refuse writes. */
  start(): Promise<void> | void;
  /** Makes it take writes again. */
  end(): Promise<void> | void;
  /** What the readiness reason must say about the error. */
  reason: RegExp;
}

/**
 * Runs the daemon on `dbPath` through two outages of 8 s each and checks what it
 * reports during each and what the journal holds after.
 */
async function throughTwoOutages(
  simulator: RunningSimulator,
  dir: string,
  dbPath: string,
  outage: Outage,
): Promise<DaemonProcess> {
  const config = writeDaemonConfig(dir, {
    registryPort: simulator.registryPort,
    dbPath,
    healthdYaml: HEALTHD,
  });
  const daemon = new DaemonProcess(["--config", config], { keepLines: 50_000 });
  const port = await daemon.httpPort();
  await eventually("some health changes committed", () => highestSeq(dbPath) >= 20, 30_000);

  for (let episode = 1; episode <= 2; episode++) {
    const before = highestSeq(dbPath);
    const startedAt = Date.now();
    await outage.start();
    const ready = await eventually(
      `episode ${episode}: readyz 503`,
      async () => {
        const answer = await httpGet(port, "/readyz");
        return answer.status === 503 ? answer : undefined;
      },
      60_000,
      100,
    );
    expect(ready.json.detail).toMatch(/the database refuses commits since /);
    expect(ready.json.detail).toMatch(outage.reason);
    expect(
      metricSum((await httpGet(port, "/metrics")).text, "oneiric_healthd_store_writable"),
    ).toBe(0);
    // While it lasts the daemon answers and goes on deciding: events wait to be committed.
    let pendingMost = 0;
    for (let tick = 0; tick < 16; tick++) {
      expect(daemon.running, daemon.transcript()).toBe(true);
      expect((await httpGet(port, "/healthz")).status).toBe(200);
      expect((await httpGet(port, "/v1/adapters")).status).toBe(200);
      const metrics = (await httpGet(port, "/metrics")).text;
      pendingMost = Math.max(pendingMost, metricSum(metrics, "oneiric_healthd_pending_events"));
      await sleep(500);
    }
    expect(pendingMost).toBeGreaterThan(0);
    const endedAt = Date.now();
    await outage.end();
    await eventually(
      `episode ${episode}: readyz 200 again`,
      async () => (await httpGet(port, "/readyz")).status === 200,
      30_000,
    );
    expect(
      metricSum((await httpGet(port, "/metrics")).text, "oneiric_healthd_store_writable"),
    ).toBe(1);
    // Every event decided during the outage is in the journal now, after the last one before it.
    const after = eventsSince(dbPath, before);
    expect(after[0]?.seq).toBe(before + 1);
    const decidedDuring = after.filter(
      (event) => event.time >= startedAt && event.time <= endedAt,
    ).length;
    expect(decidedDuring).toBeGreaterThanOrEqual(pendingMost);
  }

  const isWarning = (line: LogLine) => line.msg === WARNING;
  await daemon.waitFor(
    (line) => line.msg === RECOVERED && daemon.lines.filter((l) => l.msg === RECOVERED).length >= 2,
    "two recoveries",
  );
  const warnings = daemon.lines.filter(isWarning);
  expect(warnings.map((line) => line.level)).toEqual([WARN_LEVEL, WARN_LEVEL]);
  daemon.signal("SIGTERM");
  expect(await daemon.exited, daemon.transcript()).toBe(0);

  const audit = auditJournal(dbPath);
  expect(audit.integrity).toBe("ok");
  expect(audit.gaps).toBe(0);
  expect(audit.unmatchedStates).toEqual([]);
  expect(audit.unmatchedBreakers).toEqual([]);
  expect(audit.judged).toBe(8);
  return daemon;
}

describe("a database whose filesystem stops taking writes during a run", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: DaemonProcess | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startSimulator({
      scenario: parseScenario(SCENARIO, "storage-failure.yaml"),
      listen: "127.0.0.1:0",
    });
  });

  afterEach(async () => {
    daemon?.kill();
    await daemon?.exited;
    daemon = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await simulator.stop();
    dir.remove();
  });

  it("disk full (a 16 MiB tmpfs filled by another file): reports it, keeps running, loses nothing", async () => {
    const disk = new SmallTmpfs(join(dir.path, "disk"), 16);
    cleanups.push(() => disk.unmount());
    daemon = await throughTwoOutages(simulator, dir.path, join(disk.mountpoint, "healthd.db"), {
      start: () => {
        disk.fill();
      },
      end: () => disk.free(),
      reason: /database or disk is full/,
    });
  }, 180_000);

  it("read-only filesystem (a FUSE mirror switched read-only): reports it, keeps running, loses nothing", async () => {
    const fs = await SwitchableFilesystem.mount(join(dir.path, "source"), join(dir.path, "ro"));
    cleanups.push(() => fs.unmount());
    daemon = await throughTwoOutages(simulator, dir.path, join(fs.mountpoint, "healthd.db"), {
      start: () => fs.readOnly(),
      end: () => fs.readWrite(),
      reason: /disk I\/O error|readonly|read-only/i,
    });
  }, 180_000);
});
