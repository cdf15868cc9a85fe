import { setImmediate as setImmediatePromise } from "node:timers/promises";
import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";
import {
  type CatalogChanges,
  type CatalogDiff,
  changedFields,
  DEFAULT_REMOVAL_RULE,
  diffCatalog,
  diffFromChanges,
  type HeldRemoval,
  type RemovalRule,
  screenRemoval,
} from "../domain/catalog.js";
import type { NewEvent } from "../domain/events.js";
import type { CatalogStep } from "../engine/health-engine.js";
import type { RegistryState } from "../storage/store.js";

/** Where the catalog comes from: registries only, never a cache or fallback. */
export interface CatalogSource {
  readonly primaryEndpoint: string;
  /** The whole catalog, screened, from the first registry that answers. */
  readCatalog(): Promise<CatalogAnswer>;
  /**
   * Whether `readCatalog`'s error means a registry answered, but not with a
   * catalog that can be read (another message, bytes that are not protobuf, an
   * error status), rather than that no registry answered.
   */
  isUnreadableCatalog(error: unknown): boolean;
}

/** A registry answering the catalog sync with something that is not a readable catalog, while it lasts. */
export interface UnreadableCatalog {
  /** ms of the first sync of the episode. */
  readonly since: number;
  /** The newest sync's error. */
  readonly error: string;
}

/** A registry's whole catalog, numbered, with what changed since the answer before it. */
export interface CatalogAnswer {
  readonly entries: readonly AdapterEntry[];
  readonly endpoint: string;
  /** This answer's number (the source's own numbering). */
  readonly generation: number;
  /** Changes since the answer numbered `changes.since`, when the source could tell. */
  readonly changes: CatalogChanges | undefined;
}

/** The committed catalog and the engine that commits changes to it. */
export interface CatalogSink {
  /** The committed catalog. */
  entries(): AdapterEntry[];
  registryState(): RegistryState;
  /** Commits the change with its events; throws (keeping nothing) when the store refuses it. */
  commitCatalog(step: CatalogStep): void;
  /** Records the registry link's state, with the events of a flip. */
  recordRegistry(state: RegistryState, events: readonly NewEvent[]): void;
}

export interface SyncResult {
  ok: boolean;
  added: number;
  updated: number;
  removed: number;
  /** Removals held back as suspect, awaiting confirmation by later answers. */
  held: number;
  error?: string;
}

/**
 * Pulls the catalog from the registry, screens it, diffs it against the
 * committed catalog and hands the change to the engine, which commits it with
 * its events. A failed sync changes nothing but the registry's reachability.
 */
export class CatalogSync {
  /** A suspect removal seen in recent answers, not yet confirmed (see `screenRemoval`). */
  private heldRemoval: HeldRemoval | undefined;
  /**
   * The answer the committed catalog is exactly (the catalog changes only through
   * this sync), and its size: an answer whose changes are relative to it is
   * compared by those changes alone. Undefined while a removal is held back, after
   * seeding from the local file, and at start (the stored catalog is compared whole).
   */
  private applied: { generation: number; size: number } | undefined;
  /** The open episode of an unreadable catalog: from the first such sync to the next that succeeds. */
  private unreadable: UnreadableCatalog | undefined;
  private syncing = false;

  constructor(
    private readonly source: CatalogSource,
    private readonly sink: CatalogSink,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly localFile?: { entries: AdapterEntry[] } | undefined,
    private readonly removalRule: RemovalRule = DEFAULT_REMOVAL_RULE,
  ) {}

  /** The open episode of an unreadable catalog, if any. */
  unreadableCatalog(): UnreadableCatalog | undefined {
    return this.unreadable;
  }

  /**
   * Whether the sync decides the registry link's recorded state now: while a
   * sync is under way (its outcome is recorded when it ends) and while the
   * catalog is unreadable (only a sync that reads a catalog ends that). Flips of
   * the link seen by other calls meanwhile are not recorded as the registry's
   * state: they would journal a pair of events per sync.
   */
  decidesRegistryState(): boolean {
    return this.syncing || this.unreadable !== undefined;
  }

  async syncOnce(): Promise<SyncResult> {
    this.syncing = true;
    try {
      return await this.syncAttempt();
    } finally {
      this.syncing = false;
    }
  }

  private async syncAttempt(): Promise<SyncResult> {
    const attemptAt = this.now();
    let answer: CatalogAnswer;
    try {
      answer = await this.source.readCatalog();
    } catch (error) {
      const message = error instanceof Error ? error.message : `unexpected: ${String(error)}`;
      this.recordFailure(attemptAt, message, this.source.isUnreadableCatalog(error));
      const seeded = this.seedFromLocalFile(attemptAt);
      return { ok: false, added: seeded, updated: 0, removed: 0, held: 0, error: message };
    }
    // Comparing a whole answer with the catalog takes tens of milliseconds at 10,000
    // adapters: queries and event streams get a turn between.
    await setImmediatePromise();
    const { diff, catalogSize } = this.compare(answer);
    // A removal of most of the catalog is applied only once answers over a span of
    // time agree (a registry restarting, or answering wrongly, must not empty it).
    const verdict = screenRemoval(
      this.heldRemoval,
      catalogSize,
      diff.removed.map((entry) => entry.adapterId),
      attemptAt,
      this.removalRule,
    );
    const confirmedIds = new Set(verdict.remove);
    const removed = diff.removed.filter((entry) => confirmedIds.has(entry.adapterId));
    const held = diff.removed.length - removed.length;
    if (held > 0 && this.heldRemoval === undefined) {
      this.logger.warn(
        { would_remove: held, catalog_size: catalogSize },
        `registry answer would remove most adapters; holding the removal until ${this.removalRule.minAnswers} answers over ${this.removalRule.minSpanMs / 1000} s agree`,
      );
    }
    this.heldRemoval = verdict.held;

    const events: NewEvent[] = [];
    for (const entry of diff.added) {
      events.push(discovered(entry, attemptAt));
    }
    for (const { before, after } of diff.updated) {
      events.push({
        type: "adapter.updated",
        subject: after.adapterId,
        time: attemptAt,
        data: { adapter_id: after.adapterId, changed: changedFields(before, after) },
      });
    }
    for (const entry of removed) {
      events.push({
        type: "adapter.removed",
        subject: entry.adapterId,
        time: attemptAt,
        data: { adapter_id: entry.adapterId },
      });
    }
    const { registry, events: registryEvents } = this.registryAfter(
      true,
      attemptAt,
      null,
      answer.endpoint,
    );

    try {
      this.sink.commitCatalog({
        added: diff.added,
        updated: diff.updated.map((change) => change.after),
        refreshed: diff.refreshed,
        removed: removed.map((entry) => entry.adapterId),
        registry,
        events: [...events, ...registryEvents],
        at: attemptAt,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Nothing was applied: the next answer must confirm the removal again from the start.
      this.heldRemoval = undefined;
      this.logger.warn({ err: error }, "catalog sync could not be committed; will retry");
      return { ok: false, added: 0, updated: 0, removed: 0, held, error: message };
    }
    if (this.unreadable) {
      this.logger.info(
        { endpoint: answer.endpoint, unreadable_for_ms: attemptAt - this.unreadable.since },
        "registry catalog readable again",
      );
      this.unreadable = undefined;
    }
    // With a removal held back the catalog still has entries this answer lacks.
    this.applied =
      held === 0 ? { generation: answer.generation, size: answer.entries.length } : undefined;
    if (diff.added.length > 0 || diff.updated.length > 0 || removed.length > 0) {
      this.logger.info(
        { added: diff.added.length, updated: diff.updated.length, removed: removed.length },
        "catalog changed",
      );
    }
    return {
      ok: true,
      added: diff.added.length,
      updated: diff.updated.length,
      removed: removed.length,
      held,
    };
  }

  /**
   * The answer's difference from the committed catalog: from the answer's own
   * changes when they are relative to the answer the catalog is, else by
   * comparing the whole catalog.
   */
  private compare(answer: CatalogAnswer): { diff: CatalogDiff; catalogSize: number } {
    const applied = this.applied;
    if (answer.changes && applied && answer.changes.since === applied.generation) {
      return { diff: diffFromChanges(answer.changes), catalogSize: applied.size };
    }
    const known = this.sink.entries();
    return { diff: diffCatalog(known, answer.entries), catalogSize: known.length };
  }

  /**
   * With no registry reachable and nothing stored yet, the local registry file
   * gives the daemon a catalog to watch. Returns how many adapters it added.
   */
  private seedFromLocalFile(at: number): number {
    if (!this.localFile || this.localFile.entries.length === 0) return 0;
    if (this.sink.entries().length > 0) return 0;
    const entries = this.localFile.entries;
    try {
      this.sink.commitCatalog({
        added: entries,
        updated: [],
        removed: [],
        events: entries.map((entry) => discovered(entry, at, "file")),
        at,
      });
    } catch (error) {
      this.logger.warn({ err: error }, "could not commit the local registry file's adapters");
      return 0;
    }
    this.applied = undefined;
    this.logger.warn(
      { adapters: entries.length },
      "no registry reachable and no stored catalog: watching the local registry file's adapters",
    );
    return entries.length;
  }

  /**
   * Records a failed sync. An unreadable catalog is one episode: its first sync
   * journals `registry.unreachable` (condition `catalog_unreadable`) unless the
   * link was already recorded down, and the syncs after it journal nothing until
   * one reads a catalog again.
   */
  private recordFailure(at: number, error: string, unreadable: boolean): void {
    const endpoint = this.source.primaryEndpoint;
    if (!unreadable) {
      this.unreadable = undefined;
      const { registry, events } = this.registryAfter(false, at, error, endpoint);
      this.sink.recordRegistry(registry, events);
      return;
    }
    const opening = this.unreadable === undefined;
    this.unreadable = { since: this.unreadable?.since ?? at, error };
    const previous = this.sink.registryState();
    const registry: RegistryState = {
      endpoint,
      reachable: false,
      lastSync: previous.lastSync,
      lastAttempt: at,
      lastError: error,
    };
    const events: NewEvent[] = [];
    if (opening && (previous.reachable || previous.lastAttempt === null)) {
      this.logger.warn(
        { endpoint, err: { type: "RegistryError", message: error } },
        "registry answers, but its catalog cannot be read; serving last-known state until a sync reads one",
      );
      events.push({
        type: "registry.unreachable",
        subject: endpoint,
        time: at,
        data: { endpoint, error, condition: "catalog_unreadable" },
      });
    }
    this.sink.recordRegistry(registry, events);
  }

  /** The registry state after an attempt, with an event only when reachability flips. */
  private registryAfter(
    reachable: boolean,
    at: number,
    error: string | null,
    endpoint: string,
  ): { registry: RegistryState; events: NewEvent[] } {
    const previous = this.sink.registryState();
    const registry: RegistryState = {
      endpoint,
      reachable,
      lastSync: reachable ? at : previous.lastSync,
      lastAttempt: at,
      lastError: error,
    };
    return { registry, events: reachabilityEvents(previous, registry, at, this.logger) };
  }
}

function discovered(entry: AdapterEntry, at: number, source?: "file"): NewEvent {
  return {
    type: "adapter.discovered",
    subject: entry.adapterId,
    time: at,
    data: {
      adapter_id: entry.adapterId,
      domain: entry.domain,
      category: entry.category,
      provider: entry.provider,
      ...(source ? { source } : {}),
    },
  };
}

/**
 * The event for a change of the registry's reachability, if it changed. A
 * failure counts as a change after success, and at the very first attempt, since
 * then the daemon has never seen the registry up.
 */
export function reachabilityEvents(
  previous: RegistryState,
  next: RegistryState,
  at: number,
  logger: Logger,
): NewEvent[] {
  const firstAttempt = previous.lastAttempt === null;
  if (!next.reachable && (previous.reachable || firstAttempt)) {
    logger.warn(
      { endpoint: next.endpoint, err: { type: "RegistryError", message: next.lastError } },
      firstAttempt
        ? "registry unreachable at start; will keep retrying"
        : "registry unreachable; serving last-known state",
    );
    return [
      {
        type: "registry.unreachable",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint, error: next.lastError },
      },
    ];
  }
  if (next.reachable && !previous.reachable && !firstAttempt) {
    logger.info({ endpoint: next.endpoint }, "registry reachable again");
    return [recovered(next.endpoint, at)];
  }
  return [];
}

function recovered(endpoint: string, at: number): NewEvent {
  return { type: "registry.recovered", subject: endpoint, time: at, data: { endpoint } };
}
