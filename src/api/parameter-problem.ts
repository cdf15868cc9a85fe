/**
 * Turns what zod found wrong with a request's parameters into one sentence a
 * person can act on: the parameter, what it must be, and what was given
 * (`since must be an integer ≥ 0; got "abc"`). What a parameter must be is read
 * from the schema itself (as JSON Schema), so a new schema needs no new wording.
 */
import { z } from "zod";
import { closestName } from "../text/closest-name.js";
import { ApiError } from "./api-error.js";

/** The part of JSON Schema the daemon's parameter schemas produce. */
interface JsonSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  examples?: unknown[];
}

/** Longest given string quoted back in full; a longer one is described by its length. */
const QUOTED_MAX = 60;

/**
 * The ApiError for input `schema` rejected: UNKNOWN_PARAMETER for a key the
 * schema does not take (reported first: a misspelt key usually also leaves a
 * required one missing), else INVALID_PARAMETER for the first problem. `where`
 * says what the input is: `body` (a request body), `argument` (an MCP tool's),
 * `option` (command-line options, named `--since`), or a parameter's own name
 * when the input is one value.
 */
export function parameterProblem(
  schema: z.ZodType,
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
  where: string,
): ApiError {
  const jsonSchema = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  const unknownKeys = issues.find((issue) => issue.code === "unrecognized_keys");
  if (unknownKeys) return unknownKeyProblem(unknownKeys, jsonSchema, where);
  const issue = issues[0];
  const path = (issue?.path ?? []).map(String);
  const parameter = path.join(".") || where;
  const subject =
    path.length === 0
      ? where === "body"
        ? "the request body"
        : where
      : where === "option"
        ? `--${parameter}`
        : parameter;
  const node = schemaAt(jsonSchema, path);
  const given = valueAt(input, path);
  if (issue === undefined || node === undefined || issue.code === "custom") {
    const why = (issue?.message ?? "is not valid").replace(/^Invalid input: /, "");
    return new ApiError("INVALID_PARAMETER", `${subject}: ${why}; got ${describeValue(given)}`, {
      parameter,
    });
  }
  if (given === undefined) {
    return new ApiError("INVALID_PARAMETER", `${subject} is required (${briefly(node)})`, {
      parameter,
    });
  }
  return new ApiError(
    "INVALID_PARAMETER",
    `${subject} must be ${expectation(node)}; got ${describeValue(given)}`,
    { parameter },
  );
}

function unknownKeyProblem(
  issue: z.core.$ZodIssueUnrecognizedKeys,
  jsonSchema: JsonSchema,
  where: string,
): ApiError {
  const path = issue.path.map(String);
  const key = issue.keys[0] ?? "";
  const known = Object.keys(schemaAt(jsonSchema, path)?.properties ?? {});
  const noun =
    where === "body" || where === "argument" || where === "option"
      ? { body: "body field", argument: "argument", option: "option" }[where]
      : "parameter";
  const suggestion = closestName(key, known);
  const hint =
    suggestion !== undefined
      ? ` (did you mean "${suggestion}"?)`
      : known.length > 0
        ? `; known: ${known.join(", ")}`
        : `; it takes none`;
  const parameter = [...path, key].join(".");
  return new ApiError("UNKNOWN_PARAMETER", `unknown ${noun} ${JSON.stringify(parameter)}${hint}`, {
    parameter,
  });
}

/** The schema of the value at `path`, or undefined where the schema says nothing of it. */
function schemaAt(root: JsonSchema, path: readonly string[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = node.type === "array" ? node.items : node.properties?.[segment];
  }
  return node;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** What a value must be, in full: `an integer from 1 to 1000`, `one of "a", "b"`. */
function expectation(node: JsonSchema): string {
  if (node.anyOf) {
    // The flags take true/false and their string forms ("1", "0" too); true or false is the rule.
    if (node.anyOf.some((option) => option.type === "boolean")) return "true or false";
    return node.anyOf.map(expectation).join(" or ");
  }
  if (node.enum) return `one of ${node.enum.map((value) => JSON.stringify(value)).join(", ")}`;
  switch (node.type) {
    case "boolean":
      return "true or false";
    case "integer":
      return `an integer${range(node.minimum, node.maximum)}`;
    case "number":
      return `a number${range(node.minimum, node.maximum)}`;
    case "string":
      if (node.format === "date-time") return `an ISO 8601 time with an offset${example(node)}`;
      return `a string${length(node.minLength, node.maxLength, "character")}${example(node)}`;
    case "array":
      return `a list of ${count(node.minItems, node.maxItems)}`;
    case "object":
      return "a JSON object";
    default:
      return "a valid value";
  }
}

/** What a missing value should be, briefly: its kind and an example, not every bound. */
function briefly(node: JsonSchema): string {
  if (node.type === "string" && node.format !== "date-time" && !node.enum) {
    return `a string${example(node).replace(/^,/, "")}`;
  }
  return expectation(node);
}

function example(node: JsonSchema): string {
  const first = node.examples?.[0];
  if (first !== undefined) return `, such as ${JSON.stringify(first)}`;
  return node.format === "date-time" ? ', such as "2026-11-27T06:00:00Z"' : "";
}

/** ` ≥ 0`, ` from 1 to 1000`; a bound that is only the safe-integer limit is no rule worth naming. */
function range(minimum: number | undefined, maximum: number | undefined): string {
  const min = minimum !== undefined && minimum > Number.MIN_SAFE_INTEGER ? minimum : undefined;
  const max = maximum !== undefined && maximum < Number.MAX_SAFE_INTEGER ? maximum : undefined;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return "";
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

/** What was given, as a person would say it: `"yes"`, `5`, `an array`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return value.length > QUOTED_MAX
      ? `a string of ${value.length} characters`
      : JSON.stringify(value);
  }
  return String(value);
}
