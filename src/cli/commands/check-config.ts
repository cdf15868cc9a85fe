/** `oneiric-healthd check-config FILE`: exit 0 when the file is valid (a ConfigError exits 78). */
import { loadConfigFile } from "../../config/load.js";
import type { CommandLine } from "../command-spec.js";
import type { CHECK_CONFIG_COMMAND } from "../command-specs.js";

export function checkConfigCommand(line: CommandLine<typeof CHECK_CONFIG_COMMAND>): number {
  const file = line.arguments.FILE;
  loadConfigFile(file, process.env);
  process.stdout.write(`${file}: valid\n`);
  return 0;
}
