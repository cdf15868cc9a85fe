/**
 * Turns what zod found wrong with a request's parameters into one sentence a
 * person can act on: the parameter, what it must be, and what was given
 * (`since must be an integer ≥ 0; got "abc"`). What a parameter must be is read
 * from the schema itself (as JSON Schema), so a new schema needs no new wording.
 */
import type { z } from "zod";
import { closestName } from "../text/closest-name.js";
import {
  describeValue,
  schemaAt,
  type ValueSchema,
  valueAt,
  valueProblem,
  valueSchemaOf,
} from "../text/value-wording.js";
import { ApiError } from "./api-error.js";

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
  const jsonSchema = valueSchemaOf(schema);
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
  return new ApiError("INVALID_PARAMETER", `${subject} ${valueProblem(node, given)}`, {
    parameter,
  });
}

function unknownKeyProblem(
  issue: z.core.$ZodIssueUnrecognizedKeys,
  jsonSchema: ValueSchema,
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
