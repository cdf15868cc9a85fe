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
 * A registry answer that would remove most of a catalog at once (an empty list
 * after a registry restart, say) is more likely a registry fault than a fleet
 * retirement, so it is held until a second sync confirms it.
 */
export function isSuspectShrink(currentSize: number, removedCount: number): boolean {
  return currentSize >= 2 && removedCount * 2 > currentSize;
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
