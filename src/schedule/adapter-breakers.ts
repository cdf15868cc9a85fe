import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  CountBreaker,
  circuitBreaker,
  handleType,
  type IBreaker,
  IsolatedCircuitError,
  SamplingBreaker,
} from "cockatiel";
import type { BreakerSettings } from "../domain/adapter-settings.js";
import {
  breakerOpenedAt,
  clampBreakerSnapshot,
  hasFutureTimes,
} from "../domain/breaker-snapshot.js";
import type { BreakerSnapshot, BreakerState, CheckOutcome } from "../domain/health.js";

/**
 * A plain copy of breaker state: cockatiel's toJSON() returns its live internal
 * objects (with functions inside), which must not leak into stored state.
 */
function plainCopy(state: unknown): unknown {
  return state === undefined || state === null ? state : JSON.parse(JSON.stringify(state));
}

/** Thrown inside the breaker so that a failed check counts as a failure. */
class CheckFailed extends Error {}

/**
 * Thrown inside the breaker when a check reached no verdict. The breaker does
 * not handle it, so in the closed state it records neither a success nor a
 * failure (a plain return would count as a success).
 */
class NoVerdict extends Error {}

/**
 * A consecutive breaker that is closed and counts no failure, as its snapshot:
 * shared by every adapter at rest (states are never changed in place).
 */
const RESTING: BreakerSnapshot = Object.freeze({
  state: "closed",
  snapshot: Object.freeze({
    ownState: Object.freeze({ value: CircuitState.Closed }),
    breakerState: 0,
  }),
});

/**
 * Whether the adapter's breaker is at rest: consecutive, closed, no failure
 * counted (or never checked). A success then changes nothing, so the daemon
 * holds no breaker object for it, only for breakers with something to remember.
 */
function isResting(settings: BreakerSettings, snapshot: unknown): boolean {
  if (settings.kind !== "consecutive") return false;
  if (snapshot === undefined || snapshot === null) return true;
  const shape = snapshot as { ownState?: { value?: unknown }; breakerState?: unknown };
  return shape.ownState?.value === CircuitState.Closed && shape.breakerState === 0;
}

/** The snapshot with a breaker part that the breaker of `settings` can take up. */
function fitSnapshot(settings: BreakerSettings, snapshot: unknown): unknown {
  if (typeof snapshot !== "object" || snapshot === null) return snapshot;
  const { ownState, breakerState } = snapshot as { ownState?: unknown; breakerState?: unknown };
  const fits =
    settings.kind === "consecutive"
      ? typeof breakerState === "number"
      : settings.kind === "count"
        ? Array.isArray((breakerState as { samples?: unknown } | null)?.samples) &&
          (breakerState as { samples: unknown[] }).samples.length === settings.size
        : Array.isArray((breakerState as { windows?: unknown } | null)?.windows);
  return fits ? snapshot : { ownState, breakerState: makeBreaker(settings).state };
}

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/** What running a check through its breaker gave: the check's result, if it ran, and the breaker after. */
export interface BreakerRun<T> {
  ran: boolean;
  result: T | undefined;
  breaker: BreakerSnapshot;
  /** The states the breaker went through, in order. */
  transitions: BreakerState[];
  /** While open: how long until the breaker lets a trial through. */
  trialDueInMs: number | undefined;
}

interface Slot {
  policy: CircuitBreakerPolicy;
  settingsKey: string;
  transitions: BreakerState[];
}

function makeBreaker(settings: BreakerSettings): IBreaker {
  switch (settings.kind) {
    case "consecutive":
      return new ConsecutiveBreaker(settings.threshold);
    case "count":
      return new CountBreaker({
        threshold: settings.threshold,
        size: settings.size,
        minimumNumberOfCalls: Math.min(settings.minCalls, settings.size),
      });
    case "sampling":
      return new SamplingBreaker({
        threshold: settings.threshold,
        duration: settings.durationMs,
        // cockatiel compares the (whole) number of calls with duration × rate; half a call
        // of margin keeps floating-point rounding from asking for minCalls + 1.
        minimumRps: (settings.minCalls - 0.5) / (settings.durationMs / 1000),
      });
  }
}

/**
 * One cockatiel circuit breaker per adapter. A failed check counts as a
 * failure; an open breaker skips checks (and so takes the adapter out of
 * resolution) until `halfOpenAfterMs` has passed, when one trial check runs:
 * success closes it, failure opens it again. State can be restored from the
 * snapshot saved with the adapter's health, so an open breaker stays open
 * across a restart and closes only by its own rules. cockatiel keeps its times by
 * the wall clock: a time that lies ahead (the clock stepped back) is pulled back
 * to now before each run, so a clock step never holds a breaker open.
 *
 * These objects are the check's working state, not the adapter's record: a run
 * returns the breaker's snapshot and transitions, and the engine commits them. A
 * consecutive breaker at rest (closed, no failure counted) is held as no object
 * at all: most adapters are healthy most of the time.
 */
export class AdapterBreakers {
  private readonly slots = new Map<string, Slot>();

  /**
   * Creates the adapter's breaker from a saved snapshot. A snapshot of another
   * kind of breaker (the configuration changed since it was saved) keeps its
   * open or closed state and starts the new kind's counts afresh.
   */
  restore(adapterId: string, settings: BreakerSettings, snapshot: unknown): void {
    this.slotFor(
      adapterId,
      settings,
      fitSnapshot(settings, clampBreakerSnapshot(snapshot, Date.now())),
    );
  }

  snapshot(adapterId: string): BreakerSnapshot | undefined {
    const slot = this.slots.get(adapterId);
    return slot
      ? { state: STATE_NAMES[slot.policy.state], snapshot: slot.policy.toJSON() }
      : undefined;
  }

  state(adapterId: string): BreakerState {
    const slot = this.slots.get(adapterId);
    return slot ? STATE_NAMES[slot.policy.state] : "closed";
  }

  forget(adapterId: string): void {
    this.slots.delete(adapterId);
  }

  /**
   * Runs `check` through the adapter's breaker. An outcome that is not ok
   * counts as a failure; `undefined` (no verdict) counts as neither. When the
   * breaker is open the check does not run. `saved` is the breaker's committed
   * snapshot, taken up when this adapter has no breaker yet (after a restart, or
   * an adapter back in the catalog), so a breaker always resumes from its record.
   */
  async run(
    adapterId: string,
    settings: BreakerSettings,
    check: () => Promise<CheckOutcome | undefined>,
    saved?: unknown,
  ): Promise<BreakerRun<CheckOutcome>> {
    if (!this.slots.has(adapterId) && isResting(settings, saved)) {
      const result = await check();
      // A success, or no verdict, leaves a resting breaker as it was: no object is needed.
      if (result === undefined || result.ok) {
        return { ran: true, result, breaker: RESTING, transitions: [], trialDueInMs: undefined };
      }
      // The breaker counts this failure, so it takes shape now.
      return this.runThrough(adapterId, settings, async () => result, undefined);
    }
    const run = await this.runThrough(adapterId, settings, check, saved);
    // A consecutive breaker back at rest is nothing but its settings until its next failure.
    if (run.breaker.state === "closed" && isResting(settings, run.breaker.snapshot)) {
      this.slots.delete(adapterId);
      return { ...run, breaker: RESTING };
    }
    return run;
  }

  private async runThrough(
    adapterId: string,
    settings: BreakerSettings,
    check: () => Promise<CheckOutcome | undefined>,
    saved: unknown,
  ): Promise<BreakerRun<CheckOutcome>> {
    if (!this.slots.has(adapterId) && saved !== undefined && saved !== null) {
      this.restore(adapterId, settings, saved);
    }
    let slot = this.slotFor(adapterId, settings);
    let before = slot.policy.toJSON();
    const now = Date.now();
    if (hasFutureTimes(before, now)) {
      before = clampBreakerSnapshot(plainCopy(before), now) as typeof before;
      this.slots.delete(adapterId);
      slot = this.slotFor(adapterId, settings, before);
    }
    let result: CheckOutcome | undefined;
    let ran = true;
    try {
      await slot.policy.execute(async () => {
        result = await check();
        if (result === undefined) throw new NoVerdict();
        if (!result.ok) throw new CheckFailed(result.detail);
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) ran = false;
      else if (error instanceof NoVerdict) {
        // cockatiel closes a half-open breaker on an error it does not handle; a trial
        // without a verdict must not close it, so go back to open, due for another trial.
        if (slot.transitions.includes("half-open")) {
          this.slots.delete(adapterId);
          slot = this.slotFor(adapterId, settings, before);
        }
      } else if (!(error instanceof CheckFailed)) throw error;
    }
    const breaker = {
      state: STATE_NAMES[slot.policy.state],
      snapshot: plainCopy(slot.policy.toJSON()),
    };
    const openedAt = breakerOpenedAt(breaker.snapshot);
    const trialDueInMs =
      breaker.state === "open" && openedAt !== undefined
        ? Math.max(0, openedAt + settings.halfOpenAfterMs - Date.now())
        : undefined;
    return {
      ran,
      result: ran ? result : undefined,
      breaker,
      transitions: slot.transitions.splice(0),
      trialDueInMs,
    };
  }

  private slotFor(adapterId: string, settings: BreakerSettings, snapshot?: unknown): Slot {
    const settingsKey = JSON.stringify(settings);
    const existing = this.slots.get(adapterId);
    if (existing && existing.settingsKey === settingsKey) return existing;
    // New settings (a reload or an override) keep the current state where the kind allows it.
    const initialState =
      snapshot ??
      (existing?.settingsKey.includes(`"kind":"${settings.kind}"`)
        ? existing.policy.toJSON()
        : undefined);
    const policy = circuitBreaker(handleType(CheckFailed), {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: makeBreaker(settings),
      // cockatiel adopts (and mutates) the object it is given: hand it a copy.
      ...(initialState ? { initialState: plainCopy(initialState) } : {}),
    });
    const slot: Slot = { policy, settingsKey, transitions: [] };
    policy.onStateChange((state) => slot.transitions.push(STATE_NAMES[state]));
    this.slots.set(adapterId, slot);
    return slot;
  }
}
