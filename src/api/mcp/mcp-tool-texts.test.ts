import { describe, expect, it } from "vitest";
import type { UptimeEntry } from "../history-queries.js";
import { uptimeText } from "./mcp-tool-texts.js";

function entry(id: string, overrides: Partial<UptimeEntry> = {}): UptimeEntry {
  return {
    adapter_id: id,
    domain: "adapter",
    category: "storage",
    provider: id.split(".").pop() ?? "",
    uptime_percent: 100,
    up_s: 604_800,
    down_s: 0,
    maintenance_s: 0,
    unknown_s: 0,
    coverage_percent: 100,
    ...overrides,
  };
}

const WINDOW = {
  window: "7d",
  from: "2026-11-25T03:00:00.000Z",
  until: "2026-12-02T03:10:00.000Z",
} as const;

describe("uptime's text content", () => {
  it("says what the figures mean, then one line an adapter, worst first, no data last", () => {
    const lines = uptimeText({
      ...WINDOW,
      adapters: [
        entry("m.adapter.storage.gcs"),
        entry("m.adapter.storage.new", { uptime_percent: null, coverage_percent: 0, up_s: 0 }),
        entry("m.adapter.storage.s3", {
          uptime_percent: 99.9899,
          down_s: 61,
          maintenance_s: 3600,
          coverage_percent: 98.8,
        }),
        entry("m.adapter.storage.idle", {
          uptime_percent: null,
          coverage_percent: null,
          up_s: 0,
          maintenance_s: 604_800,
        }),
      ],
    }).split("\n");
    expect(lines[0]).toMatch(
      /^uptime over 7d \(2026-11-25T03:00:00.000Z to 2026-12-02T03:10:00.000Z\) of 4 adapter\(s\), worst first: /,
    );
    expect(lines[0]).toContain("maintenance and unknown time");
    expect(lines[0]).toContain("left out");
    expect(lines.slice(1)).toEqual([
      "- m.adapter.storage.s3: 99.98% up over 7d (down 1m 1s, maintenance 1h, 98.80% seen)",
      "- m.adapter.storage.gcs: 100% up over 7d (down 0s, 100% seen)",
      "- m.adapter.storage.idle: no data over 7d (maintenance 7d)",
      "- m.adapter.storage.new: no data over 7d",
    ]);
  });

  it("lists at most 50 adapters and says how many more", () => {
    const adapters = Array.from({ length: 120 }, (_, index) =>
      entry(`m.adapter.storage.p${String(index).padStart(3, "0")}`, {
        uptime_percent: 50 + index / 10,
      }),
    );
    const lines = uptimeText({ ...WINDOW, adapters }).split("\n");
    expect(lines).toHaveLength(1 + 50 + 1);
    expect(lines[1]).toMatch(/^- m\.adapter\.storage\.p000: 50\.00% up/);
    expect(lines.at(-1)).toBe("- … and 70 more");
  });

  it("says when no adapter matches", () => {
    const lines = uptimeText({ ...WINDOW, adapters: [] }).split("\n");
    expect(lines[0]).toContain(" of 0 adapter(s), ");
    expect(lines.slice(1)).toEqual(["no adapters match"]);
  });
});
