import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { loadLocalRegistry } from "./local-registry-file.js";

function fileWith(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "local-registry-")), "adapters.yaml");
  writeFileSync(file, text);
  return file;
}

describe("loadLocalRegistry", () => {
  it("refuses an alias to an anchor that is never defined with a ConfigError naming the file and line", () => {
    const file = fileWith("- adapter_id: a.adapter.cache.redis\n  metadata: *nowhere\n");
    expect(() => loadLocalRegistry(file)).toThrow(ConfigError);
    expect(() => loadLocalRegistry(file)).toThrow(
      `${file}:2: [0].metadata: alias *nowhere has no anchor &nowhere before it`,
    );
  });

  it("refuses a file of too many aliases (a billion laughs) with a ConfigError", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const file = fileWith(`${levels.join("\n")}\n`);
    expect(() => loadLocalRegistry(file)).toThrow(ConfigError);
    expect(() => loadLocalRegistry(file)).toThrow(`${file}:5: e[0]: aliases of &d`);
  });
});
