import type { JournalEvent } from "../../domain/events.js";
import type { HealthView } from "../../engine/health-view.js";
import type { MaintenanceService } from "../../maintenance/maintenance-service.js";
import type { Readiness } from "../query-service.js";
import type { ReplicaBatch, ReplicaChange, ReplicaSnapshot } from "./replica-feed.js";

/**
 * The front's copy of the committed view: a HealthView and a MaintenanceService
 * of its own, given the same calls the main thread's took, in the same order.
 */
export class Replica {
  private seq: number;
  private current: Readiness;
  private readonly waiters = new Map<number, (() => void)[]>();

  constructor(
    private readonly view: HealthView,
    private readonly maintenance: MaintenanceService,
    snapshot: ReplicaSnapshot,
    private readonly events: {
      /** A commit's events, once the changes before them are applied. */
      published(events: readonly JournalEvent[]): void;
      /** Retention deleted the journal's events up to `seq`. */
      prunedTo(seq: number): void;
    } = { published: () => undefined, prunedTo: () => undefined },
  ) {
    view.setStaleRule(snapshot.staleRule);
    for (const entry of snapshot.entries) view.putEntry(entry);
    for (const state of snapshot.states) view.putState(state);
    view.setRegistry(snapshot.registry);
    maintenance.applyCommitted(
      snapshot.declarations.map((declared) => ({ adapterId: declared.adapterId, declared })),
    );
    for (const [index, at] of snapshot.firings) maintenance.markFired(index, at);
    this.seq = snapshot.seq;
    this.current = snapshot.readiness;
  }

  /** The newest batch applied. */
  get appliedSeq(): number {
    return this.seq;
  }

  readiness(): Readiness {
    return this.current;
  }

  apply(batch: ReplicaBatch): void {
    for (const change of batch.changes) this.applyOne(change);
    this.seq = batch.seq;
    for (const [seq, resolvers] of this.waiters) {
      if (seq > this.seq) continue;
      this.waiters.delete(seq);
      for (const resolve of resolvers) resolve();
    }
  }

  /** Resolves once batch `seq` has been applied. */
  applied(seq: number): Promise<void> {
    if (seq <= this.seq) return Promise.resolve();
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
