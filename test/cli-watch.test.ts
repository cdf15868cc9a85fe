/**
 * `status --watch` as people run it: a child process of the CLI, its output a
 * pipe (so one line, or one JSON line, per change), against a real daemon and
 * simulator, across the daemon stopping and coming back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DaemonConfig } from "../src/config/load.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { CLI, runCli } from "./support/cli-process.js";
import { unusedPort } from "./support/ports.js";
import {
  eventStreams,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: mahavishnu
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis }
`;

const GCS = "mahavishnu.adapter.storage.gcs";
const S3 = "mahavishnu.adapter.storage.s3";
const REDIS = "mahavishnu.adapter.cache.redis";

/** The CLI kept running, its stdout and stderr so far. */
function watcher(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout?.on("data", (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output, exited };
}

/** Waits for `pattern` in `text()` after index `from`; returns where it ends. */
async function seen(text: () => string, pattern: RegExp, from = 0): Promise<number> {
  return vi.waitFor(
    () => {
      const rest = text().slice(from);
      const match = pattern.exec(rest);
      if (!match) throw new Error(`no ${pattern} in:\n${rest}`);
      return from + match.index + match[0].length;
    },
    { timeout: 20_000, interval: 50 },
  );
}

/** Declares maintenance straight into the file, as the daemon commits it (state and event). */
function declareInFile(dbPath: string, adapterId: string, reason: string): void {
  const store = new SqliteStore({ path: dbPath });
  try {
    store.commit(
      {
        maintenance: [{ adapterId, declared: { adapterId, untilMs: null, reason } }],
        events: [
          {
            type: "adapter.maintenance_started",
            subject: adapterId,
            time: Date.now(),
            data: { reason },
          },
        ],
      },
      Date.now(),
    );
  } finally {
    store.close();
  }
}

describe("status --watch, and the list filters status takes", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon | undefined;
  let config: DaemonConfig;
  let dbPath: string;
  let url: string;
  let configPath: string;

  beforeAll(async () => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    simulator = await startTestSimulator(SCENARIO, new ManualClock());
    const port = await unusedPort();
    const base = testConfig(simulator.registryPort, dbPath);
    config = { ...base, http: { ...base.http, listen: { host: "127.0.0.1", port } } };
    url = `http://127.0.0.1:${port}`;
    // What the CLI is pointed at: the daemon's address and its file, as `run` would read them.
    configPath = join(dir.path, "healthd.yaml");
    writeFileSync(
      configPath,
      `healthd:\n  http: { listen: "127.0.0.1:${port}" }\n  storage: { path: ${JSON.stringify(dbPath)} }\n`,
    );
    daemon = await startTestDaemon(config);
    await daemon.checkAllNow();
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator.stop();
    dir.remove();
  });

  it("prints a line per change, switches to the database file while the daemon is down, and back", async () => {
    const running = watcher(["status", "--watch", "--config", configPath]);
    const stdout = () => running.output.stdout;
    try {
      let at = await seen(stdout, new RegExp(`Z {2}from daemon at ${url}\\n`));
      at = await seen(stdout, new RegExp(`${S3} +healthy`), at);
      const first = daemon as RunningDaemon;
      await vi.waitFor(() => expect(eventStreams(first)).toBeGreaterThan(0), { timeout: 20_000 });

      first.queries.setMaintenance(GCS, { reason: "while followed" });
      at = await seen(
        stdout,
        new RegExp(
          `\\dZ {2}${GCS}: healthy -> healthy, maintenance, not usable \\(HTTP 200; maintenance: while followed\\)\\n`,
        ),
        at,
      );

      await first.stop();
      daemon = undefined;
      at = await seen(
        stdout,
        new RegExp(
          `Z {2}from database ${dbPath} \\(read-only; daemon at ${url} down since \\d\\d:\\d\\d:\\d\\d UTC\\)\\n`,
        ),
        at,
      );

      // Nothing but the file can tell the watch about this one.
      declareInFile(dbPath, S3, "written to the file");
      at = await seen(
        stdout,
        new RegExp(`Z {2}${S3}: healthy -> healthy, maintenance, not usable`),
        at,
      );

      daemon = await startTestDaemon(config);
      at = await seen(stdout, new RegExp(`Z {2}from daemon at ${url}\\n`), at);
      const second = daemon;
      await vi.waitFor(() => expect(eventStreams(second)).toBeGreaterThan(0), { timeout: 20_000 });
      second.queries.liftMaintenance(GCS);
      await seen(
        stdout,
        new RegExp(`Z {2}${GCS}: healthy, maintenance, not usable -> healthy`),
        at,
      );
      expect(running.output.stderr).toContain(`daemon at ${url} does not answer`);
    } finally {
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
  });

  it("--json prints the listing, then one JSON line per change of the adapters the filters keep", async () => {
    const running = watcher(["status", "--watch", "--json", "--url", url, "--category", "storage"]);
    const lines = () =>
      running.output.stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    try {
      await vi.waitFor(() => expect(lines().length).toBeGreaterThan(0), { timeout: 20_000 });
      const listing = lines()[0] ?? {};
      expect(listing).toMatchObject({ type: "listing", source: `daemon at ${url}` });
      expect((listing.adapters as { adapter_id: string }[]).map((a) => a.adapter_id)).toEqual([
        GCS,
        S3,
      ]);
      const current = daemon as RunningDaemon;
      await vi.waitFor(() => expect(eventStreams(current)).toBeGreaterThan(0), { timeout: 20_000 });

      // Redis is not a storage adapter: its change is not printed; the next storage one is.
      current.queries.setMaintenance(REDIS, { reason: "cache work" });
      // (s3 is in maintenance since the test before; gcs is out of it again.)
      current.queries.setMaintenance(GCS, { reason: "storage work" });
      await vi.waitFor(() => expect(lines().length).toBe(2), { timeout: 20_000 });
      expect(lines()[1]).toMatchObject({
        type: "change",
        change: "changed",
        adapter_id: GCS,
        from: "healthy",
        to: "healthy, maintenance, not usable",
        adapter: { adapter_id: GCS, maintenance: { reason: "storage work" } },
      });
    } finally {
      running.child.kill("SIGINT");
    }
    expect(await running.exited).toBe(0);
    expect(lines().some((line) => line.adapter_id === REDIS)).toBe(false);
  });

  it("ends quietly with 0 when its reader goes away (| head)", async () => {
    const running = watcher(["status", "--watch", "--url", url]);
    await seen(() => running.output.stdout, new RegExp(`${S3} +healthy`));
    const following = daemon as RunningDaemon;
    await vi.waitFor(() => expect(eventStreams(following)).toBeGreaterThan(0), { timeout: 20_000 });
    // The reader closes its end, as `head -1` does once it has its line.
    running.child.stdout?.destroy();
    // The next change's line finds the pipe closed (a change the watch shows: maintenance
    // begun, or ended if an earlier test left it on).
    const inMaintenance = following.queries.getAdapter(REDIS).maintenance !== null;
    const toggle = () =>
      inMaintenance
        ? following.queries.liftMaintenance(REDIS)
        : following.queries.setMaintenance(REDIS, { reason: "reader gone" });
    toggle();
    expect(await running.exited).toBe(0);
    expect(running.output.stderr).not.toMatch(/EPIPE|Error/);
  });

  it("--url follows its daemon only: while none answers there, it says so and waits for it", async () => {
    const nowhere = `http://127.0.0.1:${await unusedPort()}`;
    const running = watcher(["status", "--watch", "--url", nowhere]);
    try {
      await seen(
        () => running.output.stdout,
        new RegExp(
          `Z {2}from daemon at ${nowhere} down since \\d\\d:\\d\\d:\\d\\d UTC, retrying; showing what it last answered\\n`,
        ),
      );
      expect(running.output.stdout).not.toContain("database");
    } finally {
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
  });

  it("status lists only what the filters keep, from the daemon and from the file alike", async () => {
    const fromDaemon = await runCli(["status", "--category", "storage", "--url", url]);
    expect(fromDaemon.code).toBe(0);
    expect(fromDaemon.stdout).toContain(S3);
    expect(fromDaemon.stdout).not.toContain(REDIS);
    const fromFile = await runCli(["status", "--provider", "redis", "--json", "--db", dbPath]);
    expect(fromFile.code).toBe(0);
    const listed = JSON.parse(fromFile.stdout) as { adapters: { adapter_id: string }[] };
    expect(listed.adapters.map((adapter) => adapter.adapter_id)).toEqual([REDIS]);
    const wrong = await runCli(["status", "--status", "fine", "--db", dbPath]);
    expect(wrong.code).toBe(64);
    expect(wrong.stderr).toContain(
      'oneiric-healthd: --status must be one of "unknown", "healthy", "degraded", "unhealthy"; got "fine"',
    );
  });
});
