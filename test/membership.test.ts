import { setTimeout as delay } from "node:timers/promises";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LeaseValue, Membership, membersBucketName } from "../src/cluster/membership.js";
import { NatsLink } from "../src/cluster/nats-link.js";
import { CapturedLog } from "./support/captured-log.js";
import { startNatsServerWith } from "./support/custom-nats-server.js";
import { CuttableProxy } from "./support/cuttable-proxy.js";
import { NatsServerProcess } from "./support/nats-server.js";

/** Short enough for tests to see leases lapse, long enough for a loaded 2-core machine. */
const SHORT_TTL_MS = 3_000;
/** What the daemon uses by default. */
const DEFAULT_TTL_MS = 10_000;
/** Conditions are polled up to this long: generous, never a claim about speed. */
const WAIT = { timeout: 25_000, interval: 50 };

let server: NatsServerProcess;
let observer: NatsConnection;
let clusterCount = 0;
const running: Member[] = [];

beforeAll(async () => {
  server = await NatsServerProcess.start();
  observer = await connect({ servers: [server.url], maxReconnectAttempts: -1 });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((member) => member.stop()));
  await server.start();
});

afterAll(async () => {
  await observer.close();
  await server.dispose();
});

/** One daemon's worth of cluster parts: its own NATS link and its membership. */
class Member {
  readonly log = new CapturedLog();
  readonly link: NatsLink;
  readonly membership: Membership;
  /** Every set the membership reported through onChange... */
  readonly changes: (readonly string[])[] = [];
  /** ...and when (ms, Date.now). */
  readonly changedAt: number[] = [];

  constructor(
    readonly cluster: string,
    readonly id: string,
    leaseTtlMs: number,
    initialMembers?: readonly string[],
    /** The NATS server's address as this member reaches it (through a proxy, say). */
    url = server.url,
  ) {
    this.link = new NatsLink({
      servers: [url],
      connectionName: `oneiric-healthd ${cluster}/${id}`,
      logger: this.log.logger.child({ component: "nats" }),
    });
    this.membership = new Membership({
      link: this.link,
      cluster,
      instanceId: id,
      leaseTtlMs,
      logger: this.log.logger.child({ component: "membership" }),
      ...(initialMembers ? { initialMembers } : {}),
    });
    this.membership.onChange((members) => {
      this.changes.push(members);
      this.changedAt.push(Date.now());
    });
    running.push(this);
  }

  start(): this {
    this.membership.start();
    this.link.start();
    return this;
  }

  /** A graceful stop: leave the cluster, then close the link. */
  async stop(): Promise<void> {
    await this.membership.stop();
    await this.link.close();
  }

  /** As if the process died: the link goes away, the lease stays in the bucket. */
  async crash(): Promise<void> {
    await this.link.close();
    await this.membership.stop();
    running.splice(running.indexOf(this), 1);
  }
}

function newCluster(): string {
  clusterCount++;
  return `t${process.pid}_${clusterCount}`;
}

function startMembers(cluster: string, ids: string[], leaseTtlMs: number): Member[] {
  return ids.map((id) => new Member(cluster, id, leaseTtlMs).start());
}

async function allSee(members: Member[], expected: string[]): Promise<void> {
  await vi.waitFor(() => {
    for (const member of members) expect(member.membership.members()).toEqual(expected);
  }, WAIT);
}

async function bucket(cluster: string) {
  return new Kvm(observer).open(membersBucketName(cluster));
}

describe("Membership", () => {
  it("three instances join and each sees all three; each lease names its instance and incarnation", async () => {
    const cluster = newCluster();
    const members = startMembers(cluster, ["a", "b", "c"], SHORT_TTL_MS);
    for (const member of members) {
      // Self is a member from the start, before NATS has said anything.
      expect(member.membership.members()).toContain(member.id);
      expect(await member.membership.settled(20_000)).toBe(true);
    }
    await allSee(members, ["a", "b", "c"]);

    const kv = await bucket(cluster);
    const status = await kv.status();
    expect(status.ttl).toBe(SHORT_TTL_MS);
    expect(status.history).toBe(1);
    const incarnations = new Set<string>();
    for (const member of members) {
      const state = member.membership.status();
      expect(state).toMatchObject({ joined: true, fencedCount: 0, members: ["a", "b", "c"] });
      const entry = await kv.get(member.id);
      expect(entry?.operation).toBe("PUT");
      const lease = entry?.json<LeaseValue>();
      expect(lease).toMatchObject({ instance: member.id });
      expect(Date.parse(lease?.started_at ?? "")).not.toBeNaN();
      expect(Date.parse(lease?.renewed_at ?? "")).not.toBeNaN();
      incarnations.add(lease?.incarnation ?? "");
      // Renewals move the revision on: the lease is alive.
      const revision = state.leaseRevision ?? 0;
      await vi.waitFor(
        () => expect(member.membership.status().leaseRevision).toBeGreaterThan(revision),
        WAIT,
      );
    }
    expect(incarnations.size).toBe(3);
    for (const member of members) expect(member.log.problems()).toEqual([]);
  });

  it("a graceful stop deletes the lease, so the others drop it at once, not after the TTL", async () => {
    // A lease TTL far longer than the wait: only the deletion can make the others drop b.
    const ttlMs = 120_000;
    const cluster = newCluster();
    const [a, b, c] = startMembers(cluster, ["a", "b", "c"], ttlMs) as [Member, Member, Member];
    await allSee([a, b, c], ["a", "b", "c"]);

    await b.stop();
    await allSee([a, c], ["a", "c"]);
    expect((await (await bucket(cluster)).get("b"))?.operation).toBe("DEL");
    for (const member of [a, c]) expect(member.changes.at(-1)).toEqual(["a", "c"]);
    expect(b.membership.status()).toMatchObject({ joined: false, leaseRevision: null });
  });

  it("drops a crashed instance once its lease has gone unrenewed for the TTL (short TTL)", async () => {
    await crashAndWatchTheOthers(SHORT_TTL_MS);
  });

  it("drops a crashed instance once its lease has gone unrenewed for the TTL (the default 10 s)", {
    timeout: 60_000,
  }, async () => {
    await crashAndWatchTheOthers(DEFAULT_TTL_MS);
  });

  it("drops nobody while NATS is down for longer than the TTL; all rejoin as new leases and see three again", {
    timeout: 60_000,
  }, async () => {
    const cluster = newCluster();
    const members = startMembers(cluster, ["a", "b", "c"], SHORT_TTL_MS);
    await allSee(members, ["a", "b", "c"]);
    const changesBefore = members.map((member) => member.changes.length);

    await server.stop();
    await vi.waitFor(() => {
      for (const member of members) expect(member.link.state()).toBe("disconnected");
    }, WAIT);
    // Three TTLs without NATS: every lease in the bucket expires meanwhile.
    const downUntil = performance.now() + 3 * SHORT_TTL_MS;
    while (performance.now() < downUntil) {
      for (const member of members) expect(member.membership.members()).toEqual(["a", "b", "c"]);
      await delay(250);
    }

    await server.start();
    await vi.waitFor(() => {
      for (const member of members) {
        expect(member.membership.status()).toMatchObject({ joined: true, fencedCount: 1 });
      }
    }, WAIT);
    await allSee(members, ["a", "b", "c"]);
    // Two more TTLs with everyone back: still nobody dropped, no set ever reported.
    await delay(2 * SHORT_TTL_MS);
    await allSee(members, ["a", "b", "c"]);
    members.forEach((member, index) => {
      expect(member.changes.length).toBe(changesBefore[index]);
      const fences = member.log.warnings().filter((line) => line.msg.startsWith("lease lapsed"));
      expect(fences).toHaveLength(1);
      expect(fences[0]?.msg).toBe("lease lapsed; rejoining as a new lease");
      expect(fences[0]?.reason).toBe("the lease expired");
    });
  });

  it("an instance restarted with the same id takes its lease back and the set never changes", async () => {
    const cluster = newCluster();
    const [a, b, c] = startMembers(cluster, ["a", "b", "c"], SHORT_TTL_MS) as [
      Member,
      Member,
      Member,
    ];
    await allSee([a, b, c], ["a", "b", "c"]);
    const kv = await bucket(cluster);
    const before = (await kv.get("b"))?.json<LeaseValue>();
    const changesBefore = [a.changes.length, c.changes.length];

    await b.crash();
    // As the daemon would, the new process starts from the view it persisted.
    const again = new Member(cluster, "b", SHORT_TTL_MS, b.membership.members()).start();
    expect(await again.membership.settled(20_000)).toBe(true);
    await allSee([a, again, c], ["a", "b", "c"]);
    const after = (await kv.get("b"))?.json<LeaseValue>();
    expect(after?.instance).toBe("b");
    expect(after?.incarnation).not.toBe(before?.incarnation);

    // Well past the old lease's TTL: nobody dropped b meanwhile.
    await delay(2 * SHORT_TTL_MS);
    await allSee([a, again, c], ["a", "b", "c"]);
    expect([a.changes.length, c.changes.length]).toEqual(changesBefore);
    expect(again.changes).toEqual([]);
    expect(again.membership.status().fencedCount).toBe(0);
  });

  it("is fenced when someone else writes its key: warns, rejoins with a new revision, reports the set after a fresh snapshot", async () => {
    const cluster = newCluster();
    const [a, b] = startMembers(cluster, ["a", "b"], SHORT_TTL_MS) as [Member, Member];
    await allSee([a, b], ["a", "b"]);
    const kv = await bucket(cluster);
    const impostor: LeaseValue = {
      instance: "a",
      incarnation: "impostor",
      started_at: new Date().toISOString(),
      renewed_at: new Date().toISOString(),
    };
    const impostorRevision = await kv.put("a", JSON.stringify(impostor));

    await vi.waitFor(() => expect(a.membership.status().fencedCount).toBe(1), WAIT);
    await vi.waitFor(() => {
      const state = a.membership.status();
      expect(state.joined).toBe(true);
      expect(state.leaseRevision).toBeGreaterThan(impostorRevision);
    }, WAIT);
    const lease = (await kv.get("a"))?.json<LeaseValue>();
    expect(lease?.incarnation).not.toBe("impostor");
    const fences = a.log.warnings().filter((line) => line.msg.startsWith("lease lapsed"));
    expect(fences).toHaveLength(1);
    expect(fences[0]?.reason).toBe(
      "another process with this instance id holds it (incarnation impostor)",
    );
    expect(a.membership.members()).toEqual(["a", "b"]);
    expect(b.membership.members()).toEqual(["a", "b"]);
    expect(await a.membership.settled(20_000)).toBe(true);
  });

  it("assumes the given members while NATS is unreachable, then drops those that never show up", {
    timeout: 60_000,
  }, async () => {
    const cluster = newCluster();
    await server.stop();
    const a = new Member(cluster, "a", SHORT_TTL_MS, ["b", "ghost"]);
    a.start();
    expect(a.membership.members()).toEqual(["a", "b", "ghost"]);
    expect(await a.membership.settled(500)).toBe(false);
    await delay(2 * SHORT_TTL_MS);
    expect(a.membership.members()).toEqual(["a", "b", "ghost"]);
    expect(a.membership.status()).toMatchObject({ joined: false, leaseRevision: null });

    await server.start();
    const b = new Member(cluster, "b", SHORT_TTL_MS).start();
    await allSee([a], ["a", "b"]);
    await allSee([b], ["a", "b"]);
    expect(a.changes).toEqual([["a", "b"]]);
  });

  it("cut off alone, an instance drops nobody while the others take over from it; back, it rejoins and learns who came meanwhile", {
    timeout: 90_000,
  }, async () => {
    const cluster = newCluster();
    const proxy = await CuttableProxy.start(server.port);
    try {
      const a = new Member(cluster, "a", SHORT_TTL_MS, undefined, proxy.url).start();
      const [b, c] = startMembers(cluster, ["b", "c"], SHORT_TTL_MS) as [Member, Member];
      await allSee([a, b, c], ["a", "b", "c"]);
      const changesBeforeCut = a.changes.length;

      await proxy.cut();
      await vi.waitFor(() => expect(a.link.state()).toBe("disconnected"), WAIT);
      // The others hear a's lease lapse and drop it...
      await allSee([b, c], ["b", "c"]);
      // ...and carry on without it: d joins, c leaves.
      const d = new Member(cluster, "d", SHORT_TTL_MS).start();
      await allSee([b, c, d], ["b", "c", "d"]);
      await c.stop();
      await allSee([b, d], ["b", "d"]);
      // a, hearing nothing, has judged nobody all along.
      expect(a.membership.members()).toEqual(["a", "b", "c"]);
      expect(a.changes).toHaveLength(changesBeforeCut);

      await proxy.restore();
      await vi.waitFor(() => {
        expect(a.membership.status()).toMatchObject({ joined: true, fencedCount: 1 });
      }, WAIT);
      await allSee([a, b, d], ["a", "b", "d"]);
      // The first set a reported after the rejoin already had d in it, from the snapshot.
      expect(a.changes[changesBeforeCut]).toContain("d");
      expect(b.membership.status().fencedCount).toBe(0);
    } finally {
      await proxy.cut();
    }
  });

  it("without JetStream on the server: warns once, holds no lease and drops nobody", {
    timeout: 60_000,
  }, async () => {
    const plain = await startNatsServerWith([]);
    try {
      const a = new Member(newCluster(), "a", SHORT_TTL_MS, ["b"], plain.url).start();
      await vi.waitFor(() => expect(a.link.state()).toBe("connected"), WAIT);
      await vi.waitFor(() => expect(a.log.warnings()).toHaveLength(1), WAIT);
      expect(a.log.warnings()[0]?.msg).toBe(
        "cannot hold the cluster lease on NATS JetStream; retrying, and dropping no member meanwhile",
      );
      // Well past the TTL of the member it assumed: still there, since a cannot hear anyone.
      await delay(2 * SHORT_TTL_MS);
      expect(a.membership.members()).toEqual(["a", "b"]);
      expect(a.membership.status()).toMatchObject({ joined: false, leaseRevision: null });
      expect(a.log.warnings()).toHaveLength(1);
      expect(await a.membership.settled(100)).toBe(false);
    } finally {
      await plain.stop();
    }
  });

  it("uses a members bucket that already exists, and says when its TTL is not the configured one", async () => {
    const cluster = newCluster();
    await new Kvm(observer).create(membersBucketName(cluster), { ttl: 5_000, history: 1 });
    const [a, b] = startMembers(cluster, ["a", "b"], SHORT_TTL_MS) as [Member, Member];
    await allSee([a, b], ["a", "b"]);
    expect((await (await bucket(cluster)).status()).ttl).toBe(5_000);
    for (const member of [a, b]) {
      expect(member.log.warnings().map((line) => line.msg)).toEqual([
        expect.stringMatching(/^the members bucket already exists with another TTL/),
      ]);
    }
  });
});

/**
 * Three members; c's process dies; a and b must drop it once, straight to the
 * two survivors, not before its last lease renewal is a TTL old, and about a
 * sweep tick after that.
 */
async function crashAndWatchTheOthers(leaseTtlMs: number): Promise<void> {
  const cluster = newCluster();
  const [a, b, c] = startMembers(cluster, ["a", "b", "c"], leaseTtlMs) as [Member, Member, Member];
  await allSee([a, b, c], ["a", "b", "c"]);
  const changesBefore = [a.changes.length, b.changes.length];
  await c.crash();
  // When the server stored c's last renewal: c cannot be judged gone before this plus the TTL.
  const lastRenewal = await (await bucket(cluster)).get("c");
  expect(lastRenewal?.operation).toBe("PUT");
  const renewedAt = lastRenewal?.created.getTime() ?? Number.NaN;

  await allSee([a, b], ["a", "b"]);
  for (const [index, member] of [a, b].entries()) {
    // One change, straight to the two survivors: no flapping on the way.
    expect(member.changes.slice(changesBefore[index])).toEqual([["a", "b"]]);
    const silentMs = (member.changedAt.at(-1) ?? Number.NaN) - renewedAt;
    // Not before the lease could have lapsed (10 ms for the clocks' granularity)...
    expect(silentMs).toBeGreaterThanOrEqual(leaseTtlMs - 10);
    // ...and within a TTL and a sweep tick; the bound is loose, for a loaded machine.
    expect(silentMs).toBeLessThan(leaseTtlMs + leaseTtlMs / 6 + 5_000);
  }
}
