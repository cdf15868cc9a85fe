import type { IncomingMessage, ServerResponse } from "node:http";
import { type JournalEvent, toCloudEvent } from "../../domain/events.js";
import type { EventHub, Subscription } from "../../events/event-hub.js";

export interface EventStreamOptions {
  /** Comment lines sent this often keep proxies from closing an idle stream. */
  heartbeatMs: number;
  /** A client this far behind (bytes queued) is cut off; it resumes with Last-Event-ID. */
  maxQueuedBytes: number;
  /** Most streams open at once. */
  maxStreams: number;
}

/**
 * Server-Sent Events over the journal: each event is `id: <seq>`, `event:
 * <type>`, `data: <CloudEvent JSON>`. A client resumes with `Last-Event-ID` and
 * receives exactly the events it missed, then live ones.
 */
export class EventStreams {
  private readonly open = new Set<{ response: ServerResponse; close: () => void }>();

  constructor(
    private readonly hub: EventHub,
    private readonly options: EventStreamOptions,
  ) {}

  /**
   * Each event is encoded once however many streams carry it: the hub hands
   * every live subscriber the same event objects.
   */
  private readonly encoded = new WeakMap<JournalEvent, string>();

  private encode(event: JournalEvent): string {
    let text = this.encoded.get(event);
    if (text === undefined) {
      text = `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(toCloudEvent(event))}\n\n`;
      this.encoded.set(event, text);
    }
    return text;
  }

  get count(): number {
    return this.open.size;
  }

  get full(): boolean {
    return this.open.size >= this.options.maxStreams;
  }

  /** Starts streaming after `afterSeq` (the caller has validated the cursor). */
  start(request: IncomingMessage, response: ServerResponse, afterSeq: number): void {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Tell buffering proxies (nginx) to pass events through at once.
      "x-accel-buffering": "no",
    });
    response.write(`retry: 2000\n: streaming events after seq ${afterSeq}\n\n`);
    let subscription: Subscription | undefined;
    const heartbeat = setInterval(
      () => response.write(": heartbeat\n\n"),
      this.options.heartbeatMs,
    );
    const entry = {
      response,
      close: () => {
        clearInterval(heartbeat);
        subscription?.close();
        this.open.delete(entry);
        if (!response.writableEnded) response.end();
      },
    };
    this.open.add(entry);
    request.on("close", entry.close);
    subscription = this.hub.subscribe(afterSeq, (events) => {
      let chunk = "";
      for (const event of events) chunk += this.encode(event);
      response.write(chunk);
      if (response.writableLength > this.options.maxQueuedBytes) {
        response.write(
          `event: overflow\ndata: {"detail":"this client fell too far behind; reconnect with Last-Event-ID to resume"}\n\n`,
        );
        entry.close();
      }
    });
  }

  closeAll(): void {
    for (const entry of [...this.open]) entry.close();
  }
}
