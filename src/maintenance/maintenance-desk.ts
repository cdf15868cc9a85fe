import type { NewEvent } from "../domain/events.js";
import {
  type ManualMaintenance,
  maintenanceEndedEvent,
  maintenanceStartedEvent,
} from "../domain/maintenance.js";
import type { MaintenanceChange } from "../storage/store.js";

/** What the desk needs: a committer of one change with its event, and the current declarations. */
export interface MaintenanceDeskParts {
  commit(change: MaintenanceChange, event: NewEvent): void;
  isDeclared(adapterId: string): boolean;
  now: () => number;
}

/**
 * Maintenance declared and lifted through the API. Each is committed (with its
 * event) before anything in memory changes; when the database refuses it the
 * caller gets the error and nothing is declared.
 */
export class MaintenanceDesk {
  constructor(private readonly parts: MaintenanceDeskParts) {}

  /** Declares maintenance for one adapter until `untilMs` (null: until lifted). */
  declare(adapterId: string, untilMs: number | null, reason: string): void {
    const declared: ManualMaintenance = { adapterId, untilMs, reason };
    this.parts.commit({ adapterId, declared }, maintenanceStartedEvent(declared, this.parts.now()));
  }

  /** Lifts declared maintenance; returns false when there was none. */
  lift(adapterId: string): boolean {
    if (!this.parts.isDeclared(adapterId)) return false;
    this.parts.commit(
      { adapterId, declared: null },
      maintenanceEndedEvent(adapterId, this.parts.now()),
    );
    return true;
  }
}
