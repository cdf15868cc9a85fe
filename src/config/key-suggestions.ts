/**
 * "Did you mean …" for unknown configuration keys: the allowed key at the same
 * level of the schema that is fewest edits away from what was written.
 */
import { closestName } from "../text/closest-name.js";

/** The parts of a zod schema's definition that say what it wraps or holds. */
interface SchemaDefinition {
  type?: string;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  shape?: Record<string, unknown>;
}

const definitionOf = (schema: unknown): SchemaDefinition =>
  (schema as { _zod?: { def?: SchemaDefinition } } | undefined)?._zod?.def ?? {};

/** Looks through defaults, optionals and pipes to the schema that checks the value. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    const definition = definitionOf(current);
    if (definition.innerType !== undefined) current = definition.innerType;
    else if (definition.type === "pipe" && definition.in !== undefined) current = definition.in;
    else return current;
  }
}

/** The keys an object schema allows at `path` (array indexes step into the element); [] if none. */
export function keysAllowedAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let current = unwrap(schema);
  for (const part of path) {
    const definition = definitionOf(current);
    if (typeof part === "number" && definition.type === "array") {
      current = unwrap(definition.element);
    } else if (typeof part === "string" && definition.type === "object" && definition.shape) {
      if (!Object.hasOwn(definition.shape, part)) return [];
      current = unwrap(definition.shape[part]);
    } else {
      return [];
    }
  }
  const definition = definitionOf(current);
  return definition.type === "object" && definition.shape ? Object.keys(definition.shape) : [];
}

/** How keys are compared: case and `-` for `_` are not worth an edit. */
const normalized = (key: string) => key.toLowerCase().replaceAll("-", "_");

/** The allowed key `written` is probably a slip for (see `closestName`), if any. */
export function closestKey(written: string, allowed: readonly string[]): string | undefined {
  const match = closestName(normalized(written), allowed.map(normalized));
  return match === undefined ? undefined : allowed[allowed.map(normalized).indexOf(match)];
}
