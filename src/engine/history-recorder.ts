import type { HealthState } from "../domain/health.js";
import {
  type AdapterHistory,
  type BucketRow,
  type CountedCheck,
  type Observation,
  observe,
  resumeHistory,
} from "../domain/history.js";
import { type StaleRule, staleLimitMs } from "../domain/status-view.js";

/**
 * How the daemon carries forward the history of adapters it has not observed for a
 * while (watched, or with their breaker open): those unobserved `afterMs` are
 * looked for every `everyMs`, at most `slice` at a time, so one commit stays small
 * (50,000 watched adapters in one would hold the event loop for a second) while
 * 50,000 of them still fit in `afterMs`. What a crash can lose of an adapter's
 * history is bounded by about `afterMs`.
 */
export const HISTORY_CARRY = { afterMs: 120_000, everyMs: 5_000, slice: 2_500 } as const;

/** Where the recorder finds an adapter's newest buckets, to carry on after a restart. */
export interface NewestBuckets {
  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow };
}

/** Observations staged for one commit: the histories they lead to, and the rows to write. */
export class StagedHistory {
  readonly histories = new Map<string, AdapterHistory>();
  readonly rows = new Map<string, BucketRow>();

  get empty(): boolean {
    return this.rows.size === 0 && this.histories.size === 0;
  }

  add(adapterId: string, history: AdapterHistory, rows: readonly BucketRow[]): void {
    this.histories.set(adapterId, history);
    // A bucket written twice in one commit is written once, as it ends up.
    for (const row of rows) this.rows.set(`${row.granularity}:${row.start}:${adapterId}`, row);
  }
}

/**
 * Each adapter's history between commits: observations are staged with the
 * commit that carries them (the rows go into the same transaction as the
 * states) and adopted once it is committed, like everything else the engine
 * holds, so what is in memory is what the database has.
 */
export class HistoryRecorder {
  private readonly committed = new Map<string, AdapterHistory>();

  constructor(
    private readonly store: NewestBuckets,
    private staleRule: StaleRule,
  ) {}

  setStaleRule(rule: StaleRule): void {
    this.staleRule = rule;
  }

  /** What the adapter's state at `at` counts as from then on. */
  observation(state: HealthState, maintenance: boolean, at: number): Observation {
    const checkedAt = state.lastChecked ?? at;
    return {
      at,
      status: state.status,
      maintenance,
      freshUntil: state.lastChecked === null ? at : checkedAt + staleLimitMs(state, this.staleRule),
    };
  }

  /** Stages an observation of `adapterId` (with the check that made it, if any) into `staged`. */
  stage(
    staged: StagedHistory,
    adapterId: string,
    observation: Observation,
    check?: CountedCheck,
  ): void {
    const history = staged.histories.get(adapterId) ?? this.historyOf(adapterId);
    if (!history) return;
    // Time does not run backwards: an observation older than the last is not history.
    if (history.last && observation.at < history.last.at) return;
    const next = observe(history, adapterId, observation, check);
    staged.add(adapterId, next.history, next.rows);
  }

  /**
   * The committed history's last observation: what the time since counts as, for
   * readers (it is in no bucket yet) and for carrying it forward.
   */
  lastObservation(adapterId: string): Observation | undefined {
    return this.committed.get(adapterId)?.last;
  }

  /** Adapters last observed before `before` (ms), at most `limit` of them. */
  observedBefore(before: number, limit = Number.POSITIVE_INFINITY): string[] {
    const ids: string[] = [];
    for (const [adapterId, history] of this.committed) {
      if (ids.length >= limit) break;
      if (history.last && history.last.at < before) ids.push(adapterId);
    }
    return ids;
  }

  /** Every adapter with a history in this run. */
  observedAdapters(): string[] {
    return [...this.committed.keys()];
  }

  adopt(staged: StagedHistory): void {
    for (const [adapterId, history] of staged.histories) this.committed.set(adapterId, history);
  }

  forget(adapterId: string): void {
    this.committed.delete(adapterId);
  }

  /**
   * The committed history, or the one the store's newest buckets carry on. Undefined
   * when the store cannot be read: a fresh history would write over its buckets, so
   * the observation is left out (its time is unknown) and the next one tries again.
   */
  private historyOf(adapterId: string): AdapterHistory | undefined {
    const known = this.committed.get(adapterId);
    if (known) return known;
    try {
      const newest = this.store.newestBuckets(adapterId);
      return resumeHistory(newest.minute, newest.hour);
    } catch {
      return undefined;
    }
  }
}
