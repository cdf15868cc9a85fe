import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import { isHealthStatus } from "../domain/adapter.js";
import type { CheckOutcome } from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
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

/**
 * Runs one round of checks on an adapter: its own health endpoint (when it has
 * one) decides; the registry's HealthCheck is asked beside it so both views are
 * kept. Without an endpoint, the registry's answer decides, and a registry that
 * cannot be reached gives no verdict rather than a false "unhealthy".
 */
export class AdapterChecker {
  private readonly probesByScheme: Map<string, Probe>;

  constructor(
    private readonly registry: RegistryHealthSource,
    probes: readonly Probe[],
    private readonly timeoutMs: number,
    private readonly metrics: DaemonMetrics,
    private readonly now: () => number,
  ) {
    this.probesByScheme = new Map();
    for (const probe of probes) {
      if (probe.kind === "http") {
        this.probesByScheme.set("http:", probe);
        this.probesByScheme.set("https:", probe);
      } else if (probe.kind === "grpc") {
        this.probesByScheme.set("grpc:", probe);
        this.probesByScheme.set("grpcs:", probe);
      }
    }
  }

  async check(entry: AdapterEntry): Promise<CheckOutcome | Inconclusive> {
    const registryAnswer = this.askRegistry(entry.adapterId);
    if (entry.healthCheckUrl === "") {
      const answer = await registryAnswer;
      if ("error" in answer) return { inconclusive: true, detail: answer.error };
      return {
        ok: answer.status !== "unhealthy",
        latencyMs: answer.latencyMs,
        detail: answer.message || `registry reports ${answer.status}`,
        source: "registry",
        registryStatus: answer.status,
        at: this.now(),
      };
    }
    const scheme = entry.healthCheckUrl.slice(0, entry.healthCheckUrl.indexOf(":") + 1);
    const probe = this.probesByScheme.get(scheme);
    const [result, answer] = await Promise.all([
      probe
        ? probe.check(entry.healthCheckUrl, this.timeoutMs)
        : Promise.resolve({ ok: false, latencyMs: 0, detail: `no probe for ${scheme}` }),
      registryAnswer,
    ]);
    const kind = probe?.kind ?? "none";
    this.metrics.healthChecks.inc({ kind, result: result.ok ? "success" : "failure" });
    this.metrics.probeDuration.observe({ kind }, result.latencyMs / 1000);
    const outcome: CheckOutcome = {
      ok: result.ok,
      latencyMs: result.latencyMs,
      detail: result.detail,
      source: "probe",
      at: this.now(),
    };
    if (!("error" in answer)) outcome.registryStatus = answer.status;
    return outcome;
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
