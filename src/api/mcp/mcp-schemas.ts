/**
 * The tools' zod schemas: what the SDK checks before a tool runs, what clients
 * see as JSON Schema, and what the tools promise to answer.
 *
 * The SDK checks arguments against the input schemas before a tool runs, and a
 * failure there has no error code. So those schemas check JSON types only
 * (string, boolean, required) while advertising, in the JSON Schema clients
 * see, the constraints of the daemon's own schemas (query-service.ts: lengths,
 * the status enum, no extra keys). The values are then validated by the
 * backend (or by a tool, with the `*Parameters` schemas here) with those same
 * rules, so a bad value gets the same stable code and parameter name as over
 * HTTP (INVALID_PARAMETER, UNKNOWN_PARAMETER, …).
 */
import { z } from "zod";
import { HEALTH_STATUSES } from "../../domain/adapter.js";
import { listFilterSchema, requirementSchema } from "../query-service.js";

// --- Input schemas -----------------------------------------------------------

const nameSchema = requirementSchema.shape.domain;
const statusSchema = listFilterSchema.shape.status.unwrap();

/**
 * `base` (a JSON-typed schema the SDK checks) advertising `real`'s JSON Schema
 * constraints; the backend validates the value with `real`'s rules.
 */
function advertising<T extends z.ZodType>(base: T, real: z.ZodType, description: string): T {
  const json = z.toJSONSchema(real, { io: "input" }) as Record<string, unknown>;
  const constraints = Object.fromEntries(Object.entries(json).filter(([key]) => key !== "$schema"));
  return base.meta({ ...constraints, description });
}

/** Passes unknown keys through to the backend (UNKNOWN_PARAMETER) while advertising none allowed. */
function argumentsOf<T extends z.ZodRawShape>(shape: T) {
  return z.looseObject(shape).meta({ additionalProperties: false });
}

const nameArgument = (description: string) => advertising(z.string(), nameSchema, description);
export const adapterIdArguments = argumentsOf({
  adapter_id: nameArgument("The adapter's id, e.g. mahavishnu.adapter.storage.s3"),
});
export const noArguments = argumentsOf({});

export const listArguments = argumentsOf({
  project: nameArgument("Only adapters of this project").optional(),
  domain: nameArgument('Only adapters of this domain, e.g. "adapter"').optional(),
  category: nameArgument('Only this category, e.g. "storage", "cache"').optional(),
  provider: nameArgument('Only this provider, e.g. "s3", "redis"').optional(),
  status: advertising(z.string(), statusSchema, "Only adapters with this status").optional(),
  healthy_only: z
    .boolean()
    .optional()
    .describe("Only adapters that are healthy and usable by resolution"),
});

export const resolveArguments = argumentsOf({
  domain: nameArgument('The domain, e.g. "adapter"'),
  category: nameArgument('The category, e.g. "storage", "orchestration"'),
  provider: nameArgument('A provider, e.g. "s3"; any when omitted').optional(),
  project: nameArgument("A project; any when omitted").optional(),
  panic: z
    .boolean()
    .optional()
    .describe(
      "When nothing is usable, answer the least-bad candidate (marked panic) instead of none",
    ),
});

/**
 * The strict rules of arguments a backend never sees whole (getAdapter takes
 * the id alone, healthCheck nothing): the tool itself rejects unknown keys.
 */
export const adapterIdParameters = z.strictObject({ adapter_id: nameSchema });
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
