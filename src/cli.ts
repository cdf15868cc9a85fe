/**
 * The command line: picks the command (src/cli/commands/), prints help and
 * version, and maps what a command returns or throws to the exit code.
 */
import { checkConfigCommand } from "./cli/commands/check-config.js";
import { demoCommand } from "./cli/commands/demo.js";
import { eventsCommand } from "./cli/commands/events.js";
import { mcpCommand } from "./cli/commands/mcp.js";
import { resolveCommand } from "./cli/commands/resolve.js";
import { runCommand } from "./cli/commands/run.js";
import { simulateCommand } from "./cli/commands/simulate.js";
import { statusCommand } from "./cli/commands/status.js";
import { workflowCommand } from "./cli/commands/workflow.js";
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE } from "./cli/exit-codes.js";
import { printNotice } from "./cli/output.js";
import { USAGE } from "./cli/usage.js";
import { UsageError } from "./cli/usage-error.js";
import { ConfigError } from "./config/errors.js";
import { packageVersion } from "./package-version.js";
import { ScenarioError } from "./simulator/scenario.js";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? EXIT_USAGE : 0;
    case "--version":
      process.stdout.write(`oneiric-healthd ${packageVersion()}\n`);
      return 0;
    case "run":
      return runCommand(rest);
    case "status":
      return statusCommand(rest);
    case "simulate":
      return simulateCommand(rest);
    case "check-config":
      return checkConfigCommand(rest);
    case "demo":
      return demoCommand(rest);
    case "resolve":
      return resolveCommand(rest);
    case "events":
      return eventsCommand(rest);
    case "workflow":
      return workflowCommand(rest);
    case "mcp":
      return mcpCommand(rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** Says what went wrong and returns the exit code for it. */
function reportFailure(error: unknown): number {
  if (error instanceof ConfigError || error instanceof ScenarioError) {
    printNotice(`configuration error: ${error.message}`);
    return EXIT_CONFIG;
  }
  if (error instanceof UsageError) {
    printNotice(`${error.message}\nRun oneiric-healthd --help for usage.`);
    return EXIT_USAGE;
  }
  printNotice(error instanceof Error ? error.message : String(error));
  return EXIT_FAILURE;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit at once: a lingering keep-alive socket or timer must not hold a stopped daemon open.
    process.exit(code);
  },
  (error: unknown) => {
    process.exitCode = reportFailure(error);
  },
);
