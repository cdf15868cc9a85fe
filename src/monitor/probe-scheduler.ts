import { type BulkheadPolicy, bulkhead } from "cockatiel";
import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";
import type { AdapterChecker } from "./adapter-checker.js";
import type { ResultCommitter } from "./result-committer.js";

export interface SchedulerOptions {
  intervalMs: number;
  /** Fraction of the interval by which each wait is randomly shortened or lengthened. */
  jitter: number;
  /** Most checks in flight at once. */
  concurrency: number;
  random?: () => number;
}

interface Slot {
  entry: AdapterEntry;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
}

/**
 * One timer per adapter. First checks are spread over the interval so a large
 * catalog does not probe in one burst; each next check is scheduled when the
 * previous one ends, so checks of one adapter never overlap; a bulkhead caps the
 * checks in flight across all adapters.
 */
export class ProbeScheduler {
  private readonly slots = new Map<string, Slot>();
  private readonly limiter: BulkheadPolicy;
  private readonly random: () => number;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly checker: AdapterChecker,
    private readonly committer: ResultCommitter,
    private readonly options: SchedulerOptions,
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
      }
    }
    for (const entry of entries) {
      const slot = this.slots.get(entry.adapterId);
      if (slot) {
        slot.entry = entry;
        continue;
      }
      const created: Slot = { entry, timer: undefined, running: false };
      this.slots.set(entry.adapterId, created);
      this.schedule(created, this.random() * this.options.intervalMs);
    }
  }

  /** Checks every adapter now (used at start-up and by tests). */
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

  private nextDelay(): number {
    const spread = this.options.intervalMs * this.options.jitter;
    return Math.max(0, this.options.intervalMs + (this.random() * 2 - 1) * spread);
  }

  private schedule(slot: Slot, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      void this.run(slot).then(() => {
        if (this.slots.get(slot.entry.adapterId) === slot) this.schedule(slot, this.nextDelay());
      });
    }, delayMs);
  }

  private run(slot: Slot): Promise<void> {
    if (slot.running || this.stopped) return Promise.resolve();
    slot.running = true;
    const task = this.limiter
      .execute(async () => {
        const outcome = await this.checker.check(slot.entry);
        if ("inconclusive" in outcome) {
          this.logger.debug(
            { adapterId: slot.entry.adapterId, detail: outcome.detail },
            "check inconclusive",
          );
          return;
        }
        this.committer.enqueue(slot.entry.adapterId, outcome);
      })
      .catch((error: unknown) => {
        // A probe that throws is a bug: log it and keep the schedule alive.
        this.logger.error(
          { err: error, adapterId: slot.entry.adapterId },
          "check failed unexpectedly",
        );
      })
      .finally(() => {
        slot.running = false;
        this.inFlight.delete(task);
      });
    this.inFlight.add(task);
    return task;
  }
}
