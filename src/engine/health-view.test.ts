import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { initialHealth } from "../domain/health.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../domain/status-view.js";
import { HealthView } from "./health-view.js";
import { RECENT_CHECKS } from "./recent-checks.js";

const T0 = Date.parse("2026-11-26T12:00:00Z");

describe("HealthView recent checks", () => {
  it("keeps the newest ten per adapter, newest first, as the API shows them", () => {
    const view = new HealthView("registry:8679", DEFAULT_OFFLINE_STALE_RULE, () => T0);
    const id = "t.adapter.cache.redis";
    view.putEntry(catalogEntry({ adapterId: id }));
    expect(view.recentChecks(id)).toEqual([]);
    for (let index = 0; index < 13; index++) {
      view.recordCheck(id, {
        atMs: T0 + index * 1_000,
        ok: index % 2 === 0,
        latencyMs: 1.23456 + index,
        detail: `HTTP ${index % 2 === 0 ? 200 : 503}`,
        source: index === 12 ? "watch" : "probe",
      });
    }
    const checks = view.recentChecks(id);
    expect(checks).toHaveLength(RECENT_CHECKS);
    expect(checks[0]).toEqual({
      at: new Date(T0 + 12_000).toISOString(),
      ok: true,
      latency_ms: 13.235,
      detail: "HTTP 200",
      source: "watch",
    });
    expect(checks.map((check) => check.at)).toEqual(
      Array.from({ length: 10 }, (_, back) => new Date(T0 + (12 - back) * 1_000).toISOString()),
    );
    expect(checks[1]).toMatchObject({ ok: false, detail: "HTTP 503", source: "probe" });
    // Another adapter's checks are its own; a removed adapter's are gone.
    expect(view.recentChecks("t.adapter.cache.valkey")).toEqual([]);
    view.putState(initialHealth(id, "healthy", T0));
    view.removeEntry(id);
    expect(view.recentChecks(id)).toEqual([]);
  });
});
