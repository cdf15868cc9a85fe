/**
 * One JSON convention on every surface (HTTP, MCP, CLI --json, logs): every key
 * snake_case, every `*_ms` number to the microsecond at most; and validation
 * messages that name the parameter, what it must be and what was given.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../src/api/http/openapi.js";
import { createLogger, type RunningDaemon, startDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { ManualClock, startTestSimulator, tempDir, testConfig } from "./support/stack.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");

const SCENARIO = `
project: names
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: storage, provider: sqlite, behaviour: down }
  - { category: cache, provider: redis, behaviour: slow, slow_ms: 3 }
`;
const S3 = "names.adapter.storage.s3";
const REDIS = "names.adapter.cache.redis";

const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/**
 * Objects whose keys are values, not names: an adapter's own metadata, counts
 * by status and by breaker state ("half-open" is a state's name).
 */
const KEYED_BY_VALUE = new Set(["metadata", "by_status", "breakers"]);

/** Every key at every depth that is not snake_case, and every `*_ms` number past 3 decimals. */
function conventionBreaks(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => conventionBreaks(item, `${path}[${index}]`));
  }
  if (value === null || typeof value !== "object") return [];
  const found: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const where = `${path}.${key}`;
    if (!SNAKE_CASE.test(key)) found.push(`${where}: not snake_case`);
    if (key.endsWith("_ms") && typeof child === "number") {
      const decimals = String(child).split(".")[1]?.length ?? 0;
      if (decimals > 3) found.push(`${where}: ${child} has ${decimals} decimals`);
    }
    if (!KEYED_BY_VALUE.has(key)) found.push(...conventionBreaks(child, where));
  }
  return found;
}

/** Every `*_ms` number found, so a test can show the walk saw real latencies. */
function msValues(value: unknown): number[] {
  if (Array.isArray(value)) return value.flatMap(msValues);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key.endsWith("_ms") && typeof child === "number" ? [child] : msValues(child),
  );
}

describe("the JSON convention and the validation messages", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let base: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
    const lines = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    });
    daemon = await startDaemon(testConfig(simulator.registryPort, join(dir.path, "healthd.db")), {
      logger: createLogger("debug", lines),
      now: clock.now,
      sharedClock: clock.cell,
    });
    base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await daemon.checkAllNow();
    await daemon.checkAllNow();
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator?.stop();
    dir?.remove();
  });

  async function call(path: string, init: RequestInit = {}) {
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get("content-type") ?? "",
      // biome-ignore lint/suspicious/noExplicitAny: assertions inspect arbitrary JSON bodies
      body: text === "" ? undefined : (JSON.parse(text) as any),
    };
  }

  const post = (path: string, body: unknown) =>
    call(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("names every property of the OpenAPI document in snake_case", () => {
    const document = openApiDocument("0.0.0-test");
    const names: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const item of node) walk(item);
        return;
      }
      if (node === null || typeof node !== "object") return;
      for (const [key, child] of Object.entries(node)) {
        if (key === "properties" && child !== null && typeof child === "object") {
          names.push(...Object.keys(child));
        }
        walk(child);
      }
    };
    walk(document);
    const parameters = Object.values(document.paths as Record<string, Record<string, unknown>>)
      .flatMap((operations) => Object.values(operations))
      .flatMap(
        (operation) =>
          ((operation as { parameters?: { name: string; in: string }[] }).parameters ?? []) as {
            name: string;
            in: string;
          }[],
      )
      .filter((parameter) => parameter.in !== "header")
      .map((parameter) => parameter.name);
    expect(names).toContain("excluded_because");
    expect(names).toContain("fallbacks_total");
    expect([...names, ...parameters].filter((name) => !SNAKE_CASE.test(name))).toEqual([]);
  });

  it("answers every documented endpoint in snake_case with latencies to the microsecond", async () => {
    const document = openApiDocument("0.0.0-test");
    const until = new Date(clock.value + 3_600_000).toISOString();
    // One valid request for each documented operation; a new one must be added here.
    const requests: Record<string, () => ReturnType<typeof call>> = {
      "GET /v1/adapters": () => call("/v1/adapters"),
      "GET /v1/adapters/{adapter_id}": () => call(`/v1/adapters/${REDIS}`),
      "GET /v1/adapters/{adapter_id}/health": () => call(`/v1/adapters/${REDIS}/health`),
      "PUT /v1/adapters/{adapter_id}/maintenance": () =>
        call(`/v1/adapters/${S3}/maintenance`, {
          method: "PUT",
          body: JSON.stringify({ until, reason: "naming test" }),
        }),
      "DELETE /v1/adapters/{adapter_id}/maintenance": () =>
        call(`/v1/adapters/${S3}/maintenance`, { method: "DELETE" }),
      "GET /v1/resolve": () => call("/v1/resolve?domain=adapter&category=storage"),
      "POST /v1/resolve": () =>
        post("/v1/resolve", {
          requirements: [
            { domain: "adapter", category: "storage" },
            { domain: "adapter", category: "cache", panic: true },
          ],
        }),
      "GET /v1/events": () => call("/v1/events?since=0&limit=1000"),
      "GET /v1/adapters/{adapter_id}/history": () =>
        call(`/v1/adapters/${REDIS}/history?window=1h&bucket=1m`),
      "GET /v1/uptime": () => call("/v1/uptime?window=24h"),
      "GET /v1/history": () => call("/v1/history?bucket=1m&buckets=10"),
      "POST /v1/cache/invalidate": () => call("/v1/cache/invalidate", { method: "POST" }),
      "GET /v1/health": () => call("/v1/health"),
      "GET /healthz": () => call("/healthz"),
      "GET /readyz": () => call("/readyz"),
    };
    // Not JSON answers of the daemon's own: Prometheus text, this document, MCP (below), the
    // badges, which are SVG images (test/badges.test.ts; their 400s are the usual problems), the
    // status page's files; and the page's login, which needs auth on (test/status-page-serving.test.ts).
    const elsewhere = new Set([
      "GET /metrics",
      "GET /openapi.json",
      "POST /mcp",
      "GET /v1/badges/{adapter_id}.svg",
      "GET /v1/badges/category/{category}.svg",
      "GET /",
      "GET /ui/{file}",
      "POST /v1/session",
      "DELETE /v1/session",
    ]);
    const documented = Object.entries(document.paths as Record<string, object>).flatMap(
      ([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.filter((operation) => !elsewhere.has(operation)).sort()).toEqual(
      Object.keys(requests).sort(),
    );
    const seenMs: number[] = [];
    for (const [operation, request] of Object.entries(requests)) {
      const answer = await request();
      expect({ operation, status: answer.status }).toEqual({ operation, status: 200 });
      expect({ operation, breaks: conventionBreaks(answer.body) }).toEqual({
        operation,
        breaks: [],
      });
      seenMs.push(...msValues(answer.body));
    }
    // The walk saw measured latencies (not only whole numbers), so rounding was exercised.
    expect(seenMs.some((ms) => !Number.isInteger(ms))).toBe(true);
    const resolved = (await call("/v1/resolve?domain=adapter&category=storage")).body;
    expect(resolved.choice).toHaveProperty("adapter_id");
    expect(resolved.choice).toHaveProperty("latency_ms");
    expect(resolved.excluded[0]).toMatchObject({
      adapter_id: "names.adapter.storage.sqlite",
      excluded_because: expect.stringMatching(/^unhealthy/),
    });
  });

  it("answers every MCP tool in snake_case", async () => {
    const client = new Client({ name: "naming-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    try {
      const args: Record<string, Record<string, unknown>> = {
        oneiric_list_adapters: {},
        oneiric_get_adapter: { adapter_id: REDIS },
        oneiric_check_health: { adapter_id: REDIS },
        oneiric_resolve_adapter: { domain: "adapter", category: "storage" },
        oneiric_invalidate_cache: {},
        oneiric_health_check: {},
        oneiric_uptime: { window: "1h" },
      };
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(Object.keys(args).sort());
      for (const [name, toolArgs] of Object.entries(args)) {
        const result = (await client.callTool({ name, arguments: toolArgs })) as CallToolResult;
        expect({ name, isError: result.isError ?? false }).toEqual({ name, isError: false });
        expect({ name, breaks: conventionBreaks(result.structuredContent) }).toEqual({
          name,
          breaks: [],
        });
      }
    } finally {
      await client.close();
    }
  });

  it("prints resolve and workflow check --json in snake_case", async () => {
    const workflows = join(dir.path, "workflows.yaml");
    writeFileSync(
      workflows,
      "workflows:\n  - name: nightly\n    adapter_requirements:\n      - { domain: adapter, category: storage }\n",
    );
    for (const args of [
      ["resolve", "adapter", "storage", "--json", "--url", base],
      ["workflow", "check", workflows, "--json", "--url", base],
    ]) {
      const { stdout } = await run(process.execPath, [CLI, ...args]);
      const printed = JSON.parse(stdout);
      expect(msValues(printed).length).toBeGreaterThan(0);
      expect({ args, breaks: conventionBreaks(printed) }).toEqual({ args, breaks: [] });
    }
  });

  it("writes log lines in snake_case with timings to the microsecond", () => {
    const parsed = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const messages = parsed.map((line) => line.msg);
    expect(messages).toContain("state restored");
    expect(messages).toContain("ready");
    expect(messages).toContain("adapter health changed");
    const ready = parsed.find((line) => line.msg === "ready");
    expect(ready).toHaveProperty("since_process_start_ms");
    expect(parsed.flatMap((line) => conventionBreaks(line))).toEqual([]);
  });

  describe("validation messages", () => {
    it("words the raw validator messages: a flag, an integer, the body's type, a missing field", async () => {
      expect((await call("/v1/adapters?healthy_only=yes")).body).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
        parameter: "healthy_only",
        detail: 'healthy_only must be true or false; got "yes"',
      });
      expect((await call("/v1/events?since=abc")).body).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
        parameter: "since",
        detail: 'since must be an integer ≥ 0; got "abc"',
      });
      expect((await post("/v1/resolve", [{ domain: "adapter" }])).body).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
        parameter: "body",
        detail: "the request body must be a JSON object; got an array",
      });
      expect((await call("/v1/resolve?category=storage")).body).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
        parameter: "domain",
        detail: 'domain is required (a string such as "adapter")',
      });
      expect(
        (await post("/v1/resolve", { requirements: [{ domain: "adapter" }] })).body,
      ).toMatchObject({
        parameter: "requirements.0.category",
        detail: 'requirements.0.category is required (a string such as "storage")',
      });
    });

    it("rejects an unknown body key as UNKNOWN_PARAMETER, suggesting the closest known one", async () => {
      // The misspelt key also leaves `requirements` missing: the unknown key is the news.
      expect(
        (await post("/v1/resolve", { requirments: [{ domain: "adapter", category: "storage" }] }))
          .body,
      ).toMatchObject({
        status: 400,
        code: "UNKNOWN_PARAMETER",
        parameter: "requirments",
        detail: 'unknown body field "requirments" (did you mean "requirements"?)',
      });
      expect(
        (
          await post("/v1/resolve", {
            requirements: [{ domain: "adapter", category: "storage", provder: "s3" }],
          })
        ).body,
      ).toMatchObject({
        code: "UNKNOWN_PARAMETER",
        parameter: "requirements.0.provder",
        detail: 'unknown body field "requirements.0.provder" (did you mean "provider"?)',
      });
      expect(
        (
          await call(`/v1/adapters/${S3}/maintenance`, {
            method: "PUT",
            body: JSON.stringify({ reasn: "upgrade" }),
          })
        ).body,
      ).toMatchObject({
        code: "UNKNOWN_PARAMETER",
        detail: 'unknown body field "reasn" (did you mean "reason"?)',
      });
    });

    it("rejects query parameters on /v1 routes that take none, instead of ignoring them", async () => {
      expect((await call("/v1/health?verbose=1")).body).toMatchObject({
        status: 400,
        code: "UNKNOWN_PARAMETER",
        parameter: "verbose",
        detail: 'unknown parameter "verbose"; this path takes none',
      });
      expect((await call("/v1/events?limt=5")).body).toMatchObject({
        code: "UNKNOWN_PARAMETER",
        detail: 'unknown parameter "limt" (did you mean "limit"?)',
      });
    });

    it("gives MCP tool arguments the same words", async () => {
      const client = new Client({ name: "messages-test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
      try {
        const missing = (await client.callTool({
          name: "oneiric_resolve_adapter",
          arguments: { domain: "adapter", category: "storage", limit: "many" },
        })) as CallToolResult;
        expect(missing.isError).toBe(true);
        expect(missing.content[0]).toMatchObject({
          text: 'INVALID_PARAMETER: limit must be an integer from 0 to 1000; got "many"',
        });
        // The SDK's own check would say "expected boolean, received string at healthy_only".
        const flag = (await client.callTool({
          name: "oneiric_list_adapters",
          arguments: { healthy_only: "yes" },
        })) as CallToolResult;
        expect(flag.content[0]).toMatchObject({
          text: 'INVALID_PARAMETER: healthy_only must be true or false; got "yes"',
        });
        const absent = (await client.callTool({
          name: "oneiric_resolve_adapter",
          arguments: { category: "storage" },
        })) as CallToolResult;
        expect(absent.content[0]).toMatchObject({
          text: 'INVALID_PARAMETER: domain is required (a string such as "adapter")',
        });
        const unknown = (await client.callTool({
          name: "oneiric_get_adapter",
          arguments: { adapter_id: S3, verbose: true },
        })) as CallToolResult;
        expect(unknown.content[0]).toMatchObject({
          text: 'UNKNOWN_PARAMETER: unknown argument "verbose"; known: adapter_id',
        });
      } finally {
        await client.close();
      }
    });
  });
});
