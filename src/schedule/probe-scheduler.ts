import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";

/** Checks one adapter and says how long to wait before the next check. */
export interface AdapterCheck {
  run(entry: AdapterEntry): Promise<number>;
  forget(adapterId: string): void;
}

export interface SchedulerOptions {
  /** The adapter's regular interval: first checks spread no wider than it unless the ceiling needs it. */
  firstSpreadMs: (entry: AdapterEntry) => number;
  /**
   * First checks per second: new adapters' first checks spread over
   * `count / startupRatePerSec` seconds (at most their interval), so a small
   * catalog has verdicts within moments and a large one does not stampede.
   */
  startupRatePerSec: number;
  /**
   * The most first checks per second, whatever the interval: a catalog too large
   * to be checked within one interval at this rate has its first round spread
   * over `count / startupMaxRatePerSec` seconds instead, so checks are never
   * started faster than the daemon can finish them.
   */
  startupMaxRatePerSec: number;
  /** Most checks in flight at once. */
  concurrency: number;
  random?: () => number;
}

interface Slot {
  entry: AdapterEntry;
  /** performance.now() at which the check is due, while it waits. */
  dueAt: number;
  /** Where the slot sits in the due-time heap, or -1 while it does not wait (running, dropped). */
  heapIndex: number;
  /** When it was put in the heap, in puts: checks due at the same time start in that order. */
  putOrder: number;
  running: boolean;
  /** The check in flight, while `running`. */
  current: Promise<void> | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function before(a: Slot, b: Slot): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.putOrder < b.putOrder);
}

/**
 * The bulkhead: at most `limit` checks probing at once, the rest waiting in
 * order. Its own, rather than cockatiel's, because cockatiel's queue is an array
 * shifted once per admission: with 100,000 adapters queued in a first round or
 * dropped at stop, that is quadratic, seconds of CPU. Here an admission is O(1).
 */
class Permits {
  private active = 0;
  private waiting: (((granted: boolean) => void) | undefined)[] = [];
  private head = 0;

  constructor(private limit: number) {}

  /** Resolves true once the caller may probe, or false when waiting checks were dropped. */
  acquire(): Promise<boolean> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    if (this.active <= this.limit && this.grantNext()) return;
    this.active--;
  }

  /** A new limit: a higher one admits waiting checks now, a lower one as checks finish. */
  setLimit(limit: number): void {
    this.limit = limit;
    while (this.active < this.limit && this.head < this.waiting.length) {
      this.active++;
      this.grantNext();
    }
  }

  /** Tells every waiting check it will not run. */
  dropWaiting(): void {
    const dropped = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const resolve of dropped) resolve?.(false);
  }

  /** Hands the caller's permit to the longest-waiting check, if any. */
  private grantNext(): boolean {
    if (this.head >= this.waiting.length) return false;
    const next = this.waiting[this.head];
    this.waiting[this.head] = undefined;
    this.head++;
    // Drop the granted front now and then, so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next?.(true);
    return true;
  }
}

/** Waiting checks ordered by due time: a binary min-heap that knows each slot's place. */
class DueHeap {
  private readonly slots: Slot[] = [];
  private puts = 0;

  get size(): number {
    return this.slots.length;
  }

  peek(): Slot | undefined {
    return this.slots[0];
  }

  /** Puts the slot in at its `dueAt`, or moves it there if it is in already. */
  set(slot: Slot, dueAt: number): void {
    slot.dueAt = dueAt;
    slot.putOrder = this.puts++;
    if (slot.heapIndex < 0) {
      slot.heapIndex = this.slots.length;
      this.slots.push(slot);
    }
    this.siftUp(slot.heapIndex);
    this.siftDown(slot.heapIndex);
  }

  remove(slot: Slot): void {
    const index = slot.heapIndex;
    if (index < 0) return;
    slot.heapIndex = -1;
    const last = this.slots.pop() as Slot;
    if (last === slot) return;
    this.slots[index] = last;
    last.heapIndex = index;
    this.siftUp(index);
    this.siftDown(last.heapIndex);
  }

  clear(): void {
    for (const slot of this.slots) slot.heapIndex = -1;
    this.slots.length = 0;
  }

  private siftUp(start: number): void {
    let index = start;
    const slot = this.slots[index] as Slot;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.slots[parentIndex] as Slot;
      if (!before(slot, parent)) break;
      this.slots[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    this.slots[index] = slot;
    slot.heapIndex = index;
  }

  private siftDown(start: number): void {
    let index = start;
    const count = this.slots.length;
    const slot = this.slots[index] as Slot;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= count) break;
      const right = left + 1;
      const smaller =
        right < count && before(this.slots[right] as Slot, this.slots[left] as Slot) ? right : left;
      const child = this.slots[smaller] as Slot;
      if (!before(child, slot)) break;
      this.slots[index] = child;
      child.heapIndex = index;
      index = smaller;
    }
    this.slots[index] = slot;
    slot.heapIndex = index;
  }
}

/**
 * One timer for all adapters, armed for the earliest due check (a heap of due
 * times): 100,000 adapters cost no 100,000 timers at start. First checks are
 * spread by the start-up rate (never wider than the interval unless the ceiling
 * rate needs it) so a large catalog does not probe in one burst; each next check
 * is scheduled when the previous one ends (after the delay the check asked for),
 * so checks of one adapter never overlap; a bulkhead caps the checks in flight
 * across adapters.
 */
export class ProbeScheduler {
  private readonly slots = new Map<string, Slot>();
  private readonly due = new DueHeap();
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() the timer fires at, while armed. */
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly permits: Permits;
  private readonly random: () => number;
  private stopped = false;
  /** Checks that have started probing (not those waiting for a bulkhead slot). */
  private readonly probing = new Set<Promise<unknown>>();

  constructor(
    private readonly check: AdapterCheck,
    private options: SchedulerOptions,
    private readonly logger: Logger,
  ) {
    // The queue holds at most one waiting check per adapter, since checks of one adapter never overlap.
    this.permits = new Permits(options.concurrency);
    this.random = options.random ?? Math.random;
  }

  /** Aligns the timers with the whole catalog: starts new adapters, drops removed ones. */
  reconcile(entries: readonly AdapterEntry[]): void {
    if (this.stopped) return;
    const wanted = new Set(entries.map((entry) => entry.adapterId));
    const gone: string[] = [];
    for (const adapterId of this.slots.keys()) if (!wanted.has(adapterId)) gone.push(adapterId);
    this.applyCatalogChange({ upserted: entries, removed: gone });
  }

  /**
   * Follows a change of the catalog: drops the adapters that left, starts new
   * ones, and checks changed ones as they are now, at the cost of the change
   * alone (a sync that changed a few entries of 100,000 visits a few).
   */
  applyCatalogChange(change: {
    readonly upserted: readonly AdapterEntry[];
    readonly removed: readonly string[];
  }): void {
    if (this.stopped) return;
    for (const adapterId of change.removed) {
      const slot = this.slots.get(adapterId);
      if (!slot) continue;
      this.due.remove(slot);
      this.slots.delete(adapterId);
      this.check.forget(adapterId);
    }
    const entries = change.upserted;
    const added: Slot[] = [];
    for (const entry of entries) {
      const slot = this.slots.get(entry.adapterId);
      if (slot) {
        slot.entry = entry;
        continue;
      }
      const created: Slot = {
        entry,
        dueAt: 0,
        heapIndex: -1,
        putOrder: 0,
        running: false,
        current: undefined,
      };
      this.slots.set(entry.adapterId, created);
      added.push(created);
    }
    const startupSpreadMs = (added.length / this.options.startupRatePerSec) * 1000;
    const ceilingSpreadMs = (added.length / this.options.startupMaxRatePerSec) * 1000;
    const now = performance.now();
    for (const slot of added) {
      const spread = Math.max(
        Math.min(startupSpreadMs, this.options.firstSpreadMs(slot.entry)),
        ceilingSpreadMs,
      );
      this.due.set(slot, now + this.random() * spread);
    }
    this.arm();
  }

  /**
   * Applies reloaded settings. A new concurrency applies to checks admitted from
   * now on; checks already probing finish, so a lower cap takes hold as they end
   * rather than checks being cancelled. When per-adapter settings
   * changed, a wait longer than the adapter's new spread (its interval got
   * shorter) is brought in, at random within it, rather than waited out.
   */
  reconfigure(options: SchedulerOptions, settingsChanged: boolean): void {
    if (options.concurrency !== this.options.concurrency) {
      this.permits.setLimit(options.concurrency);
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
    if (!slot || this.stopped || slot.running || slot.heapIndex < 0) return;
    if (slot.dueAt - performance.now() > delayMs) this.schedule(slot, delayMs);
  }

  /** How long until the adapter's next check (ms), or undefined while none waits. */
  nextCheckInMs(adapterId: string): number | undefined {
    const slot = this.slots.get(adapterId);
    if (!slot || slot.heapIndex < 0) return undefined;
    return Math.max(0, slot.dueAt - performance.now());
  }

  /** Checks every adapter now (tests and the first round after start-up). */
  async checkAllNow(): Promise<void> {
    await Promise.all([...this.slots.values()].map((slot) => this.run(slot)));
  }

  /**
   * Stops scheduling: no check starts after this, checks waiting for a bulkhead
   * slot are dropped, and the probes already under way get up to `graceMs` to
   * finish (their results reach the engine). Probes still running then are
   * abandoned: whatever they find later is not recorded.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due.clear();
    this.permits.dropWaiting();
    if (this.probing.size === 0) return;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.probing]),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timeout);
  }

  /** Reschedules a waiting check due later than one spread from now to a random point within it. */
  private bringIn(slot: Slot, now: number): void {
    if (slot.running || slot.heapIndex < 0) return;
    const spread = this.options.firstSpreadMs(slot.entry);
    if (slot.dueAt - now > spread) this.schedule(slot, this.random() * spread);
  }

  private schedule(slot: Slot, delayMs: number): void {
    if (this.stopped) return;
    this.due.set(slot, performance.now() + delayMs);
    this.arm();
  }

  /** Arms the one timer for the earliest due check, unless it already fires by then. */
  private arm(): void {
    if (this.stopped) return;
    const first = this.due.peek();
    if (!first) return;
    if (this.timer !== undefined && this.timerAt <= first.dueAt) return;
    clearTimeout(this.timer);
    // setTimeout takes at most 2^31 - 1 ms (about 24.8 days); a later check is re-armed then.
    const delayMs = Math.min(Math.max(0, first.dueAt - performance.now()), MAX_TIMER_MS);
    this.timerAt = first.dueAt;
    this.timer = setTimeout(() => this.fire(), delayMs);
  }

  /** Starts every check that is due, then arms the timer for the next one. */
  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (let first = this.due.peek(); first && first.dueAt <= now; first = this.due.peek()) {
      this.due.remove(first);
      void this.run(first);
    }
    this.arm();
  }

  private run(slot: Slot): Promise<void> {
    // A check already running is the one asked for: its result is as new as another's.
    if (slot.running) return slot.current ?? Promise.resolve();
    if (this.stopped) return Promise.resolve();
    slot.running = true;
    this.due.remove(slot);
    const task = this.permits
      .acquire()
      .then(async (granted): Promise<number | undefined> => {
        // Dropped while it waited for a slot: the daemon is stopping.
        if (!granted) return undefined;
        if (this.stopped) {
          this.permits.release();
          return undefined;
        }
        const probe = this.check.run(slot.entry);
        this.probing.add(probe);
        try {
          return await probe;
        } finally {
          this.probing.delete(probe);
          this.permits.release();
        }
      })
      .then(
        (nextDelayMs) => nextDelayMs,
        (error: unknown) => {
          // A check that throws is a bug: log it and keep the schedule alive.
          this.logger.error(
            { err: error, adapter_id: slot.entry.adapterId },
            "check failed unexpectedly",
          );
          return this.options.firstSpreadMs(slot.entry);
        },
      )
      .then((nextDelayMs) => {
        slot.running = false;
        slot.current = undefined;
        if (nextDelayMs !== undefined && this.slots.get(slot.entry.adapterId) === slot) {
          this.schedule(slot, nextDelayMs);
        }
      });
    slot.current = task;
    return task;
  }
}
