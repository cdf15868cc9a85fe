import type { AdapterEntry, HealthStatus } from "./adapter.js";
import {
  type BreakerState,
  type HealthState,
  isUsableStatus,
  registryDisagrees,
  type StatusSource,
} from "./health.js";
import type { ActiveMaintenance } from "./maintenance.js";
import { roundToMicroseconds } from "./round-to-microseconds.js";

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
  /**
   * How long ago the last check finished, in ms (null when never checked). With
   * `owner`, only on a verdict a cluster member gave: a daemon that runs alone
   * answers as it always has (`last_checked` and `stale` say the same).
   */
  age_ms?: number | null;
  /** The cluster member whose check gave this verdict (docs/scale-out.md). */
  owner?: string;
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
 * When a verdict is stale: when its adapter's next check is overdue, that is its
 * last result is older than the interval that check was scheduled at (edge,
 * open, watched or normal, jitter included; see `HealthState.checkIntervalMs`)
 * plus `graceMs`: `probes.stale_after_sec` when set, else the longest a check may
 * take plus a second for its commit.
 */
export interface StaleRule {
  graceMs: number;
  /** For a verdict stored without its interval (written before intervals were kept). */
  fallbackAfterMs: number;
}

/** What the grace adds to the longest check time: the commit and a turn of the event loop. */
export const STALE_SLACK_MS = 1_000;

/** What staleness reads of a verdict. */
export type VerdictTimes = Pick<HealthState, "lastChecked" | "checkIntervalMs">;

/** The limit past which this verdict is stale, in ms after its last check. */
export function staleLimitMs(health: VerdictTimes, rule: StaleRule): number {
  if (health.checkIntervalMs === null) return rule.fallbackAfterMs;
  return health.checkIntervalMs + rule.graceMs;
}

/**
 * Whether a verdict is stale, given how long ago its last check finished
 * (`ageMs`; the daemon measures it on a monotonic clock, readers of the file by
 * the wall clock). A verdict never checked is stale.
 */
export function isStale(health: VerdictTimes, ageMs: number, rule: StaleRule): boolean {
  if (health.lastChecked === null) return true;
  return ageMs > staleLimitMs(health, rule);
}

/** The daemon_meta key under which the daemon keeps its rule for readers of the file. */
export const STALE_RULE_META = "stale_rule";

/** The defaults' rule (15 s interval, 5 s timeout), for a file that does not say. */
export const DEFAULT_OFFLINE_STALE_RULE: StaleRule = {
  graceMs: 5_000 + STALE_SLACK_MS,
  fallbackAfterMs: 3 * 15_000 + 5_000 + STALE_SLACK_MS,
};

/** The rule as kept in the database file, so that readers of the file judge alike. */
export function encodeStaleRule(rule: StaleRule): string {
  return JSON.stringify(rule);
}

export function decodeStaleRule(text: string | undefined, fallback: StaleRule): StaleRule {
  if (text === undefined) return fallback;
  try {
    const value = JSON.parse(text) as Partial<StaleRule>;
    return {
      graceMs: typeof value.graceMs === "number" ? value.graceMs : fallback.graceMs,
      fallbackAfterMs:
        typeof value.fallbackAfterMs === "number"
          ? value.fallbackAfterMs
          : fallback.fallbackAfterMs,
    };
  } catch {
    return fallback;
  }
}

/** What a status view shows of a catalog entry. */
export type StatusViewEntry = Pick<
  AdapterEntry,
  "adapterId" | "project" | "domain" | "category" | "provider" | "healthCheckUrl"
>;

/**
 * What a status view shows of a verdict: a HealthState is one, and so is a
 * row read for a listing alone (no breaker snapshot, counters or transitions).
 */
export interface StatusViewHealth
  extends Pick<
    HealthState,
    | "status"
    | "since"
    | "lastChecked"
    | "latencyMs"
    | "source"
    | "reason"
    | "registryStatus"
    | "flapping"
    | "checkIntervalMs"
    | "owner"
  > {
  breaker: { readonly state: BreakerState } | null;
}

/**
 * `ageMs` is how long ago the last check finished (the daemon's monotonic clock,
 * a reader of the file's wall clock); infinite or anything for a verdict never checked.
 */
export function toStatusView(
  entry: StatusViewEntry,
  health: StatusViewHealth,
  stale: boolean,
  ageMs: number,
  maintenance?: ActiveMaintenance,
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
    latency_ms: health.latencyMs === null ? null : roundToMicroseconds(health.latencyMs),
    source: health.source,
    stale,
    ...(health.owner === undefined
      ? {}
      : {
          age_ms:
            health.lastChecked === null || !Number.isFinite(ageMs)
              ? null
              : Math.max(0, Math.round(ageMs)),
          owner: health.owner,
        }),
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
