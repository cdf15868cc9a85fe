import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../src/main.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { getJson, ManualClock, startTestDaemon, tempDir, testConfig } from "./support/stack.js";

describe("the daemon against a faulty registry", () => {
  let dir: ReturnType<typeof tempDir>;
  let registry: FakeRegistry;
  let daemon: RunningDaemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    registry = await new FakeRegistry().start();
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    registry.stop();
    dir.remove();
  });

  it("skips entries without an id, with a malformed URL or a duplicate id, and repairs an unknown status", async () => {
    registry.entries = [
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.s3" }),
      FakeRegistry.entry({ adapterId: "" }),
      FakeRegistry.entry({ adapterId: "fake.adapter.cache.redis", healthCheckUrl: "not a url" }),
      FakeRegistry.entry({
        adapterId: "fake.adapter.cache.memcached",
        healthCheckUrl: "ftp://host/health",
      }),
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.s3", provider: "duplicate" }),
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.file", healthStatus: "sparkling" }),
    ];
    daemon = await startTestDaemon(testConfig(registry.port, join(dir.path, "healthd.db")));

    expect(daemon.view.list().map((adapter) => adapter.adapter_id)).toEqual([
      "fake.adapter.storage.file",
      "fake.adapter.storage.s3",
    ]);
    expect(daemon.view.get("fake.adapter.storage.s3")?.provider).toBe("s3");
    expect(daemon.view.get("fake.adapter.storage.file")?.registry_status).toBe("unknown");
    const metrics = (await getJson(daemon, "/metrics")).body as string;
    expect(metrics).toContain('oneiric_healthd_registry_entries_rejected_total{reason="no_id"} 1');
    expect(metrics).toContain(
      'oneiric_healthd_registry_entries_rejected_total{reason="bad_url"} 2',
    );
    expect(metrics).toContain(
      'oneiric_healthd_registry_entries_rejected_total{reason="duplicate"} 1',
    );
    expect(metrics).toContain(
      'oneiric_healthd_registry_entries_rejected_total{reason="repaired"} 1',
    );
  });

  it("holds back a sync that would empty the catalog until three answers over five minutes confirm it", async () => {
    registry.entries = ["a", "b", "c"].map((name) =>
      FakeRegistry.entry({ adapterId: `fake.adapter.storage.${name}` }),
    );
    const clock = new ManualClock();
    daemon = await startTestDaemon(testConfig(registry.port, join(dir.path, "healthd.db")), clock);
    expect(daemon.view.size).toBe(3);

    registry.entries = [];
    expect(await daemon.syncNow()).toMatchObject({ ok: true, removed: 0, held: 3 });
    // The next sync a second later, as after a registry restart, is not enough.
    clock.advance(1_000);
    expect(await daemon.syncNow()).toMatchObject({ ok: true, removed: 0, held: 3 });
    expect(daemon.view.size).toBe(3);
    clock.advance(300_000);
    const confirmed = await daemon.syncNow();
    expect(confirmed).toMatchObject({ ok: true, removed: 3, held: 0 });
    expect(daemon.view.size).toBe(0);
    expect(
      daemon.readEvents(0, 100).filter((event) => event.type === "adapter.removed"),
    ).toHaveLength(3);
  });

  it("removes a minority of adapters at once and records discovery and updates", async () => {
    registry.entries = ["a", "b", "c"].map((name) =>
      FakeRegistry.entry({ adapterId: `fake.adapter.storage.${name}` }),
    );
    daemon = await startTestDaemon(testConfig(registry.port, join(dir.path, "healthd.db")));
    registry.entries = [
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.a", metadata: { region: "eu" } }),
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.b" }),
      FakeRegistry.entry({ adapterId: "fake.adapter.storage.d" }),
    ];
    expect(await daemon.syncNow()).toMatchObject({
      ok: true,
      added: 1,
      updated: 1,
      removed: 1,
      held: 0,
    });
    const types = daemon.readEvents(0, 100).map((event) => `${event.type} ${event.subject}`);
    expect(types).toContain("adapter.updated fake.adapter.storage.a");
    expect(types).toContain("adapter.removed fake.adapter.storage.c");
    expect(types).toContain("adapter.discovered fake.adapter.storage.d");
  });
});

describe("a registry address that does not speak gRPC", () => {
  let garbage: Server;
  const sockets = new Set<Socket>();
  let dir: ReturnType<typeof tempDir>;
  let daemon: RunningDaemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    garbage = createServer((socket) => {
      sockets.add(socket);
      socket.end(Buffer.from("HTTP/1.1 418 I'm a teapot\r\n\r\n\u0000\u00ff garbage"));
    });
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => garbage.close(resolve));
    dir.remove();
  });

  it("is a failed sync, not a dead daemon", async () => {
    const port = (garbage.address() as { port: number }).port;
    daemon = await startTestDaemon(testConfig(port, join(dir.path, "healthd.db")));
    const result = await daemon.syncNow();
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/ListAdapters: registry 127\.0\.0\.1:\d+/);
    const { status, body } = await getJson(daemon, "/v1/adapters");
    expect(status).toBe(200);
    expect(body.registry).toMatchObject({ reachable: false });
    expect(body.adapters).toEqual([]);
  });
});
