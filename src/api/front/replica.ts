import type { JournalEvent } from "../../domain/events.js";
import type { HealthView } from "../../engine/health-view.js";
import type { MaintenanceService } from "../../maintenance/maintenance-service.js";
import type { Readiness } from "../query-service.js";
import type { ReplicaBatch, ReplicaChange, SnapshotEnd, SnapshotPart } from "./replica-feed.js";

/** What the replica hands on about the journal. */
export interface ReplicaEvents {
  /** The journal's newest seq when the snapshot was taken: the replica's events follow it. */
  started(eventSeq: number): void;
  /** A commit's events, once the changes before them are applied. */
  published(events: readonly JournalEvent[]): void;
  /** Retention deleted the journal's events up to `seq`. */
  prunedTo(seq: number): void;
}

/**
 * The front's copy of the committed view: a HealthView and a MaintenanceService
 * of its own, given the same calls the main thread's took, in the same order.
 * It loads from the snapshot's messages; batches that arrive before the last of
 * them wait, and until then the replica is not `loaded` (the front passes every
 * request on meanwhile).
 */
export class Replica {
  private seq = 0;
  private current: Readiness = { ready: false, reason: "start-up has not finished" };
  private loadedNow = false;
  private early: ReplicaBatch[] = [];
  private readonly waiters = new Map<number, (() => void)[]>();

  constructor(
    private readonly view: HealthView,
    private readonly maintenance: MaintenanceService,
    private readonly events: ReplicaEvents,
  ) {}

  /** Whether the whole snapshot is in: the view can answer. */
  get loaded(): boolean {
    return this.loadedNow;
  }

  /** The newest batch applied. */
  get appliedSeq(): number {
    return this.seq;
  }

  readiness(): Readiness {
    return this.current;
  }

  /** One of the snapshot's messages (snapshotMessages), in order. */
  load(message: SnapshotPart | SnapshotEnd): void {
    if (message.type === "snapshotPart") {
      for (const entry of message.entries) this.view.putEntry(entry);
      for (const state of message.states) this.view.putState(state);
      return;
    }
    this.view.setStaleRule(message.staleRule);
    this.view.setRegistry(message.registry);
    this.maintenance.applyCommitted(
      message.declarations.map((declared) => ({ adapterId: declared.adapterId, declared })),
    );
    for (const [index, at] of message.firings) this.maintenance.markFired(index, at);
    this.seq = message.seq;
    this.current = message.readiness;
    this.events.started(message.eventSeq);
    this.loadedNow = true;
    for (const batch of this.early.splice(0)) this.apply(batch);
  }

  apply(batch: ReplicaBatch): void {
    if (!this.loadedNow) {
      this.early.push(batch);
      return;
    }
    for (const change of batch.changes) this.applyOne(change);
    this.seq = batch.seq;
    for (const [seq, resolvers] of this.waiters) {
      if (seq > this.seq) continue;
      this.waiters.delete(seq);
      for (const resolve of resolvers) resolve();
    }
  }

  /**
   * Resolves once batch `seq` has been applied; at once while the snapshot is
   * still loading (every answer is the main thread's then, so none can be older).
   */
  applied(seq: number): Promise<void> {
    if (seq <= this.seq || !this.loadedNow) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(seq);
      if (list) list.push(resolve);
      else this.waiters.set(seq, [resolve]);
    });
  }

  private applyOne(change: ReplicaChange): void {
    switch (change[0]) {
      case "entry":
        this.view.putEntry(change[1]);
        return;
      case "remove":
        this.view.removeEntry(change[1]);
        return;
      case "state":
        this.view.putState(change[1]);
        return;
      case "check":
        this.view.recordCheck(change[1], change[2]);
        return;
      case "registry":
        this.view.setRegistry(change[1]);
        return;
      case "staleRule":
        this.view.setStaleRule(change[1]);
        return;
      case "maintenance":
        this.maintenance.applyCommitted(change[1]);
        return;
      case "fired":
        this.maintenance.markFired(change[1], change[2]);
        return;
      case "windows":
        this.maintenance.replaceWindows(change[1]);
        return;
      case "readiness":
        this.current = change[1];
        return;
      case "events":
        this.events.published(change[1]);
        return;
      case "journalFloor":
        this.events.prunedTo(change[1]);
        return;
    }
  }
}
