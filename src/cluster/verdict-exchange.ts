import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { HEALTH_STATUSES } from "../domain/adapter.js";
import type { HealthState } from "../domain/health.js";

/**
 * The subject a member sends its verdicts on: core NATS, not the stream. Verdicts
 * are current state, not history: while the link is down only the newest verdict of
 * each adapter waits to be sent (an adapter whose breaker holds its checks back may
 * give no other for a long while), and the stream stays for events.
 */
export function verdictSubject(cluster: string, member: string): string {
  return `healthd_fleet.${cluster}.verdicts.${member}`;
}

export interface VerdictExchangeOptions {
  /** The NATS connection, or undefined before the first connect. */
  connection: () => NatsConnection | undefined;
  cluster: string;
  member: string;
  /** Whether `from` owns `adapterId` now: verdicts from any other member are refused. */
  owns: (from: string, adapterId: string) => boolean;
  /** Takes verdicts received from their owners (the engine's adoptVerdicts). */
  adopt: (states: readonly HealthState[]) => void;
  logger: Logger;
  /** How long a member's verdicts wait to go out together (ms). */
  flushEveryMs?: number;
  /**
   * How long a refused verdict may still be adopted when the members change (ms):
   * the length of a handover, not more, so a fenced member's old verdicts stay refused.
   */
  refusedKeptMs?: number;
  /** A monotonic clock (ms); performance.now by default. */
  monotonic?: () => number;
}

const DEFAULT_REFUSED_KEPT_MS = 30_000;

/**
 * Bytes of verdicts in one message: far below NATS's 1 MiB default payload, which a
 * member's start (it vouches for every verdict it owns at once) would otherwise pass.
 */
const MAX_MESSAGE_BYTES = 256 * 1024;
const DEFAULT_FLUSH_EVERY_MS = 50;

interface VerdictMessage {
  from: string;
  states: HealthState[];
}

export interface VerdictExchangeStatus {
  sent: number;
  received: number;
  /** Verdicts refused because their sender does not own the adapter (a handover in flight). */
  refused: number;
  malformed: number;
  /** Publishes refused (while reconnecting): their verdicts wait for the connection. */
  unsent: number;
  /** Verdicts waiting to be sent now. */
  waiting: number;
}

/**
 * Shares verdicts across the cluster: each member sends the verdicts its own checks
 * gave (after they are committed), and adopts what the other members send for the
 * adapters they own. So every member's view holds the whole fleet, and an owner
 * that stops sending leaves its adapters' verdicts to age into stale.
 */
export class VerdictExchange {
  private queue = new Map<string, HealthState>();
  /**
   * The newest refused verdict of each adapter: during a handover the new owner's
   * verdicts can arrive before this member has seen the members change, and one
   * whose breaker holds its checks back would not come again for a long while.
   */
  private readonly refusedLatest = new Map<string, { state: HealthState; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  private stopped = false;
  /** Whether the current episode of refused publishes has been logged (one line each). */
  private unsentLogged = false;
  private readonly counts: Omit<VerdictExchangeStatus, "waiting"> = {
    sent: 0,
    received: 0,
    refused: 0,
    malformed: 0,
    unsent: 0,
  };
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  private readonly monotonic: () => number;

  constructor(private readonly options: VerdictExchangeOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
  }

  /**
   * Subscribes to the other members' verdicts once connected, and sends what waited
   * for the connection (call again on each connect).
   */
  connected(): void {
    if (this.stopped) return;
    this.flush();
    if (this.subscription) return;
    const connection = this.options.connection();
    if (!connection) return;
    const { cluster, member } = this.options;
    this.subscription = connection.subscribe(verdictSubject(cluster, "*"), {
      callback: (error, message) => {
        if (error) return;
        if (message.subject === verdictSubject(cluster, member)) return;
        this.receive(message.data);
      },
    });
  }

  /** Queues this member's committed verdicts; they go out within `flushEveryMs`. */
  committed(states: readonly HealthState[]): void {
    if (this.stopped) return;
    // Only the newest verdict of each adapter is worth sending.
    for (const state of states) this.queue.set(state.adapterId, state);
    if (!this.timer) {
      this.timer = setTimeout(
        () => this.flush(),
        this.options.flushEveryMs ?? DEFAULT_FLUSH_EVERY_MS,
      );
      this.timer.unref();
    }
  }

  /**
   * Sends what is queued now. Without a connection, or while publishes are refused,
   * the verdicts stay queued (newest per adapter) until `connected()`.
   */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.size === 0) return;
    const connection = this.options.connection();
    if (!connection || connection.isClosed()) return;
    const states = [...this.queue.values()];
    this.queue = new Map();
    const subject = verdictSubject(this.options.cluster, this.options.member);
    const from = JSON.stringify(this.options.member);
    let batch: HealthState[] = [];
    let parts: string[] = [];
    let bytes = 0;
    const send = (): boolean => {
      if (parts.length === 0) return true;
      try {
        connection.publish(
          subject,
          this.encoder.encode(`{"from":${from},"states":[${parts.join(",")}]}`),
        );
        this.counts.sent += parts.length;
        this.unsentLogged = false;
      } catch (error) {
        // Reconnecting with a full buffer: the link reports the outage; these wait for it.
        this.counts.unsent++;
        if (!this.unsentLogged) {
          this.unsentLogged = true;
          this.options.logger.warn(
            { err: error },
            "verdicts not sent; they are sent when NATS takes publishes again",
          );
        }
        return false;
      }
      batch = [];
      parts = [];
      bytes = 0;
      return true;
    };
    for (const [index, state] of states.entries()) {
      const text = JSON.stringify(state);
      if (bytes + text.length > MAX_MESSAGE_BYTES && !send()) {
        this.requeue([...batch, ...states.slice(index)]);
        return;
      }
      batch.push(state);
      parts.push(text);
      bytes += text.length + 1;
    }
    if (!send()) this.requeue(batch);
  }

  /**
   * The members changed: verdicts refused before (their sender did not own the
   * adapter then) are judged again, and those whose sender owns it now adopted.
   */
  ownersChanged(): void {
    const accepted: HealthState[] = [];
    const now = this.monotonic();
    const keptMs = this.options.refusedKeptMs ?? DEFAULT_REFUSED_KEPT_MS;
    for (const [adapterId, { state, at }] of this.refusedLatest) {
      if (now - at > keptMs) {
        this.refusedLatest.delete(adapterId);
        continue;
      }
      if (!this.options.owns(state.owner as string, adapterId)) continue;
      accepted.push(state);
      this.refusedLatest.delete(adapterId);
    }
    if (accepted.length > 0) this.options.adopt(accepted);
  }

  status(): VerdictExchangeStatus {
    return { ...this.counts, waiting: this.queue.size };
  }

  /** Sends what is queued and stops sending and receiving. */
  stop(): void {
    this.flush();
    this.stopped = true;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Puts refused verdicts back, each unless a newer one of its adapter was queued meanwhile. */
  private requeue(states: readonly HealthState[]): void {
    for (const state of states) {
      if (!this.queue.has(state.adapterId)) this.queue.set(state.adapterId, state);
    }
  }

  private receive(data: Uint8Array): void {
    let message: VerdictMessage;
    try {
      message = JSON.parse(this.decoder.decode(data)) as VerdictMessage;
      if (typeof message.from !== "string" || !Array.isArray(message.states)) {
        throw new Error("not a verdict message");
      }
    } catch (error) {
      if (this.counts.malformed++ === 0) {
        this.options.logger.warn({ err: error }, "malformed verdict message ignored");
      }
      return;
    }
    const accepted: HealthState[] = [];
    for (const state of message.states) {
      if (!isVerdict(state)) {
        this.counts.malformed++;
        continue;
      }
      this.counts.received++;
      // Fencing: a member that lost an adapter (its lease lapsed, it came back) is not believed.
      if (state.owner !== message.from) {
        this.counts.refused++;
        continue;
      }
      if (!this.options.owns(message.from, state.adapterId)) {
        this.counts.refused++;
        this.refusedLatest.set(state.adapterId, { state, at: this.monotonic() });
        continue;
      }
      // The old owner's verdict, still believed here, does not make the new owner's
      // early one moot: this member may see the members change a moment later.
      if (this.refusedLatest.get(state.adapterId)?.state.owner === message.from) {
        this.refusedLatest.delete(state.adapterId);
      }
      accepted.push(state);
    }
    if (accepted.length > 0) this.options.adopt(accepted);
  }
}

function isVerdict(value: unknown): value is HealthState {
  if (typeof value !== "object" || value === null) return false;
  const state = value as Partial<HealthState>;
  return (
    typeof state.adapterId === "string" &&
    (HEALTH_STATUSES as readonly unknown[]).includes(state.status) &&
    typeof state.since === "number" &&
    (state.lastChecked === null || typeof state.lastChecked === "number") &&
    typeof state.owner === "string" &&
    Array.isArray(state.recentTransitions)
  );
}
