import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./usage-error.js";

export type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/**
 * node:util parseArgs, strict, with at most `positionals` positional arguments;
 * whatever it rejects becomes a UsageError (exit 64).
 */
export function parse<const T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  positionals = 0,
) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length > positionals) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`,
      );
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}
