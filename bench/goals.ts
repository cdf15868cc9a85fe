/**
 * The goals the benchmark suite judges figures against, in one place, so every bench names a
 * goal by its id and the suite can say which goals no bench measured yet.
 *
 * A row that carries `goal: "<id>"` must be in the goal's unit; the row is met when its value
 * compares to the goal's value as `op` says. A goal is met when every row naming it is met,
 * and "not measured" when no row names it (its `bench` says which benchmark should).
 */

export type GoalOp = "<" | "<=" | "=";

export interface Goal {
  id: string;
  /** The goal as the issue or README states it. */
  text: string;
  unit: string;
  op: GoalOp;
  value: number;
  /** The size (adapters) the goal is about, when it names one: rows at other sizes cannot judge it. */
  size?: number;
  /** The benchmark script expected to report it. */
  bench: string;
  /** Where the goal comes from. */
  source: string;
}

/** The daemon's default probe interval (`healthd.probes.interval_sec`), which two goals use. */
const DEFAULT_INTERVAL_SEC = 15;
/** The default cluster lease (`healthd.cluster.lease_ttl_sec`), which the rebalance goals use. */
const DEFAULT_LEASE_TTL_SEC = 10;

export const GOALS: readonly Goal[] = [
  {
    id: "rss-50k",
    size: 50_000,
    text: "RSS < 250 MB at 50,000 adapters (defaults)",
    unit: "MB",
    op: "<",
    value: 250,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "cpu-ratio-polling",
    text: "CPU per check, polling (watch: false), ≤ 0.1× blackbox_exporter's in the same run",
    unit: "×",
    op: "<=",
    value: 0.1,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "cpu-ratio-watch-defaults",
    text: "CPU with Watch at real defaults ≤ 0.03× blackbox_exporter's per probe",
    unit: "×",
    op: "<=",
    value: 0.03,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "first-verdict-50k",
    size: 50_000,
    text: `every adapter has a verdict within one interval + 10 s at 50,000 (defaults: ${DEFAULT_INTERVAL_SEC + 10} s)`,
    unit: "s",
    op: "<=",
    value: DEFAULT_INTERVAL_SEC + 10,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "false-verdicts-50k",
    size: 50_000,
    text: "0 false degraded/unhealthy verdicts at 50,000 (adapters the simulator serves healthily)",
    unit: "verdicts",
    op: "=",
    value: 0,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "query-p99-50k-first-round",
    size: 50_000,
    text: "query p99 < 1 ms at 50,000 during a first round (single adapter and resolve)",
    unit: "ms",
    op: "<",
    value: 1,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "query-p99-50k-sync",
    size: 50_000,
    text: "query p99 < 1 ms at 50,000 during a catalog sync (single adapter and resolve)",
    unit: "ms",
    op: "<",
    value: 1,
    bench: "bench/health-engine.bench.ts",
    source: "issue 11",
  },
  {
    id: "query-p99-20k-flip",
    size: 20_000,
    text: "query p99 < 1 ms with 20,000 adapters, 5 s interval, 5 % flipping",
    unit: "ms",
    op: "<",
    value: 1,
    bench: "bench/query-surfaces.bench.ts",
    source: "issue 11",
  },
  {
    id: "rss-20k-flip",
    size: 20_000,
    text: "RSS < 120 MB in the 20,000-adapter query scenario",
    unit: "MB",
    op: "<",
    value: 120,
    bench: "bench/query-surfaces.bench.ts",
    source: "issue 11",
  },
  {
    id: "sync-unchanged-50k",
    size: 50_000,
    text: "an unchanged catalog sync costs < 50 ms CPU at 50,000",
    unit: "ms",
    op: "<",
    value: 50,
    bench: "bench/catalog-sync.bench.ts",
    source: "issue 11",
  },
  {
    id: "first-verdict-100k",
    size: 100_000,
    text: `every adapter has a verdict within 2 intervals at 100,000 (defaults: ${2 * DEFAULT_INTERVAL_SEC} s)`,
    unit: "s",
    op: "<=",
    value: 2 * DEFAULT_INTERVAL_SEC,
    bench: "bench/start-stop.bench.ts",
    source: "issue 11",
  },
  {
    id: "ready-100k",
    size: 100_000,
    text: "restart → ready < 2 s with 100,000 adapters in the database",
    unit: "s",
    op: "<",
    value: 2,
    bench: "bench/start-stop.bench.ts",
    source: "issue 11",
  },
  {
    id: "stop-100k",
    size: 100_000,
    text: "stop < 5 s with 100,000 adapters",
    unit: "s",
    op: "<",
    value: 5,
    bench: "bench/start-stop.bench.ts",
    source: "issue 11",
  },
  {
    id: "detection-polling",
    text: "detection with polling at a 1 s interval ≤ 1,050 ms (max of the samples)",
    unit: "ms",
    op: "<=",
    value: 1_050,
    bench: "bench/health-engine.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "detection-watch",
    text: "detection with Watch ≤ 100 ms (max of the samples)",
    unit: "ms",
    op: "<=",
    value: 100,
    bench: "bench/health-engine.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "registry-cached-p99",
    text: "cached listAdapters p99 < 50 µs",
    unit: "µs",
    op: "<",
    value: 50,
    bench: "bench/registry-client.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "registry-uncached-p99-50",
    size: 50,
    text: "uncached listAdapters p99 < 2 ms at 50 adapters",
    unit: "ms",
    op: "<",
    value: 2,
    bench: "bench/registry-client.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "query-p99-10k",
    size: 10_000,
    text: "HTTP single-adapter and resolve p99 < 1 ms at 10,000 (settled)",
    unit: "ms",
    op: "<",
    value: 1,
    bench: "bench/query-surfaces.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "sse-50ms",
    text: "every SSE subscriber has the event within 50 ms of the commit",
    unit: "ms",
    op: "<",
    value: 50,
    bench: "bench/query-surfaces.bench.ts",
    source: "bench/README.md (earlier goal)",
  },
  {
    id: "scale-out-sse-p99",
    text: "commit on one cluster member → SSE subscriber on another, p99 < 100 ms on loopback",
    unit: "ms",
    op: "<",
    value: 100,
    bench: "bench/scale-out.bench.ts",
    source: "issue 14",
  },
  {
    id: "rebalance-defaults",
    text: `a SIGKILLed member's adapters taken over within lease TTL + one interval, at the defaults (${DEFAULT_LEASE_TTL_SEC + DEFAULT_INTERVAL_SEC} s), every run`,
    unit: "s",
    op: "<=",
    value: DEFAULT_LEASE_TTL_SEC + DEFAULT_INTERVAL_SEC,
    bench: "bench/scale-out.bench.ts",
    source: "issue 14; docs/configuration.md (healthd.cluster.lease_ttl_sec)",
  },
  {
    id: "rebalance-5s",
    text: `a SIGKILLed member's adapters taken over within lease TTL + one interval, at a 5 s interval (${DEFAULT_LEASE_TTL_SEC + 5} s), every run`,
    unit: "s",
    op: "<=",
    value: DEFAULT_LEASE_TTL_SEC + 5,
    bench: "bench/scale-out.bench.ts",
    source: "issue 14; docs/configuration.md (healthd.cluster.lease_ttl_sec)",
  },
];

export function goalById(id: string): Goal {
  const goal = GOALS.find((candidate) => candidate.id === id);
  if (!goal) {
    throw new Error(
      `unknown goal "${id}" (known: ${GOALS.map((candidate) => candidate.id).join(", ")})`,
    );
  }
  return goal;
}

/** `id` when the goal applies at `size` (it names no size, or this one), else undefined. */
export function goalAt(id: string, size: number): string | undefined {
  const goal = goalById(id);
  return goal.size === undefined || goal.size === size ? id : undefined;
}

export function meetsGoal(goal: Goal, value: number): boolean {
  switch (goal.op) {
    case "<":
      return value < goal.value;
    case "<=":
      return value <= goal.value;
    case "=":
      return value === goal.value;
  }
}

export function describeGoal(goal: Goal): string {
  const op = { "<": "<", "<=": "≤", "=": "=" }[goal.op];
  return `${op} ${goal.value.toLocaleString("en-US")} ${goal.unit}`;
}
