import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRegistry } from "../../test/support/fake-registry.js";
import type { AdapterEntry } from "../domain/adapter.js";
import { screenEntries } from "../domain/catalog.js";
import type { CatalogStep } from "../engine/health-engine.js";
import {
  HeartbeatResponse,
  ListResponse,
  type AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";
import { fromWireEntry, GrpcRegistryClient } from "../registry/registry-client.js";
import { RegistryEndpoint } from "../registry/registry-endpoint.js";
import { RegistryGateway } from "../registry/registry-gateway.js";
import type { RegistryState } from "../storage/store.js";
import { type CatalogSink, CatalogSync } from "./catalog-sync.js";

/** The committed catalog in memory, as the engine would hold it; counts whole-catalog reads. */
class MemoryCatalog implements CatalogSink {
  readonly catalog = new Map<string, AdapterEntry>();
  readonly steps: CatalogStep[] = [];
  wholeReads = 0;
  refuseNextCommit = false;
  private registry: RegistryState = {
    endpoint: "registry",
    reachable: false,
    lastSync: null,
    lastAttempt: null,
    lastError: null,
  };

  entries(): AdapterEntry[] {
    this.wholeReads++;
    return [...this.catalog.values()];
  }
  registryState(): RegistryState {
    return this.registry;
  }
  commitCatalog(step: CatalogStep): void {
    if (this.refuseNextCommit) {
      this.refuseNextCommit = false;
      throw new Error("disk full");
    }
    for (const entry of [...step.added, ...step.updated, ...(step.refreshed ?? [])]) {
      this.catalog.set(entry.adapterId, entry);
    }
    for (const adapterId of step.removed) this.catalog.delete(adapterId);
    if (step.registry) this.registry = step.registry;
    this.steps.push(step);
  }
  recordRegistry(state: RegistryState): void {
    this.registry = state;
  }
}

function wireEntry(index: number, fields: Partial<WireAdapterEntry> = {}): WireAdapterEntry {
  return FakeRegistry.entry({
    adapterId: `fake.adapter.storage.a${index}`,
    healthCheckUrl: `http://127.0.0.1:9000/a${index}`,
    capabilities: ["read"],
    metadata: { zone: `z${index % 3}` },
    ...fields,
  });
}

/** What a full decode and screening of the registry's list gives: the catalog to expect. */
function screened(entries: readonly WireAdapterEntry[]): AdapterEntry[] {
  return screenEntries(entries.map(fromWireEntry)).entries;
}

describe("CatalogSync with a registry over gRPC", () => {
  let registry: FakeRegistry;
  let client: GrpcRegistryClient;
  let sink: MemoryCatalog;
  let sync: CatalogSync;
  let clock = 1_000_000;

  beforeEach(async () => {
    registry = await new FakeRegistry().start();
    client = new GrpcRegistryClient({
      host: "127.0.0.1",
      port: registry.port,
      timeoutMs: 10_000,
      useTls: false,
    });
    const endpoint = new RegistryEndpoint(
      client,
      "primary",
      {
        breakerThreshold: 100,
        halfOpenAfterMs: 10,
        maxHalfOpenAfterMs: 10,
        maxConcurrentCalls: 4,
        maxQueuedCalls: 4,
      },
      () => {},
    );
    const gateway = new RegistryGateway({
      endpoints: [endpoint],
      cacheTtlMs: 60_000,
      lastKnown: { entries: () => [], syncedAt: () => null, verdict: () => undefined },
      now: () => clock,
    });
    sink = new MemoryCatalog();
    sync = new CatalogSync(gateway, sink, pino({ level: "silent" }), () => clock);
  });

  afterEach(() => {
    client.close();
    registry.stop();
  });

  async function syncAndCheck() {
    clock += 60_000;
    const result = await sync.syncOnce();
    expect(result.ok).toBe(true);
    expect([...sink.catalog.values()]).toEqual(expect.arrayContaining(screened(registry.entries)));
    expect(sink.catalog.size).toBe(screened(registry.entries).length);
    return result;
  }

  it("follows additions, changes, new readings and removals, comparing by the answer's changes", async () => {
    registry.entries = Array.from({ length: 40 }, (_, index) => wireEntry(index));
    expect(await syncAndCheck()).toMatchObject({ added: 40, updated: 0, removed: 0 });
    // The first answer is compared with the committed catalog as a whole.
    expect(sink.wholeReads).toBe(1);

    expect(await syncAndCheck()).toMatchObject({ added: 0, updated: 0, removed: 0 });
    registry.entries = registry.entries.map((entry, index) =>
      index === 4 ? { ...entry, lastHeartbeat: entry.lastHeartbeat + 30 } : entry,
    );
    expect(await syncAndCheck()).toMatchObject({ added: 0, updated: 0, removed: 0 });
    expect(sink.steps.at(-1)?.refreshed?.map((entry) => entry.adapterId)).toEqual([
      "fake.adapter.storage.a4",
    ]);
    registry.entries = [
      ...registry.entries
        .slice(0, 10)
        .map((entry, index) => (index === 7 ? { ...entry, provider: "gcs" } : entry)),
      ...registry.entries.slice(12),
      wireEntry(99),
    ];
    expect(await syncAndCheck()).toMatchObject({ added: 1, updated: 1, removed: 2 });
    const types = sink.steps.at(-1)?.events.map((event) => `${event.type} ${event.subject}`);
    expect(types).toEqual([
      "adapter.discovered fake.adapter.storage.a99",
      "adapter.updated fake.adapter.storage.a7",
      "adapter.removed fake.adapter.storage.a10",
      "adapter.removed fake.adapter.storage.a11",
    ]);
    // Every answer after the first was compared by its own changes.
    expect(sink.wholeReads).toBe(1);
  });

  it("keeps the catalog on a truncated answer or another message, then carries on", async () => {
    registry.entries = Array.from({ length: 20 }, (_, index) => wireEntry(index));
    await syncAndCheck();
    const before = new Map(sink.catalog);
    const good = ListResponse.encode({ adapters: registry.entries }).finish();

    registry.rawListAnswer = good.subarray(0, good.length - 9);
    clock += 60_000;
    const truncated = await sync.syncOnce();
    expect(truncated.ok).toBe(false);
    expect(truncated.error).toContain("answer could not be decoded");
    expect(sink.catalog).toEqual(before);
    expect(sink.registryState().reachable).toBe(false);

    registry.rawListAnswer = HeartbeatResponse.encode({ registered: true }).finish();
    clock += 60_000;
    const wrongMessage = await sync.syncOnce();
    expect(wrongMessage.ok).toBe(false);
    expect(wrongMessage.error).toContain("is not a ListResponse");
    expect(sink.catalog).toEqual(before);

    registry.rawListAnswer = undefined;
    registry.entries = registry.entries.slice(1);
    expect(await syncAndCheck()).toMatchObject({ added: 0, updated: 0, removed: 1 });
    expect(sink.wholeReads).toBe(1);
  });

  it("compares the whole catalog again after a refused commit and while a removal is held", async () => {
    registry.entries = Array.from({ length: 10 }, (_, index) => wireEntry(index));
    await syncAndCheck();

    registry.entries = [...registry.entries, wireEntry(10)];
    sink.refuseNextCommit = true;
    clock += 60_000;
    expect((await sync.syncOnce()).ok).toBe(false);
    expect(sink.catalog.size).toBe(10);
    // The answer before was never committed: the next is compared with the catalog itself.
    expect(await syncAndCheck()).toMatchObject({ added: 1 });
    expect(sink.wholeReads).toBe(2);

    // Most of the catalog gone at once: held back, the catalog kept.
    const full = registry.entries;
    registry.entries = full.slice(0, 2);
    clock += 60_000;
    expect(await sync.syncOnce()).toMatchObject({ ok: true, removed: 0, held: 9 });
    expect(sink.catalog.size).toBe(11);
    registry.entries = full;
    expect(await syncAndCheck()).toMatchObject({ added: 0, removed: 0, held: 0 });
    expect(sink.wholeReads).toBe(3);
    expect(await syncAndCheck()).toMatchObject({ added: 0, removed: 0 });
    expect(sink.wholeReads).toBe(3);
  });
});
