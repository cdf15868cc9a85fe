/** `oneiric-healthd check-config FILE`: exit 0 when the file is valid (a ConfigError exits 78). */
import { loadConfigFile } from "../../config/load.js";
import { parse } from "../arguments.js";
import { UsageError } from "../usage-error.js";

export function checkConfigCommand(args: string[]): number {
  const { positionals } = parse(args, {}, 1);
  const file = positionals[0];
  if (!file) throw new UsageError("check-config needs a FILE");
  loadConfigFile(file, process.env);
  process.stdout.write(`${file}: valid\n`);
  return 0;
}
