import type { Logger } from "pino";
import type { AdapterEntry } from "../domain/adapter.js";
import { changedFields, diffCatalog, isSuspectShrink, screenEntries } from "../domain/catalog.js";
import type { NewEvent } from "../domain/events.js";
import { initialHealth } from "../domain/health.js";
import type { DaemonMetrics } from "../metrics/metrics.js";
import { type Registry, RegistryError } from "../registry/registry-client.js";
import type { HealthStore, RegistryState } from "../storage/store.js";
import type { HealthView } from "./health-view.js";

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
    private readonly registry: Registry,
    private readonly store: HealthStore,
    private readonly view: HealthView,
    private readonly metrics: DaemonMetrics,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly onCatalogChanged: (entries: readonly AdapterEntry[]) => void,
  ) {}

  async syncOnce(): Promise<SyncResult> {
    const attemptAt = this.now();
    let raw: AdapterEntry[];
    try {
      raw = await this.registry.listAdapters();
    } catch (error) {
      const message =
        error instanceof RegistryError ? error.message : `unexpected: ${String(error)}`;
      this.recordRegistry(false, attemptAt, message);
      return { ok: false, added: 0, updated: 0, removed: 0, held: 0, error: message };
    }
    const { entries, rejections } = screenEntries(raw);
    for (const rejection of rejections) {
      this.metrics.rejectedEntries.inc({ reason: rejection.kind });
      this.logger.warn(
        { adapterId: rejection.adapterId, reason: rejection.reason },
        rejection.kind === "repaired" ? "registry entry repaired" : "registry entry skipped",
      );
    }
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
    this.recordRegistry(true, attemptAt, null);
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
  private recordRegistry(reachable: boolean, at: number, error: string | null): void {
    const previous = this.view.registryState();
    const next: RegistryState = {
      endpoint: this.registry.endpoint,
      reachable,
      lastSync: reachable ? at : previous.lastSync,
      lastAttempt: at,
      lastError: error,
    };
    const events: NewEvent[] = [];
    // The first failed attempt after start counts as a change: the daemon has not seen it up.
    if (previous.reachable && !reachable) {
      events.push({
        type: "registry.unreachable",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint, error },
      });
      this.logger.warn(
        { endpoint: next.endpoint, error },
        "registry unreachable; serving last-known state",
      );
    } else if (!previous.reachable && reachable && previous.lastAttempt !== null) {
      events.push({
        type: "registry.recovered",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint },
      });
      this.logger.info({ endpoint: next.endpoint }, "registry reachable again");
    } else if (!reachable && previous.lastAttempt === null) {
      events.push({
        type: "registry.unreachable",
        subject: next.endpoint,
        time: at,
        data: { endpoint: next.endpoint, error },
      });
      this.logger.warn(
        { endpoint: next.endpoint, error },
        "registry unreachable at start; will keep retrying",
      );
    }
    this.store.saveRegistryState(next, events);
    this.view.setRegistry(next);
  }
}
