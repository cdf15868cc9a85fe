import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AdapterRegistryServer,
  AdapterRegistryService,
  HealthCheckResponse,
  HeartbeatResponse,
  type ListRequest,
} from "../src/gen/oneiric/registry/v1/registry.js";
import { GrpcRegistryClient, RegistryError } from "../src/registry/registry-client.js";
import { type EndpointPolicyOptions, RegistryEndpoint } from "../src/registry/registry-endpoint.js";
import {
  type LinkState,
  RegistryGateway,
  RegistryUnavailableError,
} from "../src/registry/registry-gateway.js";
import { FakeRegistry } from "./support/fake-registry.js";

const TIMEOUT_MS = 1_000;
const POLICY: EndpointPolicyOptions = {
  breakerThreshold: 3,
  halfOpenAfterMs: 50,
  maxHalfOpenAfterMs: 200,
  maxConcurrentCalls: 8,
  maxQueuedCalls: 8,
};

const servers: Server[] = [];
const endpoints: RegistryEndpoint[] = [];

afterEach(() => {
  for (const endpoint of endpoints.splice(0)) endpoint.close();
  for (const server of servers.splice(0)) server.forceShutdown();
});

async function listen(server: Server, port = 0): Promise<number> {
  servers.push(server);
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
}

/** A gateway over one real gRPC client of 127.0.0.1:`port`. */
function gatewayFor(
  port: number,
  options: {
    onLinkChange?: (state: LinkState) => void;
    observed?: string[];
  } = {},
): { gateway: RegistryGateway; endpoint: RegistryEndpoint } {
  const client = new GrpcRegistryClient({
    host: "127.0.0.1",
    port,
    timeoutMs: TIMEOUT_MS,
    useTls: false,
    observe: (operation, result) => options.observed?.push(`${operation} ${result}`),
  });
  const endpoint = new RegistryEndpoint(client, "primary", POLICY, () => {});
  endpoints.push(endpoint);
  const gateway = new RegistryGateway({
    endpoints: [endpoint],
    cacheTtlMs: 60_000,
    lastKnown: { entries: () => [], syncedAt: () => null, verdict: () => undefined },
    now: Date.now,
    ...(options.onLinkChange ? { onLinkChange: options.onLinkChange } : {}),
  });
  return { gateway, endpoint };
}

/**
 * A server at the registry's address whose ListAdapters writes the bytes of
 * another message, as a misrouted proxy might: the method path is right, the
 * response serializer is another message's.
 */
async function impostor(bytes: () => Uint8Array): Promise<{ port: number; calls: () => number }> {
  let calls = 0;
  const server = new Server();
  server.addService(
    {
      listAdapters: {
        ...AdapterRegistryService.listAdapters,
        responseSerialize: (value: Uint8Array) => Buffer.from(value),
        responseDeserialize: (value: Buffer) => value,
      },
    },
    {
      listAdapters: (
        _call: ServerUnaryCall<ListRequest, Uint8Array>,
        done: sendUnaryData<Uint8Array>,
      ) => {
        calls++;
        done(null, bytes());
      },
    } as UntypedServiceImplementation,
  );
  const port = await listen(server);
  return { port, calls: () => calls };
}

describe("a registry that answers ListAdapters with another message", () => {
  it.each([
    [
      "a HealthCheckResponse (field 1 a bool)",
      () =>
        HealthCheckResponse.encode({ healthy: true, status: "healthy", message: "hi" }).finish(),
      "field 1 (adapters) has wire type 0 (varint), expected 2 (length-delimited)",
    ],
    [
      "a HeartbeatResponse (field 1 a bool)",
      () => HeartbeatResponse.encode({ registered: true }).finish(),
      "field 1 (adapters) has wire type 0 (varint), expected 2 (length-delimited)",
    ],
    [
      "a HealthCheckResponse saying unhealthy (only fields 2 and 3)",
      () =>
        HealthCheckResponse.encode({ healthy: false, status: "unhealthy", message: "x" }).finish(),
      "hold no field 1 (adapters), only field(s) unknown to it: 2, 3",
    ],
  ])("is a failed catalog fetch, every time, for %s", async (_name, bytes, detail) => {
    const server = await impostor(bytes);
    const observed: string[] = [];
    const { gateway, endpoint } = gatewayFor(server.port, { observed });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failure = await gateway.fetchCatalog().then(
        (catalog) => catalog,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RegistryError);
      expect((failure as RegistryError).kind).toBe("bad_answer");
      expect((failure as Error).message).toContain(
        `ListAdapters: the answer of registry 127.0.0.1:${server.port} is not a ListResponse: `,
      );
      expect((failure as Error).message).toContain(detail);
    }
    expect(server.calls()).toBe(2);
    expect(observed).toEqual(["ListAdapters bad_answer", "ListAdapters bad_answer"]);
    // The link is not giving usable answers: the endpoint is unreachable.
    expect(endpoint.status()).toMatchObject({ reachable: false, breaker: "closed" });
    expect(gateway.linkState().reachable).toBe(false);
  });

  it("opens the endpoint's breaker after as many bad answers as its threshold", async () => {
    const server = await impostor(() => HeartbeatResponse.encode({ registered: true }).finish());
    const { gateway, endpoint } = gatewayFor(server.port);
    for (let attempt = 0; attempt < POLICY.breakerThreshold; attempt++) {
      await expect(gateway.fetchCatalog()).rejects.toMatchObject({ kind: "bad_answer" });
    }
    expect(endpoint.breakerState).toBe("open");
    await expect(gateway.fetchCatalog()).rejects.toThrow("circuit breaker is open");
    expect(server.calls()).toBe(POLICY.breakerThreshold);
  });

  it("still reads a real registry's empty catalog as empty", async () => {
    const registry = await new FakeRegistry().start();
    try {
      const { gateway } = gatewayFor(registry.port);
      expect(await gateway.fetchCatalog()).toEqual({
        entries: [],
        endpoint: `127.0.0.1:${registry.port}`,
      });
      registry.entries = [FakeRegistry.entry({ adapterId: "fake.adapter.storage.s3" })];
      expect((await gateway.fetchCatalog()).entries.map((entry) => entry.adapterId)).toEqual([
        "fake.adapter.storage.s3",
      ]);
    } finally {
      registry.stop();
    }
  });
});

describe("the registry link's reachability, from any RPC", () => {
  const implementation: AdapterRegistryServer = {
    listAdapters: (_call, done) => done(null, { adapters: [] }),
    getAdapter: (_call, done) => done(null, { adapter: undefined }),
    healthCheck: (_call, done) => done(null, { healthy: true, status: "healthy", message: "" }),
    heartbeat: (_call, done) => done(null, { registered: true }),
    registerAdapter: (_call, done) => done(null, { success: false, message: "" }),
    unregisterAdapter: (_call, done) => done(null, { success: false }),
  };
  async function registry(port = 0): Promise<{ server: Server; port: number }> {
    const server = new Server();
    server.addService(AdapterRegistryService, implementation);
    return { server, port: await listen(server, port) };
  }

  it("goes unreachable on one failed HealthCheck within twice the timeout, and reachable once a call succeeds again", async () => {
    const first = await registry();
    const changes: { state: LinkState; at: number }[] = [];
    const { gateway } = gatewayFor(first.port, {
      onLinkChange: (state) => changes.push({ state, at: performance.now() }),
    });
    await gateway.askRegistryHealth("a");
    expect(gateway.linkState()).toEqual({
      reachable: true,
      endpoint: `127.0.0.1:${first.port}`,
      lastError: null,
    });
    expect(changes).toEqual([]);

    first.server.forceShutdown();
    const began = performance.now();
    const call = gateway.askRegistryHealth("a").then(
      () => null,
      (error: unknown) => error,
    );
    await vi.waitFor(() => expect(changes).toHaveLength(1), {
      timeout: 2 * TIMEOUT_MS,
      interval: 10,
    });
    expect(changes[0]?.at).toBeLessThan(began + 2 * TIMEOUT_MS);
    expect(changes[0]?.state).toEqual({
      reachable: false,
      endpoint: `127.0.0.1:${first.port}`,
      lastError: expect.stringContaining(`HealthCheck: registry 127.0.0.1:${first.port}`),
    });
    expect(await call).toBeInstanceOf(RegistryUnavailableError);
    expect(gateway.linkState().reachable).toBe(false);

    // Back on the same address: the first call that gets through reports the recovery.
    await registry(first.port);
    await vi.waitFor(
      async () => {
        await gateway.askRegistryHealth("a");
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(changes.map((change) => change.state)).toEqual([
      expect.objectContaining({ reachable: false }),
      { reachable: true, endpoint: `127.0.0.1:${first.port}`, lastError: null },
    ]);
  });

  it("follows a Heartbeat as it follows a HealthCheck", async () => {
    const first = await registry();
    const seen: boolean[] = [];
    const { gateway } = gatewayFor(first.port, {
      onLinkChange: (state) => seen.push(state.reachable),
    });
    first.server.forceShutdown();
    await expect(gateway.sendHeartbeat("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(seen).toEqual([false]);
    await registry(first.port);
    await vi.waitFor(
      async () => {
        expect(await gateway.sendHeartbeat("a")).toMatchObject({ registered: true });
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(seen).toEqual([false, true]);
  });
});
