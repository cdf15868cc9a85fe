/** How long the daemon's own event loop was held up just before now. */
export interface LoopStalls {
  /** Milliseconds the loop was held up by the stall that ended at (or still holds) now; 0 when none. */
  stallNowMs(): number;
}

export interface LoopStallMonitorOptions {
  /** How often the sentinel timer runs. */
  tickMs?: number;
  /** Lateness below this is scheduling noise, not a stall. */
  noiseMs?: number;
  /** Monotonic clock in milliseconds. */
  monotonic?: () => number;
}

/**
 * A sentinel timer that notices when the event loop was held up: each tick
 * expects the next one `tickMs` later, and lateness beyond that is a stall.
 * A probe's answer that arrives during a stall waits in its socket, so the
 * checker asks, as each result comes in, how long the stall that just ended (or
 * is still going on, when the answer runs before the timer) held the loop.
 */
export class LoopStallMonitor implements LoopStalls {
  private readonly tickMs: number;
  private readonly noiseMs: number;
  private readonly monotonic: () => number;
  private lastTick: number;
  private lastStallMs = 0;
  private lastStallEnd = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LoopStallMonitorOptions = {}) {
    this.tickMs = options.tickMs ?? 10;
    this.noiseMs = options.noiseMs ?? 2;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.lastTick = this.monotonic();
  }

  start(): void {
    if (this.timer) return;
    this.lastTick = this.monotonic();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    // The sentinel alone must not keep the process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called by the sentinel timer; exposed for tests that drive the clock. */
  tick(): void {
    const now = this.monotonic();
    const late = now - this.lastTick - this.tickMs;
    if (late > this.noiseMs) {
      this.lastStallMs = late;
      this.lastStallEnd = now;
    }
    this.lastTick = now;
  }

  stallNowMs(): number {
    if (!this.timer) return 0;
    const now = this.monotonic();
    // Still going on: the sentinel has not run for longer than it should have.
    const open = now - this.lastTick - this.tickMs;
    // Just ended: the sentinel ran first after the stall, then this answer's callback.
    const ended = now - this.lastStallEnd <= this.tickMs ? this.lastStallMs : 0;
    const stall = Math.max(open, ended);
    return stall > this.noiseMs ? stall : 0;
  }
}
