import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { BreakerSettings } from "../domain/adapter-settings.js";
import { breakerOpenedAt, hasFutureTimes } from "../domain/breaker-snapshot.js";
import type { CheckOutcome } from "../domain/health.js";
import { AdapterBreakers, type BreakerRun } from "./adapter-breakers.js";

const T0 = Date.parse("2025-06-01T00:00:00Z");
const HALF_OPEN_AFTER = 30_000;

const CONSECUTIVE: BreakerSettings = {
  kind: "consecutive",
  threshold: 3,
  halfOpenAfterMs: HALF_OPEN_AFTER,
  size: 20,
  minCalls: 5,
  durationMs: 60_000,
};
const COUNT: BreakerSettings = {
  kind: "count",
  threshold: 0.5,
  size: 4,
  minCalls: 2,
  halfOpenAfterMs: HALF_OPEN_AFTER,
  durationMs: 60_000,
};
const SAMPLING: BreakerSettings = {
  kind: "sampling",
  threshold: 0.5,
  durationMs: 10_000,
  minCalls: 2,
  halfOpenAfterMs: HALF_OPEN_AFTER,
  size: 20,
};

type Verdict = "ok" | "fail" | "none";

function outcome(verdict: Exclude<Verdict, "none">, detail?: string): CheckOutcome {
  return {
    ok: verdict === "ok",
    latencyMs: 5,
    detail: detail ?? (verdict === "ok" ? "HTTP 200" : "HTTP 503"),
    source: "probe",
    at: Date.now(),
  };
}

interface Call {
  run: BreakerRun<CheckOutcome>;
  /** Whether the check itself was called. */
  checked: boolean;
}

/** Runs one check through the adapter's breaker, one second after the previous one. */
async function call(
  breakers: AdapterBreakers,
  settings: BreakerSettings,
  verdict: Verdict,
  detail?: string,
  adapterId = "a1",
): Promise<Call> {
  vi.advanceTimersByTime(1_000);
  let checked = false;
  const run = await breakers.run(adapterId, settings, async () => {
    checked = true;
    return verdict === "none" ? undefined : outcome(verdict, detail);
  });
  return { run, checked };
}

/** Runs checks in order and returns the breaker state after each. */
async function states(breakers: AdapterBreakers, settings: BreakerSettings, verdicts: Verdict[]) {
  const seen: string[] = [];
  for (const verdict of verdicts) {
    seen.push((await call(breakers, settings, verdict)).run.breaker.state);
  }
  return seen;
}

/** A JSON round trip, as the snapshot takes through SQLite. */
function stored(snapshot: unknown): unknown {
  return JSON.parse(JSON.stringify(snapshot)) as unknown;
}

beforeEach(() => {
  // Only the wall clock is faked: the breakers read Date.now(), nothing here waits on a timer.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("AdapterBreakers: consecutive", () => {
  it("opens on the threshold-th failure in a row, not before", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, CONSECUTIVE, ["fail", "fail"])).toEqual(["closed", "closed"]);
    const third = await call(breakers, CONSECUTIVE, "fail", "connect ECONNREFUSED");
    expect(third.checked).toBe(true);
    expect(third.run.ran).toBe(true);
    expect(third.run.breaker.state).toBe("open");
    // The transition is returned, not an event: the decision turns it into breaker.opened,
    // with the failure that opened it, which the run returns as its result.
    expect(third.run.transitions).toEqual(["open"]);
    expect(third.run.result?.detail).toBe("connect ECONNREFUSED");
    expect(third.run.trialDueInMs).toBe(HALF_OPEN_AFTER);
    expect(breakers.state("a1")).toBe("open");
  });

  it("takes up the committed snapshot when it holds no breaker for the adapter, and only then", async () => {
    const before = new AdapterBreakers();
    await states(before, CONSECUTIVE, ["fail", "fail", "fail"]);
    const saved = stored(before.snapshot("a1")?.snapshot);
    // A new holder (after a restart, or an adapter back in the catalog): the check is skipped.
    const after = new AdapterBreakers();
    const resumed = await after.run("a1", CONSECUTIVE, async () => outcome("ok"), saved);
    expect(resumed.ran).toBe(false);
    expect(resumed.breaker.state).toBe("open");
    // A holder with a breaker of its own (a failure counted) keeps it: a snapshot does not reset it.
    const counting = new AdapterBreakers();
    await states(counting, CONSECUTIVE, ["fail"]);
    const kept = await counting.run("a1", CONSECUTIVE, async () => outcome("ok"), saved);
    expect(kept).toMatchObject({ ran: true, breaker: { state: "closed" } });
  });

  it("takes up a snapshot of another kind (the config changed) keeping open or closed, counts afresh", async () => {
    const consecutive = new AdapterBreakers();
    await states(consecutive, CONSECUTIVE, ["fail", "fail", "fail"]);
    const saved = stored(consecutive.snapshot("a1")?.snapshot);
    const count = new AdapterBreakers();
    const skipped = await count.run("a1", COUNT, async () => outcome("ok"), saved);
    expect(skipped).toMatchObject({ ran: false, breaker: { state: "open" } });
    // And the other way: a count breaker's window does not become a consecutive counter.
    const windowed = new AdapterBreakers();
    await states(windowed, COUNT, ["fail"]);
    const fresh = new AdapterBreakers();
    const counted = await fresh.run(
      "a1",
      CONSECUTIVE,
      async () => outcome("fail"),
      stored(windowed.snapshot("a1")?.snapshot),
    );
    expect(counted.breaker.snapshot).toEqual({ ownState: { value: 0 }, breakerState: 1 });
  });

  it("holds no object for a consecutive breaker at rest, and counts from zero after it", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, CONSECUTIVE, ["ok", "ok"])).toEqual(["closed", "closed"]);
    expect(breakers.snapshot("a1")).toBeUndefined();
    // One failure gives it shape; a success puts it back to rest.
    expect(await states(breakers, CONSECUTIVE, ["fail"])).toEqual(["closed"]);
    expect(breakers.snapshot("a1")?.snapshot).toEqual({ ownState: { value: 0 }, breakerState: 1 });
    expect(await states(breakers, CONSECUTIVE, ["ok"])).toEqual(["closed"]);
    expect(breakers.snapshot("a1")).toBeUndefined();
    // The rest's snapshot is what a fresh breaker would store, and the count starts again.
    const rest = await call(breakers, CONSECUTIVE, "ok");
    expect(rest.run.breaker).toEqual({
      state: "closed",
      snapshot: { ownState: { value: 0 }, breakerState: 0 },
    });
    expect(await states(breakers, CONSECUTIVE, ["fail", "fail", "fail"])).toEqual([
      "closed",
      "closed",
      "open",
    ]);
  });

  it("starts counting again after a success", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, CONSECUTIVE, ["fail", "fail", "ok", "fail", "fail"])).toEqual([
      "closed",
      "closed",
      "closed",
      "closed",
      "closed",
    ]);
    expect((await call(breakers, CONSECUTIVE, "fail")).run.breaker.state).toBe("open");
  });

  it("counts an inconclusive check as neither success nor failure", async () => {
    const breakers = new AdapterBreakers();
    // Had the inconclusive check counted as a success, the count would have restarted.
    expect(await states(breakers, CONSECUTIVE, ["fail", "fail", "none", "none"])).toEqual([
      "closed",
      "closed",
      "closed",
      "closed",
    ]);
    expect((await call(breakers, CONSECUTIVE, "fail")).run.breaker.state).toBe("open");
    // And inconclusive checks alone never open it.
    const fresh = new AdapterBreakers();
    expect(await states(fresh, CONSECUTIVE, ["none", "none", "none", "none"])).toEqual([
      "closed",
      "closed",
      "closed",
      "closed",
    ]);
  });

  it("returns an inconclusive check as ran, with no result", async () => {
    const breakers = new AdapterBreakers();
    const { run, checked } = await call(breakers, CONSECUTIVE, "none");
    expect(checked).toBe(true);
    expect(run).toEqual({
      ran: true,
      result: undefined,
      breaker: { state: "closed", snapshot: expect.anything() },
      transitions: [],
      trialDueInMs: undefined,
    });
  });

  it("returns the breaker's snapshot beside the outcome, as plain data", async () => {
    const breakers = new AdapterBreakers();
    const { run } = await call(breakers, CONSECUTIVE, "fail");
    expect(run.ran).toBe(true);
    // The outcome comes back as the check gave it: the breaker travels beside it in the report.
    expect(run.result).toEqual(outcome("fail"));
    expect(run.result?.breaker).toBeUndefined();
    expect(run.breaker).toEqual(breakers.snapshot("a1"));
    expect(stored(run.breaker.snapshot)).toEqual(run.breaker.snapshot);
    expect(run.transitions).toEqual([]);
    expect(run.trialDueInMs).toBeUndefined();
  });

  it("keeps adapters' breakers apart", async () => {
    const breakers = new AdapterBreakers();
    for (let i = 0; i < 3; i++) await call(breakers, CONSECUTIVE, "fail", undefined, "bad");
    expect(breakers.state("bad")).toBe("open");
    const other = await call(breakers, CONSECUTIVE, "fail", undefined, "good");
    expect(other.run.breaker.state).toBe("closed");
    expect(breakers.state("good")).toBe("closed");
  });
});

describe("AdapterBreakers: count", () => {
  it("opens when more than threshold of the last `size` calls failed", async () => {
    const breakers = new AdapterBreakers();
    // 1/2 and 2/4 are not more than half; then the window slides past the first success.
    expect(await states(breakers, COUNT, ["ok", "fail", "ok", "fail"])).toEqual([
      "closed",
      "closed",
      "closed",
      "closed",
    ]);
    expect((await call(breakers, COUNT, "fail")).run.breaker.state).toBe("open");
  });

  it("waits for minCalls calls before the ratio counts", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, COUNT, ["fail"])).toEqual(["closed"]);
    expect((await call(breakers, COUNT, "fail")).run.breaker.state).toBe("open");
  });

  it("forgets calls that slid out of the window", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, COUNT, ["fail", "ok", "ok", "ok", "ok", "ok"])).toEqual(
      Array(6).fill("closed"),
    );
    // [ok, ok, ok, ok] then one failure: 1/4.
    expect((await call(breakers, COUNT, "fail")).run.breaker.state).toBe("closed");
  });

  it("does not sample inconclusive checks", async () => {
    const breakers = new AdapterBreakers();
    // Sampled as successes, the three would leave [fail, ok, ok, ok] and one more failure 1/4.
    expect(await states(breakers, COUNT, ["fail", "none", "none", "none"])).toEqual(
      Array(4).fill("closed"),
    );
    expect((await call(breakers, COUNT, "fail")).run.breaker.state).toBe("open");
  });
});

describe("AdapterBreakers: sampling", () => {
  it("opens when more than threshold of the calls in the duration failed", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, SAMPLING, ["ok", "ok", "fail", "fail"])).toEqual([
      "closed",
      "closed",
      "closed",
      "closed", // 2/4 is not more than half
    ]);
    expect((await call(breakers, SAMPLING, "fail")).run.breaker.state).toBe("open");
  });

  it("waits for minCalls calls in the duration before the ratio counts", async () => {
    const breakers = new AdapterBreakers();
    expect(await states(breakers, SAMPLING, ["fail"])).toEqual(["closed"]);
    expect((await call(breakers, SAMPLING, "fail")).run.breaker.state).toBe("open");
  });

  it.each([
    { durationMs: 10_000, minCalls: 3 },
    { durationMs: 300_000, minCalls: 3 },
    { durationMs: 300_000, minCalls: 1 },
    { durationMs: 60_000, minCalls: 13 },
    { durationMs: 600_000, minCalls: 7 },
  ])(
    "opens at exactly minCalls failures (duration $durationMs ms, minCalls $minCalls)",
    async ({ durationMs, minCalls }) => {
      const settings: BreakerSettings = { ...SAMPLING, durationMs, minCalls };
      const breakers = new AdapterBreakers();
      const seen = await states(breakers, settings, Array(minCalls).fill("fail"));
      expect(seen).toEqual([...Array(minCalls - 1).fill("closed"), "open"]);
    },
  );

  it("does not sample inconclusive checks", async () => {
    const breakers = new AdapterBreakers();
    // Sampled as successes, 2 failures of 5 calls would not open it.
    expect(await states(breakers, SAMPLING, ["fail", "none", "none", "none"])).toEqual(
      Array(4).fill("closed"),
    );
    expect((await call(breakers, SAMPLING, "fail")).run.breaker.state).toBe("open");
  });
});

const KINDS = [
  { name: "consecutive", settings: CONSECUTIVE, failuresToOpen: 3 },
  { name: "count", settings: COUNT, failuresToOpen: 2 },
  { name: "sampling", settings: SAMPLING, failuresToOpen: 2 },
];

async function opened(settings: BreakerSettings, failures: number): Promise<AdapterBreakers> {
  const breakers = new AdapterBreakers();
  const seen = await states(breakers, settings, Array(failures).fill("fail"));
  expect(seen.at(-1)).toBe("open");
  return breakers;
}

describe.each(KINDS)(
  "AdapterBreakers: $name breaker open and half-open",
  ({ settings, failuresToOpen }) => {
    it("does not run the check while open, until halfOpenAfter has passed", async () => {
      const breakers = await opened(settings, failuresToOpen);
      const openedAt = Date.now();
      vi.setSystemTime(openedAt + HALF_OPEN_AFTER - 2_000);
      const blocked = await call(breakers, settings, "ok"); // at halfOpenAfter - 1 s
      expect(blocked.checked).toBe(false);
      expect(blocked.run).toEqual({
        ran: false,
        result: undefined,
        breaker: { state: "open", snapshot: expect.anything() },
        transitions: [],
        // The trial is due one second later, by the breaker's own clock.
        trialDueInMs: 1_000,
      });
      const trial = await call(breakers, settings, "ok"); // at exactly halfOpenAfter
      expect(trial.checked).toBe(true);
      expect(trial.run.ran).toBe(true);
    });

    it("closes after a successful trial, with half-open then closed transitions", async () => {
      const breakers = await opened(settings, failuresToOpen);
      vi.advanceTimersByTime(HALF_OPEN_AFTER);
      const trial = await call(breakers, settings, "ok");
      expect(trial.run.breaker.state).toBe("closed");
      expect(trial.run.transitions).toEqual(["half-open", "closed"]);
      expect(trial.run.trialDueInMs).toBeUndefined();
      // Closed again, and the old failures no longer count.
      const next = await call(breakers, settings, "fail");
      expect(next.checked).toBe(true);
      expect(next.run.breaker.state).toBe("closed");
    });

    it("opens again after a failed trial, for another halfOpenAfter", async () => {
      const breakers = await opened(settings, failuresToOpen);
      vi.advanceTimersByTime(HALF_OPEN_AFTER);
      const trial = await call(breakers, settings, "fail", "still down");
      expect(trial.checked).toBe(true);
      expect(trial.run.breaker.state).toBe("open");
      expect(trial.run.transitions).toEqual(["half-open", "open"]);
      expect(trial.run.result?.detail).toBe("still down");
      // A whole halfOpenAfter again, from the failed trial.
      expect(trial.run.trialDueInMs).toBe(HALF_OPEN_AFTER);
      const reopenedAt = Date.now();
      vi.setSystemTime(reopenedAt + HALF_OPEN_AFTER - 1_001);
      expect((await call(breakers, settings, "ok")).checked).toBe(false);
      const second = await call(breakers, settings, "ok");
      expect(second.checked).toBe(true);
      expect(second.run.breaker.state).toBe("closed");
    });

    it("runs exactly one trial while half-open; a check waiting on it follows its verdict", async () => {
      const breakers = await opened(settings, failuresToOpen);
      vi.advanceTimersByTime(HALF_OPEN_AFTER);
      let finishTrial: (value: CheckOutcome) => void = () => undefined;
      let trialChecks = 0;
      let otherChecks = 0;
      const trial = breakers.run("a1", settings, () => {
        trialChecks++;
        return new Promise<CheckOutcome>((resolve) => {
          finishTrial = resolve;
        });
      });
      expect(breakers.state("a1")).toBe("half-open");
      const other = breakers.run("a1", settings, async () => {
        otherChecks++;
        return outcome("ok");
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(trialChecks).toBe(1);
      expect(otherChecks).toBe(0);
      finishTrial(outcome("fail"));
      expect((await trial).breaker.state).toBe("open");
      const waited = await other;
      // The trial failed, so the waiting check is refused, not run.
      expect(waited.ran).toBe(false);
      expect(otherChecks).toBe(0);
    });

    it("stays open, without transitions, when the trial is inconclusive, and tries again", async () => {
      const breakers = await opened(settings, failuresToOpen);
      vi.advanceTimersByTime(HALF_OPEN_AFTER);
      const inconclusive = await call(breakers, settings, "none");
      expect(inconclusive.checked).toBe(true);
      expect(inconclusive.run.breaker.state).toBe("open");
      expect(inconclusive.run.transitions).toEqual([]);
      // Due for another trial at once.
      expect(inconclusive.run.trialDueInMs).toBe(0);
      const next = await call(breakers, settings, "ok");
      expect(next.checked).toBe(true);
      expect(next.run.transitions).toEqual(["half-open", "closed"]);
    });

    it("stays open across a restore from a snapshot taken while open", async () => {
      const breakers = await opened(settings, failuresToOpen);
      const openedAt = Date.now();
      const snapshot = breakers.snapshot("a1");
      expect(snapshot?.state).toBe("open");

      vi.setSystemTime(openedAt + HALF_OPEN_AFTER / 2);
      const restarted = new AdapterBreakers();
      restarted.restore("a1", settings, stored(snapshot?.snapshot));
      expect(restarted.state("a1")).toBe("open");
      const blocked = await call(restarted, settings, "ok");
      expect(blocked.checked).toBe(false);
      expect(blocked.run.breaker.state).toBe("open");
      // Half-open by the original opening time, not by the restart.
      vi.setSystemTime(openedAt + HALF_OPEN_AFTER - 1_000);
      const trial = await call(restarted, settings, "ok");
      expect(trial.checked).toBe(true);
      expect(trial.run.breaker.state).toBe("closed");
    });
  },
);

const HOUR = 3_600_000;

/** Runs one check through the breaker at the current time, without moving the clock. */
async function callNow(breakers: AdapterBreakers, settings: BreakerSettings, verdict: Verdict) {
  let checked = false;
  const run = await breakers.run("a1", settings, async () => {
    checked = true;
    return verdict === "none" ? undefined : outcome(verdict);
  });
  return { run, checked };
}

describe.each(KINDS)(
  "AdapterBreakers: $name breaker when the wall clock steps back an hour",
  ({ settings, failuresToOpen }) => {
    it("restored from a snapshot opened in the future, lets a trial through halfOpenAfter after the step", async () => {
      const breakers = await opened(settings, failuresToOpen);
      const openedAt = Date.now();
      const snapshot = stored(breakers.snapshot("a1")?.snapshot);
      expect(breakerOpenedAt(snapshot)).toBe(openedAt);

      vi.setSystemTime(openedAt - HOUR);
      const steppedAt = Date.now();
      expect(hasFutureTimes(snapshot, steppedAt)).toBe(true);
      const restarted = new AdapterBreakers();
      restarted.restore("a1", settings, snapshot);
      expect(restarted.state("a1")).toBe("open");
      // Restored as opened at the step, not an hour ahead of it.
      expect(breakerOpenedAt(restarted.snapshot("a1")?.snapshot)).toBe(steppedAt);

      vi.setSystemTime(steppedAt + HALF_OPEN_AFTER - 2_000);
      const blocked = await call(restarted, settings, "ok");
      expect(blocked.checked).toBe(false);
      expect(blocked.run.trialDueInMs).toBe(1_000);
      const trial = await call(restarted, settings, "ok"); // at exactly halfOpenAfter after the step
      expect(trial.checked).toBe(true);
      expect(trial.run.breaker.state).toBe("closed");
      expect(trial.run.transitions).toEqual(["half-open", "closed"]);
    });

    it("live, lets a trial through halfOpenAfter after the step, not an hour later", async () => {
      const breakers = await opened(settings, failuresToOpen);
      const openedAt = Date.now();
      vi.setSystemTime(openedAt - HOUR);
      const steppedAt = Date.now();
      const atStep = await callNow(breakers, settings, "ok");
      expect(atStep.checked).toBe(false);
      expect(atStep.run.breaker.state).toBe("open");
      // The trial is a whole halfOpenAfter from the step, not an hour and that.
      expect(atStep.run.trialDueInMs).toBe(HALF_OPEN_AFTER);
      expect(hasFutureTimes(atStep.run.breaker.snapshot, steppedAt)).toBe(false);
      expect(atStep.run.transitions).toEqual([]);

      vi.setSystemTime(steppedAt + HALF_OPEN_AFTER - 2_000);
      const blocked = await call(breakers, settings, "ok");
      expect(blocked.checked).toBe(false);
      expect(blocked.run.trialDueInMs).toBe(1_000);
      const trial = await call(breakers, settings, "ok");
      expect(trial.checked).toBe(true);
      expect(trial.run.breaker.state).toBe("closed");
    });
  },
);

describe("AdapterBreakers: restoring a window", () => {
  it.each([
    { name: "count", settings: COUNT },
    { name: "sampling", settings: SAMPLING },
  ])(
    "keeps a $name breaker's half-full window: one more failure opens it",
    async ({ settings }) => {
      const breakers = new AdapterBreakers();
      // 1 failure in 2 calls: not more than half.
      expect(await states(breakers, settings, ["fail", "ok"])).toEqual(["closed", "closed"]);
      const snapshot = breakers.snapshot("a1");
      expect(snapshot?.state).toBe("closed");

      const restarted = new AdapterBreakers();
      restarted.restore("a1", settings, stored(snapshot?.snapshot));
      // 2 failures in 3 calls opens it; with the window lost it would be 1 call, under minCalls.
      const next = await call(restarted, settings, "fail");
      expect(next.run.breaker.state).toBe("open");

      const lost = new AdapterBreakers();
      expect((await call(lost, settings, "fail")).run.breaker.state).toBe("closed");
    },
  );

  it("keeps a consecutive breaker's failure count", async () => {
    const breakers = new AdapterBreakers();
    await states(breakers, CONSECUTIVE, ["fail", "fail"]);
    const restarted = new AdapterBreakers();
    restarted.restore("a1", CONSECUTIVE, stored(breakers.snapshot("a1")?.snapshot));
    expect((await call(restarted, CONSECUTIVE, "fail")).run.breaker.state).toBe("open");
  });
});

describe("AdapterBreakers: bookkeeping", () => {
  it("reports closed and no snapshot for an adapter it has not seen", () => {
    const breakers = new AdapterBreakers();
    expect(breakers.state("nobody")).toBe("closed");
    expect(breakers.snapshot("nobody")).toBeUndefined();
  });

  it("forgets an adapter's breaker", async () => {
    const breakers = await opened(CONSECUTIVE, 3);
    breakers.forget("a1");
    expect(breakers.state("a1")).toBe("closed");
    expect((await call(breakers, CONSECUTIVE, "ok")).checked).toBe(true);
  });

  it("keeps an open breaker open when settings change but the kind does not", async () => {
    const breakers = await opened(CONSECUTIVE, 3);
    const changed = { ...CONSECUTIVE, threshold: 5 };
    const blocked = await call(breakers, changed, "ok");
    expect(blocked.checked).toBe(false);
    expect(blocked.run.breaker.state).toBe("open");
  });

  it("starts a fresh breaker when the kind changes", async () => {
    const breakers = await opened(CONSECUTIVE, 3);
    const fresh = await call(breakers, COUNT, "ok");
    expect(fresh.checked).toBe(true);
    expect(fresh.run.breaker.state).toBe("closed");
  });

  it("lets an unexpected error from the check through", async () => {
    const breakers = new AdapterBreakers();
    await expect(
      breakers.run("a1", CONSECUTIVE, async () => {
        throw new TypeError("bug in a probe");
      }),
    ).rejects.toThrow("bug in a probe");
  });
});
