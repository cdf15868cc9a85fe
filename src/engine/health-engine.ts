import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";
import {
  type CheckReport,
  changesNothing,
  type DecisionContext,
  decideCheck,
  nextCheckDelayMs,
} from "../domain/decide.js";
import type { ForeignEvent, JournalEvent, NewEvent } from "../domain/events.js";
import { type HealthState, initialHealth } from "../domain/health.js";
import type { CountedCheck } from "../domain/history.js";
import { declaredMaintenanceOf } from "../domain/maintenance.js";
import type { HealthStore, MaintenanceChange, RegistryState } from "../storage/store.js";
import type { HealthView } from "./health-view.js";
import { type HistoryRecorder, StagedHistory } from "./history-recorder.js";
import { type FinishedCheck, RECENT_CHECKS } from "./recent-checks.js";

/** Failover tracking as the engine needs it: decided before commit, adopted after. */
export interface FailoverTracker {
  /**
   * Failover events for the adapters in `changed`, judged against `overlay` (the
   * decided but uncommitted states) and the choices in `baseline` (uncommitted
   * ones) or else the committed ones. Changes nothing.
   */
  failovers(
    overlay: ReadonlyMap<string, HealthState>,
    changed: ReadonlySet<string>,
    at: number,
    baseline: ReadonlyMap<string, string | null>,
    changedKinds: ReadonlySet<string>,
  ): { events: NewEvent[]; choices: Map<string, string | null> };
  /** Makes committed choices the baseline for the next failovers. */
  adoptChoices(choices: ReadonlyMap<string, string | null>): void;
}

/** Where committed events go, after the mirror has them. */
export interface EventPublisher {
  publish(events: readonly JournalEvent[]): void;
}

/** What the engine counts, from committed work only. */
export interface EngineMetrics {
  committed(step: { events: readonly JournalEvent[]; results: number }): void;
  commitFailed(): void;
  storeWritable(writable: boolean): void;
  pendingEvents(count: number): void;
}

/** Maintenance as held in memory: told of committed declarations and lifts only. */
export interface MaintenanceMirror {
  applyCommitted(changes: readonly MaintenanceChange[]): void;
}

export interface EngineOptions {
  /** Commit when this many results are waiting. */
  maxBatch: number;
  /** Commit at most this long after the first result of a batch arrived. */
  maxDelayMs: number;
  /** First wait before retrying a failed commit; doubles up to `maxRetryDelayMs`. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  maxBatch: 500,
  maxDelayMs: 20,
  retryDelayMs: 250,
  maxRetryDelayMs: 5_000,
};

export interface EngineParts {
  store: HealthStore;
  mirror: HealthView;
  failovers: FailoverTracker;
  publisher: EventPublisher;
  maintenance: MaintenanceMirror;
  metrics: EngineMetrics;
  logger: Logger;
  now: () => number;
  /** The adapter's settings and maintenance, for a decision. */
  contextOf: (entry: AdapterEntry) => DecisionContext;
  options?: EngineOptions;
  /** Keeps each adapter's health history, written with the states; none without it. */
  history?: HistoryRecorder;
  /**
   * When a write to the store last succeeded before the engine took over (the
   * daemon's start-up write), ms; readiness asks for a write that went through.
   */
  lastWriteAt?: number;
  /**
   * This daemon's id as a cluster member (docs/scale-out.md): stamped as `owner` on
   * every verdict its own checks give and as `origin` on every event it journals.
   * Absent when the daemon runs alone.
   */
  member?: string;
  /** Told, after each commit, of the verdicts this member's checks gave in it (the cluster shares them). */
  ownVerdictsCommitted?: (states: readonly HealthState[]) => void;
  /**
   * Whether this member owns the adapter now: a check that finishes after its
   * adapter went to another member is dropped, so two members never both commit
   * verdicts for one adapter once a handover has settled.
   */
  owns?: (adapterId: string) => boolean;
}

/** The store refused a commit: nothing of it was written, nothing in memory changed. */
export class StoreUnavailableError extends Error {
  readonly code = "STORE_UNAVAILABLE";
  constructor(cause: string) {
    super(`the database refused the write: ${cause}`);
    this.name = "StoreUnavailableError";
  }
}

/** A change to the catalog, as catalog sync found it. */
export interface CatalogStep {
  added: readonly AdapterEntry[];
  /** Entries described anew, as they are now. */
  updated: readonly AdapterEntry[];
  /** Entries whose only change is a live reading (last_heartbeat, registry_status), as they are now. */
  refreshed?: readonly AdapterEntry[];
  removed: readonly string[];
  /** The registry link after the sync that found the change. */
  registry?: RegistryState;
  events: readonly NewEvent[];
  at: number;
}

/** What a commit changed in the catalog, for those that follow it (the scheduler). */
export interface CatalogChange {
  /** Entries added, described anew or with new readings, as they are now. */
  readonly upserted: readonly AdapterEntry[];
  /** Ids of the adapters that left the catalog. */
  readonly removed: readonly string[];
}

/** The engine's link to its store, for readiness and `/healthz`. */
export interface StoreStatus {
  writable: boolean;
  /** Since when commits have been failing (ms), or null. */
  failingSince: number | null;
  lastError: string | null;
  /**
   * When a write to the store last succeeded (ms): the start-up write, then each
   * commit; null before any did. "No failure seen" alone is not proof of a writable store.
   */
  lastWriteAt: number | null;
  /** Decided results and events waiting for the store. */
  pendingStates: number;
  pendingEvents: number;
}

/** Work decided but not yet committed: coalesced per adapter, events in order. */
class PendingWork {
  readonly states = new Map<string, HealthState>();
  /** For each adapter changed since failovers were last judged: its state before. */
  readonly unjudged = new Map<string, HealthState | undefined>();
  /** Adapters whose usability changed outside health (maintenance): judge failovers. */
  readonly touched = new Set<string>();
  /** Kinds ("domain/category") that lost adapters from the catalog: judge failovers. */
  readonly touchedKinds = new Set<string>();
  events: NewEvent[] = [];
  readonly choices = new Map<string, string | null>();
  readonly upserted = new Map<string, AdapterEntry>();
  /** Entries in the catalog with new live readings only (not in `upserted`). */
  readonly refreshed = new Map<string, AdapterEntry>();
  readonly removed = new Set<string>();
  registry: RegistryState | undefined;
  readonly maintenance = new Map<string, MaintenanceChange>();
  /** Finished checks for the mirror's "recent checks", oldest first, the newest few per adapter. */
  readonly checks = new Map<string, FinishedCheck[]>();
  /** History observations and the bucket rows they write. */
  readonly history = new StagedHistory();
  results = 0;
  /** Verdicts other cluster members gave, adopted since the last commit. */
  adopted = 0;
  /** Events other cluster members committed, mirrored from the fleet's stream, in stream order. */
  foreignEvents: ForeignEvent[] = [];
  /** Stream positions to store with them: cursor name → position. */
  readonly cursors = new Map<string, number>();

  get empty(): boolean {
    return (
      this.states.size === 0 &&
      this.events.length === 0 &&
      this.upserted.size === 0 &&
      this.refreshed.size === 0 &&
      this.removed.size === 0 &&
      this.registry === undefined &&
      this.maintenance.size === 0 &&
      this.touched.size === 0 &&
      this.touchedKinds.size === 0 &&
      this.checks.size === 0 &&
      this.history.empty &&
      this.foreignEvents.length === 0 &&
      this.cursors.size === 0
    );
  }
}

/**
 * The one owner of decide → commit → mirror → publish. Checks hand it reports;
 * catalog sync, maintenance and the registry link hand it their changes. It
 * decides each report at once (so the scheduler knows when the next check is due)
 * into pending work, and commits pending work in batches, one transaction each:
 * states, breaker snapshots, catalog, maintenance, registry state and every event.
 * Only after a commit does the mirror change, then subscribers hear of it, then
 * metrics count it. When a commit fails nothing in memory changes: the work stays
 * pending (one state per adapter, every event kept, in order) and is retried with
 * backoff, while queries answer from the last committed state.
 */
export class HealthEngine {
  private pending = new PendingWork();
  private timer: NodeJS.Timeout | undefined;
  private failure: { since: number; error: string; retryDelayMs: number } | undefined;
  private readonly options: EngineOptions;
  private readonly catalogListeners = new Set<(change: CatalogChange) => void>();
  /** Set by stop(): what arrives after the last commit is abandoned, not staged. */
  private stopped = false;
  private lastWriteAt: number | null;

  constructor(private readonly parts: EngineParts) {
    this.options = parts.options ?? DEFAULT_ENGINE_OPTIONS;
    this.lastWriteAt = parts.lastWriteAt ?? null;
  }

  /**
   * Calls `listener` with what changed in the catalog after each commit that
   * changed it (the scheduler follows it); returns an unsubscribe.
   */
  onCatalogCommitted(listener: (change: CatalogChange) => void): () => void {
    this.catalogListeners.add(listener);
    return () => this.catalogListeners.delete(listener);
  }

  /** The newest decided state: pending, else committed. */
  latestState(adapterId: string): HealthState | undefined {
    return this.pending.states.get(adapterId) ?? this.parts.mirror.state(adapterId);
  }

  /** The catalog entry as last decided (undefined once removal is decided). */
  latestEntry(adapterId: string): AdapterEntry | undefined {
    if (this.pending.removed.has(adapterId)) return undefined;
    return (
      this.pending.upserted.get(adapterId) ??
      this.pending.refreshed.get(adapterId) ??
      this.parts.mirror.entry(adapterId)
    );
  }

  /** The registry link's state as last decided: pending, else committed. */
  latestRegistry(): RegistryState {
    return this.pending.registry ?? this.parts.mirror.registryState();
  }

  /** Whether the last commit went through (false while the store refuses writes). */
  status(): StoreStatus {
    return {
      writable: this.failure === undefined,
      failingSince: this.failure?.since ?? null,
      lastError: this.failure?.error ?? null,
      lastWriteAt: this.lastWriteAt,
      pendingStates: this.pending.states.size,
      pendingEvents: this.pending.events.length,
    };
  }

  /**
   * Decides one check report into pending work and returns the adapter's new
   * state with how long until its next check (undefined when the adapter left
   * the catalog while its check ran).
   */
  recordCheck(report: CheckReport): { state: HealthState; nextCheckInMs: number } | undefined {
    // A probe that outlived the stop's grace: its result is abandoned, never half-recorded.
    if (this.stopped) return undefined;
    // Its adapter went to another member while it ran: that member answers for it now.
    if (this.parts.owns && !this.parts.owns(report.adapterId)) return undefined;
    const entry = this.latestEntry(report.adapterId);
    const current = this.latestState(report.adapterId);
    if (!entry || !current) return undefined;
    const context = this.parts.contextOf(entry);
    if (changesNothing(current, report)) {
      // Nothing to commit (a check skipped by an open breaker): only the next check is due anew.
      const nextCheckInMs = nextCheckDelayMs(current, context, report);
      const member = this.parts.member;
      if (member !== undefined && current.owner !== member) {
        // Taken over with its breaker open: this member answers for the verdict from now on.
        const owned = { ...current, owner: member };
        this.stage(report.adapterId, current, owned, []);
        this.scheduleCommit();
        return { state: owned, nextCheckInMs };
      }
      return { state: current, nextCheckInMs };
    }
    const pushedOutcome =
      report.pushed && report.outcome
        ? // A push carries no latency: keep the last measured one, so it cannot flip degraded.
          { ...report.outcome, latencyMs: current.latencyMs ?? 0 }
        : report.outcome;
    const decided = decideCheck(current, { ...report, outcome: pushedOutcome }, context);
    const member = this.parts.member;
    // The state it was decided from may be another member's verdict (before a handover).
    const decision =
      member === undefined ? decided : { ...decided, state: { ...decided.state, owner: member } };
    this.stage(report.adapterId, current, decision.state, decision.events);
    if (pushedOutcome) {
      this.pending.results++;
      let checks = this.pending.checks.get(report.adapterId);
      if (!checks) {
        checks = [];
        this.pending.checks.set(report.adapterId, checks);
      }
      checks.push({
        atMs: pushedOutcome.at,
        ok: pushedOutcome.ok,
        latencyMs: pushedOutcome.latencyMs,
        detail: pushedOutcome.detail,
        // "watch" for a pushed status, so a recent check says where it came from.
        source: report.pushed ? "watch" : pushedOutcome.source,
      });
      // While commits fail, only what the mirror would keep is kept.
      if (checks.length > RECENT_CHECKS) checks.shift();
    }
    this.observeHistory(
      report.adapterId,
      decision.state,
      context.maintenance,
      pushedOutcome?.at ?? this.parts.now(),
      pushedOutcome
        ? { ok: pushedOutcome.ok, latencyMs: report.pushed ? null : pushedOutcome.latencyMs }
        : undefined,
    );
    this.scheduleCommit();
    return { state: decision.state, nextCheckInMs: decision.state.checkIntervalMs ?? 0 };
  }

  /**
   * Adopts verdicts other cluster members gave (docs/scale-out.md): each replaces
   * the adapter's state, unless it is older than the state held from the same
   * member, and is committed like a check's (failovers judged, history observed,
   * as this daemon received it). Adapters not in the catalog are skipped. The
   * caller has decided the sender owns them. Returns how many were adopted.
   */
  adoptVerdicts(states: readonly HealthState[]): number {
    if (this.stopped) return 0;
    const at = this.parts.now();
    let adopted = 0;
    for (const state of states) {
      const entry = this.latestEntry(state.adapterId);
      const current = this.latestState(state.adapterId);
      if (!entry || !current || olderFromSameMember(state, current)) continue;
      this.stage(state.adapterId, current, state, []);
      const checked = state.lastChecked !== null && state.lastChecked !== current.lastChecked;
      this.observeHistory(
        state.adapterId,
        state,
        this.parts.contextOf(entry).maintenance,
        at,
        checked ? { ok: state.consecutiveFailures === 0, latencyMs: state.latencyMs } : undefined,
      );
      adopted++;
    }
    if (adopted > 0) {
      this.pending.adopted += adopted;
      this.scheduleCommit();
    }
    return adopted;
  }

  /**
   * Makes this cluster member answer for the verdicts of adapters it has just come
   * to own (a new assignment, or its start), before any check of its own: each is
   * committed as it stands with this member as owner, so the other members learn
   * the new owner at once, also of an adapter whose open breaker holds its checks
   * back. Verdicts never checked are left alone. Returns how many it staged.
   */
  vouchFor(adapterIds: Iterable<string>): number {
    const member = this.parts.member;
    if (member === undefined || this.stopped) return 0;
    let staged = 0;
    for (const adapterId of adapterIds) {
      const current = this.latestState(adapterId);
      if (!current || current.lastChecked === null || !this.latestEntry(adapterId)) continue;
      this.stage(adapterId, current, { ...current, owner: member }, []);
      staged++;
    }
    if (staged > 0) {
      this.pending.adopted += staged;
      this.scheduleCommit();
    }
    return staged;
  }

  /**
   * Mirrors events other cluster members committed into this journal (keeping their
   * ids), with the stream position they end at, both in the next commit: a restart
   * resumes after the stored position, so each is journalled once. `events` may be
   * empty when only the position moved (an event of this member's own, passed over).
   * Kept pending like a check result while the store refuses commits.
   */
  mirrorEvents(events: readonly ForeignEvent[], cursor: { name: string; position: number }): void {
    if (this.stopped) return;
    for (const event of events) {
      this.pending.foreignEvents.push(event);
      // Maintenance declared through another member's API holds here too, committed with its event.
      const maintenance = declaredMaintenanceOf(event);
      if (maintenance && this.latestEntry(maintenance.adapterId)) {
        this.pending.maintenance.set(maintenance.adapterId, maintenance);
      }
    }
    this.pending.cursors.set(cursor.name, cursor.position);
    this.scheduleCommit();
  }

  /**
   * Records the registry link's state (and the events of a flip). Kept pending
   * like a check result when the store refuses it: only the latest state stays.
   */
  recordRegistry(state: RegistryState, events: readonly NewEvent[]): void {
    if (this.stopped) return;
    this.pending.registry = state;
    this.pending.events.push(...events);
    this.scheduleCommit();
  }

  /** Asks for failovers to be judged for adapters whose usability changed outside health. */
  touch(adapterIds: Iterable<string>): void {
    if (this.stopped) return;
    const at = this.parts.now();
    for (const adapterId of adapterIds) {
      this.pending.touched.add(adapterId);
      // Maintenance begun or ended: the time from now on counts differently.
      this.observeNow(adapterId, at);
    }
    this.scheduleCommit();
  }

  /**
   * Carries the history of adapters last observed before `before` up to now (ones
   * not checked for a while: watched, or with their breaker open), so their buckets
   * do not lag far behind; at most `limit` of them, so one turn stages a commit of
   * bounded size. Returns how many it staged.
   */
  advanceHistory(before: number, limit = Number.POSITIVE_INFINITY): number {
    const history = this.parts.history;
    if (this.stopped || !history) return 0;
    const at = this.parts.now();
    let staged = 0;
    for (const adapterId of history.observedBefore(before, limit)) {
      if (this.pending.history.histories.has(adapterId)) continue;
      const last = history.lastObservation(adapterId);
      if (!last || !this.latestEntry(adapterId)) continue;
      history.stage(this.pending.history, adapterId, { ...last, at });
      staged++;
    }
    if (staged > 0) this.scheduleCommit();
    return staged;
  }

  /**
   * Commits a catalog change now, with any pending work before it. Throws
   * StoreUnavailableError when the store refuses it; then nothing of the change
   * is kept, and the next sync finds the same difference again.
   */
  commitCatalog(step: CatalogStep): void {
    this.commitNow(() => {
      const returning = this.retainedStates(step.added.map((entry) => entry.adapterId));
      for (const entry of [...step.added, ...step.updated]) {
        this.pending.upserted.set(entry.adapterId, entry);
        this.pending.refreshed.delete(entry.adapterId);
        this.pending.removed.delete(entry.adapterId);
      }
      for (const entry of step.refreshed ?? []) {
        // Only the readings changed: written as readings, unless the whole row is to be written anyway.
        if (this.pending.upserted.has(entry.adapterId)) {
          this.pending.upserted.set(entry.adapterId, entry);
        } else {
          this.pending.refreshed.set(entry.adapterId, entry);
        }
      }
      for (const entry of step.added) {
        const state =
          returning.get(entry.adapterId) ??
          initialHealth(entry.adapterId, entry.registryStatus, step.at);
        this.pending.states.set(entry.adapterId, state);
        this.observeHistory(
          entry.adapterId,
          state,
          this.parts.contextOf(entry).maintenance,
          step.at,
        );
      }
      for (const adapterId of step.removed) {
        // Its time up to the removal is history; none is counted after.
        this.observeNow(adapterId, step.at);
        this.pending.removed.add(adapterId);
        this.pending.upserted.delete(adapterId);
        this.pending.refreshed.delete(adapterId);
        this.pending.states.delete(adapterId);
        this.pending.unjudged.delete(adapterId);
      }
      if (step.registry) this.pending.registry = step.registry;
      this.pending.events.push(...step.events);
    });
  }

  /**
   * Commits declared maintenance (or its lift) now, with its event. Throws
   * StoreUnavailableError when the store refuses it; then nothing changed.
   */
  commitMaintenance(change: MaintenanceChange, event: NewEvent): void {
    this.commitNow(() => {
      this.pending.maintenance.set(change.adapterId, change);
      this.pending.events.push(event);
    });
  }

  /** Commits everything pending now. Returns whether it is all committed. */
  flush(): boolean {
    if (this.stopped) return this.pending.empty;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.empty) return true;
    const at = this.parts.now();
    this.judgeFailovers(at);
    const pending = this.pending;
    if (pending.empty && pending.choices.size === 0) {
      // Only failovers were to be judged, and none happened: nothing to write.
      return true;
    }
    let journalled: JournalEvent[];
    try {
      journalled = this.parts.store.commit(
        {
          upserted: [...pending.upserted.values()],
          readings: [...pending.refreshed.values()],
          removed: [...pending.removed],
          states: [...pending.states.values()],
          ...(pending.registry ? { registry: pending.registry } : {}),
          maintenance: [...pending.maintenance.values()],
          history: [...pending.history.rows.values()],
          events: this.stampedEvents(pending.events),
          foreignEvents: pending.foreignEvents,
          cursors: [...pending.cursors].map(([name, position]) => ({ name, position })),
        },
        at,
      );
    } catch (error) {
      this.commitFailed(error, at);
      return false;
    }
    this.lastWriteAt = at;
    this.pending = new PendingWork();
    this.applyCommitted(pending, journalled);
    return true;
  }

  /**
   * Commits what is pending (a last try) and takes nothing more: checks, pushes
   * and registry changes that arrive later are dropped, and catalog or
   * maintenance steps are refused, so nothing is left half-recorded.
   */
  stop(): boolean {
    if (this.stopped) return this.pending.empty;
    // The daemon saw every adapter up to now: that time is history, the time after is not.
    const history = this.parts.history;
    if (history) {
      const at = this.parts.now();
      for (const adapterId of history.observedAdapters()) this.observeNow(adapterId, at);
    }
    let committed = this.flush();
    // A commit can leave follow-up work (failovers of a removed adapter's kind): commit that too.
    for (let round = 0; committed && !this.pending.empty && round < 2; round++) {
      committed = this.flush();
    }
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return committed;
  }

  /** This member's own events as journalled: with their origin when the daemon is a cluster member. */
  private stampedEvents(events: readonly NewEvent[]): readonly NewEvent[] {
    const member = this.parts.member;
    if (member === undefined) return events;
    return events.map((event) =>
      event.origin === undefined ? { ...event, origin: member } : event,
    );
  }

  /** Stages a decided state, remembering for failovers what it was before. */
  private stage(
    adapterId: string,
    before: HealthState,
    next: HealthState,
    events: readonly NewEvent[],
  ): void {
    if (!this.pending.unjudged.has(adapterId)) this.pending.unjudged.set(adapterId, before);
    this.pending.states.set(adapterId, next);
    for (const event of events) this.pending.events.push(event);
  }

  /**
   * Judges failovers for the adapters whose usability changed since the last
   * judgement, against the pending states and choices; the events join the
   * pending work, so a failed commit neither loses nor repeats them.
   */
  private judgeFailovers(at: number): void {
    const changed = new Set(this.pending.touched);
    for (const [adapterId, before] of this.pending.unjudged) {
      const after = this.pending.states.get(adapterId);
      if (!before || !after || !sameUsability(before, after)) changed.add(adapterId);
    }
    const kinds = new Set(this.pending.touchedKinds);
    this.pending.unjudged.clear();
    this.pending.touched.clear();
    this.pending.touchedKinds.clear();
    if (changed.size === 0 && kinds.size === 0) return;
    const { events, choices } = this.parts.failovers.failovers(
      this.pending.states,
      changed,
      at,
      this.pending.choices,
      kinds,
    );
    for (const [key, choice] of choices) this.pending.choices.set(key, choice);
    this.pending.events.push(...events);
  }

  /** Mirror, then subscribers, then metrics and logs: in that order, from committed work only. */
  private applyCommitted(work: PendingWork, journalled: readonly JournalEvent[]): void {
    const { mirror } = this.parts;
    const catalogChanged =
      work.upserted.size > 0 || work.refreshed.size > 0 || work.removed.size > 0;
    const removedKinds = new Set<string>();
    for (const adapterId of work.removed) {
      const entry = mirror.entry(adapterId);
      if (entry) removedKinds.add(`${entry.domain}/${entry.category}`);
    }
    for (const entry of work.upserted.values()) mirror.putEntry(entry);
    for (const entry of work.refreshed.values()) mirror.putEntry(entry);
    for (const adapterId of work.removed) mirror.removeEntry(adapterId);
    for (const state of work.states.values()) mirror.putState(state);
    for (const [adapterId, checks] of work.checks) {
      for (const check of checks) mirror.recordCheck(adapterId, check);
    }
    const history = this.parts.history;
    if (history) {
      history.adopt(work.history);
      for (const adapterId of work.removed) history.forget(adapterId);
    }
    if (work.registry) mirror.setRegistry(work.registry);
    if (work.maintenance.size > 0) {
      this.parts.maintenance.applyCommitted([...work.maintenance.values()]);
      // Resolution sees maintenance once it is committed: failovers are judged in the next commit.
      this.touch(work.maintenance.keys());
    }
    this.parts.failovers.adoptChoices(work.choices);
    const { member, ownVerdictsCommitted } = this.parts;
    if (member !== undefined && ownVerdictsCommitted) {
      const own: HealthState[] = [];
      for (const state of work.states.values()) if (state.owner === member) own.push(state);
      if (own.length > 0) ownVerdictsCommitted(own);
    }
    if (journalled.length > 0) this.parts.publisher.publish(journalled);
    // Another member's events are counted and logged by that member, once for the fleet.
    const own =
      work.foreignEvents.length === 0
        ? journalled
        : journalled.filter((event) => event.origin === undefined || event.origin === member);
    this.parts.metrics.committed({ events: own, results: work.results });
    this.parts.metrics.pendingEvents(0);
    this.logCommitted(own);
    if (this.failure) {
      const failedForMs = this.parts.now() - this.failure.since;
      this.failure = undefined;
      this.parts.metrics.storeWritable(true);
      this.parts.logger.info(
        { failed_for_ms: failedForMs, states: work.states.size, events: journalled.length },
        "database writable again; pending results and events committed",
      );
    }
    if (work.removed.size > 0) {
      // A removed adapter may have been a requirement's choice: judge its kind in the next commit.
      for (const kind of removedKinds) this.pending.touchedKinds.add(kind);
      this.scheduleCommit();
    }
    if (catalogChanged) {
      const change: CatalogChange = {
        upserted: [...work.upserted.values(), ...work.refreshed.values()],
        removed: [...work.removed],
      };
      for (const listener of this.catalogListeners) listener(change);
    }
  }

  private logCommitted(events: readonly JournalEvent[]): void {
    const { logger } = this.parts;
    for (const event of events) {
      const data = event.data;
      switch (event.type) {
        case "adapter.health_changed":
          logger.info(
            { adapter_id: event.subject, from: data.from, to: data.to, reason: data.reason },
            "adapter health changed",
          );
          break;
        case "adapter.flapping":
        case "adapter.settled":
          logger.warn({ adapter_id: event.subject, event: event.type }, event.type.slice(8));
          break;
        case "failover":
          logger.warn(data, "failover");
          break;
        default:
          break;
      }
    }
  }

  private commitFailed(error: unknown, at: number): void {
    const message = error instanceof Error ? error.message : String(error);
    this.parts.metrics.commitFailed();
    this.parts.metrics.pendingEvents(this.pending.events.length);
    if (!this.failure) {
      this.failure = { since: at, error: message, retryDelayMs: this.options.retryDelayMs };
      this.parts.metrics.storeWritable(false);
      // One line per episode: the retries that follow are silent until it recovers.
      this.parts.logger.warn(
        { err: error, pending_states: this.pending.states.size },
        "could not commit to the database; keeping results pending and retrying",
      );
    } else {
      this.failure.error = message;
      this.failure.retryDelayMs = Math.min(
        this.failure.retryDelayMs * 2,
        this.options.maxRetryDelayMs,
      );
    }
    this.armRetry();
  }

  private armRetry(): void {
    if (!this.failure || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.failure.retryDelayMs);
    this.timer.unref();
  }

  private scheduleCommit(): void {
    // While the store refuses writes, the retry timer decides when to try again; new
    // work after a refused catalog or maintenance step (which left nothing pending)
    // arms it again.
    if (this.failure) {
      this.armRetry();
      return;
    }
    if (this.pending.results + this.pending.adopted >= this.options.maxBatch) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.maxDelayMs);
    }
  }

  /** Commits `change` with what is pending, or throws and keeps nothing of either new. */
  private commitNow(change: () => void): void {
    if (this.stopped) throw new StoreUnavailableError("the daemon is stopping");
    if (!this.flush()) {
      throw new StoreUnavailableError(this.failure?.error ?? "unknown error");
    }
    change();
    if (!this.flush()) {
      const error = this.failure?.error ?? "unknown error";
      // Pending was empty before `change`: dropping it all undoes exactly the change.
      this.pending = new PendingWork();
      throw new StoreUnavailableError(error);
    }
  }

  /** Stages a history observation of `state` at `at` (with its check), when history is kept. */
  private observeHistory(
    adapterId: string,
    state: HealthState,
    maintenance: boolean,
    at: number,
    check?: CountedCheck,
  ): void {
    const history = this.parts.history;
    if (!history) return;
    history.stage(
      this.pending.history,
      adapterId,
      history.observation(state, maintenance, at),
      check,
    );
  }

  /** Observes an adapter as it stands now (its latest state and maintenance). */
  private observeNow(adapterId: string, at: number): void {
    if (!this.parts.history) return;
    const entry = this.latestEntry(adapterId) ?? this.parts.mirror.entry(adapterId);
    const state = this.latestState(adapterId);
    if (!entry || !state) return;
    this.observeHistory(adapterId, state, this.parts.contextOf(entry).maintenance, at);
  }

  /** States kept in the store for adapters that were removed and now come back. */
  private retainedStates(adapterIds: readonly string[]): Map<string, HealthState> {
    if (adapterIds.length === 0) return new Map();
    return new Map(
      this.parts.store.loadRemovedHealth(adapterIds).map((state) => [state.adapterId, state]),
    );
  }
}

/** A verdict from the member whose newer verdict is held already (one that came late). */
function olderFromSameMember(incoming: HealthState, held: HealthState): boolean {
  return (
    incoming.owner !== undefined &&
    incoming.owner === held.owner &&
    incoming.lastChecked !== null &&
    held.lastChecked !== null &&
    incoming.lastChecked < held.lastChecked
  );
}

/** Whether two states rank an adapter the same for resolution purposes. */
function sameUsability(a: HealthState, b: HealthState): boolean {
  return (
    a.status === b.status &&
    a.flapping === b.flapping &&
    (a.breaker?.state ?? "closed") === (b.breaker?.state ?? "closed")
  );
}
