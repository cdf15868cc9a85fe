/**
 * `oneiric_uptime` against a real daemon over a real simulator on a manual
 * clock: a scripted minute of outage and a minute of maintenance, asked over
 * the daemon's own /mcp and, once the daemon has stopped, over stdio from its
 * database file (`oneiric-healthd mcp --db FILE`).
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ERROR_META_KEY } from "../src/api/mcp/mcp-server.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { CLI } from "./support/cli-process.js";
import {
  getJson,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: mcpup
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis }
`;
const S3 = "mcpup.adapter.storage.s3";
const GCS = "mcpup.adapter.storage.gcs";
const REDIS = "mcpup.adapter.cache.redis";
/** Rise and fall 1, so the scripted minute is exactly the down time; no breaker in the way. */
const POLICY = `  breaker: { threshold: 1000 }
  overrides:
    - { match: { project: mcpup }, probes: { rise: 1, fall: 1 } }
`;

type Answer = CallToolResult & {
  // biome-ignore lint/suspicious/noExplicitAny: assertions inspect structured results structurally
  structuredContent?: Record<string, any>;
};

interface Entry {
  adapter_id: string;
  up_s: number;
  down_s: number;
  maintenance_s: number;
}

async function uptime(client: Client, args: Record<string, unknown>): Promise<Answer> {
  return (await client.callTool({ name: "oneiric_uptime", arguments: args })) as Answer;
}

function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === "text" ? item.text : "")).join("\n");
}

/** An adapter id as a regular expression matching it literally. */
function literal(id: string): string {
  return id.replaceAll(".", "\\.");
}

function byAdapter(entries: Entry[], pick: (entry: Entry) => unknown) {
  return Object.fromEntries(entries.map((entry) => [entry.adapter_id, pick(entry)]));
}

describe("oneiric_uptime", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let dbPath: string;
  let running = false;
  const clients: Client[] = [];

  async function checkFor(minutes: number): Promise<void> {
    for (let step = 0; step < minutes * 4; step++) {
      await daemon.checkAllNow();
      clock.advance(15_000);
    }
  }

  async function maintenance(method: "PUT" | "DELETE", adapterId: string): Promise<void> {
    const response = await fetch(
      `http://127.0.0.1:${daemon.httpAddress.port}/v1/adapters/${adapterId}/maintenance`,
      { method, ...(method === "PUT" ? { body: JSON.stringify({ reason: "upgrade" }) } : {}) },
    );
    expect(response.status).toBe(200);
  }

  async function connect(): Promise<Client> {
    const client = new Client({ name: "mcp-uptime-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${daemon.httpAddress.port}/mcp`)),
    );
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    // Ten minutes ago, on a minute: the file, read by the wall clock, still has it in its last hour.
    clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath, POLICY), clock);
    running = true;
    await checkFor(2);
    simulator.setBehaviour(S3, "down");
    await maintenance("PUT", GCS);
    await checkFor(1);
    simulator.setBehaviour(S3, null);
    await maintenance("DELETE", GCS);
    await checkFor(2);
    await daemon.checkAllNow();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => {})));
  });

  afterAll(async () => {
    if (running) await daemon?.stop();
    await simulator?.stop();
    dir?.remove();
  });

  it("is listed read-only, advertising the windows, the default and the list filters", async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    const tool = tools.find((candidate) => candidate.name === "oneiric_uptime");
    expect(tool?.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
    });
    expect(tool?.inputSchema).toMatchObject({
      type: "object",
      additionalProperties: false,
      properties: {
        window: { type: "string", enum: ["1h", "24h", "7d", "30d", "90d"], default: "24h" },
        status: { type: "string", enum: ["unknown", "healthy", "degraded", "unhealthy"] },
        category: { type: "string", minLength: 1, maxLength: 256 },
        healthy_only: { type: "boolean" },
      },
    });
    expect(tool?.inputSchema.required).toBeUndefined();
    expect(tool?.outputSchema?.properties).toHaveProperty("adapters");
    expect(tool?.outputSchema?.properties).toHaveProperty("count");
  });

  it("answers the figures GET /v1/uptime answers for the same window and filters, plus count", async () => {
    const client = await connect();
    const questions: [Record<string, unknown>, string][] = [
      [{}, ""],
      [{ window: "1h" }, "window=1h"],
      [{ window: "1h", category: "storage" }, "window=1h&category=storage"],
      [{ window: "7d", domain: "adapter", provider: "s3" }, "window=7d&domain=adapter&provider=s3"],
      [{ window: "90d", healthy_only: true }, "window=90d&healthy_only=true"],
      [
        { window: "30d", project: "mcpup", status: "unhealthy" },
        "window=30d&project=mcpup&status=unhealthy",
      ],
    ];
    for (const [args, query] of questions) {
      const answer = await uptime(client, args);
      expect(answer.isError, text(answer)).toBeFalsy();
      const http = await getJson(daemon, `/v1/uptime?${query}`);
      expect(http.status).toBe(200);
      expect({ args, answer: answer.structuredContent }).toEqual({
        args,
        answer: { ...http.body, count: http.body.adapters.length },
      });
    }

    const hour = await uptime(client, { window: "1h", category: "storage" });
    const adapters = hour.structuredContent?.adapters as Entry[];
    expect(byAdapter(adapters, (entry) => entry.down_s)).toEqual({ [S3]: 60, [GCS]: 0 });
    expect(byAdapter(adapters, (entry) => entry.maintenance_s)).toEqual({ [S3]: 0, [GCS]: 60 });
    expect(hour.structuredContent?.window).toBe("1h");
    expect(hour.structuredContent?.count).toBe(2);
    expect((await uptime(client, {})).structuredContent?.window).toBe("24h");
  });

  it("says in text what uptime leaves out, then each adapter, worst first", async () => {
    const client = await connect();
    const lines = text(await uptime(client, { window: "1h" })).split("\n");
    expect(lines[0]).toMatch(/^uptime over 1h \(\S+Z to \S+Z\) of 3 adapter\(s\), worst first: /);
    expect(lines[0]).toContain("maintenance and unknown time");
    expect(lines.slice(1)).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(`^- ${literal(S3)}: \\d+\\.\\d\\d% up over 1h \\(down 1m, \\S+% seen\\)$`),
    );
    // Ties (100%, nothing down) by id.
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(
        new RegExp(`^- ${literal(REDIS)}: 100% up over 1h \\(down 0s, \\S+% seen\\)$`),
      ),
      expect.stringMatching(
        new RegExp(
          `^- ${literal(GCS)}: 100% up over 1h \\(down 0s, maintenance 1m, \\S+% seen\\)$`,
        ),
      ),
    ]);
  });

  it("answers a window it does not take as INVALID_PARAMETER naming window, worded as over HTTP", async () => {
    const client = await connect();
    const bad = await uptime(client, { window: "30" });
    expect(bad.isError).toBe(true);
    const http = await getJson(daemon, "/v1/uptime?window=30");
    expect(http.status).toBe(400);
    expect(http.body).toMatchObject({ code: "INVALID_PARAMETER", parameter: "window" });
    expect(text(bad)).toBe(`INVALID_PARAMETER: ${http.body.detail}`);
    expect(text(bad)).toContain('window must be one of "1h", "24h", "7d", "30d", "90d"; got "30"');
    expect(bad._meta?.[ERROR_META_KEY]).toMatchObject({
      code: "INVALID_PARAMETER",
      parameter: "window",
    });

    // Of the wrong JSON type too: the daemon's rules, not the SDK's wording.
    const number = await uptime(client, { window: 7 });
    expect(number.isError).toBe(true);
    expect(number._meta?.[ERROR_META_KEY]).toMatchObject({ parameter: "window" });
    expect(text(number)).toMatch(/^INVALID_PARAMETER: window must be one of /);

    const misspelt = await uptime(client, { windw: "7d" });
    expect(misspelt.isError).toBe(true);
    expect(text(misspelt)).toMatch(/^UNKNOWN_PARAMETER: .*windw/);
  });

  // Last: it stops the daemon.
  it("answers over stdio from the database file a stopped daemon wrote", async () => {
    const client = await connect();
    const before = (await uptime(client, { window: "1h" })).structuredContent?.adapters as Entry[];
    await client.close();
    await daemon.stop();
    running = false;

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "mcp", "--db", dbPath],
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const stdio = new Client({ name: "mcp-uptime-test", version: "1.0.0" });
    try {
      await stdio.connect(transport);
      const fromFile = await uptime(stdio, { window: "1h" });
      expect(fromFile.isError, `${text(fromFile)}\n${stderr}`).toBeFalsy();
      const adapters = fromFile.structuredContent?.adapters as Entry[];
      expect(fromFile.structuredContent?.count).toBe(3);
      // The file's history is the daemon's: the same up, down and maintenance time.
      const figures = (entry: Entry) => [entry.up_s, entry.down_s, entry.maintenance_s];
      expect(byAdapter(adapters, figures)).toEqual(byAdapter(before, figures));
      expect(byAdapter(adapters, (entry) => entry.down_s)).toMatchObject({ [S3]: 60 });
      expect(text(fromFile).split("\n")[1]).toMatch(new RegExp(`^- ${literal(S3)}: `));

      const storage = await uptime(stdio, { window: "1h", provider: "gcs" });
      expect(storage.structuredContent?.adapters).toEqual([
        expect.objectContaining({ adapter_id: GCS, maintenance_s: 60 }),
      ]);

      const bad = await uptime(stdio, { window: "2w" });
      expect(bad.isError).toBe(true);
      expect(bad._meta?.[ERROR_META_KEY]).toMatchObject({
        code: "INVALID_PARAMETER",
        parameter: "window",
      });
    } finally {
      await stdio.close();
    }
    expect(stderr).not.toMatch(/error/i);
  });
});
