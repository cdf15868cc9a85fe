import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_ADAPTER_SETTINGS } from "../../test/support/adapter-settings.js";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { SettingsBook } from "../config/settings-book.js";
import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import type { AdapterSettings } from "../domain/adapter-settings.js";
import type { NewEvent } from "../domain/events.js";
import { type BreakerState, type HealthState, initialHealth } from "../domain/health.js";
import type { Requirement } from "../domain/resolution.js";
import { DEFAULT_OFFLINE_STALE_RULE } from "../domain/status-view.js";
import { HealthView } from "../engine/health-view.js";
import { MaintenanceService } from "../maintenance/maintenance-service.js";
import { SqliteStore } from "../storage/sqlite-store.js";
import type { MaintenanceChange } from "../storage/store.js";
import { ResolutionService } from "./resolution-service.js";

const T0 = Date.parse("2025-06-01T00:00:00Z");
const STORAGE: Requirement = { domain: "adapter", category: "storage" };
const STORAGE_KEY = "adapter/storage//";

const DEFAULTS: AdapterSettings = TEST_ADAPTER_SETTINGS;

function health(
  adapterId: string,
  status: HealthStatus,
  latencyMs: number | null = 20,
  extra: Partial<HealthState> = {},
): HealthState {
  return {
    ...initialHealth(adapterId, "healthy", T0),
    status,
    reason: status === "unhealthy" ? "HTTP 503 (3 consecutive failures)" : "HTTP 200",
    lastChecked: T0,
    latencyMs,
    source: "probe",
    ...extra,
  };
}

function withBreaker(state: HealthState, breaker: BreakerState): HealthState {
  return { ...state, breaker: { state: breaker, snapshot: { kind: breaker } } };
}

let directory: string;
let store: SqliteStore;
let clock: number;
let view: HealthView;
let maintenance: MaintenanceService;

interface Setup {
  entries: AdapterEntry[];
  states: HealthState[];
  configured?: Requirement[];
  panic?: boolean;
}

/** A service over a real store and view, seeded as the catalog sync and engine leave them. */
function setup({ entries, states, configured = [STORAGE], panic = false }: Setup) {
  store.commit({ upserted: entries, states, events: [] }, clock);
  view = new HealthView(
    "registry:8679",
    DEFAULT_OFFLINE_STALE_RULE,
    () => clock,
    (id) => maintenance.current(id),
  );
  maintenance = new MaintenanceService([], store.loadMaintenance(), () => clock);
  view.restore(store.loadCatalog(), store.loadHealth());
  const settings = new SettingsBook(
    DEFAULTS,
    [{ match: { adapter: "preferred-*" }, priority: 10 }],
    { transitions: 4, windowMs: 120_000 },
  );
  return new ResolutionService(view, maintenance, settings, { panic }, configured);
}

/** Whether two states rank an adapter the same for resolution (as the engine judges it). */
function sameUsability(a: HealthState, b: HealthState): boolean {
  return (
    a.status === b.status &&
    a.flapping === b.flapping &&
    (a.breaker?.state ?? "closed") === (b.breaker?.state ?? "closed")
  );
}

/** The adapters whose usability the pending states change, against the committed view. */
function changedUsability(pending: ReadonlyMap<string, HealthState>): Set<string> {
  const changed = new Set<string>();
  for (const [adapterId, next] of pending) {
    const before = view.state(adapterId);
    if (!before || !sameUsability(before, next)) changed.add(adapterId);
  }
  return changed;
}

/**
 * What the engine does: judge failovers against the pending states, commit both
 * in one transaction, update the mirror, then adopt the committed choices.
 */
function commit(service: ResolutionService, ...states: HealthState[]): NewEvent[] {
  clock += 1_000;
  const pending = new Map(states.map((state) => [state.adapterId, state]));
  const { events, choices } = service.failovers(pending, changedUsability(pending), clock);
  store.commit({ states, events }, clock);
  for (const state of states) view.putState(state);
  service.adoptChoices(choices);
  return events;
}

/** Maintenance declared (or, with null, lifted) as the engine commits it, then applied. */
function commitMaintenance(adapterId: string, declared: MaintenanceChange["declared"]): void {
  const change: MaintenanceChange = { adapterId, declared };
  store.commit({ maintenance: [change], events: [] }, clock);
  maintenance.applyCommitted([change]);
}

function declare(adapterId: string, untilMs: number | null, reason: string): void {
  commitMaintenance(adapterId, { adapterId, untilMs, reason });
}

function failover(
  from: string | null,
  to: string | null,
  fromStatus: HealthStatus | null,
  requirement: Requirement = STORAGE,
  subject = STORAGE_KEY,
) {
  return {
    type: "failover",
    subject,
    time: clock,
    data: {
      requirement,
      from,
      to,
      reason: expect.any(String),
      from_status: fromStatus,
    },
  };
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-resolution-"));
  store = new SqliteStore({ path: join(directory, "state.db"), now: () => T0 });
  clock = T0;
});

afterEach(() => {
  store.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Storage adapters a, b and c, all healthy, a the fastest (10, 20 and 30 ms). */
function setupThreeHealthy() {
  return setup({
    entries: [
      catalogEntry({ adapterId: "a" }),
      catalogEntry({ adapterId: "b" }),
      catalogEntry({ adapterId: "c" }),
    ],
    states: [health("a", "healthy", 10), health("b", "healthy", 20), health("c", "healthy", 30)],
  });
}

describe("ResolutionService.failovers", () => {
  it("gives a configured requirement its baseline without an event", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    expect(service.trackedRequirements()).toEqual([STORAGE]);
    // A usability change elsewhere in the category: the baseline is set, nothing is reported.
    expect(commit(service, health("b", "degraded", 1500))).toEqual([]);
    // The baseline was "a": losing it is what reports a failover.
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
  });

  it("takes the baseline from the committed view, so the first batch can fail over", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
  });

  it("reports one failover when the chosen adapter goes unhealthy, and not again", () => {
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "b" }),
        catalogEntry({ adapterId: "c" }),
      ],
      states: [health("a", "healthy", 10), health("b", "healthy", 50), health("c", "degraded")],
    });
    const events = commit(service, health("a", "unhealthy"));
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual(failover("a", "b", "unhealthy"));
    expect(String(events[0]?.data.reason)).toMatch(/^b is the best match for adapter\/storage\/\*/);
    // Still unhealthy on the next round: no new event.
    expect(commit(service, health("a", "unhealthy", 30))).toEqual([]);
    // The journal holds the event, committed with the state.
    expect(store.readEvents(0, 10).map((stored) => [stored.type, stored.data.to])).toEqual([
      ["failover", "b"],
    ]);
  });

  it("fails over when the chosen adapter's breaker opens or it starts flapping", () => {
    const service = setupThreeHealthy();
    expect(commit(service, withBreaker(health("a", "healthy", 10), "open"))).toEqual([
      failover("a", "b", "healthy"),
    ]);
    expect(commit(service, health("b", "healthy", 20, { flapping: true }))).toEqual([
      failover("b", "c", "healthy"),
    ]);
  });

  it("keeps a choice that is still usable, even when another now ranks better", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    // a is degraded now, so b would rank first; a is still usable, so workflows stay.
    expect(commit(service, health("a", "degraded", 1500))).toEqual([]);
    expect(commit(service, withBreaker(health("a", "degraded", 1500), "half-open"))).toEqual([]);
    // Only when a is no longer usable does the choice move.
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
    // a recovering, and ranking better, does not move it back from b.
    expect(commit(service, health("a", "healthy", 1))).toEqual([]);
  });

  it("fails over to null when nothing is usable, and from null on recovery", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "unhealthy")],
    });
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", null, "unhealthy")]);
    const [lost] = store.readEvents(0, 10);
    expect(String(lost?.data.reason)).toMatch(/^no usable adapter for adapter\/storage\/\*/);
    // Still nothing usable: no new event.
    expect(commit(service, health("a", "unhealthy", 40))).toEqual([]);
    expect(commit(service, health("b", "healthy", 70))).toEqual([failover(null, "b", null)]);
  });

  it("does not fail over to an adapter in maintenance", () => {
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "preferred-b" }),
        catalogEntry({ adapterId: "c" }),
      ],
      states: [
        health("a", "healthy", 10),
        health("preferred-b", "healthy", 20),
        health("c", "healthy", 300),
      ],
    });
    // preferred-b has the better priority, so it is the baseline choice.
    expect(commit(service, health("c", "degraded", 1500))).toEqual([]);
    declare("a", null, "disk swap");
    expect(commit(service, health("preferred-b", "unhealthy"))).toEqual([
      failover("preferred-b", "c", "unhealthy"),
    ]);
  });

  it("looks only at requirements of the category whose adapters changed", () => {
    const cache: Requirement = { domain: "adapter", category: "cache" };
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "b" }),
        catalogEntry({ adapterId: "redis", category: "cache" }),
      ],
      states: [health("a", "healthy", 10), health("b", "healthy"), health("redis", "healthy")],
      configured: [STORAGE, cache],
    });
    expect(commit(service, health("redis", "unhealthy"))).toEqual([
      failover("redis", null, "unhealthy", cache, "adapter/cache//"),
    ]);
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
  });

  it("follows a requirement asked through resolve(), provider filter included", () => {
    const gcs: Requirement = { ...STORAGE, provider: "gcs" };
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "g1", provider: "gcs" }),
        catalogEntry({ adapterId: "g2", provider: "gcs" }),
      ],
      states: [health("a", "healthy", 1), health("g1", "healthy", 10), health("g2", "healthy", 20)],
      configured: [],
    });
    expect(service.resolve(gcs).choice?.adapterId).toBe("g1");
    expect(service.trackedRequirements()).toEqual([gcs]);
    expect(commit(service, health("g1", "unhealthy"))).toEqual([
      failover("g1", "g2", "unhealthy", gcs, "adapter/storage/gcs/"),
    ]);
  });

  it("does not count a panic answer as a choice", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "unhealthy")],
      panic: true,
    });
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", null, "unhealthy")]);
    const answer = service.resolve(STORAGE);
    expect(answer.panic).toBe(true);
    expect(answer.choice).not.toBeNull();
    // The panic answer was not recorded as the choice: recovery still reports from null.
    expect(commit(service, health("b", "healthy"))).toEqual([failover(null, "b", null)]);
  });

  it("returns nothing when no pending state changes usability", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    expect(service.failovers(new Map(), new Set(), clock)).toEqual({
      events: [],
      choices: new Map(),
    });
    expect(commit(service, health("a", "healthy", 999), health("b", "healthy", 1))).toEqual([]);
    // Even when asked to look, a latency change alone moves nothing.
    const pending = new Map([["a", health("a", "healthy", 999)]]);
    expect(service.failovers(pending, new Set(["a"]), clock).events).toEqual([]);
  });
});

describe("ResolutionService.failovers before and after commit", () => {
  it("changes nothing until the choices are adopted: a failed commit reports the same failover again", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    clock += 1_000;
    const pending = new Map([["a", health("a", "unhealthy")]]);
    const first = service.failovers(pending, new Set(["a"]), clock);
    expect(first.events).toEqual([failover("a", "b", "unhealthy")]);
    expect(first.choices).toEqual(new Map([[STORAGE_KEY, "b"]]));
    // Not adopted (the commit failed): the baseline is still a, so the retry says the same.
    const retry = service.failovers(pending, new Set(["a"]), clock);
    expect(retry).toEqual(first);
    // Adopted once committed: the same pending state reports nothing more.
    service.adoptChoices(first.choices);
    expect(service.failovers(pending, new Set(["a"]), clock)).toEqual({
      events: [],
      choices: new Map(),
    });
  });

  it("gives a new requirement's baseline as a choice without an event, kept only once adopted", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    const degraded = new Map([["b", health("b", "degraded", 1500)]]);
    const judged = service.failovers(degraded, new Set(["b"]), clock);
    expect(judged).toEqual({ events: [], choices: new Map([[STORAGE_KEY, "a"]]) });
    // Not adopted: still no baseline, so a second look proposes it again.
    expect(service.failovers(degraded, new Set(["b"]), clock).choices).toEqual(judged.choices);
    service.adoptChoices(judged.choices);
    // Adopted: nothing new to propose while a stays usable.
    expect(service.failovers(degraded, new Set(["b"]), clock).choices).toEqual(new Map());
  });

  it("judges against choices decided earlier but not committed (the baseline argument)", () => {
    const service = setupThreeHealthy();
    clock += 1_000;
    const firstBatch = new Map([["a", health("a", "unhealthy")]]);
    const first = service.failovers(firstBatch, new Set(["a"]), clock);
    expect(first.events).toEqual([failover("a", "b", "unhealthy")]);
    // The commit failed; more work joins the pending batch, judged from the pending choice b.
    const coalesced = new Map([...firstBatch, ["b", health("b", "unhealthy")]]);
    const second = service.failovers(coalesced, new Set(["b"]), clock, first.choices);
    expect(second.events).toEqual([failover("b", "c", "unhealthy")]);
    expect(second.choices).toEqual(new Map([[STORAGE_KEY, "c"]]));
    // Without the pending baseline it would have reported a → c.
    expect(service.failovers(coalesced, new Set(["b"]), clock).events).toEqual([
      failover("a", "c", "unhealthy"),
    ]);
  });

  it("ignores adopted choices for requirements it does not track", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    service.adoptChoices(new Map([["adapter/queue//", "q"]]));
    expect(service.trackedRequirements()).toEqual([STORAGE]);
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
  });

  it("sees committed maintenance: an adapter put in maintenance is failed over from", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    expect(commit(service, health("b", "degraded", 1500))).toEqual([]);
    declare("a", null, "disk swap");
    clock += 1_000;
    // The engine asks again for the adapter whose maintenance was committed.
    expect(service.failovers(new Map(), new Set(["a"]), clock).events).toEqual([
      failover("a", "b", "healthy"),
    ]);
  });
});

describe("ResolutionService.reconfigure", () => {
  it("keeps tracked choices, starts new requirements from the view, and applies panic", () => {
    const cache: Requirement = { domain: "adapter", category: "cache" };
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "b" }),
        catalogEntry({ adapterId: "redis", category: "cache" }),
      ],
      states: [health("a", "healthy", 10), health("b", "healthy", 50), health("redis", "healthy")],
    });
    // The baseline for storage is a.
    expect(commit(service, health("b", "degraded", 1500))).toEqual([]);
    service.reconfigure({ panic: true }, [STORAGE, cache]);
    expect(service.trackedRequirements()).toEqual([STORAGE, cache]);
    // The reload left a as the remembered choice: losing it fails over to b.
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
    // The new requirement got its baseline (redis) without an event, so losing it reports one.
    expect(commit(service, health("redis", "unhealthy"))).toEqual([
      failover("redis", null, "unhealthy", cache, "adapter/cache//"),
    ]);
    // panic: true now applies to answers that do not say otherwise.
    expect(service.resolve(cache).panic).toBe(true);
  });

  it("keeps watching a requirement dropped from the config, as if it had been asked", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    service.reconfigure({ panic: false }, []);
    expect(service.trackedRequirements()).toEqual([STORAGE]);
    expect(commit(service, health("a", "unhealthy"))).toEqual([failover("a", "b", "unhealthy")]);
  });
});

describe("ResolutionService.resolve answers between changes", () => {
  const choiceOf = (service: ResolutionService, requirement: Requirement = STORAGE) =>
    service.resolve(requirement, false, 10).choice?.adapterId ?? null;

  it("answers a repeated question the same, and anew once a commit changes a state", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    const first = service.resolve(STORAGE, false, 10);
    expect(service.resolve(STORAGE, false, 10)).toBe(first);
    expect(first.choice?.adapterId).toBe("a");
    commit(service, health("a", "healthy", 90));
    // Only the latency changed, and that ranks b first now.
    expect(choiceOf(service)).toBe("b");
    commit(service, health("b", "unhealthy"));
    expect(choiceOf(service)).toBe("a");
  });

  it("keeps an answer through commits to other categories, not through one to its own", () => {
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "b" }),
        catalogEntry({ adapterId: "q", category: "queue" }),
      ],
      states: [health("a", "healthy", 10), health("b", "healthy", 50), health("q", "healthy")],
    });
    const first = service.resolve(STORAGE, false, 10);
    commit(service, health("q", "unhealthy"));
    expect(service.resolve(STORAGE, false, 10)).toBe(first);
    commit(service, health("b", "healthy", 40));
    const second = service.resolve(STORAGE, false, 10);
    expect(second).not.toBe(first);
    expect(second.fallbacks[0]?.latencyMs).toBe(40);
  });

  it("keeps answers apart by provider, project, panic and limit", () => {
    const service = setup({
      entries: [
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "b", provider: "gcs", project: "other" }),
      ],
      states: [health("a", "unhealthy"), health("b", "healthy", 50)],
    });
    expect(choiceOf(service)).toBe("b");
    expect(choiceOf(service, { ...STORAGE, provider: "s3" })).toBeNull();
    expect(service.resolve({ ...STORAGE, provider: "s3" }, true, 10).choice?.adapterId).toBe("a");
    expect(choiceOf(service, { ...STORAGE, project: "mahavishnu" })).toBeNull();
    expect(service.resolve(STORAGE, false, 0).fallbacks).toEqual([]);
    expect(service.resolve(STORAGE, false, 10).excluded.map((c) => c.adapterId)).toEqual(["a"]);
  });

  it("sees maintenance declared and lifted, and declared maintenance running out", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    expect(choiceOf(service)).toBe("a");
    declare("a", clock + 60_000, "patching");
    expect(choiceOf(service)).toBe("b");
    commitMaintenance("a", null);
    expect(choiceOf(service)).toBe("a");
    declare("a", clock + 60_000, "patching");
    expect(choiceOf(service)).toBe("b");
    // Nothing else changes: only the clock passes the end of the declaration.
    clock += 60_001;
    expect(choiceOf(service)).toBe("a");
  });

  it("sees a configured window open and close by the clock alone", () => {
    const service = setup({
      entries: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
      states: [health("a", "healthy", 10), health("b", "healthy", 50)],
    });
    maintenance.replaceWindows([
      {
        adapters: "a",
        fromMs: clock + 1_000,
        untilMs: clock + 2_000,
        cron: undefined,
        durationMs: undefined,
        reason: "window",
      },
    ]);
    expect(choiceOf(service)).toBe("a");
    clock += 1_000;
    expect(choiceOf(service)).toBe("b");
    clock += 1_000;
    expect(choiceOf(service)).toBe("a");
  });

  it("ranks by the new priorities after the settings are reconfigured", () => {
    store.commit(
      {
        upserted: [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })],
        states: [health("a", "healthy", 10), health("b", "healthy", 50)],
        events: [],
      },
      clock,
    );
    maintenance = new MaintenanceService([], store.loadMaintenance(), () => clock);
    view = new HealthView("registry:8679", DEFAULT_OFFLINE_STALE_RULE, () => clock);
    view.restore(store.loadCatalog(), store.loadHealth());
    const flap = { transitions: 4, windowMs: 120_000 };
    const settings = new SettingsBook(DEFAULTS, [], flap);
    const service = new ResolutionService(view, maintenance, settings, { panic: false }, []);
    expect(choiceOf(service)).toBe("a");
    settings.reconfigure(DEFAULTS, [{ match: { adapter: "b" }, priority: 1 }], flap);
    expect(choiceOf(service)).toBe("b");
  });
});
