import { describe, expect, it } from "vitest";
import {
  applyOutcome,
  type BreakerSnapshot,
  type CheckOutcome,
  type HealthEvent,
  type HealthPolicy,
  type HealthState,
  initialHealth,
  isUsableStatus,
  registryDisagrees,
} from "./health.js";

type StatusChange = Extract<HealthEvent, { type: "adapter.health_changed" }>;

/** Flap detection is set loose enough that the hysteresis tests never reach it. */
const POLICY: HealthPolicy = {
  rise: 2,
  fall: 3,
  degradedLatencyMs: 1000,
  flap: { transitions: 10, windowMs: 60_000 },
};
const T0 = 1_700_000_000_000;

let clock = T0;
function ok(extra: Partial<CheckOutcome> = {}): CheckOutcome {
  clock += 1000;
  return { ok: true, latencyMs: 12, detail: "HTTP 200", source: "probe", at: clock, ...extra };
}
function fail(extra: Partial<CheckOutcome> = {}): CheckOutcome {
  clock += 1000;
  return { ok: false, latencyMs: 5000, detail: "HTTP 503", source: "probe", at: clock, ...extra };
}

/** The status change among an outcome's events; any other event fails the test. */
function changeOf(events: HealthEvent[]): StatusChange | undefined {
  const changes = events.filter((event) => event.type === "adapter.health_changed");
  expect(events).toEqual(changes);
  expect(changes.length).toBeLessThanOrEqual(1);
  return changes[0];
}

/** applyOutcome with its status change (if any) picked out of the events. */
function apply(state: HealthState, outcome: CheckOutcome, policy = POLICY) {
  const result = applyOutcome(state, outcome, policy);
  return { state: result.state, change: changeOf(result.events) };
}

/** Applies outcomes in order, returning the final state and every change seen. */
function run(state: HealthState, outcomes: CheckOutcome[], policy = POLICY) {
  const changes: StatusChange[] = [];
  let current = state;
  for (const outcome of outcomes) {
    const result = apply(current, outcome, policy);
    current = result.state;
    if (result.change) changes.push(result.change);
  }
  return { state: current, changes };
}

function settled(status: "healthy" | "unhealthy"): HealthState {
  return run(initialHealth("a1", "healthy", T0), [status === "healthy" ? ok() : fail()]).state;
}

describe("initialHealth", () => {
  it("starts unknown, unchecked, keeping the registry's view", () => {
    expect(initialHealth("a1", "degraded", T0)).toEqual({
      adapterId: "a1",
      status: "unknown",
      since: T0,
      lastChecked: null,
      latencyMs: null,
      source: "none",
      reason: "not checked yet",
      consecutiveSuccesses: 0,
      consecutiveFailures: 0,
      registryStatus: "degraded",
      flapping: false,
      recentTransitions: [],
      breaker: null,
      checkIntervalMs: null,
    });
  });
});

describe("applyOutcome from unknown", () => {
  it("lets the first success decide healthy at once", () => {
    const outcome = ok();
    const { state, change } = apply(initialHealth("a1", "unknown", T0), outcome, POLICY);
    expect(change).toEqual({
      type: "adapter.health_changed",
      from: "unknown",
      to: "healthy",
      reason: "HTTP 200",
      at: outcome.at,
    });
    expect(state).toEqual({
      adapterId: "a1",
      status: "healthy",
      since: outcome.at,
      lastChecked: outcome.at,
      latencyMs: 12,
      source: "probe",
      reason: "HTTP 200",
      consecutiveSuccesses: 1,
      consecutiveFailures: 0,
      registryStatus: "unknown",
      flapping: false,
      recentTransitions: [],
      breaker: null,
      checkIntervalMs: null,
    });
  });

  it("lets the first failure decide unhealthy at once, with the probe's detail", () => {
    const outcome = fail({ detail: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1" });
    const { state, change } = apply(initialHealth("a1", "healthy", T0), outcome, POLICY);
    expect(change).toEqual({
      type: "adapter.health_changed",
      from: "unknown",
      to: "unhealthy",
      reason: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1",
      at: outcome.at,
    });
    expect(state.status).toBe("unhealthy");
    expect(state.reason).toBe("ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1");
    expect(state.consecutiveFailures).toBe(1);
    expect(state.consecutiveSuccesses).toBe(0);
  });

  it("says 'check passed' when a success carries no detail", () => {
    const { state } = apply(initialHealth("a1", "unknown", T0), ok({ detail: "" }), POLICY);
    expect(state.reason).toBe("check passed");
  });
});

describe("applyOutcome hysteresis", () => {
  it("does not flip healthy on a single failure", () => {
    const healthy = settled("healthy");
    const { state, change } = apply(healthy, fail(), POLICY);
    expect(change).toBeUndefined();
    expect(state.status).toBe("healthy");
    // The reason describes the latest result, and how far it is from changing the status.
    expect(state.reason).toBe("HTTP 503 (1 of 3 consecutive failures before unhealthy)");
    expect(state.consecutiveFailures).toBe(1);
    expect(state.consecutiveSuccesses).toBe(0);
  });

  it("goes unhealthy after `fall` consecutive failures, naming the count", () => {
    const healthy = settled("healthy");
    const outcomes = [fail(), fail(), fail({ detail: "HTTP 500" })];
    const { state, changes } = run(healthy, outcomes);
    expect(changes).toEqual([
      {
        type: "adapter.health_changed",
        from: "healthy",
        to: "unhealthy",
        reason: "HTTP 500 (3 consecutive failures)",
        at: outcomes[2]?.at,
      },
    ]);
    expect(state.status).toBe("unhealthy");
    expect(state.reason).toBe("HTTP 500 (3 consecutive failures)");
    expect(state.since).toBe(outcomes[2]?.at);
  });

  it("uses the bare detail when fall is 1", () => {
    const healthy = settled("healthy");
    const { change } = apply(healthy, fail(), { ...POLICY, fall: 1 });
    expect(change?.to).toBe("unhealthy");
    expect(change?.reason).toBe("HTTP 503");
  });

  it("resets the failure count on a success in between", () => {
    const healthy = settled("healthy");
    const { state, changes } = run(healthy, [fail(), fail(), ok(), fail(), fail()]);
    expect(changes).toEqual([]);
    expect(state.status).toBe("healthy");
    expect(state.consecutiveFailures).toBe(2);
  });

  it("needs `rise` consecutive successes to come back from unhealthy", () => {
    const unhealthy = settled("unhealthy");
    const first = apply(unhealthy, ok(), POLICY);
    expect(first.change).toBeUndefined();
    expect(first.state.status).toBe("unhealthy");
    expect(first.state.consecutiveSuccesses).toBe(1);
    expect(first.state.reason).toBe("HTTP 200 (1 of 2 consecutive successes needed to recover)");

    const second = ok();
    const { state, change } = apply(first.state, second, POLICY);
    expect(change).toEqual({
      type: "adapter.health_changed",
      from: "unhealthy",
      to: "healthy",
      reason: "HTTP 200 (2 consecutive successes)",
      at: second.at,
    });
    expect(state.status).toBe("healthy");
    expect(state.since).toBe(second.at);
  });

  it("resets the success count on a failure while unhealthy", () => {
    const unhealthy = settled("unhealthy");
    const { state, changes } = run(unhealthy, [ok(), fail(), ok()]);
    expect(changes).toEqual([]);
    expect(state.status).toBe("unhealthy");
    expect(state.consecutiveSuccesses).toBe(1);
  });

  it("treats degraded as usable: it too falls only after `fall` failures", () => {
    const degraded = run(initialHealth("a1", "unknown", T0), [ok({ latencyMs: 2000 })]).state;
    expect(degraded.status).toBe("degraded");
    const { changes } = run(degraded, [fail(), fail(), fail()]);
    expect(changes.map((change) => `${change.from}->${change.to}`)).toEqual([
      "degraded->unhealthy",
    ]);
    expect(run(degraded, [fail(), fail()]).state.status).toBe("degraded");
  });
});

describe("applyOutcome degraded", () => {
  it("marks a success slower than the threshold degraded, with the latency in the reason", () => {
    const outcome = ok({ latencyMs: 1500.4 });
    const { state, change } = apply(initialHealth("a1", "unknown", T0), outcome, POLICY);
    expect(state.status).toBe("degraded");
    expect(change?.reason).toBe("answered in 1500 ms, over the 1000 ms threshold");
    expect(state.reason).toBe("answered in 1500 ms, over the 1000 ms threshold");
  });

  it("does not count a latency exactly at the threshold as degraded", () => {
    const { state } = apply(initialHealth("a1", "unknown", T0), ok({ latencyMs: 1000 }), POLICY);
    expect(state.status).toBe("healthy");
  });

  it("marks a success degraded when the registry says degraded", () => {
    const { state, change } = apply(
      initialHealth("a1", "unknown", T0),
      ok({ source: "registry", registryStatus: "degraded" }),
      POLICY,
    );
    expect(state.status).toBe("degraded");
    expect(state.source).toBe("registry");
    expect(change?.reason).toBe("registry reports degraded");
  });

  it("moves between healthy and degraded without hysteresis, both ways", () => {
    const healthy = settled("healthy");
    const slow = ok({ latencyMs: 3000 });
    const toDegraded = apply(healthy, slow, POLICY);
    expect(toDegraded.change).toMatchObject({ from: "healthy", to: "degraded", at: slow.at });
    const fast = ok();
    const back = apply(toDegraded.state, fast, POLICY);
    expect(back.change).toEqual({
      type: "adapter.health_changed",
      from: "degraded",
      to: "healthy",
      reason: "HTTP 200",
      at: fast.at,
    });
  });

  it("comes back from unhealthy as degraded when the deciding success is slow", () => {
    const unhealthy = settled("unhealthy");
    const { state } = run(unhealthy, [ok(), ok({ latencyMs: 4000 })]);
    expect(state.status).toBe("degraded");
    expect(state.reason).toBe(
      "answered in 4000 ms, over the 1000 ms threshold (2 consecutive successes)",
    );
  });
});

describe("applyOutcome bookkeeping", () => {
  it("moves `since` only when the status changes, while lastChecked always moves", () => {
    const healthy = settled("healthy");
    const later = ok({ detail: "HTTP 204" });
    const { state, change } = apply(healthy, later, POLICY);
    expect(change).toBeUndefined();
    expect(state.since).toBe(healthy.since);
    expect(state.lastChecked).toBe(later.at);
    expect(state.latencyMs).toBe(later.latencyMs);
    // The reason always describes the latest result.
    expect(state.reason).toBe("HTTP 204");
  });

  it("records the latest latency and source even on failures that do not flip", () => {
    const healthy = settled("healthy");
    const outcome = fail({ latencyMs: 77, source: "registry" });
    const { state } = apply(healthy, outcome, POLICY);
    expect(state.latencyMs).toBe(77);
    expect(state.source).toBe("registry");
    expect(state.lastChecked).toBe(outcome.at);
  });

  it("keeps the registry status when an outcome has none, and updates it when one has", () => {
    const start = initialHealth("a1", "unhealthy", T0);
    const first = apply(start, ok(), POLICY).state;
    expect(first.registryStatus).toBe("unhealthy");
    // The daemon's verdict and the registry's may disagree; both are kept.
    expect(first.status).toBe("healthy");
    const second = apply(first, ok({ registryStatus: "healthy" }), POLICY).state;
    expect(second.registryStatus).toBe("healthy");
    const third = apply(second, fail(), POLICY).state;
    expect(third.registryStatus).toBe("healthy");
  });

  it("does not mutate the state passed in", () => {
    const healthy = settled("healthy");
    const copy = structuredClone(healthy);
    apply(healthy, fail(), POLICY);
    expect(healthy).toEqual(copy);
  });
});

describe("applyOutcome flap detection", () => {
  /** Every outcome flips the status, so each one after the first verdict is a transition. */
  const FLAPPY: HealthPolicy = {
    rise: 1,
    fall: 1,
    degradedLatencyMs: 1000,
    flap: { transitions: 3, windowMs: 60_000 },
  };
  const at = (offset: number) => T0 + offset;
  const up = (offset: number): CheckOutcome => ({
    ok: true,
    latencyMs: 10,
    detail: "HTTP 200",
    source: "probe",
    at: at(offset),
  });
  const down = (offset: number): CheckOutcome => ({
    ok: false,
    latencyMs: 10,
    detail: "HTTP 503",
    source: "probe",
    at: at(offset),
  });

  /** Applies outcomes in order, returning the final state and the events of each step. */
  function steps(start: HealthState, outcomes: CheckOutcome[], policy = FLAPPY) {
    const eventsPerStep: HealthEvent[][] = [];
    let state = start;
    for (const outcome of outcomes) {
      const result = applyOutcome(state, outcome, policy);
      state = result.state;
      eventsPerStep.push(result.events);
    }
    return { state, eventsPerStep };
  }

  it("raises exactly one flapping event at the Nth transition inside the window", () => {
    const { state, eventsPerStep } = steps(initialHealth("a1", "unknown", T0), [
      up(1_000), // unknown -> healthy: the first verdict, not a transition
      down(2_000), // transition 1
      up(3_000), // transition 2
      down(4_000), // transition 3: flapping
      up(5_000), // transition 4: still flapping, silent
      down(6_000), // transition 5: silent
    ]);
    expect(eventsPerStep).toEqual([
      [
        {
          type: "adapter.health_changed",
          from: "unknown",
          to: "healthy",
          reason: "HTTP 200",
          at: at(1_000),
        },
      ],
      [
        {
          type: "adapter.health_changed",
          from: "healthy",
          to: "unhealthy",
          reason: "HTTP 503",
          at: at(2_000),
        },
      ],
      [
        {
          type: "adapter.health_changed",
          from: "unhealthy",
          to: "healthy",
          reason: "HTTP 200 (1 consecutive successes)",
          at: at(3_000),
        },
      ],
      [
        {
          type: "adapter.flapping",
          status: "unhealthy",
          transitions: 3,
          windowMs: 60_000,
          at: at(4_000),
        },
      ],
      [],
      [],
    ]);
    expect(state.flapping).toBe(true);
    expect(state.status).toBe("unhealthy");
    expect(state.recentTransitions).toEqual([
      at(2_000),
      at(3_000),
      at(4_000),
      at(5_000),
      at(6_000),
    ]);
  });

  it("does not count the first verdict out of unknown as a transition", () => {
    const policy = { ...FLAPPY, flap: { transitions: 2, windowMs: 60_000 } };
    const first = applyOutcome(initialHealth("a1", "unknown", T0), up(1_000), policy);
    expect(first.state.recentTransitions).toEqual([]);
    // One real transition: had the first verdict counted, this would be the second.
    const second = applyOutcome(first.state, down(2_000), policy);
    expect(second.state.flapping).toBe(false);
    expect(second.state.recentTransitions).toEqual([at(2_000)]);
    expect(second.events.map((event) => event.type)).toEqual(["adapter.health_changed"]);
    const third = applyOutcome(second.state, up(3_000), policy);
    expect(third.state.flapping).toBe(true);
    expect(third.events.map((event) => event.type)).toEqual(["adapter.flapping"]);
  });

  it("does not flap when the transitions are spread wider than the window", () => {
    const { state, eventsPerStep } = steps(initialHealth("a1", "unknown", T0), [
      up(0),
      down(30_000),
      up(60_000),
      down(90_000), // the 30 000 transition has left the window (> 60 s old is out)
      up(120_000),
    ]);
    expect(state.flapping).toBe(false);
    expect(eventsPerStep.flat().map((event) => event.type)).toEqual([
      "adapter.health_changed",
      "adapter.health_changed",
      "adapter.health_changed",
      "adapter.health_changed",
      "adapter.health_changed",
    ]);
    expect(state.recentTransitions).toEqual([at(90_000), at(120_000)]);
  });

  it("settles once a full window passes without a transition, and not a moment before", () => {
    const flapping = steps(initialHealth("a1", "unknown", T0), [
      up(1_000),
      down(2_000),
      up(3_000),
      down(4_000),
      up(5_000),
      down(6_000),
    ]).state;
    expect(flapping.flapping).toBe(true);
    // Steady failures: no status change, no event, still flapping.
    const steady = steps(flapping, [down(20_000), down(40_000), down(65_999)]);
    expect(steady.eventsPerStep).toEqual([[], [], []]);
    expect(steady.state.flapping).toBe(true);
    expect(steady.state.recentTransitions).toEqual([at(6_000)]);
    // 60 s after the last transition it has left the window.
    const settled = applyOutcome(steady.state, down(66_000), FLAPPY);
    expect(settled.state.flapping).toBe(false);
    expect(settled.state.recentTransitions).toEqual([]);
    expect(settled.events).toEqual([
      {
        type: "adapter.settled",
        status: "unhealthy",
        flappedFor: expect.any(Number),
        at: at(66_000),
      },
    ]);
    const [event] = settled.events;
    if (event?.type !== "adapter.settled") throw new Error("expected a settled event");
    expect(event.flappedFor).toBeGreaterThanOrEqual(60_000);
    expect(event.flappedFor).toBeLessThanOrEqual(66_000 - 2_000);
    // Settled: the next change is reported again, once.
    const after = applyOutcome(settled.state, up(70_000), FLAPPY);
    expect(after.events).toEqual([
      {
        type: "adapter.health_changed",
        from: "unhealthy",
        to: "healthy",
        reason: "HTTP 200 (1 consecutive successes)",
        at: at(70_000),
      },
    ]);
  });

  it("stays flapping while changes keep coming inside the window", () => {
    const { state, eventsPerStep } = steps(initialHealth("a1", "unknown", T0), [
      up(0),
      down(10_000),
      up(20_000),
      down(30_000), // flapping
      up(80_000), // the 10 000 and 20 000 transitions have gone, 30 000 is still in
      down(130_000),
      up(180_000),
    ]);
    expect(state.flapping).toBe(true);
    expect(eventsPerStep.slice(3)).toEqual([
      [expect.objectContaining({ type: "adapter.flapping" })],
      [],
      [],
      [],
    ]);
  });
});

describe("applyOutcome breaker snapshot", () => {
  const open: BreakerSnapshot = { state: "open", snapshot: { state: { open: true } } };
  const closed: BreakerSnapshot = { state: "closed", snapshot: { state: { closed: true } } };

  it("carries the breaker snapshot from the outcome", () => {
    const healthy = settled("healthy");
    expect(healthy.breaker).toBeNull();
    const { state } = apply(healthy, fail({ breaker: open }));
    expect(state.breaker).toEqual(open);
    const next = apply(state, ok({ breaker: closed })).state;
    expect(next.breaker).toEqual(closed);
  });

  it("keeps the last snapshot when an outcome carries none", () => {
    const withBreaker = apply(settled("healthy"), fail({ breaker: open })).state;
    expect(apply(withBreaker, fail()).state.breaker).toEqual(open);
  });
});

describe("isUsableStatus and registryDisagrees", () => {
  it("calls healthy and degraded usable, unhealthy and unknown not", () => {
    expect(isUsableStatus("healthy")).toBe(true);
    expect(isUsableStatus("degraded")).toBe(true);
    expect(isUsableStatus("unhealthy")).toBe(false);
    expect(isUsableStatus("unknown")).toBe(false);
  });

  it.each([
    { status: "healthy", registry: "unhealthy", disagrees: true },
    { status: "unhealthy", registry: "healthy", disagrees: true },
    { status: "degraded", registry: "unhealthy", disagrees: true },
    { status: "unhealthy", registry: "degraded", disagrees: true },
    { status: "healthy", registry: "degraded", disagrees: false },
    { status: "degraded", registry: "healthy", disagrees: false },
    { status: "healthy", registry: "healthy", disagrees: false },
    { status: "unhealthy", registry: "unhealthy", disagrees: false },
    { status: "unknown", registry: "unhealthy", disagrees: false },
    { status: "unhealthy", registry: "unknown", disagrees: false },
    { status: "healthy", registry: "unknown", disagrees: false },
  ] as const)(
    "daemon $status vs registry $registry: disagrees=$disagrees",
    ({ status, registry, disagrees }) => {
      const state: HealthState = { ...initialHealth("a1", registry, T0), status };
      expect(registryDisagrees(state)).toBe(disagrees);
    },
  );
});
