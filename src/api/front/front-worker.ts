/**
 * The front's thread: owns the public HTTP(S) listener, admits every request
 * (auth, scopes, rate limits), answers the hot read routes from its replica of
 * the committed view and passes every other request on to the main thread's
 * API over a private unix socket. Started by HttpFront (http-front.ts) while the
 * main thread restores its state; it listens when told to, and answers from its
 * replica once the main thread's snapshot has arrived.
 */
import { parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { SettingsBook } from "../../config/settings-book.js";
import { formatHostPort } from "../../domain/host-port.js";
import type { Requirement, Resolution } from "../../domain/resolution.js";
import { HealthView } from "../../engine/health-view.js";
import { EventHub, type Subscription } from "../../events/event-hub.js";
import { MaintenanceService } from "../../maintenance/maintenance-service.js";
import { ResolutionService } from "../../resolution/resolution-service.js";
import { surfaceSecurity } from "../auth/surface-security.js";
import { HttpApi } from "../http/http-server.js";
import { PageAssets } from "../http/page-assets.js";
import { passOnTo } from "../http/pass-on.js";
import { type QueryParts, QueryService } from "../query-service.js";
import type { FrontInit, FrontToMain, MainToFront } from "./front-messages.js";
import { RecentEvents } from "./recent-events.js";
import { Replica } from "./replica.js";
import type { SnapshotEnd, SnapshotPart } from "./replica-feed.js";

const port = parentPort;
if (!port) throw new Error("front-worker.ts runs as a worker thread");
const init = workerData as FrontInit;
const config = init.config;

/** Events held for streams that resume at the front (each about half a kilobyte). */
const RECENT_EVENTS_HELD = 4_096;

const send = (message: FrontToMain) => port.postMessage(message);
const logger = pino(
  { level: init.logLevel, base: undefined, timestamp: false },
  { write: (line: string) => send({ type: "log", line }) },
);

// The main thread's clock when it was given one (tests), else the same defaults it uses.
const cell = init.clock ? new Float64Array(init.clock) : undefined;
const now = cell ? () => cell[0] ?? 0 : Date.now;
const monotonic = cell ? now : () => performance.now();

const maintenance = new MaintenanceService(config.maintenance, [], now);
const view = new HealthView(
  formatHostPort(config.registry.host, config.registry.port),
  config.probes.stale,
  now,
  (adapterId) => maintenance.current(adapterId),
  monotonic,
);
/**
 * Event streams are served here from the events each batch brings; a stream
 * resuming from before what is held is passed on (the main thread replays SQLite).
 */
const recentEvents = new RecentEvents(RECENT_EVENTS_HELD);
/** The front's hub, telling the main thread how many streams it serves (GET /v1/health counts them). */
class CountedHub extends EventHub {
  private told = 0;
  private telling = false;

  override subscribe(...args: Parameters<EventHub["subscribe"]>): Subscription {
    const subscription = super.subscribe(...args);
    this.tell();
    return {
      close: () => {
        subscription.close();
        this.tell();
      },
    };
  }

  private tell(): void {
    if (this.telling) return;
    this.telling = true;
    queueMicrotask(() => {
      this.telling = false;
      if (this.subscriberCount === this.told) return;
      this.told = this.subscriberCount;
      send({ type: "streams", count: this.told });
    });
  }
}
const hub = new CountedHub(recentEvents);
// Empty until the main thread's snapshot has arrived (after this thread listens); until then
// every request is passed on, so ready is not held up by copying the view.
const replica = new Replica(view, maintenance, {
  started: (seq) => recentEvents.startAt(seq),
  published: (events) => hub.publish(recentEvents.append(events)),
  prunedTo: (seq) => recentEvents.prunedTo(seq),
});
const settings = new SettingsBook(config.adapters.defaults, config.adapters.overrides, config.flap);

/**
 * Requirements asked here are watched for failover by the main thread's
 * resolution service: each is passed on (at most once a second per question).
 */
class TellingResolution extends ResolutionService {
  private readonly told = new Map<string, number>();

  override resolve(requirement: Requirement, panic?: boolean, limit?: number): Resolution {
    const resolution = super.resolve(requirement, panic, limit);
    const key = JSON.stringify([requirement, panic ?? null]);
    const at = Date.now();
    if ((this.told.get(key) ?? Number.NEGATIVE_INFINITY) <= at - 1_000) {
      if (this.told.size >= 10_000) this.told.clear();
      this.told.set(key, at);
      send({ type: "asked", requirement, panic });
    }
    return resolution;
  }
}

const resolution = new TellingResolution(
  view,
  maintenance,
  settings,
  { panic: config.resolution.panic },
  [],
);
const mainThreadOnly = (): never => {
  throw new Error("served by the main thread");
};
const queries = new QueryService({
  view,
  resolution,
  now,
  readiness: () => replica.readiness(),
  // The front answers reads only; everything else is passed on before it gets here.
  maintenance: { declare: mainThreadOnly, lift: mainThreadOnly },
  hub: undefined as unknown as QueryParts["hub"],
  store: undefined as unknown as QueryParts["store"],
});

const security = surfaceSecurity(config);
/** Made by the "listen" message, which names the internal API's socket. */
let forward: ReturnType<typeof passOnTo> | undefined;
const http = new HttpApi({
  queries,
  logger,
  access: security.access,
  tls: security.httpTls,
  maxConnections: config.limits.maxConnections,
  slowClientTimeoutMs: config.limits.slowClientTimeoutMs,
  maxBodyBytes: config.http.maxBodyBytes,
  hub,
  heartbeatMs: config.http.sseHeartbeatMs,
  maxEventStreams: config.http.maxEventStreams,
  page: new PageAssets(),
  passOn: (request, response, principal) => {
    if (!forward) throw new Error("the front passes requests on only once it listens");
    return forward.passOn(request, response, principal);
  },
  answersHere: () => replica.loaded,
});

/**
 * The snapshot's parts, loaded one per turn of this thread's event loop: they
 * arrive together, and loading them in one go would hold every request (passed
 * on meanwhile) for as long as the whole view takes to load.
 */
const snapshotQueue: (SnapshotPart | SnapshotEnd)[] = [];
function loadLater(message: SnapshotPart | SnapshotEnd): void {
  snapshotQueue.push(message);
  if (snapshotQueue.length === 1) setImmediate(loadNext);
}
function loadNext(): void {
  const message = snapshotQueue.shift();
  if (!message) return;
  replica.load(message);
  if (message.type === "snapshotEnd") send({ type: "loaded" });
  if (snapshotQueue.length > 0) setImmediate(loadNext);
}

port.on("message", (message: MainToFront) => {
  switch (message.type) {
    case "snapshotPart":
    case "snapshotEnd":
      loadLater(message);
      return;
    case "changes":
      // Applied, or kept to apply once the snapshot is in (everything is passed on until then).
      replica.apply(message);
      send({ type: "applied", seq: message.seq });
      return;
    case "reconfigure": {
      const target = message.config;
      settings.reconfigure(target.adapters.defaults, target.adapters.overrides, target.flap);
      resolution.reconfigure({ panic: target.resolution.panic }, []);
      return;
    }
    case "listen":
      forward = passOnTo({
        socketPath: message.socketPath,
        applied: (seq) => replica.applied(seq),
        logger,
      });
      http.listen(config.http.listen.host, config.http.listen.port).then(
        (address) => send({ type: "listening", address: { ...address } }),
        (error: NodeJS.ErrnoException) =>
          send({ type: "failed", message: error.message, code: error.code }),
      );
      return;
    case "close":
      void http.close().then(() => {
        forward?.close();
        send({ type: "closed" });
        port.close();
      });
      return;
  }
});
