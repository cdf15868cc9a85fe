#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout, so a fresh clone works
// after `npm ci` with no build step; an install without src/ (or one that sets
// ONEIRIC_HEALTHD_COMPILED=1) runs the compiled build in dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const sources = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const useCompiled =
  existsSync(compiled) && (process.env.ONEIRIC_HEALTHD_COMPILED === "1" || !existsSync(sources));
if (useCompiled) {
  await import(compiled);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli.ts");
}
