/**
 * What `status` lists from a database file: every adapter as the daemon's
 * HealthView (restored from the same file, see OfflineReadModel) lists it, read
 * straight from the rows a listing shows, through the same domain functions
 * (staleness, maintenance, the status view). Kept apart from the read model so
 * that `status` loads no more than it lists with (no HealthView to fill, no
 * QueryService, resolution, schemas, config parser or cron): the command
 * starts in a fraction of the time on a large file.
 */
import type { DaemonConfig } from "./config/load.js";
import { formatHostPort } from "./domain/host-port.js";
import {
  type ActiveMaintenance,
  type ManualMaintenance,
  maintenanceFor,
  openWindows,
} from "./domain/maintenance.js";
import {
  type AdapterStatusView,
  DEFAULT_OFFLINE_STALE_RULE,
  decodeStaleRule,
  isStale,
  type RegistryView,
  STALE_RULE_META,
  type StaleRule,
  toStatusView,
} from "./domain/status-view.js";
import { compareAdapterIds, toRegistryView, wallClockAgeMs } from "./engine/health-view.js";
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

/** A point-in-time read of a database file, for `status` while the daemon may be stopped. */
export interface StatusSnapshot {
  adapters: AdapterStatusView[];
  registry: RegistryView | null;
}

/**
 * A StatusSnapshot whose views are made when asked for, a page at a time: `status
 * --json` writes a large listing page by page (see writeListingJson), so its views
 * and text are never all in memory at once.
 */
export interface StatusListing {
  readonly count: number;
  readonly registry: RegistryView | null;
  /** The views of the adapters from index `from` to `to` (exclusive), in listing order. */
  views(from: number, to: number): AdapterStatusView[];
}

/** Every view of a listing. */
export function snapshotOf(listing: StatusListing): StatusSnapshot {
  return { adapters: listing.views(0, listing.count), registry: listing.registry };
}

/**
 * Every adapter of an open store as the daemon's API would list it at `now`
 * (`GET /v1/adapters`); the registry `null` when the file never had it. All is
 * read from the store at once; the views are made later, from what was read.
 */
export function listStoredStatus(
  store: SqliteStore,
  settings: OfflineViewSettings,
  now: number,
): StatusListing {
  const registry = store.loadRegistryState();
  const staleRule = decodeStaleRule(store.getMeta(STALE_RULE_META), settings.staleRule);
  const maintenanceOf = maintenanceAt(settings.fixedWindows, store.loadMaintenance(), now);
  // In the order the view lists them (a stable sort of the catalog's storage order).
  const rows = store.loadStatusRows().sort((a, b) => compareAdapterIds(a.adapterId, b.adapterId));
  return {
    count: rows.length,
    registry: registry === undefined ? null : toRegistryView(registry),
    views(from, to) {
      const page = rows.slice(from, to);
      const views: AdapterStatusView[] = new Array(page.length);
      for (let index = 0; index < page.length; index++) {
        const row = page[index] as (typeof page)[number];
        // No monotonic clock spans the daemon's run and this one: a verdict's age is the wall clock's.
        const ageMs = wallClockAgeMs(row.lastChecked, now);
        const stale = isStale(row, ageMs, staleRule);
        views[index] = toStatusView(row, row, stale, ageMs, maintenanceOf(row.adapterId));
      }
      return views;
    },
  };
}

/**
 * The maintenance each adapter is in at `now`, as the daemon's MaintenanceService
 * finds it for a view restored from the file: its declarations and the fixed
 * windows (no recurring window has fired in a process that runs no schedule).
 */
function maintenanceAt(
  fixedWindows: OfflineViewSettings["fixedWindows"],
  declared: readonly ManualMaintenance[],
  now: number,
): (adapterId: string) => ActiveMaintenance | undefined {
  const open = openWindows(fixedWindows, new Map(), now);
  if (open.length === 0 && declared.length === 0) return () => undefined;
  const manual = new Map(declared.map((item) => [item.adapterId, item]));
  return (adapterId) => maintenanceFor(adapterId, open, manual, now);
}

/**
 * Every adapter of the file as the daemon's API would list it at `now`, with
 * `config`'s fixed maintenance windows applied when given.
 */
export function readStatusListing(
  dbPath: string,
  now: number,
  config?: DaemonConfig,
): StatusListing {
  const store = new SqliteStore({ path: dbPath, readonly: true });
  try {
    return listStoredStatus(store, offlineViewSettings(config), now);
  } finally {
    store.close();
  }
}

/** readStatusListing, every view made. */
export function readStatusSnapshot(
  dbPath: string,
  now: number,
  config?: DaemonConfig,
): StatusSnapshot {
  return snapshotOf(readStatusListing(dbPath, now, config));
}
