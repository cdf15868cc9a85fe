import { status as grpcStatus, Server, ServerCredentials } from "@grpc/grpc-js";
import {
  type AdapterEntry,
  type AdapterRegistryServer,
  AdapterRegistryService,
  type ListResponse,
} from "../../src/gen/oneiric/registry/v1/registry.js";

/**
 * A registry whose answers a test sets entry by entry, including malformed ones
 * the simulator would never produce.
 */
export class FakeRegistry {
  entries: AdapterEntry[] = [];
  /** ListAdapters calls received. */
  listCalls = 0;
  /** How long ListAdapters takes to answer. */
  listDelayMs = 0;
  /** How long GetAdapter and HealthCheck take to answer. */
  callDelayMs = 0;
  /**
   * When set, ListAdapters answers with these bytes instead of a ListResponse (the
   * bytes of another message type, as a misrouted proxy would send).
   */
  rawListAnswer: Uint8Array | undefined;
  private readonly server = new Server();
  port = 0;

  static entry(fields: Partial<AdapterEntry>): AdapterEntry {
    return {
      adapterId: "fake.adapter.storage.s3",
      project: "fake",
      domain: "adapter",
      category: "storage",
      provider: "s3",
      capabilities: [],
      factoryPath: "",
      healthCheckUrl: "",
      metadata: {},
      registeredAt: 1_700_000_000,
      lastHeartbeat: 1_700_000_000,
      healthStatus: "healthy",
      ...fields,
    };
  }

  async start(): Promise<this> {
    const implementation: AdapterRegistryServer = {
      listAdapters: (_call, callback) => {
        this.listCalls++;
        const raw = this.rawListAnswer;
        // The serializer below writes raw bytes as they are.
        const answer = raw ? (raw as unknown as ListResponse) : { adapters: this.entries };
        setTimeout(() => callback(null, answer), this.listDelayMs);
      },
      getAdapter: (call, callback) => {
        const adapter = this.entries.find((entry) => entry.adapterId === call.request.adapterId);
        setTimeout(() => {
          if (adapter) callback(null, { adapter });
          else callback({ code: grpcStatus.NOT_FOUND, details: "unknown" });
        }, this.callDelayMs);
      },
      healthCheck: (call, callback) => {
        const adapter = this.entries.find((entry) => entry.adapterId === call.request.adapterId);
        setTimeout(() => {
          if (!adapter) callback({ code: grpcStatus.NOT_FOUND, details: "unknown" });
          else
            callback(null, {
              healthy: adapter.healthStatus === "healthy",
              status: adapter.healthStatus,
              message: "",
            });
        }, this.callDelayMs);
      },
      heartbeat: (_call, callback) => callback(null, { registered: true }),
      registerAdapter: (_call, callback) =>
        callback(null, { success: false, message: "read-only fake" }),
      unregisterAdapter: (_call, callback) => callback(null, { success: false }),
    };
    const listAdapters = AdapterRegistryService.listAdapters;
    this.server.addService(
      {
        ...AdapterRegistryService,
        listAdapters: {
          ...listAdapters,
          responseSerialize: (value: ListResponse | Uint8Array) =>
            value instanceof Uint8Array
              ? Buffer.from(value)
              : listAdapters.responseSerialize(value as ListResponse),
        },
      },
      implementation,
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    return this;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
