/**
 * What a value must be and what was given, in words a person can act on
 * (`must be an integer ≥ 0; got "abc"`). What a value must be is read from its
 * zod schema (as JSON Schema), so a new schema needs no new wording. The HTTP
 * API's parameter problems and the config file's problems both say it this way.
 */
import { z } from "zod";

/** The part of JSON Schema the daemon's zod schemas produce. */
export interface ValueSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: ValueSchema[];
  properties?: Record<string, ValueSchema>;
  items?: ValueSchema;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  examples?: unknown[];
  /** A secret (a token, a signing key): what was given is described, never quoted. */
  writeOnly?: boolean;
}

/**
 * How values are spelt where they were given: `json` for request bodies and
 * parameters (`a JSON object`, `an array`), `yaml` for a config file (`a
 * mapping`, `a list of 3 items`, an empty value for null).
 */
export type Notation = "json" | "yaml";

/** Longest given string quoted back in full; a longer one is described by its length. */
const QUOTED_MAX = 60;

/** The JSON Schema of what `schema` accepts as input; transforms and refinements read as `{}`. */
export function valueSchemaOf(schema: z.ZodType): ValueSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as ValueSchema;
}

/** The schema of the value at `path`, or undefined where the schema says nothing of it. */
export function schemaAt(root: ValueSchema, path: readonly PropertyKey[]): ValueSchema | undefined {
  let node: ValueSchema | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = node.type === "array" ? node.items : node.properties?.[String(segment)];
  }
  return node;
}

/** The value at `path` in `input`, or undefined where there is none. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/**
 * Whether `node` says what a value must be (a `{}` from a transform or an
 * unrepresentable type says nothing, and wording from it would be empty).
 */
export function namesAKind(node: ValueSchema): boolean {
  return node.type !== undefined || node.enum !== undefined || node.anyOf !== undefined;
}

/**
 * The problem with `given` as the rest of a sentence about it: `must be a
 * number > 0; got "often"`, or `is required (a string)` when nothing was given.
 */
export function valueProblem(
  node: ValueSchema,
  given: unknown,
  notation: Notation = "json",
): string {
  if (given === undefined) return `is required (${briefly(node, notation)})`;
  const what = node.writeOnly ? describeKind(given, notation) : describeValue(given, notation);
  return `must be ${expectation(node, notation)}; got ${what}`;
}

/** What a value must be, in full: `an integer from 1 to 1000`, `one of "a", "b"`. */
export function expectation(node: ValueSchema, notation: Notation = "json"): string {
  if (node.anyOf) {
    // The flags take true/false and their string forms ("1", "0" too); true or false is the rule.
    if (node.anyOf.some((option) => option.type === "boolean")) return "true or false";
    return node.anyOf.map((option) => expectation(option, notation)).join(" or ");
  }
  if (node.enum) return `one of ${node.enum.map((value) => JSON.stringify(value)).join(", ")}`;
  switch (node.type) {
    case "boolean":
      return "true or false";
    case "integer":
      return `an integer${range(node)}`;
    case "number":
      return `a number${range(node)}`;
    case "string":
      if (node.format === "date-time") return `an ISO 8601 time with an offset${example(node)}`;
      if (node.format === "uri") return `a URL${example(node)}`;
      return `a string${length(node.minLength, node.maxLength, "character")}${form(node)}${example(node)}`;
    case "array":
      return `a list of ${count(node.minItems, node.maxItems)}`;
    case "object":
      return notation === "yaml" ? "a mapping" : "a JSON object";
    default:
      return "a valid value";
  }
}

/** What a missing value should be, briefly: its kind and an example, not every bound. */
export function briefly(node: ValueSchema, notation: Notation = "json"): string {
  if (node.type === "string" && node.format === undefined && !node.enum) {
    return `a string${example(node).replace(/^,/, "")}`;
  }
  return expectation(node, notation);
}

/** What was given, as a person would say it: `"yes"`, `5`, `an array`, `nothing`. */
export function describeValue(value: unknown, notation: Notation = "json"): string {
  if (typeof value === "string") {
    return value.length > QUOTED_MAX
      ? `a string of ${value.length} characters`
      : JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  return describeKind(value, notation);
}

/** What kind of value was given, without quoting it: `a string of 12 characters`, `a number`. */
function describeKind(value: unknown, notation: Notation): string {
  if (value === undefined) return "nothing";
  if (value === null) return notation === "yaml" ? "an empty value" : "null";
  if (Array.isArray(value)) {
    if (notation === "json") return value.length === 0 ? "an empty array" : "an array";
    return value.length === 0
      ? "an empty list"
      : `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  }
  if (typeof value === "object") return notation === "yaml" ? "a mapping" : "an object";
  if (typeof value === "string") return `a string of ${value.length} characters`;
  return `a ${typeof value}`;
}

function example(node: ValueSchema): string {
  const first = node.examples?.[0];
  if (first !== undefined) return `, such as ${JSON.stringify(first)}`;
  return node.format === "date-time" ? ', such as "2026-11-27T06:00:00Z"' : "";
}

/** ` matching ^[a-z]+$`, ` in the email format`: what a string's text must look like. */
function form(node: ValueSchema): string {
  if (node.format !== undefined) return ` in the ${node.format} format`;
  return node.pattern !== undefined ? ` matching ${node.pattern}` : "";
}

/**
 * ` ≥ 0`, ` from 1 to 1000`, ` > 0 and ≤ 300`; a bound that is only the
 * safe-integer limit is no rule worth naming.
 */
function range(node: ValueSchema): string {
  const min = node.minimum !== undefined && node.minimum > Number.MIN_SAFE_INTEGER;
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER;
  if (min && max) return ` from ${node.minimum} to ${node.maximum}`;
  const lower =
    node.exclusiveMinimum !== undefined ? `> ${node.exclusiveMinimum}` : min && `≥ ${node.minimum}`;
  const upper =
    node.exclusiveMaximum !== undefined ? `< ${node.exclusiveMaximum}` : max && `≤ ${node.maximum}`;
  const bounds = [lower, upper].filter(Boolean);
  return bounds.length === 0 ? "" : ` ${bounds.join(" and ")}`;
}

function length(minimum: number | undefined, maximum: number | undefined, unit: string): string {
  if (minimum !== undefined && maximum !== undefined)
    return ` of ${minimum} to ${maximum} ${unit}s`;
  if (maximum !== undefined) return ` of at most ${maximum} ${unit}${maximum === 1 ? "" : "s"}`;
  if (minimum !== undefined && minimum > 0)
    return ` of at least ${minimum} ${unit}${minimum === 1 ? "" : "s"}`;
  return "";
}

function count(minimum: number | undefined, maximum: number | undefined): string {
  if (minimum !== undefined && maximum !== undefined) return `${minimum} to ${maximum} items`;
  if (maximum !== undefined) return `at most ${maximum} items`;
  if (minimum !== undefined) return `at least ${minimum} item${minimum === 1 ? "" : "s"}`;
  return "items";
}
