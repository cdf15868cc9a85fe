import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";
import type { HealthStatus } from "../domain/adapter.js";
import { HEALTH_STATUSES } from "../domain/adapter.js";
import type { JournalEvent } from "../domain/events.js";

/** Adapters of one domain and category, by status (maintenance left out). */
export interface CategoryCount {
  domain: string;
  category: string;
  counts: Record<HealthStatus, number>;
}

/** Where a tracked requirement comes from: the config file, or a recent resolve call. */
export type RequirementOrigin = "configured" | "asked";

/** Tracked requirements of one origin, and those with no usable candidate right now. */
export interface RequirementCounts {
  tracked: number;
  /** No adapter in the catalog matches at all. */
  noMatch: number;
  /** Adapters match, but every one is excluded (unhealthy, breaker open, flapping, maintenance). */
  noneUsable: number;
}

/** Reads the live view on each scrape, so gauges never lag the state. */
export interface MetricsView {
  countByStatus(): Record<HealthStatus, number>;
  countConditions(): { flapping: number; maintenance: number; breakers: Record<string, number> };
  /** Adapters by domain and category (unbounded here: the metric groups the excess as "other"). */
  countByCategory(): CategoryCount[];
  /** Adapters whose verdict is older than the staleness limit (maintenance left out). */
  countStale(): number;
  /** Unix ms of the newest committed check of any adapter, or null before the first. */
  lastCheckMs(): number | null;
  /** The newest sequence number in the event journal (0 when it is empty). */
  journalNewestSeq(): number;
  /** Requirements watched for failover, by origin, with the unresolvable ones. */
  requirements(): Record<RequirementOrigin, RequirementCounts>;
  registryReachable(): boolean;
  lastSyncMs(): number | null;
  /** Each registry endpoint (bounded by config: primary plus at most 16 secondaries). */
  endpoints(): { endpoint: string; role: string; breaker: string; reachable: boolean }[];
  /** Each webhook subscriber (bounded by config: at most 50); absent when none are wired. */
  webhooks?(): { subscriber: string; lagEvents: number; parked: boolean }[];
}

/** What a cluster member reports (docs/scale-out.md); read on each scrape. */
export interface ClusterMetricsView {
  /** Live members this one knows of, itself included. */
  members(): number;
  /** Catalog adapters this member owns and probes. */
  ownedAdapters(): number;
  /** Whether the link to NATS is up (always false in static mode without NATS). */
  natsConnected(): boolean;
  /** Journal events not yet on the stream. */
  publishLagEvents(): number;
  /** Events put on the stream since start (JetStream de-duplicated ones included). */
  publishedEvents(): number;
  /** Times this member found its lease lapsed or taken and rejoined. */
  leaseFenced(): number;
  /** Other members' verdicts received since start: adopted, or refused (the sender did not own the adapter). */
  verdicts(): { adopted: number; refused: number };
  /** This member's verdicts waiting to be sent (no connection, or publishes refused). */
  verdictsWaiting(): number;
}

export interface MetricsOptions {
  /**
   * Most distinct domain/category pairs given their own label values; the rest
   * are summed under `domain="other",category="other"` (healthd.metrics.max_category_labels).
   */
  maxCategoryLabels: number;
}

/**
 * prom-client's default gauges that end in `_total` (which promtool reserves for
 * counters). Each is the sum over the `type` label of the same name without the
 * suffix (e.g. `sum(nodejs_active_handles)`), so nothing is lost by leaving them out.
 */
const DROPPED_DEFAULT_METRICS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

const OTHER = "other";

/**
 * Sums the counts of each domain/category pair: the first `max` pairs in sorted
 * order keep their own labels (so the grouping is the same on every scrape and
 * restart for the same catalog), the rest are added up as other/other.
 */
export function boundCategories(counts: readonly CategoryCount[], max: number): CategoryCount[] {
  const merged = new Map<string, CategoryCount>();
  const add = (domain: string, category: string, from: Record<HealthStatus, number>) => {
    const key = `${domain}\u0000${category}`;
    let into = merged.get(key);
    if (!into) {
      into = { domain, category, counts: { unknown: 0, healthy: 0, degraded: 0, unhealthy: 0 } };
      merged.set(key, into);
    }
    for (const status of HEALTH_STATUSES) into.counts[status] += from[status];
  };
  const sorted = [...counts].sort(
    (a, b) => a.domain.localeCompare(b.domain) || a.category.localeCompare(b.category),
  );
  const own = new Set<string>();
  for (const item of sorted) {
    const key = `${item.domain}\u0000${item.category}`;
    if (own.has(key) || own.size < max) {
      own.add(key);
      add(item.domain, item.category, item.counts);
    } else {
      add(OTHER, OTHER, item.counts);
    }
  }
  return [...merged.values()];
}

/**
 * Every metric the daemon exports, registered on one prom-client Registry made by
 * the caller. Names from the contract page keep the `oneiric_` prefix users expect;
 * the daemon's own carry `oneiric_healthd_`. Every label's values are bounded: by
 * fixed sets (status, kind, result, operation, reason, state, origin) or by config
 * (subscriber, endpoint, domain/category). The list is in docs/observability.md.
 */
export class DaemonMetrics {
  readonly registryQueries: Counter<"operation" | "result">;
  readonly registryQueryDuration: Histogram<"operation">;
  readonly healthChecks: Counter<"kind" | "result">;
  readonly probeDuration: Histogram<"kind">;
  /** Probe results screened out because the daemon's own stalled event loop could explain them. */
  readonly ownDelayResults: Counter<"kind">;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly rejectedEntries: Counter<"reason">;
  readonly statusChanges: Counter<"to">;
  readonly commitBatches: Counter;
  readonly committedResults: Counter;
  readonly failovers: Counter;
  readonly journalPruned: Counter;
  /** result: delivered (2xx) or failed (one failed attempt: non-2xx, timeout, connection error). */
  readonly webhookDeliveries: Counter<"subscriber" | "result">;
  /** 1 when the last configuration reload was applied, 0 when it was refused (as Prometheus' own). */
  readonly configReloadSuccessful: Gauge;
  /** Unix time of the last configuration applied (start-up or a successful reload). */
  readonly configReloadSuccessTimestamp: Gauge;
  /** 1 while the database takes the engine's commits, 0 while it refuses them. */
  readonly storeWritable: Gauge;
  readonly commitFailures: Counter;
  /** Events decided but not yet committed (non-zero only while commits fail). */
  readonly pendingEvents: Gauge;

  /**
   * Registers the counters at once, and the gauges read from the daemon's parts
   * at scrape time once `view` is given, here or later through `readFrom` (the
   * parts that are read count with the counters, so they come after them).
   */
  constructor(
    readonly registry: Registry,
    view: MetricsView | undefined,
    private readonly options: MetricsOptions,
  ) {
    const registers = [registry];
    // Standard names (process_*, nodejs_*), no prefix: shared dashboards and alerts expect them.
    collectDefaultMetrics({ register: registry });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
    this.configReloadSuccessful = new Gauge({
      name: "oneiric_healthd_config_last_reload_successful",
      help: "1 when the last configuration reload (SIGHUP) was applied, 0 when the file was invalid and the previous configuration kept.",
      registers,
    });
    this.configReloadSuccessTimestamp = new Gauge({
      name: "oneiric_healthd_config_last_reload_success_timestamp_seconds",
      help: "Unix time the running configuration was applied: start-up or the last successful reload.",
      registers,
    });
    this.registryQueries = new Counter({
      name: "oneiric_adapter_queries_total",
      help: "Queries sent to the Oneiric registry, by RPC and result.",
      labelNames: ["operation", "result"],
      registers,
    });
    this.registryQueryDuration = new Histogram({
      name: "oneiric_adapter_query_duration_seconds",
      help: "Duration of queries to the Oneiric registry.",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.healthChecks = new Counter({
      name: "oneiric_adapter_health_checks_total",
      help: "Adapter health checks run, by probe kind and result.",
      labelNames: ["kind", "result"],
      registers,
    });
    this.probeDuration = new Histogram({
      name: "oneiric_healthd_probe_duration_seconds",
      help: "Duration of adapter health probes, by probe kind.",
      labelNames: ["kind"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.ownDelayResults = new Counter({
      name: "oneiric_healthd_own_delay_results_total",
      help: "Probe results taken as no verdict because a stall of the daemon's own event loop could have made them late (slow answer or timeout), by probe kind.",
      labelNames: ["kind"],
      registers,
    });
    this.cacheHits = new Counter({
      name: "oneiric_cache_hits_total",
      help: "Adapter list queries answered from the cache.",
      registers,
    });
    this.cacheMisses = new Counter({
      name: "oneiric_cache_misses_total",
      help: "Adapter list queries that missed the cache.",
      registers,
    });
    this.rejectedEntries = new Counter({
      name: "oneiric_healthd_registry_entries_rejected_total",
      help: "Registry entries skipped or repaired because they were malformed, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.statusChanges = new Counter({
      name: "oneiric_healthd_status_changes_total",
      help: "Adapter health status transitions, by new status.",
      labelNames: ["to"],
      registers,
    });
    this.commitBatches = new Counter({
      name: "oneiric_healthd_commit_batches_total",
      help: "SQLite transactions that committed batches of check results.",
      registers,
    });
    this.committedResults = new Counter({
      name: "oneiric_healthd_committed_results_total",
      help: "Check results committed to SQLite.",
      registers,
    });
    this.failovers = new Counter({
      name: "oneiric_healthd_failovers_total",
      help: "Failover events: a tracked requirement's chosen adapter stopped being usable.",
      registers,
    });
    this.storeWritable = new Gauge({
      name: "oneiric_healthd_store_writable",
      help: "1 while the database commits the engine's work, 0 while commits fail (disk full, read-only, I/O error): queries then answer from the last commit.",
      registers,
    });
    this.storeWritable.set(1);
    this.commitFailures = new Counter({
      name: "oneiric_healthd_commit_failures_total",
      help: "Transactions the database refused; their work stays pending and is retried.",
      registers,
    });
    this.pendingEvents = new Gauge({
      name: "oneiric_healthd_pending_events",
      help: "Events decided but not yet committed: they wait while the database refuses commits.",
      registers,
    });
    this.journalPruned = new Counter({
      name: "oneiric_healthd_journal_events_pruned_total",
      help: "Journal events deleted by retention.",
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: "oneiric_healthd_webhook_deliveries_total",
      help: "Webhook delivery attempts, by subscriber and result (delivered, failed).",
      labelNames: ["subscriber", "result"],
      registers,
    });
    if (view) this.readFrom(view);
  }

  /** Registers a cluster member's metrics, read on each scrape. Call once, only when clustered. */
  readClusterFrom(view: ClusterMetricsView): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    // Cumulative figures kept by the parts themselves: set on each scrape, never decreasing.
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    gauge(
      "oneiric_healthd_cluster_members",
      "Live cluster members this one knows of, itself included.",
      () => view.members(),
    );
    gauge(
      "oneiric_healthd_cluster_owned_adapters",
      "Catalog adapters this member owns and probes.",
      () => view.ownedAdapters(),
    );
    gauge(
      "oneiric_healthd_cluster_nats_connected",
      "1 while the link to NATS is up, else 0.",
      () => (view.natsConnected() ? 1 : 0),
    );
    gauge(
      "oneiric_healthd_cluster_publish_lag_events",
      "Journal events of this member not yet on the fleet's stream.",
      () => view.publishLagEvents(),
    );
    gauge(
      "oneiric_healthd_cluster_verdicts_waiting",
      "This member's verdicts not yet sent to the others (newest per adapter), while NATS is away.",
      () => view.verdictsWaiting(),
    );
    counter(
      "oneiric_healthd_cluster_published_events_total",
      "Events this member put on the fleet's stream (de-duplicated republishes included).",
      () => view.publishedEvents(),
    );
    counter(
      "oneiric_healthd_cluster_lease_fenced_total",
      "Times this member found its lease lapsed or taken and rejoined with a new one.",
      () => view.leaseFenced(),
    );
    new Counter({
      name: "oneiric_healthd_cluster_verdicts_received_total",
      help: "Other members' verdicts received, by result: adopted, or refused because the sender does not own the adapter.",
      labelNames: ["result"],
      registers,
      collect() {
        this.reset();
        const { adopted, refused } = view.verdicts();
        this.inc({ result: "adopted" }, adopted);
        this.inc({ result: "refused" }, refused);
      },
    });
  }

  /** Registers the gauges that read the daemon's parts on each scrape. Call once. */
  readFrom(view: MetricsView): void {
    const registers = [this.registry];
    const { options } = this;
    // Both webhook gauges read one status list per scrape; subscribers come from the config.
    new Gauge({
      name: "oneiric_healthd_webhook_lag_events",
      help: "Journal events a webhook subscriber has not been given yet (newest seq minus its cursor).",
      labelNames: ["subscriber"],
      registers,
      collect() {
        this.reset();
        for (const status of view.webhooks?.() ?? []) {
          this.set({ subscriber: status.subscriber }, status.lagEvents);
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_webhook_parked",
      help: "1 while a webhook subscriber is parked after max_attempts failures in a row, else 0.",
      labelNames: ["subscriber"],
      registers,
      collect() {
        this.reset();
        for (const status of view.webhooks?.() ?? []) {
          this.set({ subscriber: status.subscriber }, status.parked ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_adapters",
      help: "Adapters in the catalog, by the daemon's health verdict.",
      labelNames: ["status"],
      registers,
      collect() {
        const counts = view.countByStatus();
        for (const status of HEALTH_STATUSES) this.set({ status }, counts[status]);
      },
    });
    new Gauge({
      name: "oneiric_healthd_adapters_flapping",
      help: "Adapters held out of resolution because their status changes too often.",
      registers,
      collect() {
        this.set(view.countConditions().flapping);
      },
    });
    new Gauge({
      name: "oneiric_healthd_adapters_in_maintenance",
      help: "Adapters in a maintenance window (left out of oneiric_healthd_adapters).",
      registers,
      collect() {
        this.set(view.countConditions().maintenance);
      },
    });
    new Gauge({
      name: "oneiric_healthd_adapter_breakers",
      help: "Adapters by the state of their circuit breaker.",
      labelNames: ["state"],
      registers,
      collect() {
        for (const [state, count] of Object.entries(view.countConditions().breakers)) {
          this.set({ state }, count);
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_registry_up",
      help: "1 when the last sync with the Oneiric registry succeeded, else 0.",
      registers,
      collect() {
        this.set(view.registryReachable() ? 1 : 0);
      },
    });
    new Gauge({
      name: "oneiric_healthd_registry_endpoint_up",
      help: "1 when the registry endpoint answered its last call, else 0.",
      labelNames: ["endpoint", "role"],
      registers,
      collect() {
        this.reset();
        for (const endpoint of view.endpoints()) {
          this.set(
            { endpoint: endpoint.endpoint, role: endpoint.role },
            endpoint.reachable ? 1 : 0,
          );
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_registry_breaker_open",
      help: "1 while the circuit breaker guarding a registry endpoint is open (calls skipped), else 0.",
      labelNames: ["endpoint"],
      registers,
      collect() {
        this.reset();
        for (const endpoint of view.endpoints()) {
          this.set({ endpoint: endpoint.endpoint }, endpoint.breaker === "open" ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_registry_last_sync_timestamp_seconds",
      help: "Unix time of the last successful catalog sync (0 if none).",
      registers,
      collect() {
        const last = view.lastSyncMs();
        this.set(last === null ? 0 : last / 1000);
      },
    });
    new Gauge({
      name: "oneiric_healthd_category_adapters",
      help: "Adapters by domain, category and health verdict, leaving out those in maintenance; pairs beyond healthd.metrics.max_category_labels are summed as other/other.",
      labelNames: ["domain", "category", "status"],
      registers,
      collect() {
        this.reset();
        for (const item of boundCategories(view.countByCategory(), options.maxCategoryLabels)) {
          for (const status of HEALTH_STATUSES) {
            this.set({ domain: item.domain, category: item.category, status }, item.counts[status]);
          }
        }
      },
    });
    new Gauge({
      name: "oneiric_healthd_adapters_stale",
      help: "Adapters whose next check is overdue (their verdict is stale), leaving out those in maintenance.",
      registers,
      collect() {
        this.set(view.countStale());
      },
    });
    new Gauge({
      name: "oneiric_healthd_last_check_timestamp_seconds",
      help: "Unix time of the newest committed check or Watch push of any adapter (0 if none): the daemon is stale when this stops moving.",
      registers,
      collect() {
        const last = view.lastCheckMs();
        this.set(last === null ? 0 : last / 1000);
      },
    });
    new Gauge({
      name: "oneiric_healthd_journal_newest_seq",
      help: "Sequence number of the newest event in the journal (0 when empty).",
      registers,
      collect() {
        this.set(view.journalNewestSeq());
      },
    });
    const origins: readonly RequirementOrigin[] = ["configured", "asked"];
    new Gauge({
      name: "oneiric_healthd_requirements_tracked",
      help: "Requirements watched for failover: configured (healthd.resolution.requirements) or asked through the API (the newest 1000).",
      labelNames: ["origin"],
      registers,
      collect() {
        const counts = view.requirements();
        for (const origin of origins) this.set({ origin }, counts[origin].tracked);
      },
    });
    new Gauge({
      name: "oneiric_healthd_requirements_unresolvable",
      help: "Tracked requirements with no usable candidate now, by origin and reason (no_match: no adapter matches; none_usable: every match is excluded).",
      labelNames: ["origin", "reason"],
      registers,
      collect() {
        const counts = view.requirements();
        for (const origin of origins) {
          this.set({ origin, reason: "no_match" }, counts[origin].noMatch);
          this.set({ origin, reason: "none_usable" }, counts[origin].noneUsable);
        }
      },
    });
  }
}

/** The engine's metrics, counted from committed events only. */
export function engineMetrics(metrics: DaemonMetrics) {
  return {
    committed({ events, results }: { events: readonly JournalEvent[]; results: number }) {
      metrics.commitBatches.inc();
      if (results > 0) metrics.committedResults.inc(results);
      for (const event of events) {
        if (event.type === "adapter.health_changed") {
          metrics.statusChanges.inc({ to: String(event.data.to) });
        } else if (event.type === "failover") {
          metrics.failovers.inc();
        }
      }
    },
    commitFailed: () => metrics.commitFailures.inc(),
    storeWritable: (writable: boolean) => metrics.storeWritable.set(writable ? 1 : 0),
    pendingEvents: (count: number) => metrics.pendingEvents.set(count),
  };
}
