import { describe, expect, it } from "vitest";
import type { UptimeEntry } from "../api/history-queries.js";
import { formatUptimeTable } from "./uptime-format.js";

function adapter(id: string, overrides: Partial<UptimeEntry>): UptimeEntry {
  return {
    adapter_id: id,
    domain: "adapter",
    category: "storage",
    provider: id.split(".").pop() ?? "",
    uptime_percent: 100,
    up_s: 86_400,
    down_s: 0,
    maintenance_s: 0,
    unknown_s: 0,
    coverage_percent: 100,
    ...overrides,
  };
}

describe("uptime as a table", () => {
  it("lists the worst first, those with nothing seen last", () => {
    const text = formatUptimeTable({
      window: "24h",
      from: "2026-12-01T03:00:00.000Z",
      until: "2026-12-02T03:00:00.000Z",
      adapters: [
        adapter("m.adapter.storage.s3", {}),
        adapter("m.adapter.storage.new", {
          uptime_percent: null,
          coverage_percent: 0,
          up_s: 0,
          unknown_s: 86_400,
        }),
        adapter("m.adapter.storage.gcs", {
          uptime_percent: 99.9994,
          down_s: 0.5,
          coverage_percent: 99.5,
        }),
        adapter("m.adapter.storage.file", {
          uptime_percent: 93.75,
          down_s: 5400,
          maintenance_s: 3600,
          unknown_s: 65,
        }),
      ],
    });
    expect(text).toBe(
      [
        "uptime over 24h: 2026-12-01T03:00:00.000Z to 2026-12-02T03:00:00.000Z",
        "ADAPTER                 UPTIME    DOWN  MAINTENANCE  UNKNOWN  COVERAGE",
        "m.adapter.storage.file  93.75%  1h 30m           1h    1m 5s      100%",
        "m.adapter.storage.gcs   99.99%      1s           0s       0s    99.50%",
        "m.adapter.storage.s3      100%      0s           0s       0s      100%",
        "m.adapter.storage.new        -      0s           0s       1d     0.00%",
        "",
      ].join("\n"),
    );
  });
});
