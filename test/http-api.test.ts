import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
project: h
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis }
`;

describe("the HTTP API", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let base: string;
  const clients: SseClient[] = [];

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db")),
      clock,
    );
    base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await daemon.checkAllNow();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await daemon.stop();
    await simulator.stop();
    dir.remove();
  });

  async function call(path: string, init: RequestInit = {}) {
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get("content-type") ?? "",
      body: text ? JSON.parse(text) : undefined,
    };
  }

  const sse = (path: string, headers: Record<string, string> = {}) => {
    const client = new SseClient(`${base}${path}`, headers);
    clients.push(client);
    return client;
  };

  async function breakAdapter(adapterId: string) {
    simulator.setBehaviour(adapterId, "down");
    await daemon.checkAllNow();
    await daemon.checkAllNow();
  }

  it("filters the list and validates every filter", async () => {
    expect(
      (await call("/v1/adapters?category=storage")).body.adapters.map(
        (a: { provider: string }) => a.provider,
      ),
    ).toEqual(["gcs", "s3"]);
    await breakAdapter("h.adapter.storage.s3");
    const healthy = await call("/v1/adapters?category=storage&healthy_only=true");
    expect(healthy.body.adapters.map((a: { provider: string }) => a.provider)).toEqual(["gcs"]);
    expect((await call("/v1/adapters?status=unhealthy")).body.adapters).toHaveLength(1);

    const unknown = await call("/v1/adapters?colour=blue");
    expect(unknown).toMatchObject({
      status: 400,
      type: "application/problem+json",
      body: { code: "UNKNOWN_PARAMETER", parameter: "colour" },
    });
    const badEnum = await call("/v1/adapters?status=sparkling");
    expect(badEnum.body).toMatchObject({
      status: 400,
      code: "INVALID_PARAMETER",
      parameter: "status",
    });
    const twice = await call("/v1/adapters?domain=a&domain=b");
    expect(twice.body).toMatchObject({ code: "INVALID_PARAMETER", parameter: "domain" });
  });

  it("shows one adapter with its breaker and recent checks, and 404s an unknown one", async () => {
    const detail = await call("/v1/adapters/h.adapter.cache.redis");
    expect(detail.body).toMatchObject({
      adapter_id: "h.adapter.cache.redis",
      status: "healthy",
      breaker: "closed",
      usable: true,
    });
    expect(detail.body.recent_checks[0]).toMatchObject({ ok: true, source: "probe" });
    expect((await call("/v1/adapters/nope")).body).toMatchObject({
      status: 404,
      code: "ADAPTER_NOT_FOUND",
    });
  });

  it("names adapter_id, as `parameter` does, when the id is not valid percent-encoding", async () => {
    // Found by the HTTP parameter property test: the detail said "adapter id".
    for (const [path, raw] of [
      ["/v1/adapters/%", "%"],
      ["/v1/adapters/%zz/health", "%zz"],
    ] as const) {
      expect((await call(path)).body).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
        parameter: "adapter_id",
        detail: `adapter_id must be percent-encoded UTF-8; got "${raw}"`,
      });
    }
  });

  it("resolves one requirement and a batch, and rejects bad bodies", async () => {
    const one = await call("/v1/resolve?domain=adapter&category=storage&provider=s3");
    expect(one.body.choice.adapter_id).toBe("h.adapter.storage.s3");
    const listed = await call("/v1/resolve?domain=adapter&category=storage&limit=0");
    expect(listed.body).toMatchObject({ fallbacks: [], fallbacks_total: 1, excluded_total: 0 });
    await breakAdapter("h.adapter.storage.s3");
    const batch = await call("/v1/resolve", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        requirements: [
          { domain: "adapter", category: "storage" },
          { domain: "adapter", category: "queue" },
        ],
      }),
    });
    expect(batch.status).toBe(200);
    expect(batch.body.resolutions[0].choice.adapter_id).toBe("h.adapter.storage.gcs");
    expect(batch.body.resolutions[0].excluded[0]).toMatchObject({
      adapter_id: "h.adapter.storage.s3",
    });
    expect(batch.body.resolutions[1]).toMatchObject({
      choice: null,
      reason: "no adapter matches adapter/queue/*",
    });

    const missing = await call("/v1/resolve?domain=adapter");
    expect(missing.body).toMatchObject({ code: "INVALID_PARAMETER", parameter: "category" });
    const malformed = await call("/v1/resolve", { method: "POST", body: "{not json" });
    expect(malformed.body).toMatchObject({ status: 400, code: "MALFORMED_JSON" });
    const huge = await call("/v1/resolve", {
      method: "POST",
      body: JSON.stringify({ requirements: [], pad: "x".repeat(100_000) }),
    });
    expect(huge.body).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
    const tooMany = await call("/v1/resolve", {
      method: "POST",
      body: JSON.stringify({
        requirements: Array.from({ length: 101 }, () => ({ domain: "adapter", category: "cache" })),
      }),
    });
    expect(tooMany.body).toMatchObject({ code: "INVALID_PARAMETER", parameter: "requirements" });
    const wrongMethod = await fetch(`${base}/v1/adapters`, { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
  });

  it("puts an adapter into maintenance and takes it out", async () => {
    const put = await call("/v1/adapters/h.adapter.cache.redis/maintenance", {
      method: "PUT",
      body: JSON.stringify({
        reason: "upgrade",
        until: new Date(clock.value + 3_600_000).toISOString(),
      }),
    });
    expect(put.body).toMatchObject({ usable: false, maintenance: { reason: "upgrade" } });
    const past = await call("/v1/adapters/h.adapter.cache.redis/maintenance", {
      method: "PUT",
      body: JSON.stringify({ until: "2000-01-01T00:00:00Z" }),
    });
    expect(past.body).toMatchObject({ code: "INVALID_PARAMETER", parameter: "until" });
    const lifted = await call("/v1/adapters/h.adapter.cache.redis/maintenance", {
      method: "DELETE",
    });
    expect(lifted.body).toMatchObject({ usable: true, maintenance: null });
    expect((await call("/v1/adapters/nope/maintenance", { method: "DELETE" })).status).toBe(404);
  });

  it("pages the journal and validates since and limit", async () => {
    const page = await call("/v1/events?since=0&limit=2");
    expect(page.body.events).toHaveLength(2);
    expect(page.body.events[0]).toMatchObject({
      specversion: "1.0",
      source: "oneiric-healthd",
      seq: 1,
    });
    expect(page.body.next_since).toBe(2);
    for (const bad of ["limit=0", "limit=100000", "since=-1", "since=abc"]) {
      expect((await call(`/v1/events?${bad}`)).body, bad).toMatchObject({
        status: 400,
        code: "INVALID_PARAMETER",
      });
    }
  });

  it("streams events over SSE; a client that reconnects with Last-Event-ID gets exactly the ones it missed", async () => {
    const all = daemon.readEvents(0, 1000);
    const first = sse("/v1/events?since=0");
    await first.until((client) => client.messages.length === all.length);
    const lastSeen = first.messages[first.messages.length - 1]?.id ?? "";
    expect(lastSeen).toBe(String(all[all.length - 1]?.seq));
    first.close();

    await breakAdapter("h.adapter.cache.redis");
    const missed = daemon.readEvents(Number(lastSeen), 1000);
    expect(missed.length).toBeGreaterThan(0);

    const resumed = sse("/v1/events", { "last-event-id": lastSeen });
    await resumed.until((client) => client.messages.length === missed.length);
    expect(resumed.messages.map((message) => Number(message.id))).toEqual(
      missed.map((event) => event.seq),
    );
    expect(resumed.messages[0]?.event).toBe(missed[0]?.type);
    expect(JSON.parse(resumed.messages[0]?.data ?? "{}")).toMatchObject({
      specversion: "1.0",
      seq: missed[0]?.seq,
    });

    // Idle streams carry heartbeats (every 0.2 s in tests).
    await resumed.until((client) => client.comments.includes("heartbeat"));

    // And then live.
    await breakAdapter("h.adapter.storage.gcs");
    const live = daemon.readEvents(missed[missed.length - 1]?.seq ?? 0, 1000);
    await resumed.until((client) => client.messages.length === missed.length + live.length);
    const ids = resumed.messages.map((message) => Number(message.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("tells a client whose cursor is older than retention so, with the oldest seq", async () => {
    // Retention, as its cron runs it, keeping all but the oldest three events.
    const kept = daemon.readEvents(0, 10_000);
    expect(kept[0]?.seq).toBe(1);
    const config = testConfig(simulator.registryPort, join(dir.path, "healthd.db"));
    daemon.reload({ ...config, journal: { ...config.journal, maxEvents: kept.length - 3 } });
    await daemon.pruneJournalNow();
    const expired = await call("/v1/events?since=1");
    expect(expired.body).toMatchObject({ status: 410, code: "CURSOR_EXPIRED", oldest_seq: 4 });
    const stream = await fetch(`${base}/v1/events`, {
      headers: { accept: "text/event-stream", "last-event-id": "1" },
    });
    expect(stream.status).toBe(410);
    expect(await stream.json()).toMatchObject({ code: "CURSOR_EXPIRED", oldest_seq: 4 });
  });

  it("serves an OpenAPI document listing every route", async () => {
    const { body } = await call("/openapi.json");
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        "/v1/adapters",
        "/v1/adapters/{adapter_id}",
        "/v1/adapters/{adapter_id}/health",
        "/v1/adapters/{adapter_id}/maintenance",
        "/v1/resolve",
        "/v1/events",
        "/v1/cache/invalidate",
        "/v1/health",
        "/v1/badges/{adapter_id}.svg",
        "/v1/badges/category/{category}.svg",
        "/metrics",
        "/healthz",
        "/readyz",
      ]),
    );
    expect((await call("/v1/health")).body).toMatchObject({ status: "healthy", ready: true });
    expect((await call("/v1/cache/invalidate", { method: "POST" })).body).toEqual({
      invalidated: true,
    });
  });
});
