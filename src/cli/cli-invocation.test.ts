import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cliInvocation, PACKAGE_ROOT, shellWord } from "./cli-invocation.js";

/** Directory layouts as a checkout, `npm install` and `npm install -g` make them. */
describe("how the printed commands start", () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "healthd-invocation-"));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const file = (path: string, text = "") => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  /** A copy of the package at `root`: package.json and its bin. */
  const packageAt = (root: string) => {
    file(join(root, "package.json"), '{"name":"oneiric-healthd"}');
    file(join(root, "bin", "oneiric-healthd.js"), "#!/usr/bin/env node\n");
    return root;
  };
  const directory = (path: string) => {
    mkdirSync(path, { recursive: true });
    return path;
  };
  const link = (target: string, path: string) => {
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(target, path);
  };
  const SYSTEM_PATH = ["/usr/local/sbin", "/usr/bin", "/bin"].join(delimiter);

  it("in a checkout: node with the bin's path from where the commands are typed", () => {
    const checkout = packageAt(join(base, "oneiric-healthd"));
    file(join(checkout, "src", "cli.ts"));
    const elsewhere = directory(join(base, "elsewhere"));
    const searchPath = SYSTEM_PATH;
    expect(cliInvocation({ packageRoot: checkout, cwd: checkout, searchPath })).toBe(
      "node bin/oneiric-healthd.js",
    );
    expect(
      cliInvocation({ packageRoot: checkout, cwd: directory(join(checkout, "docs")), searchPath }),
    ).toBe(`node ${join(checkout, "bin", "oneiric-healthd.js")}`);
    expect(cliInvocation({ packageRoot: checkout, cwd: elsewhere, searchPath })).toBe(
      `node ${join(checkout, "bin", "oneiric-healthd.js")}`,
    );
  });

  it("installed in a project: npx inside that project, even under npx's own PATH", () => {
    const project = join(base, "project");
    file(join(project, "package.json"), '{"name":"project"}');
    const installed = packageAt(join(project, "node_modules", "oneiric-healthd"));
    const dotBin = join(project, "node_modules", ".bin");
    link("../oneiric-healthd/bin/oneiric-healthd.js", join(dotBin, "oneiric-healthd"));
    for (const searchPath of [SYSTEM_PATH, `${dotBin}${delimiter}${SYSTEM_PATH}`]) {
      expect(cliInvocation({ packageRoot: installed, cwd: project, searchPath })).toBe(
        "npx oneiric-healthd",
      );
      // npx finds the project from a subdirectory too.
      expect(
        cliInvocation({ packageRoot: installed, cwd: directory(join(project, "src")), searchPath }),
      ).toBe("npx oneiric-healthd");
    }
    // Another project's npx would not find it: the bin's path works from anywhere.
    const other = join(base, "other");
    file(join(other, "package.json"), '{"name":"other"}');
    expect(cliInvocation({ packageRoot: installed, cwd: other, searchPath: SYSTEM_PATH })).toBe(
      `node ${join(installed, "bin", "oneiric-healthd.js")}`,
    );
  });

  it("installed globally: the bare name, from any directory", () => {
    const prefix = join(base, "prefix");
    const installed = packageAt(join(prefix, "lib", "node_modules", "oneiric-healthd"));
    link(
      "../lib/node_modules/oneiric-healthd/bin/oneiric-healthd.js",
      join(prefix, "bin", "oneiric-healthd"),
    );
    const searchPath = `${SYSTEM_PATH}${delimiter}${join(prefix, "bin")}`;
    expect(
      cliInvocation({ packageRoot: installed, cwd: directory(join(base, "x")), searchPath }),
    ).toBe("oneiric-healthd");
    // A checkout is not the global install, though a global one is on PATH.
    const checkout = packageAt(join(base, "checkout"));
    expect(cliInvocation({ packageRoot: checkout, cwd: checkout, searchPath })).toBe(
      "node bin/oneiric-healthd.js",
    );
  });

  it("quotes a path the shell would split", () => {
    const checkout = packageAt(join(base, "my checkout"));
    expect(cliInvocation({ packageRoot: checkout, cwd: base, searchPath: SYSTEM_PATH })).toBe(
      "node 'my checkout/bin/oneiric-healthd.js'",
    );
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
  });

  it("finds this package's own root", () => {
    expect(cliInvocation({ packageRoot: PACKAGE_ROOT, cwd: PACKAGE_ROOT, searchPath: "" })).toBe(
      "node bin/oneiric-healthd.js",
    );
  });
});
