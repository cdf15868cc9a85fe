import type { SettingsBook } from "../config/settings-book.js";
import type { NewEvent } from "../domain/events.js";
import type { HealthState } from "../domain/health.js";
import {
  type Candidate,
  type Requirement,
  type Resolution,
  requirementKey,
  resolve,
} from "../domain/resolution.js";
import type { HealthView } from "../engine/health-view.js";
import type { MaintenanceService } from "../maintenance/maintenance-service.js";
import type { RequirementCounts, RequirementOrigin } from "../metrics/metrics.js";

/** How many requirements asked through the API are remembered for failover events. */
const MAX_TRACKED = 1000;

/** Distinct questions whose answers are kept (when more are asked, all are dropped). */
const MAX_ANSWERS = 1000;

/**
 * Answers "which adapter should I use?" from the view, and remembers the
 * requirements it was asked (plus those in the config) with their last choice,
 * so that when a choice stops being usable a `failover` event names the old and
 * the new one.
 */
export class ResolutionService {
  private readonly tracked = new Map<
    string,
    { requirement: Requirement; choice: string | null; initialized: boolean }
  >();
  /** The requirements from the config, by key (they stay configured when also asked). */
  private readonly configured = new Map<string, Requirement>();
  /**
   * Answers to the questions asked, each with what it was computed from: the
   * generation of its domain/category in the view, the settings' generation and
   * the maintenance signature. While those stay the same, many workflows asking
   * the same few questions cost one ranking, not one per query; a commit
   * invalidates only the answers of the kinds it touched. Answers are shared:
   * callers do not change them.
   */
  private readonly answers = new Map<string, { resolution: Resolution; computedFrom: string }>();
  /**
   * Candidate objects reused from one ranking against the committed view to the
   * next (a ranking keeps none of them: it describes the listed ones afresh), so
   * ranking a category of thousands allocates no object per adapter.
   */
  private readonly pool: Candidate[] = [];

  constructor(
    private readonly view: HealthView,
    private readonly maintenance: MaintenanceService,
    private readonly settings: SettingsBook,
    private readonly options: { panic: boolean },
    configured: readonly Requirement[],
  ) {
    for (const requirement of configured) {
      this.configured.set(requirementKey(requirement), requirement);
      this.tracked.set(requirementKey(requirement), {
        requirement,
        choice: null,
        initialized: false,
      });
    }
  }

  /**
   * Applies a reloaded `resolution` section. Tracked requirements keep their
   * current choice, so a reload by itself never moves a workflow or emits a
   * failover; newly configured ones start from the committed view, as at
   * start-up; ones dropped from the config stay watched like requirements asked
   * through the API, until they age out.
   */
  reconfigure(options: { panic: boolean }, configured: readonly Requirement[]): void {
    this.options.panic = options.panic;
    this.configured.clear();
    for (const requirement of configured) {
      const key = requirementKey(requirement);
      this.configured.set(key, requirement);
      if (!this.tracked.has(key)) {
        this.tracked.set(key, { requirement, choice: null, initialized: false });
      }
    }
  }

  /** `limit` caps the fallbacks and excluded candidates listed (the choice is the same). */
  resolve(requirement: Requirement, panic = this.options.panic, limit?: number): Resolution {
    const computedFrom = `${this.view.kindGeneration(requirement.domain, requirement.category)}/${this.settings.generation}/${this.maintenance.signature()}`;
    const question = [
      requirement.domain,
      requirement.category,
      requirement.provider ?? "",
      requirement.project ?? "",
      panic,
      limit ?? "",
    ].join("\u0000");
    const kept = this.answers.get(question);
    let resolution = kept?.resolution;
    if (resolution === undefined || kept?.computedFrom !== computedFrom) {
      resolution = resolve(this.candidates(requirement), requirement, {
        panic,
        ...(limit === undefined ? {} : { limit }),
      });
      if (kept === undefined && this.answers.size >= MAX_ANSWERS) this.answers.clear();
      this.answers.set(question, { resolution, computedFrom });
    }
    this.track(requirement, resolution.panic ? null : (resolution.choice?.adapterId ?? null));
    return resolution;
  }

  /**
   * Re-resolves the tracked requirements that an adapter in `changed` could
   * answer, against states decided but not yet committed (`overlay` over the
   * view), and returns a failover event for each whose choice changed, with the
   * new choices. Changes nothing: the engine adopts the choices once the events
   * are committed (`adoptChoices`), so a failed commit neither loses a failover nor
   * leaves the baseline ahead of the journal. `baseline` holds choices decided
   * earlier but not yet committed; `changedKinds` names kinds ("domain/category")
   * whose adapters left the catalog.
   */
  failovers(
    overlay: ReadonlyMap<string, HealthState>,
    changed: ReadonlySet<string>,
    at: number,
    baseline: ReadonlyMap<string, string | null> = new Map(),
    changedKinds: ReadonlySet<string> = new Set(),
  ): { events: NewEvent[]; choices: Map<string, string | null> } {
    const choices = new Map<string, string | null>();
    const events: NewEvent[] = [];
    // Kinds ("domain/category") whose members changed, also ones that left the catalog.
    const kinds = new Set<string>(changedKinds);
    for (const adapterId of changed) {
      const entry = this.view.entry(adapterId);
      if (entry) kinds.add(`${entry.domain}/${entry.category}`);
    }
    if (kinds.size === 0) return { events, choices };
    for (const [key, tracked] of this.tracked) {
      if (!kinds.has(`${tracked.requirement.domain}/${tracked.requirement.category}`)) continue;
      // A requirement with no baseline yet starts from what the committed view resolves to.
      const initialized = tracked.initialized || baseline.has(key);
      const choice = baseline.has(key)
        ? (baseline.get(key) ?? null)
        : tracked.initialized
          ? tracked.choice
          : this.committedChoice(tracked.requirement);
      const resolution = resolve(
        this.candidates(tracked.requirement, overlay),
        tracked.requirement,
        { panic: this.options.panic },
      );
      const usable = [resolution.choice, ...resolution.fallbacks]
        .filter((candidate) => candidate !== null && !resolution.panic)
        .map((candidate) => candidate?.adapterId);
      // A choice that is still usable stays: workflows are not moved for a better latency.
      if (choice !== null && usable.includes(choice)) {
        if (!initialized) choices.set(key, choice);
        continue;
      }
      const next = resolution.panic ? null : (resolution.choice?.adapterId ?? null);
      if (next === choice) {
        if (!initialized) choices.set(key, choice);
        continue;
      }
      const previous =
        choice === null ? undefined : (overlay.get(choice) ?? this.view.state(choice));
      events.push({
        type: "failover",
        subject: key,
        time: at,
        data: {
          requirement: tracked.requirement,
          from: choice,
          to: next,
          reason: resolution.reason,
          from_status: previous?.status ?? null,
        },
      });
      choices.set(key, next);
    }
    return { events, choices };
  }

  /** Makes committed choices the baseline for the next failovers. */
  adoptChoices(choices: ReadonlyMap<string, string | null>): void {
    for (const [key, choice] of choices) {
      const tracked = this.tracked.get(key);
      if (!tracked) continue;
      tracked.choice = choice;
      tracked.initialized = true;
    }
  }

  /** The requirements watched for failover (configured and recently asked). */
  trackedRequirements(): Requirement[] {
    return [...this.tracked.values()].map((tracked) => tracked.requirement);
  }

  /**
   * For metrics: configured and recently asked requirements, with how many have
   * no usable candidate against the committed view (a panic-mode answer does not
   * count as usable). Resolves each one, from the by-kind index.
   */
  countUnresolvable(): Record<RequirementOrigin, RequirementCounts> {
    const counts: Record<RequirementOrigin, RequirementCounts> = {
      configured: { tracked: 0, noMatch: 0, noneUsable: 0 },
      asked: { tracked: 0, noMatch: 0, noneUsable: 0 },
    };
    const count = (origin: RequirementOrigin, requirement: Requirement) => {
      const into = counts[origin];
      into.tracked++;
      // Only the choice and the totals matter here: list nothing.
      const resolution = resolve(this.candidates(requirement), requirement, {
        panic: false,
        limit: 0,
      });
      if (resolution.choice !== null) return;
      if (resolution.excludedTotal === 0) into.noMatch++;
      else into.noneUsable++;
    };
    for (const requirement of this.configured.values()) count("configured", requirement);
    for (const [key, tracked] of this.tracked) {
      if (!this.configured.has(key)) count("asked", tracked.requirement);
    }
    return counts;
  }

  /** What the committed view resolves a requirement to: a new requirement's baseline. */
  private committedChoice(requirement: Requirement): string | null {
    const resolution = resolve(this.candidates(requirement), requirement, {
      panic: false,
      limit: 0,
    });
    return resolution.choice?.adapterId ?? null;
  }

  private track(requirement: Requirement, choice: string | null): void {
    const key = requirementKey(requirement);
    this.tracked.delete(key);
    this.tracked.set(key, { requirement, choice, initialized: true });
    while (this.tracked.size > MAX_TRACKED) {
      const oldest = this.tracked.keys().next().value;
      if (oldest === undefined) break;
      this.tracked.delete(oldest);
    }
  }

  /** Adapters of the requirement's domain and category (an index lookup, not a scan). */
  private candidates(
    requirement: Requirement,
    pending?: ReadonlyMap<string, HealthState>,
  ): Candidate[] {
    const candidates: Candidate[] = [];
    const inMaintenance = this.maintenance.lookup();
    const pool = pending === undefined ? this.pool : undefined;
    let count = 0;
    for (const member of this.view.membersOfKind(requirement.domain, requirement.category)) {
      const { entry } = member;
      const health =
        (pending === undefined ? undefined : pending.get(entry.adapterId)) ?? member.health;
      if (!health) continue;
      const maintenance = inMaintenance(entry.adapterId) !== undefined;
      const priority = this.settings.priorityOf(entry);
      if (pool === undefined) {
        candidates.push({ entry, health, maintenance, priority });
        continue;
      }
      const reused = pool[count];
      if (reused === undefined) {
        pool.push({ entry, health, maintenance, priority });
      } else {
        reused.entry = entry;
        reused.health = health;
        reused.maintenance = maintenance;
        reused.priority = priority;
      }
      count++;
    }
    return pool === undefined ? candidates : pool.slice(0, count);
  }
}
