import { appliedConfig, type ConfigChanges, diffConfigs } from "./config-diff.js";
import type { DaemonConfig } from "./load.js";

/**
 * What a reload changes, part by part: the configuration to run with (the new
 * file's live keys, restart-only keys as started) and which running parts must
 * take new values. Pure: the composition root applies it.
 */
export interface ReloadPlan {
  changes: ConfigChanges;
  target: DaemonConfig;
  /** Per-adapter probe, breaker, flap and override settings. */
  adapterSettings: boolean;
  /** The scheduler's options: the adapters' settings or the concurrency cap. */
  scheduling: boolean;
  staleRule: boolean;
  resolution: boolean;
  maintenanceWindows: boolean;
  journal: boolean;
  sync: boolean;
  /** The new log level, when it changed. */
  logLevel: string | undefined;
}

export function planReload(running: DaemonConfig, next: DaemonConfig): ReloadPlan {
  const changes = diffConfigs(running, next);
  const target = appliedConfig(running, next);
  const changed = (pick: (current: DaemonConfig) => unknown) =>
    JSON.stringify(pick(running)) !== JSON.stringify(pick(target));
  const adapterSettings = changed((current) => [current.adapters, current.flap]);
  return {
    changes,
    target,
    adapterSettings,
    scheduling:
      adapterSettings ||
      changed((current) => [
        current.probes.concurrency,
        current.probes.startupRatePerSec,
        current.probes.startupMaxRatePerSec,
      ]),
    staleRule: changed((current) => current.probes.stale),
    resolution: changed((current) => current.resolution),
    maintenanceWindows: changed((current) => current.maintenance),
    journal: changed((current) => current.journal),
    sync: changed((current) => current.sync),
    logLevel: changed((current) => current.log.level) ? target.log.level : undefined,
  };
}
