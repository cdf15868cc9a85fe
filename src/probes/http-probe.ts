import type { ConnectionOptions } from "node:tls";
import { Agent, type Dispatcher } from "undici";
import { describeError, type Probe, type ProbeOptions, type ProbeResult } from "./probe.js";

/** Bodies past this size are not read further: a health answer is small. */
const MAX_BODY_BYTES = 64 * 1024;

const ACCEPT = "application/json, text/plain;q=0.9, */*;q=0.1";

/** The user agent of a daemon's checks: a cluster member adds its id, so an adapter's logs show who checks it. */
export function probeUserAgent(member?: string): string {
  return member === undefined ? "oneiric-healthd" : `oneiric-healthd (member ${member})`;
}

/**
 * Probes an `http(s)://` health URL: a 2xx answer within the deadline is healthy, and with
 * `expectBody` its body (the first 64 KiB of it) must also contain that text. Redirects are
 * not followed. An undici `Agent` keeps a pool of keep-alive connections per origin, so a
 * probe round does not open one socket per adapter each time; undici costs about half the
 * CPU per check of node:http's agents (bench/probe-cost.bench.ts).
 */
export class HttpProbe implements Probe {
  readonly kind = "http";
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;

  /**
   * `tls` adds to the defaults for `https://` (Node's CA store), e.g. `ca` for a private CA;
   * `userAgent` is sent with every check (see probeUserAgent).
   */
  constructor(
    maxSocketsPerHost = 16,
    tls?: Pick<ConnectionOptions, "ca" | "cert" | "key">,
    userAgent = probeUserAgent(),
  ) {
    this.headers = { accept: ACCEPT, "user-agent": userAgent };
    this.agent = new Agent({
      connections: maxSocketsPerHost,
      // The probe keeps its own deadline, which also covers a body that never ends.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(tls ? { connect: tls } : {}),
    });
  }

  check(target: string, timeoutMs: number, options?: ProbeOptions): Promise<ProbeResult> {
    const startedAt = performance.now();
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return Promise.resolve({ ok: false, latencyMs: 0, detail: "invalid URL" });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      // Worded as node:http words it, which this probe used before.
      return Promise.resolve({
        ok: false,
        latencyMs: 0,
        detail: `ERR_INVALID_PROTOCOL: Protocol "${url.protocol}" not supported. Expected "http:"`,
      });
    }
    return new Promise<ProbeResult>((resolve) => {
      const exchange = new HttpExchange(options?.expectBody, timeoutMs, startedAt, resolve);
      exchange.timer = setTimeout(onDeadline, timeoutMs, exchange);
      try {
        this.agent.dispatch(
          {
            origin: url.origin,
            path: `${url.pathname}${url.search}`,
            method: "GET",
            headers: this.headers,
          },
          exchange,
        );
      } catch (error) {
        exchange.finish(false, describeError(error));
      }
    });
  }

  close(): void {
    this.agent.destroy().catch(() => {});
  }
}

/**
 * One request: the handler undici calls back (its original handler interface, which also
 * says when the request was written), holding what the check needs and nothing more.
 */
class HttpExchange implements Dispatcher.DispatchHandler {
  timer: ReturnType<typeof setTimeout> | undefined;
  private abortRequest: ((reason?: Error) => void) | undefined;
  private writtenAt: number | undefined;
  private status = 0;
  private received = 0;
  /** Kept only when the body is to be searched; otherwise it is read and dropped. */
  private chunks: Buffer[] | undefined;
  private settled = false;

  constructor(
    private readonly expectBody: string | undefined,
    private readonly timeoutMs: number,
    private readonly startedAt: number,
    private readonly resolve: (result: ProbeResult) => void,
  ) {
    if (expectBody !== undefined) this.chunks = [];
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.settled) abort(new Error("probe gave up"));
    else this.abortRequest = abort;
  }

  onRequestSent(): void {
    this.writtenAt = performance.now();
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.chunks && this.received < MAX_BODY_BYTES) {
      this.chunks.push(chunk.subarray(0, MAX_BODY_BYTES - this.received));
    }
    this.received += chunk.length;
    if (this.received > MAX_BODY_BYTES) {
      // Enough read: decide on the first 64 KiB and drop the connection's rest.
      this.complete();
      this.abort();
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.complete();
  }

  onError(error: Error): void {
    this.finish(false, describeError(error));
  }

  timedOut(): void {
    this.finish(false, `no answer within ${this.timeoutMs} ms`);
    this.abort();
  }

  finish(ok: boolean, detail: string): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const from = this.writtenAt ?? this.startedAt;
    const result: ProbeResult = { ok, latencyMs: performance.now() - from, detail };
    if (this.writtenAt !== undefined) result.writtenAt = this.writtenAt;
    this.resolve(result);
  }

  private complete(): void {
    const status = this.status;
    const success = status >= 200 && status < 300;
    // Searched as bytes, not decoded text, so a multi-byte character split across chunks
    // still matches.
    if (
      success &&
      this.expectBody !== undefined &&
      !Buffer.concat(this.chunks ?? []).includes(this.expectBody)
    ) {
      this.finish(false, `HTTP ${status}, body lacks ${JSON.stringify(this.expectBody)}`);
      return;
    }
    this.finish(success, `HTTP ${status}`);
  }

  private abort(): void {
    const abort = this.abortRequest;
    this.abortRequest = undefined;
    abort?.(new Error("probe gave up"));
  }
}

function onDeadline(exchange: HttpExchange): void {
  exchange.timedOut();
}
