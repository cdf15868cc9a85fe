import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../src/api/api-error.js";
import { DatabaseQueryBackend } from "../src/api/clients/database-query-backend.js";
import { HttpQueryBackend } from "../src/api/clients/http-query-client.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { unusedPort } from "./support/ports.js";
import {
  eventStreams,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin", "oneiric-healthd.js");
const EXAMPLE_WORKFLOWS = join(ROOT, "examples", "workflows", "example-workflows.yaml");

// The demo scenario's project, so examples/workflows/example-workflows.yaml applies as is.
const SCENARIO = `
project: mahavishnu
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: storage, provider: sqlite, behaviour: down }
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached, behaviour: down }
  - { category: orchestration, provider: prefect }
  - { category: orchestration, provider: dagster, behaviour: down }
  - { category: memory, provider: chroma }
`;

const ALL_MET = `workflows:
  - name: nightly-backup
    adapter_requirements:
      - { domain: adapter, category: storage, provider: s3 }
      - { domain: adapter, category: cache }
    steps:
      - name: resolve-prefect
        tool: oneiric_resolve_adapter
        params: { domain: adapter, category: orchestration, provider: prefect }
      - name: run
        tool: worker_execute_flow
        params: { adapter: "\${steps.resolve-prefect}" }
        retries: 3
`;

async function cli(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

/** A CLI child that keeps running (`events --follow`), with its output so far. */
function follow(args: string[]) {
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

async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("query commands against a running daemon (--url)", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let url: string;
  let dbPath: string;

  beforeAll(async () => {
    dir = tempDir();
    clock = new ManualClock();
    dbPath = join(dir.path, "healthd.db");
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath), clock);
    url = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await daemon.checkAllNow();
  });

  afterAll(async () => {
    await daemon.stop();
    await simulator.stop();
    dir.remove();
  });

  it("resolve prints the choice, the fallbacks in order and the exclusions, and exits 0", async () => {
    const result = await cli(["resolve", "adapter", "storage", "--url", url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(
      /^adapter\/storage\/\*: mahavishnu\.adapter\.storage\.(s3|gcs) \(healthy/,
    );
    expect(lines[1]).toBe("fallbacks, in order:");
    expect(lines[2]).toMatch(/^ {2}1\. mahavishnu\.adapter\.storage\.(s3|gcs) \(healthy/);
    expect(lines[3]).toBe("excluded:");
    expect(lines[4]).toMatch(/^ {2}mahavishnu\.adapter\.storage\.sqlite: unhealthy: HTTP 503/);
    expect(result.stdout).toContain("reason: mahavishnu.adapter.storage.");
    expect(result.stdout).toContain(`answered by: daemon at ${url}`);
  });

  it("resolve exits 1 and says why when nothing is usable, and --json gives the answer", async () => {
    // Independent questions: asked at once, as each CLI start costs a second or two.
    const [excluded, missing, panic, json] = await Promise.all([
      cli(["resolve", "adapter", "orchestration", "dagster", "--url", url]),
      cli(["resolve", "adapter", "storage", "azure-blob", "--url", url]),
      cli(["resolve", "adapter", "orchestration", "dagster", "--panic", "--url", url]),
      cli(["resolve", "adapter", "cache", "--json", "--url", url]),
    ]);
    expect(excluded.code).toBe(1);
    expect(excluded.stdout).toContain("adapter/orchestration/dagster: NO USABLE ADAPTER");
    expect(excluded.stderr).toContain(
      "oneiric-healthd: no usable adapter for adapter/orchestration/dagster (mahavishnu.adapter.orchestration.dagster: unhealthy: HTTP 503",
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no adapter matches adapter/storage/azure-blob");

    expect(panic.code).toBe(1);
    expect(panic.stdout).toContain("PANIC, least bad: mahavishnu.adapter.orchestration.dagster");

    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout);
    expect(answer).toMatchObject({
      requirement: { domain: "adapter", category: "cache" },
      choice: { adapter_id: "mahavishnu.adapter.cache.redis", status: "healthy" },
      fallbacks: [],
      excluded: [{ adapter_id: "mahavishnu.adapter.cache.memcached" }],
      panic: false,
    });
  });

  it("events --since prints one line per event after SEQ, led by its seq", async () => {
    const result = await cli(["events", "--since", "2", "--limit", "3", "--url", url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    lines.forEach((line, index) => {
      expect(line).toMatch(
        new RegExp(
          `^ +${index + 3}  \\d\\d:\\d\\d:\\d\\d  mahavishnu\\.adapter\\.\\S+: discovered$`,
        ),
      );
    });
    expect(result.stderr).toContain("there may be more: --since 5");
    const json = await cli(["events", "--since", "0", "--limit", "1", "--json", "--url", url]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      specversion: "1.0",
      seq: 1,
      type: "io.oneiric.healthd.adapter.discovered",
    });
  });

  it("events --follow streams new events over SSE until SIGINT, then exits 0", async () => {
    const subscribers = eventStreams(daemon);
    const follower = follow(["events", "--follow", "--url", url]);
    try {
      await until("the stream to open", () => eventStreams(daemon) > subscribers);
      daemon.queries.setMaintenance("mahavishnu.adapter.cache.memcached", { reason: "cli test" });
      await until("the event line", () => follower.output.stdout.includes("maintenance started"));
      daemon.queries.liftMaintenance("mahavishnu.adapter.cache.memcached");
      await until("the second line", () => follower.output.stdout.includes("maintenance ended"));
      // Only what happened after it started: no history without --since.
      expect(follower.output.stdout).not.toContain("discovered");
      expect(follower.output.stdout).toMatch(
        /^ +\d+ {2}\d\d:\d\d:\d\d {2}mahavishnu\.adapter\.cache\.memcached: maintenance started \(cli test\)$/m,
      );
    } finally {
      follower.child.kill("SIGINT");
    }
    expect(await follower.exited).toBe(0);
  });

  it("workflow check resolves the example workflows and exits 1 naming the unmet requirement", async () => {
    const result = await cli(["workflow", "check", EXAMPLE_WORKFLOWS, "--url", url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("archive-to-azure (line 69): NOT MET");
    expect(result.stdout).toContain(
      "UNMET  adapter/storage/azure-blob  (adapter_requirements[0], line 72)",
    );
    expect(result.stdout).toMatch(
      /nearest: mahavishnu\.adapter\.storage\.gcs \(healthy; same category, provider gcs\), mahavishnu\.adapter\.storage\.s3 \(healthy; same category, provider s3\), mahavishnu\.adapter\.storage\.sqlite \(unhealthy, not usable; same category, provider sqlite\)/,
    );
    expect(result.stderr).toContain(
      `requirements not met: archive-to-azure: adapter/storage/azure-blob (${EXAMPLE_WORKFLOWS}:72)`,
    );
  });

  it("finds the daemon named by --config, says so, and gives the same answer as the file", async () => {
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(
      config,
      `healthd:\n  http: { listen: "127.0.0.1:${daemon.httpAddress.port}" }\n  storage: { path: ${JSON.stringify(dbPath)} }\n`,
    );
    const viaConfig = await cli(["resolve", "adapter", "storage", "--json", "--config", config]);
    expect(viaConfig.code).toBe(0);
    expect(viaConfig.stderr).toContain(`answering from the daemon at ${url}`);
    const viaFile = await cli(["resolve", "adapter", "storage", "--json", "--db", dbPath]);
    const [daemonAnswer, fileAnswer] = [JSON.parse(viaConfig.stdout), JSON.parse(viaFile.stdout)];
    expect(fileAnswer.choice).toEqual(daemonAnswer.choice);
    expect(fileAnswer.fallbacks).toEqual(daemonAnswer.fallbacks);
    expect(fileAnswer.excluded).toEqual(daemonAnswer.excluded);
    expect(fileAnswer.note).toContain(`read from the database file ${dbPath}`);
  });

  it("DatabaseQueryBackend on the running daemon's file answers as the daemon and follows its commits", async () => {
    const file = new DatabaseQueryBackend({ path: dbPath, now: clock.now });
    const storage = { domain: "adapter", category: "storage" };
    const s3 = "mahavishnu.adapter.storage.s3";
    try {
      expect(await file.listAdapters()).toEqual(daemon.queries.listAdapters());
      const { note, ...fromFile } = await file.resolve(storage);
      expect(fromFile).toEqual(daemon.queries.resolve(storage));
      expect(note).toContain("configured priorities and config maintenance windows");

      // Committed by the daemon while the file is open: the next answer has it.
      daemon.queries.setMaintenance(s3, { reason: "read while running" });
      expect((await file.getAdapter(s3)).maintenance).toEqual({
        until: null,
        reason: "read while running",
      });
      const during = await file.resolve(storage);
      expect(during.choice?.adapter_id).not.toBe(s3);
      expect(during.excluded.map((candidate) => candidate.adapter_id)).toContain(s3);
      daemon.queries.liftMaintenance(s3);
      expect((await file.getAdapter(s3)).maintenance).toBeNull();
      expect(await file.listAdapters()).toEqual(daemon.queries.listAdapters());
    } finally {
      file.close();
    }
  });

  it("HttpQueryBackend answers every query and maps problem answers back to ApiError", async () => {
    const backend = new HttpQueryBackend(url);
    const detail = await backend.getAdapter("mahavishnu.adapter.storage.s3");
    expect(detail.recent_checks.length).toBeGreaterThan(0);
    expect((await backend.listAdapters({ category: "cache" })).adapters).toHaveLength(2);
    const batch = await backend.resolveBatch({
      requirements: [
        { domain: "adapter", category: "memory" },
        { domain: "adapter", category: "storage", provider: "nope" },
      ],
    });
    expect(batch.map((answer) => answer.choice?.adapter_id ?? null)).toEqual([
      "mahavishnu.adapter.memory.chroma",
      null,
    ]);
    const health = await backend.checkHealth("mahavishnu.adapter.storage.s3");
    expect(health.daemon?.status).toBe("healthy");
    expect((await backend.healthCheck()).ready).toBe(true);
    expect(await backend.invalidateCache()).toEqual({ invalidated: true });
    const page = await backend.events({ since: 0, limit: 2 });
    expect(page.events.map((event) => event.seq)).toEqual([1, 2]);

    await expect(backend.getAdapter("nope")).rejects.toMatchObject({
      code: "ADAPTER_NOT_FOUND",
      extra: { adapter_id: "nope" },
    });
    // Refused before sending, with the daemon's own wording.
    await expect(backend.resolve({ domain: "adapter" })).rejects.toMatchObject({
      code: "INVALID_PARAMETER",
    });
    await expect(backend.listAdapters({ colour: "red" })).rejects.toMatchObject({
      code: "UNKNOWN_PARAMETER",
    });
    const port = await unusedPort();
    const nobody = new HttpQueryBackend(`127.0.0.1:${port}`, { timeoutMs: 1_000 });
    const refused = await nobody.healthCheck().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: "NOT_READY" });
    expect((refused as Error).message).toBe(
      `no daemon answering at http://127.0.0.1:${port}: ECONNREFUSED`,
    );
  });
});

describe("events --follow across a daemon restart", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon | undefined;

  beforeAll(async () => {
    dir = tempDir();
    simulator = await startTestSimulator(SCENARIO, new ManualClock());
  });
  afterAll(async () => {
    await daemon?.stop();
    await simulator.stop();
    dir.remove();
  });

  it("resumes with Last-Event-ID: nothing missed, nothing repeated", async () => {
    const config = testConfig(simulator.registryPort, join(dir.path, "healthd.db"));
    daemon = await startTestDaemon(config);
    const port = daemon.httpAddress.port;
    await daemon.checkAllNow();
    const follower = follow(["events", "--follow", "--url", `http://127.0.0.1:${port}`]);
    try {
      const first = daemon;
      await until("the stream to open", () => eventStreams(first) > 0);
      first.queries.setMaintenance("mahavishnu.adapter.storage.gcs", { reason: "before restart" });
      await until("the first event", () => follower.output.stdout.includes("before restart"));
      await first.stop();
      // Declared while the daemon is down would be impossible; the journal carries on after restart.
      daemon = await startTestDaemon({
        ...config,
        http: { ...config.http, listen: { host: "127.0.0.1", port } },
      });
      daemon.queries.liftMaintenance("mahavishnu.adapter.storage.gcs");
      await until("the event after the restart", () =>
        follower.output.stdout.includes("maintenance ended"),
      );
      expect(follower.output.stdout.match(/maintenance started/g)).toHaveLength(1);
      expect(follower.output.stderr).toContain("the daemon closed the event stream");
      expect(follower.output.stderr).toContain("reconnected to daemon at");
    } finally {
      follower.child.kill("SIGTERM");
    }
    expect(await follower.exited).toBe(0);
  });
});

describe("query commands against a stopped daemon's database (--db)", () => {
  let dir: ReturnType<typeof tempDir>;
  let dbPath: string;

  const write = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    const clock = new ManualClock();
    const simulator = await startTestSimulator(SCENARIO, clock);
    const daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath), clock);
    await daemon.checkAllNow();
    await daemon.stop();
    await simulator.stop();
  });
  afterAll(() => dir.remove());

  it("resolve answers from the file, labelled as such; exit 0 and 1", async () => {
    const ok = await cli(["resolve", "adapter", "cache", "--db", dbPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^adapter\/cache\/\*: mahavishnu\.adapter\.cache\.redis \(healthy/);
    expect(ok.stdout).toContain("fallbacks: none");
    expect(ok.stdout).toContain("mahavishnu.adapter.cache.memcached: unhealthy: HTTP 503");
    expect(ok.stdout).toContain(`answered by: database ${dbPath} (read-only, daemon not asked)`);
    expect(ok.stdout).toContain(
      "configured priorities and config maintenance windows are not in the file",
    );
    const none = await cli(["resolve", "adapter", "storage", "azure-blob", "--db", dbPath]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no adapter matches adapter/storage/azure-blob");
  });

  it("events --since prints the journal from the file", async () => {
    const result = await cli(["events", "--since", "8", "--limit", "2", "--db", dbPath]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^ +9 {2}\d\d:\d\d:\d\d {2}mahavishnu\.adapter\.\S+: unknown -> \w+ \(/,
    );
    expect(lines[1]).toMatch(/^ +10 {2}/);
  });

  it("events refuses an expired cursor, and without --since starts at the oldest kept event", async () => {
    const pruned = join(dir.path, "pruned.db");
    copyFileSync(dbPath, pruned);
    const store = new SqliteStore({ path: pruned });
    store.pruneEvents(0, 3);
    const { oldestSeq, newestSeq } = store.journalBounds();
    store.close();
    const expired = await cli(["events", "--since", "0", "--db", pruned]);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain(
      `events after seq 0 are no longer kept; the oldest available is seq ${oldestSeq}`,
    );
    const fromOldest = await cli(["events", "--db", pruned]);
    expect(fromOldest.code).toBe(0);
    expect(
      fromOldest.stdout
        .trimEnd()
        .split("\n")
        .map((line) => Number(line.trim().split(" ")[0])),
    ).toEqual([oldestSeq, (oldestSeq ?? 0) + 1, newestSeq]);
  });

  it("events --follow polls the file while the daemon is stopped", async () => {
    const copy = join(dir.path, "follow.db");
    copyFileSync(dbPath, copy);
    const before = new SqliteStore({ path: copy });
    const newest = before.journalBounds().newestSeq ?? 0;
    before.close();
    // From the seq it has now: whenever the child gets going, it sees what is written next.
    const follower = follow(["events", "--follow", "--since", String(newest), "--db", copy]);
    const writeEvent = (reason: string) => {
      // As the daemon would: state and event in one transaction.
      const store = new SqliteStore({ path: copy });
      store.commit(
        {
          maintenance: [
            {
              adapterId: "mahavishnu.adapter.storage.s3",
              declared: { adapterId: "mahavishnu.adapter.storage.s3", untilMs: null, reason },
            },
          ],
          events: [
            {
              type: "adapter.maintenance_started",
              subject: "mahavishnu.adapter.storage.s3",
              time: Date.now(),
              data: { reason },
            },
          ],
        },
        Date.now(),
      );
      store.close();
    };
    try {
      writeEvent("first write");
      await until("the first event", () => follower.output.stdout.includes("first write"));
      // The child is surely running now: this one can only reach it by polling.
      writeEvent("second write");
      await until("the polled event", () => follower.output.stdout.includes("second write"));
      expect(follower.output.stdout.trimEnd().split("\n")).toHaveLength(2);
    } finally {
      follower.child.kill("SIGINT");
    }
    expect(await follower.exited).toBe(0);
  });

  it("workflow check on the example file: exit 1 naming the unmet requirement, with the nearest adapters", async () => {
    const result = await cli(["workflow", "check", EXAMPLE_WORKFLOWS, "--db", dbPath]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`answered by the database ${dbPath} (read-only`);
    expect(result.stdout).toContain("backup-with-dynamic-storage (line 12): all requirements met");
    expect(result.stdout).toContain(
      'ok     adapter/orchestration/prefect  (step "resolve-prefect", line 50)',
    );
    expect(result.stdout).toContain(
      "UNMET  adapter/storage/azure-blob  (adapter_requirements[0], line 72)",
    );
    expect(result.stdout).toContain(
      'UNMET  adapter/storage/azure-blob  (step "resolve-archive", line 79)',
    );
    expect(result.stdout).toContain(
      "nearest: mahavishnu.adapter.storage.gcs (healthy; same category, provider gcs)",
    );
    expect(result.stdout).toContain("2 of 6 requirements not met");
    expect(result.stderr).toContain("archive-to-azure: adapter/storage/azure-blob");

    const json = await cli(["workflow", "check", EXAMPLE_WORKFLOWS, "--json", "--db", dbPath]);
    const report = JSON.parse(json.stdout);
    expect(report.met).toBe(false);
    expect(report.workflows.map((workflow: { met: boolean }) => workflow.met)).toEqual([
      true,
      true,
      false,
    ]);
    expect(report.workflows[2].requirements[0].suggestions[0]).toEqual({
      adapter_id: "mahavishnu.adapter.storage.gcs",
      status: "healthy",
      usable: true,
      why: "same category, provider gcs",
    });
  });

  it("workflow check exits 0 when every requirement is met, warning about unknown workflow keys", async () => {
    const path = write(
      "met.yaml",
      ALL_MET.replace(
        "  - name: nightly-backup\n",
        "  - name: nightly-backup\n    schedule: daily\n",
      ),
    );
    const result = await cli(["workflow", "check", path, "--db", dbPath]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("nightly-backup (line 2): all requirements met");
    expect(result.stdout).toContain("all 3 requirements of 1 workflow met");
    expect(result.stderr).toContain(
      `warning: ${path}:3: workflow "nightly-backup": unknown key schedule`,
    );
  });

  it("accepts the integration plan's single-workflow documents", async () => {
    const path = write(
      "single.yaml",
      `name: "execute-with-prefect"
description: "Execute workflow using Prefect orchestration"
steps:
  - name: "resolve-prefect"
    tool: "oneiric_resolve_adapter"
    params: { domain: "adapter", category: "orchestration", provider: "prefect" }
---
name: "backup"
steps:
  - name: "find-storage"
    tool: "oneiric_list_adapters"
    params: { domain: "adapter", category: "storage", healthy_only: true }
`,
    );
    const result = await cli(["workflow", "check", path, "--db", dbPath]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("backup (line 8): no adapter requirements");
  });

  it.each([
    [
      "bad YAML",
      "workflows:\n  - name: a\n    steps: [\n      { tool: x\n",
      /:\d+: not valid YAML: /,
    ],
    [
      "a requirement missing category",
      "workflows:\n  - name: a\n    adapter_requirements:\n      - domain: adapter\n        provider: s3\n",
      /:4: workflow "a" adapter_requirements\[0\]: category is required$/,
    ],
    [
      "a resolve step missing category",
      "name: a\nsteps:\n  - name: r\n    tool: oneiric_resolve_adapter\n    args: { domain: adapter }\n",
      /:5: workflow "a" step "r": category is required$/,
    ],
    [
      "an unknown oneiric_* tool",
      "workflows:\n  - name: a\n    steps:\n      - name: x\n        tool: oneiric_resolve_adaptor\n",
      /:5: workflow "a" step "x": unknown Oneiric tool "oneiric_resolve_adaptor" \(known: /,
    ],
    [
      "a misspelt requirement key",
      "workflows:\n  - name: a\n    adapter_requirements:\n      - domain: adapter\n        category: storage\n        provder: s3\n",
      /:6: workflow "a" adapter_requirements\[0\]: provder: unknown key$/,
    ],
    ["no workflows", "# nothing here\n", /:1: no workflows in the file$/],
  ])("workflow check exits 2 on %s, naming the file and line", async (_name, text, expected) => {
    const path = write("bad.yaml", text);
    // No daemon and no database: the file is judged before any source is chosen.
    const result = await cli(["workflow", "check", path]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim()).toMatch(/^oneiric-healthd: invalid workflow file: /);
    expect(result.stderr.trim()).toContain(`${path}:`);
    expect(result.stderr.trim()).toMatch(expected);
  });

  it("workflow check exits 2 for a missing file and 64 without one", async () => {
    const [missing, noFile, unknown] = await Promise.all([
      cli(["workflow", "check", join(dir.path, "absent.yaml")]),
      cli(["workflow", "check"]),
      cli(["workflow", "lint", "x"]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("absent.yaml: file not found");
    expect(noFile.code).toBe(64);
    expect(unknown.code).toBe(64);
  });

  it("DatabaseQueryBackend keeps to what the file can say", async () => {
    const backend = new DatabaseQueryBackend({ path: dbPath });
    try {
      const detail = await backend.getAdapter("mahavishnu.adapter.storage.s3");
      expect(detail).toMatchObject({ status: "healthy", recent_checks: [] });
      expect(await backend.checkHealth("mahavishnu.adapter.storage.s3")).toMatchObject({
        registry: null,
        registry_error: "the registry is not asked when reading a database file",
      });
      expect((await backend.listAdapters({ healthy_only: "true" })).adapters).toHaveLength(5);
      await expect(backend.getAdapter("nope")).rejects.toMatchObject({ code: "ADAPTER_NOT_FOUND" });
      await expect(backend.invalidateCache()).rejects.toMatchObject({
        code: "NOT_READY",
        message: expect.stringContaining("needs a running daemon (pass --url)"),
      });
      await expect(backend.healthCheck()).rejects.toMatchObject({ code: "NOT_READY" });
      await expect(backend.listAdapters({ status: "fine" })).rejects.toMatchObject({
        code: "INVALID_PARAMETER",
      });
    } finally {
      backend.close();
    }
    const absent = new DatabaseQueryBackend({ path: join(dir.path, "absent.db") });
    await expect(absent.listAdapters()).rejects.toMatchObject({ code: "NOT_READY" });
  });

  it("mcp serves the oneiric_* tools on stdio from the file, and exits 0 when stdin ends", async () => {
    const child = spawn(process.execPath, [CLI, "mcp", "--db", dbPath], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "cli-test", version: "1" },
      },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: {
        name: "oneiric_resolve_adapter",
        arguments: { domain: "adapter", category: "cache" },
      },
    });
    const responses = () =>
      stdout
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as { id?: number; result?: Record<string, unknown> });
    await until("two MCP answers", () => responses().length >= 2);
    child.stdin.end();
    expect(await exited).toBe(0);
    const [hello, resolved] = responses();
    expect(hello?.result?.serverInfo).toMatchObject({ name: "oneiric-healthd", version: "0.1.0" });
    expect(resolved?.id).toBe(2);
    expect(resolved?.result?.structuredContent).toMatchObject({
      choice: { adapter_id: "mahavishnu.adapter.cache.redis" },
    });
  });

  it("without --url or --db falls back to the configured file when no daemon answers", async () => {
    const port = await unusedPort();
    const config = write(
      "healthd.yaml",
      `healthd:\n  http: { listen: "127.0.0.1:${port}" }\n  storage: { path: ${JSON.stringify(dbPath)} }\n`,
    );
    const result = await cli(["resolve", "adapter", "memory", "--config", config]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `no daemon answering at http://127.0.0.1:${port}; answering from the database ${dbPath}`,
    );
    expect(result.stdout).toContain(
      `priorities and fixed maintenance windows from ${config} apply`,
    );
    const both = await cli(["resolve", "adapter", "memory", "--url", "x:1", "--db", dbPath]);
    expect(both.code).toBe(64);
  });
});
