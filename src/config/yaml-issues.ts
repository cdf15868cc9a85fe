import { isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { z } from "zod";

/** Names the key a zod issue is about, and a short description of the problem. */
export function describeIssue(issue: z.core.$ZodIssue): {
  key: string;
  problem: string;
  path: PropertyKey[];
} {
  const path = [...issue.path];
  if (issue.code === "unrecognized_keys") {
    const unknownKey = issue.keys[0] ?? "";
    const fullPath = [...path, unknownKey];
    return { key: formatPath(fullPath), problem: "unknown key", path: fullPath };
  }
  return { key: formatPath(path), problem: issue.message.replace(/^Invalid input: /, ""), path };
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
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
