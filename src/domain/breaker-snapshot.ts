/**
 * Reading and repairing the times inside a cockatiel breaker snapshot (the
 * `toJSON()` of a CircuitBreakerPolicy): `ownState.openedAt` when open, and the
 * sampling breaker's `windows[].startedAt`. cockatiel measures them with the wall
 * clock, so a clock stepped back would leave them in the future: an open breaker
 * would stay open, and a sampling window keep counting, for the size of the step.
 */

interface SnapshotShape {
  ownState?: { openedAt?: unknown };
  breakerState?: { windows?: { startedAt?: unknown }[] };
}

function shape(snapshot: unknown): SnapshotShape | undefined {
  return typeof snapshot === "object" && snapshot !== null
    ? (snapshot as SnapshotShape)
    : undefined;
}

/** When the breaker opened (ms since the epoch), if the snapshot says; 0 means "due now". */
export function breakerOpenedAt(snapshot: unknown): number | undefined {
  const openedAt = shape(snapshot)?.ownState?.openedAt;
  return typeof openedAt === "number" ? openedAt : undefined;
}

/** Whether any time in the snapshot lies after `now`. */
export function hasFutureTimes(snapshot: unknown, now: number): boolean {
  const value = shape(snapshot);
  if (!value) return false;
  const openedAt = value.ownState?.openedAt;
  if (typeof openedAt === "number" && openedAt > now) return true;
  return (value.breakerState?.windows ?? []).some(
    (window) => typeof window.startedAt === "number" && window.startedAt > now,
  );
}

/**
 * The snapshot with every time after `now` pulled back to `now`: an open breaker
 * then waits its own half-open time from now, and a window starts now. Returns
 * the same object when nothing lies ahead, a copy otherwise.
 */
export function clampBreakerSnapshot(snapshot: unknown, now: number): unknown {
  if (!hasFutureTimes(snapshot, now)) return snapshot;
  const copy = structuredClone(snapshot) as SnapshotShape;
  if (copy.ownState && typeof copy.ownState.openedAt === "number") {
    copy.ownState.openedAt = Math.min(copy.ownState.openedAt, now);
  }
  for (const window of copy.breakerState?.windows ?? []) {
    if (typeof window.startedAt === "number") window.startedAt = Math.min(window.startedAt, now);
  }
  return copy;
}
