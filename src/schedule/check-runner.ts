import type { Logger } from "pino";
import type { SettingsBook } from "../config/settings-book.js";
import type { AdapterEntry } from "../domain/adapter.js";
import type { CheckReport } from "../domain/decide.js";
import type { CheckOutcome } from "../domain/health.js";
import type { GrpcHealthWatcher, WatchUpdate } from "../probes/grpc-health-watcher.js";
import type { AdapterBreakers } from "./adapter-breakers.js";
import type { AdapterChecker } from "./adapter-checker.js";

/**
 * Runs one adapter's checks through its breaker and returns what they found as a
 * report; it decides nothing and commits nothing. For grpc:// targets it also
 * keeps a grpc.health.v1 Watch open, and turns a pushed status into a report
 * like a poll's, run through the same breaker.
 */
export class CheckRunner {
  /** Watched target → adapters using it. */
  private readonly watchers = new Map<string, Set<string>>();

  constructor(
    private readonly checker: AdapterChecker,
    private readonly breakers: AdapterBreakers,
    private readonly settings: SettingsBook,
    private readonly watcher: GrpcHealthWatcher | undefined,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Checks the adapter once (its breaker permitting). `savedBreaker` is the
   * breaker's committed snapshot, for an adapter whose breaker is not held yet.
   */
  async check(entry: AdapterEntry, savedBreaker?: unknown): Promise<CheckReport> {
    const settings = this.settings.of(entry);
    this.keepWatching(entry, settings.probes.watch);
    const breakerCheck = async () => {
      const result = await this.checker.check(entry, settings.probes);
      if ("inconclusive" in result) {
        this.logger.debug(
          { adapter_id: entry.adapterId, detail: result.detail },
          "check inconclusive",
        );
        return undefined;
      }
      return result;
    };
    const run = await this.breakers.run(
      entry.adapterId,
      settings.breaker,
      breakerCheck,
      savedBreaker,
    );
    return {
      adapterId: entry.adapterId,
      outcome: run.result ?? null,
      breaker: run.breaker,
      breakerTransitions: run.transitions,
      trialDueInMs: run.trialDueInMs,
      pushed: false,
      watching: settings.probes.watch && this.isWatched(entry),
      at: this.now(),
      jitterDraw: this.random(),
    };
  }

  /**
   * A status a target pushed on its Watch stream, as a report for each adapter
   * watching it. `entryOf` gives the current catalog entry (undefined when the
   * adapter has left the catalog).
   */
  async pushed(
    update: WatchUpdate,
    entryOf: (adapterId: string) => AdapterEntry | undefined,
    savedBreakerOf: (adapterId: string) => unknown = () => undefined,
  ): Promise<CheckReport[]> {
    const reports: CheckReport[] = [];
    for (const adapterId of [...(this.watchers.get(update.target) ?? [])]) {
      const entry = entryOf(adapterId);
      if (!entry) continue;
      const settings = this.settings.of(entry);
      const outcome: CheckOutcome = {
        ok: update.serving,
        // A push carries no latency: the engine keeps the last measured one.
        latencyMs: 0,
        detail: `${update.status} (pushed by Watch)`,
        source: "probe",
        at: update.at,
      };
      const run = await this.breakers.run(
        adapterId,
        settings.breaker,
        async () => outcome,
        savedBreakerOf(adapterId),
      );
      reports.push({
        adapterId,
        outcome: run.result ?? null,
        breaker: run.breaker,
        breakerTransitions: run.transitions,
        trialDueInMs: run.trialDueInMs,
        pushed: true,
        watching: true,
        at: this.now(),
        jitterDraw: this.random(),
      });
    }
    return reports;
  }

  /** The adapters whose status a Watch stream to `target` pushes. */
  adaptersWatching(target: string): string[] {
    return [...(this.watchers.get(target) ?? [])];
  }

  /** Stops watching an adapter that left the catalog and forgets its breaker. */
  forget(adapterId: string): void {
    this.breakers.forget(adapterId);
    this.settings.forget(adapterId);
    for (const [target, adapters] of this.watchers) {
      if (adapters.delete(adapterId) && adapters.size === 0) {
        this.watchers.delete(target);
        this.watcher?.unwatch(target);
      }
    }
  }

  /**
   * After a reload: stops Watch streams that no adapter wants any more
   * (`watch: false` now), which checks alone would never do. Streams now wanted
   * open at each adapter's next check.
   */
  reconcileWatches(entryOf: (adapterId: string) => AdapterEntry | undefined): void {
    for (const [target, adapters] of this.watchers) {
      for (const adapterId of adapters) {
        const entry = entryOf(adapterId);
        if (!entry || !this.settings.of(entry).probes.watch) adapters.delete(adapterId);
      }
      if (adapters.size === 0) {
        this.watchers.delete(target);
        this.watcher?.unwatch(target);
      }
    }
  }

  /** True while the adapter's target has an open Watch stream delivering statuses. */
  private isWatched(entry: AdapterEntry): boolean {
    const url = entry.healthCheckUrl;
    return (
      this.watcher !== undefined &&
      (this.watchers.get(url)?.has(entry.adapterId) ?? false) &&
      this.watcher.streaming(url)
    );
  }

  private keepWatching(entry: AdapterEntry, wanted: boolean): void {
    if (!this.watcher) return;
    const url = entry.healthCheckUrl;
    if (!wanted || !(url.startsWith("grpc://") || url.startsWith("grpcs://"))) return;
    let adapters = this.watchers.get(url);
    if (!adapters) {
      adapters = new Set();
      this.watchers.set(url, adapters);
      this.watcher.watch(url);
    }
    adapters.add(entry.adapterId);
  }
}
