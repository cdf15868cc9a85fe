import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetFeed } from "../src/cluster/fleet-feed.js";
import { ensureEventStream } from "../src/cluster/journal-publisher.js";
import { VerdictExchange, verdictSubject } from "../src/cluster/verdict-exchange.js";
import { encodeStreamEvent, eventStreamName } from "../src/domain/event-subjects.js";
import type { ForeignEvent, JournalEvent } from "../src/domain/events.js";
import { type HealthState, initialHealth } from "../src/domain/health.js";
import { NatsServerProcess } from "./support/nats-server.js";

const WAIT_MS = 20_000;
const silent = pino({ level: "silent" });

let server: NatsServerProcess;
const connections: NatsConnection[] = [];
let clusterNumber = 0;

beforeAll(async () => {
  server = await NatsServerProcess.start();
});

afterAll(async () => {
  for (const connection of connections) await connection.close();
  await server?.dispose();
});

async function connection(): Promise<NatsConnection> {
  const opened = await connect({ servers: server.url });
  connections.push(opened);
  return opened;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function verdict(adapterId: string, owner: string, checkedAt: number): HealthState {
  return { ...initialHealth(adapterId, "healthy", checkedAt), lastChecked: checkedAt, owner };
}

type Owns = (from: string, adapterId: string) => boolean;

/** A member's exchange on its own connection, subscribed; what it adopts is collected. */
async function member(
  cluster: string,
  id: string,
  owns: Owns,
  options: { refusedKeptMs?: number; monotonic?: () => number } = {},
): Promise<{ exchange: VerdictExchange; adopted: HealthState[] }> {
  const opened = await connection();
  const adopted: HealthState[] = [];
  const exchange = new VerdictExchange({
    connection: () => opened,
    cluster,
    member: id,
    owns,
    adopt: (states) => void adopted.push(...states),
    logger: silent,
    ...options,
  });
  exchange.connected();
  await opened.flush();
  return { exchange, adopted };
}

/** Publishes raw verdict messages as member `from` would (or as an impostor). */
async function rawSender(cluster: string) {
  const opened = await connection();
  const encoder = new TextEncoder();
  return {
    send: (from: string, payload: string) =>
      opened.publish(verdictSubject(cluster, from), encoder.encode(payload)),
    verdicts: (from: string, states: HealthState[]) =>
      opened.publish(
        verdictSubject(cluster, from),
        encoder.encode(JSON.stringify({ from, states })),
      ),
  };
}

const ownsNothing: Owns = () => false;
const ownsAll: Owns = () => true;

describe("VerdictExchange", () => {
  it("hands each member's committed verdicts to the others, the sender's owned ones only", async () => {
    const cluster = `x${++clusterNumber}`;
    // b believes a owns "s3" only; a believes b owns nothing.
    const a = await member(cluster, "a", ownsNothing);
    const b = await member(cluster, "b", (from, adapterId) => from === "a" && adapterId === "s3");
    a.exchange.committed([verdict("s3", "a", 1_000), verdict("redis", "a", 1_000)]);
    // The newest of one adapter's verdicts is what goes out.
    a.exchange.committed([verdict("s3", "a", 2_000)]);
    await until(() => b.adopted.length > 0, "b to adopt a's verdict");
    expect(b.adopted.map((state) => [state.adapterId, state.lastChecked])).toEqual([["s3", 2_000]]);
    expect(b.exchange.status()).toMatchObject({ received: 2, refused: 1 });
    expect(a.exchange.status().sent).toBe(2);
    // A member does not adopt its own verdicts.
    expect(a.adopted).toEqual([]);
    a.exchange.stop();
    b.exchange.stop();
  });

  it("refuses a verdict whose owner is not its sender, and counts a malformed message", async () => {
    const cluster = `x${++clusterNumber}`;
    const b = await member(cluster, "b", ownsAll);
    const sender = await rawSender(cluster);
    sender.verdicts("a", [verdict("s3", "c", 1_000)]);
    sender.send("a", "{not json");
    sender.verdicts("a", [verdict("gcs", "a", 1_000)]);
    await until(() => b.adopted.length > 0, "the well-formed verdict");
    expect(b.adopted.map((state) => state.adapterId)).toEqual(["gcs"]);
    expect(b.exchange.status()).toMatchObject({ refused: 1, malformed: 1 });
    b.exchange.stop();
  });
});

describe("VerdictExchange at a member's start", () => {
  it("sends thousands of verdicts at once in messages below NATS's payload limit", async () => {
    const cluster = `x${++clusterNumber}`;
    const b = await member(cluster, "b", ownsAll);
    const a = await member(cluster, "a", ownsNothing);
    // A breaker's windows make a verdict large: 3,000 of these are several MiB.
    const windows = { buckets: Array.from({ length: 64 }, (_, index) => ({ index, failures: 0 })) };
    a.exchange.committed(
      Array.from({ length: 3_000 }, (_, index) => ({
        ...verdict(`adapter-${index}`, "a", 1_000),
        breaker: { state: "closed" as const, snapshot: windows },
      })),
    );
    a.exchange.flush();
    await until(() => b.adopted.length === 3_000, "every verdict adopted");
    expect(a.exchange.status()).toMatchObject({ sent: 3_000, unsent: 0 });
    a.exchange.stop();
    b.exchange.stop();
  });
});

describe("VerdictExchange without a connection", () => {
  it("keeps the newest verdict of each adapter until connected, then sends them", async () => {
    const cluster = `x${++clusterNumber}`;
    const b = await member(cluster, "b", ownsAll);
    // a starts before its NATS connection: a member's start vouches for what it owns at once,
    // and an adapter whose breaker is open gives no other verdict until its trial.
    let link: NatsConnection | undefined;
    const a = new VerdictExchange({
      connection: () => link,
      cluster,
      member: "a",
      owns: ownsNothing,
      adopt: () => undefined,
      logger: silent,
    });
    a.committed([verdict("s3", "a", 1_000), verdict("redis", "a", 1_000)]);
    a.flush();
    a.committed([verdict("s3", "a", 2_000)]);
    a.flush();
    expect(a.status()).toMatchObject({ sent: 0, waiting: 2 });
    link = await connection();
    a.connected();
    await until(() => b.adopted.length === 2, "both waiting verdicts adopted");
    expect(b.adopted.map((state) => [state.adapterId, state.lastChecked]).sort()).toEqual([
      ["redis", 1_000],
      ["s3", 2_000],
    ]);
    expect(a.status()).toMatchObject({ sent: 2, waiting: 0 });
    a.stop();
    b.exchange.stop();
  });
});

describe("VerdictExchange during a handover", () => {
  /** b, which believes "s3" is owned by whoever `owner.of` names. */
  async function receiver(cluster: string, clock?: { now: number }) {
    const owner = { of: "a" };
    const b = await member(
      cluster,
      "b",
      (from, adapterId) => adapterId === "s3" && from === owner.of,
      clock ? { refusedKeptMs: 1_000, monotonic: () => clock.now } : {},
    );
    return { ...b, owner };
  }

  it("adopts a new owner's verdict that came before this member saw the members change", async () => {
    const cluster = `x${++clusterNumber}`;
    // Until the change, b believes "s3" is a's; the new owner c has already sent its verdict.
    const b = await receiver(cluster, { now: 0 });
    const c = await member(cluster, "c", ownsNothing);
    c.exchange.committed([verdict("s3", "c", 5_000)]);
    c.exchange.flush();
    await until(() => b.exchange.status().refused === 1, "b to refuse c's early verdict");
    expect(b.adopted).toEqual([]);
    b.owner.of = "c";
    b.exchange.ownersChanged();
    expect(b.adopted.map((state) => [state.adapterId, state.owner])).toEqual([["s3", "c"]]);
    // Judged once: a second change adopts nothing more.
    b.exchange.ownersChanged();
    expect(b.adopted).toHaveLength(1);
    c.exchange.stop();
    b.exchange.stop();
  });

  it("keeps the new owner's early verdict while the old owner's verdicts still come", async () => {
    const cluster = `x${++clusterNumber}`;
    const b = await receiver(cluster);
    const sender = await rawSender(cluster);
    // c has taken s3 over and vouched for it; a, not yet aware, sends one more verdict of it.
    sender.verdicts("c", [verdict("s3", "c", 5_000)]);
    sender.verdicts("a", [verdict("s3", "a", 6_000)]);
    await until(() => b.exchange.status().received === 2, "both verdicts");
    expect(b.adopted.map((state) => state.owner)).toEqual(["a"]);
    b.owner.of = "c";
    b.exchange.ownersChanged();
    expect(b.adopted.map((state) => state.owner)).toEqual(["a", "c"]);
    b.exchange.stop();
  });

  it("keeps refusing a verdict refused longer ago than a handover lasts", async () => {
    const cluster = `x${++clusterNumber}`;
    const clock = { now: 0 };
    const b = await receiver(cluster, clock);
    const sender = await rawSender(cluster);
    sender.verdicts("c", [verdict("s3", "c", 1)]);
    await until(() => b.exchange.status().refused === 1, "b to refuse c's verdict");
    clock.now = 1_001;
    b.owner.of = "c";
    b.exchange.ownersChanged();
    expect(b.adopted).toEqual([]);
    b.exchange.stop();
  });
});

describe("FleetFeed", () => {
  function journalEvent(seq: number, origin: string, type: JournalEvent["type"]): JournalEvent {
    return {
      seq,
      id: `00000000-0000-4000-8000-${String(seq).padStart(12, "0")}-${origin}`,
      type,
      subject: "t.adapter.storage.s3",
      time: 1_700_000_000_000 + seq,
      data: { n: seq },
      origin,
    };
  }

  it("mirrors the other members' events from its stored position, passing over its own and catalog events", async () => {
    const cluster = `x${++clusterNumber}`;
    const nc = await connection();
    await ensureEventStream(await jetstreamManager(nc), cluster, 3_600_000);
    const js = jetstream(nc);
    const subject = `healthd.${cluster}.adapter.health_changed.storage.s3`;
    // Published before the feed's first start: not mirrored (it starts at the stream's end).
    await js.publish(
      subject,
      encodeStreamEvent(journalEvent(1, "a", "adapter.health_changed"), "a"),
    );
    let stored: number | undefined;
    const mirrored: { events: ForeignEvent[]; position: number }[] = [];
    const feed = () =>
      new FleetFeed({
        connection: () => nc,
        cluster,
        member: "b",
        storedPosition: () => stored,
        startAt: (position) => {
          stored = position;
        },
        mirror: (events, position) => {
          mirrored.push({ events: [...events], position });
          stored = position;
        },
        logger: silent,
      });
    const first = feed();
    await first.connected();
    expect(stored).toBe(1);
    await js.publish(
      subject,
      encodeStreamEvent(journalEvent(2, "a", "adapter.health_changed"), "a"),
    );
    await js.publish(
      subject,
      encodeStreamEvent(journalEvent(3, "b", "adapter.health_changed"), "b"),
    );
    await js.publish(
      `healthd.${cluster}.adapter.discovered.storage.s3`,
      encodeStreamEvent(journalEvent(4, "a", "adapter.discovered"), "a"),
    );
    await until(() => stored === 4, "the feed to reach stream position 4");
    expect(mirrored.map(({ events, position }) => [position, events.map((e) => e.origin)])).toEqual(
      [
        [2, ["a"]],
        [3, []],
        [4, []],
      ],
    );
    expect(mirrored[0]?.events[0]).toMatchObject({
      id: journalEvent(2, "a", "adapter.health_changed").id,
      type: "adapter.health_changed",
      data: { n: 2 },
    });
    await first.stop();
    // A restart resumes after the stored position: what came meanwhile, nothing twice.
    await js.publish(subject, encodeStreamEvent(journalEvent(5, "c", "breaker.opened"), "c"));
    const second = feed();
    await second.connected();
    await until(() => stored === 5, "the restarted feed to reach position 5");
    expect(mirrored.slice(3).map(({ position }) => position)).toEqual([5]);
    expect(second.status()).toMatchObject({ position: 5, mirrored: 1, following: true });
    await second.stop();
  });

  it("passes over a message that is not an event, and counts it", async () => {
    const cluster = `x${++clusterNumber}`;
    const nc = await connection();
    await ensureEventStream(await jetstreamManager(nc), cluster, 3_600_000);
    let stored: number | undefined;
    const feed = new FleetFeed({
      connection: () => nc,
      cluster,
      member: "b",
      storedPosition: () => stored,
      startAt: (position) => {
        stored = position;
      },
      mirror: (_events, position) => {
        stored = position;
      },
      logger: silent,
    });
    await feed.connected();
    await jetstream(nc).publish(`healthd.${cluster}.adapter.health_changed.x.y`, "garbage");
    await until(() => stored === 1, "the feed to pass over the message");
    expect(feed.status()).toMatchObject({ malformed: 1, mirrored: 0 });
    expect(eventStreamName(cluster)).toBe(`healthd_${cluster}_events`);
    await feed.stop();
  });
});
