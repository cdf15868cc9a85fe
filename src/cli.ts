/**
 * The command line: picks the command (src/cli/commands/), prints help and
 * version, and maps what a command returns or throws to the exit code.
 */
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_UNAVAILABLE, EXIT_USAGE } from "./cli/exit-codes.js";
import { printNotice } from "./cli/output.js";
import { USAGE } from "./cli/usage.js";
import { UsageError } from "./cli/usage-error.js";
import { ConfigError } from "./config/errors.js";
import { AddressInUseError } from "./lifecycle/address-in-use.js";
import { packageVersion } from "./package-version.js";
import { ScenarioError } from "./simulator/scenario-error.js";

/**
 * Each command's module is imported only when that command runs: `--help`,
 * `--version` and the query commands do not load the daemon (gRPC, SQLite, the
 * MCP SDK), so they start in a fraction of the time.
 */
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
      return (await import("./cli/commands/run.js")).runCommand(rest);
    case "status":
      return (await import("./cli/commands/status.js")).statusCommand(rest);
    case "simulate":
      return (await import("./cli/commands/simulate.js")).simulateCommand(rest);
    case "check-config":
      return (await import("./cli/commands/check-config.js")).checkConfigCommand(rest);
    case "demo":
      return (await import("./cli/commands/demo.js")).demoCommand(rest);
    case "resolve":
      return (await import("./cli/commands/resolve.js")).resolveCommand(rest);
    case "events":
      return (await import("./cli/commands/events.js")).eventsCommand(rest);
    case "workflow":
      return (await import("./cli/commands/workflow.js")).workflowCommand(rest);
    case "mcp":
      return (await import("./cli/commands/mcp.js")).mcpCommand(rest);
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
  if (error instanceof AddressInUseError) {
    printNotice(error.message);
    return EXIT_UNAVAILABLE;
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
