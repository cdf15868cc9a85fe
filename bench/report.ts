/**
 * How a benchmark reports its figures to the suite (`bench/run.ts`), and how figures are
 * printed as one table.
 *
 * Protocol: a bench script is run as `<script> [--quick] [--report <file>]` (or with the
 * file in `BENCH_REPORT`). Each figure is appended to the file as one JSON line
 * `{"type":"row", bench, name, size, settings, value, unit, goal?, goalText?, met?, note?}`;
 * a `{"type":"problem", bench, message}` line says something kept the bench from measuring
 * what it should (the suite then exits non-zero); `{"type":"fact", bench, key, value}` lines
 * carry context such as a peer's version. Lines are appended as they are measured, so a bench
 * that dies part-way still leaves what it measured. Without a report file, rows are kept in
 * memory and `finish()` prints them as a table.
 */
import { appendFileSync } from "node:fs";
import { describeGoal, goalById, meetsGoal } from "./goals.js";

export interface Row {
  type: "row";
  /** The bench's short name, e.g. "engine". */
  bench: string;
  /** What the figure is, without its settings or size, e.g. "CPU per probe, daemon". */
  name: string;
  /** Adapters (or whatever the bench scales), or null when the figure has no size. */
  size: number | null;
  /** Every setting the figure depends on, in words and config keys. */
  settings: string;
  /** null when it could not be measured (say why in `note`). */
  value: number | null;
  unit: string;
  /** A goal id from bench/goals.ts. */
  goal?: string;
  goalText?: string;
  /** Whether `value` meets the goal; null when there is a goal but no value. */
  met?: boolean | null;
  /** Anything a reader must know to trust the figure (saturated, disturbed, quick run). */
  note?: string;
}

export interface Problem {
  type: "problem";
  bench: string;
  message: string;
}

export interface Fact {
  type: "fact";
  bench: string;
  key: string;
  value: string;
}

export type ReportLine = Row | Problem | Fact;

export interface RowInput {
  name: string;
  size?: number | null;
  settings: string;
  value: number | null;
  unit: string;
  goal?: string;
  note?: string;
}

export interface BenchOptions {
  quick: boolean;
  reporter: Reporter;
}

/** Reads `--quick` and `--report <file>` (or `BENCH_REPORT`) and makes the bench's reporter. */
export function benchOptions(
  bench: string,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): BenchOptions {
  let quick = false;
  let file = env.BENCH_REPORT || undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === "--quick") quick = true;
    else if (arg === "--report") {
      file = argv[++index];
      if (!file) throw new Error("--report needs a file name (the JSON-lines file to append to)");
    } else if (arg?.startsWith("--report=")) file = arg.slice("--report=".length);
    else
      throw new Error(`unknown argument "${arg}" (this bench takes --quick and --report <file>)`);
  }
  return { quick, reporter: new Reporter(bench, file) };
}

export class Reporter {
  private readonly lines: ReportLine[] = [];

  constructor(
    readonly bench: string,
    private readonly file: string | undefined,
  ) {}

  row(input: RowInput): Row {
    const row: Row = {
      type: "row",
      bench: this.bench,
      name: input.name,
      size: input.size ?? null,
      settings: input.settings,
      value: input.value === null || Number.isFinite(input.value) ? input.value : null,
      unit: input.unit,
    };
    if (input.goal !== undefined) {
      const goal = goalById(input.goal);
      if (goal.unit !== input.unit) {
        throw new Error(
          `row "${input.name}" is in ${input.unit} but goal "${goal.id}" is in ${goal.unit}`,
        );
      }
      if (goal.size !== undefined && row.size !== goal.size) {
        throw new Error(
          `row "${input.name}" is at size ${row.size} but goal "${goal.id}" is about ${goal.size} (use goalAt)`,
        );
      }
      row.goal = goal.id;
      row.goalText = describeGoal(goal);
      row.met = row.value === null ? null : meetsGoal(goal, row.value);
    }
    if (input.note !== undefined) row.note = input.note;
    this.write(row);
    return row;
  }

  /** Something kept the bench from measuring what it should; the suite fails on it. */
  problem(message: string): void {
    console.log(`PROBLEM: ${message}`);
    this.write({ type: "problem", bench: this.bench, message });
  }

  fact(key: string, value: string): void {
    this.write({ type: "fact", bench: this.bench, key, value });
  }

  get problems(): number {
    return this.lines.filter((line) => line.type === "problem").length;
  }

  /** Without a report file, prints the rows as the suite would. */
  finish(): void {
    if (this.file !== undefined) return;
    const rows = this.lines.filter((line): line is Row => line.type === "row");
    if (rows.length > 0) console.log(`\n${formatTable(rows)}`);
  }

  private write(line: ReportLine): void {
    this.lines.push(line);
    if (this.file !== undefined) appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }
}

/** Reads a report file's lines, naming the line that is not a report line. */
export function parseReport(text: string, file: string): ReportLine[] {
  const lines: ReportLine[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${index + 1}: not JSON: ${line.slice(0, 80)}`);
    }
    const type = (parsed as { type?: unknown }).type;
    if (type !== "row" && type !== "problem" && type !== "fact") {
      throw new Error(`${file}:${index + 1}: "type" must be row, problem or fact`);
    }
    lines.push(parsed as ReportLine);
  });
  return lines;
}

// ---------------------------------------------------------------------------------------------
// The table

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A figure with about three significant digits, never in exponent notation. */
export function formatValue(value: number | null): string {
  if (value === null) return "n/a";
  const magnitude = Math.abs(value);
  if (magnitude >= 100 || Number.isInteger(value)) return integer.format(value);
  const digits = magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : magnitude >= 0.01 ? 3 : 4;
  return value.toFixed(digits);
}

function formatSize(size: number | null): string {
  return size === null ? "value" : integer.format(size);
}

/**
 * Rows grouped by bench; within a group one line per figure (name and unit), its sizes
 * side by side; settings as footnotes below the group. A value that misses its goal is marked
 * with "!".
 */
export function formatTable(rows: readonly Row[], benchTitles: Map<string, string> = new Map()) {
  const out: string[] = [];
  const benches = [...new Set(rows.map((row) => row.bench))];
  for (const bench of benches) {
    const ofBench = rows.filter((row) => row.bench === bench);
    const sizes = [...new Set(ofBench.map((row) => row.size))].sort(
      (a, b) => (a ?? -1) - (b ?? -1),
    );
    const settings = [...new Set(ofBench.map((row) => row.settings))];
    // One line per figure: the same name and unit at every size, even where the settings
    // (iterations, windows) differ by size; the settings column lists each one's footnote.
    const keyOf = (row: Row) => `${row.name}\u0000${row.unit}`;
    const figures = new Map<string, Row[]>();
    for (const row of ofBench) figures.set(keyOf(row), [...(figures.get(keyOf(row)) ?? []), row]);

    const header = ["figure", "unit", ...sizes.map(formatSize), "goal", "met", "settings"];
    const anyGoal = ofBench.some((row) => row.goal !== undefined);
    const body: string[][] = [];
    const notes: string[] = [];
    for (const group of figures.values()) {
      const first = group[0] as Row;
      const cells = sizes.map((size) => {
        const row = group.find((candidate) => candidate.size === size);
        if (!row) return "";
        const mark = row.met === false ? "!" : "";
        return `${formatValue(row.value)}${mark}`;
      });
      const withGoal = group.filter((row) => row.goal !== undefined);
      const met =
        withGoal.length === 0
          ? ""
          : withGoal.some((row) => row.met === false)
            ? "NOT met"
            : withGoal.some((row) => row.met === null || row.met === undefined)
              ? "n/a"
              : "met";
      body.push([
        first.name,
        first.unit,
        ...cells,
        withGoal[0]?.goalText ?? "",
        met,
        `[${[...new Set(group.map((row) => settings.indexOf(row.settings) + 1))].join(",")}]`,
      ]);
      for (const row of group) {
        if (row.note)
          notes.push(
            `${first.name}${row.size === null ? "" : ` at ${formatSize(row.size)}`}: ${row.note}`,
          );
      }
    }
    const widths = header.map((_, column) =>
      Math.max(...[header, ...body].map((line) => (line[column] ?? "").length)),
    );
    const numeric = (column: number) => column >= 2 && column < 2 + sizes.length;
    const render = (line: string[]) =>
      line
        .map((cell, column) =>
          numeric(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
        )
        // Without any goal in the group, the goal and met columns stay out.
        .filter(
          (_, column) => anyGoal || column < header.length - 3 || column === header.length - 1,
        )
        .join("  ")
        .trimEnd();
    out.push(`== ${benchTitles.get(bench) ?? bench} ==`);
    out.push(render(header));
    for (const line of body) out.push(render(line));
    out.push("settings:");
    for (const [index, text] of settings.entries()) out.push(`  [${index + 1}] ${text}`);
    if (notes.length > 0) {
      out.push("notes:");
      for (const note of notes) out.push(`  - ${note}`);
    }
    out.push("");
  }
  return out.join("\n");
}
