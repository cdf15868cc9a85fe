import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import type { ForeignEvent, JournalEvent, NewEvent } from "../domain/events.js";
import { type HealthState, initialHealth } from "../domain/health.js";
import {
  type BucketRow,
  EMPTY_TIME,
  type Granularity,
  HOUR_MS,
  MINUTE_MS,
  type TimeTally,
} from "../domain/history.js";
import type {
  EndpointState,
  HealthStore,
  RegistryState,
  StoreCommit,
  WebhookCursor,
} from "./store.js";

/** A store under test, how to get it back over the same data, and how to throw it all away. */
export interface ContractSubject {
  store: HealthStore;
  /**
   * Opens a new store over the data of the one the contract has just closed;
   * given only by stores that keep their data beyond the object (a file).
   */
  reopen?: () => HealthStore;
  /** Closes whatever `open` and `reopen` opened and removes what they left behind. */
  cleanup: () => void;
}

const REDIS = "t.adapter.cache.redis";
const S3 = "t.adapter.storage.s3";
const GCS = "t.adapter.storage.gcs";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FOREVER = Number.MAX_SAFE_INTEGER;

function event(
  type: NewEvent["type"],
  subject: string,
  data: Record<string, unknown> = {},
  time = 5_000,
): NewEvent {
  return { type, subject, time, data };
}

/** An event another cluster member committed, as mirrored from the fleet's stream. */
function foreign(
  id: string,
  origin: string,
  type: NewEvent["type"] = "adapter.health_changed",
  subject = S3,
): ForeignEvent {
  return { id, origin, type, subject, time: 4_500, data: { from: "healthy", to: "unhealthy" } };
}

/** A health row with every field set (nothing null), so a dropped column shows. */
function checked(adapterId: string, overrides: Partial<HealthState> = {}): HealthState {
  return {
    adapterId,
    status: "degraded",
    since: 3_000,
    lastChecked: 3_500,
    latencyMs: 1234.5,
    source: "probe",
    reason: 'answered in 1235 ms, over the 1000 ms threshold ("slow" ✓)',
    consecutiveSuccesses: 4,
    consecutiveFailures: 0,
    registryStatus: "healthy",
    flapping: true,
    recentTransitions: [2_100, 2_600.5, 3_000],
    breaker: {
      state: "half-open",
      snapshot: { state: { halfOpen: true }, breaker: { counter: 2, window: [1, null, "x"] } },
    },
    checkIntervalMs: 15_000,
    ...overrides,
  };
}

/** Adds adapters with their first health rows and discovery events, as the catalog sync does. */
function add(store: HealthStore, ids: readonly string[], now = 2_000): JournalEvent[] {
  return store.commit(
    {
      upserted: ids.map((adapterId) => catalogEntry({ adapterId })),
      states: ids.map((id) => initialHealth(id, "healthy", now)),
      events: ids.map((id) => event("adapter.discovered", id, {}, now)),
    },
    now,
  );
}

const registryDown: RegistryState = {
  endpoint: "oneiric-mcp.internal:8680",
  reachable: false,
  lastSync: null,
  lastAttempt: 4_000,
  lastError: "UNAVAILABLE: connection refused",
};

const primary: EndpointState = {
  endpoint: "registry-a:8680",
  role: "primary",
  breaker: null,
  reachable: false,
  lastOk: null,
  lastError: null,
};

const hook: WebhookCursor = {
  name: "pager",
  cursor: 0,
  parked: false,
  parkedReason: null,
  failures: 0,
  configHash: null,
};

/** Everything a store can be asked for, to compare a store with itself before and after. */
function everything(store: HealthStore, ids: readonly string[] = [REDIS, S3, GCS]) {
  return {
    catalog: store.loadCatalog(),
    health: store.loadHealth(),
    removedHealth: store.loadRemovedHealth(ids),
    registry: store.loadRegistryState(),
    maintenance: store.loadMaintenance(),
    events: store.readEvents(0, 1_000),
    bounds: store.journalBounds(),
    endpoints: store.loadEndpoints(),
    cursors: store.loadWebhookCursors(),
    publishCursor: store.loadClusterCursor("publish"),
    history: ids.map((id) => [
      store.readBuckets(id, "minute", 0, FOREVER),
      store.readBuckets(id, "hour", 0, FOREVER),
    ]),
  };
}

/** A bucket row with every field set, latency bins included. */
function bucket(
  adapterId: string,
  granularity: Granularity,
  start: number,
  healthyMs: number,
  through?: TimeTally,
): BucketRow {
  return {
    adapterId,
    granularity,
    start,
    tally: {
      healthyMs,
      degradedMs: 1,
      unhealthyMs: 2,
      unknownMs: 3,
      maintenanceMs: 4,
      checks: 5,
      failures: 1,
      latency: new Map([
        [3, 2],
        [90, 3],
      ]),
    },
    ...(granularity === "hour" ? { through: through ?? { ...EMPTY_TIME, healthyMs } } : {}),
  };
}

/**
 * The behaviour every HealthStore must have, as a vitest `describe` block:
 * call it from a store's test file with a way to open a fresh, empty store.
 * `open` is called once per test (and once while the tests are collected, to
 * learn whether the store offers `reopen`; that one is cleaned up at once).
 */
export function describeHealthStoreContract(name: string, open: () => ContractSubject): void {
  const probe = open();
  const durable = probe.reopen !== undefined;
  probe.cleanup();

  describe(`${name} satisfies the HealthStore contract`, () => {
    let subject: ContractSubject;
    let store: HealthStore;

    beforeEach(() => {
      subject = open();
      store = subject.store;
    });

    afterEach(() => {
      subject.cleanup();
    });

    describe("catalog", () => {
      it("starts empty", () => {
        expect(everything(store)).toEqual({
          catalog: [],
          health: [],
          removedHealth: [],
          registry: undefined,
          maintenance: [],
          events: [],
          bounds: { oldestSeq: null, newestSeq: null },
          endpoints: [],
          cursors: [],
          publishCursor: undefined,
          history: [
            [[], []],
            [[], []],
            [[], []],
          ],
        });
        expect(store.getMeta("http_listen")).toBeUndefined();
      });

      it("returns upserted entries whole, ordered by id byte by byte (upper case first)", () => {
        const s3 = catalogEntry({
          adapterId: S3,
          metadata: { region: "us-east-1", note: 'quotes " and unicode ✓' },
        });
        const redis = catalogEntry({
          adapterId: REDIS,
          registryStatus: "degraded",
          healthCheckUrl: "",
        });
        const gcs = catalogEntry({ adapterId: GCS, capabilities: [], metadata: {} });
        const upper = catalogEntry({ adapterId: "T.adapter.storage.zfs" });
        store.commit({ upserted: [s3, redis, upper, gcs], events: [] }, 2_000);
        expect(store.loadCatalog()).toEqual([upper, redis, gcs, s3]);
      });

      it("updates an entry in place on a later upsert", () => {
        store.commit({ upserted: [catalogEntry({ adapterId: S3 })], events: [] }, 2_000);
        const updated = catalogEntry({
          adapterId: S3,
          provider: "minio",
          capabilities: ["read"],
          metadata: { zone: "b" },
          lastHeartbeat: 1_700_000_999,
          registryStatus: "unhealthy",
        });
        store.commit({ upserted: [updated], events: [] }, 3_000);
        expect(store.loadCatalog()).toEqual([updated]);
      });

      it("writes only the live readings of an entry given as new readings", () => {
        const stored = catalogEntry({
          adapterId: S3,
          provider: "aws",
          lastHeartbeat: 1_700_000_000,
        });
        store.commit({ upserted: [stored, catalogEntry({ adapterId: REDIS })], events: [] }, 2_000);
        // The description in `readings` is not written: only last_heartbeat and registry_status.
        const reading = {
          ...stored,
          provider: "not written",
          lastHeartbeat: 1_700_000_500,
          registryStatus: "degraded" as const,
        };
        store.commit({ readings: [reading, catalogEntry({ adapterId: GCS })], events: [] }, 3_000);
        expect(store.loadCatalog()).toEqual([
          catalogEntry({ adapterId: REDIS }),
          { ...stored, lastHeartbeat: 1_700_000_500, registryStatus: "degraded" },
        ]);
      });

      it("loads for start-up the catalog and health rows loadCatalog and loadHealth give, in any order", () => {
        const byId = <T extends { adapterId: string }>(items: T[]) =>
          [...items].sort((a, b) => (a.adapterId < b.adapterId ? -1 : 1));
        // Inserted out of id order, so storage order and id order differ.
        add(store, [S3, REDIS, "T.adapter.storage.zfs", GCS]);
        store.commit(
          { states: [checked(S3), checked(GCS, { status: "unhealthy" })], events: [] },
          3_000,
        );
        store.commit({ removed: [GCS], events: [event("adapter.removed", GCS)] }, 4_000);
        const state = store.loadState();
        expect(byId(state.catalog)).toEqual(store.loadCatalog());
        expect(byId(state.health)).toEqual(store.loadHealth());
        expect(state.health.map((row) => row.adapterId)).not.toContain(GCS);
      });

      it("takes removed adapters out of the catalog and the health list, ignoring unknown ids", () => {
        add(store, [REDIS, S3]);
        store.commit({ removed: [S3, "t.adapter.never.seen"], events: [] }, 3_000);
        expect(store.loadCatalog().map((entry) => entry.adapterId)).toEqual([REDIS]);
        expect(store.loadHealth().map((state) => state.adapterId)).toEqual([REDIS]);
      });

      it("keeps a removed adapter's health row aside, writable, until the adapter comes back", () => {
        add(store, [REDIS, S3]);
        store.commit({ states: [checked(S3)], events: [] }, 3_000);
        store.commit({ removed: [S3], events: [event("adapter.removed", S3)] }, 4_000);

        expect(store.loadHealth()).toEqual([initialHealth(REDIS, "healthy", 2_000)]);
        // Only removed adapters answer; ids in the catalog or never seen do not.
        expect(store.loadRemovedHealth([REDIS, "t.adapter.never.seen", S3])).toEqual([checked(S3)]);
        expect(store.loadRemovedHealth([])).toEqual([]);

        // The row is still there to write to, e.g. to record the removal itself.
        const parked = checked(S3, { status: "unknown", reason: "removed from the catalog" });
        store.commit({ states: [parked], events: [] }, 4_500);
        expect(store.loadRemovedHealth([S3])).toEqual([parked]);

        const back = catalogEntry({ adapterId: S3, lastHeartbeat: 1_700_009_999 });
        store.commit({ upserted: [back], events: [event("adapter.discovered", S3)] }, 5_000);
        expect(store.loadCatalog()).toEqual([catalogEntry({ adapterId: REDIS }), back]);
        expect(store.loadHealth()).toEqual([initialHealth(REDIS, "healthy", 2_000), parked]);
        expect(store.loadRemovedHealth([S3])).toEqual([]);
      });

      it("applies removals after upserts: an adapter added and removed in one commit is removed", () => {
        store.commit(
          {
            upserted: [catalogEntry({ adapterId: GCS })],
            removed: [GCS],
            states: [checked(GCS)],
            events: [],
          },
          2_000,
        );
        expect(store.loadCatalog()).toEqual([]);
        expect(store.loadRemovedHealth([GCS])).toEqual([checked(GCS)]);
      });

      it("answers loadRemovedHealth in the order asked", () => {
        add(store, [REDIS, S3, GCS]);
        store.commit({ removed: [REDIS, S3, GCS], events: [] }, 3_000);
        expect(store.loadRemovedHealth([S3, GCS, REDIS]).map((state) => state.adapterId)).toEqual([
          S3,
          GCS,
          REDIS,
        ]);
      });

      it("forgets adapters removed before the cutoff, health rows and all", () => {
        add(store, [REDIS, S3, GCS]);
        store.commit({ removed: [REDIS], events: [] }, 3_000);
        store.commit({ removed: [S3], events: [] }, 5_000);

        // Strictly before: an adapter removed at the cutoff itself stays.
        expect(store.pruneRemovedAdapters(3_000)).toBe(0);
        expect(store.pruneRemovedAdapters(4_000)).toBe(1);
        expect(store.loadRemovedHealth([REDIS, S3]).map((state) => state.adapterId)).toEqual([S3]);
        expect(store.loadCatalog().map((entry) => entry.adapterId)).toEqual([GCS]);

        // A forgotten adapter that comes back starts without a row, and a health
        // row may not be written for it until it is in the catalog again.
        expect(() =>
          store.commit({ states: [initialHealth(REDIS, "healthy", 6_000)], events: [] }, 6_000),
        ).toThrow();
        store.commit({ upserted: [catalogEntry({ adapterId: REDIS })], events: [] }, 6_000);
        expect(store.loadHealth().map((state) => state.adapterId)).toEqual([GCS]);

        // Adapters in the catalog are never pruned, however old.
        expect(store.pruneRemovedAdapters(FOREVER)).toBe(1);
        expect(store.loadCatalog().map((entry) => entry.adapterId)).toEqual([REDIS, GCS]);
        expect(store.loadRemovedHealth([S3])).toEqual([]);
      });
    });

    describe("health rows", () => {
      it("round-trip every field: breaker snapshot, check interval, fractions", () => {
        add(store, [REDIS, S3]);
        store.commit({ states: [checked(REDIS)], events: [] }, 3_000);
        expect(store.loadHealth()).toEqual([checked(REDIS), initialHealth(S3, "healthy", 2_000)]);
      });

      it("round-trip nulls and an empty breaker snapshot", () => {
        add(store, [REDIS]);
        const sparse = checked(REDIS, {
          status: "unhealthy",
          lastChecked: null,
          latencyMs: null,
          source: "registry",
          flapping: false,
          recentTransitions: [],
          breaker: { state: "open", snapshot: null },
          checkIntervalMs: null,
        });
        store.commit({ states: [sparse], events: [] }, 3_000);
        expect(store.loadHealth()).toEqual([sparse]);
      });

      it("are overwritten by a later commit", () => {
        add(store, [REDIS]);
        store.commit({ states: [checked(REDIS, { reason: "first" })], events: [] }, 3_000);
        const second = checked(REDIS, { status: "unhealthy", reason: "second", breaker: null });
        store.commit({ states: [second], events: [] }, 4_000);
        expect(store.loadHealth()).toEqual([second]);
      });

      it("may be written with the adapter they belong to in one commit, but not without it", () => {
        store.commit(
          { upserted: [catalogEntry({ adapterId: GCS })], states: [checked(GCS)], events: [] },
          2_000,
        );
        expect(store.loadHealth()).toEqual([checked(GCS)]);
        expect(() => store.commit({ states: [checked(REDIS)], events: [] }, 3_000)).toThrow(
          /FOREIGN KEY constraint failed/,
        );
      });
    });

    describe("copies", () => {
      it("hands out copies, and keeps copies of what it was given", () => {
        const given = catalogEntry({ adapterId: REDIS, metadata: { zone: "a" } });
        const state = checked(REDIS);
        const data = { nested: { list: [1, 2] } };
        const [journalled] = store.commit(
          {
            upserted: [given],
            states: [state],
            events: [event("adapter.discovered", REDIS, data)],
          },
          2_000,
        );
        given.metadata.zone = "changed by caller";
        given.capabilities.push("changed");
        state.recentTransitions.push(9_999);
        data.nested.list.push(3);
        if (journalled) journalled.data.extra = true;

        const [entry] = store.loadCatalog();
        const [health] = store.loadHealth();
        const [read] = store.readEvents(0, 1);
        if (!entry || !health?.breaker || !read) throw new Error("store lost the commit");
        entry.metadata.zone = "changed by reader";
        health.recentTransitions.length = 0;
        (health.breaker.snapshot as { breaker: { counter: number } }).breaker.counter = 99;
        (read.data.nested as { list: number[] }).list.length = 0;

        expect(store.loadCatalog()).toEqual([
          catalogEntry({ adapterId: REDIS, metadata: { zone: "a" } }),
        ]);
        expect(store.loadHealth()).toEqual([checked(REDIS)]);
        expect(store.readEvents(0, 1)[0]?.data).toEqual({ nested: { list: [1, 2] } });
      });
    });

    describe("commit", () => {
      it("writes catalog, states, registry, maintenance and events together, returning the events journalled", () => {
        const declared = { adapterId: REDIS, untilMs: 90_000, reason: "upgrade" };
        const events = [
          event("adapter.discovered", REDIS, { project: "t" }),
          event("adapter.maintenance_started", REDIS, { reason: "upgrade" }, 5_001),
          event("registry.unreachable", registryDown.endpoint, {}, 5_002),
        ];
        const change: StoreCommit = {
          upserted: [catalogEntry({ adapterId: REDIS }), catalogEntry({ adapterId: S3 })],
          states: [checked(REDIS), initialHealth(S3, "healthy", 2_000)],
          registry: registryDown,
          maintenance: [{ adapterId: REDIS, declared }],
          events,
        };
        const journalled = store.commit(change, 2_000);

        expect(store.loadCatalog()).toEqual(change.upserted);
        expect(store.loadHealth()).toEqual(change.states);
        expect(store.loadRegistryState()).toEqual(registryDown);
        expect(store.loadMaintenance()).toEqual([declared]);
        expect(journalled).toEqual(
          events.map((sent) => ({ ...sent, seq: expect.any(Number), id: expect.any(String) })),
        );
        expect(store.readEvents(0, 10)).toEqual(journalled);
      });

      it("keeps the registry state when a commit has none, and replaces it when one has", () => {
        store.commit({ registry: registryDown, events: [] }, 2_000);
        store.commit({ events: [event("failover", "registry-b:8680")] }, 3_000);
        expect(store.loadRegistryState()).toEqual(registryDown);
        const up: RegistryState = {
          ...registryDown,
          reachable: true,
          lastSync: 5_000,
          lastError: null,
        };
        store.commit({ registry: up, events: [] }, 5_000);
        expect(store.loadRegistryState()).toEqual(up);
      });

      it("declares, replaces and lifts maintenance, by adapter id, for any id", () => {
        store.commit(
          {
            maintenance: [
              { adapterId: S3, declared: { adapterId: S3, untilMs: null, reason: "until lifted" } },
              { adapterId: REDIS, declared: { adapterId: REDIS, untilMs: 9_000, reason: "a" } },
            ],
            events: [],
          },
          2_000,
        );
        expect(store.loadMaintenance()).toEqual([
          { adapterId: REDIS, untilMs: 9_000, reason: "a" },
          { adapterId: S3, untilMs: null, reason: "until lifted" },
        ]);
        store.commit(
          {
            maintenance: [
              { adapterId: REDIS, declared: { adapterId: REDIS, untilMs: 12_000, reason: "b" } },
              { adapterId: S3, declared: null },
              { adapterId: GCS, declared: null },
            ],
            events: [],
          },
          3_000,
        );
        expect(store.loadMaintenance()).toEqual([
          { adapterId: REDIS, untilMs: 12_000, reason: "b" },
        ]);
      });

      it("journals nothing for a commit without events", () => {
        expect(add(store, [])).toEqual([]);
        expect(store.commit({ registry: registryDown, events: [] }, 2_000)).toEqual([]);
        expect(store.journalBounds()).toEqual({ oldestSeq: null, newestSeq: null });
      });
    });

    describe("failed commits", () => {
      /** A commit touching every part of the store, whose last step cannot be stored. */
      const failing: [string, (change: StoreCommit) => StoreCommit][] = [
        [
          "event data JSON cannot encode (a BigInt)",
          (change) => ({
            ...change,
            events: [...change.events, event("failover", "r", { big: 10n })],
          }),
        ],
        [
          "a health row for an adapter that was never in the catalog",
          (change) => ({
            ...change,
            states: [...(change.states ?? []), checked("t.adapter.never.seen")],
          }),
        ],
        [
          "a fractional ms where the schema keeps whole ms",
          (change) => ({
            ...change,
            states: [...(change.states ?? []), checked(GCS, { since: 3_000.5 })],
          }),
        ],
      ];

      it.each(failing)("leave nothing of the commit behind: %s", (_, spoil) => {
        add(store, [REDIS, S3]);
        store.commit(
          {
            states: [checked(REDIS)],
            registry: registryDown,
            maintenance: [
              { adapterId: REDIS, declared: { adapterId: REDIS, untilMs: null, reason: "x" } },
            ],
            events: [event("adapter.health_changed", REDIS)],
          },
          3_000,
        );
        const before = everything(store);

        const change: StoreCommit = {
          upserted: [
            catalogEntry({ adapterId: GCS }),
            catalogEntry({ adapterId: REDIS, provider: "valkey" }),
          ],
          removed: [S3],
          states: [checked(REDIS, { reason: "changed" }), checked(GCS)],
          registry: { ...registryDown, reachable: true, lastSync: 4_000, lastError: null },
          maintenance: [
            { adapterId: REDIS, declared: null },
            { adapterId: GCS, declared: { adapterId: GCS, untilMs: 8_000, reason: "y" } },
          ],
          history: [bucket(GCS, "minute", 0, 60_000), bucket(GCS, "hour", 0, 60_000)],
          events: [event("adapter.discovered", GCS), event("adapter.removed", S3)],
          foreignEvents: [foreign("0b6f2c1e-0000-4000-8000-000000000001", "healthd-b")],
          cursors: [{ name: "publish", position: 2 }],
        };
        expect(() => store.commit(spoil(change), 4_000)).toThrow();
        expect(everything(store)).toEqual(before);

        // The failed commit used up no seq: the next one follows the last stored.
        const [next] = store.commit({ events: [event("failover", "r")] }, 5_000);
        expect(next?.seq).toBe((before.bounds.newestSeq ?? 0) + 1);
        // And the change itself, unspoilt, goes through.
        store.commit(change, 6_000);
        expect(store.loadCatalog().map((entry) => entry.provider)).toEqual(["valkey", "gcs"]);
        expect(store.loadClusterCursor("publish")).toBe(2);
        // The history's adapter key made in the rolled-back commit is not reused as if stored.
        expect(store.readBuckets(GCS, "minute", 0, FOREVER)).toEqual([
          bucket(GCS, "minute", 0, 60_000),
        ]);
      });
    });

    describe("history", () => {
      it("writes buckets, writes them again as they stand, and reads them back by range", () => {
        add(store, [REDIS, S3]);
        store.commit(
          {
            history: [
              bucket(REDIS, "minute", 0, 10),
              bucket(REDIS, "minute", MINUTE_MS, 20),
              bucket(S3, "minute", MINUTE_MS, 30),
              bucket(REDIS, "hour", 0, 30),
            ],
            events: [],
          },
          3_000,
        );
        store.commit(
          {
            history: [bucket(REDIS, "minute", MINUTE_MS, 25), bucket(REDIS, "hour", 0, 35)],
            events: [],
          },
          3_100,
        );
        expect(store.readBuckets(REDIS, "minute", 0, FOREVER)).toEqual([
          bucket(REDIS, "minute", 0, 10),
          bucket(REDIS, "minute", MINUTE_MS, 25),
        ]);
        expect(store.readBuckets(REDIS, "minute", MINUTE_MS, FOREVER)).toHaveLength(1);
        expect(store.readBuckets(REDIS, "minute", 0, MINUTE_MS)).toHaveLength(1);
        expect(store.readBuckets(GCS, "minute", 0, FOREVER)).toEqual([]);
        expect(store.newestBuckets(REDIS)).toEqual({
          minute: bucket(REDIS, "minute", MINUTE_MS, 25),
          hour: bucket(REDIS, "hour", 0, 35),
        });
        expect(store.newestBuckets(S3)).toEqual({ minute: bucket(S3, "minute", MINUTE_MS, 30) });
        expect(store.newestBuckets(GCS)).toEqual({});
      });

      it("sums time per slot of buckets, by slot start, only where there are buckets", () => {
        add(store, [REDIS]);
        store.commit(
          {
            history: [
              bucket(REDIS, "minute", 0, 10),
              bucket(REDIS, "minute", MINUTE_MS, 20),
              bucket(REDIS, "minute", 5 * MINUTE_MS, 30),
              bucket(REDIS, "minute", 11 * MINUTE_MS, 40),
            ],
            events: [],
          },
          3_000,
        );
        const slot = (start: number, healthyMs: number, buckets: number) => ({
          start,
          time: {
            healthyMs,
            degradedMs: buckets,
            unhealthyMs: 2 * buckets,
            unknownMs: 3 * buckets,
            maintenanceMs: 4 * buckets,
          },
        });
        expect(store.sumTime(REDIS, "minute", 0, FOREVER, 5 * MINUTE_MS)).toEqual([
          slot(0, 30, 2),
          slot(5 * MINUTE_MS, 30, 1),
          slot(10 * MINUTE_MS, 40, 1),
        ]);
        expect(store.sumTime(REDIS, "minute", MINUTE_MS, 11 * MINUTE_MS, FOREVER)).toEqual([
          slot(0, 50, 2),
        ]);
        expect(store.sumTime(S3, "minute", 0, FOREVER, MINUTE_MS)).toEqual([]);
      });

      it("finds the running totals of the newest hour before a time", () => {
        add(store, [REDIS, S3]);
        const first = { ...EMPTY_TIME, healthyMs: HOUR_MS };
        const second = { ...EMPTY_TIME, healthyMs: HOUR_MS, unhealthyMs: HOUR_MS };
        store.commit(
          {
            history: [
              bucket(REDIS, "hour", 0, HOUR_MS, first),
              bucket(REDIS, "hour", 5 * HOUR_MS, 0, second),
            ],
            events: [],
          },
          3_000,
        );
        expect(store.readThrough([REDIS, S3], FOREVER)).toEqual(new Map([[REDIS, second]]));
        expect(store.readThrough([REDIS], 5 * HOUR_MS)).toEqual(new Map([[REDIS, first]]));
        // Nothing kept before 0: the totals before the oldest kept bucket.
        expect(store.readThrough([REDIS], 0).get(REDIS)).toEqual({
          healthyMs: 0,
          degradedMs: -1,
          unhealthyMs: -2,
          unknownMs: -3,
          maintenanceMs: -4,
        });
      });

      it("prunes each bucket size by its own retention, and forgets a forgotten adapter's history", () => {
        add(store, [REDIS, S3]);
        store.commit(
          {
            history: [
              bucket(REDIS, "minute", 0, 1),
              bucket(REDIS, "minute", 10 * MINUTE_MS, 1),
              bucket(REDIS, "hour", 0, 1),
              bucket(S3, "minute", 10 * MINUTE_MS, 1),
              bucket(S3, "hour", 0, 1),
            ],
            events: [],
          },
          3_000,
        );
        // A page of adapters at a time, in id order: the cache adapter first, S3 next time.
        expect(store.pruneHistory(20 * MINUTE_MS, 0, { after: undefined, adapters: 1 })).toEqual({
          deleted: 2,
          last: REDIS,
        });
        expect(store.readBuckets(REDIS, "minute", 0, FOREVER)).toHaveLength(0);
        expect(store.readBuckets(S3, "minute", 0, FOREVER)).toHaveLength(1);
        expect(store.pruneHistory(0, 0, { after: S3, adapters: 1 })).toEqual({
          deleted: 0,
          last: undefined,
        });
        store.commit(
          {
            history: [bucket(REDIS, "minute", 0, 1), bucket(REDIS, "minute", 10 * MINUTE_MS, 1)],
            events: [],
          },
          3_000,
        );
        expect(store.pruneHistory(5 * MINUTE_MS, 0, { after: undefined, adapters: 10 })).toEqual({
          deleted: 1,
          last: S3,
        });
        expect(store.readBuckets(REDIS, "minute", 0, FOREVER).map((row) => row.start)).toEqual([
          10 * MINUTE_MS,
        ]);
        expect(store.readBuckets(REDIS, "hour", 0, FOREVER)).toHaveLength(1);
        store.commit({ removed: [S3], events: [] }, 3_000);
        expect(store.pruneRemovedAdapters(3_001)).toBe(1);
        expect(store.newestBuckets(S3)).toEqual({});
        expect(store.readBuckets(REDIS, "hour", 0, FOREVER)).toHaveLength(1);
      });
    });

    describe("journal", () => {
      it("numbers events from 1 upward with unique UUIDs, in commit order", () => {
        const first = add(store, [REDIS, S3]);
        const second = store.commit(
          {
            events: [
              event("registry.unreachable", "r:1"),
              event("adapter.health_changed", REDIS, { from: "unknown", to: "unhealthy" }),
            ],
          },
          3_000,
        );
        const events = store.readEvents(0, 100);
        expect(events).toEqual([...first, ...second]);
        expect(events.map((stored) => stored.seq)).toEqual([1, 2, 3, 4]);
        expect(events.map(({ type, subject }) => `${type} ${subject}`)).toEqual([
          `adapter.discovered ${REDIS}`,
          `adapter.discovered ${S3}`,
          "registry.unreachable r:1",
          `adapter.health_changed ${REDIS}`,
        ]);
        for (const stored of events) expect(stored.id).toMatch(UUID);
        expect(new Set(events.map((stored) => stored.id)).size).toBe(4);
      });

      it("keeps each event's time and JSON data as given", () => {
        const data = {
          from: "unknown",
          to: "unhealthy",
          nested: [1, { deep: null }, "✓"],
          fraction: 0.25,
          flag: false,
        };
        store.commit({ events: [event("adapter.health_changed", REDIS, data, 7_777)] }, 3_000);
        expect(store.readEvents(0, 1)).toEqual([
          {
            seq: 1,
            id: expect.stringMatching(UUID),
            type: "adapter.health_changed",
            subject: REDIS,
            time: 7_777,
            data,
          },
        ]);
      });

      it("pages with readEvents(afterSeq, limit)", () => {
        add(store, [REDIS, S3, GCS, "t.adapter.cache.memcached", "t.adapter.queue.kafka"]);
        const all = store.readEvents(0, 100);
        expect(all).toHaveLength(5);
        const firstPage = store.readEvents(0, 2);
        expect(firstPage).toEqual(all.slice(0, 2));
        const secondPage = store.readEvents(firstPage.at(-1)?.seq ?? 0, 2);
        expect(secondPage).toEqual(all.slice(2, 4));
        const lastSeq = all.at(-1)?.seq ?? 0;
        expect(store.readEvents(lastSeq - 1, 10)).toEqual(all.slice(4));
        expect(store.readEvents(lastSeq, 10)).toEqual([]);
        expect(store.readEvents(0, 0)).toEqual([]);
      });

      it("reports its bounds", () => {
        add(store, [REDIS]);
        expect(store.journalBounds()).toEqual({ oldestSeq: 1, newestSeq: 1 });
        add(store, [S3, GCS]);
        expect(store.journalBounds()).toEqual({ oldestSeq: 1, newestSeq: 3 });
      });

      it("prunes by age: older than the cutoff goes, the cutoff itself stays", () => {
        store.commit(
          { events: [1_000, 2_000, 3_000, 4_000].map((time) => event("failover", "r", {}, time)) },
          4_000,
        );
        expect(store.pruneEvents(3_000, 100)).toBe(2);
        expect(store.readEvents(0, 10).map((stored) => stored.time)).toEqual([3_000, 4_000]);
        expect(store.journalBounds()).toEqual({ oldestSeq: 3, newestSeq: 4 });
        expect(store.pruneEvents(3_000, 100)).toBe(0);
      });

      it("prunes by count: only the newest keepNewest stay", () => {
        add(store, [REDIS, S3, GCS, "t.adapter.cache.memcached", "t.adapter.queue.kafka"]);
        expect(store.pruneEvents(0, 2)).toBe(3);
        expect(store.readEvents(0, 10).map((stored) => stored.seq)).toEqual([4, 5]);
        expect(store.pruneEvents(0, 2)).toBe(0);
        expect(store.pruneEvents(0, 0)).toBe(2);
        expect(store.journalBounds()).toEqual({ oldestSeq: null, newestSeq: null });
      });

      it("counts keepNewest in seqs back from the newest left, gaps included", () => {
        // An event stamped out of order is cut by age from the middle of the journal.
        store.commit(
          { events: [5_000, 5_000, 1_000, 5_000].map((time) => event("failover", "r", {}, time)) },
          5_000,
        );
        expect(store.pruneEvents(2_000, 2)).toBe(3);
        expect(store.readEvents(0, 10).map((stored) => stored.seq)).toEqual([4]);
      });

      it("prunes by age first, then by count from the newest left", () => {
        store.commit(
          {
            events: [1_000, 2_000, 3_000, 4_000, 5_000, 6_000].map((time) =>
              event("failover", "r", {}, time),
            ),
          },
          6_000,
        );
        expect(store.pruneEvents(2_500, 3)).toBe(3);
        expect(store.readEvents(0, 10).map((stored) => stored.seq)).toEqual([4, 5, 6]);
      });

      it("never reuses a seq, not even after pruning everything", () => {
        add(store, [REDIS, S3, GCS]);
        expect(store.pruneEvents(FOREVER, 0)).toBe(3);
        expect(store.journalBounds()).toEqual({ oldestSeq: null, newestSeq: null });
        const [next] = store.commit({ events: [event("failover", "r")] }, 9_000);
        expect(next?.seq).toBe(4);
        expect(store.journalBounds()).toEqual({ oldestSeq: 4, newestSeq: 4 });
      });
    });

    describe("cluster", () => {
      const A = "5d1c7a3e-1111-4000-8000-00000000000a";
      const B = "5d1c7a3e-1111-4000-8000-00000000000b";
      const C = "5d1c7a3e-1111-4000-8000-00000000000c";

      it("keeps a verdict's owner, and leaves a lone daemon's verdicts without one", () => {
        add(store, [REDIS, S3, GCS]);
        const owned = checked(REDIS, { owner: "healthd-a" });
        store.commit({ states: [owned, checked(S3)], events: [] }, 3_000);
        const byId = (id: string) => store.loadHealth().find((row) => row.adapterId === id);
        const redis = byId(REDIS);
        const s3 = byId(S3);
        expect(redis).toEqual(owned);
        expect(s3).toStrictEqual(checked(S3));
        expect(s3 && "owner" in s3).toBe(false);
        expect(store.loadState().health.find((row) => row.adapterId === REDIS)).toEqual(owned);

        // A later verdict without an owner (the cluster section removed) clears it.
        store.commit({ states: [checked(REDIS)], events: [] }, 4_000);
        expect(byId(REDIS)).toStrictEqual(checked(REDIS));

        store.commit({ states: [checked(GCS, { owner: "healthd-b" })], events: [] }, 5_000);
        store.commit({ removed: [GCS], events: [] }, 6_000);
        expect(store.loadRemovedHealth([GCS])).toEqual([checked(GCS, { owner: "healthd-b" })]);
      });

      it("journals a local event's origin, and leaves a lone daemon's events without one", () => {
        const [lone, member] = store.commit(
          {
            events: [
              event("failover", "storage/s3"),
              { ...event("registry.unreachable", "r:1"), origin: "healthd-a" },
            ],
          },
          3_000,
        );
        expect(lone && "origin" in lone).toBe(false);
        expect(member?.origin).toBe("healthd-a");
        const [readLone, readMember] = store.readEvents(0, 10);
        expect(readLone).toStrictEqual(lone);
        expect(readLone && "origin" in readLone).toBe(false);
        expect(readMember).toEqual(member);
      });

      it("mirrors foreign events after the local ones, in order, keeping their ids and origins", () => {
        add(store, [REDIS]);
        const foreignEvents = [
          foreign(B, "healthd-b", "breaker.opened", GCS),
          foreign(A, "healthd-c", "adapter.health_changed", S3),
        ];
        const journalled = store.commit(
          { events: [event("failover", "cache/redis")], foreignEvents },
          3_000,
        );
        expect(journalled).toEqual([
          { ...event("failover", "cache/redis"), seq: 2, id: expect.stringMatching(UUID) },
          { ...foreignEvents[0], seq: 3 },
          { ...foreignEvents[1], seq: 4 },
        ]);
        expect(store.readEvents(1, 10)).toEqual(journalled);
        expect(store.journalBounds()).toEqual({ oldestSeq: 1, newestSeq: 4 });
      });

      it("skips a foreign event whose id is journalled already, using up no seq", () => {
        const [mirrored] = store.commit({ events: [], foreignEvents: [foreign(A, "b")] }, 3_000);
        expect(mirrored?.seq).toBe(1);
        // Redelivered, twice within one commit, and once with a local event's id.
        const [local] = store.commit({ events: [event("failover", "r")] }, 3_100);
        if (!local) throw new Error("no local event journalled");
        const journalled = store.commit(
          {
            events: [],
            foreignEvents: [
              foreign(A, "b"),
              foreign(B, "b"),
              foreign(B, "c", "failover", "changed"),
              foreign(local.id, "b"),
              foreign(C, "c"),
            ],
          },
          3_200,
        );
        expect(journalled).toEqual([
          { ...foreign(B, "b"), seq: 3 },
          { ...foreign(C, "c"), seq: 4 },
        ]);
        expect(store.readEvents(0, 10).map((stored) => [stored.seq, stored.id])).toEqual([
          [1, A],
          [2, local.id],
          [3, B],
          [4, C],
        ]);
        // Redelivered again in a later commit, it is still skipped.
        expect(store.commit({ events: [], foreignEvents: [foreign(A, "b")] }, 3_300)).toEqual([]);
        const [next] = store.commit({ events: [event("failover", "r")] }, 3_400);
        expect(next?.seq).toBe(5);
      });

      it("writes cluster cursors in a commit, and saves and overwrites them outside one", () => {
        expect(store.loadClusterCursor("publish")).toBeUndefined();
        store.commit(
          {
            events: [],
            cursors: [
              { name: "mirror", position: 17 },
              { name: "publish", position: 3 },
            ],
          },
          2_000,
        );
        expect(store.loadClusterCursor("mirror")).toBe(17);
        expect(store.loadClusterCursor("publish")).toBe(3);
        store.saveClusterCursor("publish", 90, 3_000);
        store.commit({ events: [], cursors: [{ name: "mirror", position: 18 }] }, 4_000);
        expect(store.loadClusterCursor("publish")).toBe(90);
        expect(store.loadClusterCursor("mirror")).toBe(18);
        expect(store.loadClusterCursor("never")).toBeUndefined();
        // Positions are whole stream or journal sequence numbers.
        expect(() => store.saveClusterCursor("publish", 1.5, 5_000)).toThrow();
        expect(store.loadClusterCursor("publish")).toBe(90);
      });
    });

    describe("endpoints, webhook cursors and meta", () => {
      it("upserts endpoints with their breaker, ordered by endpoint", () => {
        const secondary: EndpointState = {
          endpoint: "registry-b:8680",
          role: "secondary",
          breaker: { state: { open: true, startedAt: 1_000 }, windows: [[1, 2]] },
          reachable: true,
          lastOk: 1_500,
          lastError: "DEADLINE_EXCEEDED",
        };
        store.saveEndpoint(secondary, 2_000);
        store.saveEndpoint(primary, 2_000);
        expect(store.loadEndpoints()).toEqual([primary, secondary]);
        const promoted: EndpointState = { ...secondary, role: "primary", breaker: null };
        store.saveEndpoint(promoted, 3_000);
        expect(store.loadEndpoints()).toEqual([primary, promoted]);
      });

      it("upserts webhook cursors, ordered by name", () => {
        const parked: WebhookCursor = {
          name: "audit",
          cursor: 41,
          parked: true,
          parkedReason: "HTTP 500 after 8 attempts",
          failures: 8,
          configHash: "ab12",
        };
        store.saveWebhookCursor(hook, 1_000);
        store.saveWebhookCursor(parked, 1_000);
        expect(store.loadWebhookCursors()).toEqual([parked, hook]);
        const moved: WebhookCursor = { ...hook, cursor: 7, failures: 2, configHash: "cd34" };
        store.saveWebhookCursor(moved, 2_000);
        const unparked: WebhookCursor = { ...parked, parked: false, parkedReason: null };
        store.saveWebhookCursor(unparked, 2_000);
        expect(store.loadWebhookCursors()).toEqual([unparked, moved]);
      });

      it("stores meta values and overwrites them", () => {
        store.setMeta("http_listen", "127.0.0.1:8681");
        store.setMeta("http_listen", "127.0.0.1:9681");
        store.setMeta("stale_after_ms", "45000");
        expect(store.getMeta("http_listen")).toBe("127.0.0.1:9681");
        expect(store.getMeta("stale_after_ms")).toBe("45000");
        expect(store.getMeta("missing")).toBeUndefined();
      });
    });

    it("refuses to be used once closed", () => {
      add(store, [REDIS]);
      store.close();
      expect(() => store.loadCatalog()).toThrow();
      expect(() => store.commit({ events: [] }, 3_000)).toThrow();
    });

    if (durable) {
      it("keeps everything across closing and reopening", () => {
        add(store, [REDIS, S3, GCS]);
        store.commit(
          {
            removed: [GCS],
            states: [checked(REDIS, { owner: "healthd-a" })],
            registry: registryDown,
            maintenance: [
              { adapterId: S3, declared: { adapterId: S3, untilMs: 9_000, reason: "upgrade" } },
            ],
            history: [bucket(REDIS, "minute", 0, 7), bucket(REDIS, "hour", 0, 7)],
            events: [{ ...event("adapter.removed", GCS), origin: "healthd-a" }],
            foreignEvents: [foreign("0b6f2c1e-0000-4000-8000-000000000002", "healthd-b")],
            cursors: [{ name: "mirror", position: 41 }],
          },
          3_000,
        );
        store.saveEndpoint(primary, 3_000);
        store.saveWebhookCursor({ ...hook, cursor: 3 }, 3_000);
        store.saveClusterCursor("publish", 5, 3_000);
        store.setMeta("http_listen", "127.0.0.1:8681");
        // Pruning the newest events must not let their seqs be given again after a restart.
        store.pruneEvents(0, 2);
        const before = everything(store);
        expect(before.bounds).toEqual({ oldestSeq: 4, newestSeq: 5 });
        expect(before.health[0]?.owner).toBe("healthd-a");
        expect(before.events.map((stored) => stored.origin)).toEqual(["healthd-a", "healthd-b"]);

        store.close();
        store = subject.reopen?.() ?? store;
        expect(everything(store)).toEqual(before);
        expect(store.getMeta("http_listen")).toBe("127.0.0.1:8681");
        expect(store.loadClusterCursor("mirror")).toBe(41);
        expect(store.pruneRemovedAdapters(3_001)).toBe(1);
        expect(store.pruneEvents(FOREVER, 0)).toBe(2);
        const [next] = store.commit({ events: [event("failover", "r")] }, 9_000);
        expect(next?.seq).toBe(6);
      });
    }
  });
}
