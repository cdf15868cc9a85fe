import { describe, expect, it } from "vitest";
import { type AdapterEntry, type HealthStatus, sameEntry } from "./adapter.js";
import { changedFields, diffCatalog, isSuspectShrink, screenEntries } from "./catalog.js";

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
    metadata: { region: "us-east-1" },
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_100,
    registryStatus: "healthy",
    ...overrides,
  };
}

describe("screenEntries", () => {
  it("passes good entries through in order with no rejections", () => {
    const raw = [entry("a"), entry("b"), entry("c")];
    expect(screenEntries(raw)).toEqual({ entries: raw, rejections: [] });
  });

  it("drops malformed entries and reports each with a kind", () => {
    const { entries, rejections } = screenEntries([
      entry(""),
      entry("bad-url", { healthCheckUrl: "not a url" }),
      entry("ftp", { healthCheckUrl: "ftp://files.internal/health" }),
      entry("x".repeat(300)),
      entry("good"),
    ]);
    expect(entries.map((kept) => kept.adapterId)).toEqual(["good"]);
    expect(rejections).toEqual([
      { adapterId: "", reason: "entry has no adapter_id", kind: "no_id" },
      {
        adapterId: "bad-url",
        reason: 'health_check_url is not a URL: "not a url"',
        kind: "bad_url",
      },
      {
        adapterId: "ftp",
        reason: 'health_check_url has unsupported scheme "ftp:"',
        kind: "bad_url",
      },
      {
        adapterId: "x".repeat(300),
        reason: "adapter_id longer than 256 characters",
        kind: "too_long",
      },
    ]);
  });

  it("keeps the first of duplicate ids (after trimming) and reports the rest", () => {
    const first = entry("dup", { provider: "first" });
    const { entries, rejections } = screenEntries([
      first,
      entry(" dup ", { provider: "second" }),
      entry("dup", { provider: "third" }),
    ]);
    expect(entries).toEqual([first]);
    expect(rejections).toEqual([
      {
        adapterId: "dup",
        reason: "duplicate adapter_id; the first entry is kept",
        kind: "duplicate",
      },
      {
        adapterId: "dup",
        reason: "duplicate adapter_id; the first entry is kept",
        kind: "duplicate",
      },
    ]);
  });

  it("does not let a rejected entry claim an id", () => {
    const { entries, rejections } = screenEntries([
      entry("a1", { healthCheckUrl: "mailto:ops@example.com" }),
      entry("a1"),
    ]);
    expect(entries.map((kept) => kept.adapterId)).toEqual(["a1"]);
    expect(rejections.map((rejection) => rejection.kind)).toEqual(["bad_url"]);
  });

  it("keeps repairable entries, repaired, and reports each repair", () => {
    const { entries, rejections } = screenEntries([
      entry("odd", {
        registryStatus: "on_fire" as string as HealthStatus,
        metadata: { region: "eu", huge: "z".repeat(5000) },
      }),
    ]);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.registryStatus).toBe("unknown");
    expect(entries[0]?.metadata).toEqual({ region: "eu" });
    expect(rejections).toEqual([
      {
        adapterId: "odd",
        reason: 'unknown health_status "on_fire" treated as unknown',
        kind: "repaired",
      },
      { adapterId: "odd", reason: 'metadata "huge" dropped: value too long', kind: "repaired" },
    ]);
  });

  it("trims metadata beyond 64 entries", () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 100 }, (_, index) => [`k${index}`, "v"]),
    );
    const { entries, rejections } = screenEntries([entry("big", { metadata })]);
    expect(Object.keys(entries[0]?.metadata ?? {})).toHaveLength(64);
    expect(rejections).toEqual([
      { adapterId: "big", reason: "metadata truncated to 64 entries", kind: "repaired" },
    ]);
  });
});

describe("diffCatalog", () => {
  it("finds added, updated and removed entries", () => {
    const current = [entry("keep"), entry("change"), entry("gone")];
    const changed = entry("change", { factoryPath: "pkg.other:Factory" });
    const incoming = [entry("keep"), changed, entry("new")];
    expect(diffCatalog(current, incoming)).toEqual({
      added: [entry("new")],
      updated: [{ before: entry("change"), after: changed }],
      removed: [entry("gone")],
      refreshed: [],
    });
  });

  it("reports an entry whose only change is the registry's status as refreshed, not updated", () => {
    const degraded = entry("a", { registryStatus: "degraded" });
    expect(diffCatalog([entry("a")], [degraded])).toMatchObject({
      updated: [],
      refreshed: [degraded],
    });
  });

  it("reports an entry whose only change is a newer heartbeat as refreshed, not updated", () => {
    const newer = entry("a", { lastHeartbeat: 1_700_000_200 });
    expect(diffCatalog([entry("a")], [newer])).toEqual({
      added: [],
      updated: [],
      removed: [],
      refreshed: [newer],
    });
  });

  it("reports a heartbeat plus another change as updated only", () => {
    const after = entry("a", { lastHeartbeat: 1_700_000_200, provider: "minio" });
    const diff = diffCatalog([entry("a")], [after]);
    expect(diff.updated).toEqual([{ before: entry("a"), after }]);
    expect(diff.refreshed).toEqual([]);
  });

  it("reports nothing for an identical catalog", () => {
    const catalog = [entry("a"), entry("b")];
    expect(
      diffCatalog(
        catalog,
        catalog.map((item) => ({ ...item })),
      ),
    ).toEqual({
      added: [],
      updated: [],
      removed: [],
      refreshed: [],
    });
  });

  it("does not treat reordered metadata keys as an update", () => {
    const before = entry("a", { metadata: { region: "eu", zone: "b" } });
    const after = entry("a", { metadata: { zone: "b", region: "eu" } });
    expect(diffCatalog([before], [after]).updated).toEqual([]);
  });

  it("handles empty catalogs on either side", () => {
    const catalog = [entry("a"), entry("b")];
    expect(diffCatalog([], catalog).added).toEqual(catalog);
    expect(diffCatalog(catalog, []).removed).toEqual(catalog);
  });
});

describe("isSuspectShrink", () => {
  it.each([
    [0, 0, false],
    [1, 1, false],
    [2, 1, false],
    [2, 2, true],
    [3, 1, false],
    [3, 2, true],
    [4, 2, false],
    [4, 3, true],
    [10, 5, false],
    [10, 6, true],
    [10, 10, true],
  ])("catalog of %i losing %i: %s", (size, removed, suspect) => {
    expect(isSuspectShrink(size, removed)).toBe(suspect);
  });
});

describe("changedFields", () => {
  it("names each changed field", () => {
    const before = entry("a");
    const after = entry("a", {
      provider: "minio",
      capabilities: ["read"],
      metadata: { region: "eu-west-1" },
      registryStatus: "unhealthy",
    });
    // The registry's status is a live reading, not part of the description.
    expect(changedFields(before, after)).toEqual(["provider", "capabilities", "metadata"]);
  });

  it("ignores the heartbeat and metadata key order", () => {
    const before = entry("a", { metadata: { a: "1", b: "2" } });
    const after = entry("a", { metadata: { b: "2", a: "1" }, lastHeartbeat: 9 });
    expect(changedFields(before, after)).toEqual([]);
  });

  it("counts a capability reorder as a change", () => {
    expect(changedFields(entry("a"), entry("a", { capabilities: ["write", "read"] }))).toEqual([
      "capabilities",
    ]);
  });

  // A small exhaustive stand-in for a property test: for every single-field change,
  // diffCatalog's updated/refreshed decision and changedFields agree.
  const variations: Partial<AdapterEntry>[] = [
    { project: "other" },
    { domain: "other" },
    { category: "other" },
    { provider: "other" },
    { capabilities: [] },
    { capabilities: ["read", "write", "admin"] },
    { capabilities: ["read\u0000write"] },
    { factoryPath: "other:Factory" },
    { healthCheckUrl: "" },
    { healthCheckUrl: "grpc://127.0.0.1:50051/svc" },
    { metadata: {} },
    { metadata: { region: "us-east-1", extra: "" } },
    { metadata: { region: "" } },
    { registeredAt: 0 },
    { registryStatus: "unknown" },
    { lastHeartbeat: 0 },
    {},
  ];
  it.each(variations)("agrees with sameEntry and diffCatalog for %o", (variation) => {
    const before = entry("a");
    const after = entry("a", variation);
    const fields = changedFields(before, after);
    const onlyHeartbeat =
      Object.keys(variation).length === 1 &&
      (variation.lastHeartbeat !== undefined || variation.registryStatus !== undefined);
    expect(fields.length === 0).toBe(sameEntry(before, after));
    expect(fields.length === 0).toBe(onlyHeartbeat || Object.keys(variation).length === 0);
    const diff = diffCatalog([before], [after]);
    expect(diff.updated.length).toBe(fields.length > 0 ? 1 : 0);
    expect(diff.refreshed.length).toBe(onlyHeartbeat ? 1 : 0);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
  });
});
