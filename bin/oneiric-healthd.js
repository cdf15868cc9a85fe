#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a fresh clone works after
// `npm ci` with no build step. A compiled build (npm run build) runs dist/cli.js.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
if (process.env.ONEIRIC_HEALTHD_COMPILED === "1" && existsSync(compiled)) {
  await import(compiled);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli.ts");
}
