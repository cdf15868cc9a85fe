import { describe, expect, it } from "vitest";
import { findCommand, parseCommandLine } from "./arguments.js";
import type { CommandSpec } from "./command-spec.js";
import {
  COMMAND_GROUPS,
  COMMANDS,
  EVENTS_COMMAND,
  RESOLVE_COMMAND,
  SIMULATE_COMMAND,
  STATUS_COMMAND,
} from "./command-specs.js";
import { UsageError } from "./usage-error.js";

/** The UsageError `action` throws: its message and whose help it points at. */
function usageErrorOf(action: () => unknown): { message: string; helpFor: string | undefined } {
  try {
    action();
  } catch (error) {
    if (error instanceof UsageError) return { message: error.message, helpFor: error.helpFor };
    throw error;
  }
  throw new Error("no usage error");
}

describe("parseCommandLine", () => {
  it("hands the command typed values and named arguments", () => {
    const line = parseCommandLine(RESOLVE_COMMAND, [
      "adapter",
      "--json",
      "storage",
      "--project=mahavishnu",
      "s3",
    ]);
    expect(line).toEqual({
      help: false,
      values: { json: true, panic: false, project: "mahavishnu" },
      arguments: { DOMAIN: "adapter", CATEGORY: "storage", PROVIDER: "s3" },
    });
    expect(parseCommandLine(EVENTS_COMMAND, ["--limit", "50", "--since=0"])).toMatchObject({
      values: { limit: 50, since: 0, follow: false },
    });
  });

  it("answers help for --help or -h anywhere, even beside a mistake", () => {
    expect(parseCommandLine(STATUS_COMMAND, ["--help"])).toEqual({ help: true });
    expect(parseCommandLine(STATUS_COMMAND, ["x", "-h"])).toEqual({ help: true });
    expect(parseCommandLine(STATUS_COMMAND, ["--jsno", "--help"])).toEqual({ help: true });
    // After `--` it is an argument like any other.
    expect(parseCommandLine(STATUS_COMMAND, ["--", "--help"])).toMatchObject({
      arguments: { ID: "--help" },
    });
  });

  const mistakes: [CommandSpec, string[], string][] = [
    [STATUS_COMMAND, ["--jsno"], "unknown option --jsno for status; did you mean --json?"],
    [EVENTS_COMMAND, ["--folow"], "unknown option --folow for events; did you mean --follow?"],
    [STATUS_COMMAND, ["--verbose"], "unknown option --verbose for status"],
    [STATUS_COMMAND, ["-j"], "unknown option -j for status"],
    [EVENTS_COMMAND, ["--limit"], "--limit needs a value (a number of events, e.g. --limit 50)"],
    [
      EVENTS_COMMAND,
      ["--limit", "--json"],
      "--limit needs a value (a number of events, e.g. --limit 50)",
    ],
    [EVENTS_COMMAND, ["--limit", "-1"], "--limit must be an integer from 1 to 1000; got -1"],
    [EVENTS_COMMAND, ["--limit=1001"], "--limit must be an integer from 1 to 1000; got 1001"],
    [EVENTS_COMMAND, ["--limit", "ten"], "--limit must be an integer from 1 to 1000; got ten"],
    [EVENTS_COMMAND, ["--since", "-3"], "--since must be a whole number, 0 or more; got -3"],
    [EVENTS_COMMAND, ["--json=yes"], "--json takes no value; got --json=yes"],
    [STATUS_COMMAND, ["a", "b"], 'unexpected argument "b" for status (it takes [ID])'],
    [EVENTS_COMMAND, ["x"], 'unexpected argument "x" for events (it takes no arguments)'],
    [RESOLVE_COMMAND, ["adapter"], "resolve needs CATEGORY"],
    [RESOLVE_COMMAND, [], "resolve needs DOMAIN and CATEGORY"],
    [
      SIMULATE_COMMAND,
      ["--listen", "127.0.0.1:0"],
      "simulate needs --scenario FILE (a scenario file, e.g. --scenario examples/scenarios/demo.yaml)",
    ],
    [
      SIMULATE_COMMAND,
      ["--scenario", "s.yaml", "--watch-interval-ms", "0"],
      "--watch-interval-ms must be a positive whole number; got 0",
    ],
  ];
  it.each(mistakes.map(([spec, args, message]) => [spec.name, args, message, spec] as const))(
    "%s %j: %s",
    (_name, args, message, spec) => {
      expect(usageErrorOf(() => parseCommandLine(spec, args))).toEqual({
        message,
        helpFor: spec.name,
      });
    },
  );

  it("takes a value that starts with a dash when it is given with =", () => {
    expect(parseCommandLine(STATUS_COMMAND, ["--db=-odd.db"])).toMatchObject({
      values: { db: "-odd.db" },
    });
  });
});

describe("findCommand", () => {
  it("finds commands and subcommands, and leaves the rest to their parser", () => {
    expect(findCommand(["status", "--json"], COMMANDS, COMMAND_GROUPS)).toMatchObject({
      kind: "command",
      spec: { name: "status" },
      rest: ["--json"],
    });
    expect(findCommand(["workflow", "check", "f.yaml"], COMMANDS, COMMAND_GROUPS)).toMatchObject({
      kind: "command",
      spec: { name: "workflow check" },
      rest: ["f.yaml"],
    });
    expect(findCommand(["workflow", "--help"], COMMANDS, COMMAND_GROUPS)).toMatchObject({
      kind: "group",
      group: { name: "workflow" },
      rest: ["--help"],
    });
  });

  it.each([
    [["stauts"], 'unknown command "stauts"; did you mean status?', ""],
    [["resolv", "adapter"], 'unknown command "resolv"; did you mean resolve?', ""],
    [["frobnicate"], 'unknown command "frobnicate"', ""],
    [["workflow", "chek"], 'unknown workflow subcommand "chek"; did you mean check?', "workflow"],
    [["workflow", "lint"], 'unknown workflow subcommand "lint"', "workflow"],
  ])("%j: %s", (words, message, helpFor) => {
    expect(usageErrorOf(() => findCommand(words, COMMANDS, COMMAND_GROUPS))).toEqual({
      message,
      helpFor,
    });
  });
});
