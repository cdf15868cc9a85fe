import type { AdapterEntry, HealthStatus } from "./adapter.js";
import {
  type BreakerState,
  type HealthState,
  isUsableStatus,
  registryDisagrees,
  type StatusSource,
} from "./health.js";
import type { ActiveMaintenance } from "./maintenance.js";

/** One adapter's last-known status as every surface (HTTP, CLI) shows it. */
export interface AdapterStatusView {
  adapter_id: string;
  project: string;
  domain: string;
  category: string;
  provider: string;
  status: HealthStatus;
  /** ISO time the status last changed. */
  since: string;
  /** ISO time of the last finished check, or null. */
  last_checked: string | null;
  latency_ms: number | null;
  source: StatusSource;
  /** True when the verdict is older than the staleness limit: trust it less. */
  stale: boolean;
  reason: string;
  registry_status: HealthStatus;
  /** True when the registry calls the adapter usable and the daemon does not, or the reverse. */
  registry_disagrees: boolean;
  /** Status changes came too often: out of resolution, per-change events silenced. */
  flapping: boolean;
  /** The adapter's circuit breaker. */
  breaker: BreakerState;
  /** In a maintenance window: out of resolution, without alarms. */
  maintenance: { until: string | null; reason: string } | null;
  /** Whether resolution may choose it. */
  usable: boolean;
  health_check_url: string;
}

export interface RegistryView {
  endpoint: string;
  reachable: boolean;
  last_sync: string | null;
  last_error: string | null;
}

/**
 * A verdict is stale when its last check is older than the limit, unless the
 * adapter's status is being pushed (`live`: an open grpc.health.v1 Watch
 * stream), in which case silence means "no change", not "no news".
 */
export function isStale(
  health: HealthState,
  now: number,
  staleAfterMs: number,
  live = false,
): boolean {
  if (health.lastChecked === null) return true;
  return !live && now - health.lastChecked > staleAfterMs;
}

export function toStatusView(
  entry: AdapterEntry,
  health: HealthState,
  now: number,
  staleAfterMs: number,
  maintenance?: ActiveMaintenance,
  live = false,
): AdapterStatusView {
  const breaker = health.breaker?.state ?? "closed";
  return {
    adapter_id: entry.adapterId,
    project: entry.project,
    domain: entry.domain,
    category: entry.category,
    provider: entry.provider,
    status: health.status,
    since: new Date(health.since).toISOString(),
    last_checked: health.lastChecked === null ? null : new Date(health.lastChecked).toISOString(),
    latency_ms: health.latencyMs === null ? null : Math.round(health.latencyMs * 1000) / 1000,
    source: health.source,
    stale: isStale(health, now, staleAfterMs, live),
    reason: health.reason,
    registry_status: health.registryStatus,
    registry_disagrees: registryDisagrees(health),
    flapping: health.flapping,
    breaker,
    maintenance: maintenance
      ? {
          until: maintenance.untilMs === null ? null : new Date(maintenance.untilMs).toISOString(),
          reason: maintenance.reason,
        }
      : null,
    usable:
      (isUsableStatus(health.status) || health.status === "unknown") &&
      !health.flapping &&
      breaker !== "open" &&
      breaker !== "isolated" &&
      maintenance === undefined,
    health_check_url: entry.healthCheckUrl,
  };
}
