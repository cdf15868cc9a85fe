import type { AdapterEntry } from "../domain/adapter.js";
import type { ProbeSettings } from "../domain/adapter-settings.js";
import type { CheckOutcome } from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import { checkHeartbeatAge } from "../probes/heartbeat-age.js";
import type { Probe, ProbeResult } from "../probes/probe.js";
import { type ProbeTable, schemeOf } from "../probes/probe-table.js";

/** A round that could not reach a verdict (the registry, the only judge, was unreachable). */
export interface Inconclusive {
  inconclusive: true;
  detail: string;
}

/**
 * Runs one round of checks on an adapter: its own health endpoint (when it has
 * one) decides; the registry's HealthCheck is asked beside it so both views are
 * kept; a heartbeat older than the TTL (when one is set) fails the round. Without
 * an endpoint the registry's answer decides, and a registry that cannot be
 * reached gives no verdict rather than a false "unhealthy". Every probe's result
 * is counted here, in one place.
 */
export class AdapterChecker {
  constructor(
    private readonly probes: ProbeTable,
    private readonly registryProbe: Probe,
    private readonly metrics: DaemonMetrics,
    private readonly now: () => number,
  ) {}

  async check(entry: AdapterEntry, settings: ProbeSettings): Promise<CheckOutcome | Inconclusive> {
    // Without an endpoint the registry is the only judge, so it is always asked.
    const registryAnswer =
      settings.registryCheck || entry.healthCheckUrl === ""
        ? this.run(this.registryProbe, entry.adapterId, settings.timeoutMs)
        : Promise.resolve(undefined);
    const heartbeat =
      settings.heartbeatTtlMs === undefined
        ? undefined
        : checkHeartbeatAge(entry.lastHeartbeat, this.now(), settings.heartbeatTtlMs);
    if (heartbeat) this.count("heartbeat", heartbeat);
    const failedHeartbeat = heartbeat && !heartbeat.ok ? heartbeat : undefined;

    if (entry.healthCheckUrl === "") {
      const answer = await registryAnswer;
      if (!answer || answer.inconclusive) {
        if (failedHeartbeat) return this.outcome(failedHeartbeat, "registry");
        return { inconclusive: true, detail: answer?.detail ?? "registry not asked" };
      }
      const decided = failedHeartbeat
        ? { ...failedHeartbeat, latencyMs: answer.latencyMs }
        : answer;
      return withRegistryStatus(this.outcome(decided, "registry"), answer);
    }
    const probe = this.probes.forUrl(entry.healthCheckUrl);
    const options = settings.expectBody === undefined ? {} : { expectBody: settings.expectBody };
    const [result, answer] = await Promise.all([
      probe
        ? this.run(probe, entry.healthCheckUrl, settings.timeoutMs, options)
        : Promise.resolve({
            ok: false,
            latencyMs: 0,
            detail: `no probe for ${schemeOf(entry.healthCheckUrl)}`,
          }),
      registryAnswer,
    ]);
    const decided =
      failedHeartbeat && result.ok ? { ...failedHeartbeat, latencyMs: result.latencyMs } : result;
    return withRegistryStatus(this.outcome(decided, "probe"), answer);
  }

  private async run(
    probe: Probe,
    target: string,
    timeoutMs: number,
    options?: Parameters<Probe["check"]>[2],
  ): Promise<ProbeResult> {
    const result = await probe.check(target, timeoutMs, options);
    this.count(probe.kind, result);
    if (!result.inconclusive) {
      this.metrics.probeDuration.observe({ kind: probe.kind }, result.latencyMs / 1000);
    }
    return result;
  }

  private count(kind: string, result: Pick<ProbeResult, "ok" | "inconclusive">): void {
    const outcome = result.inconclusive ? "error" : result.ok ? "success" : "failure";
    this.metrics.healthChecks.inc({ kind, result: outcome });
  }

  private outcome(
    result: Pick<ProbeResult, "ok" | "latencyMs" | "detail">,
    source: CheckOutcome["source"],
  ): CheckOutcome {
    return {
      ok: result.ok,
      latencyMs: result.latencyMs,
      detail: result.detail,
      source,
      at: this.now(),
    };
  }
}

/** The registry's own verdict beside the deciding one, when it answered. */
function withRegistryStatus(outcome: CheckOutcome, answer: ProbeResult | undefined): CheckOutcome {
  if (!answer || answer.inconclusive || answer.reportedStatus === undefined) return outcome;
  return { ...outcome, registryStatus: answer.reportedStatus };
}
