import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import { configFileSchema } from "../src/config/schema.js";
import { runCli } from "./support/cli-process.js";

const root = join(import.meta.dirname, "..");

/**
 * The fenced blocks of a Markdown file that show a CLI run: a first line
 * `$ oneiric-healthd ARGS`, then what it prints. Only runs that need nothing
 * else are picked: help (`--help`, `-h`, `help …`), and usage errors (a block
 * whose text ends by pointing at the help), which exit 64 on stderr.
 */
function cliRuns(text: string): { args: string[]; shown: string; usageError: boolean }[] {
  const blocks = [...text.matchAll(/^```[^\n]*\n\$ oneiric-healthd([^\n]*)\n([\s\S]*?)^```$/gm)];
  return blocks.flatMap(([, command = "", shown = ""]) => {
    const args = command.trim().split(/\s+/).filter(Boolean);
    const help = args[0] === "help" || args.includes("--help") || args.includes("-h");
    const usageError = /--help for usage\.\n$/.test(shown);
    return help || usageError ? [{ args, shown, usageError }] : [];
  });
}

/** Every leaf key path of a zod object schema, looking through defaults and optionals. */
function leafKeys(schema: unknown, prefix: string): string[] {
  const candidate = schema as { shape?: Record<string, unknown>; def?: { innerType?: unknown } };
  if (candidate.shape) {
    return Object.entries(candidate.shape).flatMap(([key, child]) =>
      leafKeys(child, prefix === "" ? key : `${prefix}.${key}`),
    );
  }
  if (candidate.def?.innerType) return leafKeys(candidate.def.innerType, prefix);
  return [prefix];
}

describe("documentation", () => {
  it("documents every configuration key in docs/configuration.md", () => {
    const keys = leafKeys(configFileSchema, "");
    expect(keys.length).toBeGreaterThan(25);
    const doc = readFileSync(join(root, "docs", "configuration.md"), "utf8");
    const undocumented = keys.filter((key) => !doc.includes(`\`${key}\``));
    expect(undocumented).toEqual([]);
  });

  it.each(["README.md", "docs/cli.md"])(
    "%s shows the CLI's help and usage errors as the CLI prints them",
    async (file) => {
      const runs = cliRuns(readFileSync(join(root, file), "utf8"));
      expect(runs.length).toBeGreaterThan(0);
      for (const { args, shown, usageError } of runs) {
        const result = await runCli(args);
        expect(
          { args, code: result.code, text: usageError ? result.stderr : result.stdout },
          `oneiric-healthd ${args.join(" ")} in ${file}`,
        ).toEqual({ args, code: usageError ? 64 : 0, text: shown });
      }
    },
  );

  it("ships an example config that loads", () => {
    const text = readFileSync(join(root, "examples", "config", "healthd.yaml"), "utf8");
    const config = parseConfigText(text, "examples/config/healthd.yaml", {});
    expect(config.http.listen).toEqual({ host: "127.0.0.1", port: 8681 });
  });
});
