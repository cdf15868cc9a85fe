/**
 * Help text, made from the same specs the parser reads (command-specs.ts), so
 * that every flag a command accepts is listed with its value, default and
 * description.
 */
import { synopsisOfArguments } from "./arguments.js";
import type { CommandGroup, CommandSpec, FlagSpec } from "./command-spec.js";

const PROGRAM = "oneiric-healthd";
/** Help fits an 80-column terminal. */
const WIDTH = 80;
/** Where descriptions start in the two-column lists. */
const COLUMN = 24;

const EXIT_CODES =
  "Exit codes: 0 ok, 1 failure, 2 invalid workflow file, 64 usage error, " +
  "69 a listen address in use (run, demo, simulate), 78 configuration error.";

/** `oneiric-healthd --help`: every command, one line each. */
export function overviewHelp(commands: readonly CommandSpec[]): string {
  const entry = (spec: CommandSpec) =>
    twoColumns([spec.name, synopsisOfArguments(spec)].filter(Boolean).join(" "), spec.summary);
  const section = (name: CommandSpec["section"]) =>
    commands.filter((spec) => spec.section === name).map(entry);
  return [
    `${PROGRAM}: watches the adapters of an Oneiric adapter registry`,
    "",
    `Usage: ${PROGRAM} COMMAND [ARGUMENTS] [OPTIONS]`,
    "",
    "Commands:",
    ...section("daemon"),
    twoColumns("help COMMAND", "A command's flags, defaults and examples (as COMMAND --help)."),
    "",
    "Queries (a running daemon answers them, else its database file is read):",
    ...section("query"),
    "",
    "Options:",
    twoColumns("-h, --help", "Show this help."),
    twoColumns("--version", "Print the version."),
    "",
    ...wrap(`Run ${PROGRAM} COMMAND --help for a command's flags, defaults and examples.`),
    ...wrap(EXIT_CODES),
    "",
  ].join("\n");
}

/** `oneiric-healthd COMMAND --help`. */
export function commandHelp(spec: CommandSpec): string {
  const flags = Object.entries(spec.flags);
  return [
    ...wrap(spec.summary),
    "",
    ...fill(["Usage:", ...synopsis(spec)], WIDTH - 4).map((line, index) =>
      index === 0 ? line : `    ${line}`,
    ),
    ...(spec.arguments.length === 0
      ? []
      : [
          "",
          "Arguments:",
          ...spec.arguments.map((argument) => twoColumns(argument.name, argument.description)),
        ]),
    "",
    "Options:",
    ...flags.map(([name, flag]) => twoColumns(flagLabel(name, flag), flagDescription(flag))),
    twoColumns("-h, --help", "Show this help."),
    ...(spec.notes ?? []).flatMap((note) => ["", ...wrap(note)]),
    "",
    "Examples:",
    ...spec.examples.flatMap((example) => [`  # ${example.does}`, `  ${example.command}`]),
    "",
  ].join("\n");
}

/** `oneiric-healthd workflow --help`: the group's subcommands. */
export function groupHelp(group: CommandGroup, commands: readonly CommandSpec[]): string {
  const subcommands = commands.filter((spec) => spec.name.startsWith(`${group.name} `));
  return [
    ...wrap(group.summary),
    "",
    `Usage: ${PROGRAM} ${group.name} SUBCOMMAND [ARGUMENTS] [OPTIONS]`,
    "",
    "Subcommands:",
    ...subcommands.map((spec) =>
      twoColumns(
        [spec.name.slice(group.name.length + 1), synopsisOfArguments(spec)].join(" ").trim(),
        spec.summary,
      ),
    ),
    "",
    ...wrap(`Run ${PROGRAM} ${group.name} SUBCOMMAND --help for its flags, defaults and examples.`),
    "",
  ].join("\n");
}

/** `oneiric-healthd events [--since SEQ] [--limit N] [--follow] …`, in pieces a line may end after. */
function synopsis(spec: CommandSpec): string[] {
  const flags = Object.entries(spec.flags).map(([name, flag]) => {
    const label = flagLabel(name, flag);
    return flag.type !== "boolean" && flag.required ? label : `[${label}]`;
  });
  return [`${PROGRAM} ${spec.name}`, synopsisOfArguments(spec), ...flags].filter(Boolean);
}

function flagLabel(name: string, flag: FlagSpec): string {
  return flag.type === "boolean" ? `--${name}` : `--${name} ${flag.value}`;
}

function flagDescription(flag: FlagSpec): string {
  if (flag.type === "boolean") return flag.description;
  const extras = [
    flag.required ? "Required." : "",
    flag.default === undefined ? "" : `Default: ${flag.default}.`,
  ];
  return [flag.description, ...extras].filter(Boolean).join(" ");
}

/** "  label   description", the description wrapped under itself (below the label if that is long). */
function twoColumns(label: string, description: string): string {
  const indent = " ".repeat(COLUMN);
  const [first = "", ...rest] = wrap(description, WIDTH - COLUMN);
  const head = `  ${label}`;
  const continued = rest.map((line) => `${indent}${line}`);
  return head.length < COLUMN - 1
    ? [`${head.padEnd(COLUMN)}${first}`, ...continued].join("\n")
    : [head, `${indent}${first}`, ...continued].join("\n");
}

function wrap(text: string, width = WIDTH): string[] {
  return fill(text.split(/\s+/).filter(Boolean), width);
}

/** Pieces filled into lines of at most `width` characters (a longer piece gets a line of its own). */
function fill(pieces: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of pieces) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
