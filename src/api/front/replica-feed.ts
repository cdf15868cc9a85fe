import type { AdapterEntry } from "../../domain/adapter.js";
import type { JournalEvent } from "../../domain/events.js";
import type { HealthState } from "../../domain/health.js";
import type { MaintenanceWindow } from "../../domain/maintenance.js";
import type { StaleRule } from "../../domain/status-view.js";
import type { HealthView, ViewChanges } from "../../engine/health-view.js";
import type { FinishedCheck } from "../../engine/recent-checks.js";
import type {
  MaintenanceChanges,
  MaintenanceService,
} from "../../maintenance/maintenance-service.js";
import type { MaintenanceChange, RegistryState } from "../../storage/store.js";
import type { Readiness } from "../query-service.js";

/**
 * One change, as the replica applies it: a tag and the arguments of the call
 * the main thread's view or maintenance service took. Plain values, cloned by
 * postMessage; no view is ever serialised whole.
 */
export type ReplicaChange =
  | ["entry", AdapterEntry]
  | ["remove", string]
  | ["state", HealthState]
  | ["check", string, FinishedCheck]
  | ["registry", RegistryState]
  | ["staleRule", StaleRule]
  | ["maintenance", readonly MaintenanceChange[]]
  | ["fired", number, number]
  | ["windows", readonly MaintenanceWindow[]]
  | ["readiness", Readiness]
  /** A commit's journal events, after that commit's changes: the front's event streams carry them. */
  | ["events", readonly JournalEvent[]]
  /** Retention deleted the journal's events up to this seq. */
  | ["journalFloor", number];

/** The changes of one tick, numbered: the replica applies batches in order. */
export interface ReplicaBatch {
  type: "changes";
  seq: number;
  changes: ReplicaChange[];
}

/**
 * What a replica starts from: the view and maintenance as they are when the front
 * starts. It travels as `snapshotMessages`: the entries and states in parts, then
 * the rest, so neither thread is held for one clone of the whole view.
 */
export interface ReplicaSnapshot {
  seq: number;
  entries: AdapterEntry[];
  states: HealthState[];
  registry: RegistryState;
  staleRule: StaleRule;
  declarations: ReturnType<MaintenanceService["declarations"]>;
  firings: [number, number][];
  readiness: Readiness;
  /** The journal's newest seq: the front's event streams serve cursors from here on. */
  eventSeq: number;
}

/** Entries and states per snapshot message (about 5 ms of cloning each on the main thread). */
const SNAPSHOT_PART = 5_000;

export interface SnapshotPart {
  type: "snapshotPart";
  entries: AdapterEntry[];
  states: HealthState[];
}

export type SnapshotEnd = { type: "snapshotEnd" } & Omit<ReplicaSnapshot, "entries" | "states">;

/** `snapshot` as the messages a replica loads from: parts of entries and states, then the rest. */
export function snapshotMessages(snapshot: ReplicaSnapshot): (SnapshotPart | SnapshotEnd)[] {
  const { entries, states, ...rest } = snapshot;
  const messages: (SnapshotPart | SnapshotEnd)[] = [];
  for (let start = 0; start < Math.max(entries.length, states.length); start += SNAPSHOT_PART) {
    messages.push({
      type: "snapshotPart",
      entries: entries.slice(start, start + SNAPSHOT_PART),
      states: states.slice(start, start + SNAPSHOT_PART),
    });
  }
  messages.push({ type: "snapshotEnd", ...rest });
  return messages;
}

/**
 * Records every change the main thread's view and maintenance service apply
 * (they call it after applying) and posts them as one batch per tick. Recording
 * a change is pushing a reference; the cost is the batch's clone in postMessage.
 */
export class ReplicaFeed implements ViewChanges, MaintenanceChanges {
  private pending: ReplicaChange[] = [];
  private seq = 0;
  private scheduled = false;
  private lastReadiness = "";
  private closed = false;

  constructor(
    private readonly post: (batch: ReplicaBatch) => void,
    private readonly readiness: () => Readiness,
  ) {}

  /** The replica's starting point; changes are recorded from this call on. */
  attach(
    view: HealthView,
    maintenance: MaintenanceService,
    staleRule: StaleRule,
    eventSeq: number,
  ): ReplicaSnapshot {
    view.observe(this);
    maintenance.observe(this);
    const readiness = this.readiness();
    this.lastReadiness = JSON.stringify(readiness);
    return {
      seq: this.seq,
      entries: view.allEntries(),
      states: view.allStates(),
      registry: view.registryState(),
      staleRule,
      declarations: maintenance.declarations(),
      firings: maintenance.firings(),
      readiness,
      eventSeq,
    };
  }

  /**
   * The sequence of the newest batch once what is recorded now has been posted:
   * an answer carrying it is shown by the front only once the replica applied it.
   */
  get recordedSeq(): number {
    return this.pending.length > 0 ? this.seq + 1 : this.seq;
  }

  /** Posts what is recorded now, without waiting for the end of the tick. */
  flush(): void {
    this.scheduled = false;
    if (this.closed || this.lastReadiness === "") return;
    this.noteReadiness();
    if (this.pending.length === 0) return;
    const changes = this.pending;
    this.pending = [];
    this.seq++;
    this.post({ type: "changes", seq: this.seq, changes });
  }

  /** Records readiness if it changed since it was last recorded (polled; it has no event). */
  noteReadiness(): void {
    if (this.closed || this.lastReadiness === "") return;
    const readiness = this.readiness();
    const text = JSON.stringify(readiness);
    if (text === this.lastReadiness) return;
    this.lastReadiness = text;
    this.record(["readiness", readiness]);
  }

  close(): void {
    this.closed = true;
    this.pending = [];
  }

  putEntry(entry: AdapterEntry): void {
    this.record(["entry", entry]);
  }

  removeEntry(adapterId: string): void {
    this.record(["remove", adapterId]);
  }

  putState(state: HealthState): void {
    this.record(["state", state]);
  }

  recordCheck(adapterId: string, check: FinishedCheck): void {
    this.record(["check", adapterId, check]);
  }

  setRegistry(state: RegistryState): void {
    this.record(["registry", state]);
  }

  setStaleRule(rule: StaleRule): void {
    this.record(["staleRule", rule]);
  }

  applyCommitted(changes: readonly MaintenanceChange[]): void {
    this.record(["maintenance", changes]);
  }

  markFired(windowIndex: number, atMs: number): void {
    this.record(["fired", windowIndex, atMs]);
  }

  replaceWindows(windows: readonly MaintenanceWindow[]): void {
    this.record(["windows", windows]);
  }

  /** A commit's events, published now: they travel behind that commit's changes. */
  recordEvents(events: readonly JournalEvent[]): void {
    this.record(["events", events]);
  }

  recordJournalFloor(seq: number): void {
    this.record(["journalFloor", seq]);
  }

  private record(change: ReplicaChange): void {
    if (this.closed || this.lastReadiness === "") return;
    this.pending.push(change);
    if (this.scheduled) return;
    this.scheduled = true;
    // At the end of this task: one commit's changes travel as one message.
    queueMicrotask(() => this.flush());
  }
}
