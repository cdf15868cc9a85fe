import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load.js";
import { configFileSchema } from "../src/config/schema.js";

const root = join(import.meta.dirname, "..");

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

  it("ships an example config that loads", () => {
    const text = readFileSync(join(root, "examples", "config", "healthd.yaml"), "utf8");
    const config = parseConfigText(text, "examples/config/healthd.yaml", {});
    expect(config.http.listen).toEqual({ host: "127.0.0.1", port: 8681 });
  });
});
