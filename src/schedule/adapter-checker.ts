import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import { isHealthStatus } from "../domain/adapter.js";
import type { ProbeSettings } from "../domain/adapter-settings.js";
import type { CheckOutcome } from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import { checkHeartbeatAge } from "../probes/heartbeat-age.js";
import type { Probe } from "../probes/probe.js";
import type { RegistryHealth } from "../registry/registry-client.js";

/** Asks the registries (not any fallback) for their view of one adapter. */
export interface RegistryHealthSource {
  askRegistryHealth(adapterId: string): Promise<{ value: RegistryHealth }>;
}

/** A round that could not reach a verdict (the registry, the only judge, was unreachable). */
export interface Inconclusive {
  inconclusive: true;
  detail: string;
}

/** The probe that handles a health URL's scheme. */
export function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(":") + 1);
}

/**
 * Runs one round of checks on an adapter: its own health endpoint (when it has
 * one) decides; the registry's HealthCheck is asked beside it so both views are
 * kept; a heartbeat older than the TTL (when one is set) fails the round. Without
 * an endpoint the registry's answer decides, and a registry that cannot be
 * reached gives no verdict rather than a false "unhealthy".
 */
export class AdapterChecker {
  private readonly probesByScheme = new Map<string, Probe>();

  constructor(
    private readonly registry: RegistryHealthSource,
    probes: readonly Probe[],
    private readonly metrics: DaemonMetrics,
    private readonly now: () => number,
  ) {
    const schemes: Record<string, string[]> = {
      http: ["http:", "https:"],
      grpc: ["grpc:", "grpcs:"],
      tcp: ["tcp:"],
    };
    for (const probe of probes) {
      for (const scheme of schemes[probe.kind] ?? []) this.probesByScheme.set(scheme, probe);
    }
  }

  async check(entry: AdapterEntry, settings: ProbeSettings): Promise<CheckOutcome | Inconclusive> {
    // Without an endpoint the registry is the only judge, so it is always asked.
    const registryAnswer =
      settings.registryCheck || entry.healthCheckUrl === ""
        ? this.askRegistry(entry.adapterId)
        : Promise.resolve({ error: "not asked" } as const);
    const heartbeat =
      settings.heartbeatTtlMs === undefined
        ? undefined
        : checkHeartbeatAge(entry.lastHeartbeat, this.now(), settings.heartbeatTtlMs);
    if (heartbeat) {
      this.metrics.healthChecks.inc({
        kind: "heartbeat",
        result: heartbeat.ok ? "success" : "failure",
      });
    }
    if (entry.healthCheckUrl === "") {
      const answer = await registryAnswer;
      if ("error" in answer) {
        if (heartbeat && !heartbeat.ok)
          return this.outcome(heartbeat.ok, 0, heartbeat.detail, "registry");
        return { inconclusive: true, detail: answer.error };
      }
      if (heartbeat && !heartbeat.ok) {
        return {
          ...this.outcome(false, answer.latencyMs, heartbeat.detail, "registry"),
          registryStatus: answer.status,
        };
      }
      return {
        ...this.outcome(
          answer.status !== "unhealthy",
          answer.latencyMs,
          answer.message || `registry reports ${answer.status}`,
          "registry",
        ),
        registryStatus: answer.status,
      };
    }
    const scheme = schemeOf(entry.healthCheckUrl);
    const probe = this.probesByScheme.get(scheme);
    const options = settings.expectBody === undefined ? {} : { expectBody: settings.expectBody };
    const [result, answer] = await Promise.all([
      probe
        ? probe.check(entry.healthCheckUrl, settings.timeoutMs, options)
        : Promise.resolve({ ok: false, latencyMs: 0, detail: `no probe for ${scheme}` }),
      registryAnswer,
    ]);
    const kind = probe?.kind ?? "none";
    this.metrics.healthChecks.inc({ kind, result: result.ok ? "success" : "failure" });
    this.metrics.probeDuration.observe({ kind }, result.latencyMs / 1000);
    const failedHeartbeat = heartbeat && !heartbeat.ok && result.ok ? heartbeat : undefined;
    const outcome = failedHeartbeat
      ? this.outcome(false, result.latencyMs, failedHeartbeat.detail, "probe")
      : this.outcome(result.ok, result.latencyMs, result.detail, "probe");
    if (!("error" in answer)) outcome.registryStatus = answer.status;
    return outcome;
  }

  private outcome(
    ok: boolean,
    latencyMs: number,
    detail: string,
    source: CheckOutcome["source"],
  ): CheckOutcome {
    return { ok, latencyMs, detail, source, at: this.now() };
  }

  private async askRegistry(
    adapterId: string,
  ): Promise<{ status: HealthStatus; message: string; latencyMs: number } | { error: string }> {
    const startedAt = performance.now();
    try {
      const { value: answer } = await this.registry.askRegistryHealth(adapterId);
      const latencyMs = performance.now() - startedAt;
      this.metrics.healthChecks.inc({
        kind: "registry",
        result: answer.healthy ? "success" : "failure",
      });
      this.metrics.probeDuration.observe({ kind: "registry" }, latencyMs / 1000);
      const status: HealthStatus = isHealthStatus(answer.status)
        ? answer.status
        : answer.healthy
          ? "healthy"
          : "unhealthy";
      return { status, message: answer.message, latencyMs };
    } catch (error) {
      this.metrics.healthChecks.inc({ kind: "registry", result: "error" });
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }
}
