import type { HealthStatus } from "./adapter.js";

/** Where an adapter's current status came from. */
export type StatusSource = "probe" | "registry" | "none";

/** A circuit breaker's state, as the domain sees it (the breaker itself lives in schedule/). */
export type BreakerState = "closed" | "open" | "half-open" | "isolated";

/** The breaker's state and its serialised form (cockatiel `toJSON()`, windows included). */
export interface BreakerSnapshot {
  state: BreakerState;
  snapshot: unknown;
}

/** What one round of checks said about an adapter. Failures are data, not exceptions. */
export interface CheckOutcome {
  /** Whether the adapter answered as usable. */
  ok: boolean;
  /** Latency of the deciding check, in milliseconds. */
  latencyMs: number;
  /** Why the check failed, or a note on success (e.g. "HTTP 200"). */
  detail: string;
  /** Which check decided the outcome. */
  source: Exclude<StatusSource, "none">;
  /** The registry's own verdict, when it was asked and answered. */
  registryStatus?: HealthStatus;
  /** When the check finished (ms since the epoch). */
  at: number;
  /** The adapter's breaker after this outcome was recorded by it. */
  breaker?: BreakerSnapshot;
}

/** Flap detection: this many status transitions within the window mark an adapter flapping. */
export interface FlapPolicy {
  transitions: number;
  windowMs: number;
}

/** Hysteresis and thresholds applied to outcomes. */
export interface HealthPolicy {
  /** Consecutive successes that take an unhealthy adapter back to usable. */
  rise: number;
  /** Consecutive failures that take a usable adapter to unhealthy. */
  fall: number;
  /** A successful check slower than this marks the adapter degraded. */
  degradedLatencyMs: number;
  flap: FlapPolicy;
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
  /** True while status changes come too often to be trusted (see FlapPolicy). */
  flapping: boolean;
  /** Times (ms) of status transitions inside the flap window, oldest first. */
  recentTransitions: number[];
  /** The adapter's circuit breaker, or null before it first reported. */
  breaker: BreakerSnapshot | null;
  /**
   * The interval the next check was scheduled at when this state was decided
   * (edge, open, watched or normal), or null before the first check: the verdict
   * is stale once that check is overdue.
   */
  checkIntervalMs: number | null;
  /**
   * The cluster member whose check gave this verdict (docs/scale-out.md); absent on
   * a daemon that runs alone.
   */
  owner?: string;
}

/** What changed, for the journal. Breaker events are added by the breaker's owner. */
export type HealthEvent =
  | {
      type: "adapter.health_changed";
      from: HealthStatus;
      to: HealthStatus;
      reason: string;
      at: number;
    }
  | {
      type: "adapter.flapping";
      status: HealthStatus;
      transitions: number;
      windowMs: number;
      at: number;
    }
  | { type: "adapter.settled"; status: HealthStatus; flappedFor: number; at: number };

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
    flapping: false,
    recentTransitions: [],
    breaker: null,
    checkIntervalMs: null,
  };
}

/** Whether the status lets a workflow use the adapter at all. */
export function isUsableStatus(status: HealthStatus): boolean {
  return status === "healthy" || status === "degraded";
}

/**
 * The registry and the daemon disagree when one calls the adapter usable and
 * the other does not (an unknown on either side is no disagreement).
 */
export function registryDisagrees(state: Pick<HealthState, "status" | "registryStatus">): boolean {
  if (state.status === "unknown" || state.registryStatus === "unknown") return false;
  return isUsableStatus(state.status) !== isUsableStatus(state.registryStatus);
}

/**
 * Folds one outcome into the state. From `unknown` the first outcome decides,
 * since there is no earlier verdict to protect; after that `rise` and `fall`
 * consecutive outcomes are needed to cross between usable and unhealthy, so a
 * single lost probe does not flip a healthy adapter. Status changes are counted
 * in a sliding window: too many mark the adapter flapping, which silences
 * per-change events until the window passes without a change.
 */
export function applyOutcome(
  state: HealthState,
  outcome: CheckOutcome,
  policy: HealthPolicy,
): { state: HealthState; events: HealthEvent[] } {
  const successes = outcome.ok ? state.consecutiveSuccesses + 1 : 0;
  const failures = outcome.ok ? 0 : state.consecutiveFailures + 1;
  const verdict = decide(state, outcome, policy, successes, failures);
  const changed = verdict.status !== state.status;
  const at = outcome.at;
  const windowStart = at - policy.flap.windowMs;
  // The first verdict (out of unknown) is not a flap.
  const transitions = state.recentTransitions.filter((time) => time > windowStart);
  if (changed && state.status !== "unknown") transitions.push(at);

  const events: HealthEvent[] = [];
  let flapping = state.flapping;
  if (!flapping && transitions.length >= policy.flap.transitions) {
    flapping = true;
    events.push({
      type: "adapter.flapping",
      status: verdict.status,
      transitions: transitions.length,
      windowMs: policy.flap.windowMs,
      at,
    });
  } else if (flapping && transitions.length === 0) {
    flapping = false;
    const flappedSince = state.recentTransitions[0] ?? at;
    events.push({
      type: "adapter.settled",
      status: verdict.status,
      flappedFor: at - flappedSince,
      at,
    });
  } else if (changed && !flapping) {
    events.push({
      type: "adapter.health_changed",
      from: state.status,
      to: verdict.status,
      reason: verdict.reason,
      at,
    });
  }
  return {
    state: {
      adapterId: state.adapterId,
      status: verdict.status,
      since: changed ? at : state.since,
      lastChecked: at,
      latencyMs: outcome.latencyMs,
      source: outcome.source,
      // Always the latest result, even when it did not change the status.
      reason: verdict.reason,
      consecutiveSuccesses: successes,
      consecutiveFailures: failures,
      registryStatus: outcome.registryStatus ?? state.registryStatus,
      flapping,
      recentTransitions: transitions,
      breaker: outcome.breaker ?? state.breaker,
      checkIntervalMs: state.checkIntervalMs,
    },
    events,
  };
}

function decide(
  state: HealthState,
  outcome: CheckOutcome,
  policy: HealthPolicy,
  successes: number,
  failures: number,
): { status: HealthStatus; reason: string } {
  if (outcome.ok) {
    const usable = usableVerdict(outcome, policy);
    if (state.status !== "unhealthy") return usable;
    if (successes >= policy.rise) {
      return {
        status: usable.status,
        reason: `${usable.reason} (${successes} consecutive successes)`,
      };
    }
    return {
      status: state.status,
      reason: `${usable.reason} (${successes} of ${policy.rise} consecutive successes needed to recover)`,
    };
  }
  if (state.status === "unknown") return { status: "unhealthy", reason: outcome.detail };
  const inARow =
    failures === 1 ? outcome.detail : `${outcome.detail} (${failures} consecutive failures)`;
  if (state.status === "unhealthy") return { status: state.status, reason: inARow };
  if (failures >= policy.fall) return { status: "unhealthy", reason: inARow };
  return {
    status: state.status,
    reason: `${outcome.detail} (${failures} of ${policy.fall} consecutive failures before unhealthy)`,
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
