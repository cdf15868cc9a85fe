export interface ScenarioIssue {
  /** Key path such as `adapters[3].slow_ms`; empty for the whole document. */
  path: string;
  /** 1-based position in the file, when the issue can be tied to one. */
  line?: number;
  column?: number;
  message: string;
}

/** A scenario that cannot be read, parsed or validated. One line per issue in `message`. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  readonly code = "SCENARIO_INVALID";

  constructor(
    readonly source: string,
    readonly issues: readonly ScenarioIssue[],
  ) {
    super(issues.map((issue) => formatIssue(source, issue)).join("\n"));
  }
}

function formatIssue(source: string, issue: ScenarioIssue): string {
  const where = issue.line === undefined ? source : `${source}:${issue.line}:${issue.column ?? 1}`;
  return issue.path === ""
    ? `${where}: ${issue.message}`
    : `${where}: ${issue.path}: ${issue.message}`;
}
