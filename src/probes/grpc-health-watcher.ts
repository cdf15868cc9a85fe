import http2, { type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import type { ConnectionOptions } from "node:tls";
import { type GrpcHealthTarget, parseGrpcTarget } from "./grpc-health-probe.js";
import {
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  grpcCodeForHttpStatus,
  MESSAGE_PREFIX_BYTES,
  SERVING,
} from "./grpc-wire.js";
import { addressKey, authorityOf, connectUnref } from "./http2-health-client.js";

/** A serving status the server pushed on a Watch stream. */
export interface WatchUpdate {
  target: string;
  /** True only for SERVING. */
  serving: boolean;
  /** SERVING, NOT_SERVING, SERVICE_UNKNOWN, or UNKNOWN (also for values unknown to this build). */
  status: string;
  /** When the update arrived: the watcher's `now()`, by default `Date.now()` (Unix ms). */
  at: number;
}

export interface GrpcHealthWatcherOptions {
  /**
   * Delay before re-opening a stream that ended or failed: doubles from `initial` per
   * attempt that brought no message, up to `max`, each drawn at random from its upper half
   * so many streams cut by one server restart do not come back in step.
   */
  reconnectDelayMs?: { initial: number; max: number };
  /** The clock for `WatchUpdate.at`; `Date.now` by default. */
  now?: () => number;
  /**
   * Told when a stream that had been delivering statuses ends without being asked to (the
   * server went away, a proxy cut it, a PING found the peer gone). The watcher re-opens
   * it with backoff; meanwhile nothing is pushed, so the owner should poll again soon.
   */
  onStreamLost?: (target: string) => void;
  /**
   * How often a connection carrying streams is PINGed, to find a peer that vanished without
   * closing it (a silent network drop leaves a quiet stream waiting forever). Default 60 s;
   * a server that answers with GOAWAY "too many pings" gets half as many from then on.
   */
  keepaliveMs?: number;
  /** How long a PING, or a new connection, may take before the connection is given up. */
  keepaliveTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Most streams one connection carries (lowered to the server's own limit). Default 10,000. */
  maxStreamsPerSession?: number;
  /** TLS settings for `grpcs://` on top of the defaults (Node's CA store, host name verified). */
  tls?: Pick<ConnectionOptions, "ca" | "cert" | "key">;
}

/** Told of pushed statuses and of streams that ended without being asked to. */
export interface WatchListener {
  update(update: WatchUpdate): void;
  streamLost(target: string): void;
}

const DEFAULT_RECONNECT_DELAY_MS = { initial: 1_000, max: 60_000 };
const DEFAULT_KEEPALIVE_MS = 60_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_STREAMS_PER_SESSION = 10_000;
/** A pushed status bigger than this is not a health status; the stream is dropped. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** Client stream ids are odd numbers below 2^31: a session this old takes no more streams. */
const STREAMS_BEFORE_RENEWAL = 2 ** 30 - 1;
const GRPC_UNIMPLEMENTED = 12;
/** HTTP/2 GOAWAY code a server sends for pings more often than it allows. */
const ENHANCE_YOUR_CALM = 11;

const WATCH_PATH = "/grpc.health.v1.Health/Watch";
const { NGHTTP2_CANCEL } = http2.constants;
const WATCH_HEADERS: http2.OutgoingHttpHeaders = Object.freeze({
  ":method": "POST",
  ":path": WATCH_PATH,
  "content-type": "application/grpc",
  te: "trailers",
  "user-agent": "oneiric-healthd",
});

/** One watched target. Replaced, never reused, when a target is unwatched and watched again. */
interface Watched {
  readonly target: string;
  readonly parsed: GrpcHealthTarget | undefined;
  stream: WatchStream | undefined;
  retry: ReturnType<typeof setTimeout> | undefined;
  /** Stream attempts in a row that ended before any message; drives the backoff. */
  failures: number;
  supported: boolean | undefined;
}

/** What one open stream has received so far. */
interface StreamState {
  readonly entry: Watched;
  readonly session: Session;
  /** Bytes of a message not yet complete. */
  pending: Buffer | undefined;
  grpcCode: number | undefined;
  /** Set when the stream was ended on purpose (unwatched, closed, moved): its end is no news. */
  abandoned: boolean;
}

const STATE = Symbol("watch stream");
type WatchStream = ClientHttp2Stream & { [STATE]?: StreamState };

/** One HTTP/2 connection carrying Watch streams to an address. */
interface Session {
  readonly http2: ClientHttp2Session;
  readonly pool: AddressPool;
  readonly streams: Set<WatchStream>;
  usable: boolean;
  opened: number;
  maxStreams: number;
  keepalive: ReturnType<typeof setInterval> | undefined;
  connectTimer: ReturnType<typeof setTimeout> | undefined;
}

/** The Watch connections to one address (`host:port`, plain or TLS). */
interface AddressPool {
  readonly owner: GrpcHealthWatcher;
  readonly key: string;
  readonly authority: string;
  readonly secure: boolean;
  readonly sessions: Session[];
  keepaliveMs: number;
}

/**
 * Keeps a grpc.health.v1 `Watch` stream open per `grpc://host:port/service` target, so a
 * status change is pushed as it happens instead of waiting for the next poll.
 *
 * Streams go over `node:http2` with hand-read frames, many on one connection per address
 * (a stream costs a few kilobytes where a grpc-js call cost about fourteen, which at tens of
 * thousands of streams is most of the daemon's memory). These connections are the watcher's
 * own, apart from the `Check` probe's, so long-lived streams never take the stream slots
 * checks need.
 *
 * Only statuses the server sends are reported. A stream that ends or fails says nothing
 * about the service (the server may be restarting, or a proxy may have cut an idle stream),
 * so it is silently re-opened with backoff; deciding that a silent target is down is left
 * to the poller. A re-opened stream starts with the current status, so the same status may
 * be reported again after a reconnect.
 */
export class GrpcHealthWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly pools = new Map<string, AddressPool>();
  private readonly reconnectDelayMs: { initial: number; max: number };
  private readonly now: () => number;
  private readonly listeners = new Set<WatchListener>();
  private readonly keepaliveMs: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxStreamsPerSession: number;
  private readonly tls: GrpcHealthWatcherOptions["tls"];

  /** `onUpdate` runs inside a stream's event handler: it must not throw. */
  constructor(
    onUpdate: ((update: WatchUpdate) => void) | undefined,
    options: GrpcHealthWatcherOptions = {},
  ) {
    this.reconnectDelayMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
    this.now = options.now ?? Date.now;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.maxStreamsPerSession = options.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS_PER_SESSION;
    this.tls = options.tls;
    const { onStreamLost } = options;
    if (onUpdate || onStreamLost) {
      this.listeners.add({
        update: onUpdate ?? (() => undefined),
        streamLost: onStreamLost ?? (() => undefined),
      });
    }
  }

  /**
   * Adds a listener for pushed statuses and lost streams (see the options of the
   * same names); returns an unsubscribe. Listeners run inside a stream's event
   * handler: they must not throw.
   */
  subscribe(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts watching `target`; a no-op if it is already watched (or was given up on: unwatch
   * it first to try again). A target that cannot be parsed is never watched, and
   * `supported()` says false for it.
   */
  watch(target: string): void {
    if (this.watched.has(target)) return;
    const parsed = parseGrpcTarget(target);
    const entry: Watched = {
      target,
      parsed: typeof parsed === "string" ? undefined : parsed,
      stream: undefined,
      retry: undefined,
      failures: 0,
      supported: typeof parsed === "string" ? false : undefined,
    };
    this.watched.set(target, entry);
    if (entry.parsed) this.open(entry, entry.parsed);
  }

  /** Stops watching `target` and forgets what was learnt about it. */
  unwatch(target: string): void {
    const entry = this.watched.get(target);
    if (!entry) return;
    this.watched.delete(target);
    clearTimeout(entry.retry);
    entry.retry = undefined;
    this.abandon(entry);
  }

  /**
   * Whether `target`'s server implements Watch: true once it has sent a status, false when
   * it answered UNIMPLEMENTED (or the target cannot be parsed), undefined until then or when
   * the target is not watched.
   */
  supported(target: string): boolean | undefined {
    return this.watched.get(target)?.supported;
  }

  /**
   * True while the target's stream is open and has delivered a status: changes
   * are being pushed, so polling can slow down to a safety net.
   */
  streaming(target: string): boolean {
    const entry = this.watched.get(target);
    return entry !== undefined && entry.stream !== undefined && entry.supported === true;
  }

  /** Connections open per address key (`host:port`, `s` first for TLS); for tests and benchmarks. */
  sessionCounts(): Map<string, number> {
    return new Map([...this.pools].map(([key, pool]) => [key, pool.sessions.length]));
  }

  /** Ends every stream and closes every connection. The watcher can be reused. */
  close(): void {
    for (const entry of this.watched.values()) {
      clearTimeout(entry.retry);
      const state = entry.stream?.[STATE];
      if (state) state.abandoned = true;
      entry.stream = undefined;
    }
    this.watched.clear();
    // Destroying a connection ends its streams with it: one call per address, not per stream.
    for (const pool of this.pools.values()) {
      for (const session of pool.sessions.splice(0)) {
        session.usable = false;
        this.stopTimers(session);
        session.http2.destroy();
      }
    }
    this.pools.clear();
  }

  private notifyUpdate(update: WatchUpdate): void {
    for (const listener of this.listeners) listener.update(update);
  }

  private notifyStreamLost(target: string): void {
    for (const listener of this.listeners) listener.streamLost(target);
  }

  private open(entry: Watched, parsed: GrpcHealthTarget): void {
    const session = this.sessionWithRoom(this.poolFor(parsed));
    let stream: WatchStream;
    try {
      // No deadline: the stream is meant to stay open.
      stream = session.http2.request(WATCH_HEADERS, { endStream: false });
    } catch {
      // A session torn down this tick, or out of stream ids: retried like a failed stream.
      this.retire(session);
      this.scheduleReopen(entry, parsed);
      return;
    }
    session.opened++;
    if (session.opened >= STREAMS_BEFORE_RENEWAL) session.usable = false;
    session.streams.add(stream);
    stream[STATE] = {
      entry,
      session,
      pending: undefined,
      grpcCode: undefined,
      abandoned: false,
    };
    entry.stream = stream;
    stream.on("response", onResponse);
    stream.on("data", onData);
    stream.on("trailers", onTrailers);
    // A stream's failure is handled once, on "close"; this keeps "error" from being unhandled.
    stream.on("error", ignore);
    stream.on("close", onClose);
    stream.end(encodeHealthCheckRequest(parsed.service));
    this.activateKeepalive(session);
  }

  /** A status arrived on `state`'s stream. */
  delivered(state: StreamState, status: number): void {
    const entry = state.entry;
    if (state.abandoned || this.watched.get(entry.target) !== entry) return;
    entry.supported = true;
    entry.failures = 0;
    this.notifyUpdate({
      target: entry.target,
      serving: status === SERVING,
      status: statusName(status),
      at: this.now(),
    });
  }

  /** The stream closed: re-open it unless that was asked for or the server has no Watch. */
  ended(stream: WatchStream, state: StreamState): void {
    const { entry, session } = state;
    session.streams.delete(stream);
    if (session.streams.size === 0) this.idle(session);
    if (state.abandoned || entry.stream !== stream) return;
    entry.stream = undefined;
    if (this.watched.get(entry.target) !== entry || !entry.parsed) return;
    const wasDelivering = entry.supported === true && entry.failures === 0;
    if (state.grpcCode === GRPC_UNIMPLEMENTED) {
      // A server without Watch will not grow one by being asked again; the poller covers it.
      entry.supported = false;
      return;
    }
    this.scheduleReopen(entry, entry.parsed);
    if (wasDelivering) this.notifyStreamLost(entry.target);
  }

  private scheduleReopen(entry: Watched, parsed: GrpcHealthTarget): void {
    const { initial, max } = this.reconnectDelayMs;
    const ceiling = Math.min(max, initial * 2 ** Math.min(entry.failures, 30));
    entry.failures++;
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    entry.retry = setTimeout(() => {
      entry.retry = undefined;
      if (this.watched.get(entry.target) === entry) this.open(entry, parsed);
    }, delay);
  }

  /** Ends an entry's stream on purpose: its end is not reported and starts no retry. */
  private abandon(entry: Watched): void {
    const stream = entry.stream;
    entry.stream = undefined;
    if (!stream) return;
    const state = stream[STATE];
    if (state) state.abandoned = true;
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
  }

  private poolFor(target: GrpcHealthTarget): AddressPool {
    const key = addressKey(target);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = {
        owner: this,
        key,
        authority: authorityOf(target),
        secure: target.secure,
        sessions: [],
        keepaliveMs: this.keepaliveMs,
      };
      this.pools.set(key, pool);
    }
    return pool;
  }

  private sessionWithRoom(pool: AddressPool): Session {
    for (const session of pool.sessions) {
      if (session.usable && session.streams.size < session.maxStreams) return session;
    }
    return this.connect(pool);
  }

  private connect(pool: AddressPool): Session {
    // Open streams keep nothing alive on their own: the daemon's lifetime is its own.
    const connection = connectUnref(
      pool.authority,
      this.maxStreamsPerSession,
      pool.secure,
      this.tls,
    );
    const session: Session = {
      http2: connection,
      pool,
      streams: new Set(),
      usable: true,
      opened: 0,
      maxStreams: this.maxStreamsPerSession,
      keepalive: undefined,
      connectTimer: undefined,
    };
    session.connectTimer = setTimeout(() => this.fail(session), this.connectTimeoutMs);
    session.connectTimer.unref();
    connection.on("connect", () => {
      clearTimeout(session.connectTimer);
      session.connectTimer = undefined;
    });
    connection.on("remoteSettings", (settings) => {
      const peerLimit = settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
      session.maxStreams = Math.max(1, Math.min(this.maxStreamsPerSession, peerLimit));
      this.moveExcess(session);
    });
    connection.on("goaway", (code: number) => {
      // A server that finds our pings too frequent says so this way (gRPC's keepalive policy).
      if (code === ENHANCE_YOUR_CALM) pool.keepaliveMs *= 2;
      this.retire(session);
    });
    connection.on("error", () => this.retire(session));
    connection.on("close", () => {
      this.stopTimers(session);
      this.retire(session);
    });
    pool.sessions.push(session);
    return session;
  }

  /**
   * Streams opened before the server said it allows fewer would wait for a slot forever;
   * they move to another connection at once.
   */
  private moveExcess(session: Session): void {
    const excess = session.streams.size - session.maxStreams;
    if (excess <= 0) return;
    const moving = [...session.streams].slice(-excess);
    for (const stream of moving) {
      const entry = stream[STATE]?.entry;
      if (!entry?.parsed || entry.stream !== stream) continue;
      this.abandon(entry);
      session.streams.delete(stream);
      this.open(entry, entry.parsed);
    }
  }

  /** Takes a session out of use; its streams end with it and are re-opened elsewhere. */
  private retire(session: Session): void {
    session.usable = false;
    const sessions = session.pool.sessions;
    const at = sessions.indexOf(session);
    if (at >= 0) sessions.splice(at, 1);
    if (session.streams.size === 0) this.idle(session);
  }

  /** A session without streams is closed: watching again opens a fresh one. */
  private idle(session: Session): void {
    this.stopTimers(session);
    const sessions = session.pool.sessions;
    const at = sessions.indexOf(session);
    if (at >= 0) sessions.splice(at, 1);
    if (!session.http2.destroyed) session.http2.close();
    if (sessions.length === 0 && this.pools.get(session.pool.key) === session.pool) {
      this.pools.delete(session.pool.key);
    }
  }

  /** The connection failed to connect or to answer a PING in time: end it and its streams. */
  private fail(session: Session): void {
    this.retire(session);
    session.http2.destroy();
  }

  private activateKeepalive(session: Session): void {
    if (session.keepalive !== undefined) return;
    session.keepalive = setInterval(() => this.ping(session), session.pool.keepaliveMs);
    session.keepalive.unref();
  }

  private ping(session: Session): void {
    if (session.http2.destroyed || session.connectTimer !== undefined) return;
    const noAnswer = setTimeout(() => this.fail(session), this.keepaliveTimeoutMs);
    noAnswer.unref();
    const sent = session.http2.ping((error) => {
      clearTimeout(noAnswer);
      if (error && !session.http2.destroyed) this.fail(session);
    });
    if (!sent) clearTimeout(noAnswer);
  }

  private stopTimers(session: Session): void {
    clearTimeout(session.connectTimer);
    session.connectTimer = undefined;
    clearInterval(session.keepalive);
    session.keepalive = undefined;
  }
}

// Stream listeners are shared functions reading their state from the stream, so a stream
// allocates no closures for them.

function onResponse(this: WatchStream, headers: http2.IncomingHttpHeaders): void {
  const state = this[STATE];
  if (!state) return;
  // A trailers-only answer (UNIMPLEMENTED, say) carries its status in the only HEADERS frame.
  if (headers["grpc-status"] !== undefined) readStatus(state, headers);
  const contentType = headers["content-type"];
  const grpcAnswer =
    typeof contentType === "string" &&
    (contentType === "application/grpc" || contentType.startsWith("application/grpc"));
  const httpStatus = Number(headers[":status"]);
  // Not a gRPC answer (a proxy's error page, say): nothing it sends can be a status. Its HTTP
  // status stands for a gRPC code as in gRPC's own mapping, so a 404 means no Watch here.
  if ((httpStatus !== 200 || !grpcAnswer) && headers["grpc-status"] === undefined) {
    state.grpcCode = httpStatus !== 200 ? grpcCodeForHttpStatus(httpStatus) : 2;
    this.close(NGHTTP2_CANCEL);
  }
}

function onData(this: WatchStream, chunk: Buffer): void {
  const state = this[STATE];
  if (!state) return;
  let bytes = state.pending ? Buffer.concat([state.pending, chunk]) : chunk;
  state.pending = undefined;
  while (bytes.length >= MESSAGE_PREFIX_BYTES) {
    const length = bytes.readUInt32BE(1);
    if (bytes[0] !== 0 || length > MAX_MESSAGE_BYTES) {
      // Compressed (none was offered) or too big for a status: not a stream to trust.
      this.close(NGHTTP2_CANCEL);
      return;
    }
    const end = MESSAGE_PREFIX_BYTES + length;
    if (bytes.length < end) break;
    const status = decodeHealthCheckResponse(bytes, MESSAGE_PREFIX_BYTES, end);
    if (typeof status === "string") {
      this.close(NGHTTP2_CANCEL);
      return;
    }
    state.session.pool.owner.delivered(state, status);
    bytes = bytes.subarray(end);
  }
  // Copied so a kept remainder does not pin the connection's whole read buffer.
  if (bytes.length > 0) state.pending = Buffer.from(bytes);
}

function onTrailers(this: WatchStream, trailers: http2.IncomingHttpHeaders): void {
  const state = this[STATE];
  if (state) readStatus(state, trailers);
}

function onClose(this: WatchStream): void {
  const state = this[STATE];
  if (!state) return;
  this[STATE] = undefined;
  state.session.pool.owner.ended(this, state);
}

function ignore(): void {}

function readStatus(state: StreamState, headers: http2.IncomingHttpHeaders): void {
  const status = headers["grpc-status"];
  const code = Number(Array.isArray(status) ? status[0] : status);
  state.grpcCode = Number.isInteger(code) && code >= 0 ? code : 2;
}

function statusName(status: number): string {
  switch (status) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      // UNKNOWN, and values newer than this build's health.proto.
      return "UNKNOWN";
  }
}
