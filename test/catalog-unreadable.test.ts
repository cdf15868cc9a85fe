import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import type { JournalEvent } from "../src/domain/events.js";
import { HealthCheckResponse } from "../src/gen/oneiric/registry/v1/registry.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { getJson, tempDir } from "./support/stack.js";

/**
 * A registry whose ListAdapters answers garbage while its other RPCs answer fine:
 * the adapters have no health_check_url, so every check asks the registry's
 * HealthCheck, which succeeds between syncs and would flip the link back each time.
 */
describe("a registry whose catalog cannot be read while its other calls answer", () => {
  let dir: ReturnType<typeof tempDir>;
  let registry: FakeRegistry;
  let daemon: RunningDaemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    registry = await new FakeRegistry().start();
    registry.entries = ["s3", "gcs", "azure"].map((provider) =>
      FakeRegistry.entry({ adapterId: `fake.adapter.storage.${provider}`, provider }),
    );
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    registry.stop();
    dir.remove();
  });

  const registryEvents = (running: RunningDaemon): JournalEvent[] =>
    running.readEvents(0, 10_000).filter((event) => event.type.startsWith("registry."));

  const garbage: { name: string; bytes: () => Uint8Array }[] = [
    {
      name: "another message type",
      bytes: () =>
        HealthCheckResponse.encode({ healthy: true, status: "healthy", message: "" }).finish(),
    },
    // A length-delimited field 1 whose length runs past the end: not protobuf at all.
    { name: "bytes that are not protobuf", bytes: () => Uint8Array.from([0x0a, 0x7f, 0x01, 0x02]) },
  ];

  for (const { name, bytes } of garbage) {
    it(`reports one episode for ${name}, not a pair of events per sync`, async () => {
      const config = parseConfigText(
        `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registry.port} }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, "h.db"))} }
  sync: { interval_sec: 86400 }
  log: { level: silent }`,
        "test.yaml",
        {},
      );
      daemon = await startDaemon(config, { logger: pino({ level: "silent" }) });
      const running = daemon;
      expect(running.view.size).toBe(3);
      expect(running.view.registryState().reachable).toBe(true);
      const before = registryEvents(running).length;

      registry.rawListAnswer = bytes();
      for (let sync = 0; sync < 4; sync++) {
        const result = await running.syncNow();
        expect(result.ok).toBe(false);
        // The registry's HealthCheck answers: the endpoint's link is up again between syncs.
        await running.checkAllNow();
        expect(running.gateway.linkState().reachable).toBe(true);
        expect(running.view.registryState().reachable).toBe(false);
      }
      const during = registryEvents(running).slice(before);
      expect(during.map((event) => [event.type, event.data.condition])).toEqual([
        ["registry.unreachable", "catalog_unreadable"],
      ]);
      expect(running.view.size).toBe(3);
      // Noted once the sync that found the catalog unreadable has finished (moments later).
      await vi.waitFor(
        async () => {
          const ready = await getJson(running, "/readyz");
          expect(ready.status).toBe(200);
          expect(JSON.stringify(ready.body)).toContain("catalog cannot be read since");
        },
        { timeout: 2_000 },
      );
      const metrics = await (
        await fetch(`http://127.0.0.1:${running.httpAddress.port}/metrics`)
      ).text();
      expect(metrics).toMatch(/^oneiric_healthd_registry_up 0$/m);

      registry.rawListAnswer = undefined;
      expect((await running.syncNow()).ok).toBe(true);
      await running.checkAllNow();
      expect((await running.syncNow()).ok).toBe(true);
      expect(
        registryEvents(running)
          .slice(before)
          .map((event) => event.type),
      ).toEqual(["registry.unreachable", "registry.recovered"]);
      expect(running.view.registryState().reachable).toBe(true);
      const readyAfter = await getJson(running, "/readyz");
      expect(JSON.stringify(readyAfter.body)).not.toContain("cannot be read");
    }, 30_000);
  }
});
