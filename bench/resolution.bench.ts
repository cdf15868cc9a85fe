/**
 * Resolution in process, without a transport: what `/v1/resolve` costs the
 * daemon itself with 10,000 adapters loaded (1,429 of them in the category
 * asked for), and the JSON encoding of the answer. Two cases: the question
 * asked again with nothing committed in between (the answer kept since the
 * last change), and after a commit changed one adapter's state (ranked anew). Builds the same parts the
 * daemon wires (a real SQLite store, the view, maintenance, settings).
 * Run: npm run bench:resolution   (prints figures; asserts nothing; --quick for fewer calls;
 * --report <file> for the suite, see bench/report.ts)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../src/config/load.js";
import { SettingsBook } from "../src/config/settings-book.js";
import type { AdapterEntry, HealthStatus } from "../src/domain/adapter.js";
import { initialHealth } from "../src/domain/health.js";
import type { Requirement } from "../src/domain/resolution.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../src/domain/status-view.js";
import { HealthView } from "../src/engine/health-view.js";
import { MaintenanceService } from "../src/maintenance/maintenance-service.js";
import { ResolutionService } from "../src/resolution/resolution-service.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { benchOptions } from "./report.js";
import { formatMs, percentiles } from "./support.js";

const { quick, reporter } = benchOptions("resolution");

const ADAPTERS = 10_000;
const CATEGORIES = ["storage", "cache", "queue", "database", "orchestration", "secrets", "search"];
const PROVIDERS = ["s3", "gcs", "azure-blob", "minio", "local", "r2"];
const ITERATIONS = quick ? 2_000 : 20_000;

const fmt = (ms: number) => formatMs(ms, 1);

const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-resolution-"));
try {
  const now = Date.now();
  const entries: AdapterEntry[] = Array.from({ length: ADAPTERS }, (_, index) => ({
    adapterId: `adapter-${String(index).padStart(5, "0")}`,
    project: `project-${index % 5}`,
    domain: "adapter",
    category: CATEGORIES[index % CATEGORIES.length] ?? "storage",
    provider: PROVIDERS[Math.floor(index / CATEGORIES.length) % PROVIDERS.length] ?? "s3",
    capabilities: [],
    factoryPath: "bench.adapters:Adapter",
    healthCheckUrl: "",
    metadata: {},
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_000,
    registryStatus: "healthy",
  }));
  // Mostly healthy, with some degraded, unknown and unhealthy so every rank is exercised.
  const statuses: HealthStatus[] = ["healthy", "healthy", "healthy", "degraded", "unknown"];
  const states = entries.map((entry, index) => ({
    ...initialHealth(entry.adapterId, "healthy", now),
    status:
      index % 97 === 0 ? ("unhealthy" as const) : (statuses[index % statuses.length] ?? "healthy"),
    reason: "bench",
    lastChecked: now,
    latencyMs: process.env.ALL_UNKNOWN ? null : 1 + (index % 50),
    source: "probe" as const,
  }));
  const store = new SqliteStore({ path: join(dir, "healthd.db") });
  store.commit({ upserted: entries, states, events: [] }, now);
  const maintenance = new MaintenanceService([], store.loadMaintenance(), () => Date.now());
  const view = new HealthView(
    "bench:0",
    DEFAULT_OFFLINE_STALE_RULE,
    () => Date.now(),
    (id) => maintenance.current(id),
  );
  view.restore(store.loadCatalog(), store.loadHealth());
  // The daemon's own defaults (an empty config file), plus one priority override.
  const defaults = parseConfigText("", "bench.yaml", {});
  const settings = new SettingsBook(
    defaults.adapters.defaults,
    [{ match: { provider: "minio" }, priority: 50 }],
    defaults.flap,
  );
  const service = new ResolutionService(view, maintenance, settings, { panic: false }, []);
  console.log(
    `resolution benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}`,
  );
  const queries: [string, Requirement][] = [
    ["domain, category (1,429 candidates)", { domain: "adapter", category: "storage" }],
    [
      "… and provider (238 candidates)",
      { domain: "adapter", category: "storage", provider: "gcs" },
    ],
  ];
  console.log(
    "\nquery                                 case            resolve p50   p99        + JSON p50   p99",
  );
  const changing = states[0];
  for (const [name, requirement] of queries)
    for (const afterCommit of [false, true]) {
      for (let i = 0; i < 2_000; i++) JSON.stringify(service.resolve(requirement, false, 10));
      const bare: number[] = [];
      const encoded: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        // What the committer does after a batch: a new state for one adapter (a new latency).
        if (afterCommit && changing) view.putState({ ...changing, latencyMs: 1 + (i % 50) });
        const began = performance.now();
        const resolution = service.resolve(requirement, false, 10);
        const resolved = performance.now();
        JSON.stringify(resolution);
        const done = performance.now();
        bare.push(resolved - began);
        encoded.push(done - began);
      }
      const a = percentiles(bare);
      const b = percentiles(encoded);
      const caseName = afterCommit ? "after a commit" : "asked again";
      console.log(
        `${name.padEnd(37)} ${caseName.padEnd(15)} ${fmt(a.p50).padEnd(13)} ${fmt(a.p99).padEnd(10)} ${fmt(b.p50).padEnd(12)} ${fmt(b.p99)}`,
      );
      const rowSettings = `in process, ${ADAPTERS.toLocaleString("en-US")} adapters in ${CATEGORIES.length} categories, real SQLite store and view, default settings plus one priority override, limit 10; ${ITERATIONS.toLocaleString("en-US")} calls after 2,000 warm-up${quick ? "; quick run" : ""}`;
      for (const [figure, { p50, p99 }] of [
        ["resolve", a],
        ["resolve + JSON", b],
      ] as const) {
        for (const [percentile, value] of [
          ["p50", p50],
          ["p99", p99],
        ] as const) {
          reporter.row({
            name: `${figure} ${percentile}, ${name}, ${caseName}`,
            size: ADAPTERS,
            settings: rowSettings,
            value: value * 1000,
            unit: "µs",
          });
        }
      }
    }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
reporter.finish();
