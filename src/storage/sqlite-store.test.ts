import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { initialHealth } from "../domain/health.js";
import { migrate, readMigrations } from "./migrator.js";
import { MIGRATIONS_DIRECTORY, SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import { StorageError } from "./storage-error.js";
import { describeHealthStoreContract } from "./store-contract.js";

const REDIS = "t.adapter.cache.redis";
const S3 = "t.adapter.storage.s3";
const MIGRATIONS = readMigrations(MIGRATIONS_DIRECTORY);

describeHealthStoreContract("SqliteStore", () => {
  const directory = mkdtempSync(join(tmpdir(), "healthd-store-contract-"));
  const path = join(directory, "state.db");
  const opened: SqliteStore[] = [];
  const openAt = () => {
    const store = new SqliteStore({ path });
    opened.push(store);
    return store;
  };
  return {
    store: openAt(),
    reopen: openAt,
    cleanup: () => {
      for (const store of opened) store.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});

let directory: string;
let dbPath: string;
const stores: SqliteStore[] = [];

function openStore(options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const store = new SqliteStore({ path: dbPath, now: () => 1_000, ...options });
  stores.push(store);
  return store;
}

/** Adds adapters with their first health rows and discovery events, as the catalog sync does. */
function seed(store: SqliteStore, ...ids: string[]): void {
  store.commit(
    {
      upserted: ids.map((adapterId) => catalogEntry({ adapterId })),
      states: ids.map((id) => initialHealth(id, "healthy", 2_000)),
      events: ids.map((id) => ({ type: "adapter.discovered", subject: id, time: 2_000, data: {} })),
    },
    2_000,
  );
}

/** Writes a database file as the daemon of migration `version` left it. */
function fileAtVersion(version: number): void {
  const db = new BetterSqlite3(dbPath);
  migrate(db, MIGRATIONS.slice(0, version), () => 1_000);
  db.close();
}

function schemaVersion(): number {
  const db = new BetterSqlite3(dbPath, { readonly: true });
  const row = db.prepare("SELECT MAX(version) AS version FROM schema_migrations").get() as {
    version: number;
  };
  db.close();
  return row.version;
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-store-"));
  dbPath = join(directory, "state.db");
});

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("SqliteStore file and migrations", () => {
  it("creates the file in WAL mode with every migration applied", () => {
    openStore();
    expect(statSync(dbPath).size).toBeGreaterThan(0);
    expect(schemaVersion()).toBe(MIGRATIONS.length);
    const db = new BetterSqlite3(dbPath, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("upgrades a file written before 0005, keeping its adapters and health rows", () => {
    fileAtVersion(4);
    const db = new BetterSqlite3(dbPath);
    db.prepare(
      `INSERT INTO adapters (adapter_id, project, domain, category, provider, first_seen, updated_at)
       VALUES (?, 't', 'adapter', 'cache', 'redis', 1, 1)`,
    ).run(REDIS);
    db.prepare(
      `INSERT INTO adapter_health (adapter_id, status, since, source, reason,
         consecutive_successes, consecutive_failures, registry_status)
       VALUES (?, 'healthy', 500, 'probe', 'HTTP 200', 3, 0, 'healthy')`,
    ).run(REDIS);
    db.close();

    const store = openStore();
    expect(schemaVersion()).toBe(MIGRATIONS.length);
    expect(store.loadCatalog().map((entry) => entry.adapterId)).toEqual([REDIS]);
    expect(store.loadHealth()).toEqual([
      {
        ...initialHealth(REDIS, "healthy", 500),
        status: "healthy",
        source: "probe",
        reason: "HTTP 200",
        consecutiveSuccesses: 3,
        // Rows from before 0005 have no interval: stale-checking treats them as never scheduled.
        checkIntervalMs: null,
      },
    ]);
  });

  it("upgrades a file written before 0007: its events and verdicts read back as a lone daemon's", () => {
    fileAtVersion(6);
    const db = new BetterSqlite3(dbPath);
    db.prepare(
      `INSERT INTO adapters (adapter_id, project, domain, category, provider, first_seen, updated_at)
       VALUES (?, 't', 'adapter', 'cache', 'redis', 1, 1)`,
    ).run(REDIS);
    db.prepare(
      `INSERT INTO adapter_health (adapter_id, status, since, source, reason,
         consecutive_successes, consecutive_failures, registry_status, check_interval_ms)
       VALUES (?, 'healthy', 500, 'probe', 'HTTP 200', 3, 0, 'healthy', 15000)`,
    ).run(REDIS);
    db.prepare(
      `INSERT INTO events (id, type, subject, time, data)
       VALUES ('e-1', 'adapter.discovered', ?, 700, '{}')`,
    ).run(REDIS);
    db.close();

    const store = openStore();
    expect(schemaVersion()).toBe(MIGRATIONS.length);
    const [health] = store.loadHealth();
    expect(health && "owner" in health).toBe(false);
    expect(store.readEvents(0, 10)).toStrictEqual([
      { seq: 1, id: "e-1", type: "adapter.discovered", subject: REDIS, time: 700, data: {} },
    ]);
    expect(store.loadClusterCursor("publish")).toBeUndefined();
  });
});

describe("SqliteStore read-only", () => {
  it("reads a file another connection has open in WAL mode, seeing later commits", () => {
    const writer = openStore();
    seed(writer, REDIS);
    writer.setMeta("http_listen", "127.0.0.1:8681");

    const reader = openStore({ readonly: true });
    expect(reader.loadCatalog()).toEqual([catalogEntry({ adapterId: REDIS })]);
    expect(reader.getMeta("http_listen")).toBe("127.0.0.1:8681");
    seed(writer, S3);
    expect(reader.loadCatalog().map((item) => item.adapterId)).toEqual([REDIS, S3]);
    expect(reader.readEvents(0, 10)).toHaveLength(2);
    expect(reader.journalBounds()).toEqual({ oldestSeq: 1, newestSeq: 2 });
  });

  it("reads the file after the writer closed", () => {
    const writer = openStore();
    seed(writer, REDIS);
    writer.commit(
      {
        registry: {
          endpoint: "r:1",
          reachable: true,
          lastSync: 1,
          lastAttempt: 1,
          lastError: null,
        },
        events: [],
      },
      3_000,
    );
    writer.close();
    // The last connection checkpointed and removed the WAL: the reader starts from the file alone.
    expect(existsSync(`${dbPath}-wal`)).toBe(false);

    const reader = openStore({ readonly: true });
    expect(reader.loadCatalog()).toEqual([catalogEntry({ adapterId: REDIS })]);
    expect(reader.loadHealth()).toEqual([initialHealth(REDIS, "healthy", 2_000)]);
    expect(reader.loadRegistryState()?.endpoint).toBe("r:1");
  });

  it("refuses every write", () => {
    seed(openStore(), REDIS);
    const reader = openStore({ readonly: true });
    const writes: [string, () => unknown][] = [
      ["commit", () => reader.commit({ events: [] }, 1)],
      ["setMeta", () => reader.setMeta("k", "v")],
      [
        "saveEndpoint",
        () =>
          reader.saveEndpoint(
            {
              endpoint: "r",
              role: "primary",
              breaker: null,
              reachable: true,
              lastOk: null,
              lastError: null,
            },
            1,
          ),
      ],
      [
        "saveWebhookCursor",
        () =>
          reader.saveWebhookCursor(
            {
              name: "w",
              cursor: 0,
              parked: false,
              parkedReason: null,
              failures: 0,
              configHash: null,
            },
            1,
          ),
      ],
      ["saveClusterCursor", () => reader.saveClusterCursor("publish", 1, 1)],
      ["pruneEvents", () => reader.pruneEvents(1, 1)],
      ["pruneRemovedAdapters", () => reader.pruneRemovedAdapters(1)],
    ];
    for (const [name, write] of writes) {
      expect(write, name).toThrow("store was opened read-only");
    }
    expect(reader.readEvents(0, 10)).toHaveLength(1);
  });

  it("does not create a missing file", () => {
    expect(() => openStore({ readonly: true })).toThrow();
    expect(existsSync(dbPath)).toBe(false);
  });

  it("refuses a file at an older schema, which only the daemon may migrate", () => {
    fileAtVersion(4);
    expect(() => openStore({ readonly: true })).toThrow(
      new StorageError(
        dbPath,
        `has schema version 4, older than this oneiric-healthd's ${MIGRATIONS.length}: start the daemon once on it to migrate`,
      ),
    );
    expect(schemaVersion()).toBe(4);
  });

  it("refuses a SQLite file that is not the daemon's", () => {
    const db = new BetterSqlite3(dbPath);
    db.exec("CREATE TABLE other (x INTEGER)");
    db.close();
    expect(() => openStore({ readonly: true })).toThrow(/has schema version 0, older than/);
  });

  it.each([
    ["read-only", true],
    ["to run the daemon on", false],
  ])(
    "refuses a file written by a newer daemon, opened %s, naming both versions",
    (_how, readonly) => {
      openStore().close();
      const db = new BetterSqlite3(dbPath);
      db.prepare(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, 'future', 'x', 1)",
      ).run(MIGRATIONS.length + 1);
      db.close();
      expect(() => openStore({ readonly })).toThrow(
        new StorageError(
          dbPath,
          `has schema version ${MIGRATIONS.length + 1}, newer than this oneiric-healthd's ${MIGRATIONS.length}: it was written by a newer oneiric-healthd; upgrade, or use another database`,
        ),
      );
      expect(schemaVersion()).toBe(MIGRATIONS.length + 1);
    },
  );
});

describe("SqliteStore.loadState", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 12 });
  const status = fc.constantFrom("unknown", "healthy", "degraded", "unhealthy" as const);
  const whole = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
  const arbitraryEntry = (adapterId: string) =>
    fc.record({
      adapterId: fc.constant(adapterId),
      project: text,
      domain: text,
      category: text,
      provider: text,
      capabilities: fc.array(text, { maxLength: 3 }),
      factoryPath: text,
      healthCheckUrl: text,
      metadata: fc.dictionary(text, text, { maxKeys: 3 }),
      registeredAt: whole,
      lastHeartbeat: whole,
      registryStatus: status,
    });
  const arbitraryState = (adapterId: string) =>
    fc.record(
      {
        adapterId: fc.constant(adapterId),
        status,
        since: whole,
        lastChecked: fc.option(whole, { nil: null }),
        // SQLite keeps -0 as 0 (row by row as well): the one double that does not come back.
        latencyMs: fc.option(
          fc
            .double({ noNaN: true, noDefaultInfinity: true })
            .filter((value) => !Object.is(value, -0)),
          { nil: null },
        ),
        source: fc.constantFrom("probe", "registry", "none" as const),
        reason: text,
        consecutiveSuccesses: fc.nat(),
        consecutiveFailures: fc.nat(),
        registryStatus: status,
        flapping: fc.boolean(),
        recentTransitions: fc.array(whole, { maxLength: 3 }),
        breaker: fc.option(
          fc.record({
            state: fc.constantFrom("closed", "open", "half-open", "isolated" as const),
            snapshot: fc.record({ ownState: fc.record({ value: fc.nat() }), note: text }),
          }),
          { nil: null },
        ),
        checkIntervalMs: fc.option(fc.nat(), { nil: null }),
        // Absent on a lone daemon (not in requiredKeys), any text on a cluster member.
        owner: text,
      },
      {
        requiredKeys: [
          "adapterId",
          "status",
          "since",
          "lastChecked",
          "latencyMs",
          "source",
          "reason",
          "consecutiveSuccesses",
          "consecutiveFailures",
          "registryStatus",
          "flapping",
          "recentTransitions",
          "breaker",
          "checkIntervalMs",
        ],
      },
    );

  it("restores what loadCatalog and loadHealth read row by row, for any values", () => {
    // By id as SQLite orders it: UTF-8 bytes, not UTF-16 code units.
    const byId = <T extends { adapterId: string }>(items: T[]) =>
      [...items].sort((a, b) => Buffer.compare(Buffer.from(a.adapterId), Buffer.from(b.adapterId)));
    fc.assert(
      fc.property(
        fc
          .uniqueArray(text, { minLength: 1, maxLength: 12 })
          .chain((ids) =>
            fc.tuple(
              fc.tuple(...ids.map(arbitraryEntry)),
              fc.tuple(...ids.map(arbitraryState)),
              fc.subarray(ids),
            ),
          ),
        ([entries, states, removed]) => {
          const store = openStore();
          try {
            store.commit({ upserted: entries, states, events: [] }, 1_000);
            store.commit({ removed, events: [] }, 2_000);
            const state = store.loadState();
            expect(byId(state.catalog)).toEqual(store.loadCatalog());
            expect(byId(state.health)).toEqual(store.loadHealth());
            const kept = entries.filter((entry) => !removed.includes(entry.adapterId));
            expect(byId(state.catalog)).toEqual(byId(kept));
            expect(byId(state.health)).toEqual(
              byId(states.filter((row) => !removed.includes(row.adapterId))),
            );
          } finally {
            store.close();
            rmSync(dbPath, { force: true });
            rmSync(`${dbPath}-wal`, { force: true });
            rmSync(`${dbPath}-shm`, { force: true });
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it("gives loadStatusRows the listed fields of loadState's entries that have a verdict, in their order", () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(text, { minLength: 1, maxLength: 12 })
          .chain((ids) =>
            fc.tuple(
              fc.tuple(...ids.map(arbitraryEntry)),
              fc.tuple(...ids.map((id) => fc.option(arbitraryState(id), { nil: undefined }))),
              fc.subarray(ids),
            ),
          ),
        ([entries, states, removed]) => {
          const store = openStore();
          try {
            store.commit(
              {
                upserted: entries,
                states: states.filter((state) => state !== undefined),
                events: [],
              },
              1_000,
            );
            store.commit({ removed, events: [] }, 2_000);
            const { catalog, health } = store.loadState();
            const verdicts = new Map(health.map((state) => [state.adapterId, state]));
            const expected = catalog.flatMap((entry) => {
              const state = verdicts.get(entry.adapterId);
              if (!state) return [];
              return [
                {
                  adapterId: entry.adapterId,
                  project: entry.project,
                  domain: entry.domain,
                  category: entry.category,
                  provider: entry.provider,
                  healthCheckUrl: entry.healthCheckUrl,
                  status: state.status,
                  since: state.since,
                  lastChecked: state.lastChecked,
                  latencyMs: state.latencyMs,
                  source: state.source,
                  reason: state.reason,
                  registryStatus: state.registryStatus,
                  flapping: state.flapping,
                  breaker: state.breaker === null ? null : { state: state.breaker.state },
                  checkIntervalMs: state.checkIntervalMs,
                  ...(state.owner === undefined ? {} : { owner: state.owner }),
                },
              ];
            });
            expect(store.loadStatusRows()).toEqual(expected);
          } finally {
            store.close();
            rmSync(dbPath, { force: true });
            rmSync(`${dbPath}-wal`, { force: true });
            rmSync(`${dbPath}-shm`, { force: true });
          }
        },
      ),
      { numRuns: 100 },
    );
  }, 60_000);

  it("reads rowids past one page, with gaps", () => {
    const store = openStore();
    const ids = Array.from({ length: 45_000 }, (_, index) => `t.adapter.bulk.a${index}`);
    store.commit(
      {
        upserted: ids.map((adapterId) => catalogEntry({ adapterId })),
        states: ids.map((adapterId) => initialHealth(adapterId, "healthy", 1_000)),
        events: [],
      },
      1_000,
    );
    // Rowids with a hole of a whole page and more: removed rows are forgotten by retention.
    store.commit({ removed: ids.slice(10_000, 32_000), events: [] }, 2_000);
    store.pruneRemovedAdapters(3_000);
    const kept = [...ids.slice(0, 10_000), ...ids.slice(32_000)].sort();
    const { catalog } = store.loadState();
    expect(catalog.map((entry) => entry.adapterId).sort()).toEqual(kept);
    expect(
      store
        .loadStatusRows()
        .map((row) => row.adapterId)
        .sort(),
    ).toEqual(kept);
  }, 60_000);
});
