/**
 * A HealthEngine as src/main.ts wires it, over a store the bench gives (a SqliteStore
 * file, or one that counts its commits), for benches that time the engine itself:
 * the daemon's maintenance, view, settings and resolution from `config`, no Prometheus
 * registry (not what they measure) and a silent logger.
 */
import pino from "pino";
import type { DaemonConfig } from "../src/config/load.js";
import { SettingsBook } from "../src/config/settings-book.js";
import { HealthEngine } from "../src/engine/health-engine.js";
import { HealthView } from "../src/engine/health-view.js";
import { HistoryRecorder } from "../src/engine/history-recorder.js";
import { EventHub } from "../src/events/event-hub.js";
import { MaintenanceService } from "../src/maintenance/maintenance-service.js";
import { ResolutionService } from "../src/resolution/resolution-service.js";
import type { SqliteStore } from "../src/storage/sqlite-store.js";

export interface WiredEngineOptions {
  store: SqliteStore;
  config: DaemonConfig;
  /** The wall clock the engine stamps with. */
  now: () => number;
  /** The view's monotonic clock; `now` by default. */
  monotonic?: () => number;
  /** Whether the health history is recorded, as the daemon does by default. */
  history: boolean;
  /** A cluster member's id, for an engine that adopts other members' verdicts. */
  member?: string;
}

export function wiredEngine(options: WiredEngineOptions): {
  engine: HealthEngine;
  failedCommits: { count: number };
} {
  const { store, config, now } = options;
  const maintenance = new MaintenanceService(config.maintenance, store.loadMaintenance(), now);
  const view = new HealthView(
    "127.0.0.1:8679",
    config.probes.stale,
    now,
    (adapterId) => maintenance.current(adapterId),
    options.monotonic ?? now,
  );
  view.restore(store.loadCatalog(), store.loadHealth());
  const settings = new SettingsBook(
    config.adapters.defaults,
    config.adapters.overrides,
    config.flap,
  );
  const resolution = new ResolutionService(
    view,
    maintenance,
    settings,
    { panic: config.resolution.panic },
    config.resolution.requirements,
  );
  const failedCommits = { count: 0 };
  const engine = new HealthEngine({
    store,
    mirror: view,
    failovers: resolution,
    publisher: new EventHub(store),
    maintenance,
    metrics: {
      committed: () => undefined,
      commitFailed: () => {
        failedCommits.count++;
      },
      storeWritable: () => undefined,
      pendingEvents: () => undefined,
    },
    logger: pino({ level: "silent" }),
    now,
    contextOf: (entry) =>
      settings.decisionContextOf(entry, maintenance.current(entry.adapterId) !== undefined),
    history: options.history ? new HistoryRecorder(store, config.probes.stale) : undefined,
    ...(options.member !== undefined ? { member: options.member } : {}),
  });
  return { engine, failedCommits };
}
