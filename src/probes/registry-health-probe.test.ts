import { describe, expect, it } from "vitest";
import type { RegistryHealth } from "../registry/registry-client.js";
import { ProbeTable, schemeOf } from "./probe-table.js";
import { RegistryHealthProbe } from "./registry-health-probe.js";

function registryAnswering(answer: RegistryHealth | Error) {
  return {
    askRegistryHealth: async () => {
      if (answer instanceof Error) throw answer;
      return { value: answer };
    },
  };
}

describe("RegistryHealthProbe", () => {
  it("passes unless the registry says unhealthy, keeping the status it reported", async () => {
    const degraded = await new RegistryHealthProbe(
      registryAnswering({ healthy: false, status: "degraded", message: "" }),
    ).check("a.adapter.cache.redis");
    expect(degraded).toMatchObject({
      ok: true,
      reportedStatus: "degraded",
      detail: "registry reports degraded",
    });
    const unhealthy = await new RegistryHealthProbe(
      registryAnswering({ healthy: false, status: "unhealthy", message: "redis down" }),
    ).check("a.adapter.cache.redis");
    expect(unhealthy).toMatchObject({
      ok: false,
      reportedStatus: "unhealthy",
      detail: "redis down",
    });
  });

  it("reads an unknown status word by the healthy flag", async () => {
    const result = await new RegistryHealthProbe(
      registryAnswering({ healthy: true, status: "sparkling", message: "" }),
    ).check("a");
    expect(result).toMatchObject({ ok: true, reportedStatus: "healthy" });
  });

  it("gives no verdict, rather than unhealthy, when the registry cannot be reached", async () => {
    const result = await new RegistryHealthProbe(
      registryAnswering(new Error("registry 127.0.0.1:1 unavailable")),
    ).check("a");
    expect(result).toMatchObject({
      inconclusive: true,
      detail: "registry 127.0.0.1:1 unavailable",
    });
    expect(result.reportedStatus).toBeUndefined();
  });
});

describe("ProbeTable", () => {
  const probe = (kind: string) => ({
    kind,
    check: async () => ({ ok: true, latencyMs: 0, detail: "" }),
    close: () => undefined,
  });

  it("finds the probe for each scheme it handles, and none for others", () => {
    const http = probe("http");
    const grpc = probe("grpc");
    const table = new ProbeTable([http, grpc, probe("tcp")]);
    expect(table.forUrl("https://x/health")).toBe(http);
    expect(table.forUrl("grpcs://x:1/svc")).toBe(grpc);
    expect(table.forUrl("tcp://x:1")?.kind).toBe("tcp");
    expect(table.forUrl("ftp://x/")).toBeUndefined();
    expect(schemeOf("grpc://x:1/svc")).toBe("grpc:");
  });
});
