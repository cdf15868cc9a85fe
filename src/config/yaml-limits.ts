/**
 * What a YAML configuration may not do, checked before it is turned into values:
 * be huge, hold control characters, nest deeper than any real configuration,
 * or use aliases that refer to themselves, to nothing, or multiply the document
 * (a "billion laughs"). Each problem names the line it is on, so that a hostile
 * or mangled file is a configuration error like any other rather than a stack
 * overflow or a parser's exception.
 */
import {
  type Alias,
  type Document,
  isAlias,
  isCollection,
  isPair,
  isScalar,
  Lexer,
  type LineCounter,
  type Node,
} from "yaml";
import type { ProblemInFile } from "./errors.js";
import { formatPath } from "./yaml-issues.js";

/** The largest configuration file read: real ones are a few KiB, 1,000 overrides about 200 KiB. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Mappings and lists inside each other; the schema's deepest key is 5 levels down. */
export const MAX_NESTING_DEPTH = 64;
/**
 * yaml's `maxAliasCount` (its default is 100): how many times an anchor may be
 * used, weighted by the aliases inside it. 1,000 lets each of the 1,000 allowed
 * overrides use one shared anchor.
 */
export const MAX_ALIAS_COUNT = 1_000;
/** Values aliases may add to the document in all (copies of what their anchors hold). */
export const MAX_ALIAS_EXPANSION = 100_000;

/** Where the first character YAML does not allow in a stream is (C0 controls but tab, LF, CR; DEL). */
function firstControlCharacter(text: string): number {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) {
      return index;
    }
  }
  return -1;
}

const lineAt = (text: string, offset: number) => {
  let line = 1;
  for (let index = text.indexOf("\n"); index !== -1 && index < offset; ) {
    line++;
    index = text.indexOf("\n", index + 1);
  }
  return line;
};

/** The size limit, control characters and flow nesting, checked on the text before parsing it. */
export function textProblem(text: string): ProblemInFile | undefined {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_CONFIG_BYTES) return tooBig(bytes);
  const control = firstControlCharacter(text);
  if (control !== -1) {
    const code = text.charCodeAt(control).toString(16).toUpperCase().padStart(4, "0");
    return {
      key: "",
      problem: `not a YAML text file: control character U+${code}`,
      line: lineAt(text, control),
    };
  }
  return flowNestingProblem(text);
}

/** The size problem, for a file found too big before all of it is read. */
export function tooBig(bytes?: number): ProblemInFile {
  const size = bytes === undefined ? "" : ` (${bytes} bytes)`;
  return {
    key: "",
    problem: `file too big${size}: a configuration file may be at most 4 MiB (${MAX_CONFIG_BYTES} bytes)`,
  };
}

/**
 * `[[[[…` nested deeper than the limit. Found with yaml's lexer, which reads
 * a flow collection token by token: its parser takes seconds over a megabyte of
 * brackets, and its composer overflows the stack at about a thousand levels.
 */
function flowNestingProblem(text: string): ProblemInFile | undefined {
  let depth = 0;
  let line = 1;
  for (const token of new Lexer().lex(text)) {
    if (token === "[" || token === "{") {
      depth++;
      if (depth > MAX_NESTING_DEPTH) return nestedTooDeep(line);
    } else if (token === "]" || token === "}") {
      depth = Math.max(0, depth - 1);
    } else {
      for (let index = token.indexOf("\n"); index !== -1; index = token.indexOf("\n", index + 1)) {
        line++;
      }
    }
  }
  return undefined;
}

const nestedTooDeep = (line: number | undefined, key = ""): ProblemInFile => ({
  key,
  problem: `nested more than ${MAX_NESTING_DEPTH} levels deep`,
  line,
});

/** How yaml weighs an anchor's uses (see `MAX_ALIAS_COUNT`). */
interface AnchorUse {
  count: number;
  aliasCount: number;
}

/**
 * Nesting (block mappings and lists too) and aliases, checked on the parsed
 * document before `toJS` expands it. The alias rules are yaml's own (an alias
 * names the last anchor of that name before it; `maxAliasCount`), checked here
 * so that the problem has a line and a key; the walk stops at the first problem
 * that makes going on costly.
 */
export function documentShapeProblems(doc: Document, lines: LineCounter): ProblemInFile[] {
  const problems: ProblemInFile[] = [];
  const lineOf = (node: Node) =>
    node.range ? lines.linePos(node.range[0]).line : (undefined as number | undefined);
  /** The last node seen with each anchor name, as yaml resolves aliases. */
  const anchors = new Map<string, Node>();
  const uses = new Map<Node, AnchorUse>();
  const targets = new Map<Alias, Node>();
  /** Values of each finished node, counting what its aliases stand for. */
  const sizes = new Map<Node, number>();
  const ancestors = new Set<Node>();
  let added = 0;
  let stopped = false;

  /** yaml's `getAliasCount`: how many copies the aliases inside `node` make at most. */
  const aliasWeight = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      const use = target && uses.get(target);
      return use ? use.count * use.aliasCount : 0;
    }
    // A loop, not Math.max(...items): a list may be longer than a call can take arguments.
    if (isCollection(node)) {
      let weight = 0;
      for (const item of node.items as unknown[]) weight = Math.max(weight, aliasWeight(item));
      return weight;
    }
    if (isPair(node)) return Math.max(aliasWeight(node.key), aliasWeight(node.value));
    return 1;
  };

  const visitAlias = (alias: Alias, path: readonly PropertyKey[]): number => {
    const key = formatPath(path);
    const line = lineOf(alias);
    const target = anchors.get(alias.source);
    if (target === undefined) {
      problems.push({
        key,
        problem: `alias *${alias.source} has no anchor &${alias.source} before it`,
        line,
      });
      return 1;
    }
    if (ancestors.has(target)) {
      problems.push({
        key,
        problem: "refers to itself (a YAML alias inside its own anchor)",
        line,
      });
      return 1;
    }
    targets.set(alias, target);
    const use = uses.get(target) ?? { count: 1, aliasCount: 0 };
    uses.set(target, use);
    use.count += 1;
    if (use.aliasCount === 0) use.aliasCount = aliasWeight(target);
    const size = sizes.get(target) ?? 1;
    added += size;
    if (use.count * use.aliasCount > MAX_ALIAS_COUNT || added > MAX_ALIAS_EXPANSION) {
      problems.push({
        key,
        problem: `aliases of &${alias.source} expand the file too far (more than ${MAX_ALIAS_COUNT} uses or ${MAX_ALIAS_EXPANSION} values in all; a "billion laughs")`,
        line,
      });
      stopped = true;
    }
    return size;
  };

  const visit = (node: unknown, path: readonly PropertyKey[], depth: number): number => {
    if (stopped || node === null || node === undefined) return 0;
    if (isAlias(node)) return visitAlias(node, path);
    if (!isScalar(node) && !isCollection(node)) return 0;
    if (node.anchor) {
      anchors.set(node.anchor, node);
      uses.set(node, { count: 1, aliasCount: 0 });
    }
    let size = 1;
    if (isCollection(node)) {
      if (depth > MAX_NESTING_DEPTH) {
        problems.push(nestedTooDeep(lineOf(node), formatPath(path)));
        stopped = true;
        return size;
      }
      ancestors.add(node);
      node.items.forEach((item: unknown, index: number) => {
        if (isPair(item)) {
          const name = isScalar(item.key) ? item.key.value : undefined;
          const itemPath =
            typeof name === "string" || typeof name === "number" ? [...path, name] : path;
          size += visit(item.key, path, depth + 1);
          size += visit(item.value, itemPath, depth + 1);
        } else {
          size += visit(item, [...path, index], depth + 1);
        }
      });
      ancestors.delete(node);
    }
    sizes.set(node, size);
    return size;
  };

  visit(doc.contents, [], 1);
  return problems;
}
