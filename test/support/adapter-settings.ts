import type { AdapterSettings, ProbeSettings } from "../../src/domain/adapter-settings.js";

/**
 * Per-adapter settings for unit tests: the daemon's defaults (15 s interval, edge
 * a third of it, open four times it, rise 2, fall 3, consecutive breaker of 3)
 * but for a 90 s Watch safety net and a 30 s half-open wait, so tests of those
 * paths run in little fake time.
 */
export const TEST_PROBE_SETTINGS: ProbeSettings = {
  intervalMs: 15_000,
  edgeIntervalMs: 5_000,
  openIntervalMs: 60_000,
  watchedIntervalMs: 90_000,
  timeoutMs: 5_000,
  jitter: 0.1,
  rise: 2,
  fall: 3,
  degradedLatencyMs: 1_000,
  expectBody: undefined,
  heartbeatTtlMs: undefined,
  watch: true,
  registryCheck: true,
};

export const TEST_ADAPTER_SETTINGS: AdapterSettings = {
  probes: TEST_PROBE_SETTINGS,
  breaker: {
    kind: "consecutive",
    threshold: 3,
    halfOpenAfterMs: 30_000,
    size: 20,
    minCalls: 5,
    durationMs: 60_000,
  },
  priority: 100,
};
