import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HEALTH_STATUSES, type HealthStatus } from "../../../src/domain/adapter.js";
import type { ProbeSettings } from "../../../src/domain/adapter-settings.js";
import { type CheckReport, type DecisionContext, decideCheck } from "../../../src/domain/decide.js";
import {
  type BreakerState,
  type HealthState,
  initialHealth,
  isUsableStatus,
} from "../../../src/domain/health.js";

/**
 * Invariants of the per-adapter state machine over long random runs of check
 * reports: verdicts and reports without one, slow answers, registry opinions,
 * breaker transitions, Watch pushes, and a clock that mostly moves forward but
 * sometimes jumps either way.
 */

const T0 = Date.parse("2026-11-26T12:00:00Z");
const ID = "p.adapter.cache.redis";
const BREAKER_STATES: readonly BreakerState[] = ["closed", "open", "half-open", "isolated"];
const BREAKER_EVENT: Record<BreakerState, string | undefined> = {
  open: "breaker.opened",
  "half-open": "breaker.half_opened",
  closed: "breaker.closed",
  isolated: undefined,
};

const settingsArbitrary: fc.Arbitrary<DecisionContext> = fc
  .record({
    rise: fc.integer({ min: 1, max: 6 }),
    fall: fc.integer({ min: 1, max: 6 }),
    intervalMs: fc.integer({ min: 100, max: 600_000 }),
    edgeIntervalMs: fc.integer({ min: 50, max: 600_000 }),
    openIntervalMs: fc.integer({ min: 100, max: 3_600_000 }),
    watchedIntervalMs: fc.integer({ min: 100, max: 3_600_000 }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    degradedLatencyMs: fc.integer({ min: 1, max: 5_000 }),
    flapTransitions: fc.integer({ min: 2, max: 8 }),
    flapWindowMs: fc.integer({ min: 1_000, max: 600_000 }),
    halfOpenAfterMs: fc.integer({ min: 100, max: 600_000 }),
    maintenance: fc.boolean(),
  })
  .map((s) => {
    const probes: ProbeSettings = {
      intervalMs: s.intervalMs,
      edgeIntervalMs: s.edgeIntervalMs,
      openIntervalMs: s.openIntervalMs,
      watchedIntervalMs: s.watchedIntervalMs,
      timeoutMs: 5_000,
      jitter: s.jitter,
      rise: s.rise,
      fall: s.fall,
      degradedLatencyMs: s.degradedLatencyMs,
      expectBody: undefined,
      heartbeatTtlMs: undefined,
      watch: true,
      registryCheck: true,
    };
    return {
      policy: {
        rise: s.rise,
        fall: s.fall,
        degradedLatencyMs: s.degradedLatencyMs,
        flap: { transitions: s.flapTransitions, windowMs: s.flapWindowMs },
      },
      probes,
      halfOpenAfterMs: s.halfOpenAfterMs,
      maintenance: s.maintenance,
    };
  });

/** One step of a run: what the check found and how far the clock moved before it. */
interface Step {
  verdict: "ok" | "fail" | "none";
  latencyMs: number;
  registryStatus: HealthStatus | undefined;
  source: "probe" | "registry";
  breakerAfter: BreakerState;
  breakerTransitions: BreakerState[];
  trialDueInMs: number | undefined;
  pushed: boolean;
  watching: boolean;
  clockStepMs: number;
  jitterDraw: number;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  verdict: fc.constantFrom("ok", "ok", "fail", "fail", "none"),
  latencyMs: fc.oneof(
    fc.double({ min: 0, max: 50, noNaN: true }),
    fc.double({ min: 0, max: 10_000, noNaN: true }),
  ),
  registryStatus: fc.option(fc.constantFrom(...HEALTH_STATUSES), { nil: undefined }),
  source: fc.constantFrom("probe", "registry"),
  breakerAfter: fc.constantFrom(...BREAKER_STATES),
  breakerTransitions: fc.array(fc.constantFrom(...BREAKER_STATES), { maxLength: 3 }),
  trialDueInMs: fc.option(fc.integer({ min: 0, max: 1_200_000 }), { nil: undefined }),
  pushed: fc.boolean(),
  watching: fc.boolean(),
  clockStepMs: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 120_000 }) },
    // A wall clock stepped forward or back (NTP, a VM resumed, an operator).
    { weight: 1, arbitrary: fc.integer({ min: -86_400_000, max: 86_400_000 }) },
  ),
  jitterDraw: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
});

function reportOf(step: Step, at: number): CheckReport {
  return {
    adapterId: ID,
    outcome:
      step.verdict === "none"
        ? null
        : {
            ok: step.verdict === "ok",
            latencyMs: step.latencyMs,
            detail: step.verdict === "ok" ? "HTTP 200" : "HTTP 503",
            source: step.source,
            ...(step.registryStatus ? { registryStatus: step.registryStatus } : {}),
            at,
          },
    breaker: { state: step.breakerAfter, snapshot: { state: step.breakerAfter } },
    breakerTransitions: step.breakerTransitions,
    trialDueInMs: step.trialDueInMs,
    pushed: step.pushed,
    watching: step.watching,
    at,
    jitterDraw: step.jitterDraw,
  };
}

/** Failing but not yet unhealthy, or recovering but not yet healthy (stated independently). */
function inTheBalance(state: HealthState): boolean {
  if (state.status === "unhealthy") return state.consecutiveSuccesses > 0;
  if (isUsableStatus(state.status)) return state.consecutiveFailures > 0;
  return false;
}

/** The range the next check's delay must fall in, from the settings alone. */
function delayBounds(state: HealthState, step: Step, context: DecisionContext): [number, number] {
  const { probes } = context;
  const j = probes.jitter;
  const spread = (base: number): [number, number] => [base * (1 - j), base * (1 + j)];
  if (state.breaker?.state === "open") {
    const [low, high] = spread(probes.openIntervalMs);
    // Never later than the trial (at most halfOpenAfter away) plus a small margin.
    return [low, Math.max(high, context.halfOpenAfterMs + 20)];
  }
  if (inTheBalance(state)) return [probes.edgeIntervalMs * (1 - j), probes.edgeIntervalMs];
  return spread(step.watching ? probes.watchedIntervalMs : probes.intervalMs);
}

const runArbitrary = fc.record({
  context: settingsArbitrary,
  registryAtStart: fc.constantFrom(...HEALTH_STATUSES),
  steps: fc.array(stepArbitrary, { minLength: 1, maxLength: 80 }),
});

const RUNS = 400;

describe("decideCheck over random runs of reports", () => {
  it("keeps every invariant of the state machine at every step", () => {
    fc.assert(
      fc.property(runArbitrary, ({ context, registryAtStart, steps }) => {
        let state = initialHealth(ID, registryAtStart, T0);
        let clock = T0;
        // Verdicts in a row, counted here rather than read from the state under test.
        let failuresInARow = 0;
        let successesInARow = 0;
        let leftUnknown = false;
        for (const step of steps) {
          clock += step.clockStepMs;
          const report = reportOf(step, clock);
          const before = state;
          const { state: after, events } = decideCheck(before, report, context);

          if (step.verdict === "ok") {
            successesInARow++;
            failuresInARow = 0;
          } else if (step.verdict === "fail") {
            failuresInARow++;
            successesInARow = 0;
          }

          // The state is one the rest of the daemon knows.
          expect(HEALTH_STATUSES).toContain(after.status);
          expect(HEALTH_STATUSES).toContain(after.registryStatus);
          expect(after.breaker?.state).toBe(step.breakerAfter);
          expect(after.adapterId).toBe(ID);

          // No verdict, no change of status; once decided, never unknown again.
          if (step.verdict === "none") expect(after.status).toBe(before.status);
          if (leftUnknown) expect(after.status).not.toBe("unknown");
          if (after.status !== "unknown") leftUnknown = true;

          // Hysteresis: from usable to unhealthy exactly at `fall` failures in a row,
          // from unhealthy to usable exactly at `rise` successes in a row.
          if (isUsableStatus(before.status) && step.verdict !== "none") {
            expect(after.status === "unhealthy").toBe(failuresInARow >= context.policy.fall);
          }
          if (before.status === "unhealthy" && step.verdict !== "none") {
            expect(isUsableStatus(after.status)).toBe(successesInARow >= context.policy.rise);
          }
          if (before.status === "unknown" && step.verdict !== "none") {
            expect(after.status === "unhealthy").toBe(step.verdict === "fail");
          }
          // A usable verdict is degraded exactly when slow or the registry says degraded.
          if (isUsableStatus(after.status) && step.verdict === "ok") {
            const slow = step.latencyMs > context.policy.degradedLatencyMs;
            expect(after.status).toBe(
              slow || step.registryStatus === "degraded" ? "degraded" : "healthy",
            );
          }
          expect(after.consecutiveFailures).toBe(failuresInARow);
          expect(after.consecutiveSuccesses).toBe(successesInARow);

          // Events: breaker transitions first and in order, then at most one health change,
          // present exactly when the status changed and no flap silences it.
          const breakerEvents = events.filter((event) => event.type.startsWith("breaker."));
          expect(breakerEvents.map((event) => event.type)).toEqual(
            step.breakerTransitions.flatMap((s) => BREAKER_EVENT[s] ?? []),
          );
          expect(events.slice(0, breakerEvents.length)).toEqual(breakerEvents);
          const changes = events.filter((event) => event.type === "adapter.health_changed");
          const flapStarts = events.filter((event) => event.type === "adapter.flapping");
          const changed = after.status !== before.status;
          expect(changes.length).toBeLessThanOrEqual(1);
          if (!changed) expect(changes).toEqual([]);
          if (changed && !before.flapping && !after.flapping) expect(changes).toHaveLength(1);
          if (changed && after.flapping && !before.flapping) {
            expect(flapStarts).toHaveLength(1);
            expect(flapStarts[0]?.data.status).toBe(after.status);
          }
          for (const change of changes) {
            expect(change.data.from).toBe(before.status);
            expect(change.data.to).toBe(after.status);
            expect(change.subject).toBe(ID);
            expect(change.time).toBe(clock);
            expect(change.data.maintenance === true).toBe(context.maintenance);
          }
          expect(flapStarts.length + changes.length).toBeLessThanOrEqual(1);

          // Times: none lies ahead of the latest report; the last check is this one;
          // with a clock that only moved forward, nothing moved back.
          expect(after.since).toBeLessThanOrEqual(clock);
          if (step.verdict !== "none") expect(after.lastChecked).toBe(clock);
          if (after.lastChecked !== null) {
            expect(after.lastChecked).toBeLessThanOrEqual(clock);
            expect(after.since).toBeLessThanOrEqual(after.lastChecked);
          }
          if (changed) expect(after.since).toBe(clock);
          if (step.clockStepMs >= 0) {
            expect(after.since).toBeGreaterThanOrEqual(before.since);
            if (before.lastChecked !== null) {
              expect(after.lastChecked).toBeGreaterThanOrEqual(before.lastChecked);
            }
          }
          const transitions = after.recentTransitions;
          expect([...transitions].sort((a, b) => a - b)).toEqual(transitions);
          for (const time of transitions) {
            expect(time).toBeLessThanOrEqual(clock);
          }

          // The next check: a whole number of ms within what the settings allow.
          const delay = after.checkIntervalMs;
          expect(Number.isInteger(delay)).toBe(true);
          const [low, high] = delayBounds(after, step, context);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(low));
          expect(delay).toBeLessThanOrEqual(Math.ceil(high));

          // The input is never mutated.
          expect(after).not.toBe(before);
          state = after;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("flaps and settles consistently: flapping only after enough changes inside the window", () => {
    fc.assert(
      fc.property(runArbitrary, ({ context, registryAtStart, steps }) => {
        let state = initialHealth(ID, registryAtStart, T0);
        let clock = T0;
        const changeTimes: number[] = [];
        for (const step of steps) {
          clock += Math.abs(step.clockStepMs) % 120_001;
          const before = state;
          const { state: after, events } = decideCheck(before, reportOf(step, clock), context);
          if (after.status !== before.status && before.status !== "unknown") {
            changeTimes.push(clock);
          }
          const inWindow = changeTimes.filter(
            (time) => time > clock - context.policy.flap.windowMs,
          );
          expect(after.recentTransitions).toEqual(
            step.verdict === "none" ? before.recentTransitions : inWindow,
          );
          const types = events.map((event) => event.type);
          if (!before.flapping && after.flapping) {
            expect(inWindow.length).toBeGreaterThanOrEqual(context.policy.flap.transitions);
            expect(types).toContain("adapter.flapping");
          }
          if (before.flapping && !after.flapping) {
            expect(inWindow).toEqual([]);
            expect(types).toContain("adapter.settled");
          }
          if (before.flapping === after.flapping) {
            expect(types).not.toContain("adapter.flapping");
            expect(types).not.toContain("adapter.settled");
          }
          state = after;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
