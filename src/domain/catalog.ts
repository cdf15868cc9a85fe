import { type AdapterEntry, checkEntry, sameEntry, sameMetadata } from "./adapter.js";

export interface CatalogDiff {
  added: AdapterEntry[];
  updated: { before: AdapterEntry; after: AdapterEntry }[];
  removed: AdapterEntry[];
  /** Entries whose only change is a live reading (heartbeat, registry status): stored, no event. */
  refreshed: AdapterEntry[];
}

export interface Rejection {
  adapterId: string;
  reason: string;
  /** Short stable label for metrics. */
  kind: "no_id" | "bad_url" | "duplicate" | "too_long" | "repaired";
}

/**
 * Checks a registry answer entry by entry: malformed entries are dropped,
 * repairable ones repaired, duplicates after the first dropped. Each is reported.
 */
export function screenEntries(raw: readonly AdapterEntry[]): {
  entries: AdapterEntry[];
  rejections: Rejection[];
} {
  const entries: AdapterEntry[] = [];
  const rejections: Rejection[] = [];
  const seen = new Set<string>();
  for (const candidate of raw) {
    const checked = checkEntry(candidate);
    if (!checked.ok) {
      const kind = checked.reason.startsWith("entry has no")
        ? "no_id"
        : checked.reason.startsWith("health_check_url")
          ? "bad_url"
          : "too_long";
      rejections.push({ adapterId: candidate.adapterId, reason: checked.reason, kind });
      continue;
    }
    if (seen.has(checked.entry.adapterId)) {
      rejections.push({
        adapterId: checked.entry.adapterId,
        reason: "duplicate adapter_id; the first entry is kept",
        kind: "duplicate",
      });
      continue;
    }
    seen.add(checked.entry.adapterId);
    for (const note of checked.notes) {
      rejections.push({ adapterId: checked.entry.adapterId, reason: note, kind: "repaired" });
    }
    entries.push(checked.entry);
  }
  return { entries, rejections };
}

export function diffCatalog(
  current: readonly AdapterEntry[],
  incoming: readonly AdapterEntry[],
): CatalogDiff {
  const before = new Map(current.map((entry) => [entry.adapterId, entry]));
  const diff: CatalogDiff = { added: [], updated: [], removed: [], refreshed: [] };
  const incomingIds = new Set<string>();
  for (const entry of incoming) {
    incomingIds.add(entry.adapterId);
    const old = before.get(entry.adapterId);
    if (!old) diff.added.push(entry);
    else if (!sameEntry(old, entry)) diff.updated.push({ before: old, after: entry });
    else if (
      old.lastHeartbeat !== entry.lastHeartbeat ||
      old.registryStatus !== entry.registryStatus
    ) {
      diff.refreshed.push(entry);
    }
  }
  for (const entry of current) if (!incomingIds.has(entry.adapterId)) diff.removed.push(entry);
  return diff;
}

/**
 * A registry answer that would remove most of a catalog at once (more than half
 * of a catalog of at least 2; an empty list after a registry restart, say) is
 * more likely a registry fault than a fleet retirement, so it is held until
 * later answers confirm it (see {@link screenRemoval}).
 */
export function isSuspectShrink(currentSize: number, removedCount: number): boolean {
  return currentSize >= 2 && removedCount * 2 > currentSize;
}

/** A suspect removal awaiting confirmation, carried from one sync to the next. */
export interface HeldRemoval {
  /** The ids the first answer removed; every later answer must remove them too. */
  readonly ids: ReadonlySet<string>;
  /** When the first answer removing them came (ms, the caller's clock). */
  readonly firstSeenAt: number;
  /** Consecutive answers that removed them, the first included. */
  readonly answers: number;
}

/** How much evidence confirms a suspect removal: both must hold. */
export interface RemovalRule {
  /** Consecutive answers removing the held set, the first included. */
  minAnswers: number;
  /** Time from the first of those answers to the confirming one (ms). */
  minSpanMs: number;
}

/** Answers that must agree before a suspect removal is applied. */
export const SUSPECT_REMOVAL_MIN_ANSWERS = 3;
/** Five minutes: longer than a registry restart and its adapters' re-registration. */
export const SUSPECT_REMOVAL_MIN_SPAN_MS = 300_000;
export const DEFAULT_REMOVAL_RULE: Readonly<RemovalRule> = Object.freeze({
  minAnswers: SUSPECT_REMOVAL_MIN_ANSWERS,
  minSpanMs: SUSPECT_REMOVAL_MIN_SPAN_MS,
});

export interface RemovalVerdict {
  /** Ids to remove now. */
  remove: string[];
  /** What to pass as `held` with the next answer. */
  held: HeldRemoval | undefined;
}

/**
 * Decides which of an answer's removals to apply, for one sync. Pure: the
 * caller keeps `held` between syncs and supplies the clock.
 *
 * - A removal that is not suspect ({@link isSuspectShrink} of `currentSize`)
 *   is applied at once and clears anything held.
 * - A suspect one is held. It is confirmed once `rule.minAnswers` consecutive
 *   answers (the first included) have each removed at least the held set, over
 *   at least `rule.minSpanMs` from the first; then the held set is removed.
 *   An answer removing more than the held set continues the count; the extra
 *   ids, seen missing fewer times, are screened afresh against the catalog left
 *   after the confirmed removal (applied at once if that is not suspect, else
 *   held as a new removal from this answer).
 * - An answer that does not remove all of the held set (some came back)
 *   restarts the count with its own set.
 *
 * A clock that goes back never confirms early: the span then counts from the
 * earliest time seen, and must reach `minSpanMs` on the caller's clock.
 */
export function screenRemoval(
  held: HeldRemoval | undefined,
  currentSize: number,
  removedIds: readonly string[],
  now: number,
  rule: RemovalRule = DEFAULT_REMOVAL_RULE,
): RemovalVerdict {
  const removing = new Set(removedIds);
  if (!isSuspectShrink(currentSize, removing.size)) {
    return { remove: [...removing], held: undefined };
  }
  const continues = held !== undefined && [...held.ids].every((id) => removing.has(id));
  const next: HeldRemoval = continues
    ? {
        ids: held.ids,
        // A clock that went back restarts the span, not the count.
        firstSeenAt: Math.min(held.firstSeenAt, now),
        answers: held.answers + 1,
      }
    : { ids: removing, firstSeenAt: now, answers: 1 };
  if (next.answers < rule.minAnswers || now - next.firstSeenAt < rule.minSpanMs) {
    return { remove: [], held: next };
  }
  const confirmed = [...next.ids];
  const extra = [...removing].filter((id) => !next.ids.has(id));
  if (extra.length === 0) return { remove: confirmed, held: undefined };
  const rest = screenRemoval(undefined, currentSize - confirmed.length, extra, now, rule);
  return { remove: [...confirmed, ...rest.remove], held: rest.held };
}

/** Which fields changed, for the `adapter.updated` event. */
export function changedFields(before: AdapterEntry, after: AdapterEntry): string[] {
  const fields: (keyof AdapterEntry)[] = [
    "project",
    "domain",
    "category",
    "provider",
    "capabilities",
    "factoryPath",
    "healthCheckUrl",
    "metadata",
    "registeredAt",
  ];
  return fields.filter((field) =>
    field === "metadata"
      ? !sameMetadata(before.metadata, after.metadata)
      : JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );
}
