/**
 * `status --watch`: the listing kept current. From a daemon: listed once, then
 * each event about an adapter refetches that adapter (a burst of them, or a
 * registry event, the whole listing), the event stream resumed with
 * Last-Event-ID when it drops. While no daemon answers: the database file,
 * read again when it changes, the daemon asked again meanwhile, and followed
 * again once it answers.
 */
import { existsSync, type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ApiError } from "../../api/api-error.js";
import type { HttpQueryBackend } from "../../api/clients/http-query-client.js";
import { type AdapterDetail, matchesListFilter } from "../../api/query-service.js";
import type { DaemonConfig } from "../../config/load.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import { readStatusListing, snapshotOf } from "../../offline-view.js";
import { toJournalEvent } from "../query-format.js";
import { registryChanged, type StatusListingSnapshot, statusChanges } from "./status-changes.js";
import type { WatchSource } from "./status-frame.js";
import type { WatchOutput } from "./watch-output.js";

/** A validated list filter (listFilterSchema's output). */
export type ValidListFilter = Parameters<typeof matchesListFilter>[1];

export interface StatusWatchOptions {
  /** The daemon to follow; undefined with --db. */
  daemon: HttpQueryBackend | undefined;
  /** The file read while the daemon does not answer; undefined with --url. */
  databasePath: string | undefined;
  /** --config: its fixed maintenance windows apply to what is read from the file. */
  config: DaemonConfig | undefined;
  filter: ValidListFilter;
  output: WatchOutput;
  /** Connection trouble, for a person reading stderr. */
  notice: (message: string) => void;
  signal: AbortSignal;
  now?: () => number;
  timing?: Partial<WatchTiming>;
}

export interface WatchTiming {
  /** Events arriving within this are fetched together. */
  coalesceMs: number;
  /** File change notices within this are one read. */
  fileDebounceMs: number;
  /** The file is read this often anyway: fs.watch misses changes on some file systems. */
  filePollMs: number;
  /** The first wait before asking a lost daemon again; it doubles up to daemonRetryMaxMs. */
  daemonRetryMs: number;
  daemonRetryMaxMs: number;
  /** How long the daemon gets to answer /healthz. */
  probeTimeoutMs: number;
}

const DEFAULT_TIMING: WatchTiming = {
  coalesceMs: 100,
  fileDebounceMs: 100,
  filePollMs: 2_000,
  daemonRetryMs: 250,
  daemonRetryMaxMs: 5_000,
  probeTimeoutMs: 500,
};

/** More adapters than this to refetch at once, and the whole listing is asked for instead. */
const ROW_FETCH_LIMIT = 20;

/** Watches until `signal` aborts; throws what the user must mend (a refused token, say). */
export async function watchStatus(options: StatusWatchOptions): Promise<void> {
  await new StatusWatch(options).run();
}

class StatusWatch {
  private readonly now: () => number;
  private readonly timing: WatchTiming;
  private shown: { listing: StatusListingSnapshot; source: WatchSource } | undefined;
  private changedAt: number | null = null;

  constructor(private readonly options: StatusWatchOptions) {
    this.now = options.now ?? Date.now;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
  }

  async run(): Promise<void> {
    const { daemon, databasePath, signal } = this.options;
    let downSince: number | undefined;
    while (!signal.aborted) {
      if (daemon && (await daemon.isUp(this.timing.probeTimeoutMs))) {
        downSince = undefined;
        await this.followDaemon(daemon);
        if (signal.aborted) return;
        // Lost: the file (or the wait) comes first, so a daemon that answers /healthz but
        // nothing else is asked again after a pause, not in a tight loop.
      }
      downSince ??= this.now();
      if (databasePath !== undefined) {
        await this.followFile(databasePath, daemon, downSince);
      } else if (daemon) {
        this.show(this.shown?.listing ?? { adapters: [], registry: null }, {
          kind: "unreachable",
          daemon: daemon.description,
          downSince,
        });
        await this.untilDaemonAnswers(daemon);
      }
    }
  }

  /** Shows `listing` from `source`, saying what changed since the last one shown. */
  private show(listing: StatusListingSnapshot, source: WatchSource): void {
    const time = this.now();
    const before = this.shown;
    const changes = before ? statusChanges(before.listing.adapters, listing.adapters) : [];
    const registry = before ? registryChanged(before.listing.registry, listing.registry) : false;
    const sourceChanged = before !== undefined && !sameSource(before.source, source);
    this.shown = { listing, source };
    if (changes.length > 0 || registry) this.changedAt = time;
    this.options.output.update({
      listing,
      source,
      first: before === undefined,
      sourceChanged,
      registryChanged: registry,
      changes,
      changedAt: this.changedAt,
      time,
    });
  }

  /** Lists, then follows the event stream; returns when the daemon is lost (or on abort). */
  private async followDaemon(daemon: HttpQueryBackend): Promise<void> {
    const { filter, signal, notice } = this.options;
    const lost = new AbortController();
    const following = AbortSignal.any([signal, lost.signal]);
    const source: WatchSource = { kind: "daemon", daemon: daemon.description };
    const dirty = new Set<string>();
    let wholeListing = false;
    let timer: NodeJS.Timeout | undefined;
    let refreshing = Promise.resolve();
    // A refresh's failure that is not a lost daemon (a refused token): the watch ends with it.
    let refreshFailure: unknown;
    const losing = (error: unknown) => {
      if (!daemonLost(error)) throw error;
      lost.abort();
    };
    const refresh = async () => {
      if (following.aborted) return;
      try {
        const current = this.shown?.listing ?? { adapters: [], registry: null };
        if (wholeListing || dirty.size > ROW_FETCH_LIMIT) {
          wholeListing = false;
          dirty.clear();
          this.show(await daemon.listAdapters(filter), source);
          return;
        }
        const ids = [...dirty];
        dirty.clear();
        const rows = new Map(current.adapters.map((adapter) => [adapter.adapter_id, adapter]));
        for (const id of ids) {
          const view = await this.fetchRow(daemon, id);
          if (view && matchesListFilter(view, filter)) rows.set(id, view);
          else rows.delete(id);
        }
        const adapters = [...rows.values()].sort((a, b) =>
          a.adapter_id.localeCompare(b.adapter_id),
        );
        this.show({ adapters, registry: current.registry }, source);
      } catch (error) {
        losing(error);
      }
    };
    const schedule = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        refreshing = refreshing.then(refresh).catch((error: unknown) => {
          refreshFailure = error;
          lost.abort();
        });
      }, this.timing.coalesceMs);
    };
    try {
      // The cursor first: an event between it and the listing is fetched again, never missed.
      const cursor = (await daemon.healthCheck()).journal.newest_seq ?? 0;
      this.show(await daemon.listAdapters(filter), source);
      await daemon.followEvents(
        cursor,
        (event) => {
          const type = toJournalEvent(event).type as string;
          if (type.startsWith("adapter.") || type.startsWith("breaker.")) dirty.add(event.subject);
          else if (type.startsWith("registry.")) wholeListing = true;
          else return;
          schedule();
        },
        following,
        (message) => {
          notice(message);
          // The stream dropped: a daemon that still answers is reconnected to; a gone one is left.
          void daemon.isUp(this.timing.probeTimeoutMs).then((up) => {
            if (!up) lost.abort();
          });
        },
      );
    } catch (error) {
      if (!signal.aborted) losing(error);
    } finally {
      clearTimeout(timer);
      await refreshing;
    }
    if (refreshFailure !== undefined) throw refreshFailure;
    if (!signal.aborted) notice(`${daemon.description} does not answer`);
  }

  /** One adapter's row as the listing has it; undefined when it is gone. */
  private async fetchRow(
    daemon: HttpQueryBackend,
    adapterId: string,
  ): Promise<AdapterStatusView | undefined> {
    try {
      return statusViewOf(await daemon.getAdapter(adapterId));
    } catch (error) {
      if (error instanceof ApiError && error.code === "NOT_FOUND") return undefined;
      throw error;
    }
  }

  /**
   * Reads the file now, again when it (or its WAL) changes and every
   * filePollMs, until the daemon answers again (or, without one, until abort).
   */
  private async followFile(
    path: string,
    daemon: HttpQueryBackend | undefined,
    downSince: number,
  ): Promise<void> {
    const source: WatchSource = daemon
      ? { kind: "database", path, daemon: { description: daemon.description, downSince } }
      : { kind: "database", path };
    let unreadable: string | undefined;
    const read = () => {
      try {
        this.show(this.readFile(path), source);
        unreadable = undefined;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // Said once, not at every poll, until the file reads again.
        if (message !== unreadable) this.options.notice(`cannot read ${path}: ${message}`);
        unreadable = message;
      }
    };
    let debounce: NodeJS.Timeout | undefined;
    const changed = () => {
      clearTimeout(debounce);
      debounce = setTimeout(read, this.timing.fileDebounceMs);
    };
    read();
    const watcher = watchFile(path, changed);
    const poll = setInterval(read, this.timing.filePollMs);
    try {
      if (daemon) await this.untilDaemonAnswers(daemon);
      else await untilAborted(this.options.signal);
    } finally {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(debounce);
    }
  }

  private readFile(path: string): StatusListingSnapshot {
    if (!existsSync(path)) throw new Error("no such file");
    const snapshot = snapshotOf(readStatusListing(path, this.now(), this.options.config));
    const { filter } = this.options;
    return {
      ...snapshot,
      adapters: snapshot.adapters.filter((view) => matchesListFilter(view, filter)),
    };
  }

  /** Asks the daemon again, waiting longer each time up to daemonRetryMaxMs, until it answers. */
  private async untilDaemonAnswers(daemon: HttpQueryBackend): Promise<void> {
    const { signal } = this.options;
    let waitMs = this.timing.daemonRetryMs;
    while (!signal.aborted) {
      await delay(waitMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      if (await daemon.isUp(this.timing.probeTimeoutMs)) return;
      waitMs = Math.min(waitMs * 2, this.timing.daemonRetryMaxMs);
    }
  }
}

/** The listing's row of an adapter's detail (`GET /v1/adapters/{id}` adds these fields). */
function statusViewOf(detail: AdapterDetail): AdapterStatusView {
  const {
    capabilities: _capabilities,
    metadata: _metadata,
    factory_path: _factoryPath,
    last_heartbeat: _lastHeartbeat,
    consecutive_successes: _successes,
    consecutive_failures: _failures,
    recent_checks: _recentChecks,
    ...view
  } = detail;
  return view;
}

/** Errors that mean "no daemon to ask now" rather than a mistake to report. */
function daemonLost(error: unknown): boolean {
  return error instanceof ApiError && (error.code === "NOT_READY" || error.code === "INTERNAL");
}

function sameSource(a: WatchSource, b: WatchSource): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Watches the file's directory for the file and its WAL: the daemon writes the
 * WAL, and either may be replaced or created, which a watch on the file itself
 * would not follow. Undefined where the system cannot watch (the poll remains).
 */
function watchFile(path: string, onChange: () => void): FSWatcher | undefined {
  const names = new Set([basename(path), `${basename(path)}-wal`]);
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
      if (name === null || names.has(name)) onChange();
    });
    watcher.on("error", () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}
