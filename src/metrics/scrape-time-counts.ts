import type { HealthView } from "../engine/health-view.js";
import type { MaintenanceService } from "../maintenance/maintenance-service.js";
import type { CategoryCount, MetricsView } from "./metrics.js";

/** How long one walk over the adapters serves the gauges of one scrape. */
const SHARED_WALK_MS = 1_000;

/**
 * The metrics computed from the mirror at scrape time: adapters by domain and
 * category, overdue (stale) verdicts (both leaving out maintenance, like the
 * status gauge), and the newest committed check. One walk over the adapters
 * serves all three gauges of a scrape, rather than one walk each.
 */
export function scrapeTimeCounts(
  view: HealthView,
  maintenance: MaintenanceService,
  monotonic: () => number = () => performance.now(),
): Pick<MetricsView, "countByCategory" | "countStale" | "lastCheckMs"> {
  let walked: { at: number; counts: ReturnType<typeof walk> } | undefined;
  const walk = () => {
    const byKind = new Map<string, CategoryCount>();
    let stale = 0;
    let lastCheck: number | null = null;
    const inMaintenance = maintenance.lookup();
    for (const entry of view.allEntries()) {
      const state = view.state(entry.adapterId);
      if (!state) continue;
      const checkedAt = state.lastChecked;
      if (checkedAt !== null && (lastCheck === null || checkedAt > lastCheck)) {
        lastCheck = checkedAt;
      }
      if (inMaintenance(entry.adapterId) !== undefined) continue;
      if (view.isStale(state)) stale++;
      const key = `${entry.domain}\u0000${entry.category}`;
      let item = byKind.get(key);
      if (!item) {
        item = {
          domain: entry.domain,
          category: entry.category,
          counts: { unknown: 0, healthy: 0, degraded: 0, unhealthy: 0 },
        };
        byKind.set(key, item);
      }
      item.counts[state.status]++;
    }
    return { byKind: [...byKind.values()], stale, lastCheck };
  };
  const current = () => {
    const at = monotonic();
    if (!walked || at - walked.at > SHARED_WALK_MS) walked = { at, counts: walk() };
    return walked.counts;
  };
  return {
    countByCategory: () => current().byKind,
    countStale: () => current().stale,
    lastCheckMs: () => current().lastCheck,
  };
}
