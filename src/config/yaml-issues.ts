import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { z } from "zod";
import {
  namesAKind,
  schemaAt,
  type ValueSchema,
  valueProblem,
  valueSchemaOf,
} from "../text/value-wording.js";
import { closestKey, keysAllowedAt } from "./key-suggestions.js";

/** What a zod issue says, as the key it is about and a short description of the problem. */
export interface DescribedIssue {
  key: string;
  problem: string;
  path: PropertyKey[];
}

/**
 * Names the key a zod issue is about, and a short description of the problem:
 * one per unknown key, each with the allowed key it is probably a slip for
 * (`schema` says which keys are allowed where).
 */
export function describeIssues(issue: z.core.$ZodIssue, schema?: unknown): DescribedIssue[] {
  const path = [...issue.path];
  if (issue.code === "unrecognized_keys") {
    const allowed = schema === undefined ? [] : keysAllowedAt(schema, path);
    return issue.keys.map((unknownKey) => {
      const fullPath = [...path, unknownKey];
      const suggestion = closestKey(unknownKey, allowed);
      return {
        key: formatPath(fullPath),
        problem:
          suggestion === undefined ? "unknown key" : `unknown key (did you mean "${suggestion}"?)`,
        path: fullPath,
      };
    });
  }
  return [{ key: formatPath(path), problem: issue.message.replace(/^Invalid input: /, ""), path }];
}

/** The problems a value's own schema can word: its type, bounds, length, options or format. */
const WORDED_FROM_SCHEMA = new Set<string>([
  "invalid_type",
  "too_small",
  "too_big",
  "invalid_value",
  "invalid_format",
]);

/**
 * A zod error map for parsing a YAML file with `schema`: a wrong value reads as
 * the HTTP API words it, `must be a number > 0 and ≤ 300; got "often"` (or `is
 * required (a string)`), what it must be read from the schema. zod asks the map
 * only about problems the schema has no message of its own for, so the
 * project's messages (cross-key rules, `at least 16 characters (…)`) stand as
 * written. Where the schema says nothing of the value, zod's own message is
 * kept. The JSON Schema is worked out at the first problem (it takes some
 * milliseconds), once per map: make one map per parse.
 */
export function valueWordingFor(schema: z.ZodType): z.core.$ZodErrorMap {
  let jsonSchema: ValueSchema | undefined;
  return (issue) => {
    if (!WORDED_FROM_SCHEMA.has(issue.code ?? "")) return undefined;
    jsonSchema ??= valueSchemaOf(schema);
    const node = schemaAt(jsonSchema, issue.path ?? []);
    if (node === undefined || !namesAKind(node)) return undefined;
    return valueProblem(node, issue.input, "yaml");
  };
}

/** The first of `describeIssues`: for messages that name one problem. */
export function describeIssue(issue: z.core.$ZodIssue): DescribedIssue {
  return describeIssues(issue)[0] as DescribedIssue;
}

/**
 * `["healthd", "http", "listen"]` → `healthd.http.listen`. A key holding a line
 * break or another control character (broken YAML can make one of a quoted
 * string) is quoted as JSON, so a problem stays on its one `FILE:LINE:` line.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => {
      if (typeof part === "number") return `[${part}]`;
      const text = String(part);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
      const shown = /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
      return `${index === 0 ? "" : "."}${shown}`;
    })
    .join("");
}

/** The line of the deepest node that exists along `path`, for error messages. */
export function lineOfPath(
  root: Node | null,
  path: readonly PropertyKey[],
  lines: LineCounter,
): number | undefined {
  let node: unknown = root;
  let offset: number | undefined = root?.range?.[0];
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === part);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === "number") {
      node = node.items[part];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/**
 * The key path of the innermost node at `offset` (a pair's key or value), for
 * parse errors and warnings that give only a position. Looks no deeper than
 * `maxDepth` collections.
 */
export function pathAt(root: Node | null, offset: number, maxDepth: number): PropertyKey[] {
  const path: PropertyKey[] = [];
  const covers = (node: unknown) => {
    const range = (node as Node | null | undefined)?.range;
    return range != null && range[0] <= offset && offset < Math.max(range[1], range[0] + 1);
  };
  let node: unknown = root;
  for (let depth = 0; depth < maxDepth && (isMap(node) || isSeq(node)); depth++) {
    const collection: { items: unknown[] } = node;
    let next: unknown;
    collection.items.forEach((item, index) => {
      if (next !== undefined) return;
      if (isPair(item)) {
        const name = isScalar(item.key) ? item.key.value : undefined;
        const named = typeof name === "string" || typeof name === "number";
        const keyRange = (item.key as Node | null)?.range;
        const valueRange = (item.value as Node | null)?.range;
        // A tag or anchor before the value lies between the key and the value node.
        const inPair =
          keyRange != null && keyRange[0] <= offset && offset < (valueRange?.[1] ?? keyRange[1]);
        if (inPair) {
          if (named) path.push(name);
          next = covers(item.value) ? item.value : null;
        }
      } else if (covers(item)) {
        path.push(index);
        next = item;
      }
    });
    if (next === undefined || next === null) break;
    node = next;
  }
  return path;
}
