import http2, { type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import type { ConnectionOptions } from "node:tls";
import type { GrpcHealthTarget } from "./grpc-health-probe.js";
import {
  decodeGrpcMessage,
  decodeHealthCheckAnswer,
  encodeHealthCheckRequest,
  GRPC_DEADLINE_EXCEEDED,
  GRPC_OK,
  grpcCodeForHttpStatus,
  grpcStatusName,
  grpcTimeoutHeader,
  SERVING,
  servingStatusName,
} from "./grpc-wire.js";
import type { ProbeResult } from "./probe.js";

export interface Http2HealthClientOptions {
  /**
   * Streams one session carries at once (lowered further if the server allows fewer).
   * Default 256.
   */
  maxStreamsPerSession?: number;
  /**
   * Sessions (TCP connections) one address may have when every stream of the first is busy.
   * Past that, checks wait in order for a stream, their deadline running. Default 4.
   */
  maxSessionsPerAddress?: number;
  /**
   * TLS settings for `grpcs://` on top of the defaults (Node's CA store, the target's host
   * name verified), e.g. `ca` for a private CA.
   */
  tls?: Pick<ConnectionOptions, "ca" | "cert" | "key">;
}

const DEFAULT_MAX_STREAMS_PER_SESSION = 256;
const DEFAULT_MAX_SESSIONS_PER_ADDRESS = 4;
/** Client stream ids are odd numbers below 2^31: a session this old is replaced before it runs out. */
const STREAMS_BEFORE_RENEWAL = 2 ** 30 - 1;
/** An answer bigger than this is not a health answer; reading stops there. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** How long a PING sent after a timed-out check may take before the session is judged dead. */
const MIN_PING_WAIT_MS = 1_000;
const MAX_PING_WAIT_MS = 10_000;

const CHECK_PATH = "/grpc.health.v1.Health/Check";
const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** The key of a target's address among a client's pools (`host:port`, `s` first for TLS). */
export function addressKey(target: GrpcHealthTarget): string {
  return target.secure ? `s${target.address}` : target.address;
}

/** The URL `http2.connect` takes for a target's address. */
export function authorityOf(target: GrpcHealthTarget): string {
  return `${target.secure ? "https" : "http"}://${target.address}`;
}

/**
 * An HTTP/2 connection for gRPC health calls to `authority`, unref'd (what is in flight
 * keeps the process alive through its own timers), assuming at most `maxStreams` until the
 * server's SETTINGS say otherwise, with the TLS additions for `grpcs://`.
 */
export function connectUnref(
  authority: string,
  maxStreams: number,
  secure: boolean,
  tls: Pick<ConnectionOptions, "ca" | "cert" | "key"> | undefined,
): ClientHttp2Session {
  const connection = http2.connect(authority, {
    peerMaxConcurrentStreams: maxStreams,
    settings: { enablePush: false },
    ...(secure && tls ? tls : {}),
  });
  connection.unref();
  return connection;
}

/** One HTTP/2 connection to an address and what this client knows of it. */
interface Session {
  readonly http2: ClientHttp2Session;
  readonly pool: AddressPool;
  connected: boolean;
  /** False once it must take no new streams: closing, GOAWAY received, failed, or old. */
  usable: boolean;
  active: number;
  opened: number;
  maxStreams: number;
  /** Why the connection failed or closed, told to checks that lose their stream with it. */
  failure: string | undefined;
  /** performance.now() of the latest answer on any stream: the peer is alive since then. */
  answeredAt: number;
  pinging: boolean;
  connectTimer: ReturnType<typeof setTimeout> | undefined;
}

/** The sessions to one address (`host:port`, plain or TLS) and the checks waiting for a stream. */
interface AddressPool {
  readonly client: Http2HealthClient;
  readonly key: string;
  readonly authority: string;
  readonly secure: boolean;
  readonly sessions: Session[];
  readonly waiting: HealthCall[];
}

const CALL = Symbol("health call");
type CallStream = ClientHttp2Stream & { [CALL]?: HealthCall };

/** One `Check` in progress. */
class HealthCall {
  session: Session | undefined;
  stream: CallStream | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** performance.now() once the request was flushed to the connection. */
  writtenAt: number | undefined;
  answeredAt: number | undefined;
  httpStatus = 0;
  contentType: string | undefined;
  grpcCode: number | undefined;
  grpcMessage = "";
  body: Buffer | undefined;
  chunks: Buffer[] | undefined;
  received = 0;
  streamError: Error | undefined;
  settled = false;

  constructor(
    readonly pool: AddressPool,
    readonly service: string,
    readonly timeoutMs: number,
    readonly startedAt: number,
    readonly resolve: (result: ProbeResult) => void,
  ) {}
}

/**
 * A grpc.health.v1 `Check` client on `node:http2`: one session per address, many services
 * multiplexed on it, frames built and read by hand. A check resolves (never rejects) with
 * a `ProbeResult` whose details match what the grpc-js client used to give.
 */
export class Http2HealthClient {
  private readonly pools = new Map<string, AddressPool>();
  private readonly headersByTimeout = new Map<number, http2.OutgoingHttpHeaders>();
  private readonly maxStreamsPerSession: number;
  private readonly maxSessionsPerAddress: number;
  private readonly tls: Http2HealthClientOptions["tls"];

  constructor(options: Http2HealthClientOptions = {}) {
    this.maxStreamsPerSession = positiveInteger(
      options.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS_PER_SESSION,
      "maxStreamsPerSession",
    );
    this.maxSessionsPerAddress = positiveInteger(
      options.maxSessionsPerAddress ?? DEFAULT_MAX_SESSIONS_PER_ADDRESS,
      "maxSessionsPerAddress",
    );
    this.tls = options.tls;
  }

  check(target: GrpcHealthTarget, timeoutMs: number): Promise<ProbeResult> {
    const startedAt = performance.now();
    const pool = this.poolFor(target);
    return new Promise<ProbeResult>((resolve) => {
      const call = new HealthCall(pool, target.service, timeoutMs, startedAt, resolve);
      call.timer = setTimeout(onDeadline, timeoutMs, call, this);
      const session = this.sessionWithRoom(pool, timeoutMs);
      if (session) this.start(call, session);
      else pool.waiting.push(call);
    });
  }

  /** Closes every session; checks in flight or waiting resolve as failed. */
  close(): void {
    for (const pool of this.pools.values()) {
      for (const call of pool.waiting.splice(0))
        this.settle(call, false, "UNAVAILABLE: probe closed");
      for (const session of pool.sessions.splice(0)) {
        session.usable = false;
        session.failure ??= "probe closed";
        session.http2.destroy();
      }
    }
    this.pools.clear();
  }

  /** Sessions open per address key (`host:port`, `s` first for TLS); for tests and benchmarks. */
  sessionCounts(): Map<string, number> {
    return new Map([...this.pools].map(([key, pool]) => [key, pool.sessions.length]));
  }

  private poolFor(target: GrpcHealthTarget): AddressPool {
    const key = addressKey(target);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = {
        client: this,
        key,
        authority: authorityOf(target),
        secure: target.secure,
        sessions: [],
        waiting: [],
      };
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** A session with a free stream, opening one if the address has room for another; else none. */
  private sessionWithRoom(pool: AddressPool, connectTimeoutMs: number): Session | undefined {
    for (const session of pool.sessions) {
      if (session.usable && session.active < session.maxStreams) return session;
    }
    if (pool.sessions.length >= this.maxSessionsPerAddress) return undefined;
    return this.open(pool, connectTimeoutMs);
  }

  private open(pool: AddressPool, connectTimeoutMs: number): Session {
    // Checks in flight keep the process alive through their timers; an idle session need not.
    const connection = connectUnref(
      pool.authority,
      this.maxStreamsPerSession,
      pool.secure,
      this.tls,
    );
    const session: Session = {
      http2: connection,
      pool,
      connected: false,
      usable: true,
      active: 0,
      opened: 0,
      maxStreams: this.maxStreamsPerSession,
      failure: undefined,
      answeredAt: 0,
      pinging: false,
      connectTimer: undefined,
    };
    session.connectTimer = setTimeout(() => {
      session.failure = `connection not established within ${connectTimeoutMs} ms`;
      this.retire(session);
      connection.destroy();
    }, connectTimeoutMs);
    session.connectTimer.unref();
    connection.on("connect", () => {
      session.connected = true;
      clearTimeout(session.connectTimer);
    });
    connection.on("remoteSettings", (settings) => {
      const peerLimit = settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
      session.maxStreams = Math.max(1, Math.min(this.maxStreamsPerSession, peerLimit));
    });
    connection.on("goaway", (code: number) => {
      session.failure ??= `server sent GOAWAY (code ${code})`;
      this.retire(session);
    });
    connection.on("error", (error: Error) => {
      session.failure ??= connectionErrorText(error);
      this.retire(session);
    });
    connection.on("close", () => {
      clearTimeout(session.connectTimer);
      session.failure ??= "connection closed";
      this.retire(session);
    });
    pool.sessions.push(session);
    return session;
  }

  /** Takes a session out of use; checks waiting for a stream get another session. */
  retire(session: Session): void {
    if (!session.usable && !session.pool.sessions.includes(session)) return;
    session.usable = false;
    const sessions = session.pool.sessions;
    const at = sessions.indexOf(session);
    if (at >= 0) sessions.splice(at, 1);
    if (session.active === 0 && !session.http2.destroyed) session.http2.close();
    this.dispatchWaiting(session.pool);
  }

  private dispatchWaiting(pool: AddressPool): void {
    while (pool.waiting.length > 0) {
      const next = pool.waiting[0] as HealthCall;
      const remainingMs = next.timeoutMs - (performance.now() - next.startedAt);
      const session = this.sessionWithRoom(pool, Math.max(1, remainingMs));
      if (!session) return;
      pool.waiting.shift();
      this.start(next, session);
    }
  }

  private start(call: HealthCall, session: Session): void {
    const elapsedMs = performance.now() - call.startedAt;
    let stream: CallStream;
    try {
      stream = session.http2.request(this.headersFor(call.timeoutMs - elapsedMs, elapsedMs), {
        endStream: false,
      });
    } catch (error) {
      // e.g. ERR_HTTP2_OUT_OF_STREAMS or a session torn down this tick
      session.failure ??= connectionErrorText(error);
      this.retire(session);
      this.settle(call, false, `UNAVAILABLE: ${session.failure}`);
      return;
    }
    session.active++;
    session.opened++;
    if (session.opened >= STREAMS_BEFORE_RENEWAL) this.retire(session);
    call.session = session;
    call.stream = stream;
    stream[CALL] = call;
    stream.on("response", onResponse);
    stream.on("data", onData);
    stream.on("trailers", onTrailers);
    stream.on("error", onStreamError);
    stream.on("finish", onWritten);
    stream.on("close", onClose);
    stream.end(encodeHealthCheckRequest(call.service));
  }

  /**
   * Request headers for a deadline, shared between checks with the same one: `request()`
   * copies them. Checks that waited get their own, with the time left.
   */
  private headersFor(remainingMs: number, waitedMs: number): http2.OutgoingHttpHeaders {
    const cacheable = waitedMs < 1;
    const timeoutMs = cacheable ? Math.ceil(remainingMs + waitedMs) : remainingMs;
    let headers = cacheable ? this.headersByTimeout.get(timeoutMs) : undefined;
    if (!headers) {
      headers = {
        ":method": "POST",
        ":path": CHECK_PATH,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": grpcTimeoutHeader(timeoutMs),
        "user-agent": "oneiric-healthd",
      };
      if (cacheable) this.headersByTimeout.set(timeoutMs, headers);
    }
    return headers;
  }

  /** Called once the stream has closed (or never opened): decides and resolves the check. */
  conclude(call: HealthCall): void {
    const session = call.session;
    if (session) {
      session.active--;
      if (!session.usable && session.active === 0 && !session.http2.destroyed) {
        session.http2.close();
      }
      if (call.answeredAt !== undefined) session.answeredAt = call.answeredAt;
      this.dispatchWaiting(call.pool);
    }
    if (call.settled) return;
    const [ok, detail] = verdict(call);
    this.settle(call, ok, detail);
  }

  settle(call: HealthCall, ok: boolean, detail: string): void {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    const endedAt = call.answeredAt ?? performance.now();
    const from = call.writtenAt ?? call.startedAt;
    const result: ProbeResult = { ok, latencyMs: endedAt - from, detail };
    if (call.writtenAt !== undefined) result.writtenAt = call.writtenAt;
    call.resolve(result);
  }

  /** The deadline passed: give up on the check, and find out whether its session is dead. */
  timedOut(call: HealthCall): void {
    if (call.settled) return;
    const stream = call.stream;
    if (!stream) {
      const waiting = call.pool.waiting;
      const at = waiting.indexOf(call);
      if (at >= 0) waiting.splice(at, 1);
      this.settle(
        call,
        false,
        `not sent within ${call.timeoutMs} ms: every stream to ${call.pool.authority} was busy`,
      );
      return;
    }
    this.settle(call, false, `no answer within ${call.timeoutMs} ms`);
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    const session = call.session;
    if (session?.connected && call.writtenAt !== undefined && session.answeredAt < call.writtenAt) {
      this.probeLiveness(session, call.timeoutMs);
    }
  }

  /**
   * Nothing came back on the session since the check was written: a PING tells a slow
   * service from a dead peer (a silent network drop leaves the socket open for minutes).
   */
  private probeLiveness(session: Session, timeoutMs: number): void {
    if (session.pinging || !session.usable || session.http2.destroyed) return;
    session.pinging = true;
    const waitMs = Math.min(MAX_PING_WAIT_MS, Math.max(MIN_PING_WAIT_MS, timeoutMs));
    const noAnswer = setTimeout(() => {
      session.failure ??= `no PING answer within ${waitMs} ms`;
      this.retire(session);
      session.http2.destroy();
    }, waitMs);
    noAnswer.unref();
    const sent = session.http2.ping((error) => {
      clearTimeout(noAnswer);
      session.pinging = false;
      if (error && !session.http2.destroyed) {
        session.failure ??= `PING failed: ${error.message}`;
        this.retire(session);
        session.http2.destroy();
      }
    });
    if (!sent) {
      clearTimeout(noAnswer);
      session.pinging = false;
    }
  }
}

/** ok and detail for a check whose stream has closed. */
function verdict(call: HealthCall): [boolean, string] {
  if (call.grpcCode === undefined) return [false, streamEndedWithoutStatus(call)];
  if (call.grpcCode === GRPC_DEADLINE_EXCEEDED)
    return [false, `no answer within ${call.timeoutMs} ms`];
  if (call.grpcCode !== GRPC_OK)
    return [false, `${grpcStatusName(call.grpcCode)}: ${call.grpcMessage}`];
  const body = call.chunks ? Buffer.concat(call.chunks) : call.body;
  const status = decodeHealthCheckAnswer(body ?? EMPTY);
  if (typeof status === "string") return [false, `INTERNAL: ${status}`];
  return [status === SERVING, servingStatusName(status)];
}

const EMPTY = Buffer.alloc(0);

function streamEndedWithoutStatus(call: HealthCall): string {
  if (call.httpStatus !== 0 && call.httpStatus !== 200) {
    const code = grpcCodeForHttpStatus(call.httpStatus);
    return `${grpcStatusName(code)}: Received HTTP status code ${call.httpStatus}`;
  }
  if (call.httpStatus === 200 && !isGrpcContentType(call.contentType)) {
    return `UNKNOWN: not a gRPC answer (HTTP 200, content-type ${JSON.stringify(call.contentType ?? "")})`;
  }
  if (call.received > MAX_ANSWER_BYTES) {
    return `RESOURCE_EXHAUSTED: answer over ${MAX_ANSWER_BYTES} bytes`;
  }
  // A stream cut by a lost connection has a made-up RST code: the connection's own failure,
  // when already known, is the real reason.
  const failure = call.session?.failure;
  if (failure !== undefined) return `UNAVAILABLE: ${failure}`;
  const streamError = call.streamError;
  // Only ERR_HTTP2_STREAM_ERROR is the server resetting this stream; the others (a pending
  // stream cancelled by a failed connect, GOAWAY, a torn-down session) are the connection's.
  if (streamError && (streamError as NodeJS.ErrnoException).code !== "ERR_HTTP2_STREAM_ERROR") {
    return `UNAVAILABLE: ${connectionErrorText(streamError)}`;
  }
  const rstCode = call.stream?.rstCode;
  if (rstCode === NGHTTP2_REFUSED_STREAM) return "UNAVAILABLE: Stream refused by server";
  if (rstCode === NGHTTP2_CANCEL) return "UNAVAILABLE: connection dropped";
  if (rstCode !== undefined && rstCode !== NGHTTP2_NO_ERROR) {
    return `INTERNAL: Received RST_STREAM with code ${rstCode}`;
  }
  return "INTERNAL: Call ended without gRPC status";
}

function isGrpcContentType(contentType: string | undefined): boolean {
  return (
    contentType !== undefined &&
    (contentType === "application/grpc" ||
      contentType.startsWith("application/grpc+") ||
      contentType.startsWith("application/grpc;"))
  );
}

function connectionErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's http2 wraps socket and TLS errors ("The pending stream has been canceled (caused
  // by: ...)"): the cause's own words say more.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : error.message;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

// Stream listeners are shared functions reading their check from the stream, so a check
// allocates no closures for them.

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  if (!call) return;
  call.httpStatus = Number(headers[":status"] ?? 0);
  const contentType = headers["content-type"];
  call.contentType = Array.isArray(contentType) ? contentType[0] : contentType;
  // A trailers-only answer carries its status in the only HEADERS frame.
  if (headers["grpc-status"] !== undefined) readStatus(call, headers);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  if (!call) return;
  call.received += chunk.length;
  if (call.received > MAX_ANSWER_BYTES) {
    this.close(NGHTTP2_CANCEL);
    return;
  }
  if (call.body === undefined) call.body = chunk;
  else {
    call.chunks ??= [call.body];
    call.chunks.push(chunk);
  }
}

function onTrailers(this: CallStream, trailers: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  if (call) readStatus(call, trailers);
}

function readStatus(call: HealthCall, headers: http2.IncomingHttpHeaders): void {
  const status = headers["grpc-status"];
  if (status === undefined) return;
  call.answeredAt = performance.now();
  const code = Number(Array.isArray(status) ? status[0] : status);
  // A status that is no number is treated as the server failing, not as OK.
  call.grpcCode = Number.isInteger(code) && code >= 0 ? code : 2;
  const message = headers["grpc-message"];
  const raw = Array.isArray(message) ? message[0] : message;
  call.grpcMessage = raw === undefined ? "" : decodeGrpcMessage(raw);
  if (call.grpcCode === 2 && !(Number.isInteger(code) && code >= 0)) {
    call.grpcMessage = `grpc-status ${JSON.stringify(status)} is not a status code`;
  }
}

function onStreamError(this: CallStream, error: Error): void {
  const call = this[CALL];
  if (call) call.streamError ??= error;
}

function onWritten(this: CallStream): void {
  const call = this[CALL];
  if (call && call.writtenAt === undefined) call.writtenAt = performance.now();
}

function onClose(this: CallStream): void {
  const call = this[CALL];
  if (!call) return;
  this[CALL] = undefined;
  call.pool.client.conclude(call);
}

function onDeadline(call: HealthCall, client: Http2HealthClient): void {
  client.timedOut(call);
}
