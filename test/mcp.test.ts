import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type CallToolResult,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../src/api/api-error.js";
import { createMcpHttpHandler, type McpHttpHandler } from "../src/api/mcp/mcp-http.js";
import {
  ADAPTERS_URI,
  adapterUri,
  createMcpServer,
  ERROR_META_KEY,
  TOOL_NAMES,
} from "../src/api/mcp/mcp-server.js";
import { localBackend, type QueryBackend } from "../src/api/query-backend.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { testFileBackend } from "./support/mcp-file-backend.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: mcptest
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs, endpoint: grpc }
  - { category: cache, provider: redis, behaviour: down }
  - { category: orchestration, provider: prefect, behaviour: slow, slow_ms: 450 }
`;
const S3 = "mcptest.adapter.storage.s3";
const GCS = "mcptest.adapter.storage.gcs";
const REDIS = "mcptest.adapter.cache.redis";
const PREFECT = "mcptest.adapter.orchestration.prefect";
const ENTRY = join(import.meta.dirname, "support", "mcp-stdio-entry.ts");

type Structured = Record<string, unknown> & {
  // biome-ignore lint/suspicious/noExplicitAny: assertions inspect structured results structurally
  [key: string]: any;
};

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult & { structuredContent?: Structured }> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult & {
    structuredContent?: Structured;
  };
}

function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === "text" ? item.text : "")).join("\n");
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects `notifications/resources/updated` URIs a client receives. */
function collectUpdates(client: Client): string[] {
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    updates.push(notification.params.uri);
  });
  return updates;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

describe("MCP over streamable HTTP, inside the daemon", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let handler: McpHttpHandler;
  let http: Server;
  let url: URL;
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db")),
      clock,
    );
    await daemon.checkAllNow();
    handler = createMcpHttpHandler(() => localBackend(daemon.queries), {
      version: "0.0.0-test",
      hub: daemon.hub,
      maxSessions: 3,
    });
    http = createServer((request, response) => void handler.handle(request, response));
    url = new URL(`http://127.0.0.1:${await listen(http)}/mcp`);
  });

  afterAll(async () => {
    await handler.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await daemon.stop();
    await simulator.stop();
    dir.remove();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => {})));
  });

  async function connect(): Promise<Client> {
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(url));
    clients.push(client);
    return client;
  }

  it("lists exactly the seven tools, with input schemas that advertise the daemon's constraints", async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOL_NAMES].sort());
    const list = tools.find((tool) => tool.name === "oneiric_list_adapters");
    expect(list?.inputSchema).toMatchObject({
      type: "object",
      additionalProperties: false,
      properties: {
        status: { type: "string", enum: ["unknown", "healthy", "degraded", "unhealthy"] },
        domain: { type: "string", minLength: 1, maxLength: 256 },
        healthy_only: { type: "boolean" },
      },
    });
    const resolve = tools.find((tool) => tool.name === "oneiric_resolve_adapter");
    expect(resolve?.inputSchema.required?.sort()).toEqual(["category", "domain"]);
    for (const tool of tools) expect(tool.outputSchema).toBeDefined();
    expect(client.getServerVersion()).toMatchObject({
      name: "oneiric-healthd",
      version: "0.0.0-test",
    });
  });

  it("lists adapters, filtered, with structured results", async () => {
    const client = await connect();
    const all = await call(client, "oneiric_list_adapters");
    expect(all.isError).toBeFalsy();
    expect(all.structuredContent?.count).toBe(4);
    expect(all.structuredContent?.registry).toMatchObject({ reachable: true });
    expect(text(all)).toContain("4 adapter(s)");

    const storage = await call(client, "oneiric_list_adapters", {
      domain: "adapter",
      category: "storage",
      healthy_only: true,
    });
    expect(
      storage.structuredContent?.adapters.map((a: { adapter_id: string }) => a.adapter_id),
    ).toEqual(expect.arrayContaining([S3, GCS]));
    expect(storage.structuredContent?.count).toBe(2);

    const unhealthy = await call(client, "oneiric_list_adapters", { status: "unhealthy" });
    expect(unhealthy.structuredContent?.adapters).toEqual([
      expect.objectContaining({ adapter_id: REDIS, status: "unhealthy", usable: false }),
    ]);
  });

  it("answers bad arguments as tool errors with the API's codes", async () => {
    const client = await connect();
    const bogus = await call(client, "oneiric_list_adapters", { status: "bogus" });
    expect(bogus.isError).toBe(true);
    expect(text(bogus)).toMatch(/^INVALID_PARAMETER: .*status/);
    expect(bogus._meta?.[ERROR_META_KEY]).toMatchObject({
      code: "INVALID_PARAMETER",
      parameter: "status",
    });

    const unknownKey = await call(client, "oneiric_list_adapters", { colour: "blue" });
    expect(unknownKey.isError).toBe(true);
    expect(text(unknownKey)).toMatch(/^UNKNOWN_PARAMETER: .*colour/);

    const missing = await call(client, "oneiric_get_adapter", { adapter_id: "no.such.adapter" });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain("ADAPTER_NOT_FOUND");
    expect(text(missing)).toContain("no.such.adapter");
    expect(missing._meta?.[ERROR_META_KEY]).toMatchObject({
      code: "ADAPTER_NOT_FOUND",
      adapter_id: "no.such.adapter",
    });

    const empty = await call(client, "oneiric_resolve_adapter", { domain: "", category: "x" });
    expect(empty.isError).toBe(true);
    expect(text(empty)).toMatch(/^INVALID_PARAMETER: .*domain/);

    // A wrong JSON type is caught by the SDK before the tool runs: still a tool error.
    const wrongType = await call(client, "oneiric_get_adapter", { adapter_id: 42 });
    expect(wrongType.isError).toBe(true);
    expect(text(wrongType)).toContain("adapter_id");
  });

  it("gets one adapter and checks its health against the registry's view", async () => {
    const client = await connect();
    const detail = await call(client, "oneiric_get_adapter", { adapter_id: S3 });
    expect(detail.isError).toBeFalsy();
    expect(detail.structuredContent).toMatchObject({
      adapter_id: S3,
      provider: "s3",
      status: "healthy",
      usable: true,
    });
    expect(Array.isArray(detail.structuredContent?.recent_checks)).toBe(true);

    const health = await call(client, "oneiric_check_health", { adapter_id: REDIS });
    expect(health.isError).toBeFalsy();
    expect(health.structuredContent).toMatchObject({
      adapter_id: REDIS,
      daemon: { adapter_id: REDIS, status: "unhealthy" },
    });
    expect(health.structuredContent?.registry).not.toBeNull();
    expect(text(health)).toContain("the daemon says unhealthy");
  });

  it("resolves a requirement: choice, fallbacks, excluded, reason", async () => {
    const client = await connect();
    const s3 = await call(client, "oneiric_resolve_adapter", {
      domain: "adapter",
      category: "storage",
      provider: "s3",
    });
    expect(s3.isError).toBeFalsy();
    expect(s3.structuredContent).toMatchObject({
      adapter_id: S3,
      choice: { adapter_id: S3, status: "healthy" },
      fallbacks: [],
      panic: false,
    });
    expect(typeof s3.structuredContent?.reason).toBe("string");

    const storage = await call(client, "oneiric_resolve_adapter", {
      domain: "adapter",
      category: "storage",
    });
    const chosen = storage.structuredContent?.adapter_id;
    expect([S3, GCS]).toContain(chosen);
    expect(storage.structuredContent?.fallbacks).toEqual([
      expect.objectContaining({ adapter_id: chosen === S3 ? GCS : S3 }),
    ]);

    const cache = await call(client, "oneiric_resolve_adapter", {
      domain: "adapter",
      category: "cache",
    });
    expect(cache.structuredContent).toMatchObject({ adapter_id: null, choice: null });
    expect(cache.structuredContent?.excluded).toEqual([
      expect.objectContaining({ adapter_id: REDIS }),
    ]);
    expect(text(cache)).toContain("no usable adapter");

    const panic = await call(client, "oneiric_resolve_adapter", {
      domain: "adapter",
      category: "cache",
      panic: true,
    });
    expect(panic.structuredContent).toMatchObject({ adapter_id: REDIS, panic: true });
  });

  it("invalidates the cache and reports the daemon's and the registry link's health", async () => {
    const client = await connect();
    const invalidated = await call(client, "oneiric_invalidate_cache");
    expect(invalidated.isError).toBeFalsy();
    expect(invalidated.structuredContent).toEqual({ invalidated: true });

    const health = await call(client, "oneiric_health_check");
    expect(health.isError).toBeFalsy();
    expect(health.structuredContent).toMatchObject({
      status: "healthy",
      ready: true,
      registry: { status: "healthy" },
      adapters: { by_status: expect.objectContaining({ unhealthy: 1 }) },
    });
    expect(text(health)).toContain("daemon healthy");
  });

  it("serves the adapter list and each adapter as JSON resources", async () => {
    const client = await connect();
    const { resources } = await client.listResources();
    const uris = resources.map((resource) => resource.uri);
    expect(uris).toEqual(
      expect.arrayContaining([
        ADAPTERS_URI,
        adapterUri(S3),
        adapterUri(REDIS),
        adapterUri(PREFECT),
      ]),
    );
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual([
      "oneiric://adapters/{adapter_id}",
    ]);

    const list = await client.readResource({ uri: ADAPTERS_URI });
    const listContent = list.contents[0];
    expect(listContent?.mimeType).toBe("application/json");
    expect(
      JSON.parse(String(listContent && "text" in listContent ? listContent.text : "")),
    ).toMatchObject({ count: 4 });

    const one = await client.readResource({ uri: adapterUri(S3) });
    const oneContent = one.contents[0];
    expect(
      JSON.parse(String(oneContent && "text" in oneContent ? oneContent.text : "")),
    ).toMatchObject({ adapter_id: S3, status: "healthy" });
    await expect(client.readResource({ uri: adapterUri("no.such.adapter") })).rejects.toMatchObject(
      {
        code: -32002,
      },
    );

    const completion = await client.complete({
      ref: { type: "ref/resource", uri: "oneiric://adapters/{adapter_id}" },
      argument: { name: "adapter_id", value: "mcptest.adapter.st" },
    });
    expect(completion.completion.values.sort()).toEqual([GCS, S3]);
  });

  it("notifies a subscriber when its adapter changes, and not for other adapters", async () => {
    const client = await connect();
    const updates = collectUpdates(client);
    await client.subscribeResource({ uri: adapterUri(S3) });
    await client.subscribeResource({ uri: ADAPTERS_URI });

    simulator.setBehaviour(S3, "down");
    await daemon.checkAllNow();
    await daemon.checkAllNow();
    await until(() => updates.includes(adapterUri(S3)) && updates.includes(ADAPTERS_URI));
    expect(updates.filter((uri) => uri !== adapterUri(S3) && uri !== ADAPTERS_URI)).toEqual([]);
    const detail = await call(client, "oneiric_get_adapter", { adapter_id: S3 });
    expect(detail.structuredContent?.status).toBe("unhealthy");

    // Unsubscribed: nothing more for it.
    await client.unsubscribeResource({ uri: adapterUri(S3) });
    await client.unsubscribeResource({ uri: ADAPTERS_URI });
    updates.length = 0;
    simulator.setBehaviour(S3, null);
    await daemon.checkAllNow();
    await daemon.checkAllNow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(updates).toEqual([]);
    expect(daemon.view.get(S3)?.status).toBe("healthy");

    await expect(client.subscribeResource({ uri: "oneiric://elsewhere" })).rejects.toThrow(
      /not a resource of this server/,
    );

    // Ending the session (DELETE) releases its journal subscription.
    const before = daemon.hub.subscriberCount;
    await client.subscribeResource({ uri: adapterUri(GCS) });
    expect(daemon.hub.subscriberCount).toBe(before + 1);
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await until(() => daemon.hub.subscriberCount === before);
  });

  it("answers HTTP-level problems itself", async () => {
    const put = await fetch(url, { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, DELETE");
    expect(await put.json()).toMatchObject({ code: "METHOD_NOT_ALLOWED" });

    const headers = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    const noSession = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(noSession.status).toBe(400);
    expect(noSession.headers.get("content-type")).toBe("application/problem+json");

    const unknown = await fetch(url, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": "no-such-session" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(unknown.status).toBe(404);

    const malformed = await fetch(url, { method: "POST", headers, body: "{not json" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: "MALFORMED_JSON" });

    const large = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ padding: "x".repeat(1024 * 1024) }),
    });
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });

    const foreign = await fetch(url, {
      method: "POST",
      headers: { ...headers, origin: "https://evil.example" },
      body: "{}",
    });
    expect(foreign.status).toBe(403);
  });

  it("bounds the sessions: a new one closes the least recently active idle session", async () => {
    // Sessions of the tests above are idle now (their clients closed): they make room.
    const first = await connect();
    const firstSession = (first.transport as StreamableHTTPClientTransport).sessionId;
    await connect();
    await connect();
    // Each client holds its event stream open: every session is busy.
    await until(() => handler.stats().sessions === 3 && handler.stats().busy === 3);
    await expect(connect()).rejects.toThrow(/503|TOO_MANY_SESSIONS/);

    await first.close();
    await until(() => handler.stats().busy === 2);
    const fourth = await connect();
    expect((await fourth.listTools()).tools).toHaveLength(TOOL_NAMES.length);
    expect(handler.stats().sessions).toBe(3);
    const evicted = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": String(firstSession),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(evicted.status).toBe(404);
  });
});

describe("MCP subscriptions without the hub (polling the backend's events)", () => {
  it("polls the journal and notifies list subscribers", async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const simulator = await startTestSimulator(SCENARIO, clock);
    const daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db")),
      clock,
    );
    try {
      await daemon.checkAllNow();
      const server = createMcpServer(localBackend(daemon.queries), {
        version: "0.0.0-test",
        pollIntervalMs: 25,
      });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: "mcp-test", version: "1.0.0" });
      await client.connect(clientSide);
      const updates = collectUpdates(client);
      await client.subscribeResource({ uri: ADAPTERS_URI });
      await client.subscribeResource({ uri: adapterUri(GCS) });

      simulator.setBehaviour(PREFECT, "down");
      await daemon.checkAllNow();
      await daemon.checkAllNow();
      await until(() => updates.includes(ADAPTERS_URI));
      // Only prefect changed (and redis, failing on, may record breaker events): not gcs.
      expect(updates).not.toContain(adapterUri(GCS));
      expect(daemon.hub.subscriberCount).toBe(0);
      await client.close();
      await server.close();
    } finally {
      await daemon.stop();
      await simulator.stop();
      dir.remove();
    }
  });
});

describe("MCP journal polling against a scripted backend", () => {
  it("resumes from the oldest kept event after CURSOR_EXPIRED and notifies every subscription", async () => {
    const calls: unknown[] = [];
    const event = (seq: number, subject: string) => ({ seq, subject });
    let expired = false;
    const backend = {
      ...testFileBackend("/nonexistent.db"),
      description: "scripted",
      healthCheck: async () => ({ journal: { newest_seq: 10 } }) as never,
      events: async (page: unknown) => {
        calls.push(page);
        const since = (page as { since: number }).since;
        if (since === 10 && !expired) {
          expired = true;
          throw new ApiError("CURSOR_EXPIRED", "pruned", { oldest_seq: 50, requested: 10 });
        }
        if (since === 49)
          return { events: [event(50, GCS)], next_since: 50, oldest_seq: 50 } as never;
        return { events: [], next_since: since, oldest_seq: 50 } as never;
      },
    } satisfies QueryBackend;
    const server = createMcpServer(backend, { version: "0.0.0-test", pollIntervalMs: 10 });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    await client.connect(clientSide);
    const updates = collectUpdates(client);
    await client.subscribeResource({ uri: adapterUri(S3) });
    await client.subscribeResource({ uri: adapterUri(GCS) });
    // The gap notifies both; then seq 50 (about gcs) notifies gcs again.
    await until(() => updates.filter((uri) => uri === adapterUri(GCS)).length >= 2);
    expect(updates).toContain(adapterUri(S3));
    expect(calls).toContainEqual({ since: 49, limit: 500 });
    await client.close();
    await server.close();
  });
});

describe("MCP over stdio, from a database file", () => {
  it("answers from the file a stopped daemon wrote, and says what needs a running daemon", async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.now());
    const simulator = await startTestSimulator(SCENARIO, clock);
    const dbPath = join(dir.path, "healthd.db");
    const daemon = await startTestDaemon(testConfig(simulator.registryPort, dbPath), clock);
    await daemon.checkAllNow();
    await daemon.stop();
    await simulator.stop();

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--import", "tsx", ENTRY, "--db", dbPath],
      cwd: join(import.meta.dirname, ".."),
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOL_NAMES].sort());

      const list = await call(client, "oneiric_list_adapters");
      expect(list.isError, text(list)).toBeFalsy();
      expect(list.structuredContent?.count).toBe(4);
      expect(
        list.structuredContent?.adapters.map((a: { adapter_id: string }) => a.adapter_id).sort(),
      ).toEqual([REDIS, PREFECT, GCS, S3].sort());

      const detail = await call(client, "oneiric_get_adapter", { adapter_id: S3 });
      expect(detail.structuredContent).toMatchObject({ adapter_id: S3, status: "healthy" });

      const invalidated = await call(client, "oneiric_invalidate_cache");
      expect(invalidated.isError).toBe(true);
      expect(text(invalidated)).toMatch(/^NOT_READY: needs a running daemon/);
    } finally {
      await client.close();
      dir.remove();
    }
    expect(stderr).not.toMatch(/error/i);
  });
});
