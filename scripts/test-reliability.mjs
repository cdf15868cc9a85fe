// `npm run test:reliability [-- --soak] [vitest arguments]`: runs the reliability
// suite; --soak makes the soak test run 30 minutes instead of 3 (vitest knows no
// such flag, so it travels as ONEIRIC_SOAK_MINUTES).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const env = { ...process.env };
const soak = args.indexOf("--soak");
if (soak !== -1) {
  args.splice(soak, 1);
  env.ONEIRIC_SOAK_MINUTES = "30";
}
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
const result = spawnSync(
  process.execPath,
  [vitest, "run", "--config", "vitest.reliability.config.ts", ...args],
  { stdio: "inherit", env, cwd: fileURLToPath(new URL("..", import.meta.url)) },
);
if (result.error) throw result.error;
process.exit(result.status ?? 1);
