import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { defaultConfig } from "../config/load.js";
import { SettingsBook } from "../config/settings-book.js";
import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import { initialHealth } from "../domain/health.js";
import type { Requirement } from "../domain/resolution.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../domain/status-view.js";
import { HealthView } from "../engine/health-view.js";
import { MaintenanceService } from "../maintenance/maintenance-service.js";
import { ResolutionService } from "../resolution/resolution-service.js";
import { SqliteStore } from "../storage/sqlite-store.js";
import { boundCategories, type CategoryCount, DaemonMetrics, type MetricsView } from "./metrics.js";

const T0 = Date.parse("2025-06-01T00:00:00Z");

function counts(unhealthy: number, healthy = 0): Record<HealthStatus, number> {
  return { unknown: 0, healthy, degraded: 0, unhealthy };
}

function view(overrides: Partial<MetricsView> = {}): MetricsView {
  return {
    countByStatus: () => counts(1, 2),
    countConditions: () => ({ flapping: 0, maintenance: 0, breakers: { closed: 3, open: 0 } }),
    registryReachable: () => true,
    lastSyncMs: () => T0,
    endpoints: () => [],
    countByCategory: () => [],
    countStale: () => 0,
    lastCheckMs: () => null,
    journalNewestSeq: () => 0,
    requirements: () => ({
      configured: { tracked: 0, noMatch: 0, noneUsable: 0 },
      asked: { tracked: 0, noMatch: 0, noneUsable: 0 },
    }),
    ...overrides,
  };
}

describe("boundCategories", () => {
  const kinds: CategoryCount[] = [
    { domain: "adapter", category: "storage", counts: counts(1, 2) },
    { domain: "adapter", category: "cache", counts: counts(0, 3) },
    { domain: "service", category: "auth", counts: counts(2) },
    { domain: "adapter", category: "queue", counts: counts(1) },
  ];

  it("keeps every pair under the limit", () => {
    expect(boundCategories(kinds, 50)).toHaveLength(4);
  });

  it("gives the first pairs in sorted order their own labels and sums the rest as other", () => {
    const bounded = boundCategories(kinds, 2);
    expect(bounded).toEqual([
      { domain: "adapter", category: "cache", counts: counts(0, 3) },
      { domain: "adapter", category: "queue", counts: counts(1) },
      { domain: "other", category: "other", counts: counts(3, 2) },
    ]);
    // The same catalog in another order groups the same way.
    expect(boundCategories([...kinds].reverse(), 2)).toEqual(bounded);
  });
});

describe("DaemonMetrics", () => {
  it("exports every metric with help text, without prom-client's _total gauges", async () => {
    const registry = new Registry();
    new DaemonMetrics(
      registry,
      view({
        countByCategory: () => [
          { domain: "adapter", category: "storage", counts: counts(1, 2) },
          { domain: "adapter", category: "cache", counts: counts(0, 1) },
          { domain: "adapter", category: "queue", counts: counts(2) },
        ],
        countStale: () => 4,
        lastCheckMs: () => T0 + 1500,
        journalNewestSeq: () => 42,
        requirements: () => ({
          configured: { tracked: 3, noMatch: 1, noneUsable: 1 },
          asked: { tracked: 5, noMatch: 2, noneUsable: 0 },
        }),
      }),
      { maxCategoryLabels: 1 },
    );
    const text = await registry.metrics();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
    for (const [, name, type] of types) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, "m"));
      if (name?.endsWith("_total")) expect(type).toBe("counter");
    }
    expect(text).not.toContain("nodejs_active_handles_total");
    expect(text).toContain("nodejs_active_handles");
    expect(text).toContain(
      'oneiric_healthd_category_adapters{domain="adapter",category="cache",status="healthy"} 1',
    );
    expect(text).toContain(
      'oneiric_healthd_category_adapters{domain="other",category="other",status="unhealthy"} 3',
    );
    expect(text).not.toContain('category="storage"');
    expect(text).toContain("oneiric_healthd_adapters_stale 4");
    expect(text).toContain(`oneiric_healthd_last_check_timestamp_seconds ${(T0 + 1500) / 1000}`);
    expect(text).toContain("oneiric_healthd_journal_newest_seq 42");
    expect(text).toContain('oneiric_healthd_requirements_tracked{origin="asked"} 5');
    expect(text).toContain(
      'oneiric_healthd_requirements_unresolvable{origin="configured",reason="none_usable"} 1',
    );
    expect(text).toContain(
      'oneiric_healthd_requirements_unresolvable{origin="asked",reason="no_match"} 2',
    );
  });

  it("is documented: every oneiric_ metric has a row in docs/observability.md", async () => {
    const registry = new Registry();
    new DaemonMetrics(registry, view(), { maxCategoryLabels: 50 });
    const doc = readFileSync(join(import.meta.dirname, "../../docs/observability.md"), "utf8");
    const names = [...(await registry.metrics()).matchAll(/^# TYPE (oneiric_\S+) /gm)].map(
      (match) => match[1],
    );
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => !doc.includes(`| \`${name}\``))).toEqual([]);
  });

  it("exports 0 as the newest check before any", async () => {
    const registry = new Registry();
    new DaemonMetrics(registry, view(), { maxCategoryLabels: 50 });
    expect(await registry.metrics()).toContain("oneiric_healthd_last_check_timestamp_seconds 0");
  });
});

describe("ResolutionService.countUnresolvable", () => {
  let directory: string;
  let store: SqliteStore;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), "oneiric-metrics-"));
    store = new SqliteStore({ path: join(directory, "healthd.db") });
  });
  afterEach(() => {
    store.close();
    rmSync(directory, { recursive: true, force: true });
  });

  function service(statuses: [AdapterEntry, HealthStatus][], configured: Requirement[]) {
    const view = new HealthView("registry:8679", DEFAULT_OFFLINE_STALE_RULE, () => T0);
    const maintenance = new MaintenanceService([], store.loadMaintenance(), () => T0);
    for (const [adapter, status] of statuses) {
      view.putEntry(adapter);
      view.putState({ ...initialHealth(adapter.adapterId, "healthy", T0), status });
    }
    const settings = new SettingsBook(defaultConfig().adapters.defaults, [], {
      transitions: 4,
      windowMs: 120_000,
    });
    return new ResolutionService(view, maintenance, settings, { panic: false }, configured);
  }

  it("counts configured and asked requirements without a usable candidate, by reason", () => {
    const resolution = service(
      [
        [catalogEntry({ adapterId: "p.adapter.storage.s3" }), "unhealthy"],
        [catalogEntry({ adapterId: "p.adapter.storage.gcs" }), "unhealthy"],
        [catalogEntry({ adapterId: "p.adapter.cache.redis" }), "healthy"],
      ],
      [
        { domain: "adapter", category: "storage" },
        { domain: "adapter", category: "cache" },
        { domain: "adapter", category: "queue" },
      ],
    );
    // Asked: one that resolves, one nothing matches; asking a configured one keeps it configured.
    resolution.resolve({ domain: "adapter", category: "cache", provider: "redis" });
    resolution.resolve({ domain: "adapter", category: "typo" });
    resolution.resolve({ domain: "adapter", category: "storage" });
    expect(resolution.countUnresolvable()).toEqual({
      configured: { tracked: 3, noMatch: 1, noneUsable: 1 },
      asked: { tracked: 2, noMatch: 1, noneUsable: 0 },
    });
  });

  it("does not count a panic answer as usable", () => {
    const resolution = service(
      [[catalogEntry({ adapterId: "p.adapter.storage.s3" }), "unhealthy"]],
      [{ domain: "adapter", category: "storage" }],
    );
    resolution.resolve({ domain: "adapter", category: "storage" }, true);
    expect(resolution.countUnresolvable().configured).toEqual({
      tracked: 1,
      noMatch: 0,
      noneUsable: 1,
    });
  });
});
