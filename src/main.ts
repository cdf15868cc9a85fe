/**
 * The composition root: the only module that constructs concrete parts and
 * wires them together. Commands in cli.ts call into it.
 */

import type { AddressInfo } from "node:net";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { daemonHealthService } from "./api/grpc/daemon-health-service.js";
import { HttpApi } from "./api/http/http-server.js";
import type { DaemonConfig } from "./config/load.js";
import type { JournalEvent } from "./domain/events.js";
import { formatHostPort } from "./domain/host-port.js";
import type { AdapterStatusView, RegistryView } from "./domain/status-view.js";
import { toStatusView } from "./domain/status-view.js";
import { HealthService } from "./gen/grpc/health/v1/health.js";
import { DaemonMetrics } from "./metrics/metrics.js";
import { AdapterChecker } from "./monitor/adapter-checker.js";
import { CatalogSync, type SyncResult } from "./monitor/catalog-sync.js";
import { HealthView, toRegistryView } from "./monitor/health-view.js";
import { type PeriodicTask, runPeriodically } from "./monitor/periodic.js";
import { ProbeScheduler } from "./monitor/probe-scheduler.js";
import { ResultCommitter } from "./monitor/result-committer.js";
import { GrpcHealthProbe } from "./probes/grpc-health-probe.js";
import { HttpProbe } from "./probes/http-probe.js";
import { GrpcRegistryClient } from "./registry/registry-client.js";
import { SqliteStore } from "./storage/sqlite-store.js";

export interface DaemonDependencies {
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

export interface RunningDaemon {
  httpAddress: AddressInfo;
  grpcAddress: string;
  view: HealthView;
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

  if (config.registry.jwtEnabled) {
    // Accepted so existing settings files load; token signing arrives with the registry client's security work.
    logger.warn(
      "oneiric_mcp.jwt_enabled is set, but this version does not send JWTs to the registry yet",
    );
  }
  const store = new SqliteStore({
    path: config.storage.path,
    synchronous: config.storage.synchronous,
    now,
  });
  store.setMeta("stale_after_ms", String(config.probes.staleAfterMs));
  const registry = new GrpcRegistryClient({
    host: config.registry.host,
    port: config.registry.port,
    timeoutMs: config.registry.timeoutMs,
    useTls: config.registry.useTls,
    tlsCaPath: config.registry.tlsCaPath,
    tlsCertPath: config.registry.tlsCertPath,
    tlsKeyPath: config.registry.tlsKeyPath,
    observe: (operation, result, seconds) => {
      metrics.registryQueries.inc({ operation, result });
      metrics.registryQueryDuration.observe({ operation }, seconds);
    },
  });
  const view = new HealthView(registry.endpoint, config.probes.staleAfterMs, now);
  view.restore(store.loadCatalog(), store.loadHealth(), store.loadRegistryState());
  logger.info({ db: config.storage.path, adapters: view.size }, "state restored");

  const metricsRegistry = new MetricsRegistry();
  const metrics = new DaemonMetrics(metricsRegistry, {
    countByStatus: () => view.countByStatus(),
    registryReachable: () => view.registryState().reachable,
    lastSyncMs: () => view.registryState().lastSync,
  });

  const probes = [new HttpProbe(), new GrpcHealthProbe()];
  const checker = new AdapterChecker(registry, probes, config.probes.timeoutMs, metrics, now);
  const committer = new ResultCommitter(
    store,
    view,
    {
      rise: config.probes.rise,
      fall: config.probes.fall,
      degradedLatencyMs: config.probes.degradedLatencyMs,
    },
    metrics,
    logger.child({ component: "committer" }),
  );
  const scheduler = new ProbeScheduler(
    checker,
    committer,
    {
      intervalMs: config.probes.intervalMs,
      jitter: config.probes.jitter,
      concurrency: config.probes.concurrency,
      ...(deps.random ? { random: deps.random } : {}),
    },
    logger.child({ component: "scheduler" }),
  );
  const catalogSync = new CatalogSync(
    registry,
    store,
    view,
    metrics,
    logger.child({ component: "sync" }),
    now,
    (entries) => scheduler.reconcile(entries),
  );

  const http = new HttpApi({
    queries: view,
    metrics: metricsRegistry,
    logger: logger.child({ component: "http" }),
    isReady: () => ready,
  });
  const grpcServer = new Server();
  grpcServer.addService(
    HealthService,
    daemonHealthService(() => ready),
  );
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
    registry.close();
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
    syncTask = runPeriodically(config.sync.intervalMs, () => catalogSync.syncOnce());
  } else {
    logger.warn("oneiric_mcp.enabled is false: no catalog sync; monitoring the last-known catalog");
  }
  // Adapters known from the last run are checked even when the registry is down.
  scheduler.reconcile(view.allEntries());
  ready = true;
  logger.info({ adapters: view.size }, "ready");

  return {
    httpAddress,
    grpcAddress,
    view,
    syncNow: () => catalogSync.syncOnce(),
    readEvents: (afterSeq, limit) => store.readEvents(afterSeq, limit),
    checkAllNow: async () => {
      await scheduler.checkAllNow();
      committer.flush();
    },
    async stop() {
      ready = false;
      syncTask?.stop();
      await scheduler.stop(5_000);
      committer.stop();
      await Promise.all([
        http.close(),
        new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())),
      ]);
      for (const probe of probes) probe.close();
      registry.close();
      store.close();
      logger.info("stopped");
    },
  };
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
    const adapters: AdapterStatusView[] = [];
    for (const entry of store.loadCatalog()) {
      const state = health.get(entry.adapterId);
      if (state) adapters.push(toStatusView(entry, state, now, staleAfterMs));
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
