import type { Logger } from "pino";
import type { SettingsBook } from "../config/settings-book.js";
import type { AdapterEntry } from "../domain/adapter.js";
import type { NewEvent } from "../domain/events.js";
import type { CheckOutcome } from "../domain/health.js";
import type { HealthView } from "../engine/health-view.js";
import type { ResultCommitter } from "../engine/result-committer.js";
import type { GrpcHealthWatcher, WatchUpdate } from "../probes/grpc-health-watcher.js";
import type { AdapterBreakers } from "./adapter-breakers.js";
import type { AdapterChecker } from "./adapter-checker.js";

/**
 * Runs one adapter's checks through its breaker and hands the results to the
 * committer; says when the adapter should be checked next (sooner on an
 * unhealthy edge, later while its breaker is open). For grpc:// targets it also
 * keeps a grpc.health.v1 Watch open, so a change is pushed, not waited for.
 */
export class CheckRunner {
  /** Watched target → adapters using it. */
  private readonly watchers = new Map<string, Set<string>>();

  constructor(
    private readonly checker: AdapterChecker,
    private readonly breakers: AdapterBreakers,
    private readonly committer: ResultCommitter,
    private readonly settings: SettingsBook,
    private readonly view: HealthView,
    private readonly watcher: GrpcHealthWatcher | undefined,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Checks the adapter once; returns the delay until the next check. */
  async run(entry: AdapterEntry): Promise<number> {
    const settings = this.settings.of(entry);
    this.keepWatching(entry, settings.probes.watch);
    const run = await this.breakers.run(
      entry.adapterId,
      settings.breaker,
      async () => {
        const result = await this.checker.check(entry, settings.probes);
        if ("inconclusive" in result) {
          this.logger.debug(
            { adapterId: entry.adapterId, detail: result.detail },
            "check inconclusive",
          );
          return undefined;
        }
        return result;
      },
      this.now,
    );
    this.record(entry.adapterId, run.ran ? run.result : undefined, run);
    const probes = settings.probes;
    let base = probes.intervalMs;
    if (run.breaker.state === "open") base = probes.openIntervalMs;
    else if (this.onEdge(entry.adapterId, run.ran ? run.result : undefined))
      base = probes.edgeIntervalMs;
    else if (probes.watch && this.watcher?.streaming(entry.healthCheckUrl)) {
      // Changes arrive on the Watch stream; polling only guards against a silent stream.
      base = probes.watchedIntervalMs;
    }
    const spread = base * probes.jitter;
    return Math.max(0, base + (this.random() * 2 - 1) * spread);
  }

  /**
   * True while the adapter's status arrives on an open Watch stream that has
   * delivered a status: its verdict is current without a poll.
   */
  pushingLive(adapterId: string): boolean {
    const entry = this.view.entry(adapterId);
    if (!entry || !this.watcher) return false;
    const url = entry.healthCheckUrl;
    return (this.watchers.get(url)?.has(adapterId) ?? false) && this.watcher.streaming(url);
  }

  /** The adapters whose status a Watch stream to `target` pushes. */
  adaptersWatching(target: string): string[] {
    return [...(this.watchers.get(target) ?? [])];
  }

  /** Stops watching adapters that left the catalog and forgets their breakers. */
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
  reconcileWatches(): void {
    for (const [target, adapters] of this.watchers) {
      for (const adapterId of adapters) {
        const entry = this.view.entry(adapterId);
        if (!entry || !this.settings.of(entry).probes.watch) adapters.delete(adapterId);
      }
      if (adapters.size === 0) {
        this.watchers.delete(target);
        this.watcher?.unwatch(target);
      }
    }
  }

  /** A status the target pushed on its Watch stream, folded in like a check result. */
  async pushed(update: WatchUpdate): Promise<void> {
    for (const adapterId of this.watchers.get(update.target) ?? []) {
      const entry = this.view.entry(adapterId);
      if (!entry) continue;
      const settings = this.settings.of(entry);
      const outcome: CheckOutcome = {
        ok: update.serving,
        // A push carries no latency; keep the last measured one so a push does not flip degraded.
        latencyMs: this.view.state(adapterId)?.latencyMs ?? 0,
        detail: `${update.status} (pushed by Watch)`,
        source: "probe",
        at: this.now(),
      };
      const run = await this.breakers.run(
        adapterId,
        settings.breaker,
        async () => outcome,
        this.now,
      );
      this.record(adapterId, run.ran ? run.result : undefined, run);
    }
  }

  private record(
    adapterId: string,
    outcome: CheckOutcome | undefined,
    run: { breaker: CheckOutcome["breaker"]; events: NewEvent[] },
  ): void {
    const stored = this.view.state(adapterId)?.breaker?.state;
    if (outcome) {
      this.committer.enqueue({ adapterId, outcome, events: run.events });
    } else if (run.events.length > 0 || stored !== run.breaker?.state) {
      this.committer.enqueue({ adapterId, breaker: run.breaker, events: run.events });
    }
  }

  /** Failing but not yet unhealthy, or recovering but not yet healthy: look again sooner. */
  private onEdge(adapterId: string, outcome: CheckOutcome | undefined): boolean {
    const state = this.view.state(adapterId);
    if (!state || !outcome) return false;
    if (state.status === "unhealthy") return outcome.ok;
    return !outcome.ok || state.consecutiveFailures > 0;
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
