import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AdapterEntry } from "../domain/adapter.js";
import type { NewEvent } from "../domain/events.js";
import { type HealthState, initialHealth } from "../domain/health.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import type { CatalogChange, RegistryState } from "./store.js";

let directory: string;
let dbPath: string;
const stores: SqliteStore[] = [];

function openStore(options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const store = new SqliteStore({ path: dbPath, now: () => 1_000, ...options });
  stores.push(store);
  return store;
}

function entry(adapterId: string, overrides: Partial<AdapterEntry> = {}): AdapterEntry {
  return {
    adapterId,
    project: "mahavishnu",
    domain: "adapter",
    category: "storage",
    provider: "s3",
    capabilities: ["read", "write"],
    factoryPath: "mahavishnu.adapters.storage.s3:S3Adapter",
    healthCheckUrl: `http://127.0.0.1:9000/${adapterId}/health`,
    metadata: { region: "us-east-1", note: 'quotes " and unicode ✓' },
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_100,
    registryStatus: "healthy",
    ...overrides,
  };
}

function event(type: NewEvent["type"], subject: string, data: Record<string, unknown> = {}) {
  return { type, subject, time: 5_000, data } satisfies NewEvent;
}

function change(overrides: Partial<CatalogChange>): CatalogChange {
  return { upserted: [], removed: [], initialHealth: [], ...overrides };
}

/** Adds adapters with their initial health rows, as the catalog sync does. */
function seed(store: SqliteStore, ...ids: string[]): void {
  store.applyCatalogChange(
    change({
      upserted: ids.map((id) => entry(id)),
      initialHealth: ids.map((id) => initialHealth(id, "healthy", 2_000)),
    }),
    ids.map((id) => event("adapter.discovered", id)),
    2_000,
  );
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-store-"));
  dbPath = join(directory, "state.db");
});

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("SqliteStore catalog", () => {
  it("starts empty", () => {
    const store = openStore();
    expect(store.loadCatalog()).toEqual([]);
    expect(store.loadHealth()).toEqual([]);
    expect(store.loadRegistryState()).toBeUndefined();
    expect(store.readEvents(0, 100)).toEqual([]);
  });

  it("round-trips upserted entries, capabilities and metadata included, ordered by id", () => {
    const store = openStore();
    const b = entry("b", { capabilities: [], metadata: {} });
    const a = entry("a", { registryStatus: "degraded", healthCheckUrl: "" });
    store.applyCatalogChange(change({ upserted: [b, a] }), [], 2_000);
    expect(store.loadCatalog()).toEqual([a, b]);
  });

  it("updates an existing entry in place and removes entries", () => {
    const store = openStore();
    store.applyCatalogChange(change({ upserted: [entry("a"), entry("b")] }), [], 2_000);
    const updated = entry("a", {
      provider: "minio",
      capabilities: ["read"],
      metadata: { zone: "b" },
      lastHeartbeat: 1_700_000_999,
    });
    store.applyCatalogChange(change({ upserted: [updated], removed: ["b"] }), [], 3_000);
    expect(store.loadCatalog()).toEqual([updated]);
  });

  it("keeps the catalog across reopening the file", () => {
    const first = openStore();
    seed(first, "a");
    first.close();
    const second = openStore();
    expect(second.loadCatalog()).toEqual([entry("a")]);
    expect(second.readEvents(0, 10)).toHaveLength(1);
  });

  it("drops an adapter's health row with the adapter", () => {
    const store = openStore();
    seed(store, "a", "b");
    store.applyCatalogChange(change({ removed: ["a"] }), [event("adapter.removed", "a")], 3_000);
    expect(store.loadHealth().map((state) => state.adapterId)).toEqual(["b"]);
  });
});

describe("SqliteStore health", () => {
  it("round-trips health rows, nulls and fractional latency included", () => {
    const store = openStore();
    seed(store, "a", "b");
    const checked: HealthState = {
      adapterId: "a",
      status: "degraded",
      since: 3_000,
      lastChecked: 3_500,
      latencyMs: 1234.5,
      source: "probe",
      reason: "answered in 1235 ms, over the 1000 ms threshold",
      consecutiveSuccesses: 4,
      consecutiveFailures: 0,
      registryStatus: "healthy",
      flapping: true,
      recentTransitions: [2_100, 2_600.5, 3_000],
      breaker: {
        state: "half-open",
        snapshot: { state: { halfOpen: true }, breaker: { counter: 2 } },
      },
    };
    store.commitHealth([checked], []);
    expect(store.loadHealth()).toEqual([checked, initialHealth("b", "healthy", 2_000)]);
  });

  it("overwrites a row on a later commit", () => {
    const store = openStore();
    seed(store, "a");
    const base = initialHealth("a", "healthy", 2_000);
    store.commitHealth([{ ...base, status: "healthy", reason: "first" }], []);
    store.commitHealth([{ ...base, status: "unhealthy", reason: "second" }], []);
    expect(store.loadHealth()).toEqual([{ ...base, status: "unhealthy", reason: "second" }]);
  });
});

describe("SqliteStore events", () => {
  it("appends events with the change and reads them back in seq order", () => {
    const store = openStore();
    seed(store, "a", "b");
    store.commitHealth(
      [{ ...initialHealth("a", "healthy", 2_000), status: "unhealthy" }],
      [event("adapter.health_changed", "a", { from: "unknown", to: "unhealthy", nested: [1] })],
    );
    store.saveRegistryState(
      {
        endpoint: "r:1",
        reachable: false,
        lastSync: null,
        lastAttempt: 4_000,
        lastError: "x",
      },
      [event("registry.unreachable", "r:1")],
    );
    const events = store.readEvents(0, 100);
    expect(events.map(({ type, subject }) => `${type} ${subject}`)).toEqual([
      "adapter.discovered a",
      "adapter.discovered b",
      "adapter.health_changed a",
      "registry.unreachable r:1",
    ]);
    const seqs = events.map((stored) => stored.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(events.map((stored) => stored.id)).size).toBe(4);
    for (const stored of events) expect(stored.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(events[2]).toMatchObject({
      time: 5_000,
      data: { from: "unknown", to: "unhealthy", nested: [1] },
    });
  });

  it("pages with readEvents(afterSeq, limit)", () => {
    const store = openStore();
    seed(store, "a", "b", "c", "d", "e");
    const all = store.readEvents(0, 100);
    expect(all).toHaveLength(5);
    const firstPage = store.readEvents(0, 2);
    expect(firstPage.map((stored) => stored.subject)).toEqual(["a", "b"]);
    const secondPage = store.readEvents(firstPage.at(-1)?.seq ?? 0, 2);
    expect(secondPage.map((stored) => stored.subject)).toEqual(["c", "d"]);
    const lastSeq = all.at(-1)?.seq ?? 0;
    expect(store.readEvents(lastSeq - 1, 10).map((stored) => stored.subject)).toEqual(["e"]);
    expect(store.readEvents(lastSeq, 10)).toEqual([]);
  });

  it("leaves neither state nor events when a health commit fails (foreign key)", () => {
    const store = openStore();
    seed(store, "a");
    const before = { health: store.loadHealth(), events: store.readEvents(0, 100) };
    expect(() =>
      store.commitHealth(
        [
          { ...initialHealth("a", "healthy", 2_000), status: "unhealthy", reason: "changed" },
          initialHealth("not-in-catalog", "healthy", 2_000),
        ],
        [event("adapter.health_changed", "a"), event("adapter.health_changed", "not-in-catalog")],
      ),
    ).toThrow(/FOREIGN KEY constraint failed/);
    expect(store.loadHealth()).toEqual(before.health);
    expect(store.readEvents(0, 100)).toEqual(before.events);
  });

  it("leaves neither catalog nor events when a catalog change fails", () => {
    const store = openStore();
    seed(store, "a");
    const before = {
      catalog: store.loadCatalog(),
      health: store.loadHealth(),
      events: store.readEvents(0, 100),
    };
    expect(() =>
      store.applyCatalogChange(
        change({
          upserted: [entry("new")],
          removed: ["a"],
          initialHealth: [initialHealth("never-upserted", "unknown", 3_000)],
        }),
        [event("adapter.discovered", "new"), event("adapter.removed", "a")],
        3_000,
      ),
    ).toThrow(/FOREIGN KEY constraint failed/);
    expect(store.loadCatalog()).toEqual(before.catalog);
    expect(store.loadHealth()).toEqual(before.health);
    expect(store.readEvents(0, 100)).toEqual(before.events);
  });
});

describe("SqliteStore registry state and meta", () => {
  it("round-trips the registry state and replaces it on save", () => {
    const store = openStore();
    const down: RegistryState = {
      endpoint: "oneiric-mcp.internal:8680",
      reachable: false,
      lastSync: null,
      lastAttempt: 4_000,
      lastError: "UNAVAILABLE: connection refused",
    };
    store.saveRegistryState(down, []);
    expect(store.loadRegistryState()).toEqual(down);
    const up: RegistryState = { ...down, reachable: true, lastSync: 5_000, lastError: null };
    store.saveRegistryState(up, [event("registry.recovered", down.endpoint)]);
    expect(store.loadRegistryState()).toEqual(up);
    expect(store.readEvents(0, 10).map((stored) => stored.type)).toEqual(["registry.recovered"]);
  });

  it("stores meta values and overwrites them", () => {
    const store = openStore();
    expect(store.getMeta("http_listen")).toBeUndefined();
    store.setMeta("http_listen", "127.0.0.1:8681");
    store.setMeta("http_listen", "127.0.0.1:9681");
    store.setMeta("stale_after_ms", "45000");
    expect(store.getMeta("http_listen")).toBe("127.0.0.1:9681");
    expect(store.getMeta("stale_after_ms")).toBe("45000");
  });
});

describe("SqliteStore read-only", () => {
  it("reads a file another connection has open in WAL mode, seeing later commits", () => {
    const writer = openStore();
    seed(writer, "a");
    writer.setMeta("http_listen", "127.0.0.1:8681");
    const mode = new BetterSqlite3(dbPath, { readonly: true });
    expect(mode.pragma("journal_mode", { simple: true })).toBe("wal");
    mode.close();

    const reader = openStore({ readonly: true });
    expect(reader.loadCatalog()).toEqual([entry("a")]);
    expect(reader.getMeta("http_listen")).toBe("127.0.0.1:8681");
    seed(writer, "b");
    expect(reader.loadCatalog().map((item) => item.adapterId)).toEqual(["a", "b"]);
    expect(reader.readEvents(0, 10)).toHaveLength(2);
  });

  it("reads the file after the writer closed", () => {
    const writer = openStore();
    seed(writer, "a");
    writer.saveRegistryState(
      { endpoint: "r:1", reachable: true, lastSync: 1, lastAttempt: 1, lastError: null },
      [],
    );
    writer.close();
    // The last connection checkpointed and removed the WAL: the reader starts from the file alone.
    expect(existsSync(`${dbPath}-wal`)).toBe(false);

    const reader = openStore({ readonly: true });
    expect(reader.loadCatalog()).toEqual([entry("a")]);
    expect(reader.loadHealth()).toEqual([initialHealth("a", "healthy", 2_000)]);
    expect(reader.loadRegistryState()?.endpoint).toBe("r:1");
  });

  it("refuses writes", () => {
    seed(openStore(), "a");
    const reader = openStore({ readonly: true });
    expect(() => reader.setMeta("k", "v")).toThrow("store was opened read-only");
    expect(() => reader.commitHealth([], [])).toThrow("store was opened read-only");
    expect(() => reader.applyCatalogChange(change({}), [], 1)).toThrow(
      "store was opened read-only",
    );
    expect(() =>
      reader.saveRegistryState(
        { endpoint: "r", reachable: true, lastSync: null, lastAttempt: null, lastError: null },
        [],
      ),
    ).toThrow("store was opened read-only");
  });

  it("does not create a missing file", () => {
    expect(() => openStore({ readonly: true })).toThrow();
    expect(existsSync(dbPath)).toBe(false);
  });
});
