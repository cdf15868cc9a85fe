/**
 * `uptime` as people run it (a child process of the CLI), against a real
 * daemon over a real simulator on a manual clock, and against its database
 * file: a scripted minute of outage ranks its adapter first, from either.
 */
import { createServer } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { runCli } from "./support/cli-process.js";
import {
  getJson,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: up
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
`;
const S3 = "up.adapter.storage.s3";
const GCS = "up.adapter.storage.gcs";
/** Rise and fall 1, so the scripted minute is exactly the down time; no breaker in the way. */
const POLICY = `  breaker: { threshold: 1000 }
  overrides:
    - { match: { project: up }, probes: { rise: 1, fall: 1 } }
`;

describe("uptime", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let url: string;
  let dbPath: string;

  async function checkFor(minutes: number): Promise<void> {
    for (let step = 0; step < minutes * 4; step++) {
      await daemon.checkAllNow();
      clock.advance(15_000);
    }
  }

  beforeAll(async () => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    // Ten minutes ago, on a minute: the file, read by the wall clock, still has it in its last hour.
    clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath, POLICY), clock);
    url = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await checkFor(2);
    simulator.setBehaviour(S3, "down");
    await checkFor(1);
    simulator.setBehaviour(S3, null);
    await checkFor(2);
    await daemon.checkAllNow();
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator?.stop();
    dir?.remove();
  });

  it("prints a table worst first, the window and the filters asked of the daemon", async () => {
    const result = await runCli(["uptime", "--window", "1h", "--url", url]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^uptime over 1h: \S+Z to \S+Z$/);
    expect(lines[1]).toMatch(/^ADAPTER +UPTIME +DOWN +MAINTENANCE +UNKNOWN +COVERAGE$/);
    const rows = lines.slice(2).map((line) => line.split(/ +/));
    expect(rows.map(([adapter, , down]) => [adapter, down])).toEqual([
      [S3, "1m"],
      [GCS, "0s"],
    ]);
    const onlyGcs = await runCli(["uptime", "--window", "1h", "--provider", "gcs", "--url", url]);
    expect(onlyGcs.stdout).toContain(GCS);
    expect(onlyGcs.stdout).not.toContain(S3);
  });

  it("--json prints the daemon's answer as is; the window defaults to 24h", async () => {
    const result = await runCli(["uptime", "--json", "--url", url]);
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer).toEqual((await getJson(daemon, "/v1/uptime?window=24h")).body);
    expect(answer.window).toBe("24h");
  });

  it("reads the history the daemon wrote to its file, without asking it", async () => {
    const result = await runCli(["uptime", "--window", "1h", "--json", "--db", dbPath]);
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as {
      adapters: { adapter_id: string; down_s: number }[];
    };
    expect(
      Object.fromEntries(answer.adapters.map((entry) => [entry.adapter_id, entry.down_s])),
    ).toEqual({
      [S3]: 60,
      [GCS]: 0,
    });
  });

  it("a window it does not take is a usage error naming the flag, the windows and the closest", async () => {
    const result = await runCli(["uptime", "--window", "30", "--url", url]);
    expect(result.code).toBe(64);
    expect(result.stderr).toBe(
      'oneiric-healthd: --window must be one of "1h", "24h", "7d", "30d", "90d"; got "30"; did you mean --window 30d?\n' +
        "Run oneiric-healthd uptime --help for usage.\n",
    );
  });

  it("a daemon without GET /v1/uptime (an older one) is named as such, exit 1", async () => {
    const older = createServer((_request, response) => {
      response.writeHead(404, { "content-type": "application/problem+json" });
      response.end(JSON.stringify({ code: "NOT_FOUND", detail: "no route GET /v1/uptime" }));
    });
    await new Promise<void>((resolve) => older.listen(0, "127.0.0.1", resolve));
    const address = older.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    try {
      const result = await runCli(["uptime", "--url", `127.0.0.1:${address.port}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `oneiric-healthd: daemon at http://127.0.0.1:${address.port} does not answer GET /v1/uptime (no route GET /v1/uptime); it may be older than this oneiric-healthd\n`,
      );
    } finally {
      await new Promise<void>((resolve) => older.close(() => resolve()));
    }
  });
});
