import { performance } from "node:perf_hooks";
import { type BulkheadPolicy, bulkhead } from "cockatiel";
import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";

/** Checks one adapter and says how long to wait before the next check. */
export interface AdapterCheck {
  run(entry: AdapterEntry): Promise<number>;
  forget(adapterId: string): void;
}

export interface SchedulerOptions {
  /** The adapter's regular interval: first checks never spread wider than it. */
  firstSpreadMs: (entry: AdapterEntry) => number;
  /**
   * First checks per second: new adapters' first checks spread over
   * `count / startupRatePerSec` seconds (at most their interval), so a small
   * catalog has verdicts within moments and a large one does not stampede.
   */
  startupRatePerSec: number;
  /** Most checks in flight at once. */
  concurrency: number;
  random?: () => number;
}

interface Slot {
  entry: AdapterEntry;
  timer: NodeJS.Timeout | undefined;
  /** performance.now() at which the timer fires. */
  dueAt: number;
  running: boolean;
  /** The check in flight, while `running`. */
  current: Promise<void> | undefined;
}

/**
 * One timer per adapter. First checks are spread by the start-up rate (never
 * wider than the interval) so a large catalog does not probe in one burst; each next check is scheduled when the
 * previous one ends (after the delay the check asked for), so checks of one
 * adapter never overlap; a bulkhead caps the checks in flight across adapters.
 */
export class ProbeScheduler {
  private readonly slots = new Map<string, Slot>();
  private limiter: BulkheadPolicy;
  private readonly random: () => number;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly check: AdapterCheck,
    private options: SchedulerOptions,
    private readonly logger: Logger,
  ) {
    // The queue holds at most one waiting check per adapter, since checks of one adapter never overlap.
    this.limiter = bulkhead(options.concurrency, Number.MAX_SAFE_INTEGER);
    this.random = options.random ?? Math.random;
  }

  /** Aligns the timers with the catalog: starts new adapters, drops removed ones. */
  reconcile(entries: readonly AdapterEntry[]): void {
    if (this.stopped) return;
    const wanted = new Set(entries.map((entry) => entry.adapterId));
    for (const [adapterId, slot] of this.slots) {
      if (!wanted.has(adapterId)) {
        clearTimeout(slot.timer);
        this.slots.delete(adapterId);
        this.check.forget(adapterId);
      }
    }
    const added: Slot[] = [];
    for (const entry of entries) {
      const slot = this.slots.get(entry.adapterId);
      if (slot) {
        slot.entry = entry;
        continue;
      }
      const created: Slot = {
        entry,
        timer: undefined,
        dueAt: 0,
        running: false,
        current: undefined,
      };
      this.slots.set(entry.adapterId, created);
      added.push(created);
    }
    const startupSpreadMs = (added.length / this.options.startupRatePerSec) * 1000;
    for (const slot of added) {
      const spread = Math.min(startupSpreadMs, this.options.firstSpreadMs(slot.entry));
      this.schedule(slot, this.random() * spread);
    }
  }

  /**
   * Applies reloaded settings. A new concurrency gets a new bulkhead; checks
   * already admitted by the old one finish under it, so the old cap drains away
   * over one round rather than checks being cancelled. When per-adapter settings
   * changed, a wait longer than the adapter's new spread (its interval got
   * shorter) is brought in, at random within it, rather than waited out.
   */
  reconfigure(options: SchedulerOptions, settingsChanged: boolean): void {
    if (options.concurrency !== this.options.concurrency) {
      this.limiter = bulkhead(options.concurrency, Number.MAX_SAFE_INTEGER);
    }
    this.options = options;
    if (!settingsChanged || this.stopped) return;
    const now = performance.now();
    for (const slot of this.slots.values()) this.bringIn(slot, now);
  }

  /**
   * Checks these adapters within their regular interval (at random within it,
   * so many at once do not probe in one burst) when their next check is
   * further off: a Watch stream that stood in for polling has ended.
   */
  pollSoon(adapterIds: Iterable<string>): void {
    if (this.stopped) return;
    const now = performance.now();
    for (const adapterId of adapterIds) {
      const slot = this.slots.get(adapterId);
      if (slot) this.bringIn(slot, now);
    }
  }

  /** Brings the adapter's next check in to within `delayMs` when it is due later. */
  checkWithin(adapterId: string, delayMs: number): void {
    const slot = this.slots.get(adapterId);
    if (!slot || this.stopped || slot.running || slot.timer === undefined) return;
    if (slot.dueAt - performance.now() > delayMs) this.schedule(slot, delayMs);
  }

  /** Checks every adapter now (tests and the first round after start-up). */
  async checkAllNow(): Promise<void> {
    await Promise.all([...this.slots.values()].map((slot) => this.run(slot)));
  }

  /** Stops scheduling and waits for checks in flight (up to `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timeout);
  }

  /** Reschedules a waiting check due later than one spread from now to a random point within it. */
  private bringIn(slot: Slot, now: number): void {
    if (slot.running || slot.timer === undefined) return;
    const spread = this.options.firstSpreadMs(slot.entry);
    if (slot.dueAt - now > spread) this.schedule(slot, this.random() * spread);
  }

  private schedule(slot: Slot, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(slot.timer);
    slot.dueAt = performance.now() + delayMs;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.run(slot);
    }, delayMs);
  }

  private run(slot: Slot): Promise<void> {
    // A check already running is the one asked for: its result is as new as another's.
    if (slot.running) return slot.current ?? Promise.resolve();
    if (this.stopped) return Promise.resolve();
    slot.running = true;
    clearTimeout(slot.timer);
    const task = this.limiter
      .execute(() => this.check.run(slot.entry))
      .then(
        (nextDelayMs) => nextDelayMs,
        (error: unknown) => {
          // A check that throws is a bug: log it and keep the schedule alive.
          this.logger.error(
            { err: error, adapterId: slot.entry.adapterId },
            "check failed unexpectedly",
          );
          return this.options.firstSpreadMs(slot.entry);
        },
      )
      .then((nextDelayMs) => {
        slot.running = false;
        slot.current = undefined;
        this.inFlight.delete(task);
        if (this.slots.get(slot.entry.adapterId) === slot) this.schedule(slot, nextDelayMs);
      });
    this.inFlight.add(task);
    slot.current = task;
    return task;
  }
}
