import type { HealthStatus } from "../domain/adapter.js";

/** What one probe said. A failed target is a result, never an exception. */
export interface ProbeResult {
  ok: boolean;
  /**
   * Milliseconds from when the request was written to the connection (the connection open,
   * the stream made and the request flushed) to the answer, so time a check spent waiting
   * inside this process (for a connection, a free stream, a busy event loop before the
   * write) is not counted as the target's. A probe that cannot tell when its request was
   * written, or a check that failed before writing, counts from the start of the check.
   */
  latencyMs: number;
  /**
   * `performance.now()` when the request was written, where the probe knows it; the answer
   * came at `writtenAt + latencyMs`. Lets a caller see whether this process's own event loop
   * was delayed while the check was in flight.
   */
  writtenAt?: number;
  /** Why it failed, or a short note on success. */
  detail: string;
  /** The status the target reported of itself, where it says one (the registry). */
  reportedStatus?: HealthStatus;
  /**
   * True when the probe could not reach the one who judges (the registry was
   * unreachable): no verdict either way, and `ok` means nothing.
   */
  inconclusive?: boolean;
}

/** Per-target settings a probe may honour; a probe ignores the ones that do not apply to it. */
export interface ProbeOptions {
  /** HTTP only: the body must contain this text for the check to pass. */
  expectBody?: string;
}

/** One kind of probe (HTTP, grpc.health.v1, ...), reusing its connections across checks. */
export interface Probe {
  readonly kind: string;
  /** Checks `target` within `timeoutMs`; resolves (never rejects) with the result. */
  check(target: string, timeoutMs: number, options?: ProbeOptions): Promise<ProbeResult>;
  /** Releases pooled connections. */
  close(): void;
}

export function elapsedSince(startedAt: number): number {
  return performance.now() - startedAt;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
