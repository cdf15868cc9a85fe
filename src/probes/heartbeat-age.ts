import type { ProbeResult } from "./probe.js";

/**
 * Judges an adapter by how long ago it last heartbeated to the registry. Pure: the caller
 * passes the clock, so it can run inside a probe round without I/O (hence `latencyMs: 0`).
 *
 * @param lastHeartbeatSec the registry's `last_heartbeat`, Unix seconds; 0 means never
 * @param nowMs the current time, Unix milliseconds (`Date.now()`)
 * @param ttlMs the oldest heartbeat still accepted
 */
export function checkHeartbeatAge(
  lastHeartbeatSec: number,
  nowMs: number,
  ttlMs: number,
): ProbeResult {
  // `!(x > 0)` also catches NaN and negative values, which no registry should send but a
  // hand-written registry file could.
  if (!(lastHeartbeatSec > 0)) {
    return { ok: false, latencyMs: 0, detail: "no heartbeat recorded" };
  }
  const ageMs = nowMs - lastHeartbeatSec * 1000;
  if (ageMs <= ttlMs) {
    // A heartbeat "from the future" is clock skew between registry and daemon: still fresh.
    return {
      ok: true,
      latencyMs: 0,
      detail: `last heartbeat ${ceilTenths(Math.max(0, ageMs))}s ago`,
    };
  }
  // The age is rounded up and the limit down, so a stale age never reads as equal to (or
  // below) its limit, e.g. "30.1s ago, over the 30s limit" rather than "30s ... 30s".
  return {
    ok: false,
    latencyMs: 0,
    detail: `last heartbeat ${ceilTenths(ageMs)}s ago, over the ${floorTenths(ttlMs)}s limit`,
  };
}

/** Milliseconds as seconds, rounded up to a tenth: 1201 → 1.3, 30000 → 30. */
function ceilTenths(ms: number): number {
  return Math.ceil(ms / 100) / 10;
}

/** Milliseconds as seconds, rounded down to a tenth: 1299 → 1.2, 30000 → 30. */
function floorTenths(ms: number): number {
  return Math.floor(ms / 100) / 10;
}
