import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import type { NewEvent } from "../domain/events.js";
import { initialHealth } from "../domain/health.js";
import { FaultyStore } from "./faulty-store.js";
import { MemoryStore } from "./memory-store.js";
import { SqliteStore } from "./sqlite-store.js";
import type { StoreCommit } from "./store.js";
import { describeHealthStoreContract } from "./store-contract.js";

const REDIS = "t.adapter.cache.redis";
const S3 = "t.adapter.storage.s3";

const discovered = (subject: string): NewEvent => ({
  type: "adapter.discovered",
  subject,
  time: 2_000,
  data: {},
});

const addition = (id: string): StoreCommit => ({
  upserted: [catalogEntry({ adapterId: id })],
  states: [initialHealth(id, "healthy", 2_000)],
  registry: {
    endpoint: "r:1",
    reachable: true,
    lastSync: 2_000,
    lastAttempt: 2_000,
    lastError: null,
  },
  events: [discovered(id)],
});

/** A FaultyStore that does not fail must be indistinguishable from the store it wraps. */
describeHealthStoreContract("FaultyStore over SqliteStore, not failing", () => {
  const directory = mkdtempSync(join(tmpdir(), "healthd-faulty-contract-"));
  const path = join(directory, "state.db");
  const opened: FaultyStore[] = [];
  const openAt = () => {
    const store = new FaultyStore(new SqliteStore({ path }));
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

describe("FaultyStore", () => {
  it("fails every commit once told to, changing nothing in the wrapped store", () => {
    const inner = new MemoryStore();
    const store = new FaultyStore(inner);
    store.commit(addition(REDIS), 2_000);
    const before = {
      catalog: inner.loadCatalog(),
      health: inner.loadHealth(),
      registry: inner.loadRegistryState(),
      events: inner.readEvents(0, 100),
    };

    store.failCommits();
    expect(() => store.commit(addition(S3), 3_000)).toThrow(
      "SQLITE_FULL: database or disk is full",
    );
    expect(() => store.commit({ ...addition(S3), registry: undefined }, 4_000)).toThrow(
      expect.objectContaining({ code: "SQLITE_FULL" }),
    );
    expect({
      catalog: inner.loadCatalog(),
      health: inner.loadHealth(),
      registry: inner.loadRegistryState(),
      events: inner.readEvents(0, 100),
    }).toEqual(before);
    expect(store.commitsAttempted).toBe(3);
    expect(store.commitsFailed).toBe(2);
  });

  it("throws the error it was given", () => {
    const store = new FaultyStore(new MemoryStore());
    const error = new Error("SQLITE_IOERR: disk I/O error");
    store.failCommits(error);
    expect(() => store.commit(addition(REDIS), 2_000)).toThrow(error);
  });

  it("commits again after heal(), the journal going on from where it was", () => {
    const store = new FaultyStore(new MemoryStore());
    store.commit(addition(REDIS), 2_000);
    store.failCommits();
    expect(() => store.commit(addition(S3), 3_000)).toThrow();
    store.heal();
    const [journalled] = store.commit(addition(S3), 3_000);
    expect(journalled?.seq).toBe(2);
    expect(store.loadCatalog().map((entry) => entry.adapterId)).toEqual([REDIS, S3]);
    expect(store.commitsAttempted).toBe(3);
    expect(store.commitsFailed).toBe(1);
  });

  it("fails only as many commits as it was told to", () => {
    const store = new FaultyStore(new MemoryStore());
    store.failCommits(undefined, 2);
    expect(() => store.commit(addition(REDIS), 2_000)).toThrow();
    expect(() => store.commit(addition(REDIS), 2_000)).toThrow();
    expect(store.commit(addition(REDIS), 2_000)).toHaveLength(1);
    expect(store.commitsFailed).toBe(2);
  });

  it("passes every other call through while commits fail", () => {
    const inner = new MemoryStore();
    const store = new FaultyStore(inner);
    store.commit(addition(REDIS), 2_000);
    store.failCommits();
    store.setMeta("k", "v");
    store.saveEndpoint(
      {
        endpoint: "r:1",
        role: "primary",
        breaker: null,
        reachable: true,
        lastOk: 1,
        lastError: null,
      },
      3_000,
    );
    store.saveWebhookCursor(
      { name: "w", cursor: 1, parked: false, parkedReason: null, failures: 0, configHash: null },
      3_000,
    );
    expect(inner.getMeta("k")).toBe("v");
    expect(inner.loadEndpoints().map((endpoint) => endpoint.endpoint)).toEqual(["r:1"]);
    expect(inner.loadWebhookCursors().map((cursor) => cursor.cursor)).toEqual([1]);
    expect(store.loadCatalog()).toEqual(inner.loadCatalog());
    expect(store.readEvents(0, 10)).toEqual(inner.readEvents(0, 10));
    expect(store.pruneEvents(Number.MAX_SAFE_INTEGER, 0)).toBe(1);
    expect(inner.journalBounds()).toEqual({ oldestSeq: null, newestSeq: null });
    store.close();
    expect(() => inner.loadCatalog()).toThrow("store is closed");
  });
});
