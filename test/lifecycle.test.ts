import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { DaemonProcess } from "./support/daemon-process.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

interface AdapterRow {
  adapter_id: string;
  status: string;
  since: string;
}

async function adapters(port: number): Promise<AdapterRow[]> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/adapters`);
  return ((await response.json()) as { adapters: AdapterRow[] }).adapters;
}

/** Waits until `count` adapters have been checked (none is `unknown`). */
async function checkedAdapters(port: number, count: number): Promise<AdapterRow[]> {
  let rows: AdapterRow[] = [];
  for (let attempt = 0; attempt < 150; attempt++) {
    rows = await adapters(port);
    if (rows.length === count && rows.every((row) => row.status !== "unknown")) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`adapters never all checked: ${JSON.stringify(rows)}`);
}

async function gauge(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  if (!match) throw new Error(`no ${name} in /metrics`);
  return Number(match[1]);
}

async function resolveCache(port: number): Promise<{ panic: boolean; choice: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/resolve?domain=adapter&category=cache`);
  return (await response.json()) as { panic: boolean; choice: unknown };
}

describe("daemon lifecycle: reload and stop", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator | undefined;
  let daemon: DaemonProcess | undefined;

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    daemon?.kill();
    daemon = undefined;
    await simulator?.stop();
    simulator = undefined;
    dir.remove();
  });

  it("applies a good file on SIGHUP keeping state, and keeps running on the old one when the new file is invalid", async () => {
    simulator = await startTestSimulator(
      "adapters:\n  - { category: storage, provider: s3 }\n  - { category: cache, provider: redis, behaviour: down }\n",
      new ManualClock(Date.now()),
    );
    const configPath = join(dir.path, "healthd.yaml");
    const configText = (lines: { interval: number; panic: boolean; listen: string }) => [
      "oneiric_mcp:",
      `  grpc_host: 127.0.0.1`,
      `  grpc_port: ${simulator?.registryPort}`,
      "  timeout_sec: 2",
      "healthd:",
      `  http: { listen: "${lines.listen}" }`,
      `  grpc: { listen: "127.0.0.1:0" }`,
      `  probes: { interval_sec: ${lines.interval}, rise: 1, fall: 1 }`,
      `  resolution: { panic: ${lines.panic} }`,
    ];
    const first = configText({ interval: 0.2, panic: false, listen: "127.0.0.1:0" });
    writeFileSync(configPath, `${first.join("\n")}\n`);
    daemon = new DaemonProcess(["--config", configPath, "--db", join(dir.path, "healthd.db")]);
    const port = await daemon.httpPort();
    const before = await checkedAdapters(port, 2);
    expect((await resolveCache(port)).panic).toBe(false);
    expect(await gauge(port, "oneiric_healthd_config_last_reload_successful")).toBe(1);
    const startedAt = await gauge(
      port,
      "oneiric_healthd_config_last_reload_success_timestamp_seconds",
    );
    expect(startedAt).toBeGreaterThan(0);

    // A good file: probe interval and panic change live; the listen address needs a restart.
    const good = configText({ interval: 0.3, panic: true, listen: "localhost:0" });
    writeFileSync(configPath, `${good.join("\n")}\n`);
    let mark = daemon.lines.length;
    daemon.signal("SIGHUP");
    const reloaded = await daemon.waitFor(
      (line) => line.msg === "configuration reloaded",
      "saying the configuration was reloaded",
      mark,
    );
    expect(reloaded.file).toBe(configPath);
    expect(reloaded.applied).toEqual(
      expect.arrayContaining(["healthd.probes.interval_sec", "healthd.resolution.panic"]),
    );
    expect(reloaded.needs_restart).toEqual(["healthd.http.listen"]);
    const restartWarning = await daemon.waitFor(
      (line) => line.level === 40 && line.msg.startsWith("changed but needs a restart"),
      "warning about a restart",
      mark,
    );
    expect(restartWarning.msg).toBe("changed but needs a restart: healthd.http.listen");
    expect(await gauge(port, "oneiric_healthd_config_last_reload_successful")).toBe(1);
    const reloadedAt = await gauge(
      port,
      "oneiric_healthd_config_last_reload_success_timestamp_seconds",
    );
    expect(reloadedAt).toBeGreaterThanOrEqual(startedAt);
    // Panic now applies; the state is the same state: same adapters, statuses and `since`.
    expect((await resolveCache(port)).panic).toBe(true);
    const after = await adapters(port);
    const summary = (rows: AdapterRow[]) =>
      Object.fromEntries(rows.map((row) => [row.adapter_id, [row.status, row.since]]));
    expect(summary(after)).toEqual(summary(before));

    // An invalid file: an unknown key on a known line. The daemon says why and keeps going.
    const bad = [...good];
    bad.splice(8, 0, "  bogus_key: 1");
    writeFileSync(configPath, `${bad.join("\n")}\n`);
    mark = daemon.lines.length;
    daemon.signal("SIGHUP");
    const refused = await daemon.waitFor(
      (line) => line.level === 50,
      "with an ERROR about the invalid file",
      mark,
    );
    expect(refused).toMatchObject({ file: configPath, line: 9, key: "healthd.bogus_key" });
    expect(refused.msg).toBe(
      `configuration reload failed, still running the previous configuration: ${configPath}:9: healthd.bogus_key: unknown key`,
    );
    expect(await gauge(port, "oneiric_healthd_config_last_reload_successful")).toBe(0);
    expect(await gauge(port, "oneiric_healthd_config_last_reload_success_timestamp_seconds")).toBe(
      reloadedAt,
    );
    // Still serving, on the settings of the last good file.
    expect((await resolveCache(port)).panic).toBe(true);
    expect(summary(await adapters(port))).toEqual(summary(before));

    // And a fixed file is taken again: the gauge recovers.
    writeFileSync(configPath, `${good.join("\n")}\n`);
    mark = daemon.lines.length;
    daemon.signal("SIGHUP");
    await daemon.waitFor((line) => line.msg === "configuration reloaded", "reloaded", mark);
    expect(await gauge(port, "oneiric_healthd_config_last_reload_successful")).toBe(1);

    daemon.signal("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.lines.some((line) => line.msg === "stopped")).toBe(true);
  });

  /** Four slow adapters checked back to back, so checks are in flight at any moment. */
  async function startWithSlowAdapters(slowMs: number): Promise<{ port: number; dbPath: string }> {
    const adapterLines = ["s3", "gcs", "azure", "minio"]
      .map(
        (provider) =>
          `  - { category: storage, provider: ${provider}, behaviour: slow, slow_ms: ${slowMs} }`,
      )
      .join("\n");
    simulator = await startTestSimulator(
      `adapters:\n${adapterLines}\n`,
      new ManualClock(Date.now()),
    );
    const configPath = join(dir.path, "healthd.yaml");
    const dbPath = join(dir.path, "healthd.db");
    writeFileSync(
      configPath,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${simulator.registryPort}, timeout_sec: 5 }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  probes: { interval_sec: 0.05, timeout_sec: 5, rise: 1, fall: 1, degraded_latency_ms: 10000, registry_check: false }
`,
    );
    daemon = new DaemonProcess(["--config", configPath, "--db", dbPath]);
    return { port: await daemon.httpPort(), dbPath };
  }

  it("on SIGTERM during checks lets them finish, commits, and exits 0 well within 10 s", async () => {
    const { port, dbPath } = await startWithSlowAdapters(800);
    await checkedAdapters(port, 4);
    // The next round is under way (0.05 s between 0.8 s checks).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sentAt = Date.now();
    daemon?.signal("SIGTERM");
    expect(await daemon?.exited).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(daemon?.lines.some((line) => line.msg === "stopped")).toBe(true);
    expect(daemon?.lines.filter((line) => line.level >= 50)).toEqual([]);

    const store = new SqliteStore({ path: dbPath, readonly: true });
    try {
      const catalog = store.loadCatalog();
      const health = store.loadHealth();
      expect(catalog).toHaveLength(4);
      expect(health.map((state) => state.adapterId).sort()).toEqual(
        catalog.map((entry) => entry.adapterId).sort(),
      );
      expect(health.every((state) => state.status === "healthy")).toBe(true);
      // Checks in flight when the signal came were finished and committed, not dropped.
      const newest = Math.max(...health.map((state) => state.lastChecked ?? 0));
      expect(newest).toBeGreaterThanOrEqual(sentAt);
      const events = store.readEvents(0, 1000);
      expect(events.filter((event) => event.type === "adapter.discovered")).toHaveLength(4);
    } finally {
      store.close();
    }
  });

  it("exits at once with code 1 on a second SIGTERM while stopping", async () => {
    const { port } = await startWithSlowAdapters(4_000);
    await adapters(port);
    // Every adapter's first check is running now, and will for seconds.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sentAt = Date.now();
    daemon?.signal("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));
    daemon?.signal("SIGTERM");
    expect(await daemon?.exited).toBe(1);
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    expect(
      daemon?.lines.some((line) => line.msg === "SIGTERM while stopping: exiting at once"),
    ).toBe(true);
  });
});

describe("RunningDaemon.reload, in process", () => {
  it("applies settings to the running parts and keeps breakers, verdicts and restart-only keys", async () => {
    const dir = tempDir();
    const simulator = await startTestSimulator(
      `adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis, behaviour: down }
`,
      new ManualClock(Date.now()),
    );
    const dbPath = join(dir.path, "healthd.db");
    const config = (extra: string) =>
      testConfig(
        simulator.registryPort,
        dbPath,
        `  resolution: { requirements: [ { domain: adapter, category: storage } ] }\n${extra}`,
      );
    const daemon = await startTestDaemon(
      config(`  breaker: { kind: consecutive, threshold: 1, half_open_after_sec: 3600 }
  overrides: [ { match: { provider: s3 }, priority: 1 } ]
`),
    );
    try {
      await daemon.checkAllNow();
      const redis = "mahavishnu.adapter.cache.redis";
      const storage = { domain: "adapter", category: "storage" };
      expect(daemon.view.state(redis)?.breaker?.state).toBe("open");
      const since = daemon.view.state(redis)?.since;
      expect(daemon.resolution.resolve(storage).choice?.adapterId).toBe(
        "mahavishnu.adapter.storage.s3",
      );

      const changes = daemon.reload(
        config(`  breaker: { kind: consecutive, threshold: 2, half_open_after_sec: 3600 }
  overrides: [ { match: { provider: gcs }, priority: 1 }, { match: { provider: s3 }, priority: 500 } ]
  registry: { jwt_ttl_sec: 600 }
`),
      );
      expect(changes).toEqual({
        applied: ["healthd.breaker.threshold", "healthd.overrides"],
        needsRestart: ["healthd.registry.jwt_ttl_sec"],
      });
      await daemon.checkAllNow();
      // Same breaker kind: the open breaker stays open, and the verdict is the one from before.
      expect(daemon.view.state(redis)?.breaker?.state).toBe("open");
      expect(daemon.view.state(redis)?.since).toBe(since);
      // New priorities rank the candidates of a fresh answer.
      expect(daemon.resolution.resolve(storage).choice?.adapterId).toBe(
        "mahavishnu.adapter.storage.gcs",
      );
      // A restart-only key is still named by the next reload of the same file.
      expect(
        daemon.reload(
          config(`  breaker: { kind: consecutive, threshold: 2, half_open_after_sec: 3600 }
  overrides: [ { match: { provider: gcs }, priority: 1 }, { match: { provider: s3 }, priority: 500 } ]
  registry: { jwt_ttl_sec: 600 }
`),
        ),
      ).toEqual({ applied: [], needsRestart: ["healthd.registry.jwt_ttl_sec"] });
    } finally {
      await daemon.stop();
      await simulator.stop();
      dir.remove();
    }
    // Once stopping, a reload is refused rather than restarting schedules.
    expect(() => daemon.reload(config(""))).toThrow("stopping");
  });
});
