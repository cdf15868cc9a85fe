import type { AdapterEntry } from "./adapter.js";

export type BreakerKind = "consecutive" | "count" | "sampling";

export interface ProbeSettings {
  intervalMs: number;
  /** Interval while on an unhealthy edge (failing but not yet unhealthy, or recovering). */
  edgeIntervalMs: number;
  /** Interval while the adapter's breaker is open. */
  openIntervalMs: number;
  /** Interval while a grpc.health.v1 Watch stream pushes changes: the poll is only a safety net. */
  watchedIntervalMs: number;
  timeoutMs: number;
  jitter: number;
  rise: number;
  fall: number;
  degradedLatencyMs: number;
  /** HTTP: the body must contain this text. */
  expectBody: string | undefined;
  /** A `last_heartbeat` older than this fails the check. */
  heartbeatTtlMs: number | undefined;
  /** Keep a grpc.health.v1 Watch open where the target supports it. */
  watch: boolean;
  /** Also ask the registry's HealthCheck for adapters that have their own endpoint. */
  registryCheck: boolean;
}

export interface BreakerSettings {
  kind: BreakerKind;
  /** consecutive: failures in a row; count and sampling: failure ratio (0-1]. */
  threshold: number;
  halfOpenAfterMs: number;
  /** count: the window of recent calls. */
  size: number;
  /** count and sampling: calls needed before the ratio counts. */
  minCalls: number;
  /** sampling: the time window. */
  durationMs: number;
}

export interface AdapterSettings {
  probes: ProbeSettings;
  breaker: BreakerSettings;
  /** Resolution priority, lower preferred. */
  priority: number;
}

/** Which adapters an override applies to; every given field must match. Globs use * and ?. */
export interface SettingsMatch {
  adapter?: string | undefined;
  category?: string | undefined;
  provider?: string | undefined;
  domain?: string | undefined;
  project?: string | undefined;
}

export interface SettingsOverride {
  match: SettingsMatch;
  probes?: Partial<ProbeSettings>;
  breaker?: Partial<BreakerSettings>;
  priority?: number | undefined;
}

/** Turns a `*`/`?` glob into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const source = glob
    .split("")
    .map((char) =>
      char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`);
}

export function matchesGlob(value: string, glob: string): boolean {
  return globToRegExp(glob).test(value);
}

export function overrideApplies(match: SettingsMatch, entry: AdapterEntry): boolean {
  const checks: [string | undefined, string][] = [
    [match.adapter, entry.adapterId],
    [match.category, entry.category],
    [match.provider, entry.provider],
    [match.domain, entry.domain],
    [match.project, entry.project],
  ];
  return checks.every(([glob, value]) => glob === undefined || matchesGlob(value, glob));
}

function withoutUndefined<T extends object>(partial: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(partial ?? {}).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/** The settings for one adapter: defaults, then each matching override in order. */
export function settingsFor(
  entry: AdapterEntry,
  defaults: AdapterSettings,
  overrides: readonly SettingsOverride[],
): AdapterSettings {
  let settings = defaults;
  for (const override of overrides) {
    if (!overrideApplies(override.match, entry)) continue;
    settings = {
      probes: { ...settings.probes, ...withoutUndefined(override.probes) },
      breaker: { ...settings.breaker, ...withoutUndefined(override.breaker) },
      priority: override.priority ?? settings.priority,
    };
  }
  return settings;
}
