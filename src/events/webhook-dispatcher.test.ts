import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WebhookConfig } from "../config/load.js";
import type { EventType, NewEvent } from "../domain/events.js";
import { MemoryStore } from "../storage/memory-store.js";
import { EventHub } from "./event-hub.js";
import {
  signWebhook,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
  type WebhookJournal,
} from "./webhook-dispatcher.js";

const SECRET = "test-secret-0123456789abcdef";
const START = Date.parse("2026-11-26T12:00:00Z");
const URL_A = "https://hooks.example.test/a?token=abc";
const URL_B = "https://hooks.example.test/b?token=abc";

/** One request, as a receiver (real or fake) saw it. */
interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (0: it never answered). */
  status: number;
  seq: number;
  id: string;
  /** Date.now() when it arrived: fake time in the fake-timer tests. */
  at: number;
}

/** What a receiver does with the n-th request (0-based): a status now, a status later, or hang. */
type Answer = (attempt: number, request: Received) => number | "hang" | Promise<number>;

function received(url: string, headers: IncomingHttpHeaders, body: string): Received {
  const parsed = JSON.parse(body) as { seq: number; id: string };
  return { url, headers, body, status: 0, seq: parsed.seq, id: parsed.id, at: Date.now() };
}

/** Seqs acknowledged with a 2xx, in arrival order. */
function acknowledged(requests: readonly Received[], url?: string): number[] {
  return requests
    .filter((r) => r.status >= 200 && r.status < 300 && (url === undefined || r.url === url))
    .map((r) => r.seq);
}

/**
 * Stands in for fetch and answers in-process, so the only thing a test waits
 * for is the dispatcher's timers. A hanging request settles only when its
 * signal aborts, as a real fetch does.
 */
class FakeSender {
  readonly requests: Received[] = [];
  constructor(public answer: Answer = () => 200) {}

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = Object.fromEntries(new Headers(init?.headers));
    const request = received(String(input), headers, String(init?.body));
    this.requests.push(request);
    const signal = init?.signal;
    if (!signal) throw new Error("the dispatcher sent a request it cannot abort");
    const answer = this.answer(this.requests.length - 1, request);
    const status = await new Promise<number>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      if (answer === "hang") return;
      Promise.resolve(answer).then((answered) => {
        signal.removeEventListener("abort", onAbort);
        resolve(answered);
      }, reject);
    });
    request.status = status;
    return new Response(null, { status });
  };

  delivered(url?: string): number[] {
    return acknowledged(this.requests, url);
  }
}

/** A real HTTP receiver on a free port that records every request. */
class Receiver {
  readonly requests: Received[] = [];
  /** Sent as `location` with every answer: a 3xx then points somewhere. */
  location: string | undefined;
  private readonly server: Server;
  private readonly hanging = new Set<() => void>();
  private url = "";

  constructor(public answer: Answer = () => 200) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        const record = received(this.url, request.headers, Buffer.concat(chunks).toString("utf8"));
        this.requests.push(record);
        const answer = await this.answer(this.requests.length - 1, record);
        if (answer === "hang") {
          this.hanging.add(() => response.destroy());
          return;
        }
        record.status = answer;
        response.writeHead(answer, this.location ? { location: this.location } : {}).end("ok");
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/hook?token=abc`;
    return this.url;
  }

  delivered(): number[] {
    return acknowledged(this.requests);
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

let store: MemoryStore;
let hub: EventHub;
/** The daemon run the next dispatcher belongs to; `over` once restart() stopped it. */
let run: { over: boolean };
/** Store calls a dispatcher made after its stop() resolved: there must be none. */
let lateUse: string[];
/** How many journal reads fail next, as a storage error would. */
let failingReads: number;
/** While true, saving a cursor throws, as a full disk would. */
let failingCursorSaves: boolean;
/** Answers in-process when set (the fake-timer tests); unset, dispatchers use the real fetch. */
let sender: FakeSender | undefined;
let receivers: Receiver[];
let dispatchers: WebhookDispatcher[];
let logs: { level: number; msg: string; [key: string]: unknown }[];
let warnings: Error[];
const onWarning = (warning: Error) => warnings.push(warning);
const attempts: { subscriber: string; result: string }[] = [];

/** The store as one daemon run sees it; what is used after the run stopped is recorded. */
function journal(): WebhookJournal {
  const current = run;
  const use = (call: string) => {
    if (current.over) lateUse.push(call);
  };
  return {
    readEvents: (afterSeq, limit) => {
      use("readEvents");
      if (failingReads > 0) {
        failingReads -= 1;
        throw new Error("disk I/O error");
      }
      return store.readEvents(afterSeq, limit);
    },
    loadWebhookCursors: () => {
      use("loadWebhookCursors");
      return store.loadWebhookCursors();
    },
    saveWebhookCursor: (cursor, now) => {
      use("saveWebhookCursor");
      if (failingCursorSaves) throw new Error("SQLITE_FULL: database or disk is full");
      store.saveWebhookCursor(cursor, now);
    },
  };
}

/** Commits `count` events of `type` in one transaction, as the committer does. */
function commit(count: number, type: EventType = "adapter.health_changed"): void {
  const now = Date.now();
  const events: NewEvent[] = Array.from({ length: count }, (_, index) => ({
    type,
    subject: `t.adapter.cache.redis${index}`,
    time: now,
    data: { index },
  }));
  // As the engine does: commit, then publish what the journal holds.
  hub.publish(store.commit({ events }, now));
}

function webhook(url: string, overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    name: "ops",
    url,
    secret: SECRET,
    types: undefined,
    timeoutMs: 2_000,
    maxAttempts: 5,
    backoff: { initialMs: 1_000, maxMs: 8_000 },
    ...overrides,
  };
}

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
    journal: journal(),
    subscribers,
    logger,
    now: () => Date.now(),
    onAttempt: (subscriber, result) => attempts.push({ subscriber, result }),
    fetch: sender?.fetch,
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

/** Stops the dispatchers the way the daemon does, then starts a new run on the same store. */
async function restart(): Promise<void> {
  await Promise.all(dispatchers.splice(0).map((running) => running.stop(2_000)));
  run.over = true;
  hub.close();
  run = { over: false };
  hub = new EventHub(store);
}

/** Whether `promise` settled, without waiting for it. */
function tracked(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  void promise.finally(() => {
    state.settled = true;
  });
  return state;
}

/** Runs what is due now: the work a commit or an answer sets off takes no time. */
const settle = () => vi.advanceTimersByTimeAsync(0);

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

beforeEach(() => {
  store = new MemoryStore();
  hub = new EventHub(store);
  run = { over: false };
  lateUse = [];
  failingReads = 0;
  failingCursorSaves = false;
  sender = undefined;
  receivers = [];
  dispatchers = [];
  logs = [];
  attempts.length = 0;
  warnings = [];
  process.on("warning", onWarning);
});

afterEach(async () => {
  const stopping = Promise.all(dispatchers.map((running) => running.stop(100)));
  // On fake time, a grace period (or anything else a broken stop waits for) passes at once.
  if (vi.isFakeTimers()) await vi.runAllTimersAsync();
  await stopping;
  run.over = true;
  // Backoff sleeps a stop cut short still fire: what they wake must not touch the store.
  if (vi.isFakeTimers()) await vi.runAllTimersAsync();
  vi.useRealTimers();
  vi.restoreAllMocks();
  await Promise.all(receivers.map((running) => running.stop()));
  hub.close();
  store.close();
  process.off("warning", onWarning);
  expect(lateUse).toEqual([]);
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

describe("WebhookDispatcher on fake timers", () => {
  let fake: FakeSender;

  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate", "Date"],
      now: START,
    });
    // cockatiel's backoff is jittered: pinned, so fake time is the same on every run.
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    fake = new FakeSender();
    sender = fake;
  });

  it("retries a failing receiver with backoff and sends each event once it answers 2xx", async () => {
    fake.answer = (attempt) => (attempt < 3 ? 500 : 200);
    const running = dispatcher([webhook(URL_A)]);
    running.start();
    commit(4);
    await settle();
    // Nothing is retried before its backoff is over.
    expect(fake.requests.map((request) => request.seq)).toEqual([1]);
    // Three backoff waits, none longer than backoff max.
    await vi.advanceTimersByTimeAsync(3 * 8_000);
    expect(fake.delivered()).toEqual(range(1, 4));
    // The first event was tried four times; nothing after it went out before it succeeded.
    expect(fake.requests.map((request) => request.seq)).toEqual([1, 1, 1, 1, 2, 3, 4]);
    expect(running.statuses()).toEqual([
      {
        subscriber: "ops",
        cursor: 4,
        lagEvents: 0,
        parked: false,
        parkedReason: null,
        failures: 0,
      },
    ]);
    expect(attempts.filter((a) => a.result === "failed")).toHaveLength(3);
    expect(attempts.filter((a) => a.result === "delivered")).toHaveLength(4);
  });

  it("waits longer after each failure up to backoff max, and signs each retry with a fresh timestamp", async () => {
    fake.answer = () => 500;
    dispatcher([
      webhook(URL_A, { maxAttempts: 7, backoff: { initialMs: 1_000, maxMs: 4_000 } }),
    ]).start();
    commit(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.loadWebhookCursors()[0]).toMatchObject({ parked: true, failures: 7 });
    const times = fake.requests.map((request) => request.at);
    expect(times).toHaveLength(7);
    const waits = times.slice(1).map((time, index) => time - (times[index] ?? 0));
    // Growing while under the cap, then the cap itself, never more.
    const capped = waits.indexOf(4_000);
    expect(capped).toBeGreaterThanOrEqual(2);
    expect(waits.slice(capped)).toEqual(Array(waits.length - capped).fill(4_000));
    for (let index = 1; index < capped; index++) {
      expect(waits[index]).toBeGreaterThan(waits[index - 1] ?? Number.POSITIVE_INFINITY);
    }
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(1_000);
    // A receiver with a replay window accepts a retry: its timestamp is the time it is sent.
    for (const request of fake.requests) {
      expect(request.headers["webhook-timestamp"]).toBe(String(Math.floor(request.at / 1000)));
    }
    const first = Number(fake.requests[0]?.headers["webhook-timestamp"]);
    const last = Number(fake.requests.at(-1)?.headers["webhook-timestamp"]);
    expect(last - first).toBe(16);
  });

  it("parks after max_attempts failures in a row, with a WARN, and stays parked after a restart", async () => {
    fake.answer = () => 503;
    dispatcher([webhook(URL_A, { maxAttempts: 3 })]).start();
    commit(2);
    await vi.advanceTimersByTimeAsync(2 * 8_000);
    expect(store.loadWebhookCursors()[0]).toMatchObject({ parked: true, failures: 3, cursor: 0 });
    expect(store.loadWebhookCursors()[0]?.parkedReason).toContain("HTTP 503");
    expect(fake.requests.map((request) => request.seq)).toEqual([1, 1, 1]);
    const parkedLog = logs.find((line) => line.msg.includes("parked after max_attempts"));
    expect(parkedLog?.level).toBe(40);
    expect(logs.some((line) => line.level >= 50)).toBe(false);

    await restart();
    const again = dispatcher([webhook(URL_A, { maxAttempts: 3 })]);
    again.start();
    commit(1);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(fake.requests).toHaveLength(3);
    expect(again.statuses()[0]).toMatchObject({ parked: true, lagEvents: 3, cursor: 0 });
  });

  it("sends a parked subscriber nothing more, however long it waits, and holds no timer", async () => {
    fake.answer = () => 500;
    const running = dispatcher([webhook(URL_A, { maxAttempts: 2 })]);
    running.start();
    commit(1);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(running.statuses()[0]).toMatchObject({ parked: true, failures: 2 });
    // It waits for an unpark or a new endpoint; it does not poll.
    expect(vi.getTimerCount()).toBe(0);
    commit(3);
    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);
    expect(fake.requests.map((request) => request.seq)).toEqual([1, 1]);
    expect(running.statuses()[0]).toMatchObject({ parked: true, cursor: 0, lagEvents: 4 });
    expect(attempts).toHaveLength(2);
  });

  it("resumes a parked subscriber on unpark, starting with the event it gave up on", async () => {
    let healthy = false;
    fake.answer = () => (healthy ? 200 : 500);
    const running = dispatcher([webhook(URL_A, { maxAttempts: 2 })]);
    running.start();
    commit(3);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(running.statuses()[0]?.parked).toBe(true);
    expect(running.unpark("nobody")).toBe("unknown");
    healthy = true;
    expect(running.unpark("ops")).toBe("resumed");
    expect(running.unpark("ops")).toBe("not-parked");
    await settle();
    expect(fake.delivered()).toEqual([1, 2, 3]);
    expect(fake.requests.map((request) => request.seq)).toEqual([1, 1, 1, 2, 3]);
    expect(store.loadWebhookCursors()[0]).toMatchObject({ parked: false, failures: 0, cursor: 3 });
  });

  it("resumes a parked subscriber when its url or secret changes, and not otherwise", async () => {
    fake.answer = (_, request) => (request.url === URL_A ? 500 : 200);
    dispatcher([webhook(URL_A, { maxAttempts: 1 })]).start();
    commit(2);
    await settle();
    expect(store.loadWebhookCursors()[0]?.parked).toBe(true);
    expect(fake.requests).toHaveLength(1);

    await restart();
    dispatcher([webhook(URL_A, { maxAttempts: 1 })]).start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.requests).toHaveLength(1);

    await restart();
    dispatcher([webhook(URL_B, { maxAttempts: 1 })]).start();
    await settle();
    expect(fake.delivered(URL_B)).toEqual([1, 2]);
    expect(logs.some((line) => line.msg.includes("endpoint changed"))).toBe(true);

    fake.answer = () => 500;
    commit(1);
    await settle();
    expect(store.loadWebhookCursors()[0]?.parked).toBe(true);
    await restart();
    fake.answer = () => 200;
    dispatcher([webhook(URL_B, { maxAttempts: 1, secret: `${SECRET}-rotated` })]).start();
    await settle();
    expect(fake.delivered(URL_B)).toEqual([1, 2, 3]);
    expect(store.loadWebhookCursors()[0]).toMatchObject({ parked: false, cursor: 3 });
  });

  it("skips events outside its type globs but still moves (and keeps) its cursor", async () => {
    dispatcher([webhook(URL_A, { types: ["failover", "registry.*"] })]).start();
    commit(2, "adapter.discovered");
    commit(1, "failover");
    commit(2, "adapter.health_changed");
    commit(1, "registry.unreachable");
    commit(3, "breaker.opened");
    await settle();
    expect(fake.delivered()).toEqual([3, 6]);
    expect(store.loadWebhookCursors()[0]?.cursor).toBe(9);

    await restart();
    dispatcher([webhook(URL_A, { types: ["io.oneiric.healthd.failover"] })]).start();
    commit(1, "adapter.updated");
    commit(1, "failover");
    await settle();
    expect(fake.delivered()).toEqual([3, 6, 11]);
  });

  it("pages through a backlog far behind the journal, without repeats", async () => {
    dispatcher([webhook(URL_A)]); // fixes the cursor at 0 without delivering
    for (let batch = 0; batch < 12; batch++) {
      commit(99, "adapter.updated");
      commit(1, "failover");
    }
    await restart();
    dispatcher([webhook(URL_A, { types: ["failover"] })]).start();
    // The loop yields (setImmediate) every 500 filtered events: run those turns too.
    await vi.runAllTimersAsync();
    expect(fake.delivered()).toEqual(range(1, 12).map((n) => n * 100));
    expect(fake.requests).toHaveLength(12);
    expect(store.loadWebhookCursors()[0]?.cursor).toBe(1200);
  });

  it("drops an overflowing in-memory queue and reads the rest back from the journal", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    fake.answer = async (attempt) => {
      if (attempt === 0) await gate;
      return 200;
    };
    dispatcher([webhook(URL_A)], { maxQueue: 5 }).start();
    commit(1);
    await settle();
    expect(fake.requests).toHaveLength(1);
    for (let batch = 0; batch < 10; batch++) commit(3);
    expect(logs.some((line) => line.msg.includes("far behind"))).toBe(true);
    release();
    await settle();
    expect(fake.delivered()).toEqual(range(1, 31));
    expect(fake.requests).toHaveLength(31);
  });

  it("counts a receiver that does not answer within timeout_sec as a failure", async () => {
    fake.answer = () => "hang";
    const running = dispatcher([webhook(URL_A, { timeoutMs: 100, maxAttempts: 2 })]);
    running.start();
    commit(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(running.statuses()[0]?.failures).toBe(0);
    expect(fake.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(running.statuses()[0]?.failures).toBe(1);
    expect(attempts).toEqual([{ subscriber: "ops", result: "failed" }]);
    await vi.advanceTimersByTimeAsync(8_000 + 100);
    expect(running.statuses()[0]?.parked).toBe(true);
    expect(running.statuses()[0]?.parkedReason).toContain("no answer within 0.1 s");
    expect(fake.requests).toHaveLength(2);
  });

  it("on stop, lets an answer in flight land and records it, so it is not sent again", async () => {
    fake.answer = () => new Promise((resolve) => setTimeout(() => resolve(200), 150));
    dispatcher([webhook(URL_A)]).start();
    commit(1);
    await settle();
    expect(fake.requests).toHaveLength(1);
    const restarting = tracked(restart());
    await vi.advanceTimersByTimeAsync(149);
    expect(restarting.settled).toBe(false);
    // Stopped as soon as the answer landed, well within the 2 s grace.
    await vi.advanceTimersByTimeAsync(1);
    expect(restarting.settled).toBe(true);
    expect(store.loadWebhookCursors()[0]?.cursor).toBe(1);
    fake.answer = () => 200;
    dispatcher([webhook(URL_A)]).start();
    commit(1);
    await settle();
    expect(fake.delivered()).toEqual([1, 2]);
    expect(fake.requests).toHaveLength(2);
  });

  it("on stop, waits at most its grace for an answer, then aborts the attempt without counting a failure", async () => {
    fake.answer = () => "hang";
    const slow = dispatcher([webhook(URL_A, { timeoutMs: 60_000 })]);
    slow.start();
    commit(1);
    await settle();
    const stopping = tracked(slow.stop(500));
    await vi.advanceTimersByTimeAsync(499);
    expect(stopping.settled).toBe(false);
    expect(fake.requests[0]?.status).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(stopping.settled).toBe(true);
    expect(Date.now() - START).toBe(500);
    // Not delivered, and an abort is not a failure of the receiver.
    expect(store.loadWebhookCursors()[0]).toMatchObject({ cursor: 0, failures: 0, parked: false });
    expect(attempts).toEqual([]);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(fake.requests).toHaveLength(1);
  });

  it("on stop, ends a backoff wait at once and makes no further attempt", async () => {
    fake.answer = () => 500;
    const waiting = dispatcher([webhook(URL_A, { backoff: { initialMs: 60_000, maxMs: 60_000 } })]);
    waiting.start();
    commit(1);
    await settle();
    expect(store.loadWebhookCursors()[0]?.failures).toBe(1);
    const stopping = tracked(waiting.stop(2_000));
    await settle();
    expect(stopping.settled).toBe(true);
    expect(Date.now()).toBe(START);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(fake.requests).toHaveLength(1);
    expect(store.loadWebhookCursors()[0]).toMatchObject({ cursor: 0, failures: 1, parked: false });
  });

  it("keeps delivering while its cursor cannot be saved, and saves it once the database takes it", async () => {
    const running = dispatcher([webhook(URL_A, { maxAttempts: 2 })]);
    running.start();
    failingCursorSaves = true;
    commit(3);
    await settle();
    // Answered 2xx: delivered, not failed or parked for the database's trouble.
    expect(fake.delivered()).toEqual([1, 2, 3]);
    expect(fake.requests.map((request) => request.seq)).toEqual([1, 2, 3]);
    expect(attempts.filter((a) => a.result === "failed")).toEqual([]);
    expect(running.statuses()[0]).toMatchObject({ cursor: 3, parked: false });
    expect(store.loadWebhookCursors()[0]?.cursor ?? 0).toBe(0);
    failingCursorSaves = false;
    commit(1);
    await settle();
    // The next save (after the next delivery, or when idle) records the whole progress.
    expect(store.loadWebhookCursors()[0]?.cursor).toBe(4);
  });

  it("after a storage error, logs it and tries again a second later; stop ends that pause", async () => {
    dispatcher([webhook(URL_A)]); // fixes the cursor at 0 without delivering
    commit(2);
    await restart();
    failingReads = 1;
    dispatcher([webhook(URL_A)]).start();
    await settle();
    expect(logs.filter((line) => line.level === 50).map((line) => line.msg)).toEqual([
      "webhook delivery loop failed; retrying",
    ]);
    await vi.advanceTimersByTimeAsync(999);
    expect(fake.requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.delivered()).toEqual([1, 2]);

    commit(1);
    await restart();
    failingReads = 1;
    const paused = dispatcher([webhook(URL_A)]);
    paused.start();
    await settle();
    const stopping = tracked(paused.stop(2_000));
    await settle();
    expect(stopping.settled).toBe(true);
    expect(fake.delivered()).toEqual([1, 2]);
  });

  it("skips events journal retention deleted before they were delivered, with a WARN", async () => {
    fake.answer = (_, request) => (request.url === URL_A ? 500 : 200);
    dispatcher([webhook(URL_A, { maxAttempts: 1 })]).start();
    commit(1);
    await settle();
    expect(store.loadWebhookCursors()[0]?.parked).toBe(true);
    commit(150);
    await restart();
    expect(store.pruneEvents(0, 100)).toBe(51);
    dispatcher([webhook(URL_B, { maxAttempts: 1 })]).start();
    await settle();
    expect(fake.delivered(URL_B)).toEqual(range(52, 151));
    expect(logs.some((line) => line.level === 40 && line.msg.includes("retention"))).toBe(true);
  });

  it("keeps each subscriber's order and state apart", async () => {
    fake.answer = (_, request) => (request.url === URL_A ? 200 : 500);
    const running = dispatcher([
      webhook(URL_A, { name: "good" }),
      webhook(URL_B, { name: "bad", maxAttempts: 2 }),
    ]);
    running.start();
    commit(5);
    await settle();
    // The good one is not held up by the other's backoff.
    expect(fake.delivered(URL_A)).toEqual(range(1, 5));
    await vi.advanceTimersByTimeAsync(8_000);
    expect(running.statuses()).toEqual([
      expect.objectContaining({ subscriber: "good", parked: false, lagEvents: 0 }),
      expect.objectContaining({ subscriber: "bad", parked: true, lagEvents: 5 }),
    ]);
    expect(fake.requests.filter((request) => request.url === URL_B)).toHaveLength(2);
  });
});

describe("WebhookDispatcher over real HTTP", () => {
  /** Real round trips take real time; a loaded machine slows them. */
  const REAL_IO = { timeout: 3_000, interval: 5 };

  it("sends only events committed after a new subscriber appeared, in seq order, signed", async () => {
    commit(3);
    const { receiver: hook, url } = await receiver();
    dispatcher([webhook(url)], { now: () => START }).start();
    commit(2);
    commit(3);
    await vi.waitFor(() => expect(hook.delivered()).toEqual(range(4, 8)), REAL_IO);
    for (const request of hook.requests) {
      expect(request.headers["content-type"]).toBe("application/cloudevents+json");
      expect(request.headers["user-agent"]).toBe("oneiric-healthd");
      expect(request.headers["ce-type"]).toBe("io.oneiric.healthd.adapter.health_changed");
      expect(request.headers["ce-id"]).toBe(request.id);
      expect(request.headers["webhook-timestamp"]).toBe(String(Math.floor(START / 1000)));
      expect(verifies(request, SECRET)).toBe(true);
      expect(verifies(request, `${SECRET}x`)).toBe(false);
      expect(JSON.parse(request.body)).toMatchObject({ specversion: "1.0", seq: request.seq });
    }
    // The receiver answered; the dispatcher records it a moment later.
    await vi.waitFor(
      () =>
        expect(store.loadWebhookCursors()).toEqual([
          expect.objectContaining({ name: "ops", cursor: 8, parked: false, failures: 0 }),
        ]),
      REAL_IO,
    );
    // Never the secret, nor the URL's path and query, in the logs.
    const logText = JSON.stringify(logs);
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain("token=abc");
  });

  it("counts a non-2xx answer as a failure and a 2xx answer as delivered", async () => {
    const { receiver: hook, url } = await receiver((attempt) => (attempt === 0 ? 503 : 204));
    const running = dispatcher([webhook(url, { maxAttempts: 1 })]);
    running.start();
    commit(1);
    await vi.waitFor(() => expect(running.statuses()[0]?.parked).toBe(true), REAL_IO);
    expect(running.statuses()[0]?.parkedReason).toContain("HTTP 503");
    expect(running.unpark("ops")).toBe("resumed");
    await vi.waitFor(
      () => expect(store.loadWebhookCursors()[0]).toMatchObject({ cursor: 1, parked: false }),
      REAL_IO,
    );
    expect(hook.requests.map((request) => request.status)).toEqual([503, 204]);
  });

  it("counts a redirect as a failure and does not follow it", async () => {
    const { receiver: elsewhere, url: elsewhereUrl } = await receiver();
    const { receiver: hook, url } = await receiver(() => 307);
    hook.location = elsewhereUrl;
    const running = dispatcher([webhook(url, { maxAttempts: 1 })]);
    running.start();
    commit(1);
    await vi.waitFor(() => expect(running.statuses()[0]?.parked).toBe(true), REAL_IO);
    expect(running.statuses()[0]?.parkedReason).toContain("HTTP 307");
    expect(hook.requests).toHaveLength(1);
    expect(elsewhere.requests).toEqual([]);
  });

  it("counts a refused connection as a failure", async () => {
    const { receiver: gone, url } = await receiver();
    await gone.stop();
    const running = dispatcher([webhook(url, { maxAttempts: 1 })]);
    running.start();
    commit(1);
    await vi.waitFor(() => expect(running.statuses()[0]?.parked).toBe(true), REAL_IO);
    expect(running.statuses()[0]?.parkedReason).toContain("ECONNREFUSED");
  });
});
