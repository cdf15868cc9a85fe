/**
 * Reads a command line against the commands' specs (command-specs.ts): which
 * command, then its flags and arguments. Every mistake becomes a UsageError in
 * the project's words, naming the flag or argument and, where one is close,
 * what was probably meant.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { closestName } from "../text/closest-name.js";
import type {
  CommandGroup,
  CommandLine,
  CommandSpec,
  FlagSpec,
  ValueFlag,
} from "./command-spec.js";
import { UsageError } from "./usage-error.js";

/** What `findCommand` found: a command, or a group named without (or with a help flag for) its subcommand. */
export type CommandChoice<Spec extends CommandSpec> =
  | { kind: "command"; spec: Spec; rest: string[] }
  | { kind: "group"; group: CommandGroup; rest: string[] };

/** `--help` or `-h`: help instead of running, wherever it stands (before `--`). */
export type ParsedCommandLine<Spec extends CommandSpec> =
  | { help: true }
  | ({ help: false } & CommandLine<Spec>);

/** The command `words` (argv without the program) name; throws a UsageError for an unknown one. */
export function findCommand<Spec extends CommandSpec>(
  words: readonly string[],
  commands: readonly Spec[],
  groups: readonly CommandGroup[],
): CommandChoice<Spec> {
  const [first = "", second, ...after] = words;
  const group = groups.find((candidate) => candidate.name === first);
  if (group) {
    const subcommands = commands.filter((spec) => spec.name.startsWith(`${group.name} `));
    const spec = subcommands.find((candidate) => candidate.name === `${group.name} ${second}`);
    if (spec) return { kind: "command", spec, rest: after };
    if (second === undefined || second.startsWith("-")) {
      return { kind: "group", group, rest: words.slice(1) };
    }
    const names = subcommands.map((candidate) => candidate.name.slice(group.name.length + 1));
    throw new UsageError(
      `unknown ${group.name} subcommand ${JSON.stringify(second)}${suggestion(second, names, "")}`,
      group.name,
    );
  }
  const spec = commands.find((candidate) => candidate.name === first);
  if (spec) return { kind: "command", spec, rest: words.slice(1) };
  const topLevel = [
    ...commands.filter((candidate) => !candidate.name.includes(" ")).map((c) => c.name),
    ...groups.map((candidate) => candidate.name),
    "help",
  ];
  throw new UsageError(
    `unknown command ${JSON.stringify(first)}${suggestion(first, topLevel, "")}`,
    "",
  );
}

/** Parses `args` (what follows the command's name) as `spec` describes. */
export function parseCommandLine<Spec extends CommandSpec>(
  spec: Spec,
  args: readonly string[],
): ParsedCommandLine<Spec> {
  const options: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type === "boolean" ? "boolean" : "string" };
  }
  // Not strict: unknown flags, missing values and switches with values come
  // back as tokens, so the messages below can say what is wrong in our words.
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const fail = (message: string) => new UsageError(message, spec.name);
  if (
    tokens.some((token) => token.kind === "option" && token.name === "help" && !token.inlineValue)
  ) {
    return { help: true };
  }
  const values: Record<string, string | number | boolean> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.type === "boolean") values[name] = false;
  }
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    if (token.kind !== "option") continue;
    const flag: FlagSpec | undefined = Object.hasOwn(spec.flags, token.name)
      ? spec.flags[token.name]
      : undefined;
    if (flag === undefined && token.name !== "help") {
      const typedLong = token.rawName.startsWith("--");
      const known = [...Object.keys(spec.flags), "help"];
      throw fail(
        `unknown option ${token.rawName} for ${spec.name}${typedLong ? suggestion(token.name, known, "--") : ""}`,
      );
    }
    if (flag === undefined || flag.type === "boolean") {
      if (token.inlineValue) {
        throw fail(`${token.rawName} takes no value; got ${token.rawName}=${token.value}`);
      }
      values[token.name] = true;
      continue;
    }
    // `--limit --json`: parseArgs took the next flag as the value. A negative
    // number (`--limit -1`) is a value, and the range check says what is wrong with it.
    if (token.value === undefined || (!token.inlineValue && looksLikeFlag(token.value))) {
      throw fail(
        `${token.rawName} needs a value (${flag.expects}, e.g. ${token.rawName} ${flag.example})`,
      );
    }
    values[token.name] =
      flag.type === "integer" ? integerValue(token.rawName, flag, token.value, fail) : token.value;
  }
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.type !== "boolean" && flag.required && values[name] === undefined) {
      throw fail(
        `${spec.name} needs --${name} ${flag.value} (${flag.expects}, e.g. --${name} ${flag.example})`,
      );
    }
  }
  const extra = positionals[spec.arguments.length];
  if (extra !== undefined) {
    const takes = spec.arguments.length === 0 ? "no arguments" : synopsisOfArguments(spec);
    throw fail(`unexpected argument ${JSON.stringify(extra)} for ${spec.name} (it takes ${takes})`);
  }
  const missing = spec.arguments.filter(
    (argument, index) => argument.required && positionals[index] === undefined,
  );
  if (missing.length > 0) {
    throw fail(`${spec.name} needs ${missing.map((argument) => argument.name).join(" and ")}`);
  }
  const namedArguments = Object.fromEntries(
    spec.arguments.map((argument, index) => [argument.name, positionals[index]]),
  );
  return { help: false, values, arguments: namedArguments } as ParsedCommandLine<Spec>;
}

/** `DOMAIN CATEGORY [PROVIDER]`. */
export function synopsisOfArguments(spec: CommandSpec): string {
  return spec.arguments
    .map((argument) => (argument.required ? argument.name : `[${argument.name}]`))
    .join(" ");
}

/** `-1` and `-` are values; `--json` and `-x` are flags. */
function looksLikeFlag(text: string): boolean {
  return /^-[^\d.]/.test(text);
}

function integerValue(
  rawName: string,
  flag: ValueFlag,
  text: string,
  fail: (message: string) => UsageError,
): number {
  const value = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
  const min = flag.min ?? Number.MIN_SAFE_INTEGER;
  const max = flag.max ?? Number.MAX_SAFE_INTEGER;
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw fail(`${rawName} must be ${integerRange(flag)}; got ${text}`);
  }
  return value;
}

/** "an integer from 1 to 1000", "a positive whole number". */
export function integerRange(flag: ValueFlag): string {
  if (flag.min !== undefined && flag.max !== undefined) {
    return `an integer from ${flag.min} to ${flag.max}`;
  }
  if (flag.min === 1) return "a positive whole number";
  if (flag.min === 0) return "a whole number, 0 or more";
  return flag.min === undefined ? "a whole number" : `an integer of at least ${flag.min}`;
}

/** "; did you mean --json?", or nothing when no candidate is close. */
function suggestion(typed: string, candidates: readonly string[], prefix: string): string {
  const meant = closestName(typed, candidates);
  return meant === undefined ? "" : `; did you mean ${prefix}${meant}?`;
}
