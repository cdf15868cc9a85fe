/**
 * The daemon's HealthView (and the maintenance it applies), loaded from its
 * database file: what `status` lists, and the base of OfflineReadModel's
 * query parts. Kept apart from them so that `status` loads no more than it
 * lists with (no QueryService, resolution, schemas or config parser): the
 * command starts in a fraction of the time on a large file.
 */
import type { DaemonConfig } from "./config/load.js";
import { formatHostPort } from "./domain/host-port.js";
import {
  type AdapterStatusView,
  DEFAULT_OFFLINE_STALE_RULE,
  decodeStaleRule,
  type RegistryView,
  STALE_RULE_META,
  type StaleRule,
} from "./domain/status-view.js";
import { HealthView } from "./engine/health-view.js";
import { MaintenanceService } from "./maintenance/maintenance-service.js";
import { SqliteStore } from "./storage/sqlite-store.js";

/** What the file does not hold and the view needs: from the daemon's config, when known. */
export interface OfflineViewSettings {
  /** Fixed maintenance windows (recurring ones open when their cron fires inside the daemon). */
  fixedWindows: DaemonConfig["maintenance"];
  /** The stale rule when the file does not record the daemon's. */
  staleRule: StaleRule;
  /** The registry endpoint shown when the file has never recorded the link. */
  registryEndpoint: string;
}

/** The settings `config` gives the view; without it, those for a file read on its own. */
export function offlineViewSettings(config: DaemonConfig | undefined): OfflineViewSettings {
  if (config === undefined) {
    // No registry endpoint is shown without the link in the file (listings say `registry: null`).
    return { fixedWindows: [], staleRule: DEFAULT_OFFLINE_STALE_RULE, registryEndpoint: "" };
  }
  return {
    fixedWindows: config.maintenance.filter((window) => window.cron === undefined),
    staleRule: config.probes.stale,
    registryEndpoint: formatHostPort(config.registry.host, config.registry.port),
  };
}

/** The view and maintenance one read of the file filled. */
export interface OfflineView {
  readonly view: HealthView;
  readonly maintenance: MaintenanceService;
  /** False when the file holds no registry state (the daemon never recorded the link). */
  readonly registryKnown: boolean;
}

/** Loads the view from an open store, as the daemon restores it at start. */
export function loadOfflineView(
  store: SqliteStore,
  settings: OfflineViewSettings,
  now: () => number,
): OfflineView {
  const maintenance = new MaintenanceService(settings.fixedWindows, store.loadMaintenance(), now);
  const registry = store.loadRegistryState();
  const view = new HealthView(
    registry?.endpoint ?? settings.registryEndpoint,
    decodeStaleRule(store.getMeta(STALE_RULE_META), settings.staleRule),
    now,
    (adapterId) => maintenance.current(adapterId),
    // No monotonic clock spans the daemon's run and this one: a verdict's age
    // is the wall clock's `now - lastChecked` (putState keeps lastChecked as is).
    now,
  );
  const stored = store.loadState();
  view.restore(stored.catalog, stored.health, registry);
  return { view, maintenance, registryKnown: registry !== undefined };
}

/** A point-in-time read of a database file, for `status` while the daemon may be stopped. */
export interface StatusSnapshot {
  adapters: AdapterStatusView[];
  registry: RegistryView | null;
}

/** Every adapter as `GET /v1/adapters` lists them; the registry `null` when the file never had it. */
export function listOfflineView(loaded: OfflineView): StatusSnapshot {
  return {
    adapters: loaded.view.list(),
    registry: loaded.registryKnown ? loaded.view.registryView() : null,
  };
}

/**
 * Every adapter of the file as the daemon's API would list it at `now`, with
 * `config`'s fixed maintenance windows applied when given.
 */
export function readStatusSnapshot(
  dbPath: string,
  now: number,
  config?: DaemonConfig,
): StatusSnapshot {
  const store = new SqliteStore({ path: dbPath, readonly: true });
  try {
    return listOfflineView(loadOfflineView(store, offlineViewSettings(config), () => now));
  } finally {
    store.close();
  }
}
