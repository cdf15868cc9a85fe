import { describe, expect, it } from "vitest";
import { appliedConfig, diffConfigs, KEY_RULES, ruleFor } from "./config-diff.js";
import { defaultConfig, parseConfigText } from "./load.js";
import { configFileSchema } from "./schema.js";

const parse = (text: string, overrides = {}) => parseConfigText(text, "test.yaml", {}, overrides);

/** Every optional section present, so that the paths only they have are covered too. */
const FULL_CLUSTER = `healthd:
  cluster:
    name: prod
    instance: healthd-a
    mode: static
    shard: "0/3"
    nats:
      servers: ["nats://127.0.0.1:4222"]
      tls: { ca_path: /etc/nats/ca.crt, cert_path: /etc/nats/client.crt, key_path: /etc/nats/client.key }
      credentials: /etc/nats/healthd.creds`;

/** Leaf paths of the defaults and of a config with every optional section. */
const resolvedPaths = () => [
  ...new Set([...leafPaths(defaultConfig()), ...leafPaths(parse(FULL_CLUSTER))]),
];

/** Leaf paths of a resolved config; arrays are leaves, as the diff treats them. */
function leafPaths(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) =>
    leafPaths(child, prefix === "" ? key : `${prefix}.${key}`),
  );
}

/** Every leaf key of the file schema, looking through defaults and optionals. */
function schemaKeys(schema: unknown, prefix = ""): string[] {
  const candidate = schema as { shape?: Record<string, unknown>; def?: { innerType?: unknown } };
  if (candidate.shape) {
    return Object.entries(candidate.shape).flatMap(([key, child]) =>
      schemaKeys(child, prefix === "" ? key : `${prefix}.${key}`),
    );
  }
  if (candidate.def?.innerType) return schemaKeys(candidate.def.innerType, prefix);
  return [prefix];
}

describe("diffConfigs", () => {
  it("finds nothing between equal configs", () => {
    expect(diffConfigs(defaultConfig(), defaultConfig())).toEqual({
      applied: [],
      needsRestart: [],
    });
  });

  it("ignores where the config came from", () => {
    const before = parse("healthd: { probes: { interval_sec: 5 } }");
    const after = { ...before, source: "elsewhere.yaml" };
    expect(diffConfigs(before, after)).toEqual({ applied: [], needsRestart: [] });
  });

  it("splits changed keys into applied and needing a restart", () => {
    const before = parse("healthd: { probes: { interval_sec: 5 } }");
    const after = parse(
      `healthd:
  probes: { interval_sec: 9 }
  resolution: { panic: true }
  http: { listen: "0.0.0.0:8681" }
  storage: { synchronous: full }`,
    );
    const changes = diffConfigs(before, after);
    expect(changes.needsRestart).toEqual(["healthd.http.listen", "healthd.storage.synchronous"]);
    // Defaults derived from interval_sec change with it and are listed: they are what now applies.
    expect(changes.applied).toEqual(
      expect.arrayContaining([
        "healthd.probes.interval_sec",
        "healthd.probes.edge_interval_sec",
        "healthd.probes.open_interval_sec",
        "healthd.resolution.panic",
      ]),
    );
    // In the order of the reference, whatever order the resolved config holds them in.
    expect(changes.applied[0]).toBe("healthd.probes.interval_sec");
    expect(changes.applied.at(-1)).toBe("healthd.resolution.panic");
    expect(
      changes.applied.every(
        (key) => key.startsWith("healthd.probes.") || key === "healthd.resolution.panic",
      ),
    ).toBe(true);
  });

  it("does not list a derived default the file sets explicitly", () => {
    const before = parse(
      "healthd: { probes: { interval_sec: 5, edge_interval_sec: 1, open_interval_sec: 60, stale_after_sec: 30, watched_interval_sec: 90 } }",
    );
    const after = parse(
      "healthd: { probes: { interval_sec: 6, edge_interval_sec: 1, open_interval_sec: 60, stale_after_sec: 30, watched_interval_sec: 90 } }",
    );
    expect(diffConfigs(before, after).applied).toEqual(["healthd.probes.interval_sec"]);
  });

  it("names a list once, whatever changed inside it", () => {
    const before = parse(
      "healthd: { overrides: [ { match: { category: cache }, priority: 1 } ], webhooks: [] }",
    );
    const after = parse(`healthd:
  overrides: [ { match: { category: cache }, priority: 2 }, { match: { provider: s3 }, probes: { fall: 1 } } ]
  webhooks: [ { name: pager, url: "http://127.0.0.1:1/hook", secret: "0123456789abcdef" } ]`);
    expect(diffConfigs(before, after)).toEqual({
      applied: ["healthd.overrides"],
      needsRestart: ["healthd.webhooks"],
    });
  });

  it("does not report a file change that a command-line flag overrides", () => {
    const overrides = { httpListen: "127.0.0.1:0", dbPath: "/tmp/x.db" };
    const before = parse("healthd: { http: { listen: '127.0.0.1:1' } }", overrides);
    const after = parse(
      "healthd: { http: { listen: '127.0.0.1:2' }, storage: { path: other.db } }",
      overrides,
    );
    expect(diffConfigs(before, after)).toEqual({ applied: [], needsRestart: [] });
  });

  it("counts the registry connection, secrets included, as needing a restart", () => {
    const before = parse("oneiric_mcp: { jwt_enabled: true, jwt_secret: one }");
    const after = parse(
      "oneiric_mcp: { jwt_enabled: true, jwt_secret: two, grpc_port: 8680, use_tls: true }",
    );
    expect(diffConfigs(before, after)).toEqual({
      applied: [],
      needsRestart: ["oneiric_mcp.grpc_port", "oneiric_mcp.use_tls", "oneiric_mcp.jwt_secret"],
    });
  });

  it("lists the adapter breaker default that follows circuit_breaker_threshold", () => {
    const before = parse("oneiric_mcp: { circuit_breaker_threshold: 3 }");
    const after = parse("oneiric_mcp: { circuit_breaker_threshold: 5 }");
    expect(diffConfigs(before, after).applied).toEqual([
      "oneiric_mcp.circuit_breaker_threshold",
      "healthd.breaker.threshold",
    ]);
  });

  it("has a rule for every setting of a resolved config", () => {
    // A new DaemonConfig field fails here until it is classified as live or restart-only.
    const unclassified = resolvedPaths()
      .filter((path) => path !== "source")
      .filter((path) => ruleFor(path) === undefined);
    expect(unclassified).toEqual([]);
  });

  it("names the keys of the config file schema, each key or its section", () => {
    const named = [...new Set(Object.values(KEY_RULES).map((rule) => rule.key))];
    const keys = schemaKeys(configFileSchema);
    const covers = (name: string, key: string) => key === name || key.startsWith(`${name}.`);
    expect(keys.filter((key) => !named.some((name) => covers(name, key)))).toEqual([]);
    expect(named.filter((name) => !keys.some((key) => covers(name, key)))).toEqual([]);
  });

  it("has no rule for a path the resolved config does not have", () => {
    const paths = resolvedPaths();
    const stray = Object.keys(KEY_RULES).filter(
      (rulePath) => !paths.some((path) => path === rulePath || path.startsWith(`${rulePath}.`)),
    );
    expect(stray).toEqual([]);
  });
});

describe("appliedConfig", () => {
  it("takes live settings from the new config and keeps restart-only ones", () => {
    const running = parse(
      "healthd: { probes: { interval_sec: 5 }, grpc: { listen: '127.0.0.1:1' } }",
    );
    const next = parse(
      "healthd: { probes: { interval_sec: 9 }, grpc: { listen: '127.0.0.1:2' }, log: { level: debug } }",
    );
    const applied = appliedConfig(running, next);
    expect(applied.adapters.defaults.probes.intervalMs).toBe(9_000);
    expect(applied.log.level).toBe("debug");
    expect(applied.grpc.listen).toEqual({ host: "127.0.0.1", port: 1 });
    expect(applied.source).toBe(next.source);
    // So the next reload of the same file still says a restart is needed, and nothing else.
    expect(diffConfigs(applied, next)).toEqual({
      applied: [],
      needsRestart: ["healthd.grpc.listen"],
    });
  });

  it("is the new config when everything changed applies live", () => {
    const running = parse("healthd: { resolution: { panic: false } }");
    const next = parse("healthd: { resolution: { panic: true } }");
    expect(appliedConfig(running, next)).toEqual(next);
  });
});
