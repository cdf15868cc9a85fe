import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseScenario } from "../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { auditJournal } from "./support/journal-audit.js";
import { tempDir } from "./support/stack.js";

const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");

describe("a daemon killed with SIGKILL during a burst of changes", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;

  beforeEach(async () => {
    dir = tempDir();
    // 200 adapters that flip every 0.2 s: with rise = fall = 1 every check can change state.
    simulator = await startSimulator({
      scenario: parseScenario(
        "generate: { count: 200, categories: [cache], behaviour_mix: { flapping: 1 }, flap_period_sec: 0.4 }\n",
        "crash.yaml",
      ),
      listen: "127.0.0.1:0",
    });
  });

  afterEach(async () => {
    await simulator.stop();
    dir.remove();
  });

  it("leaves a sound database: integrity ok, seq contiguous, every state matched by its event", async () => {
    const dbPath = join(dir.path, "healthd.db");
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(
      config,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${simulator.registryPort} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
  probes: { interval_sec: 0.05, jitter: 0.5, timeout_sec: 1, rise: 1, fall: 1, watch: false }
  breaker: { threshold: 1000 }
  flap: { transitions: 1000 }
  log: { level: warn }
`,
    );
    const child = spawn(process.execPath, [CLI, "run", "--config", config], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );

    // Wait until the burst is well under way, then kill without warning.
    const deadline = Date.now() + 20_000;
    let changes = 0;
    while (changes < 1500 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        const reader = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
        changes = (
          reader
            .prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'adapter.health_changed'")
            .get() as { n: number }
        ).n;
        reader.close();
      } catch {
        // Not created or not migrated yet.
      }
    }
    expect(changes, stderr).toBeGreaterThanOrEqual(1500);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    const audit = auditJournal(dbPath);
    expect(audit.integrity).toBe("ok");
    expect(audit.gaps).toBe(0);
    expect(audit.unmatchedStates).toEqual([]);
    expect(audit.judged).toBeGreaterThan(100);
    // The database opens and migrates again after the crash.
    const reopened = new SqliteStore({ path: dbPath });
    expect(reopened.loadHealth().length).toBe(200);
    reopened.close();
  });
});
