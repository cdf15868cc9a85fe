import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { MemoryStore } from "./memory-store.js";
import { describeHealthStoreContract } from "./store-contract.js";

describeHealthStoreContract("MemoryStore", () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe("MemoryStore", () => {
  it("keeps nothing in common between two stores", () => {
    const one = new MemoryStore();
    const other = new MemoryStore();
    one.commit(
      {
        upserted: [catalogEntry()],
        events: [{ type: "failover", subject: "r", time: 1, data: {} }],
      },
      1,
    );
    one.setMeta("k", "v");
    expect(other.loadCatalog()).toEqual([]);
    expect(other.readEvents(0, 10)).toEqual([]);
    expect(other.getMeta("k")).toBeUndefined();
    expect(
      other.commit({ events: [{ type: "failover", subject: "r", time: 1, data: {} }] }, 1)[0]?.seq,
    ).toBe(1);
  });

  it("refuses what the SQLite schema refuses, as SqliteStore would", () => {
    const store = new MemoryStore();
    expect(() =>
      store.commit({ upserted: [catalogEntry({ registeredAt: 1.5 })], events: [] }, 1),
    ).toThrow("cannot store REAL value in INTEGER column adapters.registered_at");
    store.commit({ upserted: [catalogEntry()], events: [] }, 1);
    expect(() => store.commit({ removed: [catalogEntry().adapterId], events: [] }, 2.5)).toThrow(
      "INTEGER column adapters.removed_at",
    );
    expect(store.loadCatalog()).toEqual([catalogEntry()]);
    expect(() =>
      store.saveEndpoint(
        {
          endpoint: "r",
          role: "tertiary" as "primary",
          breaker: null,
          reachable: false,
          lastOk: null,
          lastError: null,
        },
        1,
      ),
    ).toThrow("CHECK constraint failed");
    expect(() =>
      store.saveWebhookCursor(
        {
          name: "w",
          cursor: 0.5,
          parked: false,
          parkedReason: null,
          failures: 0,
          configHash: null,
        },
        1,
      ),
    ).toThrow("INTEGER column webhook_cursors.cursor");
    expect(store.loadEndpoints()).toEqual([]);
    expect(store.loadWebhookCursors()).toEqual([]);
  });
});
