/**
 * Scenario files for the registry simulator, and the pure time model that turns a
 * scenario into "is this adapter up right now, how slow, what does the registry say".
 *
 * Format (YAML; unknown keys are rejected everywhere):
 *
 * ```yaml
 * project: mahavishnu          # default project for adapters (default "mahavishnu")
 * adapters:
 *   - provider: s3             # required
 *     category: storage        # required
 *     domain: adapter          # default "adapter"
 *     project: mahavishnu      # default: top-level project
 *     id: mahavishnu.adapter.storage.s3   # default: project.domain.category.provider
 *     capabilities: [read, write]         # default []
 *     factory_path: mahavishnu.adapters.storage.s3:S3Adapter  # default: derived like this
 *     metadata: { region: us-east-1 }     # default {}; numbers and booleans become strings
 *     endpoint: http            # http | grpc | none: the health endpoint advertised in
 *                               # health_check_url (default http)
 *     behaviour: healthy        # healthy | down | slow | flapping | intermittent (default healthy)
 *     slow_ms: 800              # slow: latency added to every check (required for slow only)
 *     flap_period_sec: 20       # flapping: up for the first half of each period, down for the
 *                               # second (required for flapping only)
 *     failure_probability: 0.3  # intermittent: chance that each check fails (required for
 *                               # intermittent only)
 *     dies_at_sec: 40           # optional: from this elapsed time on the adapter is down...
 *     recovers_at_sec: 90       # optional: ...until this time, then follows `behaviour` again
 *     registry_status: healthy  # optional: healthy | unhealthy | degraded | unknown, what the
 *                               # registry itself reports (health_status, HealthCheck RPC);
 *                               # default: follows the live behaviour
 * generate:                     # optional: synthetic adapters for load tests
 *   count: 1000                 # required, 1..100000
 *   project: loadtest           # default: top-level project
 *   domain: adapter             # default "adapter"
 *   categories: [storage, cache, orchestration]  # default: every built-in category
 *   endpoint: http              # default http
 *   behaviour_mix: { healthy: 0.8, slow: 0.1, down: 0.05, flapping: 0.05 }  # weights, default
 *                               # { healthy: 1 }; assigned by index, interleaved, no randomness
 *   slow_ms: 800                # parameters for the generated slow/flapping/intermittent ones
 *   flap_period_sec: 30
 *   failure_probability: 0.3
 * ```
 *
 * Time is the elapsed time since the simulator started. The registry's own view
 * (`registry_status` unset) is: healthy when up, unhealthy when down, degraded when slow,
 * and healthy for intermittent adapters, because a registry sees them heartbeat normally;
 * only individual checks against their endpoint fail.
 */
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { closestName } from "../text/closest-name.js";
import { ScenarioError, type ScenarioIssue } from "./scenario-error.js";

export const BEHAVIOUR_KINDS = ["healthy", "down", "slow", "flapping", "intermittent"] as const;
export type BehaviourKind = (typeof BEHAVIOUR_KINDS)[number];

export const ENDPOINT_KINDS = ["http", "grpc", "none"] as const;
/** Which health endpoint an adapter advertises in `health_check_url`. */
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

export const REGISTRY_STATUSES = ["healthy", "unhealthy", "degraded", "unknown"] as const;
export type RegistryStatus = (typeof REGISTRY_STATUSES)[number];

/** How an adapter behaves when no outage applies; each kind carries only its own parameter. */
export type Behaviour =
  | { kind: "healthy" }
  | { kind: "down" }
  | { kind: "slow"; slowMs: number }
  | { kind: "flapping"; flapPeriodSec: number }
  | { kind: "intermittent"; failureProbability: number };

/** A scheduled outage: down from `diesAtSec` until `recoversAtSec` (forever when absent). */
export interface Outage {
  diesAtSec: number;
  recoversAtSec?: number;
}

/** Everything the time model needs to know about one adapter. */
export interface AdapterScript {
  behaviour: Behaviour;
  outage?: Outage;
  /** Fixed registry view; when absent the registry follows the live behaviour. */
  registryStatus?: RegistryStatus;
}

export interface ScenarioAdapter extends AdapterScript {
  id: string;
  project: string;
  domain: string;
  category: string;
  provider: string;
  capabilities: string[];
  factoryPath: string;
  metadata: Record<string, string>;
  endpoint: EndpointKind;
}

/** A validated scenario, with `generate` already expanded into `adapters`. */
export interface Scenario {
  /** The file name (or other label) the scenario was read from, for messages. */
  source: string;
  project: string;
  adapters: ScenarioAdapter[];
}

/** What one check of an adapter observes at a moment in time. */
export interface BehaviourSample {
  up: boolean;
  delayMs: number;
  registryStatus: RegistryStatus;
}

/** Providers and capabilities used for generated adapters, per category. */
const BUILTIN_CATEGORIES: Readonly<
  Record<string, { providers: readonly string[]; capabilities: readonly string[] }>
> = {
  storage: {
    providers: ["s3", "gcs", "azure-blob", "file", "sqlite", "minio"],
    capabilities: ["read", "write", "delete", "list"],
  },
  cache: {
    providers: ["redis", "memcached", "valkey", "memory"],
    capabilities: ["get", "set", "delete", "expire"],
  },
  orchestration: {
    providers: ["prefect", "airflow", "dagster", "temporal", "celery"],
    capabilities: ["schedule", "run", "cancel"],
  },
  memory: {
    providers: ["chroma", "qdrant", "pgvector", "weaviate"],
    capabilities: ["store", "search"],
  },
  coordination: {
    providers: ["etcd", "consul", "zookeeper", "redis-lock"],
    capabilities: ["lock", "elect", "watch"],
  },
  messaging: {
    providers: ["nats", "kafka", "rabbitmq", "redis-streams"],
    capabilities: ["publish", "subscribe"],
  },
  database: {
    providers: ["postgres", "mysql", "mongodb", "duckdb"],
    capabilities: ["query", "execute", "transaction"],
  },
};
const BUILTIN_CATEGORY_NAMES = Object.keys(BUILTIN_CATEGORIES);

const DEFAULT_PROJECT = "mahavishnu";
const DEFAULT_DOMAIN = "adapter";
// Generated adapters need parameters for the behaviours that take one; these are
// what a demo or load test usually wants without further thought.
const GENERATED_SLOW_MS = 800;
const GENERATED_FLAP_PERIOD_SEC = 30;
const GENERATED_FAILURE_PROBABILITY = 0.3;
const MAX_GENERATED = 100_000;
// setTimeout cannot wait longer than 2^31-1 ms; an hour is already far beyond any probe deadline.
const MAX_SLOW_MS = 3_600_000;

// ---------------------------------------------------------------------------------------------
// Schema (snake_case, as written in the file). Cross-field rules live in `finish` below,
// because zod skips refinements of an object once one of its fields failed, which would make
// some problems appear only after others were fixed.

function required(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? "required" : `must be ${what}`;
}

const name = z
  .string({ error: required("a string") })
  .min(1, "must not be empty")
  .regex(/^\S+$/, "must not contain whitespace");

const scalarText = z
  .union([z.string(), z.number(), z.boolean()], {
    error: "must be a string, number or boolean",
  })
  .transform((value) => String(value));

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(", ")}` });
}

const slowMs = z
  .number({ error: required("a number") })
  .int("must be a whole number of milliseconds")
  .min(1, "must be at least 1")
  .max(MAX_SLOW_MS, `must be at most ${MAX_SLOW_MS}`);
const flapPeriodSec = z.number({ error: required("a number") }).positive("must be greater than 0");
const failureProbability = z
  .number({ error: required("a number") })
  .min(0, "must be between 0 and 1")
  .max(1, "must be between 0 and 1");
const seconds = z.number({ error: required("a number") }).min(0, "must not be negative");

const adapterSchema = z.strictObject({
  id: name.optional(),
  provider: name,
  category: name,
  domain: name.optional(),
  project: name.optional(),
  capabilities: z.array(name, { error: "must be a list of strings" }).optional(),
  factory_path: name.optional(),
  metadata: z.record(z.string(), scalarText, { error: "must be a mapping" }).optional(),
  endpoint: oneOf(ENDPOINT_KINDS).optional(),
  behaviour: oneOf(BEHAVIOUR_KINDS).optional(),
  slow_ms: slowMs.optional(),
  flap_period_sec: flapPeriodSec.optional(),
  failure_probability: failureProbability.optional(),
  dies_at_sec: seconds.optional(),
  recovers_at_sec: seconds.optional(),
  registry_status: oneOf(REGISTRY_STATUSES).optional(),
});
type AdapterInput = z.infer<typeof adapterSchema>;

const weight = z.number({ error: "must be a number" }).min(0, "must not be negative");
const behaviourMixSchema = z.strictObject(
  {
    healthy: weight.optional(),
    down: weight.optional(),
    slow: weight.optional(),
    flapping: weight.optional(),
    intermittent: weight.optional(),
  },
  { error: "must be a mapping of behaviour to weight" },
);

const generateSchema = z.strictObject(
  {
    count: z
      .number({ error: required("a number") })
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(MAX_GENERATED, `must be at most ${MAX_GENERATED}`),
    project: name.optional(),
    domain: name.optional(),
    categories: z
      .array(oneOf(BUILTIN_CATEGORY_NAMES as [string, ...string[]]), {
        error: "must be a list of categories",
      })
      .min(1, "must not be empty")
      .optional(),
    endpoint: oneOf(ENDPOINT_KINDS).optional(),
    behaviour_mix: behaviourMixSchema.optional(),
    slow_ms: slowMs.optional(),
    flap_period_sec: flapPeriodSec.optional(),
    failure_probability: failureProbability.optional(),
  },
  { error: "must be a mapping" },
);
type GenerateInput = z.infer<typeof generateSchema>;

const scenarioSchema = z.strictObject(
  {
    project: name.optional(),
    adapters: z.array(adapterSchema, { error: "must be a list of adapters" }).optional(),
    generate: generateSchema.optional(),
  },
  { error: "must be a mapping with adapters and/or generate" },
);
type ScenarioInput = z.infer<typeof scenarioSchema>;

/** The keys each kind of mapping accepts, to suggest a fix for a misspelt key. */
function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return Object.keys(scenarioSchema.shape);
  if (path.length === 2 && path[0] === "adapters") return Object.keys(adapterSchema.shape);
  if (path.length === 1 && path[0] === "generate") return Object.keys(generateSchema.shape);
  if (path.length === 2 && path[1] === "behaviour_mix") return BEHAVIOUR_KINDS;
  return [];
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Reads and validates a scenario file; every problem is reported as a `ScenarioError`. */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ScenarioError(path, [{ path: "", message: `cannot read scenario file: ${reason}` }]);
  }
  return parseScenario(text, path);
}

/** Parses and validates scenario YAML; `sourceName` labels every error message. */
export function parseScenario(text: string, sourceName: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      sourceName,
      doc.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return { path: "", line: pos.line, column: pos.col, message: firstLine(error.message) };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new ScenarioError(sourceName, [{ path: "", message: "the scenario is empty" }]);
  }

  const locate = (path: readonly PropertyKey[]) => locateIn(doc.contents, lineCounter, path);
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) {
    const issues: ScenarioIssue[] = [];
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        // One issue per key, located at the key itself, so each misspelling gets its own line.
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          issues.push({
            path: formatPath(path),
            ...locate(path),
            message: unknownKeyMessage(key, knownKeysAt(issue.path)),
          });
        }
      } else {
        issues.push({
          path: formatPath(issue.path),
          ...locate(issue.path),
          message: issue.message,
        });
      }
    }
    throw new ScenarioError(sourceName, issues);
  }

  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const scenario = finish(result.data, sourceName, problems);
  if (problems.length > 0) {
    throw new ScenarioError(
      sourceName,
      problems.map((p) => ({ path: formatPath(p.path), ...locate(p.path), message: p.message })),
    );
  }
  return scenario;
}

function firstLine(message: string): string {
  return message.split("\n", 1)[0] ?? message;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestName(key, known);
  const hint = suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
  const expected = known.length > 0 ? `; expected one of ${known.join(", ")}` : "";
  return `unknown key${hint}${expected}`;
}

/** `["adapters", 3, "slow_ms"]` → `adapters[3].slow_ms`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * The line and column of the deepest node along `path` that exists in the document: the key
 * itself for a mapping entry, so a missing key points at the mapping that lacks it.
 */
function locateIn(
  root: unknown,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): { line?: number; column?: number } {
  let node: unknown = root;
  let offset = rangeStart(root);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) =>
        isScalar(item.key) ? item.key.value === segment : item.key === segment,
      );
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  if (offset === undefined) return {};
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function rangeStart(node: unknown): number | undefined {
  if (typeof node !== "object" || node === null || !("range" in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0];
}

// ---------------------------------------------------------------------------------------------
// From validated input to the expanded scenario

type Problems = Array<{ path: PropertyKey[]; message: string }>;

function finish(input: ScenarioInput, source: string, problems: Problems): Scenario {
  const project = input.project ?? DEFAULT_PROJECT;
  const adapters: ScenarioAdapter[] = [];
  const firstPathById = new Map<string, string>();

  (input.adapters ?? []).forEach((raw, index) => {
    const adapter = toAdapter(raw, project, ["adapters", index], problems);
    if (adapter === undefined) return;
    const earlier = firstPathById.get(adapter.id);
    if (earlier !== undefined) {
      problems.push({
        path: ["adapters", index, "id"],
        message: `duplicate adapter id "${adapter.id}" (first defined at ${earlier})`,
      });
      return;
    }
    firstPathById.set(adapter.id, formatPath(["adapters", index]));
    adapters.push(adapter);
  });

  if (input.generate !== undefined) {
    for (const adapter of generateAdapters(input.generate, project, problems)) {
      const earlier = firstPathById.get(adapter.id);
      if (earlier !== undefined) {
        problems.push({
          path: ["generate"],
          message: `generated adapter id "${adapter.id}" is already defined at ${earlier}`,
        });
        // One clash usually means many; a single line says enough.
        break;
      }
      firstPathById.set(adapter.id, "generate");
      adapters.push(adapter);
    }
  }

  if (adapters.length === 0 && problems.length === 0) {
    problems.push({
      path: [],
      message: "the scenario defines no adapters (add adapters or generate)",
    });
  }
  return { source, project, adapters };
}

const PARAMETER_OF: Readonly<Record<BehaviourKind, keyof AdapterInput | undefined>> = {
  healthy: undefined,
  down: undefined,
  slow: "slow_ms",
  flapping: "flap_period_sec",
  intermittent: "failure_probability",
};

function toAdapter(
  raw: AdapterInput,
  defaultProject: string,
  at: PropertyKey[],
  problems: Problems,
): ScenarioAdapter | undefined {
  const before = problems.length;
  const kind = raw.behaviour ?? "healthy";

  // A parameter of another behaviour is most likely a forgotten `behaviour:` line, so it is
  // an error rather than silently ignored.
  for (const [otherKind, parameter] of Object.entries(PARAMETER_OF)) {
    if (parameter === undefined || raw[parameter] === undefined || otherKind === kind) continue;
    problems.push({
      path: [...at, parameter],
      message: `only applies when behaviour is "${otherKind}" (behaviour is "${kind}")`,
    });
  }
  const parameter = PARAMETER_OF[kind];
  if (parameter !== undefined && raw[parameter] === undefined) {
    problems.push({ path: [...at, parameter], message: `required when behaviour is "${kind}"` });
  }

  if (raw.recovers_at_sec !== undefined) {
    if (raw.dies_at_sec === undefined) {
      problems.push({ path: [...at, "recovers_at_sec"], message: "requires dies_at_sec" });
    } else if (raw.recovers_at_sec <= raw.dies_at_sec) {
      problems.push({
        path: [...at, "recovers_at_sec"],
        message: `must be greater than dies_at_sec (${raw.dies_at_sec})`,
      });
    }
  }
  if (problems.length > before) return undefined;

  const behaviour = makeBehaviour(kind, raw);
  const project = raw.project ?? defaultProject;
  const domain = raw.domain ?? DEFAULT_DOMAIN;
  const adapter: ScenarioAdapter = {
    id: raw.id ?? `${project}.${domain}.${raw.category}.${raw.provider}`,
    project,
    domain,
    category: raw.category,
    provider: raw.provider,
    capabilities: raw.capabilities ?? [],
    factoryPath: raw.factory_path ?? defaultFactoryPath(project, raw.category, raw.provider),
    metadata: raw.metadata ?? {},
    endpoint: raw.endpoint ?? "http",
    behaviour,
  };
  if (raw.dies_at_sec !== undefined) {
    adapter.outage =
      raw.recovers_at_sec === undefined
        ? { diesAtSec: raw.dies_at_sec }
        : { diesAtSec: raw.dies_at_sec, recoversAtSec: raw.recovers_at_sec };
  }
  if (raw.registry_status !== undefined) adapter.registryStatus = raw.registry_status;
  return adapter;
}

function makeBehaviour(
  kind: BehaviourKind,
  params: { slow_ms?: number; flap_period_sec?: number; failure_probability?: number },
): Behaviour {
  switch (kind) {
    case "healthy":
    case "down":
      return { kind };
    case "slow":
      return { kind, slowMs: params.slow_ms ?? GENERATED_SLOW_MS };
    case "flapping":
      return { kind, flapPeriodSec: params.flap_period_sec ?? GENERATED_FLAP_PERIOD_SEC };
    case "intermittent":
      return {
        kind,
        failureProbability: params.failure_probability ?? GENERATED_FAILURE_PROBABILITY,
      };
  }
}

/** `mahavishnu`, `storage`, `azure-blob` → `mahavishnu.adapters.storage.azure_blob:AzureBlobAdapter`. */
function defaultFactoryPath(project: string, category: string, provider: string): string {
  const moduleName = provider.replace(/[^A-Za-z0-9_]/g, "_");
  const className = provider
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== "")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
  return `${project}.adapters.${category}.${moduleName}:${className}Adapter`;
}

function generateAdapters(
  input: GenerateInput,
  defaultProject: string,
  problems: Problems,
): ScenarioAdapter[] {
  const mix = BEHAVIOUR_KINDS.map((kind) => [kind, input.behaviour_mix?.[kind] ?? 0] as const);
  const weighted = input.behaviour_mix === undefined ? [["healthy", 1] as const] : mix;
  if (weighted.every(([, w]) => w === 0)) {
    problems.push({
      path: ["generate", "behaviour_mix"],
      message: "at least one weight must be greater than 0",
    });
    return [];
  }

  const project = input.project ?? defaultProject;
  const domain = input.domain ?? DEFAULT_DOMAIN;
  const categories = input.categories ?? BUILTIN_CATEGORY_NAMES;
  const kinds = interleaveByWeight(weighted, input.count);
  const width = String(input.count).length;

  return kinds.map((kind, index) => {
    const category = categories[index % categories.length] ?? "storage";
    const builtin = BUILTIN_CATEGORIES[category] ?? { providers: ["generic"], capabilities: [] };
    const round = Math.floor(index / categories.length);
    const provider = builtin.providers[round % builtin.providers.length] ?? "generic";
    const number = String(index + 1).padStart(width, "0");
    // The instance number keeps ids unique while `provider` repeats, which gives the daemon
    // several candidates per provider to rank and fail over between.
    return {
      id: `${project}.${domain}.${category}.${provider}-${number}`,
      project,
      domain,
      category,
      provider,
      capabilities: [...builtin.capabilities],
      factoryPath: defaultFactoryPath(project, category, provider),
      metadata: { generated: "true", index: String(index + 1) },
      endpoint: input.endpoint ?? "http",
      behaviour: makeBehaviour(kind, input),
    };
  });
}

/**
 * Smooth weighted round-robin (as nginx balances upstreams): deterministic, spreads each kind
 * evenly through the sequence instead of in blocks, and after n picks every kind's count is
 * within one of its share of n.
 */
function interleaveByWeight<K>(weights: ReadonlyArray<readonly [K, number]>, count: number): K[] {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  const current = weights.map(() => 0);
  const out: K[] = [];
  for (let n = 0; n < count; n++) {
    let best = 0;
    weights.forEach(([, w], i) => {
      current[i] = (current[i] ?? 0) + w;
      if ((current[i] ?? 0) > (current[best] ?? 0)) best = i;
    });
    current[best] = (current[best] ?? 0) - total;
    const picked = weights[best];
    if (picked !== undefined) out.push(picked[0]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The time model

function inOutage(outage: Outage | undefined, elapsedMs: number): boolean {
  if (outage === undefined || elapsedMs < outage.diesAtSec * 1000) return false;
  return outage.recoversAtSec === undefined || elapsedMs < outage.recoversAtSec * 1000;
}

function flappingUp(flapPeriodSec: number, elapsedMs: number): boolean {
  const periodMs = flapPeriodSec * 1000;
  return elapsedMs % periodMs < periodMs / 2;
}

/** What the registry reports for the adapter at `elapsedMs`; never draws randomness. */
export function registryStatusAt(script: AdapterScript, elapsedMs: number): RegistryStatus {
  if (script.registryStatus !== undefined) return script.registryStatus;
  const elapsed = Math.max(0, elapsedMs);
  if (inOutage(script.outage, elapsed)) return "unhealthy";
  const behaviour = script.behaviour;
  switch (behaviour.kind) {
    case "healthy":
    case "intermittent":
      return "healthy";
    case "down":
      return "unhealthy";
    case "slow":
      return "degraded";
    case "flapping":
      return flappingUp(behaviour.flapPeriodSec, elapsed) ? "healthy" : "unhealthy";
  }
}

/**
 * One check of the adapter at `elapsedMs` since the simulator started. `random` (values in
 * [0, 1)) is called once for an intermittent adapter outside an outage, and never otherwise,
 * so callers can replay exact sequences.
 */
export function behaviourAt(
  adapter: AdapterScript,
  elapsedMs: number,
  random: () => number,
): BehaviourSample {
  const elapsed = Math.max(0, elapsedMs);
  const registryStatus = registryStatusAt(adapter, elapsed);
  if (inOutage(adapter.outage, elapsed)) return { up: false, delayMs: 0, registryStatus };
  const behaviour = adapter.behaviour;
  switch (behaviour.kind) {
    case "healthy":
      return { up: true, delayMs: 0, registryStatus };
    case "down":
      return { up: false, delayMs: 0, registryStatus };
    case "slow":
      return { up: true, delayMs: behaviour.slowMs, registryStatus };
    case "flapping":
      return { up: flappingUp(behaviour.flapPeriodSec, elapsed), delayMs: 0, registryStatus };
    case "intermittent":
      return { up: random() >= behaviour.failureProbability, delayMs: 0, registryStatus };
  }
}

/**
 * Checks a script built in code (e.g. a live override in a test); scenario files are checked
 * by the schema. Throws a RangeError naming the bad field.
 */
export function assertValidScript(script: AdapterScript): void {
  const b = script.behaviour;
  if (
    b.kind === "slow" &&
    !(Number.isInteger(b.slowMs) && b.slowMs >= 1 && b.slowMs <= MAX_SLOW_MS)
  ) {
    throw new RangeError(`slowMs must be a whole number from 1 to ${MAX_SLOW_MS}, got ${b.slowMs}`);
  }
  if (b.kind === "flapping" && !(b.flapPeriodSec > 0)) {
    throw new RangeError(`flapPeriodSec must be greater than 0, got ${b.flapPeriodSec}`);
  }
  if (b.kind === "intermittent" && !(b.failureProbability >= 0 && b.failureProbability <= 1)) {
    throw new RangeError(`failureProbability must be between 0 and 1, got ${b.failureProbability}`);
  }
  const outage = script.outage;
  if (outage !== undefined) {
    if (!(outage.diesAtSec >= 0)) {
      throw new RangeError(`outage.diesAtSec must not be negative, got ${outage.diesAtSec}`);
    }
    if (outage.recoversAtSec !== undefined && !(outage.recoversAtSec > outage.diesAtSec)) {
      throw new RangeError(
        `outage.recoversAtSec must be greater than diesAtSec (${outage.diesAtSec}), got ${outage.recoversAtSec}`,
      );
    }
  }
}
