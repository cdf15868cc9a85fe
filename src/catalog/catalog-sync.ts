import { setImmediate as setImmediatePromise } from "node:timers/promises";
import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";
import { changedFields, diffCatalog, isSuspectShrink } from "../domain/catalog.js";
import type { NewEvent } from "../domain/events.js";
import { initialHealth } from "../domain/health.js";
import type { HealthView } from "../engine/health-view.js";
import type { HealthStore, RegistryState } from "../storage/store.js";

/** Where the catalog comes from: registries only, never a cache or fallback. */
export interface CatalogSource {
  readonly primaryEndpoint: string;
  fetchCatalog(): Promise<{ entries: AdapterEntry[]; endpoint: string }>;
}

export interface SyncResult {
  ok: boolean;
  added: number;
  updated: number;
  removed: number;
  /** Removals held back as suspect, awaiting confirmation by the next sync. */
  held: number;
  error?: string;
}

/**
 * Pulls the catalog from the registry, screens it, diffs it against the view and
 * commits the change with its events. A failed sync changes nothing but the
 * registry's reachability.
 */
export class CatalogSync {
  private heldRemovals: Set<string> | undefined;

  constructor(
    private readonly source: CatalogSource,
    private readonly store: HealthStore,
    private readonly view: HealthView,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly onCatalogChanged: (entries: readonly AdapterEntry[]) => void,
    private readonly localFile?: { entries: AdapterEntry[] } | undefined,
  ) {}

  /**
   * With no registry reachable and nothing stored yet, the local registry file
   * gives the daemon a catalog to watch. Returns how many adapters it added.
   */
  private seedFromLocalFile(at: number): number {
    if (!this.localFile || this.view.size > 0 || this.localFile.entries.length === 0) return 0;
    const entries = this.localFile.entries;
    const initial = entries.map((entry) =>
      initialHealth(entry.adapterId, entry.registryStatus, at),
    );
    const events: NewEvent[] = entries.map((entry) => ({
      type: "adapter.discovered",
      subject: entry.adapterId,
      time: at,
      data: {
        adapter_id: entry.adapterId,
        domain: entry.domain,
        category: entry.category,
        provider: entry.provider,
        source: "file",
      },
    }));
    this.store.applyCatalogChange(
      { upserted: entries, removed: [], initialHealth: initial },
      events,
      at,
    );
    for (const entry of entries) this.view.putEntry(entry);
    for (const state of initial) this.view.putState(state);
    this.logger.warn(
      { adapters: entries.length },
      "no registry reachable and no stored catalog: watching the local registry file's adapters",
    );
    this.onCatalogChanged(this.view.allEntries());
    return entries.length;
  }

  async syncOnce(): Promise<SyncResult> {
    const attemptAt = this.now();
    let entries: AdapterEntry[];
    let endpoint: string;
    try {
      ({ entries, endpoint } = await this.source.fetchCatalog());
    } catch (error) {
      const message = error instanceof Error ? error.message : `unexpected: ${String(error)}`;
      this.recordRegistry(false, attemptAt, message, this.source.primaryEndpoint);
      const seeded = this.seedFromLocalFile(attemptAt);
      return { ok: false, added: seeded, updated: 0, removed: 0, held: 0, error: message };
    }
    // Screening the answer and comparing it with the catalog each take tens of
    // milliseconds at 10,000 adapters: queries and event streams get a turn between.
    await setImmediatePromise();
    const diff = diffCatalog(this.view.allEntries(), entries);
    let removed = diff.removed;
    let held = 0;
    if (isSuspectShrink(this.view.size, removed.length)) {
      const ids = new Set(removed.map((entry) => entry.adapterId));
      const confirmed =
        this.heldRemovals !== undefined && [...ids].every((id) => this.heldRemovals?.has(id));
      if (!confirmed) {
        this.heldRemovals = ids;
        held = removed.length;
        removed = [];
        this.logger.warn(
          { wouldRemove: held, catalogSize: this.view.size },
          "registry answer would remove most adapters; holding the removal until the next sync confirms it",
        );
      } else {
        this.heldRemovals = undefined;
      }
    } else {
      this.heldRemovals = undefined;
    }

    const events: NewEvent[] = [];
    for (const entry of diff.added) {
      events.push({
        type: "adapter.discovered",
        subject: entry.adapterId,
        time: attemptAt,
        data: {
          adapter_id: entry.adapterId,
          domain: entry.domain,
          category: entry.category,
          provider: entry.provider,
        },
      });
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
    const upserted = [
      ...diff.added,
      ...diff.updated.map((change) => change.after),
      ...diff.refreshed,
    ];
    const initial = diff.added.map((entry) =>
      initialHealth(entry.adapterId, entry.registryStatus, attemptAt),
    );
    if (upserted.length > 0 || removed.length > 0) {
      this.store.applyCatalogChange(
        { upserted, removed: removed.map((entry) => entry.adapterId), initialHealth: initial },
        events,
        attemptAt,
      );
      for (const entry of upserted) this.view.putEntry(entry);
      for (const state of initial) this.view.putState(state);
      for (const entry of removed) this.view.removeEntry(entry.adapterId);
    }
    this.recordRegistry(true, attemptAt, null, endpoint);
    if (diff.added.length > 0 || diff.updated.length > 0 || removed.length > 0) {
      this.logger.info(
        { added: diff.added.length, updated: diff.updated.length, removed: removed.length },
        "catalog changed",
      );
      this.onCatalogChanged(this.view.allEntries());
    }
    return {
      ok: true,
      added: diff.added.length,
      updated: diff.updated.length,
      removed: removed.length,
      held,
    };
  }

  /** Records reachability, with an event only when it flips. */
  private recordRegistry(
    reachable: boolean,
    at: number,
    error: string | null,
    endpoint: string,
  ): void {
    const previous = this.view.registryState();
    const next: RegistryState = {
      endpoint,
      reachable,
      lastSync: reachable ? at : previous.lastSync,
      lastAttempt: at,
      lastError: error,
    };
    const events: NewEvent[] = [];
    // A failure counts as a change after success, and at the very first attempt,
    // since then the daemon has never seen the registry up.
    const firstAttempt = previous.lastAttempt === null;
    if (!reachable && (previous.reachable || firstAttempt)) {
      events.push({
        type: "registry.unreachable",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint, error },
      });
      this.logger.warn(
        { endpoint: next.endpoint, err: { type: "RegistryError", message: error } },
        firstAttempt
          ? "registry unreachable at start; will keep retrying"
          : "registry unreachable; serving last-known state",
      );
    } else if (reachable && !previous.reachable && !firstAttempt) {
      events.push({
        type: "registry.recovered",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint },
      });
      this.logger.info({ endpoint: next.endpoint }, "registry reachable again");
    }
    this.store.saveRegistryState(next, events);
    this.view.setRegistry(next);
  }
}
