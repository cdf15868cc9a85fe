import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AdapterEntry,
  checkEntry,
  ENTRY_LIMITS,
  HEALTH_STATUSES,
  healthUrlProblem,
} from "../../../src/domain/adapter.js";
import { screenEntries } from "../../../src/domain/catalog.js";
import { AdapterEntry as WireAdapterEntry } from "../../../src/gen/oneiric/registry/v1/registry.js";
import { fromWireEntry } from "../../../src/registry/registry-client.js";

/**
 * The catalog screening a registry answer goes through (`screenEntries`), fed
 * random entries that have crossed the wire: any field may be missing (proto3
 * then reads its default), ids padded, empty or oversized, URLs of every shape,
 * unknown statuses, metadata too big, and duplicates.
 */

/** A long string made cheaply: a short random piece repeated to a length in [min, max]. */
function longString(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min, max }))
    .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length));
}

const idArbitrary = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom("p", "q", "mahavishnu"),
        fc.constantFrom("storage", "cache"),
        fc.stringMatching(/^[a-z0-9]{1,6}$/),
      )
      .map(([project, category, provider]) => `${project}.adapter.${category}.${provider}`),
  },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\t\n", "  p.adapter.cache.redis  ") },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: longString(250, 270) },
);

const urlArbitrary = fc.oneof(
  fc.constant(""),
  fc.webUrl(),
  fc.constantFrom(
    "http://127.0.0.1:9000/health",
    "https://svc.internal/healthz",
    "grpc://10.0.0.5:50051",
    "grpc://10.0.0.5",
    "grpcs://svc:443",
    "ftp://files.example/health",
    "file:///etc/passwd",
    "http://",
    "not a url",
    "javascript:alert(1)",
    "http://[::1]:8080/h",
  ),
  fc.string({ maxLength: 40 }),
  longString(2040, 2100).map((tail) => `http://h/${tail}`),
);

const statusArbitrary = fc.oneof(
  fc.constantFrom(...HEALTH_STATUSES),
  fc.constantFrom("", "HEALTHY", "ok", "dead"),
  fc.string({ maxLength: 10 }),
);

const metadataArbitrary = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 })),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), longString(250, 300)),
      fc.oneof(fc.string({ maxLength: 4 }), longString(1020, 1030)),
      { minKeys: 60, maxKeys: 70 },
    ),
  },
);

const fieldArbitrary = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: longString(250, 300) },
);

/** A registry entry as sent, any of its fields left out. */
const wireEntryArbitrary = fc.record(
  {
    adapterId: idArbitrary,
    project: fieldArbitrary,
    domain: fieldArbitrary,
    category: fieldArbitrary,
    provider: fieldArbitrary,
    capabilities: fc.array(fieldArbitrary, { maxLength: 4 }),
    factoryPath: fieldArbitrary,
    healthCheckUrl: urlArbitrary,
    metadata: metadataArbitrary,
    registeredAt: fc.integer({ min: 0, max: 2_000_000_000 }),
    lastHeartbeat: fc.integer({ min: 0, max: 2_000_000_000 }),
    healthStatus: statusArbitrary,
  },
  { requiredKeys: [] },
);

/** Encodes and decodes each entry, as the registry client receives it. */
function throughTheWire(partials: readonly Partial<WireAdapterEntry>[]): AdapterEntry[] {
  return partials.map((partial) =>
    fromWireEntry(
      WireAdapterEntry.decode(
        WireAdapterEntry.encode(WireAdapterEntry.fromPartial(partial)).finish(),
      ),
    ),
  );
}

/** An answer of several entries, some of them sharing an id. */
const answerArbitrary = fc
  .array(wireEntryArbitrary, { maxLength: 30 })
  .chain((entries) =>
    fc
      .array(fc.nat({ max: Math.max(0, entries.length - 1) }), {
        maxLength: entries.length > 0 ? 5 : 0,
      })
      .map((copies) => [
        ...entries,
        ...copies.map((index) => ({ ...entries[index], provider: "copy" })),
      ]),
  )
  .map(throughTheWire);

/** Reasons name the field they are about. */
const NAMES_A_FIELD = /adapter_id|health_check_url|health_status|metadata/;

const MAX_REASON_LENGTH = 200;

const byId = (a: AdapterEntry, b: AdapterEntry) =>
  a.adapterId < b.adapterId ? -1 : a.adapterId > b.adapterId ? 1 : 0;

const RUNS = 300;

describe("screenEntries over random registry answers", () => {
  it("keeps only valid, unique entries and accounts for every one it drops, by field", () => {
    fc.assert(
      fc.property(answerArbitrary, (raw) => {
        const { entries, rejections } = screenEntries(raw);

        const ids = entries.map((entry) => entry.adapterId);
        expect(new Set(ids).size).toBe(ids.length);
        for (const entry of entries) {
          expect(entry.adapterId).toBe(entry.adapterId.trim());
          expect(entry.adapterId.length).toBeGreaterThan(0);
          expect(entry.adapterId.length).toBeLessThanOrEqual(ENTRY_LIMITS.idLength);
          if (entry.healthCheckUrl !== "") {
            expect(healthUrlProblem(entry.healthCheckUrl)).toBeUndefined();
          }
          expect(HEALTH_STATUSES).toContain(entry.registryStatus);
          const metadata = Object.entries(entry.metadata);
          expect(metadata.length).toBeLessThanOrEqual(ENTRY_LIMITS.metadataEntries);
          for (const [key, value] of metadata) {
            expect(key.length).toBeLessThanOrEqual(ENTRY_LIMITS.fieldLength);
            expect(value.length).toBeLessThanOrEqual(ENTRY_LIMITS.metadataValueLength);
          }
          for (const field of [
            entry.project,
            entry.domain,
            entry.category,
            entry.provider,
            entry.factoryPath,
            ...entry.capabilities,
          ]) {
            expect(field.length).toBeLessThanOrEqual(ENTRY_LIMITS.fieldLength);
          }
          // Valid means the check itself has nothing more to say about it.
          expect(checkEntry(entry)).toEqual({ ok: true, entry, notes: [] });
        }

        for (const rejection of rejections) {
          expect(rejection.reason).toMatch(NAMES_A_FIELD);
          // Reasons are logged: one bad entry must not write a huge line.
          expect(rejection.reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
        }
        const dropped = rejections.filter((rejection) => rejection.kind !== "repaired");
        expect(entries.length + dropped.length).toBe(raw.length);
        for (const rejection of rejections) {
          if (rejection.kind === "bad_url") expect(rejection.reason).toMatch(/^health_check_url /);
          if (
            rejection.kind === "no_id" ||
            rejection.kind === "too_long" ||
            rejection.kind === "duplicate"
          ) {
            expect(rejection.reason).toMatch(/adapter_id/);
          }
        }

        // The first usable entry of each id is the one kept.
        const firstUsable = new Map<string, AdapterEntry>();
        for (const candidate of raw) {
          const checked = checkEntry(candidate);
          if (checked.ok && !firstUsable.has(checked.entry.adapterId)) {
            firstUsable.set(checked.entry.adapterId, checked.entry);
          }
        }
        expect([...entries].sort(byId)).toEqual([...firstUsable.values()].sort(byId));
      }),
      { numRuns: RUNS },
    );
  });

  it("is idempotent: a screened catalog screens to itself with nothing to report", () => {
    fc.assert(
      fc.property(answerArbitrary, (raw) => {
        const once = screenEntries(raw).entries;
        const twice = screenEntries(once);
        expect(twice.entries).toEqual(once);
        expect(twice.rejections).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it("gives the same catalog and the same reports whatever the order, for distinct ids", () => {
    const distinct = fc
      .uniqueArray(wireEntryArbitrary, {
        maxLength: 30,
        selector: (entry) => (entry.adapterId ?? "").trim(),
      })
      .map(throughTheWire);
    fc.assert(
      fc.property(
        distinct.chain((raw) =>
          fc.tuple(fc.constant(raw), fc.shuffledSubarray(raw, { minLength: raw.length })),
        ),
        ([raw, shuffled]) => {
          const a = screenEntries(raw);
          const b = screenEntries(shuffled);
          expect([...b.entries].sort(byId)).toEqual([...a.entries].sort(byId));
          const key = (r: { adapterId: string; reason: string }) =>
            `${r.adapterId}\u0000${r.reason}`;
          expect(b.rejections.map(key).sort()).toEqual(a.rejections.map(key).sort());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("never throws, whatever the strings", () => {
    const anything = fc
      .array(
        fc.record(
          {
            adapterId: fc.string({ unit: "binary" }),
            healthCheckUrl: fc.string({ unit: "binary" }),
            healthStatus: fc.string({ unit: "binary" }),
            metadata: fc.dictionary(fc.string({ unit: "binary" }), fc.string({ unit: "binary" })),
            capabilities: fc.array(fc.string({ unit: "binary" })),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 20 },
      )
      .map(throughTheWire);
    fc.assert(
      fc.property(anything, (raw) => {
        const { entries, rejections } = screenEntries(raw);
        expect(entries.length + rejections.filter((r) => r.kind !== "repaired").length).toBe(
          raw.length,
        );
      }),
      { numRuns: RUNS },
    );
  });
});
