import { describe, expect, it, vi } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import type { AdapterEntry } from "../domain/adapter.js";
import { ListResponse } from "../gen/oneiric/registry/v1/registry.js";
import {
  type ListFilter,
  type Registry,
  RegistryError,
  type RegistryHealth,
} from "./registry-client.js";
import { type EndpointPolicyOptions, RegistryEndpoint } from "./registry-endpoint.js";
import {
  type LastKnownState,
  type LinkState,
  RegistryGateway,
  RegistryUnavailableError,
} from "./registry-gateway.js";

/** A registry client whose every RPC answers, or fails with `failure`, as a test sets it. */
class FakeClient implements Registry {
  failure: RegistryError | null = null;
  entries: AdapterEntry[] = [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })];
  calls = 0;
  constructor(readonly endpoint: string) {}

  private answer<T>(value: () => T): Promise<T> {
    this.calls++;
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(value());
  }
  listAdapters(_filter?: ListFilter): Promise<AdapterEntry[]> {
    return this.answer(() => this.entries);
  }
  async readListAdapters<T>(
    _filter: ListFilter,
    read: (answer: Uint8Array) => Promise<T>,
  ): Promise<T> {
    const adapters = await this.answer(() =>
      this.entries.map(({ registryStatus, ...entry }) => ({
        ...entry,
        healthStatus: registryStatus,
      })),
    );
    return read(ListResponse.encode({ adapters }).finish());
  }
  getAdapter(adapterId: string): Promise<AdapterEntry> {
    const found = this.entries.find((candidate) => candidate.adapterId === adapterId);
    if (!found && !this.failure) {
      this.calls++;
      return Promise.reject(new RegistryError("not_found", `GetAdapter: not found: ${adapterId}`));
    }
    return this.answer(() => found as AdapterEntry);
  }
  checkAdapterHealth(_adapterId: string): Promise<RegistryHealth> {
    return this.answer(() => ({ healthy: true, status: "healthy", message: "" }));
  }
  sendHeartbeat(_adapterId: string): Promise<boolean> {
    return this.answer(() => true);
  }
  close(): void {}
}

const POLICY: EndpointPolicyOptions = {
  breakerThreshold: 3,
  halfOpenAfterMs: 20,
  maxHalfOpenAfterMs: 40,
  maxConcurrentCalls: 8,
  maxQueuedCalls: 8,
};

const NOTHING_STORED: LastKnownState = {
  entries: () => [],
  syncedAt: () => null,
  verdict: () => undefined,
};

function setUp(
  names: string[],
  options: {
    policy?: Partial<EndpointPolicyOptions>;
    lastKnown?: LastKnownState;
    onLinkChange?: (state: LinkState) => void;
    onListenerError?: (error: unknown) => void;
    restored?: { lastOk: number | null; lastError: string | null };
  } = {},
) {
  const clients = names.map((name) => new FakeClient(name));
  const endpoints = clients.map(
    (client, index) =>
      new RegistryEndpoint(
        client,
        index === 0 ? "primary" : "secondary",
        { ...POLICY, ...options.policy },
        () => {},
        Date.now,
        options.restored,
      ),
  );
  const gateway = new RegistryGateway({
    endpoints,
    cacheTtlMs: 60_000,
    lastKnown: options.lastKnown ?? NOTHING_STORED,
    now: Date.now,
    ...(options.onLinkChange ? { onLinkChange: options.onLinkChange } : {}),
    ...(options.onListenerError ? { onListenerError: options.onListenerError } : {}),
  });
  return { clients, endpoints, gateway };
}

const BAD_ANSWER = (endpoint: string) =>
  new RegistryError(
    "bad_answer",
    `ListAdapters: the answer of registry ${endpoint} is not a ListResponse: field 1 (adapters) has wire type 0 (varint), expected 2 (length-delimited)`,
  );
const DOWN = (endpoint: string) =>
  new RegistryError("timeout", `registry ${endpoint} did not answer in time`);

describe("RegistryGateway.fetchCatalog and answers of the wrong message type", () => {
  it("throws a bad_answer RegistryError, not an empty catalog, and the endpoint goes unreachable", async () => {
    const { clients, endpoints, gateway } = setUp(["primary:1"]);
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = BAD_ANSWER("primary:1");
    const failure = await gateway.fetchCatalog().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryError);
    expect(failure).toMatchObject({
      kind: "bad_answer",
      message:
        "ListAdapters: the answer of registry primary:1 is not a ListResponse: field 1 (adapters) has wire type 0 (varint), expected 2 (length-delimited)",
    });
    expect(endpoints[0]?.status()).toMatchObject({
      reachable: false,
      lastError: expect.stringContaining("is not a ListResponse"),
    });
    // Not retried: the same address would give the same answer.
    expect(client.calls).toBe(1);
  });

  it("counts bad answers against the endpoint's breaker", async () => {
    const { clients, endpoints, gateway } = setUp(["primary:1"], {
      policy: { breakerThreshold: 2, halfOpenAfterMs: 60_000, maxHalfOpenAfterMs: 60_000 },
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = BAD_ANSWER("primary:1");
    await expect(gateway.fetchCatalog()).rejects.toMatchObject({ kind: "bad_answer" });
    expect(endpoints[0]?.breakerState).toBe("closed");
    await expect(gateway.fetchCatalog()).rejects.toMatchObject({ kind: "bad_answer" });
    expect(endpoints[0]?.breakerState).toBe("open");
    const third = gateway.fetchCatalog();
    await expect(third).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(gateway.fetchCatalog()).rejects.toThrow("circuit breaker is open");
    expect(client.calls).toBe(2);
  });

  it("takes the catalog from a secondary when the primary answers with something else", async () => {
    const { clients, gateway } = setUp(["primary:1", "secondary:2"]);
    const [primary, secondary] = clients;
    if (!primary || !secondary) throw new Error("no clients");
    primary.failure = BAD_ANSWER("primary:1");
    secondary.entries = [catalogEntry({ adapterId: "from-secondary" })];
    const catalog = await gateway.fetchCatalog();
    expect(catalog.endpoint).toBe("secondary:2");
    expect(catalog.entries.map((kept) => kept.adapterId)).toEqual(["from-secondary"]);
  });

  it("names the bad answer and every other endpoint's reason when none gives a catalog", async () => {
    const { clients, gateway } = setUp(["primary:1", "secondary:2"]);
    const [primary, secondary] = clients;
    if (!primary || !secondary) throw new Error("no clients");
    primary.failure = DOWN("primary:1");
    secondary.failure = BAD_ANSWER("secondary:2");
    const failure = await gateway.fetchCatalog().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryError);
    expect((failure as RegistryError).kind).toBe("bad_answer");
    expect((failure as Error).message).toBe(
      `registry primary:1 did not answer in time; ${BAD_ANSWER("secondary:2").message}`,
    );
  });

  it("still throws RegistryUnavailableError when no endpoint answered at all", async () => {
    const { clients, gateway } = setUp(["primary:1"]);
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = DOWN("primary:1");
    await expect(gateway.fetchCatalog()).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  it("lets a query fall back to the stored catalog on a bad answer", async () => {
    const stored = [catalogEntry({ adapterId: "stored" })];
    const { clients, gateway } = setUp(["primary:1"], {
      lastKnown: {
        entries: () => stored,
        syncedAt: () => Date.now() - 1_000,
        verdict: () => undefined,
      },
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = BAD_ANSWER("primary:1");
    const answer = await gateway.listAdapters({});
    expect(answer).toMatchObject({ source: "store", stale: true });
    expect(answer.value.map((kept) => kept.adapterId)).toEqual(["stored"]);
  });
});

describe("RegistryGateway.linkState and onLinkChange", () => {
  it("starts reachable at the primary, with no error", () => {
    const { gateway } = setUp(["primary:1", "secondary:2"]);
    expect(gateway.linkState()).toEqual({
      reachable: true,
      endpoint: "primary:1",
      lastError: null,
    });
  });

  it("starts unreachable when the primary's last error was restored and it is the only endpoint", () => {
    const { gateway } = setUp(["primary:1"], {
      restored: { lastOk: null, lastError: "from an earlier run" },
    });
    expect(gateway.linkState()).toEqual({
      reachable: false,
      endpoint: "primary:1",
      lastError: "from an earlier run",
    });
  });

  it("is reachable through a secondary while the primary fails, without a flip", async () => {
    const seen: LinkState[] = [];
    const { clients, gateway } = setUp(["primary:1", "secondary:2"], {
      onLinkChange: (state) => seen.push(state),
    });
    const [primary] = clients;
    if (!primary) throw new Error("no client");
    primary.failure = DOWN("primary:1");
    await gateway.askRegistryHealth("a");
    expect(gateway.linkState()).toEqual({
      reachable: true,
      endpoint: "secondary:2",
      lastError: "registry primary:1 did not answer in time",
    });
    expect(seen).toEqual([]);
  });

  it("fires once when every endpoint fails and once when one answers again", async () => {
    const seen: LinkState[] = [];
    const { clients, gateway } = setUp(["primary:1", "secondary:2"], {
      // Breakers stay closed here: this is about last outcomes alone.
      policy: { breakerThreshold: 10 },
      onLinkChange: (state) => seen.push(state),
    });
    const [primary, secondary] = clients;
    if (!primary || !secondary) throw new Error("no clients");
    primary.failure = DOWN("primary:1");
    secondary.failure = DOWN("secondary:2");
    await expect(gateway.sendHeartbeat("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(gateway.sendHeartbeat("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(seen).toEqual([
      {
        reachable: false,
        endpoint: "primary:1",
        lastError: "registry primary:1 did not answer in time",
      },
    ]);
    secondary.failure = null;
    await gateway.sendHeartbeat("a");
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual({
      reachable: true,
      endpoint: "secondary:2",
      lastError: "registry primary:1 did not answer in time",
    });
    primary.failure = null;
    await gateway.sendHeartbeat("a");
    // The primary is back too, but the aggregate did not flip: nothing more reported.
    expect(seen).toHaveLength(2);
    expect(gateway.linkState()).toEqual({
      reachable: true,
      endpoint: "primary:1",
      lastError: null,
    });
  });

  const rpcs: [string, (gateway: RegistryGateway) => Promise<unknown>][] = [
    ["ListAdapters (query)", (gateway) => gateway.listAdapters({ category: "storage" })],
    ["ListAdapters (catalog sync)", (gateway) => gateway.fetchCatalog()],
    ["GetAdapter", (gateway) => gateway.getAdapter("a")],
    ["HealthCheck", (gateway) => gateway.checkAdapterHealth("a")],
    ["HealthCheck (registry only)", (gateway) => gateway.askRegistryHealth("a")],
    ["Heartbeat", (gateway) => gateway.sendHeartbeat("a")],
  ];
  it.each(rpcs)("follows the link on %s alone", async (_name, rpc) => {
    const seen: boolean[] = [];
    const { clients, gateway } = setUp(["primary:1"], {
      onLinkChange: (state) => seen.push(state.reachable),
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = DOWN("primary:1");
    await rpc(gateway).catch(() => undefined);
    expect(seen).toEqual([false]);
    expect(gateway.linkState().reachable).toBe(false);
    client.failure = null;
    gateway.invalidateCache();
    await rpc(gateway);
    expect(seen).toEqual([false, true]);
    expect(client.calls).toBe(2);
  });

  it("counts a not-found answer as the registry answering", async () => {
    const seen: boolean[] = [];
    const { clients, gateway } = setUp(["primary:1"], {
      onLinkChange: (state) => seen.push(state.reachable),
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = DOWN("primary:1");
    await gateway.sendHeartbeat("a").catch(() => undefined);
    client.failure = null;
    await expect(gateway.getAdapter("unknown")).rejects.toThrow("is not in the registry");
    expect(seen).toEqual([false, true]);
  });

  it("is unreachable while the only endpoint's breaker is open, even with no last error", async () => {
    // An open breaker saved by an earlier run, restored with no last error.
    const { clients, endpoints } = setUp(["primary:1"], {
      policy: { breakerThreshold: 1, halfOpenAfterMs: 60_000, maxHalfOpenAfterMs: 60_000 },
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = DOWN("primary:1");
    await endpoints[0]?.sendHeartbeat("a").catch(() => undefined);
    const breakerJson = endpoints[0]?.status().breakerJson;
    expect(endpoints[0]?.breakerState).toBe("open");

    const restored = setUp(["primary:1"], {
      policy: {
        breakerThreshold: 1,
        halfOpenAfterMs: 60_000,
        maxHalfOpenAfterMs: 60_000,
        initialBreakerState: breakerJson,
      },
      restored: { lastOk: null, lastError: null },
    });
    expect(restored.endpoints[0]?.breakerState).toBe("open");
    expect(restored.gateway.linkState()).toEqual({
      reachable: false,
      endpoint: "primary:1",
      lastError: null,
    });
  });

  it("reports recovery through a half-open breaker's successful trial", async () => {
    const seen: LinkState[] = [];
    const { clients, endpoints, gateway } = setUp(["primary:1"], {
      policy: { breakerThreshold: 2, halfOpenAfterMs: 20, maxHalfOpenAfterMs: 20 },
      onLinkChange: (state) => seen.push(state),
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    client.failure = DOWN("primary:1");
    for (let attempt = 0; attempt < 3; attempt++) {
      await gateway.askRegistryHealth("a").catch(() => undefined);
    }
    expect(endpoints[0]?.breakerState).toBe("open");
    expect(seen.map((state) => state.reachable)).toEqual([false]);
    client.failure = null;
    await vi.waitFor(
      async () => {
        await gateway.askRegistryHealth("a");
      },
      { timeout: 2_000, interval: 10 },
    );
    expect(endpoints[0]?.breakerState).toBe("closed");
    expect(seen.map((state) => state.reachable)).toEqual([false, true]);
    expect(seen[1]).toEqual({ reachable: true, endpoint: "primary:1", lastError: null });
  });

  it("unsubscribes, and a throwing listener changes neither the call nor other listeners", async () => {
    const errors: unknown[] = [];
    const { clients, gateway } = setUp(["primary:1"], {
      onLinkChange: () => {
        throw new Error("listener bug");
      },
      onListenerError: (error) => errors.push(error),
    });
    const [client] = clients;
    if (!client) throw new Error("no client");
    const kept: boolean[] = [];
    const dropped: boolean[] = [];
    gateway.onLinkChange((state) => kept.push(state.reachable));
    const unsubscribe = gateway.onLinkChange((state) => dropped.push(state.reachable));
    client.failure = DOWN("primary:1");
    await expect(gateway.askRegistryHealth("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    unsubscribe();
    client.failure = null;
    // The recovering call still answers although a listener throws while it completes.
    await expect(gateway.askRegistryHealth("a")).resolves.toMatchObject({ endpoint: "primary:1" });
    expect(kept).toEqual([false, true]);
    expect(dropped).toEqual([false]);
    expect(errors).toHaveLength(2);
    expect(String(errors[0])).toContain("listener bug");
  });
});
