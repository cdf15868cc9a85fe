import {
  type ClientReadableStream,
  credentials,
  status as grpcStatus,
  type StatusObject,
} from "@grpc/grpc-js";
import {
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from "../gen/grpc/health/v1/health.js";
import { type GrpcHealthTarget, parseGrpcTarget } from "./grpc-health-probe.js";

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
   * Supplies the client (channel) for an address, to share channels with other gRPC users
   * such as a `GrpcHealthProbe`. Clients from here belong to the provider: the watcher never
   * closes them. Without it the watcher keeps one client of its own per address.
   */
  clientFor?: (target: GrpcHealthTarget) => HealthClient;
  /**
   * Told when a stream that had been delivering statuses ends without being asked to (the
   * server went away, a proxy cut it, keepalive found the peer gone). The watcher re-opens
   * it with backoff; meanwhile nothing is pushed, so the owner should poll again soon.
   */
  onStreamLost?: (target: string) => void;
}

/** Told of pushed statuses and of streams that ended without being asked to. */
export interface WatchListener {
  update(update: WatchUpdate): void;
  streamLost(target: string): void;
}

const DEFAULT_RECONNECT_DELAY_MS = { initial: 1_000, max: 60_000 };

/** One watched target. Replaced, never reused, when a target is unwatched and watched again. */
interface Watched {
  target: string;
  parsed: GrpcHealthTarget | undefined;
  /** The pooled client this target holds a reference on; undefined once released. */
  clientKey: string | undefined;
  call: ClientReadableStream<HealthCheckResponse> | undefined;
  retry: ReturnType<typeof setTimeout> | undefined;
  /** Stream attempts in a row that ended before any message; drives the backoff. */
  failures: number;
  supported: boolean | undefined;
}

interface PooledClient {
  client: HealthClient;
  users: number;
}

/**
 * Keeps a grpc.health.v1 `Watch` stream open per `grpc://host:port/service` target, so a
 * status change is pushed to `onUpdate` as it happens instead of waiting for the next poll.
 *
 * Only statuses the server sends are reported. A stream that ends or fails says nothing
 * about the service (the server may be restarting, or a proxy may have cut an idle stream),
 * so it is silently re-opened with backoff; deciding that a silent target is down is left
 * to the poller. A re-opened stream starts with the current status, so the same status may
 * be reported again after a reconnect.
 */
export class GrpcHealthWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly clients = new Map<string, PooledClient>();
  private readonly reconnectDelayMs: { initial: number; max: number };
  private readonly now: () => number;
  private readonly clientProvider: ((target: GrpcHealthTarget) => HealthClient) | undefined;
  private readonly listeners = new Set<WatchListener>();

  /** `onUpdate` runs inside a stream's event handler: it must not throw. */
  constructor(
    onUpdate: ((update: WatchUpdate) => void) | undefined,
    options: GrpcHealthWatcherOptions = {},
  ) {
    this.reconnectDelayMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
    this.now = options.now ?? Date.now;
    this.clientProvider = options.clientFor;
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

  private onUpdate(update: WatchUpdate): void {
    for (const listener of this.listeners) listener.update(update);
  }

  private onStreamLost(target: string): void {
    for (const listener of this.listeners) listener.streamLost(target);
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
      clientKey: undefined,
      call: undefined,
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
    this.stop(entry);
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
    return entry !== undefined && entry.call !== undefined && entry.supported === true;
  }

  /** Ends every stream and closes the watcher's own channels. The watcher can be reused. */
  close(): void {
    const entries = [...this.watched.values()];
    this.watched.clear();
    withoutStackTraces(() => {
      for (const entry of entries) this.stop(entry);
    });
    // Normally empty by now (each stop() released its reference); closed anyway so a
    // bookkeeping slip cannot leave a channel open.
    for (const pooled of this.clients.values()) pooled.client.close();
    this.clients.clear();
  }

  private open(entry: Watched, parsed: GrpcHealthTarget): void {
    let call: ClientReadableStream<HealthCheckResponse>;
    try {
      // No deadline: the stream is meant to stay open. Not waitForReady: with the server down
      // the call fails at once and the backoff below paces the retries.
      const client = this.acquireClient(entry, parsed);
      call = withoutStackTraces(() => client.watch({ service: parsed.service }));
    } catch {
      // Only a provided client can get here (one its owner already closed, say): retried like
      // a failed stream, in case the provider hands out a fresh one.
      this.scheduleReopen(entry, parsed);
      return;
    }
    entry.call = call;
    call.on("data", (response: HealthCheckResponse) => {
      // Checked against the map rather than `entry.call`: grpc-js may deliver a buffered
      // message after the stream's status, and that message is still news.
      if (this.watched.get(entry.target) !== entry) return;
      entry.supported = true;
      entry.failures = 0;
      const status = statusName(response.status);
      this.onUpdate({
        target: entry.target,
        serving: response.status === HealthCheckResponse_ServingStatus.SERVING,
        status,
        at: this.now(),
      });
    });
    // grpc-js emits "error" for every non-OK end, then "status" for every end; the outcome is
    // handled once, on "status". This listener only keeps "error" from being unhandled.
    call.on("error", () => {});
    call.on("status", (outcome: StatusObject) => {
      if (this.watched.get(entry.target) !== entry || entry.call !== call) return;
      entry.call = undefined;
      const wasDelivering = entry.supported === true && entry.failures === 0;
      if (outcome.code === grpcStatus.UNIMPLEMENTED) {
        // A server without Watch will not grow one by being asked again; the poller covers it.
        entry.supported = false;
        this.releaseClient(entry);
        return;
      }
      this.scheduleReopen(entry, parsed);
      if (wasDelivering) this.onStreamLost(entry.target);
    });
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

  private stop(entry: Watched): void {
    clearTimeout(entry.retry);
    entry.retry = undefined;
    const call = entry.call;
    entry.call = undefined;
    // Its "status" (CANCELLED) finds the entry gone from the map and is ignored.
    call?.cancel();
    this.releaseClient(entry);
  }

  private acquireClient(entry: Watched, parsed: GrpcHealthTarget): HealthClient {
    if (this.clientProvider) return this.clientProvider(parsed);
    const key = `${parsed.secure ? "s" : ""}${parsed.address}`;
    let pooled = this.clients.get(key);
    if (!pooled) {
      pooled = {
        client: new HealthClient(
          parsed.address,
          parsed.secure ? credentials.createSsl() : credentials.createInsecure(),
          {
            // Pings find a peer that vanished without closing the connection, which would
            // otherwise leave a stream waiting forever for its next status.
            "grpc.keepalive_time_ms": 30_000,
            // The channel's own reconnect backoff is kept in step with the stream's, so a
            // re-opened stream does not meet a channel still waiting out a longer backoff.
            "grpc.initial_reconnect_backoff_ms": this.reconnectDelayMs.initial,
            "grpc.max_reconnect_backoff_ms": this.reconnectDelayMs.max,
            // A channel of its own subchannels, so closing it closes its connection now
            // rather than at grpc-js's next shared-pool sweep.
            "grpc.use_local_subchannel_pool": 1,
          },
        ),
        users: 0,
      };
      this.clients.set(key, pooled);
    }
    if (entry.clientKey !== key) {
      pooled.users++;
      entry.clientKey = key;
    }
    return pooled.client;
  }

  private releaseClient(entry: Watched): void {
    const key = entry.clientKey;
    if (key === undefined) return;
    entry.clientKey = undefined;
    const pooled = this.clients.get(key);
    if (!pooled) return;
    pooled.users--;
    if (pooled.users <= 0) {
      pooled.client.close();
      this.clients.delete(key);
    }
  }
}

/**
 * Runs `work` with stack traces off. grpc-js records the caller's stack when a
 * call starts and builds an error with a formatted stack when one is cancelled;
 * with source maps on that costs a fraction of a millisecond each, which at tens
 * of thousands of streams holds the event loop for seconds at start and at stop.
 * Nothing reads those stacks: a stream's end is handled by its status code.
 */
function withoutStackTraces<T>(work: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return work();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function statusName(status: HealthCheckResponse_ServingStatus): string {
  switch (status) {
    case HealthCheckResponse_ServingStatus.SERVING:
      return "SERVING";
    case HealthCheckResponse_ServingStatus.NOT_SERVING:
      return "NOT_SERVING";
    case HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN:
      return "SERVICE_UNKNOWN";
    default:
      // UNKNOWN, and values newer than this build's health.proto.
      return "UNKNOWN";
  }
}
