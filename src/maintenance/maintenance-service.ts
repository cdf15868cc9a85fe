import {
  type ActiveMaintenance,
  type MaintenanceWindow,
  type ManualMaintenance,
  maintenanceFor,
  openWindows,
} from "../domain/maintenance.js";
import { type PeriodicTask, runOnCron } from "../schedule/periodic.js";
import type { MaintenanceChange } from "../storage/store.js";

/**
 * Told of every change to what a MaintenanceService holds, after it applied it,
 * so a replica (the HTTP front's thread) can apply the same calls.
 */
export interface MaintenanceChanges {
  applyCommitted(changes: readonly MaintenanceChange[]): void;
  markFired(windowIndex: number, atMs: number): void;
  replaceWindows(windows: readonly MaintenanceWindow[]): void;
}

/**
 * Which adapters are in maintenance: windows from the config (fixed, or opened
 * by a cron schedule for a duration) and per-adapter maintenance declared
 * through the API (committed by the engine, then applied here). Adapters in
 * maintenance are out of resolution and out of the alerting gauges, but still
 * checked.
 */
export class MaintenanceService {
  private readonly lastFired = new Map<number, number>();
  private readonly manual = new Map<string, ManualMaintenance>();
  private readonly tasks: PeriodicTask[] = [];
  private started = false;
  /** Counts declarations and lifts, for `signature()`. */
  private manualChanges = 0;

  private readonly listeners = new Set<(adapterIds: readonly string[] | "all") => void>();
  private observer: MaintenanceChanges | undefined;

  constructor(
    private windows: readonly MaintenanceWindow[],
    declared: readonly ManualMaintenance[],
    private readonly now: () => number,
  ) {
    for (const item of declared) this.manual.set(item.adapterId, item);
  }

  /** Tells `observer` of every change from now on (one observer; undefined stops it). */
  observe(observer: MaintenanceChanges | undefined): void {
    this.observer = observer;
  }

  /** The declarations made through the API (a replica's starting point). */
  declarations(): ManualMaintenance[] {
    return [...this.manual.values()];
  }

  /** When each recurring window last fired, by its index (a replica's starting point). */
  firings(): [number, number][] {
    return [...this.lastFired];
  }

  /**
   * Records that recurring window `windowIndex` opened at `atMs`. The cron schedule
   * calls it; a replica, which runs no schedule, is told it.
   */
  markFired(windowIndex: number, atMs: number): void {
    this.lastFired.set(windowIndex, atMs);
    this.observer?.markFired(windowIndex, atMs);
  }

  /**
   * Calls `listener` when config windows may have opened or closed (a cron window
   * firing or ending, a reload), so failovers are judged again; returns an
   * unsubscribe. Declarations are judged by the engine that commits them.
   */
  onWindowsChanged(listener: (adapterIds: readonly string[] | "all") => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onChange(adapterIds: readonly string[] | "all"): void {
    for (const listener of this.listeners) listener(adapterIds);
  }

  /** Starts the cron schedules of recurring windows. */
  start(): void {
    this.started = true;
    this.windows.forEach((window, index) => {
      if (window.cron === undefined) return;
      this.tasks.push(
        runOnCron(window.cron, async () => {
          this.markFired(index, this.now());
          this.onChange("all");
          // And again when the window closes.
          const closing = setTimeout(() => this.onChange("all"), window.durationMs ?? 0);
          closing.unref();
        }),
      );
    });
  }

  stop(): void {
    this.started = false;
    for (const task of this.tasks.splice(0)) task.stop();
  }

  /**
   * Replaces the config windows (a reload) and restarts their cron schedules. A
   * recurring window open now stays open when the new config has it unchanged,
   * so a reload does not end maintenance early; failovers are re-checked since
   * windows may have opened or closed.
   */
  replaceWindows(windows: readonly MaintenanceWindow[]): void {
    const wasStarted = this.started;
    this.stop();
    const fired = new Map<string, number[]>();
    for (const [index, at] of this.lastFired) {
      const key = JSON.stringify(this.windows[index]);
      fired.set(key, [...(fired.get(key) ?? []), at]);
    }
    this.lastFired.clear();
    windows.forEach((window, index) => {
      const at = fired.get(JSON.stringify(window))?.shift();
      if (at !== undefined) this.lastFired.set(index, at);
    });
    this.windows = windows;
    this.observer?.replaceWindows(windows);
    if (wasStarted) this.start();
    this.onChange("all");
  }

  /**
   * A lookup for many adapters at one instant: the open windows are worked out
   * once, not once per adapter (resolution asks for every candidate).
   */
  lookup(): (adapterId: string) => ActiveMaintenance | undefined {
    const now = this.now();
    const open = openWindows(this.windows, this.lastFired, now);
    // The usual case on the query path: nothing in maintenance, nothing to match.
    if (open.length === 0 && this.manual.size === 0) return () => undefined;
    return (adapterId) => maintenanceFor(adapterId, open, this.manual, now);
  }

  /**
   * A short text that changes whenever the set of adapters in maintenance may
   * have: which windows are open now, declarations and lifts, and how many
   * declarations are still in force (they only ever expire between changes).
   * Answers computed under one signature are right while it stays the same.
   */
  signature(): string {
    const now = this.now();
    let inForce = 0;
    for (const declared of this.manual.values()) {
      if (declared.untilMs === null || now < declared.untilMs) inForce++;
    }
    const open = openWindows(this.windows, this.lastFired, now);
    const windows =
      open.length === 0
        ? ""
        : open.map((window) => `${window.adapters}@${window.untilMs}`).join(",");
    return `${this.manualChanges}:${inForce}:${windows}`;
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

  /** Whether the adapter has maintenance declared through the API (in force or not). */
  isDeclared(adapterId: string): boolean {
    return this.manual.has(adapterId);
  }

  /** Applies declarations and lifts once the engine has committed them. */
  applyCommitted(changes: readonly MaintenanceChange[]): void {
    for (const { adapterId, declared } of changes) {
      if (declared) this.manual.set(adapterId, declared);
      else this.manual.delete(adapterId);
      this.manualChanges++;
    }
    this.observer?.applyCommitted(changes);
  }
}
