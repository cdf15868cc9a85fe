import type { NewEvent } from "../domain/events.js";
import {
  type ActiveMaintenance,
  type MaintenanceWindow,
  type ManualMaintenance,
  maintenanceFor,
  openWindows,
} from "../domain/maintenance.js";
import type { HealthStore } from "../storage/store.js";
import { type PeriodicTask, runOnCron } from "./periodic.js";

/**
 * Which adapters are in maintenance: windows from the config (fixed, or opened
 * by a cron schedule for a duration) and per-adapter maintenance declared
 * through the API (kept in SQLite). Adapters in maintenance are out of
 * resolution and out of the alerting gauges, but still checked.
 */
export class MaintenanceService {
  private readonly lastFired = new Map<number, number>();
  private readonly manual = new Map<string, ManualMaintenance>();
  private readonly tasks: PeriodicTask[] = [];

  constructor(
    private readonly windows: readonly MaintenanceWindow[],
    private readonly store: HealthStore,
    private readonly now: () => number,
    /** Told when an adapter enters or leaves maintenance, so failovers are re-checked. */
    private readonly onChange: (adapterIds: readonly string[] | "all") => void = () => undefined,
  ) {
    for (const declared of store.loadMaintenance()) this.manual.set(declared.adapterId, declared);
  }

  /** Starts the cron schedules of recurring windows. */
  start(): void {
    this.windows.forEach((window, index) => {
      if (window.cron === undefined) return;
      this.tasks.push(
        runOnCron(window.cron, async () => {
          this.lastFired.set(index, this.now());
          this.onChange("all");
          // And again when the window closes.
          const closing = setTimeout(() => this.onChange("all"), window.durationMs ?? 0);
          closing.unref();
        }),
      );
    });
  }

  stop(): void {
    for (const task of this.tasks.splice(0)) task.stop();
  }

  /** The maintenance applying to an adapter now, if any. */
  current(adapterId: string): ActiveMaintenance | undefined {
    const now = this.now();
    return maintenanceFor(
      adapterId,
      openWindows(this.windows, this.lastFired, now),
      this.manual,
      now,
    );
  }

  /** Declares maintenance for one adapter until `untilMs` (null: until lifted). */
  declare(adapterId: string, untilMs: number | null, reason: string): void {
    const now = this.now();
    const declared: ManualMaintenance = { adapterId, untilMs, reason };
    const event: NewEvent = {
      type: "adapter.maintenance_started",
      subject: adapterId,
      time: now,
      data: {
        adapter_id: adapterId,
        until: untilMs === null ? null : new Date(untilMs).toISOString(),
        reason,
      },
    };
    this.store.saveMaintenance(adapterId, declared, [event], now);
    this.manual.set(adapterId, declared);
    this.onChange([adapterId]);
  }

  /** Lifts declared maintenance; returns false when there was none. */
  lift(adapterId: string): boolean {
    if (!this.manual.has(adapterId)) return false;
    const now = this.now();
    const event: NewEvent = {
      type: "adapter.maintenance_ended",
      subject: adapterId,
      time: now,
      data: { adapter_id: adapterId },
    };
    this.store.saveMaintenance(adapterId, null, [event], now);
    this.manual.delete(adapterId);
    this.onChange([adapterId]);
    return true;
  }
}
