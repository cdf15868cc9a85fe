import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError } from "./errors.js";
import { type DaemonConfig, loadConfigFile, parseConfigText } from "./load.js";

/**
 * Whatever a configuration file holds, the loader answers with a config or a
 * ConfigError whose every line names the file: never a RangeError from a stack
 * overflow, a TypeError from an odd value, or a parser's own exception.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const SAMPLES = ["deploy/etc/oneiric-healthd/healthd.yaml", "examples/config/healthd.yaml"].map(
  (path) => readFileSync(join(ROOT, path), "utf8"),
);

const RUNS = 150;

/** Loads text; returns the config or the ConfigError, and lets anything else escape. */
function load(text: string, file = "mutant.yaml"): DaemonConfig | ConfigError {
  try {
    return parseConfigText(text, file, {});
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

function expectConfigOrNamedError(result: DaemonConfig | ConfigError, file: string): void {
  if (!(result instanceof ConfigError)) return;
  expect(result.problems.length).toBeGreaterThan(0);
  for (const line of result.message.split("\n"))
    expect(line.startsWith(`${file}`), line).toBe(true);
  for (const problem of result.problems) {
    expect(problem.file).toBe(file);
    // Within the size limit every problem is somewhere in the file: a parser's own
    // exception (an alias count, a stack overflow) would come without a line.
    expect(problem.line, result.message).toBeGreaterThan(0);
  }
}

/** Pieces of YAML that mean something to a parser, and some that mean trouble. */
const PIECES = [
  "\t",
  ": ",
  "- ",
  "{",
  "}",
  "[",
  "]",
  ",",
  "&a ",
  "*a",
  "&a [*a]",
  "&b {x: *b}",
  "*undefined_anchor",
  "!!binary ",
  "!!set ",
  "!custom ",
  "\u0000",
  "\u007f",
  "\ufffd",
  "'",
  '"',
  "? ",
  "<<: ",
  "\n---\n",
  "\n...\n",
  "%YAML 1.1\n",
  "${UNSET_VARIABLE}",
  "#",
  "|",
  ">-",
  "\r",
  "  ",
];

/** A sample configuration with a few edits: cuts, insertions, repeated and swapped lines. */
const mutatedSample = fc
  .tuple(
    fc.constantFrom(...SAMPLES),
    fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant("insert" as const),
          at: fc.nat(),
          piece: fc.constantFrom(...PIECES),
        }),
        fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
        fc.record({ kind: fc.constant("repeat line" as const), at: fc.nat() }),
        fc.record({ kind: fc.constant("swap lines" as const), at: fc.nat(), with: fc.nat() }),
        fc.record({
          kind: fc.constant("indent" as const),
          at: fc.nat(),
          by: fc.integer({ min: -4, max: 4 }),
        }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([sample, edits]) => {
    let text = sample;
    for (const edit of edits) {
      const lines = text.split("\n");
      const line = edit.at % lines.length;
      switch (edit.kind) {
        case "insert": {
          const at = edit.at % (text.length + 1);
          text = `${text.slice(0, at)}${edit.piece}${text.slice(at)}`;
          break;
        }
        case "cut": {
          const at = edit.at % (text.length + 1);
          text = `${text.slice(0, at)}${text.slice(at + edit.length)}`;
          break;
        }
        case "repeat line":
          lines.splice(line, 0, lines[line] as string);
          text = lines.join("\n");
          break;
        case "swap lines": {
          const other = edit.with % lines.length;
          [lines[line], lines[other]] = [lines[other] as string, lines[line] as string];
          text = lines.join("\n");
          break;
        }
        case "indent":
          lines[line] =
            edit.by >= 0
              ? `${" ".repeat(edit.by)}${lines[line]}`
              : (lines[line] as string).slice(-edit.by);
          text = lines.join("\n");
          break;
      }
    }
    return text;
  });

/** Any JSON-like value, written as YAML, at the top or in place of a section. */
const randomStructure = fc
  .tuple(
    fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3 })),
    fc.constantFrom<string[]>(
      [],
      ["healthd"],
      ["oneiric_mcp"],
      ["healthd", "probes"],
      ["healthd", "overrides"],
    ),
  )
  .map(([value, path]) => {
    const document = path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
    try {
      return stringify(document) ?? "";
    } catch {
      return String(document);
    }
  });

/** Documents of anchors and aliases: some to nothing, some to themselves, some multiplying. */
const aliasDocument = fc
  .array(
    fc.record({
      anchor: fc.nat({ max: 5 }),
      aliases: fc.array(fc.nat({ max: 6 }), { maxLength: 12 }),
      shape: fc.constantFrom("seq", "map", "self"),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((entries) =>
    entries
      .map(({ anchor, aliases, shape }, index) => {
        const uses = aliases.map((alias) => `*a${alias}`);
        if (shape === "self") uses.push(`*a${anchor}`);
        const body =
          shape === "map"
            ? `{${uses.map((use, i) => `k${i}: ${use}`).join(", ")}}`
            : `[${uses.join(", ")}]`;
        return `${index % 3 === 0 ? "healthd" : `key${index}`}: &a${anchor} ${body}`;
      })
      .join("\n"),
  );

/** Brackets, braces or indentation nested far past anything a configuration needs. */
const deepNesting = fc
  .tuple(
    fc.constantFrom("[", "{a: ", "block", "- "),
    fc.integer({ min: 70, max: 5_000 }),
    fc.boolean(),
  )
  .map(([opener, depth, closed]) => {
    if (opener === "block") {
      return Array.from(
        { length: Math.min(depth, 1_500) },
        (_, level) => `${" ".repeat(level)}k:`,
      ).join("\n");
    }
    if (opener === "- ") {
      return Array.from(
        { length: Math.min(depth, 1_500) },
        (_, level) => `${"  ".repeat(level)}- `,
      ).join("\n");
    }
    const closer = opener === "[" ? "]" : "}";
    return `healthd: ${opener.repeat(depth)}${closed ? closer.repeat(depth) : ""}\n`;
  });

describe("the config loader over bad configurations", () => {
  it("answers a mutated sample config with a config or a ConfigError naming the file", () => {
    fc.assert(
      fc.property(mutatedSample, (text) => expectConfigOrNamedError(load(text), "mutant.yaml")),
      { numRuns: RUNS * 2 },
    );
  });

  it("answers random YAML structures the same way", () => {
    fc.assert(
      fc.property(randomStructure, (text) => expectConfigOrNamedError(load(text), "mutant.yaml")),
      { numRuns: RUNS },
    );
  });

  it("answers anchors and aliases of every kind the same way", () => {
    fc.assert(
      fc.property(aliasDocument, (text) => expectConfigOrNamedError(load(text), "mutant.yaml")),
      { numRuns: RUNS },
    );
  });

  it("answers deep nesting with a ConfigError naming the file and line", () => {
    fc.assert(
      fc.property(deepNesting, (text) => {
        const result = load(text);
        expect(result).toBeInstanceOf(ConfigError);
        expectConfigOrNamedError(result, "mutant.yaml");
        expect((result as ConfigError).problem).toBe("nested more than 64 levels deep");
      }),
      { numRuns: 40 },
    );
  });

  describe("random bytes in a file", () => {
    let directory: string;
    beforeAll(() => {
      directory = mkdtempSync(join(tmpdir(), "healthd-config-bytes-"));
    });
    afterAll(() => rmSync(directory, { recursive: true, force: true }));

    it("answers them with a ConfigError naming the file, or a config", () => {
      const file = join(directory, "bytes.yaml");
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          writeFileSync(file, bytes);
          let result: DaemonConfig | ConfigError;
          try {
            result = loadConfigFile(file, {});
          } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            result = error;
          }
          expectConfigOrNamedError(result, file);
        }),
        { numRuns: RUNS },
      );
    });
  });
});
