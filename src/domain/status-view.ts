import type { AdapterEntry, HealthStatus } from "./adapter.js";
import type { HealthState, StatusSource } from "./health.js";

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
  health_check_url: string;
}

export interface RegistryView {
  endpoint: string;
  reachable: boolean;
  last_sync: string | null;
  last_error: string | null;
}

export function isStale(health: HealthState, now: number, staleAfterMs: number): boolean {
  return health.lastChecked === null || now - health.lastChecked > staleAfterMs;
}

export function toStatusView(
  entry: AdapterEntry,
  health: HealthState,
  now: number,
  staleAfterMs: number,
): AdapterStatusView {
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
    stale: isStale(health, now, staleAfterMs),
    reason: health.reason,
    registry_status: health.registryStatus,
    health_check_url: entry.healthCheckUrl,
  };
}
