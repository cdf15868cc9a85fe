import { X509Certificate } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createSecureContext } from "node:tls";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthService } from "../gen/grpc/health/v1/health.js";
import {
  type AdapterEntry,
  type AdapterRegistryServer,
  AdapterRegistryService,
} from "../gen/oneiric/registry/v1/registry.js";
import { AddressInUseError, isAddressInUse } from "../lifecycle/address-in-use.js";
import { AdapterTable, type BehaviourOverride } from "./adapter-table.js";
import { createHealthService } from "./health-service.js";
import { createHttpHealthHandler, ProbeCounts } from "./http-health-server.js";
import { createJwtGuard, type JwtGuard } from "./jwt-guard.js";
import { connectableHost, formatHostPort, parseListenAddress } from "./listen-address.js";
import { createRegistryService } from "./registry-service.js";
import type { EndpointKind, Scenario } from "./scenario.js";
import { DEFAULT_SIMULATOR_LISTEN } from "./simulator-defaults.js";

export type { BehaviourOverride } from "./adapter-table.js";

/** Transport and call security for the gRPC server, as a production registry would require. */
export interface SimulatorSecurity {
  /**
   * Serve gRPC (AdapterRegistry and grpc.health.v1) over TLS. The per-adapter HTTP health
   * endpoints stay plain HTTP: they model the adapters' own endpoints, not the registry.
   */
  tls?: {
    certPem: Buffer | string;
    keyPem: Buffer | string;
    /** CA that signs client certs; when set, a client certificate is required (mTLS) */
    clientCaPem?: Buffer | string;
  };
  /**
   * Require `authorization: Bearer <HS256 JWT>` on every AdapterRegistry RPC. grpc.health.v1
   * stays open: its services model the adapters' health endpoints.
   */
  jwt?: {
    secret: string;
    /** when set, the token's `project` claim must equal it */
    project?: string;
  };
}

export interface SimulatorOptions {
  scenario: Scenario;
  /** gRPC `HOST:PORT` for AdapterRegistry and grpc.health.v1; port 0 picks a free one. */
  listen?: string;
  /** HTTP `HOST:PORT` for the per-adapter health endpoints; default: the gRPC host, port 0. */
  httpListen?: string;
  /**
   * Host written into health_check_url; default: the bound host, with a wildcard address
   * (0.0.0.0, ::) replaced by loopback.
   */
  advertiseHost?: string;
  /** Clock in milliseconds since the epoch; elapsed scenario time is now() minus the start. */
  now?: () => number;
  /** Values in [0, 1), for intermittent adapters. */
  random?: () => number;
  /** How often open Watch streams re-read the time model (default 100 ms). */
  watchIntervalMs?: number;
  /** TLS, mTLS and JWT requirements; default none (plaintext, no token). */
  security?: SimulatorSecurity;
}

export interface RunningSimulator {
  /** The gRPC address actually bound, e.g. `127.0.0.1:40123`. */
  readonly registryAddress: string;
  readonly registryPort: number;
  /** The HTTP address actually bound, e.g. `127.0.0.1:40124`. */
  readonly httpAddress: string;
  readonly httpPort: number;
  /** The clock reading at start, in milliseconds. */
  readonly startedAtMs: number;
  /** The entries as ListAdapters would serve them now (copies). */
  readonly adapters: AdapterEntry[];
  /** Milliseconds of scenario time elapsed. */
  elapsedMs(): number;
  /** HTTP checks answered so far: adapter id → the prober's user agent → count. */
  probeCounts(): Map<string, Map<string, number>>;
  /**
   * Replaces an adapter's scripted behaviour live, e.g. `setBehaviour(id, "down")`; `null`
   * restores the scenario's script. Throws a RangeError for an unknown id or a bad script.
   */
  setBehaviour(adapterId: string, override: BehaviourOverride | null): void;
  /** Ends Watch streams, answers or drops delayed checks and closes both servers. */
  stop(): Promise<void>;
}

// How long stop() lets in-flight calls finish before cutting them off.
const GRACEFUL_STOP_MS = 1_000;

/** Starts the registry simulator; resolves once both servers are listening. */
export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const listen = parseListenAddress(options.listen ?? DEFAULT_SIMULATOR_LISTEN);
  // Built before anything binds, so a bad secret or PEM fails early with a clear message.
  const grpcCredentials = serverCredentials(options.security?.tls);
  const jwt = options.security?.jwt;
  const guard = jwt === undefined ? undefined : createJwtGuard(jwt);
  const httpListen =
    options.httpListen === undefined
      ? { host: listen.host, port: 0 }
      : parseListenAddress(options.httpListen);

  // Ports are known only after binding; the table builds URLs on every read, and no read
  // happens before both servers are bound.
  const ports = { grpc: 0, http: 0 };
  const grpcHost = options.advertiseHost ?? connectableHost(listen.host);
  // The adapters' gRPC health endpoints share the registry's server, so they speak TLS too.
  const grpcScheme = options.security?.tls === undefined ? "grpc" : "grpcs";
  const httpHost = options.advertiseHost ?? connectableHost(httpListen.host);
  const healthCheckUrl = (adapterId: string, endpoint: EndpointKind): string => {
    switch (endpoint) {
      case "http":
        return `http://${formatHostPort(httpHost, ports.http)}/health/${encodeURIComponent(adapterId)}`;
      case "grpc":
        return `${grpcScheme}://${formatHostPort(grpcHost, ports.grpc)}/${adapterId}`;
      case "none":
        return "";
    }
  };

  const table = new AdapterTable({
    adapters: options.scenario.adapters,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
    healthCheckUrl,
  });
  const health = createHealthService(table, { watchIntervalMs: options.watchIntervalMs ?? 100 });
  const probes = new ProbeCounts();
  const http = createHttpHealthHandler(table, probes);

  const httpServer = createServer(http.handle);
  const grpcServer = new Server();
  const registry = createRegistryService(table);
  grpcServer.addService(
    AdapterRegistryService,
    guard === undefined ? registry : guardRegistry(registry, guard),
  );
  grpcServer.addService(HealthService, health.implementation);

  ports.http = await listenHttp(httpServer, httpListen.host, httpListen.port);
  try {
    ports.grpc = await bindGrpc(
      grpcServer,
      formatHostPort(listen.host, listen.port),
      grpcCredentials,
    );
  } catch (error) {
    await closeHttp(httpServer);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      health.close();
      http.close();
      await Promise.all([shutdownGrpc(grpcServer), closeHttp(httpServer)]);
    })();
    return stopping;
  };

  return {
    registryAddress: formatHostPort(connectableHost(listen.host), ports.grpc),
    registryPort: ports.grpc,
    httpAddress: formatHostPort(connectableHost(httpListen.host), ports.http),
    httpPort: ports.http,
    startedAtMs: table.startedAtMs,
    get adapters() {
      return table.list();
    },
    elapsedMs: () => table.elapsedMs(),
    probeCounts: () => probes.snapshot(),
    setBehaviour: (adapterId, override) => table.setBehaviour(adapterId, override),
    stop,
  };
}

function listenHttp(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        isAddressInUse(error)
          ? new AddressInUseError("simulator HTTP", formatHostPort(host, port))
          : new Error(`cannot listen on ${formatHostPort(host, port)} (HTTP): ${error.message}`),
      );
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function serverCredentials(tls: SimulatorSecurity["tls"]): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const cert = Buffer.from(tls.certPem);
  const key = Buffer.from(tls.keyPem);
  const clientCa = tls.clientCaPem === undefined ? null : Buffer.from(tls.clientCaPem);
  // grpc-js checks nothing here: a bad certificate or key would surface as a misleading
  // "cannot listen" from bind, and a bad client CA not at all (every client would then be
  // refused), so both are parsed up front.
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(`invalid TLS certificate or key: ${(error as Error).message}`);
  }
  if (clientCa !== null) {
    try {
      new X509Certificate(clientCa);
    } catch (error) {
      throw new Error(`invalid TLS client CA certificate: ${(error as Error).message}`);
    }
  }
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: cert, private_key: key }],
    clientCa !== null,
  );
}

/**
 * Every registry RPC behind the token check. Listed one by one rather than mapped over the
 * object: a new RPC in the proto then fails to compile here instead of going unguarded.
 */
function guardRegistry(registry: AdapterRegistryServer, guard: JwtGuard): AdapterRegistryServer {
  return {
    listAdapters: guard.unary(registry.listAdapters),
    getAdapter: guard.unary(registry.getAdapter),
    healthCheck: guard.unary(registry.healthCheck),
    heartbeat: guard.unary(registry.heartbeat),
    registerAdapter: guard.unary(registry.registerAdapter),
    unregisterAdapter: guard.unary(registry.unregisterAdapter),
  };
}

function bindGrpc(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (error, port) => {
      if (error === null) resolve(port);
      else if (isAddressInUse(error)) reject(new AddressInUseError("simulated registry", address));
      else reject(new Error(`cannot listen on ${address} (gRPC): ${error.message}`));
    });
  });
}

function shutdownGrpc(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), GRACEFUL_STOP_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    // Idle keep-alive connections would otherwise hold close() open for their whole timeout.
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
