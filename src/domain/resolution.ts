import type { AdapterEntry, HealthStatus } from "./adapter.js";
import type { BreakerState, HealthState } from "./health.js";

/** What a workflow asks for. Empty provider or project means any. */
export interface Requirement {
  domain: string;
  category: string;
  provider?: string | undefined;
  project?: string | undefined;
}

/** One adapter as resolution sees it. */
export interface Candidate {
  entry: AdapterEntry;
  health: HealthState;
  /** In a maintenance window: out of resolution, without alarms. */
  maintenance: boolean;
  /** Configured priority; lower is preferred (default 100). */
  priority: number;
}

export interface RankedCandidate {
  adapterId: string;
  provider: string;
  status: HealthStatus;
  breaker: BreakerState;
  flapping: boolean;
  maintenance: boolean;
  priority: number;
  latencyMs: number | null;
  /** Why it may not be used, or null when usable. */
  excludedBecause: string | null;
}

export interface Resolution {
  requirement: Requirement;
  /** The adapter to use, or null when none is usable (and panic mode is off). */
  choice: RankedCandidate | null;
  /** Usable alternatives, best first (at most `limit`). */
  fallbacks: RankedCandidate[];
  /** Candidates that match but may not be used, with the reason each (at most `limit`). */
  excluded: RankedCandidate[];
  /** How many usable alternatives there are in all. */
  fallbacksTotal: number;
  /** How many matching candidates are excluded in all. */
  excludedTotal: number;
  /** Why this answer, in words. */
  reason: string;
  /** True when the choice is the least-bad of unusable candidates (panic mode). */
  panic: boolean;
}

const STATUS_RANK: Record<HealthStatus, number> = {
  healthy: 0,
  degraded: 1,
  unknown: 2,
  unhealthy: 3,
};
const BREAKER_RANK: Record<BreakerState, number> = {
  closed: 0,
  "half-open": 1,
  open: 2,
  isolated: 3,
};

export function requirementKey(requirement: Requirement): string {
  return [
    requirement.domain,
    requirement.category,
    requirement.provider ?? "",
    requirement.project ?? "",
  ].join("/");
}

function matches(entry: AdapterEntry, requirement: Requirement): boolean {
  return (
    entry.domain === requirement.domain &&
    entry.category === requirement.category &&
    (!requirement.provider || entry.provider === requirement.provider) &&
    (!requirement.project || entry.project === requirement.project)
  );
}

function breakerOf(candidate: Candidate): BreakerState {
  return candidate.health.breaker?.state ?? "closed";
}

function isExcluded(candidate: Candidate): boolean {
  const breaker = breakerOf(candidate);
  return (
    candidate.maintenance ||
    breaker === "open" ||
    breaker === "isolated" ||
    candidate.health.flapping ||
    candidate.health.status === "unhealthy"
  );
}

function exclusion(candidate: Candidate): string | null {
  const breaker = breakerOf(candidate);
  if (candidate.maintenance) return "in a maintenance window";
  if (breaker === "open" || breaker === "isolated") return `circuit breaker ${breaker}`;
  if (candidate.health.flapping) return "flapping";
  if (candidate.health.status === "unhealthy") return `unhealthy: ${candidate.health.reason}`;
  return null;
}

function ranked(candidate: Candidate): RankedCandidate {
  return {
    adapterId: candidate.entry.adapterId,
    provider: candidate.entry.provider,
    status: candidate.health.status,
    breaker: breakerOf(candidate),
    flapping: candidate.health.flapping,
    maintenance: candidate.maintenance,
    priority: candidate.priority,
    latencyMs: candidate.health.latencyMs,
    excludedBecause: exclusion(candidate),
  };
}

/**
 * Orders candidates of the same usability (callers never mix usable and
 * excluded): healthy > degraded > unknown > unhealthy; breaker closed before
 * half-open; not flapping, not in maintenance; configured priority; lower
 * recent latency (unknown latency last); and the id by code point, so equal
 * candidates always rank the same way.
 */
function compare(a: Candidate, b: Candidate): number {
  return (
    STATUS_RANK[a.health.status] - STATUS_RANK[b.health.status] ||
    BREAKER_RANK[breakerOf(a)] - BREAKER_RANK[breakerOf(b)] ||
    Number(a.health.flapping) - Number(b.health.flapping) ||
    Number(a.maintenance) - Number(b.maintenance) ||
    a.priority - b.priority ||
    (a.health.latencyMs ?? Number.POSITIVE_INFINITY) -
      (b.health.latencyMs ?? Number.POSITIVE_INFINITY) ||
    (a.entry.adapterId < b.entry.adapterId ? -1 : a.entry.adapterId > b.entry.adapterId ? 1 : 0)
  );
}

/**
 * Picks the adapter a workflow should use for `requirement`, with the ordered
 * fallbacks and the reason. With `panic`, when nothing is usable the least-bad
 * candidate is returned, marked as such, rather than nothing. Only the listed
 * candidates (at most `limit` of each kind) are described in full: a category
 * of thousands costs a comparison per adapter, not an object per adapter.
 */
export function resolve(
  candidates: readonly Candidate[],
  requirement: Requirement,
  options: { panic: boolean; limit?: number } = { panic: false },
): Resolution {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const { usableBest, excludedBest, usableCount, excludedCount } = partition(
    candidates,
    requirement,
    limit + 1,
  );
  const wanted = describe(requirement);
  const excluded = excludedBest.slice(0, limit).map(ranked);
  const totals = {
    fallbacksTotal: Math.max(0, usableCount - 1),
    excludedTotal: excludedCount,
  };
  if (usableCount === 0 && excludedCount === 0) {
    return {
      requirement,
      choice: null,
      fallbacks: [],
      excluded,
      ...totals,
      reason: `no adapter matches ${wanted}`,
      panic: false,
    };
  }
  const [first, ...rest] = usableBest.map(ranked);
  if (first) {
    const why =
      first.status === "healthy" && first.breaker === "closed"
        ? "healthy"
        : `${first.status}, breaker ${first.breaker}`;
    const count = totals.fallbacksTotal;
    const others =
      count === 0 ? "no usable fallback" : `${count} usable fallback${count > 1 ? "s" : ""}`;
    return {
      requirement,
      choice: first,
      fallbacks: rest,
      excluded,
      ...totals,
      reason: `${first.adapterId} is the best match for ${wanted} (${why}); ${others}`,
      panic: false,
    };
  }
  const listed = excluded.map(
    (candidate) => `${candidate.adapterId}: ${candidate.excludedBecause}`,
  );
  const unlisted = excludedCount - excluded.length;
  const causes = `${listed.join("; ")}${unlisted > 0 ? `; and ${unlisted} more` : ""}`;
  if (options.panic) {
    const [leastBad, ...others] = excludedBest.map(ranked);
    return {
      requirement,
      choice: leastBad ?? null,
      fallbacks: others,
      excluded,
      fallbacksTotal: Math.max(0, excludedCount - 1),
      excludedTotal: excludedCount,
      reason: `PANIC: no usable adapter for ${wanted}; returning the least-bad candidate (${causes})`,
      panic: true,
    };
  }
  return {
    requirement,
    choice: null,
    fallbacks: [],
    excluded,
    ...totals,
    reason: `no usable adapter for ${wanted} (${causes})`,
    panic: false,
  };
}

/** Top lists this short are kept while scanning, without collecting every candidate first. */
const SCAN_TOP_MAX = 64;

/**
 * The matching candidates split into usable and excluded: how many of each, and
 * the `k` best of each in rank order. For a short `k` (an API answer lists ten)
 * the top lists are kept during the one scan, so a category of thousands costs a
 * comparison per adapter and no array of them.
 */
function partition(
  candidates: readonly Candidate[],
  requirement: Requirement,
  k: number,
): {
  usableBest: Candidate[];
  excludedBest: Candidate[];
  usableCount: number;
  excludedCount: number;
} {
  if (k > SCAN_TOP_MAX) {
    const usable: Candidate[] = [];
    const excludedAll: Candidate[] = [];
    for (const candidate of candidates) {
      if (!matches(candidate.entry, requirement)) continue;
      (isExcluded(candidate) ? excludedAll : usable).push(candidate);
    }
    return {
      usableBest: best(usable, k),
      excludedBest: best(excludedAll, k),
      usableCount: usable.length,
      excludedCount: excludedAll.length,
    };
  }
  const usableBest: Candidate[] = [];
  const excludedBest: Candidate[] = [];
  let usableCount = 0;
  let excludedCount = 0;
  for (const candidate of candidates) {
    if (!matches(candidate.entry, requirement)) continue;
    if (isExcluded(candidate)) {
      excludedCount++;
      keepIfBest(excludedBest, candidate, k);
    } else {
      usableCount++;
      keepIfBest(usableBest, candidate, k);
    }
  }
  return { usableBest, excludedBest, usableCount, excludedCount };
}

/** Inserts `item` into the sorted `top` (at most `k` long) if it ranks among the `k` best. */
function keepIfBest(top: Candidate[], item: Candidate, k: number): void {
  if (k <= 0) return;
  if (top.length === k && compare(item, top[k - 1] as Candidate) >= 0) return;
  let low = 0;
  let high = top.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (compare(item, top[middle] as Candidate) < 0) high = middle;
    else low = middle + 1;
  }
  top.splice(low, 0, item);
  if (top.length > k) top.pop();
}

/**
 * The `k` best items in rank order. For a small `k` over many candidates this
 * keeps a short sorted buffer instead of sorting everything: a category of
 * thousands of adapters costs one comparison per adapter, not a full sort.
 */
function best(items: Candidate[], k: number): Candidate[] {
  if (k >= items.length) return items.sort(compare);
  if (k <= 0) return [];
  const top: Candidate[] = [];
  for (const item of items) keepIfBest(top, item, k);
  return top;
}

function describe(requirement: Requirement): string {
  const parts = [requirement.domain, requirement.category, requirement.provider || "*"];
  return `${parts.join("/")}${requirement.project ? ` in project ${requirement.project}` : ""}`;
}
