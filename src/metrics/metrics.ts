import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";
import type { HealthStatus } from "../domain/adapter.js";
import { HEALTH_STATUSES } from "../domain/adapter.js";

/** Reads the live view on each scrape, so gauges never lag the state. */
export interface MetricsView {
  countByStatus(): Record<HealthStatus, number>;
  countConditions(): { flapping: number; maintenance: number; breakers: Record<string, number> };
  registryReachable(): boolean;
  lastSyncMs(): number | null;
  /** Each registry endpoint (bounded by config: primary plus at most 16 secondaries). */
  endpoints(): { endpoint: string; role: string; breaker: string; reachable: boolean }[];
  /** Each webhook subscriber (bounded by config: at most 50); absent when none are wired. */
  webhooks?(): { subscriber: string; lagEvents: number; parked: boolean }[];
}

/**
 * Every metric the daemon exports, registered on one prom-client Registry made by
 * the caller. Names from the contract page keep the `oneiric_` prefix users expect;
 * the daemon's own carry `oneiric_healthd_`.
 */
export class DaemonMetrics {
  readonly registryQueries: Counter<"operation" | "result">;
  readonly registryQueryDuration: Histogram<"operation">;
  readonly healthChecks: Counter<"kind" | "result">;
  readonly probeDuration: Histogram<"kind">;
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

  constructor(
    readonly registry: Registry,
    view: MetricsView,
  ) {
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
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
  }
}
