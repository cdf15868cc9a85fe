import type { Logger } from "pino";
import type { NewEvent } from "../domain/events.js";
import {
  applyOutcome,
  type CheckOutcome,
  type HealthPolicy,
  type HealthState,
} from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import type { HealthStore } from "../storage/store.js";
import type { HealthView } from "./health-view.js";

export interface CommitterOptions {
  /** Flush when this many outcomes are waiting. */
  maxBatch: number;
  /** Flush at most this long after the first outcome of a batch arrived. */
  maxDelayMs: number;
}

/**
 * Group commit: outcomes are folded into state and written in batches, one
 * transaction per batch, state rows and their events together. A crash loses at
 * most the batch not yet flushed, never half of one.
 */
export class ResultCommitter {
  private pending: { adapterId: string; outcome: CheckOutcome }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: HealthStore,
    private readonly view: HealthView,
    private readonly policy: HealthPolicy,
    private readonly metrics: DaemonMetrics,
    private readonly logger: Logger,
    private readonly options: CommitterOptions = { maxBatch: 500, maxDelayMs: 20 },
  ) {}

  enqueue(adapterId: string, outcome: CheckOutcome): void {
    this.pending.push({ adapterId, outcome });
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
    for (const { adapterId, outcome } of batch) {
      const current = next.get(adapterId) ?? this.view.state(adapterId);
      // The adapter left the catalog while its check was running.
      if (!current) continue;
      const { state, change } = applyOutcome(current, outcome, this.policy);
      next.set(adapterId, state);
      if (change) {
        events.push({
          type: "adapter.health_changed",
          subject: adapterId,
          time: change.at,
          data: {
            adapter_id: adapterId,
            from: change.from,
            to: change.to,
            reason: change.reason,
            consecutive_successes: state.consecutiveSuccesses,
            consecutive_failures: state.consecutiveFailures,
            source: state.source,
          },
        });
        this.metrics.statusChanges.inc({ to: change.to });
        this.logger.info(
          { adapterId, from: change.from, to: change.to, reason: change.reason },
          "adapter health changed",
        );
      }
    }
    const states = [...next.values()];
    try {
      this.store.commitHealth(states, events);
    } catch (error) {
      // The view keeps the last committed state, so nothing is shown that is not stored.
      this.logger.error({ err: error, batch: batch.length }, "could not commit check results");
      return;
    }
    this.metrics.commitBatches.inc();
    for (const state of states) this.view.putState(state);
  }

  stop(): void {
    this.flush();
  }
}
