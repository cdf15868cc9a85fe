import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import {
  type AdapterEntry,
  checkEntry,
  ENTRY_LIMITS,
  type HealthStatus,
  healthUrlProblem,
  isHealthStatus,
  sameEntry,
} from "./adapter.js";

/** A status string the registry might send that is not one of ours. */
const foreignStatus = (value: string) => value as string as HealthStatus;

function accepted(raw: AdapterEntry) {
  const result = checkEntry(raw);
  if (!result.ok) throw new Error(`expected the entry to be accepted: ${result.reason}`);
  return result;
}

describe("isHealthStatus", () => {
  it("accepts exactly the four statuses", () => {
    for (const status of ["unknown", "healthy", "degraded", "unhealthy"]) {
      expect(isHealthStatus(status)).toBe(true);
    }
    for (const status of ["", "HEALTHY", "ok", "serving"])
      expect(isHealthStatus(status)).toBe(false);
  });
});

describe("checkEntry", () => {
  it("accepts a well-formed entry unchanged and without notes", () => {
    const raw = catalogEntry({ metadata: { region: "us-east-1" } });
    expect(checkEntry(raw)).toEqual({ ok: true, notes: [], entry: raw });
  });

  it("trims the adapter id", () => {
    expect(accepted(catalogEntry({ adapterId: "  a1\t" })).entry.adapterId).toBe("a1");
  });

  it("rejects an entry without an id, or with only whitespace", () => {
    expect(checkEntry(catalogEntry({ adapterId: "" }))).toEqual({
      ok: false,
      reason: "entry has no adapter_id",
    });
    expect(checkEntry(catalogEntry({ adapterId: "   " }))).toEqual({
      ok: false,
      reason: "entry has no adapter_id",
    });
  });

  it("rejects an id over the length limit and accepts one at it", () => {
    expect(checkEntry(catalogEntry({ adapterId: "x".repeat(ENTRY_LIMITS.idLength + 1) }))).toEqual({
      ok: false,
      reason: "adapter_id longer than 256 characters",
    });
    expect(checkEntry(catalogEntry({ adapterId: "x".repeat(ENTRY_LIMITS.idLength) })).ok).toBe(
      true,
    );
  });

  it("accepts an entry with no health URL (nothing to probe)", () => {
    expect(accepted(catalogEntry({ healthCheckUrl: "" })).entry.healthCheckUrl).toBe("");
  });

  it("rejects an unusable health URL, saying why", () => {
    expect(checkEntry(catalogEntry({ healthCheckUrl: "not a url" }))).toEqual({
      ok: false,
      reason: 'health_check_url is not a URL: "not a url"',
    });
    expect(checkEntry(catalogEntry({ healthCheckUrl: "ftp://files.internal/health" }))).toEqual({
      ok: false,
      reason: 'health_check_url has unsupported scheme "ftp:"',
    });
  });

  it("treats an unknown health_status as unknown, with a note", () => {
    const result = accepted(catalogEntry({ registryStatus: foreignStatus("on_fire") }));
    expect(result.entry.registryStatus).toBe("unknown");
    expect(result.notes).toEqual(['unknown health_status "on_fire" treated as unknown']);
  });

  it("treats an empty health_status as unknown without a note", () => {
    const result = accepted(catalogEntry({ registryStatus: foreignStatus("") }));
    expect(result.entry.registryStatus).toBe("unknown");
    expect(result.notes).toEqual([]);
  });

  it("keeps at most the metadata entry limit, noting the truncation", () => {
    const metadata = Object.fromEntries(
      Array.from({ length: ENTRY_LIMITS.metadataEntries + 5 }, (_, index) => [
        `k${index}`,
        `v${index}`,
      ]),
    );
    const result = accepted(catalogEntry({ metadata }));
    const keys = Object.keys(result.entry.metadata);
    expect(keys).toHaveLength(ENTRY_LIMITS.metadataEntries);
    expect(keys[0]).toBe("k0");
    expect(keys.at(-1)).toBe(`k${ENTRY_LIMITS.metadataEntries - 1}`);
    expect(result.notes).toEqual(["metadata truncated to 64 entries"]);
  });

  it("keeps exactly the limit without a note", () => {
    const metadata = Object.fromEntries(
      Array.from({ length: ENTRY_LIMITS.metadataEntries }, (_, index) => [`k${index}`, "v"]),
    );
    const result = accepted(catalogEntry({ metadata }));
    expect(Object.keys(result.entry.metadata)).toHaveLength(ENTRY_LIMITS.metadataEntries);
    expect(result.notes).toEqual([]);
  });

  it("drops metadata values over the length limit, keeping the rest", () => {
    const result = accepted(
      catalogEntry({
        metadata: {
          region: "eu-west-1",
          blob: "x".repeat(ENTRY_LIMITS.metadataValueLength + 1),
          edge: "y".repeat(ENTRY_LIMITS.metadataValueLength),
        },
      }),
    );
    expect(result.entry.metadata).toEqual({
      region: "eu-west-1",
      edge: "y".repeat(ENTRY_LIMITS.metadataValueLength),
    });
    expect(result.notes).toEqual(['metadata "blob" dropped: value too long']);
  });

  it("drops metadata keys over the field length limit, naming them by their start only", () => {
    // Found by the catalog screening property: a 257-character key was kept.
    const longKey = "k".repeat(ENTRY_LIMITS.fieldLength + 1);
    const edgeKey = "e".repeat(ENTRY_LIMITS.fieldLength);
    const result = accepted(catalogEntry({ metadata: { [longKey]: "v", [edgeKey]: "w" } }));
    expect(result.entry.metadata).toEqual({ [edgeKey]: "w" });
    expect(result.notes).toEqual([`metadata "${"k".repeat(40)}…" dropped: key too long`]);
    const again = checkEntry(result.entry);
    expect(again).toEqual({ ok: true, entry: result.entry, notes: [] });
  });

  it("clips long descriptive fields and capabilities", () => {
    const long = "p".repeat(ENTRY_LIMITS.fieldLength + 10);
    const result = accepted(
      catalogEntry({
        project: long,
        provider: long,
        factoryPath: long,
        capabilities: ["ok", long],
      }),
    );
    expect(result.entry.project).toHaveLength(ENTRY_LIMITS.fieldLength);
    expect(result.entry.provider).toHaveLength(ENTRY_LIMITS.fieldLength);
    expect(result.entry.factoryPath).toHaveLength(ENTRY_LIMITS.fieldLength);
    expect(result.entry.capabilities).toEqual(["ok", "p".repeat(ENTRY_LIMITS.fieldLength)]);
  });

  it("does not modify the raw entry", () => {
    const raw = catalogEntry({ adapterId: " a1 ", registryStatus: foreignStatus("weird") });
    const copy = structuredClone(raw);
    checkEntry(raw);
    expect(raw).toEqual(copy);
  });
});

describe("healthUrlProblem", () => {
  it.each([
    "http://127.0.0.1:8080/health",
    "https://adapter.internal/healthz",
    "HTTP://ADAPTER.INTERNAL/health",
    "http://[::1]:8080/health",
    "grpc://adapter.internal:50051",
    "grpc://adapter.internal:50051/mahavishnu.Storage",
    "grpcs://adapter.internal:443/svc",
  ])("accepts %s", (url) => {
    expect(healthUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ["not a url", 'is not a URL: "not a url"'],
    ["http://", 'is not a URL: "http://"'],
    ["/health", 'is not a URL: "/health"'],
    ["ftp://files.internal/health", 'has unsupported scheme "ftp:"'],
    ["file:///etc/passwd", 'has unsupported scheme "file:"'],
    ["javascript:alert(1)", 'has unsupported scheme "javascript:"'],
    ["grpc:///svc", "has no host"],
  ])("rejects %s: %s", (url, problem) => {
    expect(healthUrlProblem(url)).toBe(problem);
  });

  it("rejects a URL over the length limit and accepts one at it", () => {
    const base = "http://h.internal/";
    const atLimit = `${base}${"a".repeat(ENTRY_LIMITS.urlLength - base.length)}`;
    expect(healthUrlProblem(atLimit)).toBeUndefined();
    expect(healthUrlProblem(`${atLimit}a`)).toBe("is too long");
  });

  it("quotes at most 80 characters of a bad URL", () => {
    const bad = `::${"z".repeat(200)}`;
    expect(healthUrlProblem(bad)).toBe(`is not a URL: ${JSON.stringify(bad.slice(0, 80))}`);
  });
});

describe("sameEntry", () => {
  it("ignores only the live readings: heartbeat and registry status", () => {
    expect(sameEntry(catalogEntry(), catalogEntry({ lastHeartbeat: 1 }))).toBe(true);
    expect(sameEntry(catalogEntry(), catalogEntry({ registryStatus: "degraded" }))).toBe(true);
    expect(sameEntry(catalogEntry(), catalogEntry({ factoryPath: "other:Factory" }))).toBe(false);
    expect(sameEntry(catalogEntry(), catalogEntry({ capabilities: ["write", "read"] }))).toBe(
      false,
    );
    expect(
      sameEntry(
        catalogEntry({ metadata: { region: "us-east-1" } }),
        catalogEntry({ metadata: { region: "eu-west-1" } }),
      ),
    ).toBe(false);
    expect(sameEntry(catalogEntry(), catalogEntry({ healthCheckUrl: "" }))).toBe(false);
  });

  it("does not depend on metadata key order (protobuf map order is undefined)", () => {
    expect(
      sameEntry(
        catalogEntry({ metadata: { a: "1", b: "2" } }),
        catalogEntry({ metadata: { b: "2", a: "1" } }),
      ),
    ).toBe(true);
  });

  it("tells capability lists apart even when their joined text is equal", () => {
    expect(
      sameEntry(
        catalogEntry({ capabilities: ["a\u0000b"] }),
        catalogEntry({ capabilities: ["a", "b"] }),
      ),
    ).toBe(false);
  });
});
