import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import pino, { type Logger } from "pino";
import type { DaemonConfig } from "../../config/load.js";
import type { Requirement } from "../../domain/resolution.js";
import { roundToMicroseconds } from "../../domain/round-to-microseconds.js";
import type { EventPublisher } from "../../engine/health-engine.js";
import type { HealthView } from "../../engine/health-view.js";
import type { MaintenanceService } from "../../maintenance/maintenance-service.js";
import type { HttpApi, HttpApiOptions } from "../http/http-server.js";
import { REPLICA_SEQ_HEADER } from "../http/pass-on.js";
import type { Readiness } from "../query-service.js";
import type { FrontInit, FrontToMain, MainToFront } from "./front-messages.js";
import { ReplicaFeed, snapshotMessages } from "./replica-feed.js";

/** How often readiness (which has no change event: the engine's store status) is compared. */
const READINESS_POLL_MS = 50;

/** At stop, how long the front's thread gets to close its listener before it is terminated. */
const CLOSE_GRACE_MS = 2_000;

export interface HttpFrontOptions {
  config: DaemonConfig;
  view: HealthView;
  maintenance: MaintenanceService;
  readiness: () => Readiness;
  /** The journal's newest seq now (the front's event streams start from it). */
  newestEventSeq: () => number;
  /** A requirement the front resolved: the main thread watches it for failover. */
  asked: (requirement: Requirement, panic: boolean | undefined) => void;
  logger: Logger;
  /** The main thread's clock in shared memory (ms at index 0), when the daemon was given one. */
  clock?: Float64Array | undefined;
  /** The front's thread died: the daemon cannot serve HTTP any more. */
  failed: (error: Error) => void;
}

/**
 * The HTTP front, seen from the main thread: a worker thread owning the public
 * listener and a replica of the committed view, fed here one batch per tick;
 * the main thread's HttpApi answers the rest on a unix socket in a private
 * (0700) temporary directory, removed at stop.
 */
export class HttpFront {
  private readonly feed: ReplicaFeed;
  /** Made at start. */
  private directory = "";
  private worker: Worker | undefined;
  private appliedSeq = 0;
  private streams = 0;
  private markLoaded: () => void = () => undefined;
  private readonly loadedNow = new Promise<void>((resolve) => {
    this.markLoaded = resolve;
  });
  private snapshotSentAt = 0;
  /** Settles if the thread fails or exits; made by boot(). */
  private bootFailure: Promise<Error> = new Promise(() => undefined);
  private readonly settledWaiters: { seq: number; resolve: () => void }[] = [];
  private readinessPoll: NodeJS.Timeout | undefined;
  private stopping = false;
  private exited = false;
  private readonly logger: Logger;

  constructor(private readonly options: HttpFrontOptions) {
    this.logger = options.logger;
    this.feed = new ReplicaFeed((batch) => this.post(batch), options.readiness);
  }

  /** The internal API's unix socket (once started). */
  get socketPath(): string {
    return join(this.directory, "api.sock");
  }

  /**
   * `publisher` behind the feed: a commit's changes, then its events, are posted
   * to the replica before the events reach any subscriber here, so a client told
   * of a change by an event stream (the front's or this thread's) finds it in
   * the front's answers.
   */
  flushingBefore(publisher: EventPublisher): EventPublisher {
    return {
      publish: (events) => {
        this.feed.recordEvents(events);
        this.feed.flush();
        publisher.publish(events);
      },
    };
  }

  /** What the main thread's HttpApi needs to run behind the front. */
  internalOptions(): Pick<
    HttpApiOptions,
    "behindFront" | "maxConnections" | "slowClientTimeoutMs"
  > {
    return {
      behindFront: {
        answerHeaders: () => ({ [REPLICA_SEQ_HEADER]: String(this.feed.recordedSeq) }),
      },
      // The front bounds connections and slow clients; it opens one connection per request in flight.
      maxConnections: 2 * this.options.config.limits.maxConnections + 16,
      slowClientTimeoutMs: 600_000,
    };
  }

  /**
   * Starts the front's thread, which loads its code and waits to be told to
   * listen: called before the main thread restores its state, so the two overlap.
   * Until start() the thread does not keep the process alive.
   */
  boot(): void {
    if (this.worker) return;
    const init: FrontInit = {
      config: this.options.config,
      logLevel: this.logger.level,
      clock: this.options.clock?.buffer as SharedArrayBuffer | undefined,
    };
    const worker = startWorker(init);
    this.worker = worker;
    worker.unref();
    worker.once("exit", () => {
      this.exited = true;
    });
    // Kept for start(): a thread that fails to load (or exits) before it is asked to listen.
    this.bootFailure = new Promise<Error>((resolve) => {
      worker.once("error", resolve);
      worker.once("exit", (code) =>
        resolve(new Error(`the HTTP front's thread exited (code ${code}) before listening`)),
      );
    });
  }

  /**
   * The internal API listens, the booted thread (booted now if it was not) listens;
   * resolves with its address. The view's snapshot follows in parts, and until the
   * thread has it all it passes every request on.
   */
  async start(internal: HttpApi): Promise<AddressInfo> {
    this.boot();
    const worker = this.worker as Worker;
    worker.ref();
    this.directory = mkdtempSync(join(tmpdir(), "oneiric-healthd-front-"));
    chmodSync(this.directory, 0o700);
    await internal.listenOnSocket(this.socketPath);
    const { config } = this.options;
    // Taken now, so the changes recorded from here on follow it; sent once the front listens.
    const snapshot = this.feed.attach(
      this.options.view,
      this.options.maintenance,
      config.probes.stale,
      this.options.newestEventSeq(),
    );
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      void this.bootFailure.then(reject);
      worker.on("message", (message: FrontToMain) => {
        if (message.type === "listening") {
          resolve(message.address);
        } else if (message.type === "failed") {
          reject(Object.assign(new Error(message.message), { code: message.code }));
        } else {
          this.onMessage(message);
        }
      });
      this.send({ type: "listen", socketPath: this.socketPath });
    }).catch(async (error: unknown) => {
      this.stopping = true;
      await worker.terminate();
      this.removeDirectory();
      throw error;
    });
    void this.bootFailure.then((error) => this.died(error));
    this.readinessPoll = setInterval(() => this.feed.noteReadiness(), READINESS_POLL_MS);
    this.readinessPoll.unref();
    this.snapshotSentAt = performance.now();
    this.sendSnapshot(snapshotMessages(snapshot));
    return address;
  }

  /** A start-up that failed before start(): ends the booted thread. */
  async abandon(): Promise<void> {
    if (this.directory !== "" || this.worker === undefined) return;
    this.stopping = true;
    await this.worker.terminate();
  }

  /** The front's thread, for diagnostics and tests (undefined before start). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /**
   * Resolves once the front's replica holds the whole snapshot and answers the hot
   * routes itself (until then it passes them on: the answers are the same).
   */
  loaded(): Promise<void> {
    return this.loadedNow;
  }

  /** Event streams the front serves itself (passed-on ones are the main thread's hub's). */
  get eventStreams(): number {
    return this.streams;
  }

  /** The private directory holding the internal API's socket. */
  get socketDirectory(): string {
    return this.directory;
  }

  /** Resolves once the replica has applied every change recorded so far. */
  settled(): Promise<void> {
    this.feed.flush();
    const seq = this.feed.recordedSeq;
    if (seq <= this.appliedSeq || this.worker === undefined || this.stopping) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.settledWaiters.push({ seq, resolve }));
  }

  /** Readiness may have changed now (start-up finished, stop began): tell the front at once. */
  readinessChanged(): Promise<void> {
    this.feed.noteReadiness();
    return this.settled();
  }

  /** Retention deleted journal events: the front serves no cursor before `oldestSeq - 1`. */
  journalPruned(oldestSeq: number | null): void {
    if (oldestSeq !== null) this.feed.recordJournalFloor(oldestSeq - 1);
  }

  /** A reload: the settings and resolution options the front's resolution reads. */
  reconfigure(target: DaemonConfig): void {
    this.send({ type: "reconfigure", config: target });
  }

  /** Closes the front's listener and thread, then the internal API, and removes the socket's directory. */
  async close(internal: HttpApi): Promise<void> {
    this.stopping = true;
    clearInterval(this.readinessPoll);
    this.feed.close();
    for (const waiter of this.settledWaiters.splice(0)) waiter.resolve();
    const worker = this.worker;
    const frontClosed =
      worker && !this.exited
        ? new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, CLOSE_GRACE_MS);
            worker.on("message", (message: FrontToMain) => {
              if (message.type === "closed") {
                clearTimeout(timer);
                resolve();
              }
            });
            worker.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            this.send({ type: "close" });
          })
        : Promise.resolve();
    await Promise.all([frontClosed, internal.close()]);
    await worker?.terminate();
    this.removeDirectory();
  }

  /** One part per turn of the event loop: each is a clone of a few thousand entries. */
  private sendSnapshot(messages: MainToFront[]): void {
    const next = messages.shift();
    if (next === undefined) return;
    this.send(next);
    if (messages.length > 0) setImmediate(() => this.sendSnapshot(messages));
  }

  private post(batch: MainToFront): void {
    this.send(batch);
  }

  private send(message: MainToFront): void {
    if (this.worker === undefined || this.stopping) {
      if (message.type !== "close") return;
    }
    this.worker?.postMessage(message);
  }

  private onMessage(message: FrontToMain): void {
    switch (message.type) {
      case "applied": {
        this.appliedSeq = message.seq;
        for (let index = this.settledWaiters.length - 1; index >= 0; index--) {
          const waiter = this.settledWaiters[index];
          if (waiter && waiter.seq <= message.seq) {
            this.settledWaiters.splice(index, 1);
            waiter.resolve();
          }
        }
        return;
      }
      case "loaded":
        this.logger.debug(
          { took_ms: roundToMicroseconds(performance.now() - this.snapshotSentAt) },
          "the HTTP front's replica is loaded; it answers the hot routes from now on",
        );
        this.markLoaded();
        return;
      case "streams":
        this.streams = message.count;
        return;
      case "asked":
        this.options.asked(message.requirement, message.panic);
        return;
      case "log":
        this.relayLog(message.line);
        return;
      default:
        return;
    }
  }

  /** The front's log lines, through the daemon's logger (so its level, fields and destination apply). */
  private relayLog(line: string): void {
    try {
      const { level, msg, ...fields } = JSON.parse(line) as Record<string, unknown> & {
        level: number;
        msg?: string;
      };
      const label = pino.levels.labels[level] as pino.Level | undefined;
      if (label) this.logger[label]({ thread: "front", ...fields }, msg ?? "");
    } catch {
      this.logger.warn({ line }, "unreadable log line from the HTTP front");
    }
  }

  private died(error: Error): void {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.readinessPoll);
    this.feed.close();
    this.logger.error({ err: error }, "the HTTP front's thread died: HTTP is no longer served");
    this.options.failed(error);
  }

  private removeDirectory(): void {
    if (this.directory !== "") rmSync(this.directory, { recursive: true, force: true });
  }
}

/**
 * Starts front-worker.ts: compiled, as it is; from the sources (a checkout, the
 * tests), through tsx, which the thread registers for itself.
 */
function startWorker(init: FrontInit): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const entry = new URL(fromSources ? "./front-worker.ts" : "./front-worker.js", import.meta.url);
  const options = { workerData: init, execArgv: [] as string[] };
  if (!fromSources) return new Worker(entry, options);
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
