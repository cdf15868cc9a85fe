import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  wrap,
} from "cockatiel";
import type { AdapterEntry } from "../domain/adapter.js";
import {
  type ListFilter,
  type Registry,
  RegistryError,
  type RegistryHealth,
} from "./registry-client.js";

export type EndpointRole = "primary" | "secondary";
export type BreakerState = "closed" | "open" | "half-open" | "isolated";

export interface EndpointPolicyOptions {
  /** Consecutive transport failures that open the breaker. */
  breakerThreshold: number;
  /** First wait before a half-open trial; doubles with jitter up to the maximum. */
  halfOpenAfterMs: number;
  maxHalfOpenAfterMs: number;
  maxConcurrentCalls: number;
  maxQueuedCalls: number;
  /** cockatiel toJSON() state saved by an earlier run. */
  initialBreakerState?: unknown;
}

/** What the endpoint reports after each call, for persistence and metrics. */
export interface EndpointStatus {
  endpoint: string;
  role: EndpointRole;
  breaker: BreakerState;
  breakerJson: unknown;
  reachable: boolean;
  lastOk: number | null;
  lastError: string | null;
}

/**
 * Failures of the link itself (not "that adapter does not exist"). These count
 * against the endpoint's breaker and make it unreachable.
 *
 * That includes `bad_answer`, an answer of the wrong message type, on purpose:
 * whatever sits at that address (a misrouted proxy, another service on the
 * port) is not giving usable answers, and protobuf would decode its bytes for
 * the other RPCs just as silently (a HeartbeatResponse `registered: true` reads
 * as a HealthCheckResponse `healthy: true`). Counting it opens the breaker after
 * a few such answers, so calls move to a secondary instead of trusting, or
 * hammering, that address, and the registry shows as unreachable, which is the
 * truth the operator needs. It is not retried (only `unavailable` is): the same
 * address would give the same answer.
 */
export function isLinkFailure(error: unknown): boolean {
  return error instanceof RegistryError && error.kind !== "not_found";
}

const BREAKER_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/**
 * One registry endpoint behind cockatiel policies: a bulkhead (bounded calls in
 * flight and waiting, so nothing queues without bound while the registry is
 * away), one quick jittered retry for a dropped connection, and a consecutive
 * breaker whose half-open trials back off exponentially with jitter, so a dead
 * registry is retried ever more rarely instead of hammered. The breaker's state
 * can be restored from an earlier run.
 */
export class RegistryEndpoint {
  readonly endpoint: string;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;
  private lastOk: number | null;
  private lastError: string | null;
  private readonly listeners = new Set<(status: EndpointStatus) => void>();

  constructor(
    private readonly client: Registry,
    readonly role: EndpointRole,
    options: EndpointPolicyOptions,
    private readonly onStatus: (status: EndpointStatus) => void,
    private readonly now: () => number = Date.now,
    restored: { lastOk: number | null; lastError: string | null } = {
      lastOk: null,
      lastError: null,
    },
  ) {
    this.endpoint = client.endpoint;
    this.lastOk = restored.lastOk;
    this.lastError = restored.lastError;
    this.breaker = circuitBreaker(handleWhen(isLinkFailure), {
      halfOpenAfter: new ExponentialBackoff({
        initialDelay: options.halfOpenAfterMs,
        maxDelay: options.maxHalfOpenAfterMs,
      }),
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
      ...(options.initialBreakerState ? { initialState: options.initialBreakerState } : {}),
    });
    const retryOnce = retry(
      handleWhen((error) => error instanceof RegistryError && error.kind === "unavailable"),
      { maxAttempts: 1, backoff: new ExponentialBackoff({ initialDelay: 25, maxDelay: 250 }) },
    );
    this.policy = wrap(
      bulkhead(options.maxConcurrentCalls, options.maxQueuedCalls),
      retryOnce,
      this.breaker,
    );
    this.breaker.onStateChange(() => this.report());
  }

  get breakerState(): BreakerState {
    return BREAKER_NAMES[this.breaker.state];
  }

  /** Its breaker is not open and its last call was not a link failure. */
  get reachable(): boolean {
    return this.breakerState !== "open" && this.lastError === null;
  }

  /** The last link failure's message, or null when the last call got an answer. */
  get lastFailure(): string | null {
    return this.lastError;
  }

  /**
   * Calls `listener` with the status whenever `onStatus` is told (reachability
   * or breaker state changed), after it. A listener that throws does not change
   * the outcome of the call that caused the report. Returns the unsubscribe.
   */
  onStatusChange(listener: (status: EndpointStatus) => void): () => void {
    const entry = (status: EndpointStatus) => listener(status);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  status(): EndpointStatus {
    return {
      endpoint: this.endpoint,
      role: this.role,
      breaker: this.breakerState,
      breakerJson: this.breaker.toJSON(),
      reachable: this.reachable,
      lastOk: this.lastOk,
      lastError: this.lastError,
    };
  }

  listAdapters(filter: ListFilter): Promise<AdapterEntry[]> {
    return this.execute("ListAdapters", () => this.client.listAdapters(filter));
  }

  /** ListAdapters with no filter, its answer's bytes handed to `read` within the call. */
  readCatalog<T>(read: (answer: Uint8Array) => Promise<T>): Promise<T> {
    return this.execute("ListAdapters", () => this.client.readListAdapters({}, read));
  }

  getAdapter(adapterId: string): Promise<AdapterEntry> {
    return this.execute("GetAdapter", () => this.client.getAdapter(adapterId));
  }

  checkAdapterHealth(adapterId: string): Promise<RegistryHealth> {
    return this.execute("HealthCheck", () => this.client.checkAdapterHealth(adapterId));
  }

  sendHeartbeat(adapterId: string): Promise<boolean> {
    return this.execute("Heartbeat", () => this.client.sendHeartbeat(adapterId));
  }

  close(): void {
    this.client.close();
  }

  private async execute<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      const value = await this.policy.execute(call);
      this.noteOutcome(null);
      return value;
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        throw new RegistryError(
          "circuit_open",
          `${operation}: registry ${this.endpoint} is not being called: its circuit breaker is open after repeated failures (last: ${this.lastError ?? "unknown"})`,
        );
      }
      if (error instanceof BulkheadRejectedError) {
        throw new RegistryError(
          "overloaded",
          `${operation}: too many calls to registry ${this.endpoint} in flight; try again shortly`,
        );
      }
      if (isLinkFailure(error)) this.noteOutcome((error as Error).message);
      else if (error instanceof RegistryError) this.noteOutcome(null);
      throw error;
    }
  }

  /** Records the outcome; reports only when reachability changed, to keep writes rare. */
  private noteOutcome(error: string | null): void {
    const wasReachable = this.lastError === null;
    if (error === null) this.lastOk = this.now();
    this.lastError = error;
    if (wasReachable !== (error === null)) this.report();
  }

  private report(): void {
    const status = this.status();
    this.onStatus(status);
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch {
        // A subscriber's bug must not turn the call's answer into a failure.
      }
    }
  }
}
