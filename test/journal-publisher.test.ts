import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  StorageType,
  type StoredMsg,
} from "@nats-io/jetstream";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  DEDUP_WINDOW_MS,
  ensureEventStream,
  JournalPublisher,
  type JournalPublisherOptions,
  PUBLISH_CURSOR,
} from "../src/cluster/journal-publisher.js";
import {
  type AdapterKind,
  decodeStreamEvent,
  eventStreamName,
  eventSubject,
} from "../src/domain/event-subjects.js";
import type { ForeignEvent, JournalEvent, NewEvent } from "../src/domain/events.js";
import { EventHub } from "../src/events/event-hub.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { NatsServerProcess } from "./support/nats-server.js";

const INSTANCE = "healthd-a";
const S3 = "t.adapter.storage.s3";
const REDIS = "t.adapter.cache.redis";
/** An adapter another member owns: its catalog events are not this member's to publish. */
const NOT_OWNED = "t.adapter.queue.kafka";
const KINDS = new Map<string, AdapterKind>([
  [S3, { domain: "storage", category: "s3" }],
  [REDIS, { domain: "cache", category: "redis" }],
  [NOT_OWNED, { domain: "queue", category: "kafka" }],
]);
const HOUR_MS = 3_600_000;
/** Generous: a noisy 2-core machine must not make these fail. */
const WAIT_MS = 20_000;

let server: NatsServerProcess;
let clusterNumber = 0;

beforeAll(async () => {
  server = await NatsServerProcess.start();
});

afterAll(async () => {
  await server?.dispose();
});

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

/** One test's parts: a real SQLite journal, an EventHub, a NATS connection, a publisher. */
let directory: string;
let store: SqliteStore;
let hub: EventHub;
let nc: NatsConnection;
let natsUp: boolean;
let jsm: JetStreamManager;
let cluster: string;
let logs: LogLine[];
const publishers: JournalPublisher[] = [];

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), "healthd-publisher-"));
  store = new SqliteStore({ path: join(directory, "state.db") });
  hub = new EventHub(store);
  cluster = `c${++clusterNumber}`;
  logs = [];
  nc = await connect({
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    timeout: 5_000,
  });
  // What the daemon's wiring gives: the connection while it is up, nothing while NATS is down.
  natsUp = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") natsUp = false;
      if (status.type === "reconnect") natsUp = true;
    }
  })();
  jsm = await jetstreamManager(nc);
});

afterEach(async () => {
  for (const publisher of publishers.splice(0)) await publisher.stop(1_000);
  await nc.close();
  hub.close();
  store.close();
  rmSync(directory, { recursive: true, force: true });
});

function publisher(overrides: Partial<JournalPublisherOptions> = {}): JournalPublisher {
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
  );
  const created = new JournalPublisher({
    connection: () => (natsUp ? nc : undefined),
    cluster,
    instanceId: INSTANCE,
    journal: store,
    feed: hub,
    shouldPublish: (event) => event.subject !== NOT_OWNED,
    subjectOf: (event) => eventSubject(cluster, event, (id) => KINDS.get(id), INSTANCE),
    logger,
    streamMaxAgeMs: HOUR_MS,
    publishTimeoutMs: 2_000,
    retryMs: 100,
    ...overrides,
  });
  publishers.push(created);
  return created;
}

let eventNumber = 0;

/** Commits events and hands them to the hub, as the engine does. */
function commit(events: NewEvent[], foreignEvents?: ForeignEvent[]): JournalEvent[] {
  const journalled = store.commit({ events, ...(foreignEvents ? { foreignEvents } : {}) }, 1_000);
  hub.publish(journalled);
  return journalled;
}

/** `count` events of the kinds a daemon commits, each with its own data. */
function someEvents(count: number): NewEvent[] {
  return Array.from({ length: count }, (_, index): NewEvent => {
    const n = ++eventNumber;
    const time = 1_750_000_000_000 + n;
    switch (index % 4) {
      case 0:
        return { type: "adapter.health_changed", subject: S3, time, data: { to: "unhealthy", n } };
      case 1:
        return { type: "breaker.opened", subject: REDIS, time, data: { n } };
      case 2:
        return { type: "failover", subject: "storage/s3//", time, data: { from: S3, n } };
      default:
        return { type: "registry.unreachable", subject: "registry-a:8680", time, data: { n } };
    }
  });
}

/** Every message on the cluster's stream, in stream order. */
async function streamMessages(): Promise<StoredMsg[]> {
  const name = eventStreamName(cluster);
  const { state } = await jsm.streams.info(name);
  const messages: StoredMsg[] = [];
  if (state.messages === 0) return messages;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(name, { seq });
    if (message) messages.push(message);
  }
  return messages;
}

async function streamIds(): Promise<string[]> {
  return (await streamMessages()).map((message) => message.header.get("Nats-Msg-Id"));
}

async function caughtUp(published: JournalPublisher, seq: number): Promise<void> {
  expect(await published.caughtUp(seq, WAIT_MS), `cursor reached ${seq}`).toBe(true);
}

const lastSeq = (events: readonly JournalEvent[]) => events.at(-1)?.seq ?? 0;

describe("JournalPublisher", () => {
  it("puts each event committed from joining on onto the stream, in order, under its id", async () => {
    const beforeJoining = commit(someEvents(3));
    const running = publisher();
    // No saved cursor: it starts at the journal's newest event, saved at once.
    expect(store.loadClusterCursor(PUBLISH_CURSOR)).toBe(lastSeq(beforeJoining));
    running.start();
    const committed = [...commit(someEvents(5)), ...commit(someEvents(40))];
    await caughtUp(running, lastSeq(committed));

    const messages = await streamMessages();
    expect(messages.map((message) => message.header.get("Nats-Msg-Id"))).toEqual(
      committed.map((event) => event.id),
    );
    messages.forEach((message, index) => {
      const event = committed[index] as JournalEvent;
      expect(message.subject).toBe(eventSubject(cluster, event, (id) => KINDS.get(id), INSTANCE));
      expect(message.header.get("Healthd-Origin")).toBe(INSTANCE);
      expect(message.header.get("Healthd-Seq")).toBe(String(event.seq));
      const { seq: _, ...asCommitted } = event;
      expect(decodeStreamEvent(message.data, message.header)).toStrictEqual({
        ...asCommitted,
        origin: INSTANCE,
      });
    });
    expect(messages[0]?.subject).toBe(`healthd.${cluster}.adapter.health_changed.storage.s3`);
    expect(messages[2]?.subject).toBe(`healthd.${cluster}.failover.storage_s3__`);
    expect(messages[3]?.subject).toBe(`healthd.${cluster}.registry.unreachable.${INSTANCE}`);

    expect(store.loadClusterCursor(PUBLISH_CURSOR)).toBe(lastSeq(committed));
    expect(running.status()).toEqual({
      cursor: lastSeq(committed),
      lagEvents: 0,
      published: committed.length,
      duplicates: 0,
      failing: false,
    });
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
  });

  it("makes the stream it needs: file storage, the cluster's subjects, de-duplication, retention", async () => {
    const running = publisher({ streamMaxAgeMs: 6 * HOUR_MS });
    running.start();
    await caughtUp(running, lastSeq(commit(someEvents(1))));
    const { config } = await jsm.streams.info(eventStreamName(cluster));
    expect(config).toMatchObject({
      name: `healthd_${cluster}_events`,
      subjects: [`healthd.${cluster}.>`],
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(6 * HOUR_MS),
      duplicate_window: nanos(DEDUP_WINDOW_MS),
    });
  });

  it("sends again what was acked but not recorded (a crash before the cursor save), and the stream drops it", async () => {
    const first = publisher();
    first.start();
    const committed = commit(someEvents(20));
    await caughtUp(first, lastSeq(committed));
    await first.stop(1_000);
    expect(await streamIds()).toEqual(committed.map((event) => event.id));

    // As if the process died after JetStream acked events 6..20 but before their cursor was saved.
    const rolledBack = (committed[4] as JournalEvent).seq;
    store.saveClusterCursor(PUBLISH_CURSOR, rolledBack, 2_000);
    const second = publisher();
    second.start();
    await caughtUp(second, lastSeq(committed));
    expect(second.status()).toMatchObject({ published: 15, duplicates: 15, failing: false });
    expect(await streamIds()).toEqual(committed.map((event) => event.id));

    // And it goes on with new events as before.
    const later = commit(someEvents(5));
    await caughtUp(second, lastSeq(later));
    expect(await streamIds()).toEqual([...committed, ...later].map((event) => event.id));
    expect(second.status()).toMatchObject({ published: 20, duplicates: 15 });
  });

  it("loses nothing and duplicates nothing while the NATS server is down", async () => {
    const running = publisher();
    running.start();
    const before = commit(someEvents(10));
    await caughtUp(running, lastSeq(before));

    // Some in flight as the server goes, more committed while it is gone.
    const inFlight = commit(someEvents(30));
    await server.stop();
    const duringOutage: JournalEvent[] = [];
    for (let batch = 0; batch < 5; batch++) {
      duringOutage.push(...commit(someEvents(8)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await vi.waitFor(() => expect(running.status().failing).toBe(true), { timeout: WAIT_MS });
    expect(running.status().lagEvents).toBeGreaterThan(0);
    await server.start();
    const after = commit(someEvents(4));

    const everything = [...before, ...inFlight, ...duringOutage, ...after];
    await caughtUp(running, lastSeq(everything));
    const ids = await streamIds();
    expect(ids).toHaveLength(everything.length);
    expect(new Set(ids)).toEqual(new Set(everything.map((event) => event.id)));
    await vi.waitFor(() => expect(running.status().failing).toBe(false), { timeout: WAIT_MS });
    expect(store.loadClusterCursor(PUBLISH_CURSOR)).toBe(lastSeq(everything));

    // One warning for the outage, one word when the backlog is out.
    const warnings = logs.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.msg)).toEqual([
      "journal publisher cannot publish to JetStream; events wait in the journal until it can",
    ]);
    expect(
      logs.filter((line) => line.msg.startsWith("journal publisher caught up")).map((l) => l.level),
    ).toEqual([30]);
  });

  it("publishes neither events other members committed nor those it is told to leave out", async () => {
    const running = publisher();
    running.start();
    const foreign: ForeignEvent[] = [
      {
        id: "6a1e2f3d-0000-4000-8000-00000000000b",
        origin: "healthd-b",
        type: "adapter.health_changed",
        subject: S3,
        time: 1_750_000_000_000,
        data: { to: "healthy" },
      },
    ];
    const journalled = commit(
      [
        { type: "adapter.discovered", subject: NOT_OWNED, time: 1, data: {} },
        { type: "adapter.health_changed", subject: REDIS, time: 2, data: {} },
        // The engine of a cluster member marks its own events with its id: those go out.
        { type: "adapter.health_changed", subject: S3, time: 3, data: {}, origin: INSTANCE },
      ],
      foreign,
    );
    expect(journalled).toHaveLength(4);
    const last = commit([{ type: "failover", subject: "cache/redis//", time: 4, data: {} }]);
    await caughtUp(running, lastSeq(last));

    const wanted = [journalled[1], journalled[2], last[0]].map((event) => event?.id);
    expect(await streamIds()).toEqual(wanted);
    expect(running.status()).toMatchObject({ cursor: lastSeq(last), published: 3 });
    expect(store.loadClusterCursor(PUBLISH_CURSOR)).toBe(lastSeq(last));
  });

  it("makes the stream again when it went missing (deleted by an operator)", async () => {
    const running = publisher();
    running.start();
    await caughtUp(running, lastSeq(commit(someEvents(5))));
    await jsm.streams.delete(eventStreamName(cluster));
    const afterDeletion = commit(someEvents(5));
    await caughtUp(running, lastSeq(afterDeletion));
    expect(await streamIds()).toEqual(afterDeletion.map((event) => event.id));
    expect(logs.filter((line) => line.level === 40)).toHaveLength(1);
  });

  it("starts again from its cursor when the journal cannot be read for a while", async () => {
    let failingReads = 0;
    const running = publisher({
      journal: {
        readEvents: (afterSeq, limit) => {
          if (failingReads > 0) {
            failingReads--;
            throw Object.assign(new Error("SQLITE_BUSY: database is locked"), {
              code: "SQLITE_BUSY",
            });
          }
          return store.readEvents(afterSeq, limit);
        },
        loadClusterCursor: (name) => store.loadClusterCursor(name),
        saveClusterCursor: (name, position, now) => store.saveClusterCursor(name, position, now),
      },
    });
    failingReads = 3;
    running.start();
    const committed = commit(someEvents(30));
    await caughtUp(running, lastSeq(committed));
    expect(failingReads).toBe(0);
    expect(await streamIds()).toEqual(committed.map((event) => event.id));
    expect(logs.filter((line) => line.level === 50).map((line) => line.msg)).toEqual([
      "journal publisher failed; retrying",
      "journal publisher failed; retrying",
      "journal publisher failed; retrying",
    ]);
  });

  it("waits for NATS when it starts without it, then publishes the backlog", async () => {
    natsUp = false;
    const running = publisher();
    running.start();
    const committed = commit(someEvents(12));
    await vi.waitFor(() => expect(running.status().failing).toBe(true), { timeout: WAIT_MS });
    expect(running.status()).toMatchObject({ cursor: 0, lagEvents: 12, published: 0 });
    natsUp = true;
    await caughtUp(running, lastSeq(committed));
    expect(await streamIds()).toEqual(committed.map((event) => event.id));
    expect(logs.filter((line) => line.level === 40)).toHaveLength(1);
    expect(logs.find((line) => line.level === 40)?.reason).toBe("NATS is not connected");
  });
});

describe("ensureEventStream", () => {
  it("leaves a stream that exists as its operator configured it", async () => {
    const name = eventStreamName(cluster);
    await jsm.streams.add({
      name,
      subjects: [`healthd.${cluster}.>`],
      storage: StorageType.Memory,
      max_age: nanos(24 * HOUR_MS),
    });
    await ensureEventStream(jsm, cluster, HOUR_MS);
    const { config } = await jsm.streams.info(name);
    expect(config.storage).toBe(StorageType.Memory);
    expect(config.max_age).toBe(nanos(24 * HOUR_MS));
  });

  it("refuses a retention shorter than the de-duplication window, naming the parameter", async () => {
    await expect(ensureEventStream(jsm, cluster, 60_000)).rejects.toThrow(
      /^streamMaxAgeMs: 60000 is not a whole number of ms of at least 120000/,
    );
    expect(() => publisher({ streamMaxAgeMs: 1.5 })).toThrow(/^streamMaxAgeMs: 1.5 /);
  });
});
