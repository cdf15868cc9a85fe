import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../test/support/catalog-entry.js";
import { DatabaseQueryBackend } from "./api/clients/database-query-backend.js";
import { NO_REGISTRY_ERROR } from "./api/query-service.js";
import { parseConfigText } from "./config/load.js";
import type { HealthState } from "./domain/health.js";
import { encodeStaleRule, STALE_RULE_META } from "./domain/status-view.js";
import {
  OFFLINE_NOT_READY_REASON,
  OfflineReadModel,
  type OfflineReadOptions,
  readJournal,
} from "./offline-read-model.js";
import { readStatusSnapshot } from "./offline-view.js";
import { SqliteStore } from "./storage/sqlite-store.js";

const T0 = Date.parse("2026-11-26T12:00:00Z");
const S3 = "t.adapter.storage.s3";
const GCS = "t.adapter.storage.gcs";
const FILE = "t.adapter.storage.file";
const REDIS = "t.adapter.cache.redis";

function checked(adapterId: string, overrides: Partial<HealthState> = {}): HealthState {
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
    recentTransitions: [],
    breaker: null,
    checkIntervalMs: 15_000,
    ...overrides,
  };
}

const config = (yaml: string) => parseConfigText(yaml, "healthd.yaml", {});

let directory: string;
let dbPath: string;
let writer: SqliteStore;
let clock: number;
const now = () => clock;
const opened: { close(): void }[] = [];

function model(options: Partial<OfflineReadOptions> = {}) {
  const read = new OfflineReadModel({ path: dbPath, now, ...options });
  opened.push(read);
  return read;
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-offline-"));
  dbPath = join(directory, "healthd.db");
  clock = T0 + 1_000;
  // The daemon's side: a writable connection, as startDaemon opens it.
  writer = new SqliteStore({ path: dbPath, now });
  writer.setMeta(STALE_RULE_META, encodeStaleRule({ graceMs: 1_000, fallbackAfterMs: 30_000 }));
  writer.commit(
    {
      upserted: [S3, GCS, FILE, REDIS].map((adapterId) => catalogEntry({ adapterId })),
      states: [
        checked(S3, { latencyMs: 20 }),
        checked(GCS, { latencyMs: 5 }),
        checked(FILE, { latencyMs: 1 }),
        checked(REDIS, { status: "unhealthy", reason: "HTTP 503", checkIntervalMs: 60_000 }),
      ],
      registry: {
        endpoint: "registry.example:8679",
        reachable: true,
        lastSync: T0,
        lastAttempt: T0,
        lastError: null,
      },
      events: [S3, GCS, FILE, REDIS].map((subject) => ({
        type: "adapter.discovered" as const,
        subject,
        time: T0,
        data: {},
      })),
    },
    T0,
  );
});

afterEach(() => {
  for (const item of opened.splice(0)) item.close();
  writer.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("OfflineReadModel", () => {
  it("lists as the daemon's query service does, judging staleness by the wall clock and the file's rule", () => {
    const parts = model().current();
    const listed = parts.queries.listAdapters();
    // Sorted by id, as GET /v1/adapters lists them.
    expect(listed.adapters.map((adapter) => adapter.adapter_id)).toEqual([REDIS, FILE, GCS, S3]);
    expect(listed.registry).toMatchObject({ endpoint: "registry.example:8679", reachable: true });
    expect(parts.view.get(S3)?.stale).toBe(false);
    // 15 s interval + the file's 1 s grace after the check at T0; redis was scheduled at 60 s.
    clock = T0 + 16_000;
    expect(parts.view.get(S3)?.stale).toBe(false);
    clock = T0 + 16_001;
    expect(parts.view.get(S3)?.stale).toBe(true);
    expect(parts.view.get(REDIS)?.stale).toBe(false);
  });

  it("ranks with the config's priorities and resolution default, or the defaults' without a config", () => {
    const plain = model().current().queries;
    // Equal priorities: healthy by latency, file (1 ms) first.
    expect(plain.resolve({ domain: "adapter", category: "storage" }).choice?.adapter_id).toBe(FILE);
    expect(plain.resolve({ domain: "adapter", category: "cache" })).toMatchObject({
      choice: null,
      panic: false,
    });

    const configured = model({
      config: config(`healthd:
  overrides:
    - { match: { provider: s3 }, priority: 1 }
  resolution: { panic: true }
`),
    }).current().queries;
    const storage = configured.resolve({ domain: "adapter", category: "storage", limit: 1 });
    expect(storage.choice?.adapter_id).toBe(S3);
    expect(storage.fallbacks.map((candidate) => candidate.adapter_id)).toEqual([FILE]);
    expect(storage.fallbacks_total).toBe(2);
    // healthd.resolution.panic from the config: the least bad cache is handed out.
    expect(configured.resolve({ domain: "adapter", category: "cache" })).toMatchObject({
      choice: { adapter_id: REDIS },
      panic: true,
    });
  });

  it("applies declared maintenance and the config's fixed windows, never its cron windows", () => {
    writer.commit(
      {
        maintenance: [
          { adapterId: GCS, declared: { adapterId: GCS, untilMs: null, reason: "declared" } },
        ],
        events: [],
      },
      T0,
    );
    const parts = model({
      config: config(`healthd:
  maintenance:
    - { adapters: "${FILE}", from: "2026-11-26T11:00:00Z", until: "2026-11-26T13:00:00Z", reason: fixed }
    - { adapters: "${S3}", cron: "* * * * *", duration_min: 1000, reason: recurring }
`),
    }).current();
    expect(parts.view.get(GCS)?.maintenance).toEqual({ until: null, reason: "declared" });
    expect(parts.view.get(FILE)?.maintenance).toMatchObject({ reason: "fixed" });
    expect(parts.view.get(S3)?.maintenance).toBeNull();
    expect(
      parts.queries.resolve({ domain: "adapter", category: "storage" }).choice?.adapter_id,
    ).toBe(S3);
    // The fixed window closes at 13:00 by the same clock.
    clock = Date.parse("2026-11-26T13:00:00Z");
    expect(parts.view.get(FILE)?.maintenance).toBeNull();
  });

  it("is never ready, asks no registry and refuses what needs the daemon", async () => {
    const { queries } = model().current();
    expect(queries.readiness()).toEqual({ ready: false, reason: OFFLINE_NOT_READY_REASON });
    expect(await queries.checkHealth(S3)).toMatchObject({
      adapter_id: S3,
      daemon: { adapter_id: S3, status: "healthy" },
      registry: null,
      registry_error: NO_REGISTRY_ERROR,
    });
    await expect(queries.checkHealth("t.adapter.storage.nope")).rejects.toMatchObject({
      code: "ADAPTER_NOT_FOUND",
    });
    expect(() => queries.invalidateCache()).toThrow(
      "invalidating the registry cache needs a running daemon (pass --url)",
    );
    expect(() => queries.healthCheck()).toThrow(
      "the daemon's health check needs a running daemon (pass --url)",
    );
    expect(() => queries.setMaintenance(S3, {})).toThrow(/needs a running daemon/);
  });

  it("loads again only when another connection committed", () => {
    const read = model();
    const first = read.current();
    expect(read.current()).toBe(first);
    expect(read.loadCount).toBe(1);
    writer.commit(
      { states: [checked(S3, { status: "degraded", reason: "slow" })], events: [] },
      T0,
    );
    const second = read.current();
    expect(second).not.toBe(first);
    expect(read.loadCount).toBe(2);
    expect(second.view.get(S3)?.status).toBe("degraded");
    // The journal is read from the file as it is, without reloading the model.
    writer.commit(
      { events: [{ type: "adapter.removed", subject: REDIS, time: T0, data: {} }] },
      T0,
    );
    expect(read.latest()).toBe(second);
    expect(
      read
        .latest()
        .queries.events({ since: 4 })
        .events.map((event) => event.seq),
    ).toEqual([5]);
    expect(read.hub().newestSeq()).toBe(5);
  });

  it("says there is no database, and refuses an expired cursor as the daemon does", () => {
    const absent = model({ path: join(directory, "absent.db") });
    expect(() => absent.current()).toThrow(
      `no database at ${join(directory, "absent.db")}: start the daemon once`,
    );
    writer.pruneEvents(0, 2);
    expect(() => model().current().queries.events({ since: 0 })).toThrow(
      expect.objectContaining({ code: "CURSOR_EXPIRED", extra: { oldest_seq: 3, requested: 0 } }),
    );
  });
});

describe("readStatusSnapshot and readJournal", () => {
  it("give the daemon's listing of the file, the registry null when it was never recorded", () => {
    const snapshot = readStatusSnapshot(dbPath, T0 + 16_001);
    expect(snapshot.registry).toMatchObject({ endpoint: "registry.example:8679" });
    expect(snapshot.adapters.map((adapter) => [adapter.adapter_id, adapter.stale])).toEqual([
      [REDIS, false],
      [FILE, true],
      [GCS, true],
      [S3, true],
    ]);
    const withWindow = readStatusSnapshot(
      dbPath,
      T0,
      config(`healthd:
  maintenance:
    - { adapters: "t.adapter.cache.*", from: "2026-11-26T11:00:00Z", until: "2026-11-26T13:00:00Z" }
`),
    );
    expect(
      withWindow.adapters.find((adapter) => adapter.adapter_id === REDIS)?.maintenance,
    ).toEqual({ until: "2026-11-26T13:00:00.000Z", reason: "" });
    expect(readJournal(dbPath, 2, 10).map((event) => event.subject)).toEqual([FILE, REDIS]);

    const bare = join(directory, "bare.db");
    new SqliteStore({ path: bare }).close();
    expect(readStatusSnapshot(bare, T0)).toEqual({ adapters: [], registry: null });
  });

  it("DatabaseQueryBackend answers with the same service, plus its note", async () => {
    const backend = new DatabaseQueryBackend({ path: dbPath, now });
    opened.push(backend);
    const answer = await backend.resolve({ domain: "adapter", category: "storage" });
    const daemonLike = model()
      .current()
      .queries.resolve({ domain: "adapter", category: "storage" });
    const { note, ...rest } = answer;
    expect(rest).toEqual(daemonLike);
    expect(note).toContain(`read from the database file ${dbPath}`);
    expect(await backend.getAdapter(S3)).toMatchObject({ adapter_id: S3, recent_checks: [] });
    expect((await backend.listAdapters({ status: "unhealthy" })).adapters).toHaveLength(1);
  });
});
