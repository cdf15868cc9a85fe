/**
 * The composition root: the only module that constructs concrete parts and
 * wires them together. Commands in cli.ts call into it.
 */

import type { AddressInfo } from "node:net";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { daemonHealthService } from "./api/grpc/daemon-health-service.js";
import { createHealthdService } from "./api/grpc/healthd-service.js";
import { addReflection } from "./api/grpc/reflection-service.js";
import { createRegistryService } from "./api/grpc/registry-service.js";
import { HttpApi } from "./api/http/http-server.js";
import { createMcpHttpHandler } from "./api/mcp/mcp-http.js";
import { localBackend } from "./api/query-backend.js";
import { QueryService } from "./api/query-service.js";
import type { DaemonConfig } from "./config/load.js";
import { type LocalRegistry, loadLocalRegistry } from "./config/local-registry-file.js";
import type { JournalEvent } from "./domain/events.js";
import { formatHostPort } from "./domain/host-port.js";
import { maintenanceFor } from "./domain/maintenance.js";
import type { AdapterStatusView, RegistryView } from "./domain/status-view.js";
import { toStatusView } from "./domain/status-view.js";
import { EventHub } from "./events/event-hub.js";
import { WebhookDispatcher } from "./events/webhook-dispatcher.js";
import { HealthService } from "./gen/grpc/health/v1/health.js";
import { HealthdService } from "./gen/oneiric/healthd/v1/healthd.js";
import { AdapterRegistryService } from "./gen/oneiric/registry/v1/registry.js";
import { DaemonMetrics } from "./metrics/metrics.js";
import { AdapterBreakers } from "./monitor/adapter-breakers.js";
import { AdapterChecker } from "./monitor/adapter-checker.js";
import { CatalogSync, type SyncResult } from "./monitor/catalog-sync.js";
import { CheckRunner } from "./monitor/check-runner.js";
import { HealthView, toRegistryView } from "./monitor/health-view.js";
import { MaintenanceService } from "./monitor/maintenance-service.js";
import { type PeriodicTask, runOnCron, runPeriodically } from "./monitor/periodic.js";
import { ProbeScheduler } from "./monitor/probe-scheduler.js";
import { ResolutionService } from "./monitor/resolution-service.js";
import { ResultCommitter } from "./monitor/result-committer.js";
import { SettingsBook } from "./monitor/settings-book.js";
import { packageVersion } from "./package-version.js";
import { GrpcHealthProbe } from "./probes/grpc-health-probe.js";
import { GrpcHealthWatcher } from "./probes/grpc-health-watcher.js";
import { HttpProbe } from "./probes/http-probe.js";
import { TcpProbe } from "./probes/tcp-probe.js";
import { JwtTokenSource } from "./registry/jwt-token-source.js";
import { GrpcRegistryClient } from "./registry/registry-client.js";
import { type EndpointStatus, RegistryEndpoint } from "./registry/registry-endpoint.js";
import { RegistryGateway } from "./registry/registry-gateway.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import type { EndpointState } from "./storage/store.js";

export interface DaemonDependencies {
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

export interface RunningDaemon {
  httpAddress: AddressInfo;
  grpcAddress: string;
  view: HealthView;
  /** The registry client API with its fallback chain. */
  gateway: RegistryGateway;
  /** "Which adapter should I use?", with failover tracking. */
  resolution: ResolutionService;
  maintenance: MaintenanceService;
  /** The one query service behind every transport. */
  queries: QueryService;
  /** Committed journal events, live, for streaming consumers. */
  hub: EventHub;
  /** Webhook subscribers: status, and `unpark(name)` to resume a parked one. */
  webhooks: WebhookDispatcher;
  /** Runs one catalog sync now. */
  syncNow(): Promise<SyncResult>;
  /** Checks every adapter now and commits the results. */
  checkAllNow(): Promise<void>;
  /** Journal events after `afterSeq`, oldest first. */
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  /** Stops scheduling, lets checks in flight finish, commits, closes everything. */
  stop(): Promise<void>;
}

/** Builds the root logger: pino JSON, secrets redacted wherever they appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: "oneiric-healthd",
      level,
      redact: {
        paths: [
          "jwt_secret",
          "*.jwt_secret",
          "jwtSecret",
          "*.jwtSecret",
          "authorization",
          "*.authorization",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination(1),
  );
}

export async function startDaemon(
  config: DaemonConfig,
  deps: DaemonDependencies,
): Promise<RunningDaemon> {
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  let ready = false;

  const store = new SqliteStore({
    path: config.storage.path,
    synchronous: config.storage.synchronous,
    now,
  });
  store.setMeta("stale_after_ms", String(config.probes.staleAfterMs));
  const localFile = config.fallback.localFile
    ? loadLocalRegistry(config.fallback.localFile)
    : undefined;
  const primaryEndpoint = formatHostPort(config.registry.host, config.registry.port);
  // Maintenance changes resolution without a health change: the committer re-checks failovers.
  let committerRef: ResultCommitter | undefined;
  const maintenance = new MaintenanceService(config.maintenance, store, now, (adapterIds) => {
    const ids =
      adapterIds === "all" ? view.allEntries().map((entry) => entry.adapterId) : adapterIds;
    for (const adapterId of ids) committerRef?.touch(adapterId);
  });
  const view = new HealthView(primaryEndpoint, config.probes.staleAfterMs, now, (adapterId) =>
    maintenance.current(adapterId),
  );
  view.restore(store.loadCatalog(), store.loadHealth(), store.loadRegistryState());
  logger.info({ db: config.storage.path, adapters: view.size }, "state restored");

  const metricsRegistry = new MetricsRegistry();
  const metrics = new DaemonMetrics(metricsRegistry, {
    countByStatus: () => view.countByStatus(),
    countConditions: () => view.countConditions(),
    registryReachable: () => view.registryState().reachable,
    lastSyncMs: () => view.registryState().lastSync,
    endpoints: () => gateway.endpoints.map((endpoint) => endpoint.status()),
    webhooks: () => webhooks.statuses(),
  });
  const gateway = buildRegistryGateway(config, { store, view, metrics, logger, now, localFile });
  const settings = new SettingsBook(
    config.adapters.defaults,
    config.adapters.overrides,
    config.flap,
  );
  const breakers = new AdapterBreakers();
  // Breakers come back as they were saved, windows and open state included.
  for (const entry of view.allEntries()) {
    const saved = view.state(entry.adapterId)?.breaker;
    if (saved) breakers.restore(entry.adapterId, settings.of(entry).breaker, saved.snapshot);
  }
  const resolution = new ResolutionService(
    view,
    maintenance,
    settings,
    { panic: config.resolution.panic },
    config.resolution.requirements,
  );
  const grpcProbe = new GrpcHealthProbe();
  const probes = [new HttpProbe(), grpcProbe, new TcpProbe()];
  const checker = new AdapterChecker(gateway, probes, metrics, now);
  const committer = new ResultCommitter(
    store,
    view,
    {
      policyOf: (adapterId) => {
        const entry = view.entry(adapterId);
        return entry ? settings.policyOf(entry) : undefined;
      },
      inMaintenance: (adapterId) => maintenance.current(adapterId) !== undefined,
      failovers: (pending, at, touched) => resolution.failovers(pending, at, touched),
    },
    metrics,
    logger.child({ component: "committer" }),
    now,
  );
  committerRef = committer;
  let runner: CheckRunner | undefined;
  const watcher = new GrpcHealthWatcher((update) => void runner?.pushed(update), { now });
  runner = new CheckRunner(
    checker,
    breakers,
    committer,
    settings,
    view,
    watcher,
    logger.child({ component: "checks" }),
    now,
    deps.random,
  );
  const scheduler = new ProbeScheduler(
    runner,
    {
      firstSpreadMs: (entry) => settings.of(entry).probes.intervalMs,
      concurrency: config.probes.concurrency,
      ...(deps.random ? { random: deps.random } : {}),
    },
    logger.child({ component: "scheduler" }),
  );
  const catalogSync = new CatalogSync(
    gateway,
    store,
    view,
    logger.child({ component: "sync" }),
    now,
    (entries) => scheduler.reconcile(entries),
    localFile,
  );

  const hub = new EventHub(store);
  // Loads (and, for new subscribers, fixes) cursors now; delivery starts once ready.
  const webhooks = new WebhookDispatcher({
    feed: hub,
    journal: store,
    subscribers: config.webhooks,
    logger: logger.child({ component: "webhooks" }),
    now,
    onAttempt: (subscriber, result) => metrics.webhookDeliveries.inc({ subscriber, result }),
  });
  for (const { name } of config.webhooks) {
    // Zero series from the start, so rate() and absent() alerts work before the first attempt.
    for (const result of ["delivered", "failed"]) {
      metrics.webhookDeliveries.inc({ subscriber: name, result }, 0);
    }
  }
  const queries = new QueryService({
    view,
    resolution,
    maintenance,
    gateway,
    hub,
    store,
    now,
    isReady: () => ready,
  });
  const http = new HttpApi({
    queries,
    hub,
    metrics: metricsRegistry,
    logger: logger.child({ component: "http" }),
    maxBodyBytes: config.http.maxBodyBytes,
    heartbeatMs: config.http.sseHeartbeatMs,
    maxEventStreams: config.http.maxEventStreams,
    mcp: createMcpHttpHandler(() => localBackend(queries), {
      version: packageVersion(),
      hub,
      logger: logger.child({ component: "mcp" }),
    }),
  });
  const grpcServer = new Server();
  grpcServer.addService(
    HealthService,
    daemonHealthService(() => ready),
  );
  const grpcLogger = logger.child({ component: "grpc" });
  const healthd = createHealthdService({
    queries,
    hub,
    onInternalError: (error) => grpcLogger.error({ err: error }, "gRPC call failed"),
  });
  grpcServer.addService(HealthdService, healthd.implementation);
  grpcServer.addService(AdapterRegistryService, createRegistryService(view));
  addReflection(grpcServer);
  let httpAddress: AddressInfo;
  let grpcPort: number;
  try {
    httpAddress = await http.listen(config.http.listen.host, config.http.listen.port);
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(
        formatHostPort(config.grpc.listen.host, config.grpc.listen.port),
        ServerCredentials.createInsecure(),
        (error, port) => (error ? reject(error) : resolve(port)),
      ),
    );
  } catch (error) {
    await http.close();
    grpcServer.forceShutdown();
    store.close();
    for (const endpoint of gateway.endpoints) endpoint.close();
    throw error;
  }
  const grpcAddress = formatHostPort(config.grpc.listen.host, grpcPort);
  logger.info(
    { http: `${httpAddress.address}:${httpAddress.port}`, grpc: grpcAddress },
    "listening",
  );

  let syncTask: PeriodicTask | undefined;
  if (config.registry.enabled) {
    const first = await catalogSync.syncOnce();
    if (!first.ok)
      logger.warn({ error: first.error }, "first sync failed; monitoring the last-known catalog");
    syncTask = config.sync.cron
      ? runOnCron(config.sync.cron, () => catalogSync.syncOnce())
      : runPeriodically(config.sync.intervalMs, () => catalogSync.syncOnce());
  } else {
    logger.warn("oneiric_mcp.enabled is false: no catalog sync; monitoring the last-known catalog");
  }
  // Adapters known from the last run are checked even when the registry is down.
  scheduler.reconcile(view.allEntries());
  maintenance.start();
  const retention = runOnCron(config.journal.retentionCron, async () => {
    const pruned = store.pruneEvents(now() - config.journal.maxAgeMs, config.journal.maxEvents);
    if (pruned > 0) {
      metrics.journalPruned.inc(pruned);
      logger.info({ pruned }, "journal retention removed old events");
    }
  });
  ready = true;
  logger.info({ adapters: view.size }, "ready");
  webhooks.start();

  return {
    httpAddress,
    grpcAddress,
    view,
    gateway,
    resolution,
    maintenance,
    queries,
    hub,
    webhooks,
    syncNow: () => catalogSync.syncOnce(),
    readEvents: (afterSeq, limit) => store.readEvents(afterSeq, limit),
    checkAllNow: async () => {
      await scheduler.checkAllNow();
      committer.flush();
    },
    async stop() {
      ready = false;
      syncTask?.stop();
      retention.stop();
      maintenance.stop();
      watcher.close();
      await scheduler.stop(5_000);
      committer.stop();
      // After the last commit (streams get its events), before tryShutdown, which waits for open calls.
      healthd.close();
      await Promise.all([
        http.close(),
        // A delivery in flight gets 2 s to be answered (and recorded), then is aborted.
        webhooks.stop(2_000),
        shutdownGrpc(grpcServer, 2_000),
      ]);
      hub.close();
      for (const probe of probes) probe.close();
      for (const endpoint of gateway.endpoints) {
        store.saveEndpoint(toEndpointState(endpoint.status()), [], now());
        endpoint.close();
      }
      store.close();
      logger.info("stopped");
    },
  };
}

interface GatewayParts {
  store: SqliteStore;
  view: HealthView;
  metrics: DaemonMetrics;
  logger: Logger;
  now: () => number;
  localFile: LocalRegistry | undefined;
}

function toEndpointState(status: EndpointStatus): EndpointState {
  return {
    endpoint: status.endpoint,
    role: status.role,
    breaker: status.breakerJson,
    reachable: status.reachable,
    lastOk: status.lastOk,
    lastError: status.lastError,
  };
}

/**
 * The registry client: one channel per endpoint (primary, then secondaries),
 * each behind its persisted breaker, with the cache and fallback chain on top.
 */
export function buildRegistryGateway(config: DaemonConfig, parts: GatewayParts): RegistryGateway {
  const { store, view, metrics, now } = parts;
  const logger = parts.logger.child({ component: "registry" });
  const tokens =
    config.registry.jwtEnabled && config.registry.jwtSecret
      ? new JwtTokenSource(
          {
            secret: config.registry.jwtSecret,
            project: config.registry.jwtProject,
            ttlMs: config.fallback.jwtTtlMs,
          },
          now,
        )
      : undefined;
  const saved = new Map(store.loadEndpoints().map((state) => [state.endpoint, state]));
  const addresses = [
    { host: config.registry.host, port: config.registry.port, role: "primary" as const },
    ...config.fallback.secondaries.map((address) => ({ ...address, role: "secondary" as const })),
  ];
  const endpoints = addresses.map(({ host, port, role }) => {
    const client = new GrpcRegistryClient({
      host,
      port,
      timeoutMs: config.registry.timeoutMs,
      useTls: config.registry.useTls,
      tlsCaPath: config.registry.tlsCaPath,
      tlsCertPath: config.registry.tlsCertPath,
      tlsKeyPath: config.registry.tlsKeyPath,
      tokens,
      observe: (operation, result, seconds) => {
        metrics.registryQueries.inc({ operation, result });
        metrics.registryQueryDuration.observe({ operation }, seconds);
      },
    });
    const previous = saved.get(client.endpoint);
    return new RegistryEndpoint(
      client,
      role,
      {
        breakerThreshold: config.fallback.breakerThreshold,
        halfOpenAfterMs: config.fallback.halfOpenAfterMs,
        maxHalfOpenAfterMs: config.fallback.maxHalfOpenAfterMs,
        maxConcurrentCalls: config.fallback.maxConcurrentCalls,
        maxQueuedCalls: config.fallback.maxQueuedCalls,
        initialBreakerState: previous?.breaker ?? undefined,
      },
      (status) => {
        store.saveEndpoint(toEndpointState(status), [], now());
        if (status.breaker === "open") {
          logger.warn(
            { endpoint: status.endpoint, error: status.lastError },
            "registry circuit breaker opened",
          );
        } else if (status.breaker === "closed" && status.reachable) {
          logger.info({ endpoint: status.endpoint }, "registry endpoint answering");
        }
      },
      now,
      { lastOk: previous?.lastOk ?? null, lastError: previous?.lastError ?? null },
    );
  });
  return new RegistryGateway({
    endpoints,
    cacheTtlMs: config.registry.cacheTtlMs,
    lastKnown: view,
    localFile: parts.localFile,
    now,
    onCacheHit: () => metrics.cacheHits.inc(),
    onCacheMiss: () => metrics.cacheMisses.inc(),
    onRejections: (rejections, endpoint) => {
      for (const rejection of rejections) {
        metrics.rejectedEntries.inc({ reason: rejection.kind });
        logger.warn(
          { endpoint, adapterId: rejection.adapterId, reason: rejection.reason },
          rejection.kind === "repaired" ? "registry entry repaired" : "registry entry skipped",
        );
      }
    },
    onRefreshError: (error) =>
      logger.warn({ err: error }, "background refresh of a cached adapter list failed"),
  });
}

/**
 * Lets gRPC calls finish, but not forever: a client that stopped reading a
 * stream would otherwise hold the daemon's shutdown open.
 */
function shutdownGrpc(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** A point-in-time read of a database file, for `status` while the daemon may be stopped. */
export interface StatusSnapshot {
  adapters: AdapterStatusView[];
  registry: RegistryView | null;
}

export function readStatusSnapshot(dbPath: string, now: number): StatusSnapshot {
  const store = new SqliteStore({ path: dbPath, readonly: true });
  try {
    const staleAfterMs = Number(store.getMeta("stale_after_ms") ?? 45_000);
    const health = new Map(store.loadHealth().map((state) => [state.adapterId, state]));
    // Maintenance declared through the API is in the file; config windows are not visible here.
    const declared = new Map(store.loadMaintenance().map((item) => [item.adapterId, item]));
    const adapters: AdapterStatusView[] = [];
    for (const entry of store.loadCatalog()) {
      const state = health.get(entry.adapterId);
      if (!state) continue;
      const maintenance = maintenanceFor(entry.adapterId, [], declared, now);
      adapters.push(toStatusView(entry, state, now, staleAfterMs, maintenance));
    }
    const registry = store.loadRegistryState();
    return { adapters, registry: registry ? toRegistryView(registry) : null };
  } finally {
    store.close();
  }
}

/** Reads journal events after `afterSeq` from a database file. */
export function readJournal(dbPath: string, afterSeq: number, limit: number): JournalEvent[] {
  const store = new SqliteStore({ path: dbPath, readonly: true });
  try {
    return store.readEvents(afterSeq, limit);
  } finally {
    store.close();
  }
}
