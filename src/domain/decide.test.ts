import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TEST_PROBE_SETTINGS } from "../../test/support/adapter-settings.js";
import type { ProbeSettings } from "./adapter-settings.js";
import {
  type CheckReport,
  changesNothing,
  clampStateTimes,
  type DecisionContext,
  decideCheck,
  nextCheckDelayMs,
  onEdge,
} from "./decide.js";
import {
  type BreakerSnapshot,
  type BreakerState,
  type CheckOutcome,
  type HealthState,
  initialHealth,
} from "./health.js";

const T0 = Date.parse("2025-06-01T00:00:00Z");
const HOUR = 3_600_000;
const ID = "t.adapter.cache.redis";

const PROBES: ProbeSettings = TEST_PROBE_SETTINGS;

const HALF_OPEN_AFTER = 30_000;
const FLAP_WINDOW = 120_000;

function context(overrides: Partial<DecisionContext> = {}): DecisionContext {
  return {
    policy: {
      rise: PROBES.rise,
      fall: PROBES.fall,
      degradedLatencyMs: PROBES.degradedLatencyMs,
      flap: { transitions: 4, windowMs: FLAP_WINDOW },
    },
    probes: PROBES,
    halfOpenAfterMs: HALF_OPEN_AFTER,
    maintenance: false,
    ...overrides,
  };
}

function breaker(state: BreakerState): BreakerSnapshot {
  return { state, snapshot: { kind: state } };
}

function outcome(ok: boolean, at: number, overrides: Partial<CheckOutcome> = {}): CheckOutcome {
  return {
    ok,
    latencyMs: 12,
    detail: ok ? "HTTP 200" : "HTTP 503",
    source: "probe",
    at,
    ...overrides,
  };
}

function report(overrides: Partial<CheckReport> = {}): CheckReport {
  const at = overrides.at ?? T0;
  return {
    adapterId: ID,
    outcome: outcome(true, at),
    breaker: breaker("closed"),
    breakerTransitions: [],
    trialDueInMs: undefined,
    pushed: false,
    watching: false,
    at,
    jitterDraw: 0.5,
    ...overrides,
  };
}

/** A healthy adapter, checked once, its breaker closed. */
function healthy(at = T0): HealthState {
  return {
    ...initialHealth(ID, "healthy", at - 60_000),
    status: "healthy",
    since: at - 60_000,
    lastChecked: at - 15_000,
    latencyMs: 12,
    source: "probe",
    reason: "HTTP 200",
    consecutiveSuccesses: 4,
    breaker: breaker("closed"),
    checkIntervalMs: 15_000,
  };
}

/** Folds reports one after another, returning every decision. */
function fold(start: HealthState, reports: CheckReport[], ctx = context()) {
  const decisions = [];
  let state = start;
  for (const next of reports) {
    const decision = decideCheck(state, next, ctx);
    decisions.push(decision);
    state = decision.state;
  }
  return decisions;
}

const failureAt = (at: number, overrides: Partial<CheckReport> = {}) =>
  report({ at, outcome: outcome(false, at), ...overrides });
const successAt = (at: number, overrides: Partial<CheckReport> = {}) =>
  report({ at, outcome: outcome(true, at), ...overrides });

/** Any draw in [0, 1). */
const draws = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("decideCheck: hysteresis and the edge", () => {
  it("counts a pushed failure like a polled one", () => {
    const at = T0 + 1_000;
    const polled = decideCheck(healthy(), failureAt(at), context());
    const pushed = decideCheck(
      healthy(),
      failureAt(at, { pushed: true, watching: true, jitterDraw: 0.5 }),
      context(),
    );
    expect(pushed.state).toEqual(polled.state);
    expect(pushed.events).toEqual(polled.events);
    expect(pushed.state).toMatchObject({
      status: "healthy",
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
      lastChecked: at,
    });
    expect(onEdge(pushed.state)).toBe(true);
  });

  it("puts a usable adapter on the edge after one failure: the next check within the edge interval, whatever the draw", () => {
    fc.assert(
      fc.property(draws, fc.boolean(), fc.boolean(), (jitterDraw, pushed, watching) => {
        const decision = decideCheck(
          healthy(),
          failureAt(T0, { jitterDraw, pushed, watching }),
          context(),
        );
        const interval = decision.state.checkIntervalMs ?? Number.NaN;
        expect(interval).toBeLessThanOrEqual(PROBES.edgeIntervalMs);
        expect(interval).toBeGreaterThanOrEqual(PROBES.edgeIntervalMs * (1 - PROBES.jitter));
      }),
    );
  });

  it("turns unhealthy after `fall` failures in a row, and is off the edge then", () => {
    const decisions = fold(
      healthy(),
      [1, 2, 3].map((i) => failureAt(T0 + i * 5_000)),
    );
    expect(decisions.map((decision) => decision.state.status)).toEqual([
      "healthy",
      "healthy",
      "unhealthy",
    ]);
    const last = decisions[2];
    expect(onEdge(last?.state ?? healthy())).toBe(false);
    // Back at the regular interval (jitter 0.1, draw 0.5: exactly it).
    expect(last?.state.checkIntervalMs).toBe(PROBES.intervalMs);
    expect(last?.state.since).toBe(T0 + 15_000);
    expect(last?.events).toEqual([
      {
        type: "adapter.health_changed",
        subject: ID,
        time: T0 + 15_000,
        data: {
          adapter_id: ID,
          from: "healthy",
          to: "unhealthy",
          reason: "HTTP 503 (3 consecutive failures)",
          consecutive_successes: 0,
          consecutive_failures: 3,
          source: "probe",
          registry_status: "healthy",
        },
      },
    ]);
  });

  it("is on the edge while recovering, until `rise` successes make it usable", () => {
    const [down] = fold(
      healthy(),
      [failureAt(T0)],
      context({ policy: { ...context().policy, fall: 1 } }),
    );
    expect(down?.state.status).toBe("unhealthy");
    const decisions = fold(down?.state ?? healthy(), [
      successAt(T0 + 5_000),
      successAt(T0 + 10_000),
    ]);
    expect(decisions[0]?.state.status).toBe("unhealthy");
    expect(onEdge(decisions[0]?.state ?? healthy())).toBe(true);
    expect(decisions[0]?.state.checkIntervalMs).toBeLessThanOrEqual(PROBES.edgeIntervalMs);
    expect(decisions[1]?.state.status).toBe("healthy");
    expect(onEdge(decisions[1]?.state ?? healthy())).toBe(false);
  });

  it("decides from unknown at once: the first verdict is not held back by rise or fall", () => {
    const fresh = initialHealth(ID, "healthy", T0);
    expect(onEdge(fresh)).toBe(false);
    const failed = decideCheck(fresh, failureAt(T0 + 1), context());
    expect(failed.state).toMatchObject({ status: "unhealthy", reason: "HTTP 503" });
    expect(onEdge(failed.state)).toBe(false);
    const passed = decideCheck(fresh, successAt(T0 + 1), context());
    expect(passed.state).toMatchObject({ status: "healthy", reason: "HTTP 200" });
  });

  it("marks events of an adapter in maintenance", () => {
    const decision = decideCheck(
      initialHealth(ID, "healthy", T0),
      failureAt(T0 + 1),
      context({ maintenance: true }),
    );
    expect(decision.events).toHaveLength(1);
    expect(decision.events[0]?.data).toMatchObject({ maintenance: true, to: "unhealthy" });
  });
});

describe("decideCheck: the reason describes the latest result", () => {
  it("counts failures towards fall, then successes towards rise, and clears on a success", () => {
    const times = [1, 2, 3, 4, 5].map((i) => T0 + i * 5_000);
    const [t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0] = times;
    const reasons = fold(healthy(), [
      failureAt(t1),
      successAt(t2),
      failureAt(t3),
      failureAt(t4),
      failureAt(t5),
      successAt(t5 + 5_000),
      successAt(t5 + 10_000),
    ]).map((decision) => [decision.state.status, decision.state.reason]);
    expect(reasons).toEqual([
      ["healthy", "HTTP 503 (1 of 3 consecutive failures before unhealthy)"],
      // The failure is not kept as the reason once a success follows it.
      ["healthy", "HTTP 200"],
      ["healthy", "HTTP 503 (1 of 3 consecutive failures before unhealthy)"],
      ["healthy", "HTTP 503 (2 of 3 consecutive failures before unhealthy)"],
      ["unhealthy", "HTTP 503 (3 consecutive failures)"],
      ["unhealthy", "HTTP 200 (1 of 2 consecutive successes needed to recover)"],
      ["healthy", "HTTP 200 (2 consecutive successes)"],
    ]);
  });

  it("describes a failure while unhealthy with its own detail and count", () => {
    const decisions = fold(healthy(), [
      failureAt(T0 + 1_000),
      failureAt(T0 + 2_000),
      failureAt(T0 + 3_000),
      report({
        at: T0 + 4_000,
        outcome: outcome(false, T0 + 4_000, { detail: "connect ECONNREFUSED" }),
      }),
    ]);
    expect(decisions.at(-1)?.state.reason).toBe("connect ECONNREFUSED (4 consecutive failures)");
    // No second health event: the status did not change.
    expect(decisions.at(-1)?.events).toEqual([]);
  });
});

describe("decideCheck: the breaker", () => {
  it("turns breaker transitions into events, in order, the opening one naming the failure", () => {
    const at = T0 + 1_000;
    const decision = decideCheck(
      healthy(),
      report({
        at,
        outcome: outcome(false, at, { detail: "still down" }),
        breaker: breaker("open"),
        breakerTransitions: ["half-open", "open"],
        trialDueInMs: HALF_OPEN_AFTER,
      }),
      context(),
    );
    expect(decision.events).toEqual([
      {
        type: "breaker.half_opened",
        subject: ID,
        time: at,
        data: { adapter_id: ID, state: "half-open" },
      },
      {
        type: "breaker.opened",
        subject: ID,
        time: at,
        data: { adapter_id: ID, state: "open", last_failure: "still down" },
      },
    ]);
    expect(decision.state.breaker).toEqual(breaker("open"));
  });

  it("records a closing trial as half_opened then closed, and no event for isolation", () => {
    const closing = decideCheck(
      healthy(),
      successAt(T0, { breakerTransitions: ["half-open", "closed"] }),
      context(),
    );
    expect(closing.events.map((event) => [event.type, event.data])).toEqual([
      ["breaker.half_opened", { adapter_id: ID, state: "half-open" }],
      ["breaker.closed", { adapter_id: ID, state: "closed" }],
    ]);
    const isolated = decideCheck(
      healthy(),
      report({ outcome: null, breaker: breaker("isolated"), breakerTransitions: ["isolated"] }),
      context(),
    );
    expect(isolated.events).toEqual([]);
    expect(isolated.state.breaker?.state).toBe("isolated");
  });

  it("names no failure when the breaker opened on a check without a verdict", () => {
    const decision = decideCheck(
      healthy(),
      report({ outcome: null, breaker: breaker("open"), breakerTransitions: ["open"] }),
      context(),
    );
    expect(decision.events).toEqual([
      {
        type: "breaker.opened",
        subject: ID,
        time: T0,
        data: { adapter_id: ID, state: "open", last_failure: null },
      },
    ]);
  });

  it("puts breaker events before the health events of the same check", () => {
    const decision = decideCheck(
      initialHealth(ID, "healthy", T0),
      failureAt(T0, { breaker: breaker("open"), breakerTransitions: ["open"] }),
      context(),
    );
    expect(decision.events.map((event) => event.type)).toEqual([
      "breaker.opened",
      "adapter.health_changed",
    ]);
  });

  it("changes only the breaker (and when the next check is due) for a report without a verdict", () => {
    const current = healthy();
    const skipped = report({
      outcome: null,
      breaker: breaker("open"),
      breakerTransitions: [],
      trialDueInMs: 10_000,
    });
    const decision = decideCheck(current, skipped, context());
    expect(decision.events).toEqual([]);
    expect(decision.state).toEqual({
      ...current,
      breaker: breaker("open"),
      checkIntervalMs: decision.state.checkIntervalMs,
    });
    expect(decision.state.checkIntervalMs).not.toBe(current.checkIntervalMs);
  });

  it("waits, while open, for the later of the open interval and the trial", () => {
    const open = { ...healthy(), breaker: breaker("open") };
    const short = { ...PROBES, openIntervalMs: 5_000, jitter: 0 };
    const delay = (trialDueInMs: number | undefined, probes = short) =>
      nextCheckDelayMs(
        open,
        { probes, halfOpenAfterMs: HALF_OPEN_AFTER },
        { watching: false, jitterDraw: 0.5, trialDueInMs },
      );
    // The trial is further off than the open interval: a little after the trial.
    expect(delay(25_000)).toBeGreaterThan(25_000);
    expect(delay(25_000)).toBeLessThanOrEqual(25_000 + 100);
    // The trial is sooner: the open interval.
    expect(delay(1_000)).toBe(5_000);
    // The open interval is the longer (the defaults: 60 s against 30 s): it decides.
    expect(delay(25_000, { ...PROBES, jitter: 0 })).toBe(60_000);
    // A trial time beyond halfOpenAfter (a breaker clock ahead) is capped at it.
    expect(delay(HOUR)).toBeGreaterThan(HALF_OPEN_AFTER);
    expect(delay(HOUR)).toBeLessThanOrEqual(HALF_OPEN_AFTER + 100);
    // Not said: due now, and the open interval.
    expect(delay(undefined)).toBe(5_000);
  });

  it("never waits past halfOpenAfter and its margin for the trial, whatever the draw and the breaker says", () => {
    fc.assert(
      fc.property(
        draws,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 10 * HOUR }),
        fc.integer({ min: 1, max: 120_000 }),
        (jitterDraw, jitter, trialDueInMs, openIntervalMs) => {
          const probes = { ...PROBES, jitter, openIntervalMs };
          const delay = nextCheckDelayMs(
            { ...healthy(), breaker: breaker("open") },
            { probes, halfOpenAfterMs: HALF_OPEN_AFTER },
            { watching: false, jitterDraw, trialDueInMs },
          );
          const openSpread = openIntervalMs + (jitterDraw * 2 - 1) * openIntervalMs * jitter;
          expect(delay).toBeGreaterThan(Math.min(trialDueInMs, HALF_OPEN_AFTER));
          expect(delay).toBeGreaterThanOrEqual(openSpread);
          expect(delay).toBeLessThanOrEqual(Math.max(openSpread, HALF_OPEN_AFTER + 100));
        },
      ),
    );
  });

  it("schedules an open breaker by its trial even while on the edge or watched", () => {
    const decision = decideCheck(
      healthy(),
      failureAt(T0, {
        breaker: breaker("open"),
        breakerTransitions: ["open"],
        trialDueInMs: HALF_OPEN_AFTER,
        watching: true,
      }),
      context({ probes: { ...PROBES, openIntervalMs: 5_000, jitter: 0 } }),
    );
    expect(onEdge(decision.state)).toBe(true);
    expect(decision.state.checkIntervalMs).toBeGreaterThan(HALF_OPEN_AFTER);
    expect(decision.state.checkIntervalMs).toBeLessThanOrEqual(HALF_OPEN_AFTER + 100);
  });
});

describe("nextCheckDelayMs", () => {
  it("keeps the edge delay within [0, edgeIntervalMs] for any draw in [0, 1) and any jitter in [0, 1]", () => {
    const edge = { ...healthy(), consecutiveFailures: 1 };
    fc.assert(
      fc.property(
        draws,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (jitterDraw, jitter, watching) => {
          const delay = nextCheckDelayMs(
            edge,
            { probes: { ...PROBES, jitter }, halfOpenAfterMs: HALF_OPEN_AFTER },
            { watching, jitterDraw, trialDueInMs: undefined },
          );
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(PROBES.edgeIntervalMs);
        },
      ),
    );
  });

  it("gives the watched interval while a Watch stream pushes, the regular one otherwise", () => {
    fc.assert(
      fc.property(draws, (jitterDraw) => {
        const at = (watching: boolean) =>
          nextCheckDelayMs(
            healthy(),
            { probes: PROBES, halfOpenAfterMs: HALF_OPEN_AFTER },
            { watching, jitterDraw, trialDueInMs: undefined },
          );
        const { jitter, watchedIntervalMs, intervalMs } = PROBES;
        expect(at(true)).toBeGreaterThanOrEqual(watchedIntervalMs * (1 - jitter) - 1e-6);
        expect(at(true)).toBeLessThanOrEqual(watchedIntervalMs * (1 + jitter));
        expect(at(false)).toBeGreaterThanOrEqual(intervalMs * (1 - jitter) - 1e-6);
        expect(at(false)).toBeLessThanOrEqual(intervalMs * (1 + jitter));
      }),
    );
    const watched = decideCheck(healthy(), successAt(T0, { watching: true }), context());
    expect(watched.state.checkIntervalMs).toBe(PROBES.watchedIntervalMs);
  });

  it("keeps checkIntervalMs a whole number of ms, as the store's INTEGER column needs", () => {
    fc.assert(
      fc.property(
        draws,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom<BreakerState>("closed", "open", "half-open"),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: HOUR }),
        (jitterDraw, jitter, breakerState, ok, watching, trialDueInMs) => {
          const decision = decideCheck(
            healthy(),
            report({
              outcome: outcome(ok, T0),
              breaker: breaker(breakerState),
              jitterDraw,
              watching,
              trialDueInMs,
            }),
            context({
              probes: { ...PROBES, jitter, intervalMs: 15_001, edgeIntervalMs: 4_999 },
            }),
          );
          expect(Number.isInteger(decision.state.checkIntervalMs)).toBe(true);
        },
      ),
    );
  });
});

describe("decideCheck: times ahead of the report (a wall clock stepped back)", () => {
  it("pulls since, lastChecked and recentTransitions back to the report", () => {
    const at = T0;
    const ahead: HealthState = {
      ...healthy(),
      since: at + HOUR,
      lastChecked: at + HOUR,
      recentTransitions: [at + HOUR - 1_000, at + HOUR],
    };
    const decision = decideCheck(ahead, report({ at, outcome: null }), context());
    expect(decision.state.since).toBe(at);
    expect(decision.state.lastChecked).toBe(at);
    expect(decision.state.recentTransitions).toEqual([at, at]);
  });

  it("ends a flap window started in the future windowMs after the report, not later", () => {
    const at = T0;
    const flapping: HealthState = {
      ...healthy(),
      flapping: true,
      since: at + HOUR,
      lastChecked: at + HOUR,
      recentTransitions: [at + HOUR - 3_000, at + HOUR - 2_000, at + HOUR - 1_000, at + HOUR],
    };
    const [first, justBefore, settled] = fold(flapping, [
      successAt(at),
      successAt(at + FLAP_WINDOW - 1),
      successAt(at + FLAP_WINDOW),
    ]);
    expect(first?.state.flapping).toBe(true);
    expect(first?.state.recentTransitions).toEqual([at, at, at, at]);
    expect(justBefore?.state.flapping).toBe(true);
    expect(justBefore?.events).toEqual([]);
    expect(settled?.state.flapping).toBe(false);
    expect(settled?.state.recentTransitions).toEqual([]);
    expect(settled?.events).toEqual([
      {
        type: "adapter.settled",
        subject: ID,
        time: at + FLAP_WINDOW,
        data: { adapter_id: ID, status: "healthy", flapped_for_ms: FLAP_WINDOW },
      },
    ]);
  });

  it("records a status change at the report's time, not before the stepped-back since", () => {
    const at = T0;
    const ahead: HealthState = { ...healthy(), since: at + HOUR, lastChecked: at + HOUR };
    const [decision] = fold(
      ahead,
      [failureAt(at)],
      context({ policy: { ...context().policy, fall: 1 } }),
    );
    expect(decision?.state).toMatchObject({ status: "unhealthy", since: at, lastChecked: at });
    expect(decision?.state.recentTransitions).toEqual([at]);
  });

  it("leaves a state with nothing ahead as it is (the same object)", () => {
    const state = healthy();
    expect(clampStateTimes(state, T0)).toBe(state);
    const ahead = { ...state, lastChecked: T0 + 1 };
    const clamped = clampStateTimes(ahead, T0);
    expect(clamped).not.toBe(ahead);
    expect(clamped).toEqual({ ...ahead, lastChecked: T0 });
    expect(ahead.lastChecked).toBe(T0 + 1);
  });
});

describe("changesNothing", () => {
  it("is true only for a report with no verdict, no transition and the same breaker state", () => {
    const current = healthy();
    expect(changesNothing(current, report({ outcome: null }))).toBe(true);
    // Before the first check the breaker counts as closed.
    expect(changesNothing({ ...current, breaker: null }, report({ outcome: null }))).toBe(true);
    expect(changesNothing(current, report())).toBe(false);
    expect(
      changesNothing(current, report({ outcome: null, breakerTransitions: ["half-open", "open"] })),
    ).toBe(false);
    expect(changesNothing(current, report({ outcome: null, breaker: breaker("open") }))).toBe(
      false,
    );
  });
});
