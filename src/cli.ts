/**
 * The command line: picks the command (src/cli/commands/), reads its flags and
 * arguments against its spec (src/cli/command-specs.ts), prints help and
 * version, and maps what a command returns or throws to the exit code.
 */
import { findCommand, parseCommandLine } from "./cli/arguments.js";
import type { CommandLine, CommandSpec } from "./cli/command-spec.js";
import { COMMAND_GROUPS, COMMANDS } from "./cli/command-specs.js";
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_UNAVAILABLE, EXIT_USAGE } from "./cli/exit-codes.js";
import { printNotice, stdoutFlushed } from "./cli/output.js";
import { commandHelp, groupHelp, overviewHelp } from "./cli/usage.js";
import { UsageError } from "./cli/usage-error.js";
import { ClusterOptionError } from "./cluster/cluster-option-error.js";
import { ConfigError } from "./config/errors.js";
import { AddressInUseError } from "./lifecycle/address-in-use.js";
import { packageVersion } from "./package-version.js";
import { ScenarioError } from "./simulator/scenario-error.js";
import { closestName } from "./text/closest-name.js";

type Command = (typeof COMMANDS)[number];

import { StorageError } from "./storage/storage-error.js";

/**
 * What runs each command, given its parsed command line. Each command's module
 * is imported only when that command runs: `--help`, `--version`, usage errors
 * and the query commands do not load the daemon (gRPC, SQLite, the MCP SDK), so
 * they start in a fraction of the time. A spec without a runner does not compile.
 */
const RUNNERS: {
  [Spec in Command as Spec["name"]]: (line: CommandLine<Spec>) => Promise<number> | number;
} = {
  run: async (line) => (await import("./cli/commands/run.js")).runCommand(line),
  status: async (line) => (await import("./cli/commands/status.js")).statusCommand(line),
  uptime: async (line) => (await import("./cli/commands/uptime.js")).uptimeCommand(line),
  simulate: async (line) => (await import("./cli/commands/simulate.js")).simulateCommand(line),
  "check-config": async (line) =>
    (await import("./cli/commands/check-config.js")).checkConfigCommand(line),
  demo: async (line) => (await import("./cli/commands/demo.js")).demoCommand(line),
  healthcheck: async (line) =>
    (await import("./cli/commands/healthcheck.js")).healthcheckCommand(line),
  resolve: async (line) => (await import("./cli/commands/resolve.js")).resolveCommand(line),
  events: async (line) => (await import("./cli/commands/events.js")).eventsCommand(line),
  "workflow check": async (line) =>
    (await import("./cli/commands/workflow.js")).workflowCheckCommand(line),
  mcp: async (line) => (await import("./cli/commands/mcp.js")).mcpCommand(line),
};

const HELP_FLAGS = new Set(["--help", "-h"]);

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stdout.write(overviewHelp(COMMANDS));
    return EXIT_USAGE;
  }
  if (HELP_FLAGS.has(first)) {
    process.stdout.write(overviewHelp(COMMANDS));
    return 0;
  }
  if (first === "--version") {
    process.stdout.write(`oneiric-healthd ${packageVersion()}\n`);
    return 0;
  }
  if (first === "help") {
    process.stdout.write(
      rest.length === 0 || rest[0] === "help" ? overviewHelp(COMMANDS) : helpOf(rest),
    );
    return 0;
  }
  if (first.startsWith("-")) {
    const meant = closestName(first.replace(/^-+/, ""), ["help", "version"]);
    throw new UsageError(
      `unknown option ${first}${meant === undefined ? "" : `; did you mean --${meant}?`}`,
      "",
    );
  }
  const choice = findCommand(argv, COMMANDS, COMMAND_GROUPS);
  if (choice.kind === "group") {
    if (choice.rest.length === 1 && HELP_FLAGS.has(choice.rest[0] ?? "")) {
      process.stdout.write(groupHelp(choice.group, COMMANDS));
      return 0;
    }
    const subcommands = COMMANDS.filter((spec) => spec.name.startsWith(`${choice.group.name} `));
    throw new UsageError(
      `${choice.group.name} needs a subcommand: ${subcommands.map((spec) => spec.name).join(", ")}`,
      choice.group.name,
    );
  }
  const line = parseCommandLine(choice.spec, choice.rest);
  if (line.help) {
    process.stdout.write(commandHelp(choice.spec));
    return 0;
  }
  // Sound: `line` was parsed from `choice.spec`, the spec this runner is typed by.
  const run = RUNNERS[choice.spec.name] as (line: CommandLine<CommandSpec>) => Promise<number>;
  try {
    return await run(line);
  } catch (error) {
    // A usage error the command found itself (two flags that go together) points at its help.
    if (error instanceof UsageError && error.helpFor === undefined) {
      throw new UsageError(error.message, choice.spec.name);
    }
    throw error;
  }
}

/** `help COMMAND`: that command's (or group's) help. */
function helpOf(words: readonly string[]): string {
  const choice = findCommand(words, COMMANDS, COMMAND_GROUPS);
  return choice.kind === "group" ? groupHelp(choice.group, COMMANDS) : commandHelp(choice.spec);
}

/** Says what went wrong and returns the exit code for it. */
function reportFailure(error: unknown): number {
  if (error instanceof ConfigError || error instanceof ScenarioError) {
    // A ConfigError's message has a line per problem: each is printed as an error of its own.
    for (const line of error.message.split("\n")) printNotice(`configuration error: ${line}`);
    return EXIT_CONFIG;
  }
  if (error instanceof ClusterOptionError) {
    // Caught by the config loader as a rule; this is what reading the files at start found.
    printNotice(`configuration error: healthd.cluster.nats: ${error.message}`);
    return EXIT_CONFIG;
  }
  if (error instanceof StorageError) {
    // The message names the path, the cause and where the path was set.
    printNotice(error.message);
    return EXIT_CONFIG;
  }
  if (error instanceof AddressInUseError) {
    printNotice(error.message);
    return EXIT_UNAVAILABLE;
  }
  if (error instanceof UsageError) {
    const help = ["oneiric-healthd", error.helpFor, "--help"].filter(Boolean).join(" ");
    printNotice(`${error.message}\nRun ${help} for usage.`);
    return EXIT_USAGE;
  }
  printNotice(error instanceof Error ? error.message : String(error));
  return EXIT_FAILURE;
}

/** Longest wait for a pipe to take the last of stdout before exiting anyway. */
const STDOUT_FLUSH_LIMIT_MS = 5_000;

// A reader that goes away (`status --watch | head`, `events --follow | head -1`) ends the
// command as a closed pipe ends any Unix filter: quietly, not with an EPIPE stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    // Exit at once: a lingering keep-alive socket or timer must not hold a stopped daemon open.
    // But not before stdout is handed on: process.exit drops what a pipe has not taken yet
    // (past its 64 KiB on Linux), which cut `status --json | jq` short. A reader that never
    // reads gets STDOUT_FLUSH_LIMIT_MS, not a daemon that cannot stop.
    const exit = () => process.exit(code);
    setTimeout(exit, STDOUT_FLUSH_LIMIT_MS).unref();
    stdoutFlushed().then(exit, exit);
  },
  (error: unknown) => {
    process.exitCode = reportFailure(error);
  },
);
