import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  encodeStreamEvent,
  eventStreamName,
  eventStreamSubjects,
  ORIGIN_HEADER,
  SEQ_HEADER,
} from "../domain/event-subjects.js";
import type { JournalEvent } from "../domain/events.js";
import { CursorExpiredError, type Subscription } from "../events/event-hub.js";

/** The cluster cursor the publisher keeps its progress under. */
export const PUBLISH_CURSOR = "publish";

/**
 * How long JetStream remembers a message id: a republish of an event within this
 * window (after a crash between the ack and the cursor save, or a reconnect) is
 * recognised and stored once. Outside it, at least once is what remains.
 */
export const DEDUP_WINDOW_MS = 2 * 60_000;

/** Publishes kept in flight at once: enough to fill a loopback round trip many times over. */
const MAX_IN_FLIGHT = 256;
/** Journal events read per page while behind. */
const JOURNAL_PAGE = 500;
/** Live events held before the publisher lets them go and reads the journal instead. */
const MAX_QUEUE = 10_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;
const DEFAULT_RETRY_MS = 1_000;

/** Where the publisher reads from and keeps its cursor (a HealthStore fits). */
export interface PublisherJournal {
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  loadClusterCursor(name: string): number | undefined;
  saveClusterCursor(name: string, position: number, now: number): void;
}

/** Live commits, in seq order (EventHub fits). */
export interface PublisherFeed {
  /** Throws CursorExpiredError when events after `afterSeq` were pruned. */
  subscribe(afterSeq: number, deliver: (events: readonly JournalEvent[]) => void): Subscription;
  newestSeq(): number;
}

export interface JournalPublisherOptions {
  /** The NATS connection, or undefined while NATS is down. */
  connection: () => NatsConnection | undefined;
  cluster: string;
  /** This member's id: the origin of what it publishes. */
  instanceId: string;
  journal: PublisherJournal;
  feed: PublisherFeed;
  /**
   * Whether an event is this member's to publish: the daemon leaves out catalog events
   * of adapters it does not own. Events another member committed (an origin other than
   * `instanceId`) are never published, whatever this says.
   */
  shouldPublish: (event: JournalEvent) => boolean;
  subjectOf: (event: JournalEvent) => string;
  logger: Logger;
  now?: () => number;
  /** How long the stream keeps events (its max_age), when this publisher creates it. */
  streamMaxAgeMs: number;
  /** How long a publish waits for JetStream's ack before the episode counts as an outage. */
  publishTimeoutMs?: number;
  /** How often to look again for a connection (and retry) while NATS is unreachable. */
  retryMs?: number;
}

/** What the HTTP API and metrics show of the publisher. */
export interface JournalPublisherStatus {
  /** seq of the last journal event acknowledged by JetStream (or not to be published). */
  cursor: number;
  /** Journal events after the cursor. */
  lagEvents: number;
  /** Acks received, duplicates included. */
  published: number;
  /** Acks that said JetStream already had the message (a republish de-duplicated). */
  duplicates: number;
  /** True from a failed publish (or no connection) until the backlog is published again. */
  failing: boolean;
}

/** A journal event taken into the pipeline, in seq order. */
interface Slot {
  seq: number;
  /** Acked by JetStream, or not to be published: the cursor may pass it. */
  done: boolean;
}

/**
 * Creates the cluster's event stream if it is missing: file storage, subjects
 * `healthd.<cluster>.>`, the de-duplication window, `maxAgeMs` retention, old
 * messages discarded first. An existing stream is left as its operator configured it.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  cluster: string,
  maxAgeMs: number,
): Promise<void> {
  checkMaxAge(maxAgeMs);
  const name = eventStreamName(cluster);
  try {
    await jsm.streams.info(name);
    return;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND)) throw error;
  }
  try {
    await jsm.streams.add({
      name,
      subjects: [eventStreamSubjects(cluster)],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(maxAgeMs),
      duplicate_window: nanos(DEDUP_WINDOW_MS),
    });
  } catch (error) {
    // Another member created it in between (with its own settings): it exists, as wanted.
    if (error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE) return;
    throw error;
  }
}

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

function checkMaxAge(maxAgeMs: number): void {
  if (!Number.isInteger(maxAgeMs) || maxAgeMs < DEDUP_WINDOW_MS) {
    throw new RangeError(
      `streamMaxAgeMs: ${maxAgeMs} is not a whole number of ms of at least ${DEDUP_WINDOW_MS} (the stream's de-duplication window)`,
    );
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Publishes this member's committed journal to the cluster's JetStream stream, in
 * seq order, with `Nats-Msg-Id` = the event id: at least once from the journal,
 * exactly once on the stream within the de-duplication window.
 *
 * The journal is the buffer. The persisted cursor passes an event only once JetStream
 * acknowledged it (or it is not to be published), so a crash re-sends at most the
 * events in flight, and JetStream drops those as duplicates. While NATS is down the
 * publisher waits and the engine goes on committing; on reconnect it resumes from the
 * cursor. It follows the live feed while caught up and reads journal pages when behind.
 */
export class JournalPublisher {
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly publishTimeoutMs: number;
  private readonly retryMs: number;
  private cursor: number;
  private savedCursor: number;
  /** seq of the last event taken into `slots` (sent, or passed over). */
  private readPosition: number;
  /** Events taken in and not yet passed by the cursor, oldest first. */
  private slots: Slot[] = [];
  private inFlight = 0;
  /** Events after `readPosition` from the live feed or a journal page, in seq order. */
  private queue: JournalEvent[] = [];
  private head = 0;
  private subscription: Subscription | undefined;
  private following = false;
  private session: { connection: NatsConnection; js: JetStreamClient } | undefined;
  /** The first failed publish of the current attempt; the pipeline stops taking events. */
  private failure: { error: unknown } | undefined;
  private failing = false;
  private published = 0;
  private duplicates = 0;
  private stopping = false;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private readonly settleWaiters = new Set<() => void>();
  private readonly cursorWaiters = new Set<{ seq: number; resolve: (reached: boolean) => void }>();
  private signalStop: () => void = () => undefined;
  private readonly stopRequested = new Promise<void>((resolve) => {
    this.signalStop = resolve;
  });
  private running: Promise<void> | undefined;
  private stopDone: Promise<void> | undefined;

  constructor(private readonly options: JournalPublisherOptions) {
    checkMaxAge(options.streamMaxAgeMs);
    this.now = options.now ?? Date.now;
    this.logger = options.logger.child({
      component: "journal-publisher",
      cluster: options.cluster,
    });
    this.publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    const saved = options.journal.loadClusterCursor(PUBLISH_CURSOR);
    // A member that joins publishes what it commits from now on, as a new webhook does;
    // saved at once, so events committed before the first publish are not skipped.
    this.cursor = saved ?? options.feed.newestSeq();
    this.savedCursor = saved ?? Number.NaN;
    this.readPosition = this.cursor;
    if (saved === undefined) this.saveCursor();
  }

  /** Starts publishing; call once the store and the hub are up. */
  start(): void {
    this.running ??= this.run();
  }

  /**
   * Stops publishing: publishes in flight get up to `graceMs` to be acked (so an
   * acked event is recorded, not sent again), then the cursor is saved one last
   * time. The journal is not touched after this resolves.
   */
  stop(graceMs: number): Promise<void> {
    this.stopDone ??= this.finish(graceMs);
    return this.stopDone;
  }

  private async finish(graceMs: number): Promise<void> {
    this.stopping = true;
    this.signalStop();
    this.wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.allSettled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await this.running;
    this.advance();
    this.saveCursor();
    this.stopped = true;
    this.goOffline();
    for (const waiter of this.cursorWaiters) waiter.resolve(false);
    this.cursorWaiters.clear();
  }

  status(): JournalPublisherStatus {
    return {
      cursor: this.cursor,
      lagEvents: Math.max(0, this.options.feed.newestSeq() - this.cursor),
      published: this.published,
      duplicates: this.duplicates,
      failing: this.failing,
    };
  }

  /** Resolves true once the cursor reached `seq`, false after `timeoutMs` or on stop (tests, bench). */
  caughtUp(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.cursor >= seq) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          this.cursorWaiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.cursorWaiters.add(waiter);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (error) {
        // A storage error, say: say so, and start again from the cursor (recover() on the
        // next turn) rather than stop publishing for good.
        this.logger.error({ err: error }, "journal publisher failed; retrying");
        this.failure ??= { error };
        await this.pause(this.retryMs);
      }
    }
  }

  /** One turn: connect if need be, send what the window allows, then wait for news. */
  private async step(): Promise<void> {
    // Acks may have come in while there was no connection to send more on.
    this.advance();
    this.saveCursor();
    if (this.failure !== undefined) {
      await this.recover();
      return;
    }
    const js = await this.connect();
    if (this.stopping) return;
    if (!js) {
      // Publishes still in flight wake this early when they settle.
      await this.pause(this.retryMs);
      return;
    }
    this.fill(js);
    this.advance();
    this.saveCursor();
    if (this.failure !== undefined) return;
    if (this.inFlight > 0) {
      await this.idle();
      return;
    }
    if (this.head < this.queue.length || !this.subscription) {
      // More to read (journal pages, or a run of events not to publish): next turn,
      // so a long backlog does not hold the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      return;
    }
    if (this.failing) {
      this.failing = false;
      this.logger.info(
        { cursor: this.cursor, published: this.published, duplicates: this.duplicates },
        "journal publisher caught up: the events committed meanwhile are on the stream",
      );
    }
    await this.idle();
  }

  /** The JetStream client of the current connection, the stream made sure of once per session. */
  private async connect(): Promise<JetStreamClient | undefined> {
    const connection = this.options.connection();
    if (!connection) {
      this.session = undefined;
      this.enterFailing("NATS is not connected");
      return undefined;
    }
    if (this.session?.connection === connection) return this.session.js;
    this.session = undefined;
    try {
      const ensured = (async () => {
        const jsm = await jetstreamManager(connection, { timeout: this.publishTimeoutMs });
        await ensureEventStream(jsm, this.options.cluster, this.options.streamMaxAgeMs);
      })();
      // Not awaited past a stop: the request times out on its own.
      ensured.catch(() => undefined);
      await Promise.race([ensured, this.stopRequested]);
    } catch (error) {
      this.enterFailing(describeError(error));
      return undefined;
    }
    if (this.stopping) return undefined;
    const js = jetstream(connection, { timeout: this.publishTimeoutMs });
    this.session = { connection, js };
    return js;
  }

  /** Takes events into the window and sends those to publish, up to MAX_IN_FLIGHT. */
  private fill(js: JetStreamClient): void {
    while (this.slots.length < MAX_IN_FLIGHT && this.failure === undefined) {
      const event = this.next();
      if (!event) return;
      if (this.publishes(event)) {
        // Worked out before anything is in flight: a throw here is a bug, not an outage.
        const subject = this.options.subjectOf(event);
        const body = encodeStreamEvent(event, this.options.instanceId);
        const slot: Slot = { seq: event.seq, done: false };
        this.slots.push(slot);
        this.send(js, event, subject, body, slot);
      } else {
        this.slots.push({ seq: event.seq, done: true });
      }
      this.readPosition = event.seq;
    }
  }

  private publishes(event: JournalEvent): boolean {
    // Another member's event (mirrored here) is on the stream already, under its origin.
    if (event.origin !== undefined && event.origin !== this.options.instanceId) return false;
    return this.options.shouldPublish(event);
  }

  private send(
    js: JetStreamClient,
    event: JournalEvent,
    subject: string,
    body: Uint8Array,
    slot: Slot,
  ): void {
    const messageHeaders = headers();
    messageHeaders.set(ORIGIN_HEADER, this.options.instanceId);
    messageHeaders.set(SEQ_HEADER, String(event.seq));
    this.inFlight++;
    let ack: ReturnType<JetStreamClient["publish"]>;
    try {
      ack = js.publish(subject, body, {
        msgID: event.id,
        headers: messageHeaders,
        timeout: this.publishTimeoutMs,
      });
    } catch (error) {
      ack = Promise.reject(error);
    }
    ack
      .then(
        (answer) => {
          slot.done = true;
          this.published++;
          if (answer.duplicate) this.duplicates++;
        },
        (error: unknown) => {
          this.failure ??= { error };
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) {
          for (const settled of this.settleWaiters) settled();
          this.settleWaiters.clear();
        }
        this.wake();
      });
  }

  /**
   * After a failed publish: wait for the rest in flight, keep the acked prefix, and
   * start again from the cursor once NATS answers (what was acked past a failure
   * is sent again and de-duplicated by JetStream).
   */
  private async recover(): Promise<void> {
    this.enterFailing(describeError(this.failure?.error));
    await Promise.race([this.allSettled(), this.stopRequested]);
    if (this.stopping) return;
    this.advance();
    this.saveCursor();
    this.slots = [];
    this.failure = undefined;
    this.readPosition = this.cursor;
    this.goOffline();
    // The stream is made sure of again: it may be what went missing.
    this.session = undefined;
    await this.pause(this.retryMs);
  }

  private enterFailing(reason: string): void {
    if (this.failing) return;
    this.failing = true;
    // WARN, not ERROR: the events wait in the journal and go out on reconnect.
    this.logger.warn(
      { reason, cursor: this.cursor },
      "journal publisher cannot publish to JetStream; events wait in the journal until it can",
    );
  }

  /** Moves the cursor over the slots at the front that are done. */
  private advance(): void {
    let passed = 0;
    while (passed < this.slots.length && this.slots[passed]?.done) {
      this.cursor = this.slots[passed]?.seq ?? this.cursor;
      passed++;
    }
    if (passed === 0) return;
    this.slots.splice(0, passed);
    for (const waiter of this.cursorWaiters) {
      if (waiter.seq <= this.cursor) waiter.resolve(true);
    }
  }

  private saveCursor(): void {
    if (this.stopped || this.cursor === this.savedCursor) return;
    try {
      this.options.journal.saveClusterCursor(PUBLISH_CURSOR, this.cursor, this.now());
      this.savedCursor = this.cursor;
    } catch (error) {
      // The cursor is a bookmark: unsaved, a restart sends some events again, and
      // JetStream drops them as duplicates. Saved again with the next batch.
      this.logger.debug({ err: error }, "publish cursor not saved; will save it again");
    }
  }

  /** The next event after `readPosition`: from the queue, else from the journal while behind. */
  private next(): JournalEvent | undefined {
    const queued = this.queue[this.head];
    if (queued) {
      this.head++;
      return queued;
    }
    this.queue = [];
    this.head = 0;
    if (this.subscription) return undefined;
    const page = this.options.journal.readEvents(this.readPosition, JOURNAL_PAGE);
    const first = page[0];
    if (first && first.seq > this.readPosition + 1) {
      // seq has no gaps but those deletions make.
      this.logger.warn(
        { from_seq: this.readPosition + 1, to_seq: first.seq - 1 },
        "journal events were deleted by retention before they were published; skipping them",
      );
    }
    this.queue = page;
    if (page.length < JOURNAL_PAGE) this.goLive(page.at(-1)?.seq ?? this.readPosition);
    const taken = this.queue[0];
    if (taken) this.head = 1;
    return taken;
  }

  /** Follows live commits from `afterSeq`, the last event read, in this same turn. */
  private goLive(afterSeq: number): void {
    this.following = true;
    try {
      this.subscription = this.options.feed.subscribe(afterSeq, (events) => this.enqueue(events));
    } catch (error) {
      this.following = false;
      if (!(error instanceof CursorExpiredError)) throw error;
      // Pruned under us: nothing before the oldest kept can be published any more.
      this.logger.warn(
        { cursor: afterSeq, oldest_seq: error.oldestSeq },
        "journal events were deleted by retention before they were published; skipping them",
      );
      this.queue = [];
      this.head = 0;
      this.readPosition = error.oldestSeq - 1;
      this.slots.push({ seq: this.readPosition, done: true });
    }
  }

  private goOffline(): void {
    this.subscription?.close();
    this.subscription = undefined;
    this.following = false;
    this.queue = [];
    this.head = 0;
  }

  private enqueue(events: readonly JournalEvent[]): void {
    if (!this.following) return;
    const last = this.queue.at(-1)?.seq ?? this.readPosition;
    for (const event of events) if (event.seq > last) this.queue.push(event);
    if (this.queue.length - this.head > MAX_QUEUE) {
      // The journal is the buffer: let go of what is held and read it back by seq later.
      this.goOffline();
    }
    this.wake();
  }

  private allSettled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.add(resolve));
  }

  /** Waits for an ack, a new event or stop. */
  private idle(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }
}
