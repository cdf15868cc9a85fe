import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import {
  ListResponse,
  AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";
import { ListResponseScanner } from "./list-response-scan.js";

function wireEntry(index: number, fields: Partial<WireAdapterEntry> = {}): WireAdapterEntry {
  return {
    adapterId: `adapter-${index}`,
    project: "mahavishnu",
    domain: "adapter",
    category: "storage",
    provider: "s3",
    capabilities: ["read", "write"],
    factoryPath: "x:Y",
    healthCheckUrl: `http://127.0.0.1:9000/${index}/health`,
    metadata: { region: "eu", tier: "gold" },
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_100 + index,
    healthStatus: "healthy",
    ...fields,
  };
}

interface Scanned {
  bytes: Uint8Array;
  id: string;
  split: boolean;
  describedLength: number;
  digest: [number, number];
  heartbeat: number;
  status: number;
}

/** Every entry of an encoded ListResponse as the scanner sees it. */
function scanAll(bytes: Uint8Array): Scanned[] {
  const scanner = new ListResponseScanner(bytes);
  const found: Scanned[] = [];
  for (let step = scanner.nextEntry(); step === 1; step = scanner.nextEntry()) {
    expect(scanner.scanEntry()).toBe(true);
    found.push({
      bytes: scanner.entryBytes(),
      id: scanner.entryId(),
      split: scanner.split,
      describedLength: scanner.describedLength,
      digest: [scanner.digestLow, scanner.digestHigh],
      heartbeat: scanner.heartbeat,
      status: scanner.status,
    });
  }
  expect(scanner.atEnd).toBe(true);
  return found;
}

function scanOne(entry: WireAdapterEntry): Scanned {
  const [scanned] = scanAll(ListResponse.encode({ adapters: [entry] }).finish());
  if (!scanned) throw new Error("no entry scanned");
  return scanned;
}

describe("ListResponseScanner over answers the generated encoder wrote", () => {
  it("finds every entry's bytes and id, and reads its live readings in place", () => {
    const adapters = [
      wireEntry(0),
      wireEntry(1, { healthStatus: "degraded", metadata: {} }),
      wireEntry(2, { healthStatus: "", lastHeartbeat: 0 }),
      wireEntry(3, { adapterId: "ünïcode-✓", healthStatus: "unhealthy" }),
      wireEntry(4, { healthStatus: "unknown" }),
    ];
    const scanned = scanAll(ListResponse.encode({ adapters }).finish());
    expect(scanned.map((entry) => WireAdapterEntry.decode(entry.bytes))).toEqual(adapters);
    expect(scanned.map((entry) => entry.id)).toEqual(adapters.map((entry) => entry.adapterId));
    expect(scanned.map((entry) => entry.split)).toEqual([true, true, true, true, true]);
    expect(scanned.map((entry) => entry.heartbeat)).toEqual([
      1_700_000_100, 1_700_000_101, 0, 1_700_000_103, 1_700_000_104,
    ]);
    // Codes index STATUS_CODES: "" 0, unknown 1, healthy 2, degraded 3, unhealthy 4.
    expect(scanned.map((entry) => entry.status)).toEqual([2, 3, 0, 4, 1]);
  });

  it("gives entries that differ only in their live readings the same digest", () => {
    const base = scanOne(wireEntry(7));
    for (const readings of [
      { lastHeartbeat: 1_800_000_000 },
      { healthStatus: "unhealthy" },
      { lastHeartbeat: 0, healthStatus: "" },
    ]) {
      const other = scanOne(wireEntry(7, readings));
      expect(other.digest).toEqual(base.digest);
      expect(other.describedLength).toBe(base.describedLength);
    }
  });

  it("gives a different digest when any described field differs", () => {
    const base = scanOne(wireEntry(7));
    const variants: Partial<WireAdapterEntry>[] = [
      { adapterId: "adapter-7b" },
      { project: "other" },
      { domain: "other" },
      { category: "cache" },
      { provider: "gcs" },
      { capabilities: ["write", "read"] },
      { capabilities: ["read"] },
      { factoryPath: "x:Z" },
      { healthCheckUrl: "http://127.0.0.1:9001/7/health" },
      { metadata: { region: "us", tier: "gold" } },
      { metadata: { region: "eu" } },
      { registeredAt: 1_700_000_001 },
    ];
    const digests = new Set([base.digest.join(":")]);
    for (const fields of variants) {
      const digest = scanOne(wireEntry(7, fields)).digest.join(":");
      expect(digests.has(digest)).toBe(false);
      digests.add(digest);
    }
  });

  it("recognises an entry by its digest and reads the new readings, walking no field", () => {
    const before = scanOne(wireEntry(3));
    const now = ListResponse.encode({
      adapters: [wireEntry(3, { lastHeartbeat: 1_900_000_000, healthStatus: "degraded" })],
    }).finish();
    const scanner = new ListResponseScanner(now);
    expect(scanner.nextEntry()).toBe(1);
    expect(scanner.matches(true, before.describedLength, ...before.digest)).toBe(true);
    expect(scanner.heartbeat).toBe(1_900_000_000);
    expect(scanner.status).toBe(3);
    // A described change is not recognised.
    const changed = new ListResponseScanner(
      ListResponse.encode({ adapters: [wireEntry(3, { provider: "gcs" })] }).finish(),
    );
    changed.nextEntry();
    expect(changed.matches(true, before.describedLength, ...before.digest)).toBe(false);
  });

  it("digests an entry whole when its readings are not a plain tail", () => {
    const unknownStatus = scanOne(wireEntry(1, { healthStatus: "maintenance" }));
    expect(unknownStatus.split).toBe(false);
    expect(unknownStatus.describedLength).toBe(unknownStatus.bytes.length);
    // The heartbeat before the id: fields out of number order.
    const reordered = new BinaryWriter().uint32(88).int64(1_700_000_000).uint32(10).string("a");
    const outOfOrder = ListResponse.encode({ adapters: [] })
      .uint32(10)
      .bytes(reordered.finish())
      .finish();
    const [scanned] = scanAll(outOfOrder);
    expect(scanned?.split).toBe(false);
    expect(scanned?.id).toBe("a");
    // A negative heartbeat is a 10-byte varint: left to the decoder.
    expect(scanOne(wireEntry(1, { lastHeartbeat: -5 })).split).toBe(false);
    // Whole and split digests never match each other.
    const whole = scanOne(wireEntry(1, { healthStatus: "maintenance" }));
    const split = scanOne(wireEntry(1));
    expect(whole.digest).not.toEqual(split.digest);
  });

  it("skips unknown fields of the list and of an entry", () => {
    const entry = WireAdapterEntry.encode(wireEntry(1))
      .uint32((30 << 3) | 0)
      .int32(5)
      .uint32((31 << 3) | 5)
      .fixed32(9)
      .finish();
    const bytes = new BinaryWriter()
      .uint32((20 << 3) | 1)
      .fixed64(1)
      .uint32(10)
      .bytes(entry)
      .uint32((21 << 3) | 2)
      .string("later")
      .finish();
    const [scanned] = scanAll(bytes);
    expect(scanned?.id).toBe("adapter-1");
    // The unknown fields come after the readings, so the readings are not the tail.
    expect(scanned?.split).toBe(false);
  });

  it("gives up on what the generated decoder would read in a surprising way", () => {
    const good = ListResponse.encode({ adapters: [wireEntry(1), wireEntry(2)] }).finish();
    const nextOf = (bytes: Uint8Array) => new ListResponseScanner(bytes).nextEntry();
    const scanOf = (entry: Uint8Array) => {
      const scanner = new ListResponseScanner(new BinaryWriter().uint32(10).bytes(entry).finish());
      expect(scanner.nextEntry()).toBe(1);
      return scanner.scanEntry();
    };
    // Truncated: the last entry runs past the end.
    const truncated = new ListResponseScanner(good.subarray(0, good.length - 5));
    expect(truncated.nextEntry()).toBe(1);
    expect(truncated.nextEntry()).toBe(-1);
    // Field 1 of the list as a varint (a HealthCheckResponse), and field 0.
    expect(nextOf(new BinaryWriter().uint32(8).bool(true).finish())).toBe(-1);
    expect(nextOf(new Uint8Array([0, 0]))).toBe(-1);
    // A group inside an entry, a stray end-group, field 0 inside an entry.
    expect(
      scanOf(
        new BinaryWriter()
          .uint32(10)
          .string("a")
          .uint32((23 << 3) | 3)
          .uint32((23 << 3) | 4)
          .finish(),
      ),
    ).toBe(false);
    expect(scanOf(new BinaryWriter().uint32((9 << 3) | 4).finish())).toBe(false);
    expect(scanOf(new Uint8Array([0]))).toBe(false);
    // A metadata entry holding a group: the map decoder would stop inside it.
    const badMap = new BinaryWriter()
      .uint32((1 << 3) | 3)
      .uint32((1 << 3) | 4)
      .finish();
    expect(scanOf(new BinaryWriter().uint32(74).bytes(badMap).finish())).toBe(false);
    // A string longer than its entry.
    expect(scanOf(new Uint8Array([10, 50, 97]))).toBe(false);
  });
});
