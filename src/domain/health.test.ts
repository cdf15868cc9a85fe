import { describe, expect, it } from "vitest";
import {
  applyOutcome,
  type CheckOutcome,
  type HealthPolicy,
  type HealthState,
  initialHealth,
  type StatusChange,
} from "./health.js";

const POLICY: HealthPolicy = { rise: 2, fall: 3, degradedLatencyMs: 1000 };
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

/** Applies outcomes in order, returning the final state and every change seen. */
function run(state: HealthState, outcomes: CheckOutcome[], policy = POLICY) {
  const changes: StatusChange[] = [];
  let current = state;
  for (const outcome of outcomes) {
    const result = applyOutcome(current, outcome, policy);
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
    });
  });
});

describe("applyOutcome from unknown", () => {
  it("lets the first success decide healthy at once", () => {
    const outcome = ok();
    const { state, change } = applyOutcome(initialHealth("a1", "unknown", T0), outcome, POLICY);
    expect(change).toEqual({
      adapterId: "a1",
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
    });
  });

  it("lets the first failure decide unhealthy at once, with the probe's detail", () => {
    const outcome = fail({ detail: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1" });
    const { state, change } = applyOutcome(initialHealth("a1", "healthy", T0), outcome, POLICY);
    expect(change).toEqual({
      adapterId: "a1",
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
    const { state } = applyOutcome(initialHealth("a1", "unknown", T0), ok({ detail: "" }), POLICY);
    expect(state.reason).toBe("check passed");
  });
});

describe("applyOutcome hysteresis", () => {
  it("does not flip healthy on a single failure", () => {
    const healthy = settled("healthy");
    const { state, change } = applyOutcome(healthy, fail(), POLICY);
    expect(change).toBeUndefined();
    expect(state.status).toBe("healthy");
    expect(state.reason).toBe(healthy.reason);
    expect(state.consecutiveFailures).toBe(1);
    expect(state.consecutiveSuccesses).toBe(0);
  });

  it("goes unhealthy after `fall` consecutive failures, naming the count", () => {
    const healthy = settled("healthy");
    const outcomes = [fail(), fail(), fail({ detail: "HTTP 500" })];
    const { state, changes } = run(healthy, outcomes);
    expect(changes).toEqual([
      {
        adapterId: "a1",
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
    const { change } = applyOutcome(healthy, fail(), { ...POLICY, fall: 1 });
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
    const first = applyOutcome(unhealthy, ok(), POLICY);
    expect(first.change).toBeUndefined();
    expect(first.state.status).toBe("unhealthy");
    expect(first.state.consecutiveSuccesses).toBe(1);
    expect(first.state.reason).toBe(unhealthy.reason);

    const second = ok();
    const { state, change } = applyOutcome(first.state, second, POLICY);
    expect(change).toEqual({
      adapterId: "a1",
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
    const { state, change } = applyOutcome(initialHealth("a1", "unknown", T0), outcome, POLICY);
    expect(state.status).toBe("degraded");
    expect(change?.reason).toBe("answered in 1500 ms, over the 1000 ms threshold");
    expect(state.reason).toBe("answered in 1500 ms, over the 1000 ms threshold");
  });

  it("does not count a latency exactly at the threshold as degraded", () => {
    const { state } = applyOutcome(
      initialHealth("a1", "unknown", T0),
      ok({ latencyMs: 1000 }),
      POLICY,
    );
    expect(state.status).toBe("healthy");
  });

  it("marks a success degraded when the registry says degraded", () => {
    const { state, change } = applyOutcome(
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
    const toDegraded = applyOutcome(healthy, slow, POLICY);
    expect(toDegraded.change).toMatchObject({ from: "healthy", to: "degraded", at: slow.at });
    const fast = ok();
    const back = applyOutcome(toDegraded.state, fast, POLICY);
    expect(back.change).toEqual({
      adapterId: "a1",
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
    const { state, change } = applyOutcome(healthy, later, POLICY);
    expect(change).toBeUndefined();
    expect(state.since).toBe(healthy.since);
    expect(state.lastChecked).toBe(later.at);
    expect(state.latencyMs).toBe(later.latencyMs);
    // The reason explains the status, so it stays with the status.
    expect(state.reason).toBe(healthy.reason);
  });

  it("records the latest latency and source even on failures that do not flip", () => {
    const healthy = settled("healthy");
    const outcome = fail({ latencyMs: 77, source: "registry" });
    const { state } = applyOutcome(healthy, outcome, POLICY);
    expect(state.latencyMs).toBe(77);
    expect(state.source).toBe("registry");
    expect(state.lastChecked).toBe(outcome.at);
  });

  it("keeps the registry status when an outcome has none, and updates it when one has", () => {
    const start = initialHealth("a1", "unhealthy", T0);
    const first = applyOutcome(start, ok(), POLICY).state;
    expect(first.registryStatus).toBe("unhealthy");
    // The daemon's verdict and the registry's may disagree; both are kept.
    expect(first.status).toBe("healthy");
    const second = applyOutcome(first, ok({ registryStatus: "healthy" }), POLICY).state;
    expect(second.registryStatus).toBe("healthy");
    const third = applyOutcome(second, fail(), POLICY).state;
    expect(third.registryStatus).toBe("healthy");
  });

  it("does not mutate the state passed in", () => {
    const healthy = settled("healthy");
    const copy = structuredClone(healthy);
    applyOutcome(healthy, fail(), POLICY);
    expect(healthy).toEqual(copy);
  });
});
