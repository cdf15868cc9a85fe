import { matchesGlob } from "./adapter-settings.js";
import type { NewEvent } from "./events.js";

/**
 * A maintenance window from config: fixed (`fromMs` to `untilMs`) or recurring
 * (each `cron` firing opens it for `durationMs`). Adapters whose id matches the
 * `adapters` glob are out of resolution, without alarms, while it is open.
 */
export interface MaintenanceWindow {
  adapters: string;
  fromMs: number | undefined;
  untilMs: number | undefined;
  cron: string | undefined;
  durationMs: number | undefined;
  reason: string;
}

/** Maintenance declared for one adapter through the API; `untilMs` null means until lifted. */
export interface ManualMaintenance {
  adapterId: string;
  untilMs: number | null;
  reason: string;
}

/** The event that records maintenance declared through the API (docs/events.md). */
export function maintenanceStartedEvent(declared: ManualMaintenance, at: number): NewEvent {
  return {
    type: "adapter.maintenance_started",
    subject: declared.adapterId,
    time: at,
    data: {
      adapter_id: declared.adapterId,
      until: declared.untilMs === null ? null : new Date(declared.untilMs).toISOString(),
      reason: declared.reason,
    },
  };
}

/** The event that records declared maintenance lifted. */
export function maintenanceEndedEvent(adapterId: string, at: number): NewEvent {
  return {
    type: "adapter.maintenance_ended",
    subject: adapterId,
    time: at,
    data: { adapter_id: adapterId },
  };
}

/**
 * The declaration (or, `declared` null, the lift) an event records, read back from
 * its data; undefined for any other event, or one whose data does not say it. A
 * cluster member applies the others' declarations from their events this way.
 */
export function declaredMaintenanceOf(
  event: NewEvent,
): { adapterId: string; declared: ManualMaintenance | null } | undefined {
  const data = event.data as Record<string, unknown> | null | undefined;
  const adapterId = data?.adapter_id;
  if (typeof adapterId !== "string" || adapterId === "") return undefined;
  if (event.type === "adapter.maintenance_ended") return { adapterId, declared: null };
  if (event.type !== "adapter.maintenance_started") return undefined;
  const { until, reason } = data as { until?: unknown; reason?: unknown };
  if (typeof reason !== "string") return undefined;
  let untilMs: number | null = null;
  if (until !== null) {
    untilMs = typeof until === "string" ? Date.parse(until) : Number.NaN;
    if (!Number.isFinite(untilMs)) return undefined;
  }
  return { adapterId, declared: { adapterId, untilMs, reason } };
}

/** An open window: which adapters, until when, why. */
export interface ActiveMaintenance {
  adapters: string;
  untilMs: number | null;
  reason: string;
}

/** The windows open at `now`: fixed ones by their times, recurring ones by when they last fired. */
export function openWindows(
  windows: readonly MaintenanceWindow[],
  lastFired: ReadonlyMap<number, number>,
  now: number,
): ActiveMaintenance[] {
  const open: ActiveMaintenance[] = [];
  windows.forEach((window, index) => {
    if (window.fromMs !== undefined && window.untilMs !== undefined) {
      if (now >= window.fromMs && now < window.untilMs) {
        open.push({ adapters: window.adapters, untilMs: window.untilMs, reason: window.reason });
      }
      return;
    }
    const fired = lastFired.get(index);
    if (fired !== undefined && window.durationMs !== undefined && now < fired + window.durationMs) {
      open.push({
        adapters: window.adapters,
        untilMs: fired + window.durationMs,
        reason: window.reason,
      });
    }
  });
  return open;
}

/** The maintenance that applies to an adapter now, if any (manual first). */
export function maintenanceFor(
  adapterId: string,
  windows: readonly ActiveMaintenance[],
  manual: ReadonlyMap<string, ManualMaintenance>,
  now: number,
): ActiveMaintenance | undefined {
  const declared = manual.get(adapterId);
  if (declared && (declared.untilMs === null || now < declared.untilMs)) {
    return { adapters: adapterId, untilMs: declared.untilMs, reason: declared.reason };
  }
  return windows.find((window) => matchesGlob(adapterId, window.adapters));
}
