import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WebhookConfig } from "../config/load.js";
import type { EventType, NewEvent } from "../domain/events.js";
import { SqliteStore } from "../storage/sqlite-store.js";
import { EventHub } from "./event-hub.js";
import {
  signWebhook,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from "./webhook-dispatcher.js";

const SECRET = "test-secret-0123456789abcdef";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (0: it never answered). */
  status: number;
  seq: number;
  id: string;
}

/** What the receiver does with the n-th request (0-based): a status, or hang. */
type Answer = (attempt: number, body: string) => number | "hang" | Promise<number>;

/** A real HTTP receiver on a free port that records every request. */
class Receiver {
  readonly requests: Received[] = [];
  private readonly server: Server;
  private readonly hanging = new Set<() => void>();

  constructor(public answer: Answer = () => 200) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const parsed = JSON.parse(body) as { seq: number; id: string };
        const record: Received = {
          headers: request.headers,
          body,
          status: 0,
          seq: parsed.seq,
          id: parsed.id,
        };
        this.requests.push(record);
        const answer = await this.answer(this.requests.length - 1, body);
        if (answer === "hang") {
          this.hanging.add(() => response.destroy());
          return;
        }
        record.status = answer;
        response.writeHead(answer).end("ok");
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/hook?token=abc`;
  }

  /** Seqs the receiver acknowledged with a 2xx, in arrival order. */
  delivered(): number[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.seq);
  }

  async stop(): Promise<void> {
    for (const release of this.hanging) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function verifies(request: Received, secret: string): boolean {
  const timestamp = String(request.headers["webhook-timestamp"]);
  const expected = Buffer.from(
    `sha256=${createHmac("sha256", secret).update(`${timestamp}.${request.body}`).digest("hex")}`,
  );
  const given = Buffer.from(String(request.headers["webhook-signature"] ?? ""));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let directory: string;
let store: SqliteStore;
let hub: EventHub;
let receivers: Receiver[];
let dispatchers: WebhookDispatcher[];
let logs: { level: number; msg: string; [key: string]: unknown }[];
let clock: number;
let warnings: Error[];
const onWarning = (warning: Error) => warnings.push(warning);

function open(): void {
  store = new SqliteStore({ path: join(directory, "healthd.db"), now: () => clock });
  hub = new EventHub(store);
}

/** Commits `count` events of `type` in one transaction, as the committer does. */
function commit(count: number, type: EventType = "adapter.health_changed"): void {
  const events: NewEvent[] = Array.from({ length: count }, (_, index) => ({
    type,
    subject: `t.adapter.cache.redis${index}`,
    time: clock,
    data: { index },
  }));
  // As the engine does: commit, then publish what the journal holds.
  hub.publish(store.commit({ events }, clock));
}

function webhook(url: string, overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    name: "ops",
    url,
    secret: SECRET,
    types: undefined,
    timeoutMs: 2_000,
    maxAttempts: 5,
    backoff: { initialMs: 5, maxMs: 20 },
    ...overrides,
  };
}

const attempts: { subscriber: string; result: string }[] = [];

function dispatcher(
  subscribers: WebhookConfig[],
  options: Partial<WebhookDispatcherOptions> = {},
): WebhookDispatcher {
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => logs.push(JSON.parse(line) as (typeof logs)[number]) },
  );
  const created = new WebhookDispatcher({
    feed: hub,
    journal: store,
    subscribers,
    logger,
    now: () => clock,
    onAttempt: (subscriber, result) => attempts.push({ subscriber, result }),
    ...options,
  });
  dispatchers.push(created);
  return created;
}

async function receiver(answer?: Answer): Promise<{ receiver: Receiver; url: string }> {
  const created = new Receiver(answer);
  receivers.push(created);
  return { receiver: created, url: await created.start() };
}

/** Stops a dispatcher the way the daemon does before closing the store. */
async function restart(): Promise<void> {
  await Promise.all(dispatchers.splice(0).map((running) => running.stop(2_000)));
  hub.close();
  store.close();
  open();
}

/** Waits for an assertion; generous, since a loaded machine slows real HTTP round trips. */
const eventually = (assertion: () => void) =>
  vi.waitFor(assertion, { timeout: 10_000, interval: 5 });

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "oneiric-webhooks-"));
  receivers = [];
  dispatchers = [];
  logs = [];
  attempts.length = 0;
  clock = Date.parse("2026-11-26T12:00:00Z");
  warnings = [];
  process.on("warning", onWarning);
  open();
});

afterEach(async () => {
  await Promise.all(dispatchers.map((running) => running.stop(100)));
  await Promise.all(receivers.map((running) => running.stop()));
  hub.close();
  store.close();
  rmSync(directory, { recursive: true, force: true });
  process.off("warning", onWarning);
  // A listener left on the loop's stop signal per event would show up here.
  expect(warnings.map((warning) => warning.name)).not.toContain("MaxListenersExceededWarning");
});

describe("signWebhook", () => {
  it("is sha256= and the hex HMAC-SHA256 of '<timestamp>.<body>' (vector computed with Python's hmac)", () => {
    expect(signWebhook("whsec-0123456789abcdef", 1795660218, '{"id":"x"}')).toBe(
      "sha256=79a069cc08cf0088d6ed20baf2f09a23be8d843937fc06af9c88f7bcc761d0a2",
    );
  });
});

describe("WebhookDispatcher", () => {
  it("sends only events committed after a new subscriber appeared, in seq order, signed", async () => {
    commit(3);
    const { receiver: hook, url } = await receiver();
    dispatcher([webhook(url)]).start();
    commit(2);
    commit(3);
    await eventually(() => expect(hook.delivered()).toEqual(range(4, 8)));
    for (const request of hook.requests) {
      expect(request.headers["content-type"]).toBe("application/cloudevents+json");
      expect(request.headers["user-agent"]).toBe("oneiric-healthd");
      expect(request.headers["ce-type"]).toBe("io.oneiric.healthd.adapter.health_changed");
      expect(request.headers["ce-id"]).toBe(request.id);
      expect(request.headers["webhook-timestamp"]).toBe(String(Math.floor(clock / 1000)));
      expect(verifies(request, SECRET)).toBe(true);
      expect(verifies(request, `${SECRET}x`)).toBe(false);
      expect(JSON.parse(request.body)).toMatchObject({ specversion: "1.0", seq: request.seq });
    }
    // The receiver answered; the dispatcher records it a moment later.
    await eventually(() =>
      expect(store.loadWebhookCursors()).toEqual([
        expect.objectContaining({ name: "ops", cursor: 8, parked: false, failures: 0 }),
      ]),
    );
    // Never the secret, nor the URL's path and query, in the logs.
    const logText = JSON.stringify(logs);
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain("token=abc");
  });

  it("retries a failing receiver with backoff and sends each event once it answers 2xx", async () => {
    const { receiver: hook, url } = await receiver((attempt) => (attempt < 3 ? 500 : 200));
    const running = dispatcher([webhook(url)]);
    running.start();
    commit(4);
    await eventually(() => expect(hook.delivered()).toEqual(range(1, 4)));
    // The first event was tried four times; nothing after it went out before it succeeded.
    expect(hook.requests.map((request) => request.seq)).toEqual([1, 1, 1, 1, 2, 3, 4]);
    await eventually(() =>
      expect(running.statuses()).toEqual([
        {
          subscriber: "ops",
          cursor: 4,
          lagEvents: 0,
          parked: false,
          parkedReason: null,
          failures: 0,
        },
      ]),
    );
    expect(attempts.filter((a) => a.result === "failed")).toHaveLength(3);
    expect(attempts.filter((a) => a.result === "delivered")).toHaveLength(4);
  });

  it("parks after max_attempts failures in a row, with a WARN, and stays parked after a restart", async () => {
    const { receiver: hook, url } = await receiver(() => 503);
    dispatcher([webhook(url, { maxAttempts: 3 })]).start();
    commit(2);
    await eventually(() =>
      expect(store.loadWebhookCursors()[0]).toMatchObject({ parked: true, failures: 3 }),
    );
    expect(store.loadWebhookCursors()[0]?.parkedReason).toContain("HTTP 503");
    expect(hook.requests.map((request) => request.seq)).toEqual([1, 1, 1]);
    const parkedLog = logs.find((line) => line.msg.includes("parked after max_attempts"));
    expect(parkedLog?.level).toBe(40);
    expect(logs.some((line) => line.level >= 50)).toBe(false);

    await restart();
    const again = dispatcher([webhook(url, { maxAttempts: 3 })]);
    again.start();
    commit(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hook.requests).toHaveLength(3);
    expect(again.statuses()[0]).toMatchObject({ parked: true, lagEvents: 3, cursor: 0 });
  });

  it("resumes a parked subscriber on unpark, starting with the event it gave up on", async () => {
    let healthy = false;
    const { receiver: hook, url } = await receiver(() => (healthy ? 200 : 500));
    const running = dispatcher([webhook(url, { maxAttempts: 2 })]);
    running.start();
    commit(3);
    await eventually(() => expect(running.statuses()[0]?.parked).toBe(true));
    expect(running.unpark("nobody")).toBe("unknown");
    healthy = true;
    expect(running.unpark("ops")).toBe("resumed");
    expect(running.unpark("ops")).toBe("not-parked");
    await eventually(() => expect(hook.delivered()).toEqual([1, 2, 3]));
    await eventually(() =>
      expect(store.loadWebhookCursors()[0]).toMatchObject({
        parked: false,
        failures: 0,
        cursor: 3,
      }),
    );
  });

  it("resumes a parked subscriber when its url or secret changes, and not otherwise", async () => {
    const { receiver: broken, url: brokenUrl } = await receiver(() => 500);
    dispatcher([webhook(brokenUrl, { maxAttempts: 1 })]).start();
    commit(2);
    await eventually(() => expect(store.loadWebhookCursors()[0]?.parked).toBe(true));
    expect(broken.requests).toHaveLength(1);

    await restart();
    const { receiver: fixed, url: fixedUrl } = await receiver();
    dispatcher([webhook(fixedUrl, { maxAttempts: 1 })]).start();
    await eventually(() => expect(fixed.delivered()).toEqual([1, 2]));
    expect(logs.some((line) => line.msg.includes("endpoint changed"))).toBe(true);
  });

  it("skips events outside its type globs but still moves (and keeps) its cursor", async () => {
    const { receiver: hook, url } = await receiver();
    dispatcher([webhook(url, { types: ["failover", "registry.*"] })]).start();
    commit(2, "adapter.discovered");
    commit(1, "failover");
    commit(2, "adapter.health_changed");
    commit(1, "registry.unreachable");
    commit(3, "breaker.opened");
    await eventually(() => expect(hook.delivered()).toEqual([3, 6]));
    await eventually(() => expect(store.loadWebhookCursors()[0]?.cursor).toBe(9));

    await restart();
    dispatcher([webhook(url, { types: ["io.oneiric.healthd.failover"] })]).start();
    commit(1, "adapter.updated");
    commit(1, "failover");
    await eventually(() => expect(hook.delivered()).toEqual([3, 6, 11]));
  });

  it("pages through a backlog far behind the journal, without repeats", async () => {
    const { receiver: hook, url } = await receiver();
    dispatcher([webhook(url)]); // fixes the cursor at 0 without delivering
    for (let batch = 0; batch < 12; batch++) {
      commit(99, "adapter.updated");
      commit(1, "failover");
    }
    await restart();
    dispatcher([webhook(url, { types: ["failover"] })]).start();
    await eventually(() => expect(hook.delivered()).toEqual(range(1, 12).map((n) => n * 100)));
    await eventually(() => expect(store.loadWebhookCursors()[0]?.cursor).toBe(1200));
  });

  it("drops an overflowing in-memory queue and reads the rest back from the journal", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { receiver: hook, url } = await receiver(async (attempt) => {
      if (attempt === 0) await gate;
      return 200;
    });
    dispatcher([webhook(url)], { maxQueue: 5 }).start();
    commit(1);
    await eventually(() => expect(hook.requests).toHaveLength(1));
    for (let batch = 0; batch < 10; batch++) commit(3);
    expect(logs.some((line) => line.msg.includes("far behind"))).toBe(true);
    release();
    await eventually(() => expect(hook.delivered()).toEqual(range(1, 31)));
    expect(hook.requests).toHaveLength(31);
  });

  it("counts a receiver that does not answer within timeout_sec as a failure", async () => {
    const { receiver: hook, url } = await receiver(() => "hang");
    const running = dispatcher([webhook(url, { timeoutMs: 100, maxAttempts: 2 })]);
    running.start();
    commit(1);
    await eventually(() => expect(running.statuses()[0]?.parked).toBe(true));
    expect(running.statuses()[0]?.parkedReason).toContain("no answer within 0.1 s");
    expect(hook.requests).toHaveLength(2);
  });

  it("counts a refused connection as a failure", async () => {
    const { receiver: gone, url } = await receiver();
    await gone.stop();
    const running = dispatcher([webhook(url, { maxAttempts: 2 })]);
    running.start();
    commit(1);
    await eventually(() => expect(running.statuses()[0]?.parked).toBe(true));
    expect(running.statuses()[0]?.parkedReason).toContain("ECONNREFUSED");
  });

  it("on stop, lets an answer in flight land and records it, so it is not sent again", async () => {
    const { receiver: hook, url } = await receiver(async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return 200;
    });
    dispatcher([webhook(url)]).start();
    commit(1);
    await eventually(() => expect(hook.requests).toHaveLength(1));
    await restart();
    expect(store.loadWebhookCursors()[0]?.cursor).toBe(1);
    dispatcher([webhook(url)]).start();
    commit(1);
    await eventually(() => expect(hook.delivered()).toEqual([1, 2]));
  });

  it("on stop, aborts an attempt that outlives the grace period, and a backoff wait at once", async () => {
    const { receiver: hook, url } = await receiver(() => "hang");
    const slow = dispatcher([webhook(url, { timeoutMs: 60_000 })]);
    slow.start();
    commit(1);
    await eventually(() => expect(hook.requests).toHaveLength(1));
    let started = Date.now();
    await slow.stop(100);
    expect(Date.now() - started).toBeLessThan(1_000);
    // Not delivered, and an abort is not a failure of the receiver.
    expect(store.loadWebhookCursors()[0]).toMatchObject({ cursor: 0, failures: 0 });

    hook.answer = () => 500;
    const waiting = dispatcher([webhook(url, { backoff: { initialMs: 60_000, maxMs: 60_000 } })]);
    waiting.start();
    await eventually(() => expect(store.loadWebhookCursors()[0]?.failures).toBe(1));
    started = Date.now();
    await waiting.stop(2_000);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("skips events journal retention deleted before they were delivered, with a WARN", async () => {
    const { receiver: hook, url } = await receiver(() => 500);
    dispatcher([webhook(url, { maxAttempts: 1 })]).start();
    commit(1);
    await eventually(() => expect(store.loadWebhookCursors()[0]?.parked).toBe(true));
    commit(150);
    await restart();
    expect(store.pruneEvents(0, 100)).toBe(51);
    hook.answer = () => 200;
    const { receiver: fixed, url: fixedUrl } = await receiver();
    dispatcher([webhook(fixedUrl, { maxAttempts: 1 })]).start();
    await eventually(() => expect(fixed.delivered()).toEqual(range(52, 151)));
    expect(logs.some((line) => line.level === 40 && line.msg.includes("retention"))).toBe(true);
  });

  it("keeps each subscriber's order and state apart", async () => {
    const { receiver: good, url: goodUrl } = await receiver();
    const { receiver: bad, url: badUrl } = await receiver(() => 500);
    const running = dispatcher([
      webhook(goodUrl, { name: "good" }),
      webhook(badUrl, { name: "bad", maxAttempts: 2 }),
    ]);
    running.start();
    commit(5);
    await eventually(() => expect(good.delivered()).toEqual(range(1, 5)));
    await eventually(() =>
      expect(running.statuses()).toEqual([
        expect.objectContaining({ subscriber: "good", parked: false, lagEvents: 0 }),
        expect.objectContaining({ subscriber: "bad", parked: true, lagEvents: 5 }),
      ]),
    );
    expect(bad.requests).toHaveLength(2);
  });
});
