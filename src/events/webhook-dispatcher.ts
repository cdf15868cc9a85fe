import { createHash, createHmac } from "node:crypto";
import { ExponentialBackoff, handleAll, retry } from "cockatiel";
import type { Logger } from "pino";
import type { WebhookConfig } from "../config/load.js";
import { globToRegExp } from "../domain/adapter-settings.js";
import { EVENT_TYPE_PREFIX, type JournalEvent, toCloudEvent } from "../domain/events.js";
import type { WebhookCursor } from "../storage/store.js";
import { CursorExpiredError, type Subscription } from "./event-hub.js";

/** The parts of EventHub the dispatcher follows live commits with. */
export interface WebhookEventFeed {
  subscribe(afterSeq: number, deliver: (events: readonly JournalEvent[]) => void): Subscription;
  newestSeq(): number;
  /** Throws CursorExpiredError when events after `afterSeq` were pruned. */
  checkCursor(afterSeq: number): void;
}

/** Where cursors persist and where a subscriber that fell behind reads from. */
export interface WebhookJournal {
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  loadWebhookCursors(): WebhookCursor[];
  saveWebhookCursor(cursor: WebhookCursor, now: number): void;
}

export interface WebhookDispatcherOptions {
  feed: WebhookEventFeed;
  journal: WebhookJournal;
  subscribers: readonly WebhookConfig[];
  logger: Logger;
  now?: () => number;
  /** Called once per attempt: a 2xx answer, or a failure that will be retried or park. */
  onAttempt?: (subscriber: string, result: "delivered" | "failed") => void;
  /** Events held in memory per subscriber before it drops them and reads the journal instead. */
  maxQueue?: number;
  /**
   * Sends each attempt's POST; the global fetch when not given (looked up per
   * request, as before this option existed). The seam lets unit tests answer
   * in-process, so backoff, timeouts, parking and stop()'s grace run on fake
   * timers with no socket to wait for; headers, signing, the timeout and abort
   * signals and the reading of the status all stay in this file.
   */
  fetch?: typeof fetch;
}

/** What the HTTP API and the metrics show about one subscriber. */
export interface WebhookStatus {
  subscriber: string;
  /** seq of the last event delivered or filtered out. */
  cursor: number;
  lagEvents: number;
  parked: boolean;
  parkedReason: string | null;
  failures: number;
}

export type UnparkResult = "resumed" | "not-parked" | "unknown";

export const WEBHOOK_USER_AGENT = "oneiric-healthd";
const DEFAULT_MAX_QUEUE = 10_000;
const JOURNAL_PAGE = 500;
/** Filtered-out events persist their cursor in batches; losing a batch only re-filters them. */
const SKIP_FLUSH_EVERY = 500;
const ERROR_PAUSE_MS = 1_000;

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"): the value of the
 * `webhook-signature` header (docs/events.md describes how to verify it).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** A subscriber's endpoint identity; when it changes, a parked subscriber resumes. */
export function webhookConfigHash(config: Pick<WebhookConfig, "url" | "secret">): string {
  return createHash("sha256").update(config.url).update("\0").update(config.secret).digest("hex");
}

/**
 * Delivers committed journal events to each configured webhook: one loop per
 * subscriber, one event at a time in seq order, at least once. The persisted
 * cursor only moves past an event once the receiver answered 2xx (or the event
 * is filtered out), so a crash or restart re-sends at most the event in flight.
 */
export class WebhookDispatcher {
  private readonly loops = new Map<string, SubscriberLoop>();
  private started = false;

  constructor(private readonly options: WebhookDispatcherOptions) {
    const saved = new Map(options.journal.loadWebhookCursors().map((row) => [row.name, row]));
    for (const config of options.subscribers) {
      this.loops.set(config.name, new SubscriberLoop(config, saved.get(config.name), options));
    }
  }

  /** Starts every subscriber's loop; call once the daemon is ready. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const loop of this.loops.values()) loop.start();
  }

  /**
   * Stops every loop: a request in flight gets up to `graceMs` to be answered
   * (so a delivered event is recorded, not re-sent), then is aborted; backoff
   * waits end at once. The store is not touched after this resolves.
   */
  async stop(graceMs = 2_000): Promise<void> {
    await Promise.all([...this.loops.values()].map((loop) => loop.stop(graceMs)));
  }

  /** Resumes a parked subscriber from its cursor, retrying the event it gave up on. */
  unpark(name: string): UnparkResult {
    const loop = this.loops.get(name);
    if (!loop) return "unknown";
    return loop.unpark("unparked by request") ? "resumed" : "not-parked";
  }

  statuses(): WebhookStatus[] {
    const newest = this.options.feed.newestSeq();
    return [...this.loops.values()].map((loop) => loop.status(newest));
  }
}

/** Why a delivery attempt failed, without the URL (it may carry a token) or the secret. */
class DeliveryError extends Error {}

function describeFailure(error: unknown): string {
  if (error instanceof DeliveryError) return error.message;
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return `connection failed (${cause.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** The origin only: webhook URLs often carry a token in their path or query. */
function safeTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}

class SubscriberLoop {
  private readonly state: WebhookCursor;
  private readonly configHash: string;
  private readonly patterns: RegExp[] | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly maxQueue: number;
  private readonly controller = new AbortController();
  /** Events after the cursor, in seq order, known from the live feed or a journal page. */
  private queue: JournalEvent[] = [];
  private head = 0;
  private subscription: Subscription | undefined;
  private persistedCursor: number;
  private unsavedSkips = 0;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  /** The HTTP attempt in progress (never rejects), for stop's grace period. */
  private inFlight: Promise<void> | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly config: WebhookConfig,
    saved: WebhookCursor | undefined,
    private readonly options: WebhookDispatcherOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.logger = options.logger.child({
      webhook: config.name,
      target: safeTarget(config.url),
    });
    this.patterns = config.types?.map(globToRegExp);
    this.configHash = webhookConfigHash(config);
    // A new subscriber gets what happens from now on, not the whole journal.
    this.state = saved
      ? { ...saved }
      : {
          name: config.name,
          cursor: options.feed.newestSeq(),
          parked: false,
          parkedReason: null,
          failures: 0,
          configHash: this.configHash,
        };
    this.persistedCursor = this.state.cursor;
    if (saved && saved.configHash !== this.configHash) {
      // A new url or secret is the operator's answer to whatever parked it.
      if (saved.parked)
        this.logger.info("webhook endpoint changed: resuming the parked subscriber");
      this.state.parked = false;
      this.state.parkedReason = null;
      this.state.failures = 0;
      this.state.configHash = this.configHash;
    }
    // Fixes the starting point now, so events committed before the first delivery are not skipped.
    if (!saved || saved.configHash !== this.configHash) this.save();
    if (this.state.parked) {
      this.logger.warn(
        { reason: this.state.parkedReason },
        "webhook subscriber is parked: change its url or secret, or unpark it, to resume",
      );
    }
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    if (this.inFlight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.inFlight,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.controller.abort();
    await this.running;
    this.goOffline();
  }

  unpark(reason: string): boolean {
    if (!this.state.parked) return false;
    this.state.parked = false;
    this.state.parkedReason = null;
    this.state.failures = 0;
    this.save();
    this.logger.info({ reason }, "webhook subscriber resumed");
    this.wake();
    return true;
  }

  status(newestSeq: number): WebhookStatus {
    return {
      subscriber: this.config.name,
      cursor: this.state.cursor,
      lagEvents: Math.max(0, newestSeq - this.state.cursor),
      parked: this.state.parked,
      parkedReason: this.state.parkedReason,
      failures: this.state.failures,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (error) {
        // A storage error, say: log it and try again rather than end delivery for good.
        this.logger.error({ err: error }, "webhook delivery loop failed; retrying");
        await this.pause(ERROR_PAUSE_MS);
      }
    }
    if (this.unsavedSkips > 0) this.save();
  }

  private async step(): Promise<void> {
    if (this.state.parked) {
      this.goOffline();
      await this.idle();
      return;
    }
    const event = this.next();
    if (!event) {
      // Not live yet (retention pruned under us): read the journal again next turn.
      if (!this.subscription) await new Promise((resolve) => setImmediate(resolve));
      else await this.idle();
      return;
    }
    if (!this.matches(event)) {
      this.state.cursor = event.seq;
      this.unsavedSkips += 1;
      if (this.unsavedSkips >= SKIP_FLUSH_EVERY) {
        this.save();
        // A long run of filtered events must not hold the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return;
    }
    await this.deliver(event);
  }

  private matches(event: JournalEvent): boolean {
    if (!this.patterns) return true;
    const full = `${EVENT_TYPE_PREFIX}${event.type}`;
    return this.patterns.some((pattern) => pattern.test(event.type) || pattern.test(full));
  }

  /** The next event after the cursor: from the queue, else from the journal while catching up. */
  private next(): JournalEvent | undefined {
    const queued = this.queue[this.head];
    if (queued) {
      this.head += 1;
      return queued;
    }
    this.queue = [];
    this.head = 0;
    if (this.subscription) return undefined;
    this.skipPrunedEvents();
    const page = this.options.journal.readEvents(this.state.cursor, JOURNAL_PAGE);
    this.queue = page;
    if (page.length < JOURNAL_PAGE) {
      // Caught up: follow live commits from the last event read, in this same turn.
      this.goLive(page[page.length - 1]?.seq ?? this.state.cursor);
    }
    const first = this.queue[0];
    if (first) this.head = 1;
    return first;
  }

  /** Retention may have deleted events this subscriber never got: say so and move on. */
  private skipPrunedEvents(): void {
    try {
      this.options.feed.checkCursor(this.state.cursor);
    } catch (error) {
      if (!(error instanceof CursorExpiredError)) throw error;
      this.logger.warn(
        { cursor: this.state.cursor, oldest_seq: error.oldestSeq },
        "webhook events were deleted by journal retention before delivery; skipping to the oldest kept",
      );
      this.state.cursor = error.oldestSeq - 1;
      this.save();
    }
  }

  private goLive(afterSeq: number): void {
    try {
      this.subscription = this.options.feed.subscribe(afterSeq, (events) => this.enqueue(events));
    } catch (error) {
      // Pruned in between: the next journal read handles it.
      if (!(error instanceof CursorExpiredError)) throw error;
    }
  }

  private goOffline(): void {
    this.subscription?.close();
    this.subscription = undefined;
    this.queue = [];
    this.head = 0;
  }

  private enqueue(events: readonly JournalEvent[]): void {
    if (!this.subscription) return;
    this.queue.push(...events);
    if (this.queue.length - this.head > this.maxQueue) {
      // The journal is the buffer: drop what is held and read it back by cursor later.
      this.logger.info(
        { queued: this.queue.length - this.head },
        "webhook subscriber is far behind; reading from the journal instead",
      );
      this.goOffline();
    }
    this.wake();
  }

  /** POSTs one event until a 2xx answer, the attempt limit (park), or stop. */
  private async deliver(event: JournalEvent): Promise<void> {
    const body = JSON.stringify(toCloudEvent(event));
    const signal = this.controller.signal;
    const attemptsLeft = Math.max(1, this.config.maxAttempts - this.state.failures);
    const policy = retry(handleAll, {
      // cockatiel counts retries after the first call.
      maxAttempts: attemptsLeft - 1,
      backoff: new ExponentialBackoff({
        initialDelay: this.config.backoff.initialMs,
        maxDelay: this.config.backoff.maxMs,
      }),
    }).dangerouslyUnref();
    let lastFailure = "";
    const attemptOnce = async (): Promise<void> => {
      if (signal.aborted || this.stopping) throw new DeliveryError("stopping");
      try {
        await this.post(event, body, signal);
      } catch (error) {
        if (signal.aborted) throw error;
        lastFailure = describeFailure(error);
        this.state.failures += 1;
        this.save();
        this.options.onAttempt?.(this.config.name, "failed");
        this.logger.debug(
          { seq: event.seq, failures: this.state.failures, reason: lastFailure },
          "webhook delivery failed",
        );
        throw error;
      }
      this.state.cursor = event.seq;
      this.state.failures = 0;
      this.save();
      this.options.onAttempt?.(this.config.name, "delivered");
    };
    const attempt = (): Promise<void> => {
      const outcome = attemptOnce();
      // stop() waits for this, bookkeeping included, so a delivered event is never re-sent.
      const settled = outcome.then(
        () => undefined,
        () => undefined,
      );
      this.inFlight = settled;
      void settled.then(() => {
        if (this.inFlight === settled) this.inFlight = undefined;
      });
      return outcome;
    };
    const execution = policy.execute(attempt, signal);
    // cockatiel's backoff sleep ignores the signal: stop() must not wait it out.
    let onStop: (() => void) | undefined;
    const stopped = new Promise<"stopped">((resolve) => {
      onStop = () => resolve("stopped");
      if (signal.aborted) onStop();
      else signal.addEventListener("abort", onStop, { once: true });
    });
    const result = await Promise.race([
      execution.then(
        () => "delivered" as const,
        () => "gave-up" as const,
      ),
      stopped,
    ]);
    // One listener per event would pile up on the loop's long-lived signal.
    if (onStop) signal.removeEventListener("abort", onStop);
    if (result !== "gave-up" || signal.aborted || this.stopping) return;
    this.state.parked = true;
    this.state.parkedReason = `${lastFailure} (${this.state.failures} failed attempts in a row, event seq ${event.seq})`;
    this.save();
    // WARN, not ERROR: events wait safely in the journal; nobody has to act this second.
    this.logger.warn(
      { seq: event.seq, reason: this.state.parkedReason },
      "webhook subscriber parked after max_attempts failures; events are kept in the journal",
    );
  }

  /** One signed POST; resolves on 2xx, rejects otherwise. */
  private async post(event: JournalEvent, body: string, stop: AbortSignal): Promise<void> {
    // A fresh timestamp per attempt, so receivers with a replay window accept retries.
    const timestamp = Math.floor(this.now() / 1000);
    // Linked by hand, and unlinked after: nothing per attempt may stay on the stop signal.
    const attempt = new AbortController();
    const onStop = () => attempt.abort(stop.reason);
    stop.addEventListener("abort", onStop, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, this.config.timeoutMs);
    const send = this.options.fetch ?? fetch;
    try {
      const response = await send(this.config.url, {
        method: "POST",
        headers: {
          "content-type": "application/cloudevents+json",
          "ce-id": event.id,
          "ce-type": `${EVENT_TYPE_PREFIX}${event.type}`,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signWebhook(this.config.secret, timestamp, body),
          "user-agent": WEBHOOK_USER_AGENT,
        },
        body,
        // A redirect is a misconfigured URL, not a delivery.
        redirect: "manual",
        signal: attempt.signal,
      });
      // The answer's body is not used; release the connection.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status > 299) {
        throw new DeliveryError(`HTTP ${response.status}`);
      }
    } catch (error) {
      if (timedOut && !stop.aborted) {
        throw new DeliveryError(`no answer within ${this.config.timeoutMs / 1000} s`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    }
  }

  private save(): void {
    try {
      this.options.journal.saveWebhookCursor(this.state, this.now());
    } catch (error) {
      // The cursor is a bookmark: while the database refuses writes (the engine reports
      // that episode), delivery goes on and an event may be sent again after a restart
      // (at least once), never lost. Counted as unsaved progress, so idle() saves it again.
      this.unsavedSkips++;
      this.logger.debug({ err: error }, "webhook cursor not saved; will save it again");
      return;
    }
    this.persistedCursor = this.state.cursor;
    this.unsavedSkips = 0;
  }

  /** Waits for new events, an unpark or stop. */
  private idle(): Promise<void> {
    if (this.unsavedSkips > 0 && this.persistedCursor !== this.state.cursor) this.save();
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
