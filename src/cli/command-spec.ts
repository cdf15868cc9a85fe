/**
 * How a command is described once, for both its parser (arguments.ts) and its
 * help (usage.ts): a flag that is parsed is a flag that `--help` lists.
 */

/** A flag that takes a value: `--db PATH`. */
export interface ValueFlag {
  type: "string" | "integer";
  /** The value's name in usage text: FILE, PATH, HOST:PORT. */
  value: string;
  /** What the value is and one example of it, for "--db needs a value (a database file, e.g. --db ./x.db)". */
  expects: string;
  example: string;
  /** What the flag does, one sentence as help prints it. */
  description: string;
  /** What applies without the flag, as help shows it; the code that applies it stays where it is. */
  default?: string;
  /** A flag the command cannot run without: shown without brackets in the synopsis. */
  required?: boolean;
  /** `integer` only: the range a value must be in (checked by the parser). */
  min?: number;
  max?: number;
}

/** A flag that is on or off: `--json`. */
export interface SwitchFlag {
  type: "boolean";
  description: string;
}

export type FlagSpec = ValueFlag | SwitchFlag;

/** A positional argument; required ones come before optional ones. */
export interface ArgumentSpec {
  name: string;
  description: string;
  required?: boolean;
}

export interface CommandExample {
  command: string;
  /** What it shows or does. */
  does: string;
}

export interface CommandSpec<
  Flags extends Readonly<Record<string, FlagSpec>> = Readonly<Record<string, FlagSpec>>,
  Arguments extends readonly ArgumentSpec[] = readonly ArgumentSpec[],
  Name extends string = string,
> {
  /** As typed after `oneiric-healthd`: `status`, `workflow check`. */
  name: Name;
  /** One line for the command list and the top of its help. */
  summary: string;
  /** Where the top-level help lists it. */
  section: "daemon" | "query";
  arguments: Arguments;
  flags: Flags;
  /** Paragraphs after the flags: exit codes, where answers come from. */
  notes?: readonly string[];
  examples: readonly CommandExample[];
}

/** Commands that share a first word (`workflow check`): `workflow --help` lists them. */
export interface CommandGroup {
  name: string;
  summary: string;
}

/** What the parser hands a command: each flag's value and each argument by its name. */
export interface CommandLine<Spec extends CommandSpec> {
  values: FlagValues<Spec["flags"]>;
  arguments: ArgumentValues<Spec["arguments"]>;
}

type FlagValue<Flag extends FlagSpec> = Flag extends SwitchFlag
  ? boolean
  : Flag extends { type: "integer" }
    ? Flag extends { required: true }
      ? number
      : number | undefined
    : Flag extends { required: true }
      ? string
      : string | undefined;

export type FlagValues<Flags extends Readonly<Record<string, FlagSpec>>> = {
  -readonly [Name in keyof Flags]: FlagValue<Flags[Name]>;
};

export type ArgumentValues<Arguments extends readonly ArgumentSpec[]> = {
  [Argument in Arguments[number] as Argument["name"]]: Argument extends { required: true }
    ? string
    : string | undefined;
};

/** A command's spec with its literal types kept, so its CommandLine is typed flag by flag. */
export function defineCommand<
  const Name extends string,
  const Flags extends Readonly<Record<string, FlagSpec>>,
  const Arguments extends readonly ArgumentSpec[],
>(spec: CommandSpec<Flags, Arguments, Name>): CommandSpec<Flags, Arguments, Name> {
  return spec;
}
