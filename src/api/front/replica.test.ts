import { MessageChannel } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../../../test/support/catalog-entry.js";
import type { JournalEvent } from "../../domain/events.js";
import { initialHealth } from "../../domain/health.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../../domain/status-view.js";
import { HealthView } from "../../engine/health-view.js";
import { MaintenanceService } from "../../maintenance/maintenance-service.js";
import type { Readiness } from "../query-service.js";
import { Replica } from "./replica.js";
import {
  type ReplicaBatch,
  ReplicaFeed,
  type SnapshotEnd,
  type SnapshotPart,
  snapshotMessages,
} from "./replica-feed.js";

const T0 = Date.parse("2026-11-26T12:00:00Z");

/** A main-thread view and maintenance, and a replica fed through a real message port. */
async function pair(snapshotLater = false) {
  let now = T0;
  const clock = () => now;
  const mainMaintenance = new MaintenanceService([], [], clock);
  const main = new HealthView(
    "registry:8679",
    DEFAULT_OFFLINE_STALE_RULE,
    clock,
    (id) => mainMaintenance.current(id),
    clock,
  );
  main.putEntry(catalogEntry({ adapterId: "t.adapter.cache.redis", category: "cache" }));
  main.putState(initialHealth("t.adapter.cache.redis", "healthy", T0));
  let readiness: Readiness = { ready: false, reason: "start-up has not finished" };
  const { port1, port2 } = new MessageChannel();
  const posted: ReplicaBatch[] = [];
  const feed = new ReplicaFeed(
    (batch) => {
      posted.push(batch);
      port1.postMessage(batch);
    },
    () => readiness,
  );
  const snapshot = feed.attach(main, mainMaintenance, DEFAULT_OFFLINE_STALE_RULE, 0);
  const replicaMaintenance = new MaintenanceService([], [], clock);
  const replicaView = new HealthView(
    "registry:8679",
    DEFAULT_OFFLINE_STALE_RULE,
    clock,
    (id) => replicaMaintenance.current(id),
    clock,
  );
  /** What the replica's view showed for redis each time a commit's events were handed on. */
  const published: { seqs: number[]; redisStatus: string | undefined }[] = [];
  const replica = new Replica(replicaView, replicaMaintenance, {
    started: () => undefined,
    published: (events) => {
      published.push({
        seqs: events.map((event) => event.seq),
        redisStatus: replicaView.get("t.adapter.cache.redis")?.status,
      });
    },
    prunedTo: () => undefined,
  });
  port2.on("message", (message: ReplicaBatch | SnapshotPart | SnapshotEnd) =>
    message.type === "changes" ? replica.apply(message) : replica.load(message),
  );
  ports.push(port1, port2);
  const sendSnapshot = () => {
    for (const message of snapshotMessages(snapshot)) port1.postMessage(message);
  };
  if (!snapshotLater) {
    sendSnapshot();
    await loadedIn(replica);
  }
  return {
    main,
    mainMaintenance,
    feed,
    replica,
    replicaView,
    posted,
    published,
    sendSnapshot,
    advance: (ms: number) => {
      now += ms;
    },
    setReadiness: (next: Readiness) => {
      readiness = next;
    },
  };
}

/** Waits for the snapshot's messages to have crossed the port. */
async function loadedIn(replica: Replica): Promise<void> {
  while (!replica.loaded) await new Promise((resolve) => setTimeout(resolve, 1));
}

const ports: { close(): void }[] = [];
afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

describe("the front's replica", () => {
  it("starts from the snapshot and follows every change, one message per task", async () => {
    const { main, mainMaintenance, feed, replica, replicaView, posted, advance } = await pair();
    expect(replicaView.list()).toEqual(main.list());
    // One task's changes: entries, states, checks, registry, a declaration.
    main.putEntry(catalogEntry({ adapterId: "t.adapter.cache.valkey", category: "cache" }));
    main.putState({
      ...initialHealth("t.adapter.cache.valkey", "unhealthy", T0),
      lastChecked: T0,
      checkIntervalMs: 10_000,
    });
    main.recordCheck("t.adapter.cache.valkey", {
      atMs: T0,
      ok: false,
      latencyMs: 3.5,
      detail: "HTTP 503",
      source: "probe",
    });
    main.setRegistry({ ...main.registryState(), reachable: true, lastSync: T0 });
    mainMaintenance.applyCommitted([
      {
        adapterId: "t.adapter.cache.redis",
        declared: { adapterId: "t.adapter.cache.redis", untilMs: null, reason: "upgrade" },
      },
    ]);
    expect(posted).toHaveLength(0);
    expect(feed.recordedSeq).toBe(1);
    await replica.applied(1);
    expect(posted).toHaveLength(1);
    expect(replicaView.list()).toEqual(main.list());
    expect(replicaView.get("t.adapter.cache.redis")?.maintenance).toMatchObject({
      reason: "upgrade",
    });
    expect(replicaView.recentChecks("t.adapter.cache.valkey")).toEqual(
      main.recentChecks("t.adapter.cache.valkey"),
    );
    expect(replicaView.registryView()).toEqual(main.registryView());
    // Staleness is judged by the same rule on the same clock.
    advance(3_600_000);
    expect(replicaView.list()).toEqual(main.list());
    main.setStaleRule({ ...DEFAULT_OFFLINE_STALE_RULE, graceMs: 7_200_000 });
    main.removeEntry("t.adapter.cache.redis");
    await replica.applied(2);
    expect(replicaView.list()).toEqual(main.list());
    expect(replicaView.size).toBe(1);
  });

  it("keeps the batches that arrive before its snapshot and applies them after it, in order", async () => {
    const { main, feed, replica, replicaView, sendSnapshot } = await pair(true);
    for (let index = 0; index < 12_000; index++) {
      main.putEntry(
        catalogEntry({ adapterId: `t.adapter.storage.p${index}`, category: "storage" }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    main.removeEntry("t.adapter.storage.p5");
    feed.flush();
    // Both batches are in; the replica cannot answer yet and holds nobody back.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(replica.loaded).toBe(false);
    await replica.applied(feed.recordedSeq);
    expect(replicaView.size).toBe(0);
    sendSnapshot();
    await loadedIn(replica);
    expect(replica.appliedSeq).toBe(feed.recordedSeq);
    expect(replicaView.list()).toEqual(main.list());
    expect(replicaView.size).toBe(12_000);
  });

  it("hands on a commit's events only after that commit's changes are applied", async () => {
    const { main, feed, replica, published } = await pair();
    main.putState({
      ...initialHealth("t.adapter.cache.redis", "unhealthy", T0),
      status: "unhealthy",
      lastChecked: T0,
      checkIntervalMs: 10_000,
    });
    const event = {
      seq: 7,
      id: "e7",
      type: "adapter.health_changed",
      adapterId: "t.adapter.cache.redis",
      at: T0,
      data: {},
    } as unknown as JournalEvent;
    feed.recordEvents([event]);
    feed.flush();
    await replica.applied(feed.recordedSeq);
    expect(published).toEqual([{ seqs: [7], redisStatus: "unhealthy" }]);
  });

  it("is told when readiness changes, polled or at a batch", async () => {
    const { feed, replica, setReadiness } = await pair();
    expect(replica.readiness()).toEqual({ ready: false, reason: "start-up has not finished" });
    setReadiness({ ready: true });
    feed.noteReadiness();
    await replica.applied(feed.recordedSeq);
    expect(replica.readiness()).toEqual({ ready: true });
    // Unchanged readiness records nothing.
    const seq = feed.recordedSeq;
    feed.noteReadiness();
    expect(feed.recordedSeq).toBe(seq);
  });
});
