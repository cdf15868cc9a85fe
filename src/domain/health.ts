import type { HealthStatus } from "./adapter.js";

/** Where an adapter's current status came from. */
export type StatusSource = "probe" | "registry" | "none";

/** What one round of checks said about an adapter. Failures are data, not exceptions. */
export interface CheckOutcome {
  /** Whether the adapter answered as usable. */
  ok: boolean;
  /** Latency of the deciding check, in milliseconds. */
  latencyMs: number;
  /** Why the check failed, or a note on success (e.g. "slow"). */
  detail: string;
  /** Which check decided the outcome. */
  source: Exclude<StatusSource, "none">;
  /** The registry's own verdict, when it was asked and answered. */
  registryStatus?: HealthStatus;
  /** When the check finished (ms since the epoch). */
  at: number;
}

/** Hysteresis and thresholds applied to outcomes. */
export interface HealthPolicy {
  /** Consecutive successes that take an unhealthy adapter back to healthy. */
  rise: number;
  /** Consecutive failures that take a healthy adapter to unhealthy. */
  fall: number;
  /** A successful check slower than this marks the adapter degraded. */
  degradedLatencyMs: number;
}

/** The daemon's verdict on one adapter. */
export interface HealthState {
  adapterId: string;
  status: HealthStatus;
  /** When the status last changed (ms since the epoch). */
  since: number;
  /** When a check last finished, or null if never. */
  lastChecked: number | null;
  latencyMs: number | null;
  source: StatusSource;
  reason: string;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  /** The registry's own view, kept beside the daemon's so disagreement is visible. */
  registryStatus: HealthStatus;
}

export interface StatusChange {
  adapterId: string;
  from: HealthStatus;
  to: HealthStatus;
  reason: string;
  at: number;
}

export function initialHealth(
  adapterId: string,
  registryStatus: HealthStatus,
  now: number,
): HealthState {
  return {
    adapterId,
    status: "unknown",
    since: now,
    lastChecked: null,
    latencyMs: null,
    source: "none",
    reason: "not checked yet",
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
    registryStatus,
  };
}

/**
 * Folds one outcome into the state. From `unknown` the first outcome decides,
 * since there is no earlier verdict to protect; after that `rise` and `fall`
 * consecutive outcomes are needed to cross between usable and unhealthy, so a
 * single lost probe does not flip a healthy adapter.
 */
export function applyOutcome(
  state: HealthState,
  outcome: CheckOutcome,
  policy: HealthPolicy,
): { state: HealthState; change?: StatusChange } {
  const successes = outcome.ok ? state.consecutiveSuccesses + 1 : 0;
  const failures = outcome.ok ? 0 : state.consecutiveFailures + 1;
  const usableStatus = usableVerdict(outcome, policy);
  let status = state.status;
  let reason = state.reason;
  if (outcome.ok) {
    if (state.status === "unknown" || state.status === "healthy" || state.status === "degraded") {
      status = usableStatus.status;
      reason = usableStatus.reason;
    } else if (successes >= policy.rise) {
      status = usableStatus.status;
      reason = `${usableStatus.reason} (${successes} consecutive successes)`;
    }
  } else if (state.status === "unknown" || failures >= policy.fall) {
    status = "unhealthy";
    reason =
      state.status === "unknown" || failures === 1
        ? outcome.detail
        : `${outcome.detail} (${failures} consecutive failures)`;
  }
  const next: HealthState = {
    adapterId: state.adapterId,
    status,
    since: status === state.status ? state.since : outcome.at,
    lastChecked: outcome.at,
    latencyMs: outcome.latencyMs,
    source: outcome.source,
    reason: status === state.status && status !== "unknown" ? state.reason : reason,
    consecutiveSuccesses: successes,
    consecutiveFailures: failures,
    registryStatus: outcome.registryStatus ?? state.registryStatus,
  };
  if (status === state.status) return { state: next };
  return {
    state: next,
    change: { adapterId: state.adapterId, from: state.status, to: status, reason, at: outcome.at },
  };
}

function usableVerdict(
  outcome: CheckOutcome,
  policy: HealthPolicy,
): { status: HealthStatus; reason: string } {
  if (outcome.latencyMs > policy.degradedLatencyMs) {
    return {
      status: "degraded",
      reason: `answered in ${Math.round(outcome.latencyMs)} ms, over the ${policy.degradedLatencyMs} ms threshold`,
    };
  }
  if (outcome.registryStatus === "degraded") {
    return { status: "degraded", reason: "registry reports degraded" };
  }
  return { status: "healthy", reason: outcome.detail || "check passed" };
}
