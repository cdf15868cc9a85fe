import { spawn } from "node:child_process";
/**
 * The HTTP front: a worker thread answering the hot read routes from its replica
 * of the committed view and passing everything else on to the main thread's API
 * over a private unix socket. Real daemons, real worker, real SQLite.
 */
import { existsSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ADMITTED_PRINCIPAL_HEADER } from "../src/api/http/http-server.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SseClient } from "./support/sse-client.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: f
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs, behaviour: down }
  - { category: storage, provider: azure }
  - { category: cache, provider: redis }
  - { category: queue, provider: kafka, behaviour: down }
`;

const READ_TOKEN = "front-reader-token-0123456789abcdef";
const ADMIN_TOKEN = "front-admin-token-0123456789abcdef";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request, over TCP to the front or over the unix socket to the main thread's API. */
function ask(
  target: { port: number } | { socketPath: string },
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        ...("port" in target ? { host: "127.0.0.1", port: target.port } : target),
        path,
        method: init.method ?? "GET",
        headers: {
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...init.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(init.body);
  });
}

describe("the HTTP front", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  const clients: SseClient[] = [];

  async function start(extraYaml = "", inWorker = true): Promise<void> {
    const config = testConfig(simulator.registryPort, join(dir.path, "healthd.db"), extraYaml);
    config.http.serveInWorker = inWorker;
    daemon = await startTestDaemon(config, clock);
    // The hot routes are answered by the front's replica from here on, not passed on.
    await daemon.front?.loaded();
    await daemon.checkAllNow();
    await daemon.checkAllNow();
  }

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await daemon?.stop();
    await simulator.stop();
    dir.remove();
  });

  const front = () => ({ port: daemon.httpAddress.port });
  const internal = () => ({ socketPath: daemon.front?.socketPath ?? "" });

  it("runs by default on its own thread, with the internal socket in a private directory removed at stop", async () => {
    await start();
    expect(daemon.front?.thread?.threadId).toBeGreaterThan(0);
    const directory = daemon.front?.socketDirectory ?? "";
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    expect(existsSync(daemon.front?.socketPath ?? "")).toBe(true);
    await daemon.stop();
    expect(existsSync(directory)).toBe(false);
    daemon = undefined as unknown as RunningDaemon;
  });

  it("answers the hot routes from its replica exactly as the main thread answers them", async () => {
    await start();
    const paths = [
      "/v1/adapters",
      "/v1/adapters?category=storage",
      "/v1/adapters?healthy_only=true",
      "/v1/adapters?status=unhealthy",
      "/v1/adapters?status=sideways",
      "/v1/adapters?colour=blue",
      "/v1/adapters?domain=adapter&domain=adapter",
      "/v1/adapters/f.adapter.storage.s3",
      "/v1/adapters/f.adapter.storage.gcs",
      "/v1/adapters/f.adapter.storage.none",
      "/v1/adapters/%E0%A4%A",
      "/v1/adapters/f.adapter.storage.s3?x=1",
      "/v1/resolve?domain=adapter&category=storage",
      "/v1/resolve?domain=adapter&category=storage&provider=gcs",
      "/v1/resolve?domain=adapter&category=queue",
      "/v1/resolve?domain=adapter&category=queue&panic=true",
      "/v1/resolve?domain=adapter&category=storage&limit=1",
      "/v1/resolve?domain=adapter",
      "/v1/resolve?domain=adapter&category=storage&limit=5000",
      "/healthz",
      "/readyz",
    ];
    const posts = [
      JSON.stringify({
        requirements: [
          { domain: "adapter", category: "storage" },
          { domain: "adapter", category: "cache", provider: "redis" },
          { domain: "adapter", category: "queue" },
        ],
      }),
      JSON.stringify({ requirements: [] }),
      JSON.stringify({ requirements: [{ domain: "adapter" }] }),
      "{not json",
      "",
    ];
    const compare = async (
      path: string,
      init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    ) => {
      const [fromFront, fromMain] = await Promise.all([
        ask(front(), path, init),
        ask(internal(), path, init),
      ]);
      expect({ path, status: fromFront.status, body: fromFront.body }).toEqual({
        path,
        status: fromMain.status,
        body: fromMain.body,
      });
      expect(fromFront.headers["content-type"]).toBe(fromMain.headers["content-type"]);
      return fromFront;
    };
    const statuses = [];
    for (const path of paths) statuses.push((await compare(path)).status);
    for (const body of posts) {
      statuses.push((await compare("/v1/resolve", { method: "POST", body })).status);
    }
    // Every kind of answer was compared: found, validation errors, 404s, panic.
    expect(new Set(statuses)).toEqual(new Set([200, 400, 404]));
    const resolved = JSON.parse(
      (await ask(front(), "/v1/resolve?domain=adapter&category=storage")).body,
    );
    expect(resolved.choice).not.toBeNull();
    expect(resolved.excluded.map((c: { adapter_id: string }) => c.adapter_id)).toContain(
      "f.adapter.storage.gcs",
    );
    // Wrong methods are answered the same way too.
    await compare("/v1/adapters", { method: "DELETE" });
  });

  it("follows the main thread's changes, failovers included, and watches what it resolved", async () => {
    await start();
    const requirement = "/v1/resolve?domain=adapter&category=cache";
    const before = JSON.parse((await ask(front(), requirement)).body);
    expect(before.choice.adapter_id).toBe("f.adapter.cache.redis");
    // The front resolved it: the main thread watches it, so losing redis is a failover event.
    await vi.waitFor(() =>
      expect(daemon.resolution.trackedRequirements()).toContainEqual({
        domain: "adapter",
        category: "cache",
      }),
    );
    simulator.setBehaviour("f.adapter.cache.redis", "down");
    await daemon.checkAllNow();
    await daemon.checkAllNow();
    const after = await ask(front(), requirement);
    expect(JSON.parse(after.body).choice).toBeNull();
    expect(after.body).toBe((await ask(internal(), requirement)).body);
    const events = JSON.parse((await ask(front(), "/v1/events?limit=1000")).body).events as {
      type: string;
      data: { from: string };
    }[];
    expect(events.find((event) => event.type.endsWith("failover"))?.data.from).toBe(
      "f.adapter.cache.redis",
    );
  });

  it("shows a write's effect in the next read (read-your-writes)", async () => {
    await start();
    const id = "f.adapter.storage.azure";
    for (let round = 0; round < 10; round++) {
      const put = await ask(front(), `/v1/adapters/${id}/maintenance`, {
        method: "PUT",
        body: JSON.stringify({ reason: `round ${round}` }),
      });
      expect(put.status).toBe(200);
      expect(put.headers["x-oneiric-healthd-replica-seq"]).toBeUndefined();
      const shown = JSON.parse((await ask(front(), `/v1/adapters/${id}`)).body);
      expect(shown.maintenance).toMatchObject({ reason: `round ${round}` });
      expect(shown.usable).toBe(false);
      const listed = JSON.parse((await ask(front(), "/v1/adapters?category=storage")).body);
      expect(
        listed.adapters.find((a: { adapter_id: string }) => a.adapter_id === id).maintenance,
      ).not.toBeNull();
      await ask(front(), `/v1/adapters/${id}/maintenance`, { method: "DELETE" });
      expect(JSON.parse((await ask(front(), `/v1/adapters/${id}`)).body).maintenance).toBeNull();
    }
  });

  it("streams server-sent events from the front as they happen, heartbeats included", async () => {
    await start();
    const base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    const stream = new SseClient(`${base}/v1/events`);
    clients.push(stream);
    // The test config's heartbeat is 0.2 s.
    await stream.until((client) => client.comments.some((c) => c.includes("heartbeat")), 3_000);
    const asked = Date.now();
    await ask(front(), "/v1/adapters/f.adapter.cache.redis/maintenance", {
      method: "PUT",
      body: "{}",
    });
    await stream.until(
      (client) => client.messages.some((m) => m.event === "adapter.maintenance_started"),
      2_000,
    );
    expect(Date.now() - asked).toBeLessThan(1_000);
    expect(stream.status).toBe(200);
    // A change made on the main thread: once its event has arrived, the front shows it.
    for (let round = 0; round < 5; round++) {
      const id = "f.adapter.storage.s3";
      const declared = stream.messages.length;
      daemon.maintenance.declare(id, null, `round ${round}`);
      await stream.until((client) => client.messages.length > declared, 2_000);
      const shown = JSON.parse((await ask(front(), `/v1/adapters/${id}`)).body);
      expect(shown.maintenance).toMatchObject({ reason: `round ${round}` });
      const lifted = stream.messages.length;
      daemon.maintenance.lift(id);
      await stream.until((client) => client.messages.length > lifted, 2_000);
      expect(JSON.parse((await ask(front(), `/v1/adapters/${id}`)).body).maintenance).toBeNull();
    }
  });

  it("serves live and recent event streams itself and passes older cursors on to SQLite's replay", async () => {
    // Events from an earlier run: older than anything this run's front holds.
    await start();
    daemon.maintenance.declare("f.adapter.cache.redis", null, "earlier run");
    await daemon.stop();
    await start();
    const base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    const onMain = daemon.hub.subscriberCount;
    const live = new SseClient(`${base}/v1/events`);
    clients.push(live);
    await live.until((client) => client.comments.some((c) => c.includes("streaming")), 3_000);
    for (let round = 0; round < 3; round++) {
      daemon.maintenance.declare("f.adapter.storage.s3", null, `round ${round}`);
      daemon.maintenance.lift("f.adapter.storage.s3");
    }
    await live.until((client) => client.messages.length >= 6, 2_000);
    // The front's stream: the main thread's hub has no subscriber more than before, and
    // GET /v1/health counts it all the same.
    expect(daemon.hub.subscriberCount).toBe(onMain);
    await vi.waitFor(() => expect(daemon.front?.eventStreams).toBe(1));
    const health = JSON.parse((await ask(front(), "/v1/health")).body);
    expect(health.journal.subscribers).toBe(onMain + 1);
    const liveIds = live.messages.map((message) => Number(message.id));
    const newest = liveIds[liveIds.length - 1] ?? 0;
    // Resuming from inside what the front holds: served there, exactly the events after it.
    const recent = new SseClient(`${base}/v1/events`, { "last-event-id": String(liveIds[2]) });
    clients.push(recent);
    await recent.until((client) => client.messages.length >= 3, 2_000);
    expect(recent.messages.map((message) => Number(message.id))).toEqual(liveIds.slice(3));
    expect(daemon.hub.subscriberCount).toBe(onMain);
    // From the start of the journal (before this front began): replayed by the main thread.
    const replayed = new SseClient(`${base}/v1/events`, { "last-event-id": "0" });
    clients.push(replayed);
    await replayed.until(
      (client) => client.messages.some((message) => Number(message.id) === newest),
      3_000,
    );
    expect(daemon.hub.subscriberCount).toBe(onMain + 1);
    const replayedIds = replayed.messages.map((message) => Number(message.id));
    expect(replayedIds[0]).toBe(1);
    expect(replayed.messages.map((message) => message.event)).toContain(
      "adapter.maintenance_started",
    );
    expect(replayedIds).toEqual([...replayedIds].sort((a, b) => a - b));
    expect(new Set(replayedIds).size).toBe(replayedIds.length);
    expect(replayedIds.slice(-liveIds.length)).toEqual(liveIds);
    // And one more commit reaches all three, once each.
    daemon.maintenance.declare("f.adapter.queue.kafka", null, "last");
    for (const client of [live, recent, replayed]) {
      await client.until((c) => c.messages.some((m) => Number(m.id) > newest), 2_000);
      expect(client.messages.filter((m) => Number(m.id) > newest)).toHaveLength(1);
    }
  });

  it("passes on a burst of requests (event pages) that arrives while the main thread is busy", async () => {
    const streams = 800;
    await start(`  limits: { requests_per_sec: 0, max_connections: ${streams + 50} }`);
    // The client is another process, so its connections arrive while this thread (the main
    // thread, where the internal API accepts) is held: more than a default accept queue holds.
    const script = `
      const http = require("node:http");
      const agent = new http.Agent({ maxSockets: Infinity });
      process.stdin.once("data", () => {
        const statuses = {};
        let done = 0;
        for (let i = 0; i < ${streams}; i++) {
          const request = http.get({ port: Number(process.argv[1]), path: "/v1/events", agent }, (response) => {
            statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
            response.destroy();
            if (++done === ${streams}) { console.log(JSON.stringify(statuses)); process.exit(0); }
          });
          request.on("error", (error) => {
            statuses[error.code] = (statuses[error.code] ?? 0) + 1;
            if (++done === ${streams}) { console.log(JSON.stringify(statuses)); process.exit(0); }
          });
        }
      });
      console.log("ready");
    `;
    const child = spawn(process.execPath, ["-e", script, String(daemon.httpAddress.port)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => lines.push(...chunk.toString().trim().split("\n")));
    await vi.waitFor(() => expect(lines).toContain("ready"), { timeout: 5_000 });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.stdin.write("go\n");
    const heldUntil = Date.now() + 1_500;
    while (Date.now() < heldUntil) {
      // busy: the internal socket's accept queue fills
    }
    await exited;
    expect(JSON.parse(lines[lines.length - 1] ?? "{}")).toEqual({ 200: streams });
  }, 30_000);

  it("takes a reload's priorities, staleness rule and maintenance windows", async () => {
    await start();
    const resolvePath = "/v1/resolve?domain=adapter&category=storage";
    const choice = async () => JSON.parse((await ask(front(), resolvePath)).body).choice.adapter_id;
    const first = await choice();
    const other = first === "f.adapter.storage.s3" ? "azure" : "s3";
    const reloaded = testConfig(
      simulator.registryPort,
      join(dir.path, "healthd.db"),
      `  overrides:
    - { match: { provider: ${other} }, priority: 1 }
  maintenance:
    - { adapters: "f.adapter.cache.*", from: "2026-11-26T11:00:00Z", until: "2026-11-28T12:00:00Z", reason: "window" }
`,
    );
    // Ten hours of grace: verdicts two hours overdue are not stale under it (they are by default).
    reloaded.probes.stale = { ...reloaded.probes.stale, graceMs: 36_000_000 };
    daemon.reload(reloaded);
    await vi.waitFor(async () => expect(await choice()).toBe(`f.adapter.storage.${other}`));
    await vi.waitFor(async () => {
      const redis = JSON.parse((await ask(front(), "/v1/adapters/f.adapter.cache.redis")).body);
      expect(redis.maintenance).toMatchObject({ reason: "window" });
    });
    clock.advance(3 * 3_600_000);
    for (const path of ["/v1/adapters", resolvePath, "/v1/adapters/f.adapter.storage.s3"]) {
      const [fromFront, fromMain] = await Promise.all([ask(front(), path), ask(internal(), path)]);
      expect(fromFront.body).toBe(fromMain.body);
    }
    expect(JSON.parse((await ask(front(), "/v1/adapters")).body).adapters[0].stale).toBe(false);
  });

  it("serves everything on the main thread with http.serve_in_worker: false", async () => {
    await start("", false);
    expect(daemon.front).toBeUndefined();
    const list = JSON.parse((await ask(front(), "/v1/adapters?category=storage")).body);
    expect(list.adapters).toHaveLength(3);
    const put = await ask(front(), "/v1/adapters/f.adapter.storage.s3/maintenance", {
      method: "PUT",
      body: "{}",
    });
    expect(put.headers["x-oneiric-healthd-replica-seq"]).toBeUndefined();
    const resolved = JSON.parse(
      (await ask(front(), "/v1/resolve?domain=adapter&category=storage")).body,
    );
    expect(resolved.choice).not.toBeNull();
  });

  describe("with authentication", () => {
    const auth = `  auth:
    enabled: true
    tokens:
      - { name: reader, token: ${READ_TOKEN}, scopes: [read] }
      - { name: operator, token: ${ADMIN_TOKEN}, scopes: [admin] }
  limits: { requests_per_sec: 0.01, burst: 40 }
`;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const forged = (scopes: string[]) => ({
      [ADMITTED_PRINCIPAL_HEADER]: JSON.stringify({ name: "operator", scopes }),
    });

    it("admits every route at the front: 401, 403, and no forged identity gets through", async () => {
      await start(auth);
      const maintenance = "/v1/adapters/f.adapter.storage.s3/maintenance";
      expect((await ask(front(), "/v1/adapters")).status).toBe(401);
      expect((await ask(front(), "/v1/events")).status).toBe(401);
      expect((await ask(front(), "/healthz")).status).toBe(200);
      expect((await ask(front(), "/v1/adapters", { headers: bearer(READ_TOKEN) })).status).toBe(
        200,
      );
      // The header naming an admitted principal is the front's alone.
      const noToken = await ask(front(), maintenance, {
        method: "PUT",
        body: "{}",
        headers: forged(["read", "admin"]),
      });
      expect(noToken.status).toBe(401);
      const readToken = await ask(front(), maintenance, {
        method: "PUT",
        body: "{}",
        headers: { ...bearer(READ_TOKEN), ...forged(["read", "admin"]) },
      });
      expect(readToken.status).toBe(403);
      expect(JSON.parse(readToken.body).required_scope).toBe("admin");
      const admin = await ask(front(), maintenance, {
        method: "PUT",
        body: "{}",
        headers: bearer(ADMIN_TOKEN),
      });
      expect(admin.status).toBe(200);
    });

    it("keeps MCP's tool scopes: a read token cannot invalidate the cache, forged header or not", async () => {
      await start(auth);
      const call = async (token: string, extra: Record<string, string> = {}) => {
        const client = new Client({ name: "front-test", version: "1" });
        const transport = new StreamableHTTPClientTransport(
          new URL(`http://127.0.0.1:${daemon.httpAddress.port}/mcp`),
          { requestInit: { headers: { ...bearer(token), ...extra } } },
        );
        await client.connect(transport);
        try {
          return (await client.callTool({
            name: "oneiric_invalidate_cache",
            arguments: {},
          })) as CallToolResult;
        } finally {
          await client.close();
        }
      };
      expect((await call(READ_TOKEN, forged(["read", "admin"]))).isError).toBe(true);
      expect((await call(ADMIN_TOKEN)).isError).not.toBe(true);
    });

    it("rate-limits at the front, hot and passed-on routes alike", async () => {
      await start(auth);
      const statuses: number[] = [];
      for (let index = 0; index < 50; index++) {
        const path = index % 2 === 0 ? "/v1/adapters" : "/v1/events";
        statuses.push((await ask(front(), path, { headers: bearer(READ_TOKEN) })).status);
      }
      expect(statuses.slice(0, 40).every((status) => status === 200)).toBe(true);
      expect(statuses.slice(40).every((status) => status === 429)).toBe(true);
      const limited = await ask(front(), "/v1/events", { headers: bearer(READ_TOKEN) });
      expect(JSON.parse(limited.body).code).toBe("RATE_LIMITED");
      expect(limited.headers["retry-after"]).toBeDefined();
    });
  });

  it("reports its thread's death as a failure of the daemon", async () => {
    const failures: Error[] = [];
    const { startDaemon } = await import("../src/main.js");
    const pino = (await import("pino")).default;
    daemon = await startDaemon(testConfig(simulator.registryPort, join(dir.path, "healthd.db")), {
      logger: pino({ level: "silent" }),
      now: clock.now,
      sharedClock: clock.cell,
      frontFailed: (error) => failures.push(error),
    });
    await daemon.front?.thread?.terminate();
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(failures[0]?.message).toContain("exited");
    // Nothing answers on the public port any more.
    await expect(ask(front(), "/healthz")).rejects.toThrow();
  });
});
