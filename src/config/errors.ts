/** Exit code for configuration errors (EX_CONFIG from sysexits.h). */
export const EXIT_CONFIG = 78;

/** One thing wrong with a configuration file. */
export interface ConfigProblem {
  file: string;
  /** The dotted key (`healthd.probes.rise`, `healthd.overrides[0].match`); "" for the file as a whole. */
  key: string;
  problem: string;
  /** 1-based; undefined when the file gives none (it cannot be read, or is too big to parse). */
  line?: number | undefined;
}

/** A problem found inside a file: the file is the one being read. */
export type ProblemInFile = Omit<ConfigProblem, "file">;

/** `FILE:LINE: KEY: problem`, leaving out the line and key where there are none. */
export function formatProblem({ file, key, problem, line }: ConfigProblem): string {
  const where = line === undefined ? file : `${file}:${line}`;
  return key === "" ? `${where}: ${problem}` : `${where}: ${key}: ${problem}`;
}

/**
 * A configuration that cannot be used, with every problem found in it, in file
 * order. The message has one `FILE:LINE: KEY: problem` line per problem;
 * `file`, `key`, `problem` and `line` are those of the first.
 */
export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  readonly problems: readonly ConfigProblem[];
  readonly file: string;
  readonly key: string;
  readonly problem: string;
  readonly line: number | undefined;

  constructor(problems: readonly [ConfigProblem, ...ConfigProblem[]]);
  constructor(file: string, key: string, problem: string, line?: number);
  constructor(
    first: string | readonly [ConfigProblem, ...ConfigProblem[]],
    key = "",
    problem = "",
    line?: number,
  ) {
    const problems =
      typeof first === "string" ? [{ file: first, key, problem, line }] : inFileOrder(first);
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
    const head = problems[0] as ConfigProblem;
    this.file = head.file;
    this.key = head.key;
    this.problem = head.problem;
    this.line = head.line;
  }

  /** The problems found in `file` (at least one). */
  static inFile(file: string, problems: readonly ProblemInFile[]): ConfigError {
    const [first, ...rest] = problems.map((problem) => ({ file, ...problem }));
    if (first === undefined) throw new RangeError("a ConfigError needs a problem");
    return new ConfigError([first, ...rest]);
  }
}

/** Sorted by line (problems without one last), the same problem said once. */
function inFileOrder(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return [...problems]
    .sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER))
    .filter((problem) => {
      const text = formatProblem(problem);
      if (seen.has(text)) return false;
      seen.add(text);
      return true;
    });
}
