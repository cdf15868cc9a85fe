import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TEST_PROBE_SETTINGS } from "../../test/support/adapter-settings.js";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { DaemonMetrics } from "../metrics/metrics.js";
import type { Probe, ProbeResult } from "../probes/probe.js";
import { ProbeTable } from "../probes/probe-table.js";
import { AdapterChecker } from "./adapter-checker.js";

/** A probe of one kind that answers what it is told and counts its calls. */
class ScriptedProbe implements Probe {
  calls = 0;
  constructor(
    readonly kind: string,
    private readonly answer: ProbeResult,
  ) {}
  async check(): Promise<ProbeResult> {
    this.calls++;
    return this.answer;
  }
  close(): void {}
}

function checkerWith(endpoint: ProbeResult, registry: ProbeResult, stallMs = 0) {
  const registryProbe = new ScriptedProbe("registry", registry);
  const httpProbe = new ScriptedProbe("http", endpoint);
  const registryOfMetrics = new Registry();
  const metrics = new DaemonMetrics(registryOfMetrics, undefined, { maxCategoryLabels: 50 });
  const checker = new AdapterChecker(
    new ProbeTable([httpProbe]),
    registryProbe,
    metrics,
    () => 1_700_000_000_000,
    { stallNowMs: () => stallMs },
  );
  return { checker, registryProbe, httpProbe, registryOfMetrics };
}

const HEALTHY_REGISTRY: ProbeResult = {
  ok: true,
  latencyMs: 1,
  detail: "ok",
  reportedStatus: "healthy",
};

describe("AdapterChecker", () => {
  it("keeps the registry's listed status beside an endpoint's verdict without a HealthCheck call", async () => {
    const { checker, registryProbe } = checkerWith(
      { ok: true, latencyMs: 4, detail: "HTTP 200" },
      HEALTHY_REGISTRY,
    );
    const outcome = await checker.check(
      catalogEntry({ registryStatus: "degraded" }),
      TEST_PROBE_SETTINGS,
    );
    expect(outcome).toMatchObject({ ok: true, detail: "HTTP 200", registryStatus: "degraded" });
    expect(registryProbe.calls).toBe(0);
  });

  it("leaves the registry's view out when registry_check is off", async () => {
    const { checker } = checkerWith(
      { ok: true, latencyMs: 4, detail: "HTTP 200" },
      HEALTHY_REGISTRY,
    );
    const outcome = await checker.check(catalogEntry(), {
      ...TEST_PROBE_SETTINGS,
      registryCheck: false,
    });
    expect(outcome).not.toHaveProperty("registryStatus");
  });

  it("asks the registry's HealthCheck for an adapter without an endpoint", async () => {
    const { checker, registryProbe } = checkerWith(
      { ok: true, latencyMs: 4, detail: "HTTP 200" },
      {
        ok: false,
        latencyMs: 2,
        detail: "registry reports unhealthy",
        reportedStatus: "unhealthy",
      },
    );
    const outcome = await checker.check(catalogEntry({ healthCheckUrl: "" }), TEST_PROBE_SETTINGS);
    expect(outcome).toMatchObject({ ok: false, source: "registry", registryStatus: "unhealthy" });
    expect(registryProbe.calls).toBe(1);
  });

  it("gives no verdict for a slow answer that the daemon's own stall explains, and counts it", async () => {
    const { checker, registryOfMetrics } = checkerWith(
      { ok: true, latencyMs: 1_003, detail: "HTTP 200" },
      HEALTHY_REGISTRY,
      40,
    );
    const outcome = await checker.check(catalogEntry(), TEST_PROBE_SETTINGS);
    expect(outcome).toEqual({
      inconclusive: true,
      detail: "answered in 1003 ms while the daemon's event loop was held up 40 ms: no verdict",
    });
    const counted = await registryOfMetrics
      .getSingleMetric("oneiric_healthd_own_delay_results_total")
      ?.get();
    expect(counted?.values).toEqual([{ labels: { kind: "http" }, value: 1 }]);
  });

  it("keeps the same slow answer as the adapter's when the loop was not held up", async () => {
    const { checker } = checkerWith(
      { ok: true, latencyMs: 1_003, detail: "HTTP 200" },
      HEALTHY_REGISTRY,
    );
    const outcome = await checker.check(catalogEntry(), TEST_PROBE_SETTINGS);
    expect(outcome).toMatchObject({ ok: true, latencyMs: 1_003 });
  });

  it("still fails a screened-out round on a stale heartbeat", async () => {
    const { checker } = checkerWith(
      { ok: false, latencyMs: 5_100, detail: "no answer within 5000 ms" },
      HEALTHY_REGISTRY,
      300,
    );
    const outcome = await checker.check(catalogEntry({ lastHeartbeat: 1_000 }), {
      ...TEST_PROBE_SETTINGS,
      heartbeatTtlMs: 60_000,
    });
    expect(outcome).toMatchObject({ ok: false, source: "probe" });
    expect((outcome as { detail: string }).detail).toMatch(/heartbeat/);
  });
});
