import type { AdapterEntry } from "../domain/adapter.js";
import {
  type AdapterSettings,
  type SettingsOverride,
  settingsFor,
} from "../domain/adapter-settings.js";
import type { DecisionContext } from "../domain/decide.js";
import type { HealthPolicy } from "../domain/health.js";

/**
 * Per-adapter settings (defaults plus matching overrides), worked out once per
 * adapter and catalog entry rather than on every check.
 */
export class SettingsBook {
  private readonly memo = new Map<string, { entry: AdapterEntry; settings: AdapterSettings }>();
  private reconfigurations = 0;

  constructor(
    private defaults: AdapterSettings,
    private overrides: readonly SettingsOverride[],
    private flap: HealthPolicy["flap"],
  ) {}

  /**
   * Replaces the settings (a config reload). Every adapter's settings are worked
   * out afresh on next use, so a timer picks up a new interval when it next runs
   * and a breaker is rebuilt with its state kept (see AdapterBreakers).
   */
  reconfigure(
    defaults: AdapterSettings,
    overrides: readonly SettingsOverride[],
    flap: HealthPolicy["flap"],
  ): void {
    this.defaults = defaults;
    this.overrides = overrides;
    this.flap = flap;
    this.memo.clear();
    this.reconfigurations++;
  }

  /** Changes with every reconfiguration: settings read before it may be out of date. */
  get generation(): number {
    return this.reconfigurations;
  }

  of(entry: AdapterEntry): AdapterSettings {
    const known = this.memo.get(entry.adapterId);
    // Entries are replaced, not mutated, when the catalog changes.
    if (known && known.entry === entry) return known.settings;
    const settings = settingsFor(entry, this.defaults, this.overrides);
    this.memo.set(entry.adapterId, { entry, settings });
    return settings;
  }

  /** The adapter's resolution priority; without overrides every adapter has the default one. */
  priorityOf(entry: AdapterEntry): number {
    return this.overrides.length === 0 ? this.defaults.priority : this.of(entry).priority;
  }

  policyOf(entry: AdapterEntry): HealthPolicy {
    const { probes } = this.of(entry);
    return {
      rise: probes.rise,
      fall: probes.fall,
      degradedLatencyMs: probes.degradedLatencyMs,
      flap: this.flap,
    };
  }

  /** What deciding a check of this adapter needs besides its state. */
  decisionContextOf(entry: AdapterEntry, inMaintenance: boolean): DecisionContext {
    const { probes, breaker } = this.of(entry);
    return {
      policy: this.policyOf(entry),
      probes,
      halfOpenAfterMs: breaker.halfOpenAfterMs,
      maintenance: inMaintenance,
    };
  }

  forget(adapterId: string): void {
    this.memo.delete(adapterId);
  }
}
