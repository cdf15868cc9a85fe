import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type AdapterScript,
  assertValidScript,
  behaviourAt,
  formatPath,
  loadScenarioFile,
  parseScenario,
  registryStatusAt,
} from "./scenario.js";
import { ScenarioError } from "./scenario-error.js";

const noRandom = () => {
  throw new Error("random must not be drawn for this behaviour");
};

function parseError(text: string, source = "test.yaml"): ScenarioError {
  try {
    parseScenario(text, source);
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error("expected a ScenarioError");
}

describe("parseScenario", () => {
  it("fills in every default for a minimal adapter", () => {
    const scenario = parseScenario(
      "adapters:\n  - provider: s3\n    category: storage\n",
      "a.yaml",
    );
    expect(scenario).toEqual({
      source: "a.yaml",
      project: "mahavishnu",
      adapters: [
        {
          id: "mahavishnu.adapter.storage.s3",
          project: "mahavishnu",
          domain: "adapter",
          category: "storage",
          provider: "s3",
          capabilities: [],
          factoryPath: "mahavishnu.adapters.storage.s3:S3Adapter",
          metadata: {},
          endpoint: "http",
          behaviour: { kind: "healthy" },
        },
      ],
    });
  });

  it("uses the top-level project and keeps explicit fields", () => {
    const scenario = parseScenario(
      [
        "project: acme",
        "adapters:",
        "  - provider: azure-blob",
        "    category: storage",
        "  - provider: redis",
        "    category: cache",
        "    domain: service",
        "    project: other",
        "    id: custom-redis",
        "    capabilities: [get, set]",
        "    factory_path: other.cache:Redis",
        "    metadata: { region: eu-west-1, replicas: 3, tls: true }",
        "    endpoint: grpc",
        "    behaviour: slow",
        "    slow_ms: 250",
        "    dies_at_sec: 10",
        "    recovers_at_sec: 20",
        "    registry_status: unknown",
      ].join("\n"),
      "b.yaml",
    );
    const [blob, redis] = scenario.adapters;
    expect(blob?.id).toBe("acme.adapter.storage.azure-blob");
    expect(blob?.factoryPath).toBe("acme.adapters.storage.azure_blob:AzureBlobAdapter");
    expect(redis).toEqual({
      id: "custom-redis",
      project: "other",
      domain: "service",
      category: "cache",
      provider: "redis",
      capabilities: ["get", "set"],
      factoryPath: "other.cache:Redis",
      metadata: { region: "eu-west-1", replicas: "3", tls: "true" },
      endpoint: "grpc",
      behaviour: { kind: "slow", slowMs: 250 },
      outage: { diesAtSec: 10, recoversAtSec: 20 },
      registryStatus: "unknown",
    });
  });

  it("rejects an unknown key with its path, line and a suggestion", () => {
    const error = parseError("adapters:\n  - provider: s3\n    category: storage\n    slowms: 3\n");
    expect(error.issues).toEqual([
      expect.objectContaining({ path: "adapters[0].slowms", line: 4, column: 5 }),
    ]);
    expect(error.message).toMatch(
      /^test\.yaml:4:5: adapters\[0\]\.slowms: unknown key \(did you mean "slow_ms"\?\)/,
    );
  });

  it("rejects unknown top-level keys", () => {
    const error = parseError("adapter:\n  - provider: s3\n");
    expect(error.message).toContain(
      'test.yaml:1:1: adapter: unknown key (did you mean "adapters"?)',
    );
  });

  it("names a missing required field at the adapter that lacks it", () => {
    const error = parseError("adapters:\n  - provider: s3\n  - category: cache\n");
    expect(error.message).toBe(
      [
        "test.yaml:2:5: adapters[0].category: required",
        "test.yaml:3:5: adapters[1].provider: required",
      ].join("\n"),
    );
  });

  it("requires each behaviour's parameter, and only that one", () => {
    const error = parseError(
      [
        "adapters:",
        "  - { provider: a, category: storage, behaviour: slow }",
        "  - { provider: b, category: storage, behaviour: flapping }",
        "  - { provider: c, category: storage, behaviour: intermittent }",
        "  - { provider: d, category: storage, slow_ms: 100 }",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'adapters[0].slow_ms: required when behaviour is "slow"',
      'adapters[1].flap_period_sec: required when behaviour is "flapping"',
      'adapters[2].failure_probability: required when behaviour is "intermittent"',
      'adapters[3].slow_ms: only applies when behaviour is "slow" (behaviour is "healthy")',
    ]);
  });

  it("rejects out-of-range and mistyped values with their paths", () => {
    const error = parseError(
      [
        "adapters:",
        "  - provider: s3",
        "    category: storage",
        "    behaviour: intermittent",
        "    failure_probability: 1.5",
        "  - provider: gcs",
        "    category: storage",
        "    behaviour: sometimes",
        "  - provider: file",
        "    category: storage",
        "    behaviour: slow",
        "    slow_ms: fast",
        "  - provider: my provider",
        "    category: storage",
        "    endpoint: tcp",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`)).toEqual([
      "5: adapters[0].failure_probability: must be between 0 and 1",
      "8: adapters[1].behaviour: must be one of healthy, down, slow, flapping, intermittent",
      "12: adapters[2].slow_ms: must be a number",
      "13: adapters[3].provider: must not contain whitespace",
      "15: adapters[3].endpoint: must be one of http, grpc, none",
    ]);
  });

  it("checks the outage window", () => {
    const error = parseError(
      [
        "adapters:",
        "  - { provider: a, category: storage, recovers_at_sec: 5 }",
        "  - { provider: b, category: storage, dies_at_sec: 50, recovers_at_sec: 50 }",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "adapters[0].recovers_at_sec: requires dies_at_sec",
      "adapters[1].recovers_at_sec: must be greater than dies_at_sec (50)",
    ]);
  });

  it("rejects duplicate ids, explicit or derived", () => {
    const error = parseError(
      [
        "adapters:",
        "  - { provider: s3, category: storage }",
        "  - { provider: s3, category: storage, behaviour: down }",
        "  - { provider: redis, category: cache, id: mahavishnu.adapter.storage.s3 }",
      ].join("\n"),
    );
    expect(error.message).toBe(
      [
        'test.yaml:3:5: adapters[1].id: duplicate adapter id "mahavishnu.adapter.storage.s3" (first defined at adapters[0])',
        'test.yaml:4:41: adapters[2].id: duplicate adapter id "mahavishnu.adapter.storage.s3" (first defined at adapters[0])',
      ].join("\n"),
    );
  });

  it("reports YAML syntax errors with their position", () => {
    const error = parseError("adapters:\n  - provider: s3\n    category: [storage\n", "bad.yaml");
    expect(error.source).toBe("bad.yaml");
    expect(error.issues[0]?.line).toBeGreaterThanOrEqual(3);
    expect(error.message).toMatch(/^bad\.yaml:\d+:\d+: /);
  });

  it("rejects duplicate YAML keys", () => {
    const error = parseError("project: a\nproject: b\nadapters: []\n");
    expect(error.message).toMatch(/^test\.yaml:2:1: .*unique/i);
  });

  it("rejects empty scenarios and scenarios without adapters", () => {
    expect(parseError("").message).toBe("test.yaml: the scenario is empty");
    expect(parseError("project: x\n").message).toBe(
      "test.yaml:1:1: the scenario defines no adapters (add adapters or generate)",
    );
    expect(parseError("- a\n- b\n").message).toBe(
      "test.yaml:1:1: must be a mapping with adapters and/or generate",
    );
  });

  it("is a ScenarioError with a stable code", () => {
    const error = parseError("nope: 1\n");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ScenarioError");
    expect(error.code).toBe("SCENARIO_INVALID");
  });
});

describe("generate", () => {
  const text = [
    "project: load",
    "adapters:",
    "  - { provider: s3, category: storage }",
    "generate:",
    "  count: 100",
    "  categories: [storage, cache]",
    "  behaviour_mix: { healthy: 0.8, slow: 0.1, down: 0.05, flapping: 0.05 }",
  ].join("\n");

  it("expands into adapters after the explicit ones, with unique ids", () => {
    const scenario = parseScenario(text, "load.yaml");
    expect(scenario.adapters).toHaveLength(101);
    expect(new Set(scenario.adapters.map((a) => a.id)).size).toBe(101);
    const [first, second, third] = scenario.adapters.slice(1);
    expect(first).toMatchObject({
      id: "load.adapter.storage.s3-001",
      category: "storage",
      provider: "s3",
      factoryPath: "load.adapters.storage.s3:S3Adapter",
      metadata: { generated: "true", index: "1" },
      endpoint: "http",
    });
    expect(second).toMatchObject({ id: "load.adapter.cache.redis-002", provider: "redis" });
    // Providers cycle within a category once every category had its turn.
    expect(third).toMatchObject({ id: "load.adapter.storage.gcs-003", provider: "gcs" });
  });

  it("assigns behaviours by weight, interleaved, identically on every parse", () => {
    const a = parseScenario(text, "load.yaml").adapters.slice(1);
    const b = parseScenario(text, "load.yaml").adapters.slice(1);
    expect(a).toEqual(b);
    const counts: Record<string, number> = {};
    for (const adapter of a)
      counts[adapter.behaviour.kind] = (counts[adapter.behaviour.kind] ?? 0) + 1;
    expect(counts).toEqual({ healthy: 80, slow: 10, down: 5, flapping: 5 });
    // Interleaved rather than in blocks: every stretch of 20 already has some non-healthy ones.
    const firstTwenty = a.slice(0, 20).map((x) => x.behaviour.kind);
    expect(firstTwenty.filter((k) => k !== "healthy").length).toBeGreaterThanOrEqual(3);
    expect(a.find((x) => x.behaviour.kind === "slow")?.behaviour).toEqual({
      kind: "slow",
      slowMs: 800,
    });
    expect(a.find((x) => x.behaviour.kind === "flapping")?.behaviour).toEqual({
      kind: "flapping",
      flapPeriodSec: 30,
    });
  });

  it("defaults to healthy adapters across every built-in category", () => {
    const scenario = parseScenario("generate: { count: 7 }\n", "g.yaml");
    expect(scenario.adapters.map((a) => a.category)).toEqual([
      "storage",
      "cache",
      "orchestration",
      "memory",
      "coordination",
      "messaging",
      "database",
    ]);
    expect(scenario.adapters.every((a) => a.behaviour.kind === "healthy")).toBe(true);
  });

  it("uses the given parameters for generated behaviours", () => {
    const scenario = parseScenario(
      "generate: { count: 2, behaviour_mix: { intermittent: 1 }, failure_probability: 0.5, endpoint: grpc }\n",
      "g.yaml",
    );
    expect(scenario.adapters[0]?.behaviour).toEqual({
      kind: "intermittent",
      failureProbability: 0.5,
    });
    expect(scenario.adapters[0]?.endpoint).toBe("grpc");
  });

  it("validates its keys", () => {
    const error = parseError(
      "generate:\n  count: 0\n  categories: [storage, gizmos]\n  behaviour_mix: { healthy: 0, sloww: 1 }\n",
    );
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "generate.count: must be at least 1",
      expect.stringMatching(/^generate\.categories\[1\]: must be one of storage, cache, /),
      expect.stringMatching(
        /^generate\.behaviour_mix\.sloww: unknown key \(did you mean "slow"\?\)/,
      ),
    ]);
    expect(parseError("generate:\n  count: 3\n  behaviour_mix: { down: 0 }\n").message).toBe(
      "test.yaml:3:3: generate.behaviour_mix: at least one weight must be greater than 0",
    );
  });

  it("rejects a generated id that clashes with an explicit one", () => {
    const error = parseError(
      "adapters:\n  - { provider: x, category: storage, id: mahavishnu.adapter.storage.s3-1 }\ngenerate: { count: 1 }\n",
    );
    expect(error.message).toBe(
      'test.yaml:3:1: generate: generated adapter id "mahavishnu.adapter.storage.s3-1" is already defined at adapters[0]',
    );
  });
});

describe("loadScenarioFile", () => {
  it("reads a file and names it in errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "scenario-"));
    try {
      const good = join(dir, "good.yaml");
      await writeFile(good, "adapters:\n  - { provider: s3, category: storage }\n");
      expect((await loadScenarioFile(good)).source).toBe(good);

      const bad = join(dir, "bad.yaml");
      await writeFile(bad, "adapters:\n  - { provider: s3 }\n");
      await expect(loadScenarioFile(bad)).rejects.toThrow(
        `${bad}:2:5: adapters[0].category: required`,
      );

      const missing = join(dir, "missing.yaml");
      await expect(loadScenarioFile(missing)).rejects.toThrow(
        new RegExp(
          `^${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read scenario file: ENOENT`,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("accepts the example scenarios", async () => {
    const examples = fileURLToPath(new URL("../../examples/scenarios/", import.meta.url));
    const demo = await loadScenarioFile(join(examples, "demo.yaml"));
    expect(demo.adapters.length).toBeGreaterThanOrEqual(12);
    const kinds = new Set(demo.adapters.map((a) => a.behaviour.kind));
    expect([...kinds].sort()).toEqual(["down", "flapping", "healthy", "intermittent", "slow"]);
    expect(demo.adapters.some((a) => a.outage?.recoversAtSec !== undefined)).toBe(true);
    expect(new Set(demo.adapters.map((a) => a.endpoint))).toEqual(
      new Set(["http", "grpc", "none"]),
    );

    const load = await loadScenarioFile(join(examples, "load.yaml"));
    const generated = load.adapters.filter((a) => a.metadata.generated === "true");
    expect(generated).toHaveLength(1000);
    const counts: Record<string, number> = {};
    for (const a of generated) counts[a.behaviour.kind] = (counts[a.behaviour.kind] ?? 0) + 1;
    // The counts its header comment promises.
    expect(counts).toEqual({ healthy: 800, slow: 100, down: 50, flapping: 30, intermittent: 20 });
  });
});

describe("formatPath", () => {
  it("writes indexes in brackets and keys with dots", () => {
    expect(formatPath(["adapters", 3, "slow_ms"])).toBe("adapters[3].slow_ms");
    expect(formatPath([])).toBe("");
    expect(formatPath(["generate", "behaviour_mix", "x"])).toBe("generate.behaviour_mix.x");
  });
});

describe("behaviourAt", () => {
  it("healthy: up, no delay, registry healthy", () => {
    expect(behaviourAt({ behaviour: { kind: "healthy" } }, 12_345, noRandom)).toEqual({
      up: true,
      delayMs: 0,
      registryStatus: "healthy",
    });
  });

  it("down: down, registry unhealthy", () => {
    expect(behaviourAt({ behaviour: { kind: "down" } }, 0, noRandom)).toEqual({
      up: false,
      delayMs: 0,
      registryStatus: "unhealthy",
    });
  });

  it("slow: up after slow_ms, registry degraded", () => {
    expect(behaviourAt({ behaviour: { kind: "slow", slowMs: 800 } }, 5_000, noRandom)).toEqual({
      up: true,
      delayMs: 800,
      registryStatus: "degraded",
    });
  });

  it("flapping: up for the first half of each period, down for the second", () => {
    const script: AdapterScript = { behaviour: { kind: "flapping", flapPeriodSec: 20 } };
    const at = (ms: number) => behaviourAt(script, ms, noRandom);
    expect(at(0)).toEqual({ up: true, delayMs: 0, registryStatus: "healthy" });
    expect(at(9_999).up).toBe(true);
    expect(at(10_000)).toEqual({ up: false, delayMs: 0, registryStatus: "unhealthy" });
    expect(at(19_999).up).toBe(false);
    expect(at(20_000).up).toBe(true);
    expect(at(35_000).up).toBe(false);
  });

  it("intermittent: fails when the draw is below the probability; registry stays healthy", () => {
    const script: AdapterScript = { behaviour: { kind: "intermittent", failureProbability: 0.3 } };
    expect(behaviourAt(script, 0, () => 0.29)).toEqual({
      up: false,
      delayMs: 0,
      registryStatus: "healthy",
    });
    expect(behaviourAt(script, 0, () => 0.3).up).toBe(true);
    expect(behaviourAt(script, 0, () => 0.99).up).toBe(true);
    const draws = [0.1, 0.9, 0.2, 0.8];
    const random = () => draws.shift() ?? 1;
    expect([0, 1, 2, 3].map(() => behaviourAt(script, 0, random).up)).toEqual([
      false,
      true,
      false,
      true,
    ]);
  });

  it("an outage overrides the behaviour between dies_at and recovers_at", () => {
    const script: AdapterScript = {
      behaviour: { kind: "slow", slowMs: 100 },
      outage: { diesAtSec: 40, recoversAtSec: 90 },
    };
    expect(behaviourAt(script, 39_999, noRandom)).toEqual({
      up: true,
      delayMs: 100,
      registryStatus: "degraded",
    });
    expect(behaviourAt(script, 40_000, noRandom)).toEqual({
      up: false,
      delayMs: 0,
      registryStatus: "unhealthy",
    });
    expect(behaviourAt(script, 89_999, noRandom).up).toBe(false);
    expect(behaviourAt(script, 90_000, noRandom)).toEqual({
      up: true,
      delayMs: 100,
      registryStatus: "degraded",
    });
  });

  it("an outage without recovery lasts forever, and does not draw for intermittent", () => {
    const script: AdapterScript = {
      behaviour: { kind: "intermittent", failureProbability: 0 },
      outage: { diesAtSec: 1 },
    };
    expect(behaviourAt(script, 10_000_000, noRandom).up).toBe(false);
  });

  it("a fixed registry status is reported whatever the live behaviour", () => {
    const script: AdapterScript = { behaviour: { kind: "down" }, registryStatus: "healthy" };
    expect(behaviourAt(script, 0, noRandom)).toEqual({
      up: false,
      delayMs: 0,
      registryStatus: "healthy",
    });
    expect(registryStatusAt(script, 0)).toBe("healthy");
  });

  it("treats time before the start as the start", () => {
    const script: AdapterScript = { behaviour: { kind: "flapping", flapPeriodSec: 10 } };
    expect(behaviourAt(script, -1, noRandom).up).toBe(true);
  });
});

describe("assertValidScript", () => {
  it("accepts valid scripts and rejects bad parameters", () => {
    expect(() => assertValidScript({ behaviour: { kind: "slow", slowMs: 5 } })).not.toThrow();
    expect(() => assertValidScript({ behaviour: { kind: "slow", slowMs: 0 } })).toThrow(/slowMs/);
    expect(() => assertValidScript({ behaviour: { kind: "flapping", flapPeriodSec: 0 } })).toThrow(
      /flapPeriodSec/,
    );
    expect(() =>
      assertValidScript({ behaviour: { kind: "intermittent", failureProbability: 2 } }),
    ).toThrow(/failureProbability/);
    expect(() =>
      assertValidScript({
        behaviour: { kind: "healthy" },
        outage: { diesAtSec: 5, recoversAtSec: 5 },
      }),
    ).toThrow(/recoversAtSec/);
  });
});
