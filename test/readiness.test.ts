import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import type { RunningDaemon } from "../src/main.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { unusedPort } from "./support/ports.js";
import { getJson, startTestDaemon, tempDir, testConfig } from "./support/stack.js";

/**
 * `/readyz` tells the truth about the catalog: a daemon pointed at a registry
 * that does not answer, with nothing stored, is not ready (the misconfigured
 * container that looked healthy), and an empty catalog counts only while a
 * reachable registry vouches for it.
 */
describe("/readyz against a real daemon", () => {
  let dir: ReturnType<typeof tempDir>;
  let dbPath: string;
  let registry: FakeRegistry;
  let daemon: RunningDaemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    dbPath = join(dir.path, "healthd.db");
    registry = await new FakeRegistry().start();
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    registry.stop();
    dir.remove();
  });

  const readyz = async (running: RunningDaemon) => {
    const answer = await getJson(running, "/readyz");
    return { status: answer.status, body: answer.body };
  };

  it("is 503 with the registry's error when nothing is stored and no registry answers", async () => {
    const port = await unusedPort();
    daemon = await startTestDaemon(testConfig(port, dbPath));
    const answer = await readyz(daemon);
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe("NOT_READY");
    expect(answer.body.detail).toMatch(
      new RegExp(
        `^no catalog yet: none is stored and the registry has not answered \\(.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED`,
      ),
    );
    // Live all the same: the process is fine, only its input is missing.
    expect((await getJson(daemon, "/healthz")).status).toBe(200);
  });

  it("is 200 with a note when the registry answers with an empty catalog", async () => {
    daemon = await startTestDaemon(testConfig(registry.port, dbPath));
    expect(await readyz(daemon)).toEqual({
      status: 200,
      body: {
        status: "ready",
        note: `the registry at 127.0.0.1:${registry.port} answered with an empty catalog: no adapters to watch yet`,
      },
    });
  });

  it("is 503 once the registry that answered an empty catalog stops answering", async () => {
    daemon = await startTestDaemon(testConfig(registry.port, dbPath));
    expect((await readyz(daemon)).status).toBe(200);
    registry.stop();
    expect((await daemon.syncNow()).ok).toBe(false);
    const running = daemon;
    await vi.waitFor(
      async () => {
        const answer = await readyz(running);
        expect(answer.status).toBe(503);
        expect(answer.body.detail).toMatch(
          new RegExp(
            `^the catalog is empty and the registry at 127\\.0\\.0\\.1:${registry.port} is unreachable: its last answer was at \\d{4}-\\d\\d-\\d\\dT`,
          ),
        );
      },
      { timeout: 3_000 },
    );
  });

  it("is 503 on a stored empty catalog while the registry is down, 200 on a stored one with adapters", async () => {
    // A first run stores the registry's empty answer.
    const first = await startTestDaemon(testConfig(registry.port, dbPath));
    await first.stop();
    registry.stop();
    daemon = await startTestDaemon(testConfig(registry.port, dbPath));
    const empty = await readyz(daemon);
    expect(empty.status).toBe(503);
    expect(empty.body.detail).toMatch(
      new RegExp(
        `^the stored catalog is empty and the registry at 127\\.0\\.0\\.1:${registry.port} has not answered since start-up \\(`,
      ),
    );
    await daemon.stop();
    daemon = undefined;

    // A run against a registry with one adapter stores it; then the registry is down again.
    const second = await new FakeRegistry().start();
    second.entries = [FakeRegistry.entry({})];
    try {
      const stocked = await startTestDaemon(testConfig(second.port, dbPath));
      expect(stocked.view.size).toBe(1);
      await stocked.stop();
    } finally {
      second.stop();
    }
    daemon = await startTestDaemon(testConfig(second.port, dbPath));
    expect(await readyz(daemon)).toEqual({
      status: 200,
      body: { status: "ready", note: "catalog from storage, registry not yet confirmed" },
    });
  });

  it("is 503 on an empty catalog with the registry turned off", async () => {
    const config = parseConfigText(
      `oneiric_mcp: { enabled: false }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
  log: { level: silent }`,
      "test-config.yaml",
      {},
    );
    daemon = await startTestDaemon(config);
    expect(await readyz(daemon)).toMatchObject({
      status: 503,
      body: {
        detail:
          "the catalog is empty and oneiric_mcp.enabled is false: no registry to fill it, nothing to watch",
      },
    });
  });
});
