/**
 * The tools' zod schemas: what the SDK checks before a tool runs, what clients
 * see as JSON Schema, and what the tools promise to answer.
 *
 * The SDK checks arguments against the input schemas before a tool runs, and a
 * failure there is its own raw text ("expected boolean, received string at
 * healthy_only") with no error code. So the input schemas let every value
 * through while advertising, in the JSON Schema clients see, the constraints
 * of the daemon's own schemas (query-service.ts: types, lengths, the status
 * enum, required keys, no extra keys). The values are then validated by the
 * backend (or by a tool, with the `*Parameters` schemas here) with those same
 * rules, so a bad value gets the same code, parameter name and message as over
 * HTTP (`INVALID_PARAMETER: healthy_only must be true or false; got "yes"`).
 */
import { z } from "zod";
import { HEALTH_STATUSES } from "../../domain/adapter.js";
import { UPTIME_WINDOW_NAMES, uptimeWindowSchema } from "../history-queries.js";
import { adapterIdSchema, listFilterSchema, requirementSchema } from "../query-service.js";

// --- Input schemas -----------------------------------------------------------

/** An argument the SDK lets through as it is, advertising `real`'s JSON Schema constraints. */
function argument(real: z.ZodType, description: string) {
  const json = z.toJSONSchema(real, { io: "input" }) as Record<string, unknown>;
  const constraints = Object.fromEntries(Object.entries(json).filter(([key]) => key !== "$schema"));
  return z
    .any()
    .optional()
    .meta({ ...constraints, description });
}

/**
 * Passes every key through to the backend (which answers UNKNOWN_PARAMETER for
 * one it does not take) while advertising none allowed and `required` ones.
 */
function argumentsOf<T extends z.ZodRawShape>(shape: T, required: (keyof T & string)[] = []) {
  return z
    .looseObject(shape)
    .meta({ additionalProperties: false, ...(required.length > 0 ? { required } : {}) });
}

const field = (key: keyof typeof requirementSchema.shape) => requirementSchema.shape[key];
const statusSchema = listFilterSchema.shape.status.unwrap();

export const adapterIdArguments = argumentsOf(
  {
    adapter_id: argument(adapterIdSchema, "The adapter's id, e.g. mahavishnu.adapter.storage.s3"),
  },
  ["adapter_id"],
);
export const noArguments = argumentsOf({});

const listFilterArguments = {
  project: argument(field("project"), "Only adapters of this project"),
  domain: argument(field("domain"), 'Only adapters of this domain, e.g. "adapter"'),
  category: argument(field("category"), 'Only this category, e.g. "storage", "cache"'),
  provider: argument(field("provider"), 'Only this provider, e.g. "s3", "redis"'),
  status: argument(statusSchema, "Only adapters with this status"),
  healthy_only: argument(z.boolean(), "Only adapters that are healthy and usable by resolution"),
};

export const listArguments = argumentsOf(listFilterArguments);

export const uptimeArguments = argumentsOf({
  window: argument(
    uptimeWindowSchema.shape.window,
    "The window, ending now: 1h, 24h, 7d, 30d or 90d (default 24h)",
  ),
  ...listFilterArguments,
});

export const resolveArguments = argumentsOf(
  {
    domain: argument(field("domain"), 'The domain, e.g. "adapter"'),
    category: argument(field("category"), 'The category, e.g. "storage", "orchestration"'),
    provider: argument(field("provider"), 'A provider, e.g. "s3"; any when omitted'),
    project: argument(field("project"), "A project; any when omitted"),
    panic: argument(
      z.boolean(),
      "When nothing is usable, answer the least-bad candidate (marked panic) instead of none",
    ),
  },
  ["domain", "category"],
);

/**
 * The strict rules of arguments a backend never sees whole (getAdapter takes
 * the id alone, healthCheck nothing): the tool itself rejects unknown keys.
 */
export const adapterIdParameters = z.strictObject({ adapter_id: adapterIdSchema });
export const noParameters = z.strictObject({});

// --- Output schemas (loose: fields may be added without breaking clients) -----

const healthStatus = z.enum(HEALTH_STATUSES);
const statusViewSchema = z.looseObject({
  adapter_id: z.string(),
  project: z.string(),
  domain: z.string(),
  category: z.string(),
  provider: z.string(),
  status: healthStatus,
  since: z.string(),
  last_checked: z.string().nullable(),
  latency_ms: z.number().nullable(),
  source: z.string(),
  stale: z.boolean(),
  age_ms: z.number().nullable().optional(),
  owner: z.string().optional(),
  reason: z.string(),
  registry_status: healthStatus,
  registry_disagrees: z.boolean(),
  flapping: z.boolean(),
  breaker: z.string(),
  maintenance: z.looseObject({ until: z.string().nullable(), reason: z.string() }).nullable(),
  usable: z.boolean(),
  health_check_url: z.string(),
});
const registryViewSchema = z.looseObject({
  endpoint: z.string(),
  reachable: z.boolean(),
  last_sync: z.string().nullable(),
  last_error: z.string().nullable(),
});
export const listOutput = z.looseObject({
  count: z.number().int(),
  adapters: z.array(statusViewSchema),
  registry: registryViewSchema.nullable(),
});
export const detailOutput = statusViewSchema.extend({
  capabilities: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  factory_path: z.string(),
  last_heartbeat: z.string().nullable(),
  consecutive_successes: z.number(),
  consecutive_failures: z.number(),
  recent_checks: z.array(
    z.looseObject({
      at: z.string(),
      ok: z.boolean(),
      latency_ms: z.number(),
      detail: z.string(),
      source: z.string(),
    }),
  ),
});
export const checkHealthOutput = z.looseObject({
  adapter_id: z.string(),
  daemon: statusViewSchema.nullable(),
  registry: z
    .looseObject({
      healthy: z.boolean(),
      status: z.string(),
      message: z.string(),
      source: z.string(),
      age_ms: z.number(),
      stale: z.boolean(),
    })
    .nullable(),
  registry_error: z.string().nullable(),
});
const candidateSchema = z.looseObject({
  adapter_id: z.string(),
  provider: z.string(),
  status: healthStatus,
  breaker: z.string(),
  flapping: z.boolean(),
  maintenance: z.boolean(),
  priority: z.number(),
  latency_ms: z.number().nullable(),
  excluded_because: z.string().nullable(),
});
export const resolveOutput = z.looseObject({
  adapter_id: z.string().nullable().describe("The chosen adapter's id, or null when none"),
  requirement: z.looseObject({
    domain: z.string(),
    category: z.string(),
    provider: z.string().optional(),
    project: z.string().optional(),
  }),
  choice: candidateSchema.nullable(),
  fallbacks: z.array(candidateSchema),
  excluded: z.array(candidateSchema),
  fallbacks_total: z.number().int(),
  excluded_total: z.number().int(),
  reason: z.string(),
  panic: z.boolean(),
  at: z.string(),
});
const uptimeEntrySchema = z.looseObject({
  adapter_id: z.string(),
  domain: z.string(),
  category: z.string(),
  provider: z.string(),
  uptime_percent: z
    .number()
    .nullable()
    .describe("100 × up / (up + down); null when nothing was up or down"),
  up_s: z.number().describe("Healthy and degraded seconds"),
  down_s: z.number().describe("Unhealthy seconds"),
  maintenance_s: z.number(),
  unknown_s: z.number().describe("Unknown verdicts, stale ones, and time the daemon did not see"),
  coverage_percent: z
    .number()
    .nullable()
    .describe("100 × (up + down) / (window − maintenance); null when all maintenance"),
});
export const uptimeOutput = z.looseObject({
  window: z.enum(UPTIME_WINDOW_NAMES),
  from: z.string().describe("Where the window starts: a bucket boundary before now − window"),
  until: z.string(),
  count: z.number().int(),
  adapters: z.array(uptimeEntrySchema),
});
export const invalidateOutput = z.looseObject({ invalidated: z.literal(true) });
export const healthOutput = z.looseObject({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  ready: z.boolean(),
  adapters: z.looseObject({
    by_status: z.record(z.string(), z.number()),
    flapping: z.number(),
    maintenance: z.number(),
    breakers: z.record(z.string(), z.number()),
  }),
  registry: z.looseObject({
    status: z.enum(["healthy", "degraded", "unhealthy"]),
    endpoints: z.array(
      z.looseObject({
        endpoint: z.string(),
        role: z.string(),
        breaker: z.string(),
        reachable: z.boolean(),
        last_error: z.string().nullable(),
      }),
    ),
    cached_lists: z.number(),
    last_sync: z.string().nullable(),
    local_file: z.boolean(),
  }),
  journal: z.looseObject({
    oldest_seq: z.number().nullable(),
    newest_seq: z.number().nullable(),
    subscribers: z.number(),
  }),
});
