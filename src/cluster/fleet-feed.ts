import { DeliverPolicy, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { decodeStreamEvent, eventStreamName } from "../domain/event-subjects.js";
import type { EventType, ForeignEvent } from "../domain/events.js";

/**
 * Catalog events are not mirrored: every member syncs the same registry and
 * journals the catalog's changes itself, so a mirrored copy would be a duplicate.
 */
const NOT_MIRRORED: ReadonlySet<EventType> = new Set([
  "adapter.discovered",
  "adapter.updated",
  "adapter.removed",
]);

/** The cursor (in cluster_cursors) of the last stream sequence mirrored or passed over. */
export const FLEET_CURSOR = "fleet";

export interface FleetFeedOptions {
  connection: () => NatsConnection | undefined;
  cluster: string;
  member: string;
  /** The stream sequence mirrored last, as stored (undefined the first time). */
  storedPosition: () => number | undefined;
  /** Stores where a first start begins (the stream's end: what happens from joining on). */
  startAt: (position: number) => void;
  /**
   * Journals `events` with the stream position they end at, in one transaction
   * (the engine's mirrorEvents): a restart resumes after the position, so each
   * event is mirrored once. `events` is empty when only the position moved.
   */
  mirror: (events: readonly ForeignEvent[], position: number) => void;
  /** Makes sure the stream exists (the publisher's ensureEventStream) before following it. */
  ensureStream?: (connection: NatsConnection) => Promise<void>;
  logger: Logger;
  /** How long to wait before trying again when the stream cannot be followed yet (ms). */
  retryMs?: number;
}

export interface FleetFeedStatus {
  /** The stream sequence handed to the journal last. */
  position: number;
  mirrored: number;
  malformed: number;
  following: boolean;
}

/**
 * Follows the fleet's event stream and mirrors into this member's journal the
 * events the other members committed (their ids kept), so SSE, gRPC streams,
 * MCP and webhooks here carry the whole fleet's events, resumable by this
 * journal's own seq. An ordered consumer from the stored position: JetStream
 * redelivers from there after any outage, and nats.js recreates it on reconnect.
 */
export class FleetFeed {
  private position = 0;
  private mirrored = 0;
  private malformed = 0;
  private following = false;
  private stopped = false;
  private closeMessages: (() => Promise<unknown>) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failedOnce = false;

  constructor(private readonly options: FleetFeedOptions) {}

  /** Starts following once connected; a no-op when it already follows. */
  async connected(): Promise<void> {
    if (this.following || this.stopped) return;
    const connection = this.options.connection();
    if (!connection) return;
    this.following = true;
    try {
      await this.options.ensureStream?.(connection);
      await this.follow(connection);
      if (this.failedOnce) this.options.logger.info("following the fleet's event stream");
      this.failedOnce = false;
    } catch (error) {
      this.following = false;
      // One line per episode; the retries that follow are silent.
      if (!this.failedOnce) {
        this.options.logger.warn(
          { err: error },
          "cannot follow the fleet's event stream yet; retrying",
        );
      }
      this.failedOnce = true;
      if (!this.stopped) {
        this.retry = setTimeout(() => void this.connected(), this.options.retryMs ?? 1_000);
        this.retry.unref();
      }
    }
  }

  status(): FleetFeedStatus {
    return {
      position: this.position,
      mirrored: this.mirrored,
      malformed: this.malformed,
      following: this.following,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.closeMessages?.();
  }

  private async follow(connection: NatsConnection): Promise<void> {
    const js = jetstream(connection);
    const stream = eventStreamName(this.options.cluster);
    let stored = this.options.storedPosition();
    if (stored === undefined) {
      const info = await (await js.jetstreamManager()).streams.info(stream);
      stored = info.state.last_seq;
      this.options.startAt(stored);
    }
    this.position = stored;
    const consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: stored + 1,
    });
    const messages = await consumer.consume({
      callback: (message) => this.receive(message),
    });
    this.closeMessages = () => messages.close();
    if (this.stopped) await messages.close();
  }

  private receive(message: JsMsg): void {
    if (this.stopped) return;
    const position = message.seq;
    // An ordered consumer starts a little before where it was asked, after a reset.
    if (position <= this.position) return;
    let event: ForeignEvent | undefined;
    try {
      event = decodeStreamEvent(message.data, message.headers);
    } catch (error) {
      if (this.malformed++ === 0) {
        this.options.logger.warn(
          { err: error, stream_seq: position },
          "a message on the fleet's event stream is not an event; passing over it",
        );
      }
    }
    this.position = position;
    const mirrored =
      event !== undefined && event.origin !== this.options.member && !NOT_MIRRORED.has(event.type);
    if (mirrored) this.mirrored++;
    this.options.mirror(mirrored && event ? [event] : [], position);
  }
}
