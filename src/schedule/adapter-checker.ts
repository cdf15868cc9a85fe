import type { AdapterEntry } from "../domain/adapter.js";
import type { ProbeSettings } from "../domain/adapter-settings.js";
import type { CheckOutcome } from "../domain/health.js";
import { ownDelayReason } from "../domain/own-delay.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import { checkHeartbeatAge } from "../probes/heartbeat-age.js";
import type { Probe, ProbeResult } from "../probes/probe.js";
import { type ProbeTable, schemeOf } from "../probes/probe-table.js";
import type { LoopStalls } from "./loop-stall-monitor.js";

/**
 * A round that could not reach a verdict: the registry, the only judge, was
 * unreachable, or the daemon's own stalled event loop could have made the answer
 * late.
 */
export interface Inconclusive {
  inconclusive: true;
  detail: string;
}

/**
 * Runs one round of checks on an adapter: its own health endpoint (when it has
 * one) decides, and the registry's listed status is kept beside it so both views
 * are seen; a heartbeat older than the TTL (when one is set) fails the round. Without
 * an endpoint the registry's answer decides, and a registry that cannot be
 * reached gives no verdict rather than a false "unhealthy". A slow answer or a
 * timeout that a stall of the daemon's own event loop could explain gives no
 * verdict either: the daemon's load must never read as the adapter's. Every
 * probe's result is counted here, in one place.
 */
export class AdapterChecker {
  constructor(
    private readonly probes: ProbeTable,
    private readonly registryProbe: Probe,
    private readonly metrics: DaemonMetrics,
    private readonly now: () => number,
    private readonly stalls: LoopStalls = { stallNowMs: () => 0 },
  ) {}

  async check(entry: AdapterEntry, settings: ProbeSettings): Promise<CheckOutcome | Inconclusive> {
    const heartbeat =
      settings.heartbeatTtlMs === undefined
        ? undefined
        : checkHeartbeatAge(entry.lastHeartbeat, this.now(), settings.heartbeatTtlMs);
    if (heartbeat) this.count("heartbeat", heartbeat);
    const failedHeartbeat = heartbeat && !heartbeat.ok ? heartbeat : undefined;

    if (entry.healthCheckUrl === "") {
      // Without an endpoint the registry is the only judge, so it is asked each round.
      const answer = await this.run(this.registryProbe, entry.adapterId, settings);
      if (answer.inconclusive) {
        if (failedHeartbeat) return this.outcome(failedHeartbeat, "registry");
        return { inconclusive: true, detail: answer.detail };
      }
      const decided = failedHeartbeat
        ? { ...failedHeartbeat, latencyMs: answer.latencyMs }
        : answer;
      const outcome = this.outcome(decided, "registry");
      return answer.reportedStatus === undefined
        ? outcome
        : { ...outcome, registryStatus: answer.reportedStatus };
    }
    const probe = this.probes.forUrl(entry.healthCheckUrl);
    const options = settings.expectBody === undefined ? {} : { expectBody: settings.expectBody };
    const result = probe
      ? await this.run(probe, entry.healthCheckUrl, settings, options)
      : { ok: false, latencyMs: 0, detail: `no probe for ${schemeOf(entry.healthCheckUrl)}` };
    if (result.inconclusive) {
      if (failedHeartbeat)
        return this.besideRegistry(this.outcome(failedHeartbeat, "probe"), entry, settings);
      return { inconclusive: true, detail: result.detail };
    }
    const decided =
      failedHeartbeat && result.ok ? { ...failedHeartbeat, latencyMs: result.latencyMs } : result;
    return this.besideRegistry(this.outcome(decided, "probe"), entry, settings);
  }

  /**
   * The registry's own view beside the endpoint's verdict (`registry_check`), as
   * the catalog sync last listed it: one ListAdapters call brings every
   * adapter's status, so no HealthCheck call is made per probe.
   */
  private besideRegistry(
    outcome: CheckOutcome,
    entry: AdapterEntry,
    settings: ProbeSettings,
  ): CheckOutcome {
    return settings.registryCheck ? { ...outcome, registryStatus: entry.registryStatus } : outcome;
  }

  private async run(
    probe: Probe,
    target: string,
    settings: ProbeSettings,
    options?: Parameters<Probe["check"]>[2],
  ): Promise<ProbeResult> {
    const answer = await probe.check(target, settings.timeoutMs, options);
    const result = this.screenOwnDelay(probe.kind, answer, settings);
    this.count(probe.kind, result);
    if (!result.inconclusive) {
      this.metrics.probeDuration.observe({ kind: probe.kind }, result.latencyMs / 1000);
    }
    return result;
  }

  /** The result, or an inconclusive one when the daemon's stalled loop could explain it. */
  private screenOwnDelay(kind: string, result: ProbeResult, settings: ProbeSettings): ProbeResult {
    if (result.inconclusive) return result;
    const reason = ownDelayReason(result, this.stalls.stallNowMs(), settings);
    if (reason === undefined) return result;
    this.metrics.ownDelayResults.inc({ kind });
    return { ...result, inconclusive: true, detail: reason };
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
