import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, EXIT_CONFIG } from "../../../src/config/errors.js";
import { type DaemonConfig, parseConfigText } from "../../../src/config/load.js";
import { tempDir } from "../../support/stack.js";

/**
 * The config loader fed YAML documents built from the schema's own keys: valid
 * values, wrong types, out-of-range numbers, unknown keys at every level,
 * sections replaced by scalars, unset environment variables and broken YAML.
 */

/** The longest a Node.js timer waits; a longer delay fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMER_SEC = Math.floor(MAX_TIMER_MS / 1000);

/** One leaf key of the schema: values it takes, values it refuses, and where a value lands. */
interface Leaf {
  path: string[];
  valid: fc.Arbitrary<unknown>;
  invalid: fc.Arbitrary<unknown>;
  /** The value the loaded config holds for a given file value. */
  loaded: (config: DaemonConfig) => unknown;
  expected: (value: unknown) => unknown;
}

const notANumber = fc.constantFrom<unknown>("abc", "12", true, null, [], { n: 1 });
const notABoolean = fc.constantFrom<unknown>("yes", "true", 1, 0, null, [], { on: true });
const notAString = fc.constantFrom<unknown>(5, true, null, [], { s: "x" });

const same = (value: unknown) => value;
const ms = (value: unknown) => (value as number) * 1000;

function bool(path: string, loaded: Leaf["loaded"]): Leaf {
  return {
    path: path.split("."),
    valid: fc.boolean(),
    invalid: notABoolean,
    loaded,
    expected: same,
  };
}

function int(path: string, min: number, max: number, loaded: Leaf["loaded"]): Leaf {
  return {
    path: path.split("."),
    valid: fc.integer({ min, max }),
    invalid: fc.oneof(
      notANumber,
      fc.integer({ min: min - 1000, max: min - 1 }),
      ...(max < Number.MAX_SAFE_INTEGER ? [fc.integer({ min: max + 1, max: max + 1000 })] : []),
      fc.double({ min: min + 0.01, max: min + 0.99, noNaN: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
    ),
    loaded,
    expected: same,
  };
}

/** A positive number of seconds, loaded as milliseconds; `max` when the schema has one. */
function seconds(path: string, loaded: Leaf["loaded"], max = MAX_TIMER_SEC): Leaf {
  return {
    path: path.split("."),
    valid: fc.oneof(
      fc.double({ min: 0.001, max: Math.min(max, 600), noNaN: true }),
      fc.integer({ min: 1, max }),
    ),
    invalid: fc.oneof(
      notANumber,
      fc.constantFrom(0, -1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      fc.integer({ min: max + 1, max: max * 1000 }),
    ),
    loaded,
    expected: ms,
  };
}

function oneOf(path: string, values: readonly string[], loaded: Leaf["loaded"]): Leaf {
  return {
    path: path.split("."),
    valid: fc.constantFrom(...values),
    invalid: fc.oneof(
      notAString,
      fc.constantFrom("", "INFO", "bogus"),
      fc.string().filter((value) => !values.includes(value)),
    ),
    loaded,
    expected: same,
  };
}

function text(path: string, loaded: Leaf["loaded"]): Leaf {
  return {
    path: path.split("."),
    valid: fc.string({ minLength: 1, maxLength: 30 }).filter((value) => !value.includes("${")),
    invalid: fc.oneof(notAString, fc.constant("")),
    loaded,
    expected: same,
  };
}

function listen(path: string, loaded: Leaf["loaded"]): Leaf {
  return {
    path: path.split("."),
    valid: fc
      .tuple(
        fc.constantFrom("127.0.0.1", "0.0.0.0", "[::1]", "localhost"),
        fc.integer({ min: 0, max: 65535 }),
      )
      .map(([host, port]) => `${host}:${port}`),
    invalid: fc.oneof(
      notAString,
      fc.constantFrom(
        "",
        "localhost",
        "127.0.0.1:",
        "127.0.0.1:65536",
        ":x",
        "[::1:80",
        "a b:1",
        "h:123456",
      ),
    ),
    loaded,
    expected: (value) => {
      const text = value as string;
      const colon = text.lastIndexOf(":");
      return {
        host: text.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
        port: Number(text.slice(colon + 1)),
      };
    },
  };
}

const LEAVES: Leaf[] = [
  bool("oneiric_mcp.enabled", (c) => c.registry.enabled),
  text("oneiric_mcp.grpc_host", (c) => c.registry.host),
  int("oneiric_mcp.grpc_port", 1, 65535, (c) => c.registry.port),
  bool("oneiric_mcp.use_tls", (c) => c.registry.useTls),
  seconds("oneiric_mcp.timeout_sec", (c) => c.registry.timeoutMs),
  int(
    "oneiric_mcp.circuit_breaker_threshold",
    1,
    Number.MAX_SAFE_INTEGER,
    (c) => c.registry.breakerThreshold,
  ),
  seconds("oneiric_mcp.circuit_breaker_duration_sec", (c) => c.registry.breakerDurationMs),
  listen("healthd.http.listen", (c) => c.http.listen),
  int("healthd.http.max_body_bytes", 1024, 16 * 1024 * 1024, (c) => c.http.maxBodyBytes),
  seconds("healthd.http.sse_heartbeat_sec", (c) => c.http.sseHeartbeatMs),
  int("healthd.http.max_event_streams", 1, 100_000, (c) => c.http.maxEventStreams),
  listen("healthd.grpc.listen", (c) => c.grpc.listen),
  int("healthd.limits.burst", 1, 1_000_000, (c) => c.limits.burst),
  int("healthd.limits.max_connections", 1, 1_000_000, (c) => c.limits.maxConnections),
  seconds("healthd.limits.slow_client_timeout_sec", (c) => c.limits.slowClientTimeoutMs, 3600),
  text("healthd.storage.path", (c) => c.storage.path),
  oneOf("healthd.storage.synchronous", ["normal", "full"], (c) => c.storage.synchronous),
  int("healthd.registry.breaker.threshold", 1, 1000, (c) => c.fallback.breakerThreshold),
  seconds("healthd.registry.breaker.half_open_after_sec", (c) => c.fallback.halfOpenAfterMs),
  seconds("healthd.registry.breaker.max_half_open_after_sec", (c) => c.fallback.maxHalfOpenAfterMs),
  int("healthd.registry.max_concurrent_calls", 1, 10_000, (c) => c.fallback.maxConcurrentCalls),
  int("healthd.registry.max_queued_calls", 0, 100_000, (c) => c.fallback.maxQueuedCalls),
  int("healthd.registry.jwt_ttl_sec", 10, 86_400, (c) => c.fallback.jwtTtlMs / 1000),
  seconds("healthd.sync.interval_sec", (c) => c.sync.intervalMs),
  seconds("healthd.probes.interval_sec", (c) => c.adapters.defaults.probes.intervalMs),
  seconds("healthd.probes.edge_interval_sec", (c) => c.adapters.defaults.probes.edgeIntervalMs),
  seconds("healthd.probes.open_interval_sec", (c) => c.adapters.defaults.probes.openIntervalMs),
  seconds(
    "healthd.probes.watched_interval_sec",
    (c) => c.adapters.defaults.probes.watchedIntervalMs,
  ),
  seconds("healthd.probes.timeout_sec", (c) => c.adapters.defaults.probes.timeoutMs),
  int("healthd.probes.rise", 1, 100, (c) => c.adapters.defaults.probes.rise),
  int("healthd.probes.fall", 1, 100, (c) => c.adapters.defaults.probes.fall),
  bool("healthd.probes.watch", (c) => c.adapters.defaults.probes.watch),
  bool("healthd.probes.registry_check", (c) => c.adapters.defaults.probes.registryCheck),
  int("healthd.probes.concurrency", 1, 10_000, (c) => c.probes.concurrency),
  seconds(
    "healthd.breaker.half_open_after_sec",
    (c) => c.adapters.defaults.breaker.halfOpenAfterMs,
  ),
  int("healthd.breaker.size", 2, 10_000, (c) => c.adapters.defaults.breaker.size),
  int("healthd.breaker.min_calls", 1, 10_000, (c) => c.adapters.defaults.breaker.minCalls),
  int("healthd.flap.transitions", 2, 1000, (c) => c.flap.transitions),
  int("healthd.journal.max_events", 100, Number.MAX_SAFE_INTEGER, (c) => c.journal.maxEvents),
  int("healthd.metrics.max_category_labels", 1, 1000, (c) => c.metrics.maxCategoryLabels),
  oneOf(
    "healthd.log.level",
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    (c) => c.log.level,
  ),
];

/** Sections a fault may replace or add an unknown key to. */
const SECTIONS: string[][] = [
  [],
  ...[
    ...new Set(
      LEAVES.flatMap((leaf) =>
        leaf.path.slice(0, -1).map((_, i) => leaf.path.slice(0, i + 1).join(".")),
      ),
    ),
  ].map((section) => section.split(".")),
];

type Fault =
  | { kind: "value"; leaf: number; value: unknown }
  | { kind: "unknown key"; section: number; name: string; value: unknown }
  | { kind: "not a mapping"; section: number; value: unknown }
  | { kind: "unset variable"; leaf: number; variable: string };

const faultArbitrary: fc.Arbitrary<Fault> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .nat({ max: LEAVES.length - 1 })
      .chain((leaf) =>
        (LEAVES[leaf] as Leaf).invalid.map((value): Fault => ({ kind: "value", leaf, value })),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("unknown key" as const),
      section: fc.nat({ max: SECTIONS.length - 1 }),
      // Prefixed so that it is never one of the schema's keys.
      name: fc.stringMatching(/^[a-z][a-z_]{0,12}$/).map((name) => `zz_${name}`),
      value: fc.oneof(fc.integer(), fc.string(), fc.boolean()),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("not a mapping" as const),
      section: fc.integer({ min: 1, max: SECTIONS.length - 1 }),
      value: fc.constantFrom<unknown>(5, "text", true, ["a", "b"]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("unset variable" as const),
      leaf: fc.nat({ max: LEAVES.length - 1 }),
      variable: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/).map((name) => `UNSET_${name}`),
    }),
  },
);

const dotted = (path: readonly string[]) => path.join(".");
const isUnder = (path: readonly string[], section: readonly string[]) =>
  section.every((part, index) => path[index] === part);

/** Sets a value at a path, making mappings on the way; false when a scalar is in the way. */
function setIn(
  document: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): boolean {
  let node = document;
  for (const part of path.slice(0, -1)) {
    if (node[part] === undefined) node[part] = {};
    const next = node[part];
    if (typeof next !== "object" || next === null || Array.isArray(next)) return false;
    node = next as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
  return true;
}

function faultPath(fault: Fault): string[] {
  switch (fault.kind) {
    case "value":
    case "unset variable":
      return (LEAVES[fault.leaf] as Leaf).path;
    case "unknown key":
      return [...(SECTIONS[fault.section] as string[]), fault.name];
    case "not a mapping":
      return SECTIONS[fault.section] as string[];
  }
}

/** A document of valid values for some leaves, then the faults applied in order. */
const documentArbitrary = fc
  .tuple(fc.subarray(LEAVES.map((_, index) => index)), fc.array(faultArbitrary, { maxLength: 3 }))
  .chain(([given, faults]) =>
    fc.tuple(
      fc
        .tuple(...given.map((index) => (LEAVES[index] as Leaf).valid))
        .map((values) =>
          given.map((index, i) => ({ leaf: LEAVES[index] as Leaf, value: values[i] })),
        ),
      fc.constant(faults),
    ),
  )
  .map(([values, faults]) => {
    const document: Record<string, unknown> = {};
    for (const { leaf, value } of values) setIn(document, leaf.path, value);
    // The keys a correct error may name: each fault that landed, unless a later one
    // replaced a section holding it.
    let offending: string[][] = [];
    for (const fault of faults) {
      const path = faultPath(fault);
      const value = fault.kind === "unset variable" ? `\${${fault.variable}}` : fault.value;
      if (!setIn(document, path, value)) continue;
      if (fault.kind === "not a mapping") {
        offending = offending.filter((earlier) => !isUnder(earlier, path));
      }
      offending.push(path);
    }
    return {
      values,
      faulty: offending.length > 0,
      offending: offending.map(dotted),
      yaml: stringify(document),
    };
  });

const RUNS = 300;

/** Loads text; returns the config or the ConfigError, and lets anything else escape. */
function load(yaml: string): DaemonConfig | ConfigError {
  try {
    return parseConfigText(yaml, "generated.yaml", {});
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

describe("the config loader over generated documents", () => {
  it("loads a valid document to the values given, and names the key of every fault", () => {
    fc.assert(
      fc.property(documentArbitrary, ({ values, faulty, offending, yaml }) => {
        const result = load(yaml);
        if (!faulty) {
          expect(result, yaml).not.toBeInstanceOf(ConfigError);
          const config = result as DaemonConfig;
          for (const { leaf, value } of values) {
            expect(leaf.loaded(config), dotted(leaf.path)).toEqual(leaf.expected(value));
          }
          return;
        }
        expect(result, yaml).toBeInstanceOf(ConfigError);
        const error = result as ConfigError;
        expect(offending, `${error.message}\n${yaml}`).toContain(error.key);
        expect(error.message).toContain(`generated.yaml`);
        expect(error.message).toContain(`: ${error.key}: `);
        expect(error.line, error.message).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it("accepts no duration a timer cannot wait, given or derived", () => {
    fc.assert(
      fc.property(documentArbitrary, ({ yaml }) => {
        const result = load(yaml);
        if (result instanceof ConfigError) return;
        const probes = result.adapters.defaults.probes;
        const waits = {
          "registry timeout": result.registry.timeoutMs,
          "registry breaker": result.registry.breakerDurationMs,
          "SSE heartbeat": result.http.sseHeartbeatMs,
          "slow client": result.limits.slowClientTimeoutMs,
          sync: result.sync.intervalMs,
          interval: probes.intervalMs,
          edge: probes.edgeIntervalMs,
          open: probes.openIntervalMs,
          watched: probes.watchedIntervalMs,
          "probe timeout": probes.timeoutMs,
          "half-open": result.adapters.defaults.breaker.halfOpenAfterMs,
          "fallback half-open": result.fallback.halfOpenAfterMs,
          "fallback max half-open": result.fallback.maxHalfOpenAfterMs,
        };
        for (const [name, wait] of Object.entries(waits)) {
          expect(Number.isFinite(wait), name).toBe(true);
          expect(wait, `${name}\n${yaml}`).toBeGreaterThan(0);
          expect(wait, `${name}\n${yaml}`).toBeLessThanOrEqual(MAX_TIMER_MS);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("answers any mangled text with a config or a ConfigError, never another error", () => {
    const mangled = documentArbitrary.chain(({ yaml }) =>
      fc.oneof(
        fc.nat({ max: yaml.length }).map((cut) => yaml.slice(0, cut)),
        fc
          .tuple(
            fc.nat({ max: yaml.length }),
            fc.constantFrom(
              "\t",
              ":",
              "- ",
              "{",
              "[",
              "&a",
              "*b",
              "!!binary",
              "\u0000",
              "'",
              '"',
              "? ",
            ),
          )
          .map(([at, piece]) => `${yaml.slice(0, at)}${piece}${yaml.slice(at)}`),
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.constantFrom(
          "",
          "null",
          "- 1\n- 2",
          "42",
          "oneiric_mcp: [1]",
          "healthd: 3",
          "a: &x [*x]",
        ),
      ),
    );
    fc.assert(
      fc.property(mangled, (yaml) => {
        const result = load(yaml);
        if (result instanceof ConfigError) expect(result.message.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("check-config on generated invalid files", () => {
  const CLI = join(import.meta.dirname, "..", "..", "..", "bin", "oneiric-healthd.js");
  const run = promisify(execFile);
  let dir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => dir.remove());

  it("exits 78 and names the offending key", async () => {
    // Child processes are slow: a handful of runs, each a fresh faulty document.
    const samples = fc.sample(
      documentArbitrary.filter(({ faulty }) => faulty),
      { numRuns: 3 },
    );
    for (const [index, { yaml, offending }] of samples.entries()) {
      const file = join(dir.path, `invalid-${index}.yaml`);
      writeFileSync(file, yaml);
      const outcome = await run(process.execPath, [CLI, "check-config", file], { env: {} }).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
      expect(outcome.code, yaml).toBe(EXIT_CONFIG);
      expect(
        offending.some((key) => outcome.stderr.includes(`: ${key}: `)),
        `${outcome.stderr}\n${yaml}`,
      ).toBe(true);
    }
  }, 60_000);
});
