import type { Logger } from "pino";
import type { NewEvent } from "../domain/events.js";
import {
  applyOutcome,
  type CheckOutcome,
  type HealthEvent,
  type HealthPolicy,
  type HealthState,
} from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import type { HealthStore } from "../storage/store.js";
import type { HealthView } from "./health-view.js";

export interface CommitterOptions {
  /** Flush when this many results are waiting. */
  maxBatch: number;
  /** Flush at most this long after the first result of a batch arrived. */
  maxDelayMs: number;
}

/** What the committer needs to know about an adapter besides its state. */
export interface CommitContext {
  policyOf(adapterId: string): HealthPolicy | undefined;
  inMaintenance(adapterId: string): boolean;
  /** Failover events for the states about to be committed. */
  failovers(
    pending: ReadonlyMap<string, HealthState>,
    at: number,
    touched: ReadonlySet<string>,
  ): NewEvent[];
}

/** A check result, or only a breaker change (a check skipped by an open breaker). */
export interface PendingResult {
  adapterId: string;
  outcome?: CheckOutcome | undefined;
  breaker?: HealthState["breaker"];
  /** Events that happened with this result (breaker transitions). */
  events: NewEvent[];
  /** Something besides health changed the adapter's usability (maintenance): re-check failovers. */
  touched?: boolean;
}

function toJournal(
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

/**
 * Group commit: results are folded into state and written in batches, one
 * transaction per batch, holding the state rows, the breakers' snapshots and
 * every event they caused (health changes, breaker transitions, flapping,
 * failovers). A crash loses at most the batch not yet flushed, never half of one.
 */
export class ResultCommitter {
  private pending: PendingResult[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: HealthStore,
    private readonly view: HealthView,
    private readonly context: CommitContext,
    private readonly metrics: DaemonMetrics,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly options: CommitterOptions = { maxBatch: 500, maxDelayMs: 20 },
  ) {}

  /** Asks for a failover check of an adapter whose usability changed outside health (maintenance). */
  touch(adapterId: string): void {
    this.enqueue({ adapterId, events: [], touched: true });
  }

  enqueue(result: PendingResult): void {
    this.pending.push(result);
    if (this.pending.length >= this.options.maxBatch) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.maxDelayMs);
    }
  }

  /** Commits everything waiting now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const next = new Map<string, HealthState>();
    const events: NewEvent[] = [];
    const touched = new Set<string>();
    for (const result of batch) {
      if (result.touched) touched.add(result.adapterId);
      const current = next.get(result.adapterId) ?? this.view.state(result.adapterId);
      const policy = this.context.policyOf(result.adapterId);
      // The adapter left the catalog while its check was running.
      if (!current || !policy) continue;
      events.push(...result.events);
      if (!result.outcome) {
        if (result.breaker) next.set(result.adapterId, { ...current, breaker: result.breaker });
        continue;
      }
      const applied = applyOutcome(current, result.outcome, policy);
      next.set(result.adapterId, applied.state);
      const maintenance = this.context.inMaintenance(result.adapterId);
      for (const event of applied.events) {
        events.push(toJournal(result.adapterId, event, applied.state, maintenance));
        if (event.type === "adapter.health_changed") {
          this.metrics.statusChanges.inc({ to: event.to });
          this.logger.info(
            { adapterId: result.adapterId, from: event.from, to: event.to, reason: event.reason },
            "adapter health changed",
          );
        } else {
          this.logger.warn(
            { adapterId: result.adapterId, event: event.type },
            `adapter ${event.type.slice(8)}`,
          );
        }
      }
    }
    const failovers = this.context.failovers(next, this.now(), touched);
    for (const failover of failovers) {
      this.metrics.failovers.inc();
      this.logger.warn(failover.data, "failover");
    }
    events.push(...failovers);
    const states = [...next.values()];
    try {
      this.store.commitHealth(states, events);
    } catch (error) {
      // The view keeps the last committed state, so nothing is shown that is not stored.
      this.logger.error({ err: error, batch: batch.length }, "could not commit check results");
      return;
    }
    this.metrics.commitBatches.inc();
    this.metrics.committedResults.inc(batch.length);
    for (const state of states) this.view.putState(state);
    for (const result of batch) {
      if (!result.outcome) continue;
      this.view.recordCheck(result.adapterId, {
        at: new Date(result.outcome.at).toISOString(),
        ok: result.outcome.ok,
        latency_ms: Math.round(result.outcome.latencyMs * 1000) / 1000,
        detail: result.outcome.detail,
        source: result.outcome.source,
      });
    }
  }

  stop(): void {
    this.flush();
  }
}
