import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../test/support/catalog-entry.js";
import { jsonText } from "./cli/output.js";
import { type DaemonConfig, parseConfigText } from "./config/load.js";
import type { AdapterEntry } from "./domain/adapter.js";
import type { HealthState } from "./domain/health.js";
import { encodeStaleRule, STALE_RULE_META } from "./domain/status-view.js";
import { listFromFile, OfflineReadModel } from "./offline-read-model.js";
import { readStatusSnapshot } from "./offline-view.js";
import { SqliteStore } from "./storage/sqlite-store.js";

const T0 = Date.parse("2026-11-26T12:00:00Z");

function verdict(adapterId: string, overrides: Partial<HealthState> = {}): HealthState {
  return {
    adapterId,
    status: "healthy",
    since: T0 - 60_000,
    lastChecked: T0,
    latencyMs: 5,
    source: "probe",
    reason: "HTTP 200",
    consecutiveSuccesses: 3,
    consecutiveFailures: 0,
    registryStatus: "healthy",
    flapping: false,
    recentTransitions: [T0 - 60_000],
    breaker: { state: "closed", snapshot: { ownState: { value: 0 }, breakerState: 0 } },
    checkIntervalMs: 15_000,
    ...overrides,
  };
}

let directory: string;
let dbPath: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-offline-view-"));
  dbPath = join(directory, "healthd.db");
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** What the daemon's API lists for the file at `now`: the full HealthView and QueryService. */
function listedByReadModel(now: number, config?: DaemonConfig) {
  const model = new OfflineReadModel({ path: dbPath, config, now: () => now });
  try {
    return listFromFile(model.current());
  } finally {
    model.close();
  }
}

/** `status`'s listing and the API's, as values and as the `--json` text. */
function expectSameListing(now: number, config?: DaemonConfig) {
  const lean = readStatusSnapshot(dbPath, now, config);
  const full = listedByReadModel(now, config);
  expect(lean).toEqual(full);
  expect(jsonText(lean)).toBe(jsonText(full));
  return lean;
}

describe("readStatusSnapshot", () => {
  const ids = {
    fresh: "t.adapter.storage.s3",
    old: "t.adapter.storage.gcs",
    neverChecked: "t.adapter.storage.file",
    noInterval: "t.adapter.storage.minio",
    checkedAhead: "t.adapter.storage.azure",
    declared: "t.adapter.cache.redis",
    declaredExpired: "t.adapter.cache.memcached",
    windowed: "t.adapter.queue.kafka",
    flapping: "t.adapter.queue.nats",
    open: "t.adapter.queue.rabbit",
    halfOpen: "t.adapter.queue.sqs",
    isolated: "t.adapter.queue.pulsar",
    disagreeing: "t.adapter.search.elastic",
    unknown: "t.adapter.search.solr",
    // Ids whose locale order is not their byte order (capitals, punctuation).
    capital: "t.adapter.search.Typesense",
    dashed: "t.adapter.search.open-search",
    underscored: "t.adapter.search.open_search",
    removed: "t.adapter.storage.removed",
    unverdicted: "t.adapter.storage.pending",
  };

  beforeEach(() => {
    const writer = new SqliteStore({ path: dbPath, now: () => T0 });
    try {
      writer.setMeta(STALE_RULE_META, encodeStaleRule({ graceMs: 1_000, fallbackAfterMs: 30_000 }));
      const entries: AdapterEntry[] = Object.values(ids).map((adapterId) =>
        catalogEntry({ adapterId, metadata: { index: adapterId.length.toString() } }),
      );
      const states = [
        verdict(ids.fresh, { latencyMs: 1.2345678 }),
        verdict(ids.old, { lastChecked: T0 - 120_000 }),
        verdict(ids.neverChecked, { lastChecked: null, latencyMs: null, checkIntervalMs: null }),
        verdict(ids.noInterval, { checkIntervalMs: null, lastChecked: T0 - 20_000 }),
        verdict(ids.checkedAhead, { lastChecked: T0 + 3_600_000 }),
        verdict(ids.declared),
        verdict(ids.declaredExpired),
        verdict(ids.windowed),
        verdict(ids.flapping, { flapping: true, recentTransitions: [T0 - 3, T0 - 2, T0 - 1] }),
        verdict(ids.open, {
          status: "unhealthy",
          reason: "connection refused",
          breaker: { state: "open", snapshot: { ownState: { openedAt: T0 - 1_000, attempt: 1 } } },
        }),
        verdict(ids.halfOpen, { breaker: { state: "half-open", snapshot: { ownState: {} } } }),
        verdict(ids.isolated, { breaker: { state: "isolated", snapshot: null } }),
        verdict(ids.disagreeing, { status: "unhealthy", registryStatus: "healthy" }),
        verdict(ids.unknown, { status: "unknown", source: "none", breaker: null }),
        verdict(ids.capital, { source: "registry", status: "degraded" }),
        verdict(ids.dashed),
        verdict(ids.underscored),
        verdict(ids.removed),
      ];
      writer.commit(
        {
          upserted: entries,
          states,
          registry: {
            endpoint: "registry.example:8679",
            reachable: false,
            lastSync: T0 - 5_000,
            lastAttempt: T0,
            lastError: "UNAVAILABLE: connection refused",
          },
          maintenance: [
            {
              adapterId: ids.declared,
              declared: { adapterId: ids.declared, untilMs: null, reason: "disk swap" },
            },
            {
              adapterId: ids.declaredExpired,
              declared: { adapterId: ids.declaredExpired, untilMs: T0 - 1, reason: "over already" },
            },
          ],
          events: [],
        },
        T0,
      );
      writer.commit({ removed: [ids.removed], events: [] }, T0);
    } finally {
      writer.close();
    }
  });

  const windowConfig = () =>
    parseConfigText(
      `healthd:
  maintenance:
    - { adapters: "t.adapter.queue.k*", from: "2026-11-26T11:00:00Z", until: "2026-11-26T13:00:00Z", reason: "broker upgrade" }
    - { adapters: "t.adapter.queue.*", cron: "0 3 * * *", duration_min: 60 }
`,
      "healthd.yaml",
      {},
    );

  it("lists, byte for byte, what the daemon's view of the file lists: stale, maintenance, flapping, breakers", () => {
    const listed = expectSameListing(T0 + 10_000, windowConfig());
    const byId = new Map(listed.adapters.map((adapter) => [adapter.adapter_id, adapter]));
    // Each case is in the listing as the view decided it, so the comparison covers them all.
    expect(byId.has(ids.removed)).toBe(false);
    expect(byId.has(ids.unverdicted)).toBe(false);
    expect(listed.adapters).toHaveLength(Object.keys(ids).length - 2);
    expect(byId.get(ids.fresh)).toMatchObject({ stale: false, latency_ms: 1.235 });
    expect(byId.get(ids.old)?.stale).toBe(true);
    expect(byId.get(ids.neverChecked)).toMatchObject({ stale: true, last_checked: null });
    expect(byId.get(ids.checkedAhead)?.stale).toBe(false);
    expect(byId.get(ids.declared)?.maintenance).toEqual({ until: null, reason: "disk swap" });
    expect(byId.get(ids.declaredExpired)?.maintenance).toBeNull();
    expect(byId.get(ids.windowed)).toMatchObject({
      maintenance: { until: "2026-11-26T13:00:00.000Z", reason: "broker upgrade" },
      usable: false,
    });
    expect(byId.get(ids.flapping)).toMatchObject({ flapping: true, usable: false });
    expect(byId.get(ids.open)).toMatchObject({ breaker: "open", usable: false });
    expect(byId.get(ids.halfOpen)).toMatchObject({ breaker: "half-open", usable: true });
    expect(byId.get(ids.isolated)).toMatchObject({ breaker: "isolated", usable: false });
    expect(byId.get(ids.disagreeing)?.registry_disagrees).toBe(true);
    expect(byId.get(ids.unknown)).toMatchObject({ breaker: "closed", source: "none" });
    expect(listed.registry).toEqual({
      endpoint: "registry.example:8679",
      reachable: false,
      last_sync: "2026-11-26T11:59:55.000Z",
      last_error: "UNAVAILABLE: connection refused",
    });
  });

  it("judges staleness by the file's rule and the wall clock as the view does, before and after each limit", () => {
    // The fallback (30 s, no interval recorded) passes at +10 s; the 16 s limit at +16 s.
    for (const now of [T0, T0 + 10_000, T0 + 10_001, T0 + 16_000, T0 + 16_001, T0 + 86_400_000]) {
      expectSameListing(now);
    }
    expect(
      readStatusSnapshot(dbPath, T0 + 10_001).adapters.find(
        (adapter) => adapter.adapter_id === ids.noInterval,
      )?.stale,
    ).toBe(true);
  });

  it("lists without a config the file's registry and the defaults' stale rule when the file has none", () => {
    const bare = new SqliteStore({ path: join(directory, "other.db") });
    bare.commit(
      {
        upserted: [catalogEntry({ adapterId: ids.fresh })],
        states: [verdict(ids.fresh)],
        events: [],
      },
      T0,
    );
    bare.close();
    dbPath = join(directory, "other.db");
    // 15 s interval + the defaults' 6 s grace.
    expect(expectSameListing(T0 + 21_000)).toMatchObject({
      adapters: [{ adapter_id: ids.fresh, stale: false }],
      registry: null,
    });
    expect(expectSameListing(T0 + 21_001).adapters[0]?.stale).toBe(true);
  });
});

describe("readStatusSnapshot, for any file", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 8 });
  const status = fc.constantFrom("unknown", "healthy", "degraded", "unhealthy" as const);
  const time = fc.integer({ min: T0 - 200_000, max: T0 + 200_000 });
  const arbitraryState = (adapterId: string) =>
    fc.record({
      adapterId: fc.constant(adapterId),
      status,
      since: time,
      lastChecked: fc.option(time, { nil: null }),
      latencyMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: null }),
      source: fc.constantFrom("probe", "registry", "none" as const),
      reason: text,
      consecutiveSuccesses: fc.nat(9),
      consecutiveFailures: fc.nat(9),
      registryStatus: status,
      flapping: fc.boolean(),
      recentTransitions: fc.array(time, { maxLength: 3 }),
      breaker: fc.option(
        fc.record({
          state: fc.constantFrom("closed", "open", "half-open", "isolated" as const),
          snapshot: fc.record({ ownState: fc.record({ value: fc.nat(5) }) }),
        }),
        { nil: null },
      ),
      checkIntervalMs: fc.option(fc.integer({ min: 1_000, max: 120_000 }), { nil: null }),
    });
  const idPart = fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/);

  it("lists what the daemon's view lists, whatever the verdicts, removals, declarations and time", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idPart, { minLength: 1, maxLength: 10 }).chain((parts) => {
          const adapterIds = parts.map((part, index) => `t.adapter.kind${index % 3}.${part}`);
          return fc.tuple(
            fc.constant(adapterIds),
            fc.tuple(...adapterIds.map((id) => fc.option(arbitraryState(id), { nil: undefined }))),
            fc.subarray(adapterIds),
            fc.subarray(adapterIds),
            fc.option(time, { nil: null }),
            time,
          );
        }),
        ([adapterIds, states, removed, declared, declaredUntil, now]) => {
          rmSync(directory, { recursive: true, force: true });
          directory = mkdtempSync(join(tmpdir(), "healthd-offline-view-"));
          dbPath = join(directory, "healthd.db");
          const writer = new SqliteStore({ path: dbPath, now: () => T0 });
          try {
            writer.commit(
              {
                upserted: adapterIds.map((adapterId) => catalogEntry({ adapterId })),
                states: states.filter((state) => state !== undefined),
                maintenance: declared.map((adapterId) => ({
                  adapterId,
                  declared: { adapterId, untilMs: declaredUntil, reason: "declared" },
                })),
                events: [],
              },
              T0,
            );
            writer.commit({ removed, events: [] }, T0);
          } finally {
            writer.close();
          }
          expectSameListing(now);
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);
});
