import { describe, expect, it } from "vitest";
import { statusView } from "../../test/support/status-view.js";
import { formatStatusTable } from "./format.js";

const NOW = Date.parse("2026-12-02T08:00:00.000Z");

const view = statusView;

describe("formatStatusTable", () => {
  it("has an OWNER column on a cluster member's listing", () => {
    const table = formatStatusTable(
      {
        adapters: [view("p.a", { owner: "healthd-a", age_ms: 5_000 }), view("p.b")],
        registry: null,
      },
      NOW,
    );
    const lines = table.split("\n");
    const at = lines.findIndex((line) => line.startsWith("ADAPTER"));
    const [header, first, second] = lines.slice(at);
    expect(header).toMatch(/BREAKER\s+OWNER\s+REASON/);
    expect(first).toMatch(/closed\s+healthd-a\s+HTTP 200/);
    expect(second).toMatch(/closed\s+-\s+HTTP 200/);
  });

  it("has none on a lone daemon's", () => {
    const table = formatStatusTable({ adapters: [view("p.a")], registry: null }, NOW);
    expect(table).toContain("ADAPTER");
    expect(table).not.toContain("OWNER");
  });
});
