import type { JournalEvent } from "../../domain/events.js";
import type { JournalSource } from "../../events/event-hub.js";

/**
 * The newest committed events the front has been sent, as a journal its own
 * EventHub reads: live event streams and streams resuming from a recent cursor
 * are served at the front. Everything from `floor` on is here; a cursor before
 * `floor` reads as expired, and the front passes that stream on to the main
 * thread, which replays it from SQLite.
 */
export class RecentEvents implements JournalSource {
  private readonly ring: JournalEvent[] = [];
  /** Index of the oldest event in `ring`. */
  private head = 0;
  private floorSeq = 0;
  private newest = 0;

  constructor(private readonly capacity: number) {}

  /** Before any event: the journal's newest seq when the front's replica was taken. */
  startAt(seq: number): void {
    this.floorSeq = seq;
    this.newest = seq;
  }

  /** The lowest cursor served here: every event after it is held. */
  get floor(): number {
    return this.floorSeq;
  }

  /** Keeps the events newer than any held (a commit's events, in seq order); returns them. */
  append(events: readonly JournalEvent[]): JournalEvent[] {
    const fresh: JournalEvent[] = [];
    for (const event of events) {
      if (event.seq <= this.newest) continue;
      this.newest = event.seq;
      fresh.push(event);
      if (this.ring.length - this.head >= this.capacity) {
        const evicted = this.ring[this.head];
        this.head++;
        if (evicted) this.floorSeq = evicted.seq;
      }
      this.ring.push(event);
    }
    // Drop the evicted prefix now and then, not on every event.
    if (this.head > this.capacity) {
      this.ring.splice(0, this.head);
      this.head = 0;
    }
    return fresh;
  }

  /** Retention deleted the journal up to `seq`: no cursor before it is served here. */
  prunedTo(seq: number): void {
    if (seq <= this.floorSeq) return;
    this.floorSeq = seq;
    while (this.head < this.ring.length && (this.ring[this.head]?.seq ?? 0) <= seq) this.head++;
  }

  readEvents(afterSeq: number, limit: number): JournalEvent[] {
    // First held event after the cursor (binary search: held events are in seq order).
    let low = this.head;
    let high = this.ring.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.ring[middle]?.seq ?? 0) <= afterSeq) low = middle + 1;
      else high = middle;
    }
    return this.ring.slice(low, Math.min(this.ring.length, low + limit));
  }

  journalBounds(): { oldestSeq: number | null; newestSeq: number | null } {
    // A cursor below `floor` is "expired" here (EventHub's rule: afterSeq < oldestSeq - 1).
    return { oldestSeq: this.floorSeq + 1, newestSeq: this.newest };
  }
}
