/**
 * "Did you mean …" for unknown configuration keys: the allowed key at the same
 * level of the schema that is fewest edits away from what was written.
 */

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

/**
 * Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, or
 * `limit + 1` as soon as it is clear there are more than `limit`.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowBest = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (beforePrevious[j - 2] as number) + 1);
      }
      current.push(best);
      rowBest = Math.min(rowBest, best);
    }
    if (rowBest > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return Math.min(previous[b.length] as number, limit + 1);
}

/**
 * The allowed key closest to `written`, if it is near enough to be a slip: at
 * most a third of the key's length in edits (one edit for short keys).
 */
export function closestKey(written: string, allowed: readonly string[]): string | undefined {
  const target = normalized(written);
  const limit = Math.max(1, Math.floor(target.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const key of allowed) {
    const distance = editDistance(target, normalized(key), limit);
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { key, distance };
    }
  }
  return best?.key;
}
