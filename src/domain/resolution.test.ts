import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import type { AdapterEntry, HealthStatus } from "./adapter.js";
import { type BreakerState, type HealthState, initialHealth } from "./health.js";
import { type Candidate, type Requirement, requirementKey, resolve } from "./resolution.js";

const T0 = 1_700_000_000_000;
const STORAGE: Requirement = { domain: "adapter", category: "storage" };

interface CandidateSpec {
  status?: HealthStatus;
  breaker?: BreakerState | null;
  flapping?: boolean;
  maintenance?: boolean;
  priority?: number;
  latencyMs?: number | null;
  reason?: string;
  entry?: Partial<AdapterEntry>;
}

function candidate(adapterId: string, spec: CandidateSpec = {}): Candidate {
  const entry = catalogEntry({ adapterId, ...spec.entry });
  const breaker = spec.breaker === undefined ? "closed" : spec.breaker;
  const health: HealthState = {
    ...initialHealth(adapterId, "healthy", T0),
    status: spec.status ?? "healthy",
    reason: spec.reason ?? "HTTP 200",
    latencyMs: spec.latencyMs === undefined ? 50 : spec.latencyMs,
    flapping: spec.flapping ?? false,
    breaker: breaker === null ? null : { state: breaker, snapshot: { kind: breaker } },
  };
  return {
    entry,
    health,
    maintenance: spec.maintenance ?? false,
    priority: spec.priority ?? 100,
  };
}

/** The ids in the order resolve ranks them: choice, then fallbacks. */
function order(candidates: Candidate[], requirement = STORAGE): (string | undefined)[] {
  const resolution = resolve(candidates, requirement);
  return [resolution.choice?.adapterId, ...resolution.fallbacks.map((ranked) => ranked.adapterId)];
}

/** Every permutation of a small list, to show the ranking does not depend on input order. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [
      item,
      ...rest,
    ]),
  );
}

describe("resolve ranking", () => {
  it("prefers healthy, then degraded, then unknown", () => {
    const candidates = [
      candidate("unknown", { status: "unknown", latencyMs: null }),
      candidate("degraded", { status: "degraded", latencyMs: 1 }),
      candidate("healthy", { status: "healthy", latencyMs: 900 }),
    ];
    expect(order(candidates)).toEqual(["healthy", "degraded", "unknown"]);
    const resolution = resolve(candidates, STORAGE);
    expect(resolution.choice).toEqual({
      adapterId: "healthy",
      provider: "s3",
      status: "healthy",
      breaker: "closed",
      flapping: false,
      maintenance: false,
      priority: 100,
      latencyMs: 900,
      excludedBecause: null,
    });
    expect(resolution.excluded).toEqual([]);
    expect(resolution.panic).toBe(false);
    expect(resolution.reason).toBe(
      "healthy is the best match for adapter/storage/* (healthy); 2 usable fallbacks",
    );
  });

  it("puts a closed breaker before a half-open one, but status comes first", () => {
    const candidates = [
      candidate("healthy-half-open", { breaker: "half-open", latencyMs: 1 }),
      candidate("healthy-closed", { latencyMs: 500 }),
      candidate("degraded-closed", { status: "degraded", latencyMs: 1 }),
    ];
    expect(order(candidates)).toEqual(["healthy-closed", "healthy-half-open", "degraded-closed"]);
    const alone = resolve([candidates[0] as Candidate], STORAGE);
    expect(alone.reason).toBe(
      "healthy-half-open is the best match for adapter/storage/* (healthy, breaker half-open); no usable fallback",
    );
  });

  it("treats an adapter whose breaker never reported as closed", () => {
    const candidates = [
      candidate("half-open", { breaker: "half-open" }),
      candidate("no-breaker", { breaker: null }),
    ];
    expect(order(candidates)).toEqual(["no-breaker", "half-open"]);
    expect(resolve(candidates, STORAGE).choice?.breaker).toBe("closed");
  });

  it("uses priority (lower first) among equals, but not over status", () => {
    const candidates = [
      candidate("p100", { priority: 100, latencyMs: 1 }),
      candidate("p10", { priority: 10, latencyMs: 900 }),
      candidate("p50", { priority: 50 }),
      candidate("degraded-p0", { status: "degraded", priority: 0 }),
    ];
    expect(order(candidates)).toEqual(["p10", "p50", "p100", "degraded-p0"]);
  });

  it("prefers lower latency at equal priority, with unknown latency last", () => {
    const candidates = [
      candidate("null-latency", { latencyMs: null }),
      candidate("slow", { latencyMs: 800 }),
      candidate("fast", { latencyMs: 20 }),
      candidate("zero", { latencyMs: 0 }),
    ];
    expect(order(candidates)).toEqual(["zero", "fast", "slow", "null-latency"]);
  });

  it("breaks exact ties by id, whatever the input order", () => {
    const candidates = [
      candidate("c"),
      candidate("a"),
      candidate("b"),
      candidate("z-null", { latencyMs: null }),
      candidate("a-null", { latencyMs: null }),
    ];
    // Two unknown latencies compare equal (not NaN), so the id still decides.
    for (const permutation of permutations(candidates)) {
      expect(order(permutation)).toEqual(["a", "b", "c", "a-null", "z-null"]);
    }
  });

  it("ranks a full mix the same way for every input order", () => {
    const candidates = [
      candidate("h-closed-p100", { latencyMs: 30 }),
      candidate("h-closed-p100-slow", { latencyMs: 300 }),
      candidate("h-half-open", { breaker: "half-open", priority: 1 }),
      candidate("d-closed", { status: "degraded", priority: 1 }),
      candidate("u-closed", { status: "unknown", latencyMs: null }),
      candidate("x-unhealthy", { status: "unhealthy", reason: "HTTP 503" }),
    ];
    const expected = ["h-closed-p100", "h-closed-p100-slow", "h-half-open", "d-closed", "u-closed"];
    for (const permutation of permutations(candidates)) {
      const resolution = resolve(permutation, STORAGE);
      expect([
        resolution.choice?.adapterId,
        ...resolution.fallbacks.map((ranked) => ranked.adapterId),
      ]).toEqual(expected);
      expect(resolution.excluded.map((ranked) => ranked.adapterId)).toEqual(["x-unhealthy"]);
    }
  });
});

describe("resolve exclusions", () => {
  it("excludes flapping, maintenance, open or isolated breakers and unhealthy, with reasons", () => {
    const resolution = resolve(
      [
        candidate("fine", { status: "degraded" }),
        candidate("flapping", { flapping: true }),
        candidate("maintenance", { maintenance: true }),
        candidate("open", { breaker: "open" }),
        candidate("isolated", { breaker: "isolated" }),
        candidate("down", { status: "unhealthy", reason: "HTTP 503 (3 consecutive failures)" }),
      ],
      STORAGE,
    );
    expect(resolution.choice?.adapterId).toBe("fine");
    expect(resolution.fallbacks).toEqual([]);
    const reasons = Object.fromEntries(
      resolution.excluded.map((ranked) => [ranked.adapterId, ranked.excludedBecause]),
    );
    expect(reasons).toEqual({
      flapping: "flapping",
      maintenance: "in a maintenance window",
      open: "circuit breaker open",
      isolated: "circuit breaker isolated",
      down: "unhealthy: HTTP 503 (3 consecutive failures)",
    });
    expect(resolution.reason).toBe(
      "fine is the best match for adapter/storage/* (degraded, breaker closed); no usable fallback",
    );
  });

  it("names maintenance first when several reasons apply", () => {
    const resolution = resolve(
      [
        candidate("all-bad", {
          maintenance: true,
          breaker: "open",
          flapping: true,
          status: "unhealthy",
        }),
      ],
      STORAGE,
    );
    expect(resolution.excluded.map((ranked) => ranked.excludedBecause)).toEqual([
      "in a maintenance window",
    ]);
  });

  it("never lets an excluded candidate outrank a usable one", () => {
    const resolution = resolve(
      [
        candidate("healthy-maintenance", { maintenance: true, priority: 0, latencyMs: 1 }),
        candidate("unknown-usable", { status: "unknown", latencyMs: null }),
      ],
      STORAGE,
    );
    expect(resolution.choice?.adapterId).toBe("unknown-usable");
    expect(resolution.excluded.map((ranked) => ranked.adapterId)).toEqual(["healthy-maintenance"]);
  });
});

describe("resolve filters", () => {
  const candidates = [
    candidate("s3-main", { entry: { provider: "s3", project: "mahavishnu" } }),
    candidate("s3-other", { entry: { provider: "s3", project: "crackerjack" }, latencyMs: 1 }),
    candidate("gcs-main", { entry: { provider: "gcs", project: "mahavishnu" }, latencyMs: 2 }),
    candidate("cache", { entry: { category: "cache" }, latencyMs: 0 }),
    candidate("other-domain", { entry: { domain: "service" }, latencyMs: 0 }),
  ];

  it("matches domain and category exactly; empty provider and project mean any", () => {
    expect(order(candidates)).toEqual(["s3-other", "gcs-main", "s3-main"]);
    expect(
      order(candidates, { domain: "adapter", category: "storage", provider: "", project: "" }),
    ).toEqual(["s3-other", "gcs-main", "s3-main"]);
  });

  it("filters by provider", () => {
    expect(order(candidates, { ...STORAGE, provider: "s3" })).toEqual(["s3-other", "s3-main"]);
    expect(order(candidates, { ...STORAGE, provider: "gcs" })).toEqual(["gcs-main"]);
  });

  it("filters by project", () => {
    expect(order(candidates, { ...STORAGE, project: "mahavishnu" })).toEqual([
      "gcs-main",
      "s3-main",
    ]);
  });

  it("filters by provider and project together", () => {
    expect(order(candidates, { ...STORAGE, provider: "s3", project: "mahavishnu" })).toEqual([
      "s3-main",
    ]);
  });

  it("says no adapter matches when none does", () => {
    const requirement = { ...STORAGE, provider: "azure", project: "mahavishnu" };
    expect(resolve(candidates, requirement, { panic: true })).toEqual({
      requirement,
      choice: null,
      fallbacks: [],
      excluded: [],
      fallbacksTotal: 0,
      excludedTotal: 0,
      reason: "no adapter matches adapter/storage/azure in project mahavishnu",
      panic: false,
    });
    expect(resolve([], STORAGE).reason).toBe("no adapter matches adapter/storage/*");
  });
});

describe("resolve with nothing usable", () => {
  const unusable = [
    candidate("down", { status: "unhealthy", reason: "HTTP 503" }),
    candidate("open", { breaker: "open" }),
    candidate("maintenance", { maintenance: true }),
  ];

  it("returns no choice, with every candidate's reason", () => {
    const resolution = resolve(unusable, STORAGE);
    expect(resolution.choice).toBeNull();
    expect(resolution.fallbacks).toEqual([]);
    expect(resolution.panic).toBe(false);
    expect(resolution.excluded.map((ranked) => ranked.adapterId)).toEqual([
      "maintenance",
      "open",
      "down",
    ]);
    expect(resolution.reason).toBe(
      "no usable adapter for adapter/storage/* (maintenance: in a maintenance window; open: circuit breaker open; down: unhealthy: HTTP 503)",
    );
  });

  it("in panic mode returns the least-bad candidate, marked as panic", () => {
    const resolution = resolve(unusable, STORAGE, { panic: true });
    expect(resolution.panic).toBe(true);
    // Healthy with a closed breaker (only in maintenance) beats an open breaker, which beats unhealthy.
    expect(resolution.choice?.adapterId).toBe("maintenance");
    expect(resolution.choice?.excludedBecause).toBe("in a maintenance window");
    expect(resolution.fallbacks.map((ranked) => ranked.adapterId)).toEqual(["open", "down"]);
    expect(resolution.reason).toMatch(
      /^PANIC: no usable adapter for adapter\/storage\/\*; returning the least-bad candidate \(maintenance: in a maintenance window; open: circuit breaker open; down: unhealthy: HTTP 503\)$/,
    );
  });

  it("in panic mode still returns a usable choice normally when there is one", () => {
    const resolution = resolve([...unusable, candidate("fine", { status: "unknown" })], STORAGE, {
      panic: true,
    });
    expect(resolution.panic).toBe(false);
    expect(resolution.choice?.adapterId).toBe("fine");
  });

  it("defaults to panic off", () => {
    expect(resolve(unusable, STORAGE).choice).toBeNull();
  });
});

describe("requirementKey", () => {
  it("keys by all four fields, empty for the unset ones", () => {
    expect(requirementKey(STORAGE)).toBe("adapter/storage//");
    expect(requirementKey({ ...STORAGE, provider: "s3", project: "p" })).toBe(
      "adapter/storage/s3/p",
    );
    expect(requirementKey({ ...STORAGE, provider: "s3" })).not.toBe(
      requirementKey({ ...STORAGE, project: "s3" }),
    );
  });
});

describe("resolve with a limit", () => {
  it("lists at most `limit` fallbacks and excluded candidates, in the same order a full ranking gives", () => {
    const many = Array.from({ length: 40 }, (_, index) =>
      candidate(`p.adapter.storage.s${String(index).padStart(2, "0")}`, {
        status: index % 3 === 0 ? "unhealthy" : "healthy",
        latencyMs: (index * 7) % 13,
      }),
    );
    const full = resolve(many, STORAGE);
    const limited = resolve(many, STORAGE, { panic: false, limit: 3 });
    expect(limited.choice).toEqual(full.choice);
    expect(limited.fallbacks).toEqual(full.fallbacks.slice(0, 3));
    expect(limited.excluded).toEqual(full.excluded.slice(0, 3));
    expect([limited.fallbacksTotal, limited.excludedTotal]).toEqual([
      full.fallbacks.length,
      full.excluded.length,
    ]);
    expect(resolve(many, STORAGE, { panic: false, limit: 0 }).choice).toEqual(full.choice);
  });

  it("names only the first causes when nothing is usable, and counts the rest", () => {
    const down = Array.from({ length: 5 }, (_, index) =>
      candidate(`p.adapter.storage.d${index}`, { status: "unhealthy" }),
    );
    expect(resolve(down, STORAGE, { panic: false, limit: 2 }).reason).toMatch(/; and 3 more\)$/);
  });
});
