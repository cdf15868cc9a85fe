import type { HealthStatus } from "../domain/adapter.js";
import { isHealthStatus } from "../domain/adapter.js";
import type { RegistryHealth } from "../registry/registry-client.js";
import { describeError, elapsedSince, type Probe, type ProbeResult } from "./probe.js";

/** Asks the registries (not any fallback) for their view of one adapter. */
export interface RegistryHealthSource {
  askRegistryHealth(adapterId: string): Promise<{ value: RegistryHealth }>;
}

/**
 * The registry's `HealthCheck` RPC as a probe: the target is the adapter id. The
 * adapter passes unless the registry says it is unhealthy. A registry that cannot
 * be reached gives no verdict (`inconclusive`), never a false "unhealthy": the
 * registry's outage is not the adapter's.
 */
export class RegistryHealthProbe implements Probe {
  readonly kind = "registry";

  constructor(private readonly registry: RegistryHealthSource) {}

  async check(adapterId: string): Promise<ProbeResult> {
    const startedAt = performance.now();
    try {
      const { value: answer } = await this.registry.askRegistryHealth(adapterId);
      const status: HealthStatus = isHealthStatus(answer.status)
        ? answer.status
        : answer.healthy
          ? "healthy"
          : "unhealthy";
      return {
        ok: status !== "unhealthy",
        latencyMs: elapsedSince(startedAt),
        detail: answer.message || `registry reports ${status}`,
        reportedStatus: status,
      };
    } catch (error) {
      return {
        ok: false,
        latencyMs: elapsedSince(startedAt),
        detail: describeError(error),
        inconclusive: true,
      };
    }
  }

  close(): void {
    // The registry's channels belong to the registry client.
  }
}
