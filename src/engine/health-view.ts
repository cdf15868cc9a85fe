import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import type { BreakerState, HealthState } from "../domain/health.js";
import type { ActiveMaintenance } from "../domain/maintenance.js";
import {
  type AdapterStatusView,
  isStale,
  type RegistryView,
  type StaleRule,
  toStatusView,
} from "../domain/status-view.js";
import type { LastKnownState } from "../registry/registry-gateway.js";
import type { RegistryState } from "../storage/store.js";
import { type FinishedCheck, type RecentCheck, RecentChecks } from "./recent-checks.js";

/**
 * Told of every change made to a view, in order, after the view applied it: a
 * replica elsewhere (the HTTP front's thread) applies the same calls to its own
 * view. What is handed over is the caller's own value, not a copy.
 */
export interface ViewChanges {
  putEntry(entry: AdapterEntry): void;
  removeEntry(adapterId: string): void;
  putState(state: HealthState): void;
  recordCheck(adapterId: string, check: FinishedCheck): void;
  setRegistry(state: RegistryState): void;
  setStaleRule(rule: StaleRule): void;
}

/** An adapter's catalog entry with its committed state, as resolution reads them. */
export interface KindMember {
  readonly entry: AdapterEntry;
  readonly health: HealthState | undefined;
}

interface MutableKindMember {
  entry: AdapterEntry;
  health: HealthState | undefined;
}

/**
 * The in-memory mirror of the last commit. Queries read it, never the network,
 * so they answer at once whatever the registry is doing. Only the engine writes
 * it, and only after the transaction committed.
 */
export class HealthView implements LastKnownState {
  /**
   * Monotonic time (see `monotonic`) of each adapter's last check: staleness is a
   * duration, so a wall clock stepped back or forward does not change it.
   */
  private readonly checkedAtMono = new Map<string, number>();
  private readonly recent = new RecentChecks();
  private readonly catalog = new Map<string, AdapterEntry>();
  /**
   * domain/category → adapter id → entry and state. Resolution walks one kind's
   * members on every query; keeping entry and state side by side saves two map
   * lookups per candidate.
   */
  private readonly byKind = new Map<string, Map<string, MutableKindMember>>();
  private readonly health = new Map<string, HealthState>();
  private registry: RegistryState;
  /** domain/category → how many times its entries or states changed. */
  private readonly kindChanges = new Map<string, number>();
  private observer: ViewChanges | undefined;

  constructor(
    endpoint: string,
    private staleRule: StaleRule,
    private readonly now: () => number,
    private readonly maintenanceOf: (adapterId: string) => ActiveMaintenance | undefined = () =>
      undefined,
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.registry = {
      endpoint,
      reachable: false,
      lastSync: null,
      lastAttempt: null,
      lastError: null,
    };
  }

  /** Tells `observer` of every change from now on (one observer; undefined stops it). */
  observe(observer: ViewChanges | undefined): void {
    this.observer = observer;
  }

  /** The committed states, in no order (a replica's starting point). */
  allStates(): HealthState[] {
    return [...this.health.values()];
  }

  /** Fills the view from what the store holds (at start-up). */
  restore(
    entries: readonly AdapterEntry[],
    states: readonly HealthState[],
    registry?: RegistryState,
  ): void {
    for (const entry of entries) this.putEntry(entry);
    for (const state of states) this.putState(state);
    if (registry) this.setRegistry({ ...registry, endpoint: this.registry.endpoint });
  }

  /**
   * Counts changes to the entries and states of one domain and category: an
   * answer computed from that kind's members stays right while this number
   * stays the same, whatever happens to other kinds.
   */
  kindGeneration(domain: string, category: string): number {
    return this.kindChanges.get(kindKey(domain, category)) ?? 0;
  }

  /** Whether a committed verdict is stale now (see `StaleRule`). */
  isStale(state: HealthState): boolean {
    return isStale(state, this.ageMs(state.adapterId), this.staleRule);
  }

  /** How long ago the adapter's last check finished, on the monotonic clock (infinite: never). */
  private ageMs(adapterId: string): number {
    const checkedAt = this.checkedAtMono.get(adapterId);
    return checkedAt === undefined ? Number.POSITIVE_INFINITY : this.monotonic() - checkedAt;
  }

  private statusView(entry: AdapterEntry, state: HealthState): AdapterStatusView {
    const ageMs = this.ageMs(entry.adapterId);
    return toStatusView(
      entry,
      state,
      isStale(state, ageMs, this.staleRule),
      ageMs,
      this.maintenanceOf(entry.adapterId),
    );
  }

  /** A reloaded staleness rule: verdicts are judged by it from the next query on. */
  setStaleRule(rule: StaleRule): void {
    this.staleRule = rule;
    this.observer?.setStaleRule(rule);
  }

  entry(adapterId: string): AdapterEntry | undefined {
    return this.catalog.get(adapterId);
  }

  state(adapterId: string): HealthState | undefined {
    return this.health.get(adapterId);
  }

  entries(): AdapterEntry[] {
    return this.allEntries();
  }

  syncedAt(): number | null {
    return this.registry.lastSync;
  }

  verdict(adapterId: string): { status: HealthStatus; lastChecked: number | null } | undefined {
    const state = this.health.get(adapterId);
    return state ? { status: state.status, lastChecked: state.lastChecked } : undefined;
  }

  allEntries(): AdapterEntry[] {
    return [...this.catalog.values()];
  }

  get size(): number {
    return this.catalog.size;
  }

  putEntry(entry: AdapterEntry): void {
    const previous = this.catalog.get(entry.adapterId);
    if (previous) {
      const previousKey = kindKey(previous.domain, previous.category);
      this.byKind.get(previousKey)?.delete(entry.adapterId);
      this.changed(previousKey);
    }
    this.catalog.set(entry.adapterId, entry);
    const key = kindKey(entry.domain, entry.category);
    this.changed(key);
    let members = this.byKind.get(key);
    if (!members) {
      members = new Map();
      this.byKind.set(key, members);
    }
    members.set(entry.adapterId, { entry, health: this.health.get(entry.adapterId) });
    this.observer?.putEntry(entry);
  }

  /**
   * The catalog entries of one domain and category with their committed states,
   * read in place: callers iterate, they do not keep or change what they get.
   */
  membersOfKind(domain: string, category: string): Iterable<KindMember> {
    return this.byKind.get(kindKey(domain, category))?.values() ?? [];
  }

  /** Remembers a committed check result (the newest few per adapter). */
  recordCheck(adapterId: string, check: FinishedCheck): void {
    this.recent.record(adapterId, check);
    this.observer?.recordCheck(adapterId, check);
  }

  /** The newest checks first; empty after a restart until checks run again. */
  recentChecks(adapterId: string): RecentCheck[] {
    return this.recent.newestFirst(adapterId);
  }

  removeEntry(adapterId: string): void {
    const entry = this.catalog.get(adapterId);
    if (entry) {
      const key = kindKey(entry.domain, entry.category);
      this.byKind.get(key)?.delete(adapterId);
      this.changed(key);
    }
    this.catalog.delete(adapterId);
    this.health.delete(adapterId);
    this.recent.forget(adapterId);
    this.checkedAtMono.delete(adapterId);
    this.observer?.removeEntry(adapterId);
  }

  putState(state: HealthState): void {
    const entry = this.catalog.get(state.adapterId);
    if (!entry) return;
    const previous = this.health.get(state.adapterId);
    this.health.set(state.adapterId, state);
    if (state.lastChecked !== null && state.lastChecked !== previous?.lastChecked) {
      // How long ago the check finished, by the wall clock, is all a stored time tells.
      const ago = wallClockAgeMs(state.lastChecked, this.now());
      this.checkedAtMono.set(state.adapterId, this.monotonic() - ago);
    }
    const key = kindKey(entry.domain, entry.category);
    this.changed(key);
    const member = this.byKind.get(key)?.get(state.adapterId);
    if (member) member.health = state;
    this.observer?.putState(state);
  }

  private changed(key: string): void {
    this.kindChanges.set(key, (this.kindChanges.get(key) ?? 0) + 1);
  }

  setRegistry(state: RegistryState): void {
    this.registry = state;
    this.observer?.setRegistry(state);
  }

  registryState(): RegistryState {
    return this.registry;
  }

  registryView(): RegistryView {
    return toRegistryView(this.registry);
  }

  list(): AdapterStatusView[] {
    const views: AdapterStatusView[] = [];
    for (const entry of this.catalog.values()) {
      const state = this.health.get(entry.adapterId);
      if (state) views.push(this.statusView(entry, state));
    }
    return views.sort(byAdapterId);
  }

  get(adapterId: string): AdapterStatusView | undefined {
    const entry = this.catalog.get(adapterId);
    const state = this.health.get(adapterId);
    if (!entry || !state) return undefined;
    return this.statusView(entry, state);
  }

  /** Adapters by status, leaving out those in maintenance (they must not raise alarms). */
  countByStatus(): Record<HealthStatus, number> {
    const counts: Record<HealthStatus, number> = {
      unknown: 0,
      healthy: 0,
      degraded: 0,
      unhealthy: 0,
    };
    for (const state of this.health.values()) {
      if (this.maintenanceOf(state.adapterId) === undefined) counts[state.status]++;
    }
    return counts;
  }

  /** Counts for the flapping, maintenance and breaker gauges. */
  countConditions(): {
    flapping: number;
    maintenance: number;
    breakers: Record<BreakerState, number>;
  } {
    const breakers: Record<BreakerState, number> = {
      closed: 0,
      open: 0,
      "half-open": 0,
      isolated: 0,
    };
    let flapping = 0;
    let maintenance = 0;
    for (const state of this.health.values()) {
      if (state.flapping) flapping++;
      if (this.maintenanceOf(state.adapterId) !== undefined) maintenance++;
      breakers[state.breaker?.state ?? "closed"]++;
    }
    return { flapping, maintenance, breakers };
  }
}

/**
 * How long before `now` a check that finished at `lastChecked` did, both by the
 * wall clock: a check in the future (a clock stepped back) counts as just now,
 * one never made as infinitely long ago. A reader of the database file judges
 * staleness by this age, as a view restored from it does.
 */
export function wallClockAgeMs(lastChecked: number | null, now: number): number {
  return lastChecked === null ? Number.POSITIVE_INFINITY : Math.max(0, now - lastChecked);
}

/** The order every listing of adapters is in, by id. */
export function compareAdapterIds(a: string, b: string): number {
  return a.localeCompare(b);
}

function byAdapterId(a: AdapterStatusView, b: AdapterStatusView): number {
  return compareAdapterIds(a.adapter_id, b.adapter_id);
}

function kindKey(domain: string, category: string): string {
  return `${domain}\u0000${category}`;
}

export function toRegistryView(state: RegistryState): RegistryView {
  return {
    endpoint: state.endpoint,
    reachable: state.reachable,
    last_sync: state.lastSync === null ? null : new Date(state.lastSync).toISOString(),
    last_error: state.lastError,
  };
}
