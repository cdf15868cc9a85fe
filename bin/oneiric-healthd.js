#!/usr/bin/env node
// An installed package runs the compiled build in dist/ (it ships no src/). A
// checkout runs the TypeScript sources through tsx (a development dependency),
// so a fresh clone works after `npm ci` with no build step; ONEIRIC_HEALTHD_COMPILED=1
// makes a checkout run its dist/ too (after `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const sources = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const hasCompiled = existsSync(compiled);
if (hasCompiled && (process.env.ONEIRIC_HEALTHD_COMPILED === "1" || !existsSync(sources))) {
  await import(compiled);
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    // Sources without tsx: a checkout installed with --omit=dev.
  }
  if (tsx) {
    tsx.register();
    await import("../src/cli.ts");
  } else if (hasCompiled) {
    await import(compiled);
  } else {
    process.stderr.write(
      "oneiric-healthd: this checkout has neither tsx (run `npm ci`) nor a compiled build (run `npm run build`)\n",
    );
    process.exit(70);
  }
}
