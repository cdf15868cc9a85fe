/**
 * When the daemon's own event loop stalls, a probe's answer can wait in a socket
 * while the loop is busy, so the measured latency (or a timeout) says more about
 * the daemon than about the target. These rules decide when a result is to be
 * screened out as inconclusive rather than read as the target's verdict.
 */

/** What the screening needs of one probe result. */
export interface TimedResult {
  ok: boolean;
  latencyMs: number;
}

/** The thresholds a result is judged by. */
export interface LatencyThresholds {
  /** An answer slower than this counts the adapter as degraded. */
  degradedLatencyMs: number;
  /** No answer within this is a failure. */
  timeoutMs: number;
}

/**
 * Why a result is the daemon's delay rather than the target's, or undefined when
 * the target's answer stands. A result stands when it crossed no latency
 * threshold (a fast answer, or a refusal the target gave in time), or when it
 * would still have crossed it without the stall. A slow success whose latency
 * less the stall is under the degraded threshold, or a timeout that the stall
 * could have caused, is the daemon's delay.
 *
 * `stallMs` is how long the event loop was held up during the probe's window.
 */
export function ownDelayReason(
  result: TimedResult,
  stallMs: number,
  thresholds: LatencyThresholds,
): string | undefined {
  if (stallMs <= 0) return undefined;
  const timedOut = !result.ok && result.latencyMs >= thresholds.timeoutMs;
  const threshold = timedOut
    ? thresholds.timeoutMs
    : result.ok && result.latencyMs > thresholds.degradedLatencyMs
      ? thresholds.degradedLatencyMs
      : undefined;
  if (threshold === undefined) return undefined;
  if (result.latencyMs - stallMs > threshold) return undefined;
  const what = timedOut ? "no answer" : `answered in ${Math.round(result.latencyMs)} ms`;
  return `${what} while the daemon's event loop was held up ${Math.round(stallMs)} ms: no verdict`;
}
