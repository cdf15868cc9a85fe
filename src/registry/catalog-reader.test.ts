import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffCatalog, diffFromChanges, screenEntries } from "../domain/catalog.js";
import {
  HealthCheckResponse,
  ListResponse,
  type AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";
import { type CatalogRead, CatalogReader } from "./catalog-reader.js";
import { decodeListInSlices } from "./registry-client.js";

function wireEntry(index: number, fields: Partial<WireAdapterEntry> = {}): WireAdapterEntry {
  return {
    adapterId: `adapter-${index}`,
    project: "mahavishnu",
    domain: "adapter",
    category: index % 2 === 0 ? "storage" : "cache",
    provider: "s3",
    capabilities: ["read", "write"],
    factoryPath: "x:Y",
    healthCheckUrl: `http://127.0.0.1:9000/${index}/health`,
    metadata: { region: `r${index % 3}` },
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_100,
    healthStatus: "healthy",
    ...fields,
  };
}

const encode = (adapters: WireAdapterEntry[]) => ListResponse.encode({ adapters }).finish();

/** What the sync got before the reader existed: a full decode, then screening. */
async function decodedWhole(bytes: Uint8Array) {
  return screenEntries(await decodeListInSlices(bytes));
}

/** The outcome of reading `bytes`, as a value or as the error's message. */
async function outcome(read: () => Promise<{ entries: unknown; rejections: unknown }>) {
  try {
    const { entries, rejections } = await read();
    return { entries, rejections };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

describe("CatalogReader", () => {
  it("decodes the first answer whole and nothing of the same answer again", async () => {
    const bytes = encode(Array.from({ length: 50 }, (_, index) => wireEntry(index)));
    const reader = new CatalogReader();
    const first = await reader.read(bytes);
    expect(first.decoded).toBe(50);
    expect(first.changes).toBeUndefined();
    expect({ entries: first.entries, rejections: first.rejections }).toEqual(
      await decodedWhole(bytes),
    );
    const second = await reader.read(bytes.slice());
    expect(second.decoded).toBe(0);
    // Unchanged: the same entries, the very same objects.
    expect(second.entries).toBe(first.entries);
    expect(second.changes).toEqual({ since: first.generation, changed: [], removed: [] });
  });

  it("reads new heartbeats and statuses without decoding, as refreshed entries", async () => {
    const adapters = Array.from({ length: 20 }, (_, index) => wireEntry(index));
    const reader = new CatalogReader();
    const first = await reader.read(encode(adapters));
    const later = adapters.map((entry, index) =>
      index === 3
        ? { ...entry, lastHeartbeat: 1_700_000_160 }
        : index === 5
          ? { ...entry, healthStatus: "unhealthy" }
          : entry,
    );
    const bytes = encode(later);
    const second = await reader.read(bytes);
    expect(second.decoded).toBe(0);
    expect(second.entries).toEqual((await decodedWhole(bytes)).entries);
    const diff = diffFromChanges(second.changes ?? { since: 0, changed: [], removed: [] });
    expect(diff).toEqual(diffCatalog(first.entries, second.entries));
    expect(diff.refreshed.map((entry) => entry.adapterId)).toEqual(["adapter-3", "adapter-5"]);
    // The others are the objects of the answer before.
    expect(second.entries[0]).toBe(first.entries[0]);
  });

  it("decodes a changed entry, and finds entries that moved, came and went", async () => {
    const adapters = Array.from({ length: 10 }, (_, index) => wireEntry(index));
    const reader = new CatalogReader();
    const first = await reader.read(encode(adapters));
    const later = [
      ...adapters.slice(0, 2),
      { ...(adapters[2] as WireAdapterEntry), provider: "gcs" },
      ...adapters.slice(4, 8),
      wireEntry(42),
      adapters[0] as WireAdapterEntry,
      adapters[9] as WireAdapterEntry,
      adapters[8] as WireAdapterEntry,
    ];
    const bytes = encode(later);
    const second = await reader.read(bytes);
    // The changed entry, the new one and the duplicate of adapter-0 (dropped after decoding).
    expect(second.decoded).toBe(2);
    const whole = await decodedWhole(bytes);
    expect({ entries: second.entries, rejections: second.rejections }).toEqual(whole);
    const diff = diffFromChanges(second.changes ?? { since: 0, changed: [], removed: [] });
    expect(diff).toEqual(diffCatalog(first.entries, second.entries));
    expect(diff.added.map((entry) => entry.adapterId)).toEqual(["adapter-42"]);
    expect(diff.updated.map((change) => change.after.adapterId)).toEqual(["adapter-2"]);
    expect(diff.removed.map((entry) => entry.adapterId)).toEqual(["adapter-3"]);
  });

  it("reports the same rejections every time, for unchanged entries too", async () => {
    const adapters = [
      wireEntry(1, { healthCheckUrl: "not a url" }),
      wireEntry(2, { healthStatus: "sleepy" }),
      wireEntry(3),
      wireEntry(3, { provider: "second" }),
      wireEntry(4, { adapterId: "" }),
    ];
    const reader = new CatalogReader();
    const bytes = encode(adapters);
    const first = await reader.read(bytes);
    const second = await reader.read(bytes);
    expect(second.decoded).toBe(0);
    expect(second.rejections).toEqual(first.rejections);
    expect(second.rejections.map((rejection) => rejection.kind)).toEqual([
      "bad_url",
      "repaired",
      "duplicate",
      "no_id",
    ]);
  });

  it("fails on truncated bytes and another message, and keeps comparing with the last good answer", async () => {
    const bytes = encode(Array.from({ length: 30 }, (_, index) => wireEntry(index)));
    const reader = new CatalogReader();
    await reader.read(bytes);
    await expect(reader.read(bytes.subarray(0, bytes.length - 7))).rejects.toThrow();
    await expect(
      reader.read(HealthCheckResponse.encode({ healthy: true, status: "x", message: "" }).finish()),
    ).rejects.toThrow("registry answer is not a ListResponse: field 1 (adapters) has wire type 0");
    await expect(
      reader.read(encode([wireEntry(1, { adapterId: "" }), wireEntry(2, { adapterId: " " })])),
    ).rejects.toThrow("none of its 2 entries have an adapter_id");
    const again = await reader.read(bytes);
    expect(again.decoded).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: over random catalogs and random edits, the reader gives what a full decode gives.

const arbitraryEntry: fc.Arbitrary<WireAdapterEntry> = fc.record({
  // A small pool of ids, so duplicates, ids that trim alike and missing ids occur.
  adapterId: fc.constantFrom("a", "b", "c", "d", "e", "f", " a", "b ", "", "ü-✓", "x".repeat(300)),
  project: fc.constantFrom("p", "q"),
  domain: fc.constantFrom("adapter"),
  category: fc.constantFrom("storage", "cache"),
  provider: fc.constantFrom("s3", "gcs", "y".repeat(300)),
  capabilities: fc.array(fc.constantFrom("read", "write"), { maxLength: 3 }),
  factoryPath: fc.constantFrom("", "x:Y"),
  healthCheckUrl: fc.constantFrom("", "http://h:1/x", "not a url", "grpc://h:5", "grpc://h"),
  metadata: fc.dictionary(fc.constantFrom("k1", "k2"), fc.constantFrom("v", "w", "z".repeat(1100))),
  registeredAt: fc.constantFrom(0, 1, 1_700_000_000),
  lastHeartbeat: fc.constantFrom(0, 1_700_000_000, 1_700_000_001, 2 ** 40, 2 ** 50, -1),
  healthStatus: fc.constantFrom("", "healthy", "degraded", "unhealthy", "unknown", "weird"),
});

type Edit =
  | { kind: "heartbeat"; at: number; value: number }
  | { kind: "status"; at: number; value: string }
  | { kind: "replace" | "insert"; at: number; entry: WireAdapterEntry }
  | { kind: "remove" | "duplicate"; at: number }
  | { kind: "move"; at: number; to: number };

const arbitraryEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    kind: fc.constant("heartbeat" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1_700_000_002, 2 ** 45, -7),
  }),
  fc.record({
    kind: fc.constant("status" as const),
    at: fc.nat(),
    value: fc.constantFrom("", "healthy", "unhealthy", "weird"),
  }),
  fc.record({
    kind: fc.constantFrom("replace" as const, "insert" as const),
    at: fc.nat(),
    entry: arbitraryEntry,
  }),
  fc.record({ kind: fc.constantFrom("remove" as const, "duplicate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("move" as const), at: fc.nat(), to: fc.nat() }),
);

function applyEdits(
  entries: readonly WireAdapterEntry[],
  edits: readonly Edit[],
): WireAdapterEntry[] {
  const next = [...entries];
  for (const edit of edits) {
    const at = next.length === 0 ? 0 : edit.at % next.length;
    const target = next[at];
    switch (edit.kind) {
      case "heartbeat":
        if (target) next[at] = { ...target, lastHeartbeat: edit.value };
        break;
      case "status":
        if (target) next[at] = { ...target, healthStatus: edit.value };
        break;
      case "replace":
        if (target) next[at] = edit.entry;
        break;
      case "insert":
        next.splice(at, 0, edit.entry);
        break;
      case "remove":
        next.splice(at, 1);
        break;
      case "duplicate":
        if (target) next.splice(at, 0, target);
        break;
      case "move":
        if (target) {
          next.splice(at, 1);
          next.splice(edit.to % (next.length + 1), 0, target);
        }
        break;
    }
  }
  return next;
}

describe("CatalogReader against a full decode", () => {
  it("gives the same catalog and rejections, and changes whose diff is the full diff", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryEntry, { maxLength: 12 }),
        fc.array(fc.array(arbitraryEdit, { maxLength: 5 }), { minLength: 1, maxLength: 6 }),
        async (initial, rounds) => {
          const reader = new CatalogReader();
          let answer = initial;
          let before: CatalogRead | undefined;
          for (const edits of [[], ...rounds]) {
            answer = applyEdits(answer, edits);
            const bytes = encode(answer);
            const expected = await outcome(() => decodedWhole(bytes));
            const read = await reader.read(bytes).catch((error: unknown) => error);
            if ("error" in expected) {
              expect(read).toBeInstanceOf(Error);
              expect(`${(read as Error).name}: ${(read as Error).message}`).toBe(expected.error);
              continue;
            }
            const got = read as CatalogRead;
            expect({ entries: got.entries, rejections: got.rejections }).toEqual(expected);
            if (before && got.changes) {
              expect(got.changes.since).toBe(before.generation);
              expect(diffFromChanges(got.changes)).toEqual(
                diffCatalog(before.entries, got.entries),
              );
            }
            before = got;
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it("fails as the full decode fails, or agrees with it, on damaged bytes, and the damage changes nothing", async () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant("flip" as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        value: fc.uint8Array({ minLength: 1, maxLength: 4 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryEntry, { minLength: 1, maxLength: 8 }),
        damage,
        async (entries, hurt) => {
          const good = encode(entries);
          const at = hurt.at % good.length;
          const damaged =
            hurt.kind === "truncate"
              ? good.subarray(0, at)
              : hurt.kind === "flip"
                ? Uint8Array.from(good, (byte, index) => (index === at ? hurt.value : byte))
                : Uint8Array.from([...good.subarray(0, at), ...hurt.value, ...good.subarray(at)]);
          const reader = new CatalogReader();
          const first = await outcome(() => reader.read(good));
          expect(await outcome(() => reader.read(damaged))).toEqual(
            await outcome(() => decodedWhole(damaged)),
          );
          if ("error" in first) return;
          // A good answer read again after the damaged one is read as it is.
          expect(await outcome(() => reader.read(good))).toEqual(first);
        },
      ),
      { numRuns: 500 },
    );
  }, 60_000);

  it("agrees with the full decode on arbitrary bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const reader = new CatalogReader();
        await reader.read(encode([wireEntry(1), wireEntry(2)]));
        expect(await outcome(() => reader.read(bytes))).toEqual(
          await outcome(() => decodedWhole(bytes)),
        );
      }),
      { numRuns: 500 },
    );
  }, 60_000);
});
