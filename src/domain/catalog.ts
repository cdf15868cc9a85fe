import {
  type AdapterEntry,
  checkEntry,
  type EntryCheck,
  sameEntry,
  sameMetadata,
} from "./adapter.js";

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
  const { entries, rejections } = screenChecks(
    raw.map((candidate) => candidate.adapterId),
    raw.map(checkEntry),
  );
  return { entries, rejections };
}

/** An answer screened from its entries' {@link checkEntry} results (see {@link screenChecks}). */
export interface ScreenedChecks {
  entries: AdapterEntry[];
  rejections: Rejection[];
  /** 1 at the index of each entry dropped as a duplicate of an earlier one. */
  duplicate: Uint8Array;
  /** The ids of `entries`. */
  ids: Set<string>;
}

/**
 * {@link screenEntries} for entries already checked one by one: `rawIds[i]` is
 * the id entry `i` arrived with, `checks[i]` its check. Entries that passed are
 * kept in order unless an earlier kept entry has the same (trimmed) id.
 */
export function screenChecks(
  rawIds: readonly string[],
  checks: readonly EntryCheck[],
): ScreenedChecks {
  const entries: AdapterEntry[] = [];
  const rejections: Rejection[] = [];
  const duplicate = new Uint8Array(checks.length);
  const ids = new Set<string>();
  checks.forEach((checked, index) => {
    if (checked.ok) {
      if (ids.has(checked.entry.adapterId)) duplicate[index] = 1;
      else {
        ids.add(checked.entry.adapterId);
        entries.push(checked.entry);
      }
    }
    addRejections(rejections, rawIds[index] ?? "", checked, duplicate[index] === 1);
  });
  return { entries, rejections, duplicate, ids };
}

/** Appends what screening reports about one checked entry: why it was dropped, or what was repaired. */
export function addRejections(
  into: Rejection[],
  rawId: string,
  checked: EntryCheck,
  duplicate: boolean,
): void {
  if (!checked.ok) {
    into.push({ adapterId: rawId, reason: checked.reason, kind: rejectionKind(checked.reason) });
    return;
  }
  if (duplicate) {
    into.push({
      adapterId: checked.entry.adapterId,
      reason: "duplicate adapter_id; the first entry is kept",
      kind: "duplicate",
    });
    return;
  }
  for (const note of checked.notes) {
    into.push({ adapterId: checked.entry.adapterId, reason: note, kind: "repaired" });
  }
}

function rejectionKind(reason: string): Rejection["kind"] {
  return reason.startsWith("entry has no")
    ? "no_id"
    : reason.startsWith("health_check_url")
      ? "bad_url"
      : "too_long";
}

/**
 * What changed in a registry's catalog between two of its answers, entry by
 * entry, as an incremental reader of the answers found it.
 */
export interface CatalogChanges {
  /** The answer these changes are relative to (the reader's own numbering). */
  readonly since: number;
  /** Entries that are new or differ in any field, as they are now, with what they were. */
  readonly changed: readonly { before: AdapterEntry | undefined; after: AdapterEntry }[];
  /** Entries of that answer that are not in this one. */
  readonly removed: readonly AdapterEntry[];
}

/**
 * The {@link CatalogDiff} of a catalog that was exactly the answer `changes.since`
 * against the answer `changes` lead to: what {@link diffCatalog} of the two whole
 * catalogs gives, at the cost of the changed entries only.
 */
export function diffFromChanges(changes: CatalogChanges): CatalogDiff {
  const diff: CatalogDiff = {
    added: [],
    updated: [],
    removed: [...changes.removed],
    refreshed: [],
  };
  for (const { before, after } of changes.changed) {
    if (!before) diff.added.push(after);
    else if (!sameEntry(before, after)) diff.updated.push({ before, after });
    else if (
      before.lastHeartbeat !== after.lastHeartbeat ||
      before.registryStatus !== after.registryStatus
    ) {
      diff.refreshed.push(after);
    }
  }
  return diff;
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
