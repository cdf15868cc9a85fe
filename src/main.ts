/**
 * The composition root: the only module that constructs concrete parts and
 * wires them together. Commands in cli.ts call into it.
 */

import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { Server } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import pino, { type Logger } from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { surfaceSecurity } from "./api/auth/surface-security.js";
import { BadgeService, type UptimeLookup } from "./api/badges/badges.js";
import { HttpFront } from "./api/front/http-front.js";
import { daemonHealthService } from "./api/grpc/daemon-health-service.js";
import { createHealthdService } from "./api/grpc/healthd-service.js";
import { addReflection } from "./api/grpc/reflection-service.js";
import { createRegistryService } from "./api/grpc/registry-service.js";
import { grpcServerSecurity } from "./api/grpc/server-security.js";
import { HistoryQueries } from "./api/history-queries.js";
import { HttpApi } from "./api/http/http-server.js";
import { PageAssets } from "./api/http/page-assets.js";
import { createMcpHttpHandler } from "./api/mcp/mcp-http.js";
import { localBackend } from "./api/query-backend.js";
import { QueryService } from "./api/query-service.js";
import { CatalogSync, reachabilityEvents, type SyncResult } from "./catalog/catalog-sync.js";
import { FLEET_CURSOR, FleetFeed } from "./cluster/fleet-feed.js";
import { ensureEventStream, JournalPublisher } from "./cluster/journal-publisher.js";
import { Membership } from "./cluster/membership.js";
import { NatsLink } from "./cluster/nats-link.js";
import type { SchedulingTarget } from "./cluster/owned-scheduling.js";
import { OwnedScheduling } from "./cluster/owned-scheduling.js";
import { VerdictExchange } from "./cluster/verdict-exchange.js";
import type { ConfigChanges } from "./config/config-diff.js";
import type { ClusterConfig, DaemonConfig } from "./config/load.js";
import { type LocalRegistry, loadLocalRegistry } from "./config/local-registry-file.js";
import { planReload } from "./config/reload-plan.js";
import { SettingsBook } from "./config/settings-book.js";
import type { AdapterEntry } from "./domain/adapter.js";
import { eventSubject } from "./domain/event-subjects.js";
import type { EventType, JournalEvent } from "./domain/events.js";
import type { HealthState } from "./domain/health.js";
import { formatHostPort } from "./domain/host-port.js";
import { Assignment, shardOf } from "./domain/ownership.js";
import { roundToMicroseconds } from "./domain/round-to-microseconds.js";
import { encodeStaleRule, STALE_RULE_META } from "./domain/status-view.js";
import { HealthEngine, type StoreStatus } from "./engine/health-engine.js";
import { HealthView } from "./engine/health-view.js";
import { HISTORY_CARRY, HistoryRecorder } from "./engine/history-recorder.js";
import { EventHub } from "./events/event-hub.js";
import { WebhookDispatcher } from "./events/webhook-dispatcher.js";
import { HealthService } from "./gen/grpc/health/v1/health.js";
import { HealthdService } from "./gen/oneiric/healthd/v1/healthd.js";
import { AdapterRegistryService } from "./gen/oneiric/registry/v1/registry.js";
import {
  AddressInUseError,
  isAddressInUse,
  type ListenSurface,
} from "./lifecycle/address-in-use.js";
import { withDeadline } from "./lifecycle/deadline.js";
import { readiness } from "./lifecycle/readiness.js";
import { MaintenanceDesk } from "./maintenance/maintenance-desk.js";
import { MaintenanceService } from "./maintenance/maintenance-service.js";
import { DaemonMetrics, engineMetrics } from "./metrics/metrics.js";
import { scrapeTimeCounts } from "./metrics/scrape-time-counts.js";
import { packageVersion } from "./package-version.js";
import { GrpcHealthProbe } from "./probes/grpc-health-probe.js";
import { GrpcHealthWatcher } from "./probes/grpc-health-watcher.js";
import { HttpProbe, probeUserAgent } from "./probes/http-probe.js";
import { ProbeTable } from "./probes/probe-table.js";
import { RegistryHealthProbe } from "./probes/registry-health-probe.js";
import { TcpProbe } from "./probes/tcp-probe.js";
import { JwtTokenSource } from "./registry/jwt-token-source.js";
import { GrpcRegistryClient } from "./registry/registry-client.js";
import { type EndpointStatus, RegistryEndpoint } from "./registry/registry-endpoint.js";
import { RegistryGateway } from "./registry/registry-gateway.js";
import { ResolutionService } from "./resolution/resolution-service.js";
import { AdapterBreakers } from "./schedule/adapter-breakers.js";
import { AdapterChecker } from "./schedule/adapter-checker.js";
import { CheckLoop, PushedChecks } from "./schedule/check-loop.js";
import { CheckRunner } from "./schedule/check-runner.js";
import { LoopStallMonitor } from "./schedule/loop-stall-monitor.js";
import { type PeriodicTask, runOnCron, runPeriodically } from "./schedule/periodic.js";
import { ProbeScheduler } from "./schedule/probe-scheduler.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import type { EndpointState, HealthStore } from "./storage/store.js";

/**
 * How long start-up waits for the registry's first answer when a catalog is stored:
 * past it the daemon is ready from storage and the answer is applied when it comes.
 * Long enough for a nearby registry with a small catalog (ready with no note), short
 * enough that a large or slow one never holds readiness.
 */
const FIRST_SYNC_WAIT_MS = 250;

/**
 * Above this many stored adapters start-up does not wait for the registry's first answer
 * at all: the first answer after a start is decoded whole (about 40 µs per entry), so a
 * catalog this large cannot be answered and applied within FIRST_SYNC_WAIT_MS anyway.
 */
const FIRST_SYNC_WAIT_MAX_ADAPTERS = 5_000;

/**
 * At stop, how long probes already under way get to finish (their results are
 * committed); probes still running after it are abandoned. Checks waiting for a
 * bulkhead slot do not start at all.
 */
const STOP_PROBE_GRACE_MS = 1_000;

/** At stop, how long a first sync still waiting for the registry gets to answer. */
const STOP_FIRST_SYNC_GRACE_MS = 1_000;

/** Adapters whose old history buckets retention deletes in one transaction. */
const HISTORY_PRUNE_ADAPTERS = 500;

export interface DaemonDependencies {
  logger: Logger;
  /** The wall clock (ms since the epoch): times in state and events are read off it. */
  now?: () => number;
  /**
   * A clock that never steps, for durations (staleness). `performance.now` by
   * default; when only `now` is given (a test clock), `now` serves as both.
   */
  monotonic?: () => number;
  random?: () => number;
  /**
   * Wraps the SQLite store (fault tests put a FaultyStore around it, to make
   * commits fail on demand). The daemon uses what this returns everywhere.
   */
  wrapStore?: (store: HealthStore) => HealthStore;
  /** Told what start-up is doing, one line per stage (systemd's `STATUS=`). */
  status?: (text: string) => void;
  /**
   * `now` in shared memory (ms at index 0), so the HTTP front's thread reads the
   * same clock. A daemon given `now` without it serves HTTP on the main thread.
   */
  sharedClock?: Float64Array;
  /** The HTTP front's thread died (logged as an ERROR): `run` stops and exits 1. */
  frontFailed?: (error: Error) => void;
  /** Where uptime badges read up and down time, instead of the daemon's history (tests). */
  uptime?: UptimeLookup;
}

export interface RunningDaemon {
  httpAddress: AddressInfo;
  /** The HTTP front's thread (undefined when HTTP is served on the main thread). */
  front: HttpFront | undefined;
  grpcAddress: string;
  view: HealthView;
  /** The registry client API with its fallback chain. */
  gateway: RegistryGateway;
  /** "Which adapter should I use?", with failover tracking. */
  resolution: ResolutionService;
  /** Maintenance declared and lifted through the API. */
  maintenance: MaintenanceDesk;
  /** The one query service behind every transport. */
  queries: QueryService;
  /** Committed journal events, live, for streaming consumers. */
  hub: EventHub;
  /** Webhook subscribers: status, and `unpark(name)` to resume a parked one. */
  webhooks: WebhookDispatcher;
  /** Runs one catalog sync now. */
  syncNow(): Promise<SyncResult>;
  /** Applies journal and history retention now, as its cron does. */
  pruneJournalNow(): Promise<void>;
  /** Checks every adapter now and commits the results. */
  checkAllNow(): Promise<void>;
  /** Journal events after `afterSeq`, oldest first. */
  readEvents(afterSeq: number, limit: number): JournalEvent[];
  /** The engine's link to the database: writable, or failing with work pending. */
  engineStatus(): StoreStatus;
  /**
   * Applies a new configuration without losing state: what can change live does
   * at once, what cannot keeps its running value and is named in a WARN (see
   * docs/configuration.md, "Reloading"). Throws only once stop() has begun.
   */
  reload(next: DaemonConfig): ConfigChanges;
  /** Records a reload refused for an invalid file: the daemon keeps its configuration. */
  reloadRejected(): void;
  /**
   * Stops scheduling, lets checks in flight finish (up to 5 s), commits, closes
   * servers and streams (up to 3 s more: each stage is bounded, so a stuck client
   * cannot hold the daemon).
   */
  stop(): Promise<void>;
}

/**
 * Builds the root logger: pino JSON, secrets redacted wherever they appear. Every
 * line has `component` (the child's binding, else "daemon") and errors go under
 * `err` as `{type, message, stack?}`, a plain failure message included; see
 * docs/observability.md.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: "oneiric-healthd",
      level,
      mixin: (_object, _level, instance) =>
        "component" in instance.bindings() ? {} : { component: "daemon" },
      serializers: {
        err: (value: unknown) =>
          typeof value === "string"
            ? { type: "Error", message: value }
            : pino.stdSerializers.err(value as Error),
      },
      redact: {
        paths: [
          "jwt_secret",
          "*.jwt_secret",
          "jwtSecret",
          "*.jwtSecret",
          "authorization",
          "*.authorization",
          "hs256Secret",
          "*.hs256Secret",
          "*.tokens",
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
  // Whether a registry has answered a sync since start (false while ready from the stored catalog).
  let registryConfirmed = !config.registry.enabled;
  const status = deps.status ?? (() => undefined);

  status(`opening ${config.storage.path} and applying migrations`);
  const sqlite = new SqliteStore({
    path: config.storage.path,
    synchronous: config.storage.synchronous,
    now,
  });
  const store = deps.wrapStore ? deps.wrapStore(sqlite) : sqlite;
  store.setMeta(STALE_RULE_META, encodeStaleRule(config.probes.stale));
  // A real write, not only no error seen yet: readiness counts from it until the first commit.
  const startupWriteAt = now();
  const localFile = config.fallback.localFile
    ? loadLocalRegistry(config.fallback.localFile)
    : undefined;
  const primaryEndpoint = formatHostPort(config.registry.host, config.registry.port);
  const maintenance = new MaintenanceService(config.maintenance, store.loadMaintenance(), now);
  const monotonic = deps.monotonic ?? (deps.now ? deps.now : () => performance.now());
  const view = new HealthView(
    primaryEndpoint,
    config.probes.stale,
    now,
    (adapterId) => maintenance.current(adapterId),
    monotonic,
  );
  // Reads the TLS and JWKS files; throws naming a bad one.
  const security = surfaceSecurity(config);
  for (const warning of security.warnings) logger.warn(warning);
  // The public listener and the hot reads run on the front's thread, unless it cannot read this clock.
  const clockShared =
    deps.monotonic === undefined &&
    (deps.now === undefined || deps.now === Date.now || deps.sharedClock !== undefined);
  // One answer for every surface (the front, the query service, gRPC health); read only once
  // the engine and the catalog sync below exist.
  const currentReadiness = () =>
    readiness({
      started: ready,
      store: engine.status(),
      registryEnabled: config.registry.enabled,
      registryConfirmed,
      registry: view.registryState(),
      adapters: view.size,
      unreadableCatalog: catalogSync.unreadableCatalog(),
      nats: cluster?.natsReadiness(),
    });
  const front: HttpFront | undefined =
    config.http.serveInWorker && clockShared
      ? new HttpFront({
          config,
          view,
          maintenance,
          readiness: currentReadiness,
          newestEventSeq: () => hub.newestSeq(),
          // Watched for failover here, as if asked here (the answer is kept, so this is cheap).
          asked: (requirement, panic) => void resolution.resolve(requirement, panic, 0),
          logger: logger.child({ component: "http" }),
          clock: deps.sharedClock,
          failed: (error) => deps.frontFailed?.(error),
        })
      : undefined;
  // The front's thread loads its code while this thread restores the state.
  front?.boot();
  status(`restoring state from ${config.storage.path}`);
  const restoreStarted = performance.now();
  try {
    const stored = store.loadState();
    view.restore(stored.catalog, stored.health, store.loadRegistryState());
  } catch (error) {
    await front?.abandon();
    throw error;
  }
  logger.info(
    {
      db: config.storage.path,
      adapters: view.size,
      took_ms: roundToMicroseconds(performance.now() - restoreStarted),
    },
    "state restored",
  );

  const hub = new EventHub(store);
  const metricsRegistry = new MetricsRegistry();
  const settings = new SettingsBook(
    config.adapters.defaults,
    config.adapters.overrides,
    config.flap,
  );
  const resolution = new ResolutionService(
    view,
    maintenance,
    settings,
    { panic: config.resolution.panic },
    config.resolution.requirements,
  );
  const metrics = new DaemonMetrics(metricsRegistry, undefined, {
    maxCategoryLabels: config.metrics.maxCategoryLabels,
  });
  const syncLogger = logger.child({ component: "sync" });
  const historyRecorder = new HistoryRecorder(store, config.probes.stale);
  // This daemon's id in its cluster: stable across restarts (kept in the database unless configured).
  const member = config.cluster ? memberId(config.cluster, store) : undefined;
  // Where this member's committed verdicts go, and what it owns, once the cluster parts exist (below).
  let shareVerdicts: ((states: readonly HealthState[]) => void) | undefined;
  let ownsAdapter: ((adapterId: string) => boolean) | undefined;
  const engine = new HealthEngine({
    store,
    mirror: view,
    failovers: resolution,
    // The front's replica gets a commit's changes before any subscriber hears of them.
    publisher: front?.flushingBefore(hub) ?? hub,
    maintenance,
    metrics: engineMetrics(metrics),
    logger: logger.child({ component: "engine" }),
    now,
    contextOf: (entry) =>
      settings.decisionContextOf(entry, maintenance.current(entry.adapterId) !== undefined),
    lastWriteAt: startupWriteAt,
    history: historyRecorder,
    ...(member === undefined
      ? {}
      : {
          member,
          ownVerdictsCommitted: (states) => shareVerdicts?.(states),
          owns: (adapterId) => ownsAdapter?.(adapterId) ?? true,
        }),
  });
  // An adapter not observed for a while (watched, or its breaker open) has its history
  // carried up to now, a slice at a time (HISTORY_CARRY says why).
  const historyTicker = setInterval(
    () => engine.advanceHistory(now() - HISTORY_CARRY.afterMs, HISTORY_CARRY.slice),
    HISTORY_CARRY.everyMs,
  );
  historyTicker.unref();
  // Windows opening or closing change resolution without a health change.
  maintenance.onWindowsChanged((adapterIds) =>
    engine.touch(
      adapterIds === "all" ? view.allEntries().map((entry) => entry.adapterId) : adapterIds,
    ),
  );
  const gateway = buildRegistryGateway(config, { store, view, metrics, logger, now, localFile });
  // Breakers come back as they were saved (windows and open state included), each at
  // its adapter's first check: the check loop hands the runner the committed snapshot.
  const breakers = new AdapterBreakers();
  const grpcProbe = new GrpcHealthProbe();
  const probes = [new HttpProbe(16, undefined, probeUserAgent(member)), grpcProbe, new TcpProbe()];
  // A slow answer or a timeout that a stall of this process could explain is no verdict.
  const loopStalls = new LoopStallMonitor();
  loopStalls.start();
  const checker = new AdapterChecker(
    new ProbeTable(probes),
    new RegistryHealthProbe(gateway),
    metrics,
    now,
    loopStalls,
  );
  const watcher = new GrpcHealthWatcher(undefined, { now });
  const runner = new CheckRunner(
    checker,
    breakers,
    settings,
    watcher,
    logger.child({ component: "checks" }),
    now,
    deps.random,
  );
  const schedulerOptions = (current: DaemonConfig) => ({
    firstSpreadMs: (entry: AdapterEntry) => settings.of(entry).probes.intervalMs,
    startupRatePerSec: current.probes.startupRatePerSec,
    startupMaxRatePerSec: current.probes.startupMaxRatePerSec,
    concurrency: current.probes.concurrency,
    ...(deps.random ? { random: deps.random } : {}),
  });
  const scheduler = new ProbeScheduler(
    new CheckLoop(runner, engine),
    schedulerOptions(config),
    logger.child({ component: "scheduler" }),
  );
  // A cluster member schedules only the adapters it owns; the catalog and the view stay whole.
  const cluster =
    config.cluster && member !== undefined
      ? buildCluster(config.cluster, member, {
          config,
          store,
          view,
          hub,
          engine,
          scheduler,
          logger: logger.child({ component: "cluster" }),
          now,
          readinessChanged: () => void front?.readinessChanged(),
        })
      : undefined;
  shareVerdicts = cluster?.exchange ? (states) => cluster.exchange?.committed(states) : undefined;
  ownsAdapter = cluster?.owns;
  const scheduling = cluster?.scheduling ?? {
    reconcile: (): string[] => {
      scheduler.reconcile(view.allEntries());
      return [];
    },
    applyCatalogChange: (change: Parameters<SchedulingTarget["applyCatalogChange"]>[0]) => {
      scheduler.applyCatalogChange(change);
      return [];
    },
  };
  engine.onCatalogCommitted((change) => {
    // Scheduled first, alone or in a cluster (`cluster?.vouchFor(...)` would skip its argument).
    const gained = scheduling.applyCatalogChange(change);
    cluster?.vouchFor(gained);
  });
  const pushes = new PushedChecks(runner, engine, scheduler);
  watcher.subscribe({
    update: (update) => void pushes.record(update),
    // Nothing is pushed until the stream is back: its adapters are polled within an interval.
    streamLost: (target) => scheduler.pollSoon(runner.adaptersWatching(target)),
  });
  const catalogSync = new CatalogSync(
    gateway,
    {
      entries: () => view.allEntries(),
      registryState: () => engine.latestRegistry(),
      commitCatalog: (step) => engine.commitCatalog(step),
      recordRegistry: (state, events) => engine.recordRegistry(state, events),
    },
    syncLogger,
    now,
    localFile,
  );
  // Reachability follows the registry link on every call, not only the catalog sync.
  gateway.onLinkChange((link) => {
    // A sync under way records its own outcome; an unreadable catalog ends only with a sync that reads one.
    if (catalogSync.decidesRegistryState()) return;
    const previous = engine.latestRegistry();
    const next = { ...previous, ...link, lastAttempt: now() };
    if (previous.reachable === next.reachable && previous.lastAttempt !== null) return;
    engine.recordRegistry(next, reachabilityEvents(previous, next, now(), syncLogger));
  });

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
  metrics.readFrom({
    countByStatus: () => view.countByStatus(),
    countConditions: () => view.countConditions(),
    registryReachable: () => view.registryState().reachable,
    lastSyncMs: () => view.registryState().lastSync,
    endpoints: () => gateway.endpoints.map((endpoint) => endpoint.status()),
    webhooks: () => webhooks.statuses(),
    ...scrapeTimeCounts(view, maintenance, monotonic),
    journalNewestSeq: () => hub.newestSeq(),
    requirements: () => resolution.countUnresolvable(),
  });
  if (cluster) metrics.readClusterFrom(cluster.metrics);
  const maintenanceDesk = new MaintenanceDesk({
    commit: (change, event) => engine.commitMaintenance(change, event),
    isDeclared: (adapterId) => maintenance.isDeclared(adapterId),
    now,
  });
  // The configuration in effect: a reload's live changes, with restart-only keys as started
  // (declared before the listeners open: an early question reads it).
  let running = config;
  let stopping = false;
  const historyQueries = new HistoryQueries({
    store,
    now,
    // The reloaded config's, as retention uses it.
    minuteBucketsKeptMs: () => running.history.minuteBucketsKeptMs,
    lastObservation: (adapterId) => historyRecorder.lastObservation(adapterId),
  });
  const queries = new QueryService({
    view,
    resolution,
    maintenance: maintenanceDesk,
    gateway,
    hub,
    streamsElsewhere: () => front?.eventStreams ?? 0,
    store,
    now,
    readiness: currentReadiness,
    history: historyQueries,
  });
  const http = new HttpApi({
    ...(front
      ? front.internalOptions()
      : {
          access: security.access,
          tls: security.httpTls,
          maxConnections: config.limits.maxConnections,
          slowClientTimeoutMs: config.limits.slowClientTimeoutMs,
        }),
    queries,
    hub,
    metrics: metricsRegistry,
    badges: new BadgeService({
      statuses: view,
      uptime: deps.uptime ?? {
        uptime: (adapterIds, window) => historyQueries.upAndDown(adapterIds, window),
      },
    }),
    logger: logger.child({ component: "http" }),
    maxBodyBytes: config.http.maxBodyBytes,
    heartbeatMs: config.http.sseHeartbeatMs,
    maxEventStreams: config.http.maxEventStreams,
    // The front answers the page itself; here only when HTTP runs on this thread.
    page: front ? undefined : new PageAssets(),
    mcp: createMcpHttpHandler(() => localBackend(queries), {
      version: packageVersion(),
      hub,
      logger: logger.child({ component: "mcp" }),
      scopesEnforced: config.auth.enabled,
    }),
  });
  const grpcSecurity = grpcServerSecurity({
    access: security.access,
    tls: security.grpcTls,
    maxReceiveBytes: config.http.maxBodyBytes,
    onInternalError: (error) => logger.error({ err: error }, "gRPC admission failed"),
  });
  const grpcServer = new Server(grpcSecurity.serverOptions);
  grpcServer.addService(
    HealthService,
    daemonHealthService(() => currentReadiness().ready),
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
  status("starting the HTTP and gRPC listeners");
  // Which listener a taken address belongs to, for the error that names it.
  let binding: { surface: ListenSurface; address: string } = {
    surface: "HTTP",
    address: formatHostPort(config.http.listen.host, config.http.listen.port),
  };
  try {
    httpAddress = front
      ? await front.start(http)
      : await http.listen(config.http.listen.host, config.http.listen.port);
    binding = {
      surface: "gRPC",
      address: formatHostPort(config.grpc.listen.host, config.grpc.listen.port),
    };
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(binding.address, grpcSecurity.credentials, (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
  } catch (error) {
    loopStalls.stop();
    await (front ? front.close(http) : http.close());
    grpcServer.forceShutdown();
    store.close();
    for (const endpoint of gateway.endpoints) endpoint.close();
    throw isAddressInUse(error) ? new AddressInUseError(binding.surface, binding.address) : error;
  }
  const grpcAddress = formatHostPort(config.grpc.listen.host, grpcPort);
  logger.info(
    { http: `${httpAddress.address}:${httpAddress.port}`, grpc: grpcAddress },
    "listening",
  );

  // Both schedules are restarted by a reload that changes them; what they run keeps its state.
  // The registry is confirmed by the first sync it answers, not by the first attempt.
  const syncOnce = async (): Promise<SyncResult> => {
    const result = await catalogSync.syncOnce();
    if (result.ok) registryConfirmed = true;
    // Confirmed, or an unreadable catalog begun or ended: the front answers /readyz from this.
    void front?.readinessChanged();
    return result;
  };
  const startSync = (current: DaemonConfig): PeriodicTask | undefined => {
    if (!current.registry.enabled) return undefined;
    return current.sync.cron
      ? runOnCron(current.sync.cron, syncOnce)
      : runPeriodically(current.sync.intervalMs, syncOnce);
  };
  const pruneJournal = (current: DaemonConfig): void => {
    const { maxAgeMs, maxEvents } = current.journal;
    const pruned = store.pruneEvents(now() - maxAgeMs, maxEvents);
    // Adapters removed from the catalog keep their rows as long as the journal keeps events.
    const forgotten = store.pruneRemovedAdapters(now() - maxAgeMs);
    if (pruned > 0) {
      metrics.journalPruned.inc(pruned);
      logger.info({ pruned }, "journal retention removed old events");
      // The front's event streams stop serving what the journal no longer has.
      front?.journalPruned(store.journalBounds().oldestSeq);
    }
    if (forgotten > 0) logger.info({ forgotten }, "retention forgot adapters removed long ago");
  };
  /**
   * History past retention, a page of adapters at a time with a turn of the event loop
   * between: at 50,000 adapters ten minutes of minute buckets are half a million rows,
   * and one transaction deleting them all would hold every check and query meanwhile.
   */
  const pruneHistory = async (current: DaemonConfig): Promise<void> => {
    const { minuteBucketsKeptMs, hourBucketsKeptMs } = current.history;
    const at = now();
    let buckets = 0;
    let after: string | undefined;
    do {
      const page = store.pruneHistory(at - minuteBucketsKeptMs, at - hourBucketsKeptMs, {
        after,
        adapters: HISTORY_PRUNE_ADAPTERS,
      });
      buckets += page.deleted;
      after = page.last;
      await new Promise((resolve) => setImmediate(resolve));
    } while (after !== undefined && !stopping);
    if (buckets > 0) logger.info({ buckets }, "retention removed old history buckets");
  };
  const startRetention = (current: DaemonConfig): PeriodicTask =>
    runOnCron(current.journal.retentionCron, async () => {
      pruneJournal(current);
      await pruneHistory(current);
    });
  let syncTask: PeriodicTask | undefined;
  // The first sync, and whether its outcome (an answer or a failure) is in.
  let firstSync: Promise<SyncResult> | undefined;
  let firstSyncSettled = !config.registry.enabled;
  if (config.registry.enabled) {
    status(
      `listening on ${httpAddress.address}:${httpAddress.port} and ${grpcAddress}; syncing the catalog from ${primaryEndpoint}`,
    );
    const settleFirstSync = (first: SyncResult) => {
      // Ready means the first sync's outcome is committed and shown, reachable or not.
      engine.flush();
      if (!first.ok)
        logger.warn({ err: first.error }, "first sync failed; monitoring the last-known catalog");
    };
    firstSync = syncOnce().then((first) => {
      settleFirstSync(first);
      firstSyncSettled = true;
      return first;
    });
    if (view.size === 0) {
      await firstSync;
    } else {
      // With a stored catalog the daemon serves and checks it at once: a registry slow to
      // answer (deadlines, retries) does not hold readiness, and its answer follows.
      const waitMs = view.size > FIRST_SYNC_WAIT_MAX_ADAPTERS ? 0 : FIRST_SYNC_WAIT_MS;
      const answeredInTime =
        waitMs > 0 &&
        (await Promise.race([firstSync.then(() => true), delay(waitMs).then(() => false)]));
      if (!answeredInTime) {
        logger.info(
          { adapters: view.size, waited_ms: waitMs },
          "ready from the stored catalog; the registry has not answered yet",
        );
      }
    }
    syncTask = startSync(config);
  } else {
    logger.warn("oneiric_mcp.enabled is false: no catalog sync; monitoring the last-known catalog");
  }
  // A member waits (briefly) to learn who else is live, so it does not probe what they own.
  if (cluster) await cluster.start();
  // Adapters known from the last run are checked even when the registry is down.
  // A member answers at once for the verdicts it restored of what it owns (no-op alone).
  const owned = scheduling.reconcile();
  cluster?.vouchFor(owned);
  maintenance.start();
  let retention = startRetention(config);
  metrics.configReloadSuccessful.set(1);
  metrics.configReloadSuccessTimestamp.set(now() / 1000);

  const reload = (next: DaemonConfig): ConfigChanges => {
    if (stopping) throw new Error("the daemon is stopping; configuration reload skipped");
    const plan = planReload(running, next);
    const { changes, target } = plan;
    if (plan.adapterSettings) {
      // Timers pick the new intervals up as they run; breakers keep their state where the kind is unchanged.
      settings.reconfigure(target.adapters.defaults, target.adapters.overrides, target.flap);
      runner.reconcileWatches((adapterId) => view.entry(adapterId));
    }
    if (plan.scheduling) scheduler.reconfigure(schedulerOptions(target), plan.adapterSettings);
    if (plan.staleRule) {
      view.setStaleRule(target.probes.stale);
      historyRecorder.setStaleRule(target.probes.stale);
      // `status` and the read-only backends judge staleness by what the file says.
      try {
        store.setMeta(STALE_RULE_META, encodeStaleRule(target.probes.stale));
      } catch (error) {
        logger.warn({ err: error }, "staleness rule not saved for readers of the database file");
      }
    }
    if (plan.resolution) {
      resolution.reconfigure({ panic: target.resolution.panic }, target.resolution.requirements);
    }
    if (plan.adapterSettings || plan.resolution) front?.reconfigure(target);
    if (plan.maintenanceWindows) maintenance.replaceWindows(target.maintenance);
    if (plan.journal) {
      retention.stop();
      retention = startRetention(target);
    }
    if (plan.sync) {
      syncTask?.stop();
      syncTask = startSync(target);
    }
    running = target;
    metrics.configReloadSuccessful.set(1);
    metrics.configReloadSuccessTimestamp.set(now() / 1000);
    logger.info(
      { file: next.source, applied: changes.applied, needs_restart: changes.needsRestart },
      "configuration reloaded",
    );
    if (changes.needsRestart.length > 0) {
      logger.warn(
        { needs_restart: changes.needsRestart },
        `changed but needs a restart: ${changes.needsRestart.join(", ")}`,
      );
    }
    // Last, so this reload's own lines are written whatever the new level.
    if (plan.logLevel !== undefined) logger.level = plan.logLevel;
    return changes;
  };

  ready = true;
  await front?.readinessChanged();
  // performance.now() counts from the process's start: module loading included.
  logger.info(
    { adapters: view.size, since_process_start_ms: roundToMicroseconds(performance.now()) },
    "ready",
  );
  webhooks.start();

  return {
    httpAddress,
    front,
    grpcAddress,
    view,
    gateway,
    resolution,
    maintenance: maintenanceDesk,
    queries,
    hub,
    webhooks,
    pruneJournalNow: async () => {
      pruneJournal(running);
      await pruneHistory(running);
      await front?.settled();
    },
    syncNow: async () => {
      const result = await syncOnce();
      // What the sync found is committed and shown when this returns.
      engine.flush();
      await front?.settled();
      return result;
    },
    readEvents: (afterSeq, limit) => store.readEvents(afterSeq, limit),
    engineStatus: () => engine.status(),
    checkAllNow: async () => {
      await scheduler.checkAllNow();
      engine.flush();
      await front?.settled();
    },
    reload,
    reloadRejected: () => metrics.configReloadSuccessful.set(0),
    async stop() {
      stopping = true;
      ready = false;
      void front?.readinessChanged();
      syncTask?.stop();
      retention.stop();
      clearInterval(historyTicker);
      maintenance.stop();
      // A first sync still waiting for the registry gets a moment while the probes under way
      // finish; queued checks never start. Both bounded, so a stop takes seconds at 100,000.
      await Promise.all([
        firstSync && !firstSyncSettled
          ? withDeadline(
              firstSync,
              Math.min(config.registry.timeoutMs, STOP_FIRST_SYNC_GRACE_MS),
              () => logger.warn("stopping before the registry answered the first sync"),
            )
          : undefined,
        scheduler.stop(STOP_PROBE_GRACE_MS),
      ]);
      if (!engine.stop()) {
        const pending = engine.status();
        logger.error(
          { pending_events: pending.pendingEvents, pending_states: pending.pendingStates },
          "stopping with results the database refused; they are lost",
        );
      }
      // After the last commit: its verdicts and events go out, then the member leaves.
      await cluster?.stop();
      // After the last commit, so what the streams push now is dropped rather than half-recorded.
      watcher.close();
      // After the last commit (streams get its events), before tryShutdown, which waits for open calls.
      healthd.close();
      // Each bounded, so all of stop stays well inside the 10 s `run` allows it.
      await Promise.all([
        withDeadline(front ? front.close(http) : http.close(), 2_000, () =>
          logger.warn("HTTP connections still open after 2 s; closing without them"),
        ),
        // A delivery in flight gets 2 s to be answered (and recorded), then is aborted.
        withDeadline(webhooks.stop(2_000), 3_000, () =>
          logger.warn("webhook deliveries did not stop within 3 s; closing without them"),
        ),
        shutdownGrpc(grpcServer, 2_000),
      ]);
      hub.close();
      for (const probe of probes) probe.close();
      loopStalls.stop();
      for (const endpoint of gateway.endpoints) {
        try {
          store.saveEndpoint(toEndpointState(endpoint.status()), now());
        } catch (error) {
          logger.warn({ err: error, endpoint: endpoint.endpoint }, "registry link state not saved");
        }
        endpoint.close();
      }
      store.close();
      logger.info("stopped");
    },
  };
}

interface GatewayParts {
  store: HealthStore;
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
        try {
          store.saveEndpoint(toEndpointState(status), now());
        } catch (error) {
          // A database refusing writes is reported once by the engine; the registry call that
          // changed the link's state must not fail for it. The next change saves it again.
          logger.debug({ err: error, endpoint: status.endpoint }, "registry link state not saved");
        }
        if (status.breaker === "open") {
          logger.warn(
            { endpoint: status.endpoint, err: status.lastError ?? undefined },
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
          { endpoint, adapter_id: rejection.adapterId, reason: rejection.reason },
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

/** The meta key under which a member keeps the id it made itself at first start. */
const MEMBER_ID_META = "cluster_member_id";
/** The meta key of the members a member saw last: its view until NATS answers after a restart. */
const MEMBERS_META = "cluster_members";
/** How long start-up waits to learn the live members from NATS before it schedules. */
const MEMBERSHIP_WAIT_MS = 2_000;
/** Catalog events: every member journals them from its own sync; only an adapter's owner publishes them. */
const CATALOG_EVENT_TYPES: ReadonlySet<EventType> = new Set([
  "adapter.discovered",
  "adapter.updated",
  "adapter.removed",
]);

/**
 * This member's id: the configured one, else the one it made at its first start
 * (host name and a random suffix, kept in the database), so a restart keeps it
 * and with it its share of the adapters.
 */
function memberId(cluster: ClusterConfig, store: HealthStore): string {
  if (cluster.instance !== undefined) return cluster.instance;
  const kept = store.getMeta(MEMBER_ID_META);
  if (kept !== undefined) return kept;
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, "-")
      .slice(0, 48) || "healthd";
  const made = `${host}-${randomBytes(3).toString("hex")}`;
  store.setMeta(MEMBER_ID_META, made);
  return made;
}

interface ClusterParts {
  config: DaemonConfig;
  store: HealthStore;
  view: HealthView;
  hub: EventHub;
  engine: HealthEngine;
  scheduler: SchedulingTarget;
  logger: Logger;
  now: () => number;
  /** Readiness notes a NATS outage: told when the link comes or goes. */
  readinessChanged: () => void;
}

/**
 * A cluster member's parts (docs/scale-out.md): who owns which adapter (leases in
 * NATS KV and rendezvous hashing, or a static shard), the scheduler fed only the
 * owned ones, this member's journal onto the fleet's stream, the other members'
 * events mirrored into this journal and their verdicts into this view.
 */
function buildCluster(cluster: ClusterConfig, member: string, parts: ClusterParts) {
  const { store, view, hub, engine, logger, now } = parts;
  const nats = cluster.nats;
  const link = nats
    ? new NatsLink({
        servers: nats.servers,
        ...(nats.tls
          ? {
              tls: {
                ...(nats.tls.caPath ? { caPath: nats.tls.caPath } : {}),
                ...(nats.tls.certPath ? { certPath: nats.tls.certPath } : {}),
                ...(nats.tls.keyPath ? { keyPath: nats.tls.keyPath } : {}),
              },
            }
          : {}),
        ...(nats.credentialsPath ? { credentialsPath: nats.credentialsPath } : {}),
        connectionName: `oneiric-healthd ${cluster.name}/${member}`,
        logger,
      })
    : undefined;
  const membership =
    cluster.mode === "dynamic" && link
      ? new Membership({
          link,
          cluster: cluster.name,
          instanceId: member,
          leaseTtlMs: cluster.leaseTtlMs,
          logger,
          initialMembers: keptMembers(store, member),
        })
      : undefined;
  let assignment = new Assignment(membership ? membership.members() : [member]);
  const shard = cluster.shard;
  const ownerOf = (adapterId: string): string | undefined =>
    shard ? undefined : assignment.owner(adapterId);
  const owns = (adapterId: string): boolean =>
    shard
      ? shardOf(adapterId, shard.count) === shard.index
      : assignment.owner(adapterId) === member;
  const scheduling = new OwnedScheduling(parts.scheduler, view, owns);
  const vouchAgain = new Set<NodeJS.Timeout>();
  // The adapters this member gained: the others learn their new owner now, not at its first
  // check. Once more a lease TTL later, by when every member has seen this one's lease (a
  // re-listing every TTL backs the watch up): a member that saw the change late may have
  // let the first go, and an adapter whose breaker is open sends nothing until its trial.
  const vouchFor = (gained: readonly string[]): void => {
    if (engine.vouchFor(gained) === 0 || !membership) return;
    const timer = setTimeout(() => {
      vouchAgain.delete(timer);
      engine.vouchFor(gained.filter(owns));
    }, cluster.leaseTtlMs);
    timer.unref();
    vouchAgain.add(timer);
  };
  membership?.onChange((members) => {
    assignment = new Assignment(members);
    const before = scheduling.owned;
    vouchFor(scheduling.reassign(owns));
    // Verdicts the new owners sent before this member saw the change.
    exchange?.ownersChanged();
    logger.info(
      { members, owned_before: before, owned: scheduling.owned },
      "cluster members changed; adapters reassigned",
    );
    try {
      store.setMeta(MEMBERS_META, JSON.stringify(members));
    } catch (error) {
      logger.debug({ err: error }, "members not kept for the next start");
    }
  });
  const connection = () => link?.connection();
  const exchange = link
    ? new VerdictExchange({
        // Only while connected: during an outage its own queue keeps the newest verdict of
        // each adapter, where nats.js's reconnect buffer would keep every one until it overflowed.
        connection: () => (link.state() === "connected" ? link.connection() : undefined),
        cluster: cluster.name,
        member,
        // Static shards are disjoint by configuration; dynamic ones by the current assignment.
        owns: (from, adapterId) => (shard ? true : ownerOf(adapterId) === from),
        adopt: (states) => void engine.adoptVerdicts(states),
        logger,
      })
    : undefined;
  const streamMaxAgeMs = Math.max(parts.config.journal.maxAgeMs, 10 * 60_000);
  const publisher = link
    ? new JournalPublisher({
        connection,
        cluster: cluster.name,
        instanceId: member,
        journal: store,
        feed: hub,
        shouldPublish: (event) => !CATALOG_EVENT_TYPES.has(event.type) || owns(event.subject),
        subjectOf: (event) => eventSubject(cluster.name, event, (id) => view.entry(id), member),
        logger,
        now,
        streamMaxAgeMs,
      })
    : undefined;
  const feed = link
    ? new FleetFeed({
        connection,
        cluster: cluster.name,
        member,
        storedPosition: () => store.loadClusterCursor(FLEET_CURSOR),
        startAt: (position) => store.saveClusterCursor(FLEET_CURSOR, position, now()),
        mirror: (events, position) => engine.mirrorEvents(events, { name: FLEET_CURSOR, position }),
        ensureStream: async (opened) =>
          ensureEventStream(await jetstreamManager(opened), cluster.name, streamMaxAgeMs),
        logger,
      })
    : undefined;
  link?.onState((state) => {
    parts.readinessChanged();
    if (state !== "connected") return;
    exchange?.connected();
    void feed?.connected();
  });
  return {
    scheduling,
    exchange,
    owns,
    vouchFor,
    metrics: {
      members: () => (membership ? membership.members().length : 1),
      ownedAdapters: () => scheduling.owned,
      natsConnected: () => link?.state() === "connected",
      publishLagEvents: () => publisher?.status().lagEvents ?? 0,
      publishedEvents: () => publisher?.status().published ?? 0,
      leaseFenced: () => membership?.status().fencedCount ?? 0,
      verdictsWaiting: () => exchange?.status().waiting ?? 0,
      verdicts: () => {
        const status = exchange?.status();
        return status
          ? { adopted: status.received - status.refused, refused: status.refused }
          : { adopted: 0, refused: 0 };
      },
    },
    natsReadiness: () => {
      if (!link) return undefined;
      const status = link.status();
      return {
        connected: status.state === "connected",
        since: status.since,
        lastError: status.lastError,
      };
    },
    /** Connects in the background; waits (bounded) for the live members before the first schedule. */
    async start(): Promise<void> {
      link?.start();
      membership?.start();
      publisher?.start();
      if (membership && !(await membership.settled(MEMBERSHIP_WAIT_MS))) {
        logger.warn(
          { members: membership.members() },
          "NATS has not answered yet: scheduling by the members seen last; ownership follows when it answers",
        );
      }
      assignment = new Assignment(membership ? membership.members() : [member]);
      logger.info(
        { member, mode: cluster.mode, members: assignment.members },
        "cluster member started",
      );
    },
    /** After the engine's last commit: its verdicts and events go out, then the member leaves. */
    async stop(): Promise<void> {
      for (const timer of vouchAgain) clearTimeout(timer);
      vouchAgain.clear();
      exchange?.stop();
      await withDeadline(publisher ? publisher.stop(2_000) : Promise.resolve(), 3_000, () =>
        logger.warn("events not yet on the fleet's stream stay in the journal for the next start"),
      );
      await feed?.stop();
      await membership?.stop();
      await link?.close();
    },
  };
}

/** The members this one saw last (itself included), kept for a start while NATS is away. */
function keptMembers(store: HealthStore, member: string): string[] {
  try {
    const kept = JSON.parse(store.getMeta(MEMBERS_META) ?? "[]") as unknown;
    const members = Array.isArray(kept) ? kept.filter((id) => typeof id === "string") : [];
    return members.includes(member) ? members : [...members, member];
  } catch {
    return [member];
  }
}
