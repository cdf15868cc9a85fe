import type { JournalEvent } from "../domain/events.js";

/** What the hub needs from the journal. */
export interface JournalSource {
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  journalBounds(): { oldestSeq: number | null; newestSeq: number | null };
}

/** The cursor asks for events retention has already deleted. */
export class CursorExpiredError extends Error {
  readonly code = "CURSOR_EXPIRED";
  constructor(
    readonly requested: number,
    readonly oldestSeq: number,
  ) {
    super(
      `events after seq ${requested} are no longer kept; the oldest available is seq ${oldestSeq} (resume from ${oldestSeq - 1} or from now)`,
    );
    this.name = "CursorExpiredError";
  }
}

export interface Subscription {
  close(): void;
}

interface Subscriber {
  cursor: number;
  live: boolean;
  deliver: (events: readonly JournalEvent[]) => void;
}

const REPLAY_PAGE = 500;

/**
 * Fans committed journal events out to live consumers (SSE, gRPC streams, MCP,
 * webhooks). The engine publishes each commit's events here after the mirror
 * has them, so a consumer told of a change finds it in every query. A consumer resumes from a cursor: missed events are replayed from
 * SQLite in pages, then it follows live commits, in seq order, with no gap and
 * no repeat.
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly journal: JournalSource) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** The newest seq now (0 when the journal is empty): "from now on" for a new consumer. */
  newestSeq(): number {
    return this.journal.journalBounds().newestSeq ?? 0;
  }

  /** Throws CursorExpiredError when events after `afterSeq` were pruned. */
  checkCursor(afterSeq: number): void {
    const { oldestSeq } = this.journal.journalBounds();
    if (oldestSeq !== null && afterSeq < oldestSeq - 1)
      throw new CursorExpiredError(afterSeq, oldestSeq);
  }

  /**
   * Delivers every event after `afterSeq`, then each new commit. Replay runs in
   * pages across turns of the event loop, so a long catch-up does not stall the
   * daemon; live events are picked up by the replay itself until it reaches the
   * end, after which they are delivered as they commit.
   */
  subscribe(afterSeq: number, deliver: (events: readonly JournalEvent[]) => void): Subscription {
    this.checkCursor(afterSeq);
    const subscriber: Subscriber = { cursor: afterSeq, live: false, deliver };
    this.subscribers.add(subscriber);
    const replay = () => {
      if (!this.subscribers.has(subscriber)) return;
      const page = this.journal.readEvents(subscriber.cursor, REPLAY_PAGE);
      if (page.length > 0) {
        subscriber.cursor = page[page.length - 1]?.seq ?? subscriber.cursor;
        subscriber.deliver(page);
      }
      if (page.length < REPLAY_PAGE) {
        // Same turn as the last read: no commit can slip between it and going live.
        subscriber.live = true;
      } else {
        setImmediate(replay);
      }
    };
    replay();
    return { close: () => this.subscribers.delete(subscriber) };
  }

  close(): void {
    this.subscribers.clear();
  }

  /** Delivers one commit's events (in seq order) to every live subscriber. */
  publish(events: readonly JournalEvent[]): void {
    for (const subscriber of this.subscribers) {
      if (!subscriber.live) continue;
      const fresh = events.filter((event) => event.seq > subscriber.cursor);
      if (fresh.length === 0) continue;
      subscriber.cursor = fresh[fresh.length - 1]?.seq ?? subscriber.cursor;
      try {
        subscriber.deliver(fresh);
      } catch {
        // A consumer that throws is dropped; it can resume from its cursor.
        this.subscribers.delete(subscriber);
      }
    }
  }
}
