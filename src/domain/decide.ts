import type { ProbeSettings } from "./adapter-settings.js";
import type { NewEvent } from "./events.js";
import {
  applyOutcome,
  type BreakerSnapshot,
  type BreakerState,
  type CheckOutcome,
  type HealthEvent,
  type HealthPolicy,
  type HealthState,
} from "./health.js";

/**
 * What one check (a poll, or a status pushed by a Watch stream) found. A report
 * changes nothing by itself: the decision step folds it into the adapter's state.
 */
export interface CheckReport {
  adapterId: string;
  /**
   * The verdict, or null when there was none: the check reached no verdict (the
   * registry, the only judge, was unreachable) or its breaker was open and it did
   * not run.
   */
  outcome: CheckOutcome | null;
  /** The adapter's breaker after the check. */
  breaker: BreakerSnapshot;
  /** The states the breaker went through during the check, in order. */
  breakerTransitions: readonly BreakerState[];
  /**
   * While the breaker is open: how long until it lets a trial check through
   * (measured by the breaker, on its own clock); undefined otherwise.
   */
  trialDueInMs?: number | undefined;
  /** True when a Watch stream pushed this status; false for a poll. */
  pushed: boolean;
  /** True while a Watch stream pushes this adapter's changes: polling is only a safety net. */
  watching: boolean;
  /** When the check finished (ms since the epoch; a label, see `decideCheck`). */
  at: number;
  /**
   * A draw in [0, 1) that places the next check within its jitter: drawn by the
   * caller so that this step stays pure.
   */
  jitterDraw: number;
}

/** Per-adapter inputs of the decision besides its state. */
export interface DecisionContext {
  policy: HealthPolicy;
  probes: ProbeSettings;
  halfOpenAfterMs: number;
  /** The adapter is in a maintenance window: its events say so. */
  maintenance: boolean;
}

/** The next state of one adapter and the events that record the change. */
export interface Decision {
  state: HealthState;
  events: NewEvent[];
}

/**
 * Failing but not yet unhealthy, or recovering but not yet healthy: rise or fall
 * has not decided yet, so the adapter is looked at sooner.
 */
export function onEdge(state: HealthState): boolean {
  if (state.status === "unhealthy") return state.consecutiveSuccesses > 0;
  if (state.status === "unknown") return false;
  return state.consecutiveFailures > 0;
}

/**
 * How long until the adapter's next check, by what its state needs: while its
 * breaker is open, checks before the half-open trial would only be skipped, so the
 * next one is at the trial or after the open interval, whichever is later; on
 * an edge, soon (never later than the edge interval: jitter only brings it in);
 * while a Watch stream pushes changes, only the safety-net poll; otherwise the
 * regular interval.
 */
export function nextCheckDelayMs(
  state: HealthState,
  context: Pick<DecisionContext, "probes" | "halfOpenAfterMs">,
  report: Pick<CheckReport, "watching" | "jitterDraw" | "trialDueInMs">,
): number {
  const { probes } = context;
  const { jitterDraw, watching } = report;
  const spread = (base: number) => base + (jitterDraw * 2 - 1) * base * probes.jitter;
  if (state.breaker?.state === "open") {
    const untilTrial = Math.min(report.trialDueInMs ?? 0, context.halfOpenAfterMs);
    // A little past the trial's time, so the breaker has surely let it through.
    return Math.max(spread(probes.openIntervalMs), untilTrial + TRIAL_MARGIN_MS);
  }
  if (onEdge(state)) return probes.edgeIntervalMs * (1 - jitterDraw * probes.jitter);
  if (watching) return spread(probes.watchedIntervalMs);
  return spread(probes.intervalMs);
}

/** How long after its half-open time an open breaker's trial check is scheduled. */
const TRIAL_MARGIN_MS = 20;

const BREAKER_EVENTS: Partial<Record<BreakerState, NewEvent["type"]>> = {
  open: "breaker.opened",
  "half-open": "breaker.half_opened",
  closed: "breaker.closed",
};

/**
 * Folds one report into the adapter's state: hysteresis, degraded and flap damping
 * (see `applyOutcome`) for a verdict, the breaker's new snapshot and its
 * transitions as events, and when the next check is due. Pushed and polled results
 * are treated alike. Times in the state that lie ahead of the report (a wall clock
 * stepped back) are pulled back to it, so a clock step never holds a flap window
 * for the size of the step (the breaker's own times are repaired where it runs).
 */
export function decideCheck(
  current: HealthState,
  report: CheckReport,
  context: DecisionContext,
): Decision {
  const at = report.at;
  const base = clampStateTimes(current, at);
  const { breaker } = report;
  const events: NewEvent[] = breakerEvents(report, at);
  let state: HealthState;
  if (report.outcome) {
    const applied = applyOutcome(base, { ...report.outcome, breaker }, context.policy);
    state = applied.state;
    for (const event of applied.events) {
      events.push(toJournalEvent(report.adapterId, event, state, context.maintenance));
    }
  } else {
    state = { ...base, breaker };
  }
  const checkIntervalMs = nextCheckDelayMs(state, context, report);
  return { state: { ...state, checkIntervalMs: Math.round(checkIntervalMs) }, events };
}

/** Whether a report without a verdict changes nothing worth committing. */
export function changesNothing(current: HealthState, report: CheckReport): boolean {
  return (
    report.outcome === null &&
    report.breakerTransitions.length === 0 &&
    (current.breaker?.state ?? "closed") === report.breaker.state
  );
}

function breakerEvents(report: CheckReport, at: number): NewEvent[] {
  const events: NewEvent[] = [];
  for (const state of report.breakerTransitions) {
    const type = BREAKER_EVENTS[state];
    if (!type) continue;
    events.push({
      type,
      subject: report.adapterId,
      time: at,
      data: {
        adapter_id: report.adapterId,
        state,
        ...(state === "open" ? { last_failure: report.outcome?.detail ?? null } : {}),
      },
    });
  }
  return events;
}

/** Pulls times recorded ahead of `at` back to it (a wall clock that stepped back). */
export function clampStateTimes(state: HealthState, at: number): HealthState {
  const ahead =
    state.since > at ||
    (state.lastChecked !== null && state.lastChecked > at) ||
    state.recentTransitions.some((time) => time > at);
  if (!ahead) return state;
  return {
    ...state,
    since: Math.min(state.since, at),
    lastChecked: state.lastChecked === null ? null : Math.min(state.lastChecked, at),
    recentTransitions: state.recentTransitions.map((time) => Math.min(time, at)),
  };
}

/** A health, flapping or settled event as the journal records it. */
export function toJournalEvent(
  adapterId: string,
  event: HealthEvent,
  state: HealthState,
  maintenance: boolean,
): NewEvent {
  const common = { adapter_id: adapterId, ...(maintenance ? { maintenance: true } : {}) };
  switch (event.type) {
    case "adapter.health_changed":
      return {
        type: event.type,
        subject: adapterId,
        time: event.at,
        data: {
          ...common,
          from: event.from,
          to: event.to,
          reason: event.reason,
          consecutive_successes: state.consecutiveSuccesses,
          consecutive_failures: state.consecutiveFailures,
          source: state.source,
          registry_status: state.registryStatus,
        },
      };
    case "adapter.flapping":
      return {
        type: event.type,
        subject: adapterId,
        time: event.at,
        data: {
          ...common,
          status: event.status,
          transitions: event.transitions,
          window_ms: event.windowMs,
        },
      };
    case "adapter.settled":
      return {
        type: event.type,
        subject: adapterId,
        time: event.at,
        data: { ...common, status: event.status, flapped_for_ms: event.flappedFor },
      };
  }
}
