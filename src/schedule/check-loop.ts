import type { AdapterEntry } from "../domain/adapter.js";
import type { CheckReport } from "../domain/decide.js";
import type { HealthState } from "../domain/health.js";
import type { WatchUpdate } from "../probes/grpc-health-watcher.js";
import type { CheckRunner } from "./check-runner.js";
import type { AdapterCheck } from "./probe-scheduler.js";

/** What the loop hands reports to: the engine, which decides and commits them. */
export interface ReportSink {
  recordCheck(report: CheckReport): { state: HealthState; nextCheckInMs: number } | undefined;
  latestEntry(adapterId: string): AdapterEntry | undefined;
  latestState(adapterId: string): HealthState | undefined;
}

/** When an adapter's next check is due, as the scheduler takes it. */
export interface CheckTimer {
  /** Brings the adapter's next check in to within `delayMs` when it is due later. */
  checkWithin(adapterId: string, delayMs: number): void;
}

/**
 * The check loop: the scheduler says which adapter is due, the runner checks it,
 * the engine decides the report, and the decided state says when the adapter is
 * due next. The parts do not call each other; this coordinates them.
 */
export class CheckLoop implements AdapterCheck {
  constructor(
    private readonly runner: CheckRunner,
    private readonly engine: ReportSink,
  ) {}

  async run(entry: AdapterEntry): Promise<number> {
    const report = await this.runner.check(
      entry,
      this.engine.latestState(entry.adapterId)?.breaker?.snapshot,
    );
    return this.engine.recordCheck(report)?.nextCheckInMs ?? 0;
  }

  forget(adapterId: string): void {
    this.runner.forget(adapterId);
  }
}

/**
 * Statuses pushed by Watch streams, recorded like poll results: a pushed change
 * puts the adapter on its edge, so its next check is brought in to the edge
 * interval until rise or fall decides, as after a polled change.
 */
export class PushedChecks {
  constructor(
    private readonly runner: CheckRunner,
    private readonly engine: ReportSink,
    private readonly timer: CheckTimer,
  ) {}

  async record(update: WatchUpdate): Promise<void> {
    const reports = await this.runner.pushed(
      update,
      (adapterId) => this.engine.latestEntry(adapterId),
      (adapterId) => this.engine.latestState(adapterId)?.breaker?.snapshot,
    );
    for (const report of reports) {
      const decided = this.engine.recordCheck(report);
      if (decided) this.timer.checkWithin(report.adapterId, decided.nextCheckInMs);
    }
  }
}
