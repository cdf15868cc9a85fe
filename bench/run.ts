/**
 * The benchmark suite: runs every bench script as a child process, one after the other (never
 * two at once: they would compete for the cores), collects the rows each reports
 * (bench/report.ts), prints one table and writes the results file.
 *
 * Run: npm run bench                 full run, writes bench/results.json
 *      npm run bench -- --quick      smoke run, writes bench/results-quick.json
 *      npm run bench -- --only engine,memory   some benches only
 *      npm run bench -- --out <file>           another results file
 *
 * Exits non-zero when a bench exits non-zero or reports a problem (e.g. the peer,
 * blackbox_exporter, could not run), after printing and writing what was measured.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GOALS } from "./goals.js";
import {
  type Fact,
  formatTable,
  formatValue,
  type Problem,
  parseReport,
  type Row,
} from "./report.js";

interface BenchSpec {
  /** The name the bench reports its rows under (its `benchOptions` name). */
  name: string;
  script: string;
  nodeArgs?: string[];
  env?: Record<string, string>;
}

/**
 * Every bench in the suite, in the order they run. A new bench is one more entry here: it
 * takes `--quick` and `--report <file>` and reports through bench/report.ts.
 */
const BENCHES: readonly BenchSpec[] = [
  { name: "registry", script: "bench/registry-client.bench.ts" },
  { name: "resolution", script: "bench/resolution.bench.ts" },
  { name: "probe-cost", script: "bench/probe-cost.bench.ts" },
  { name: "catalog-sync", script: "bench/catalog-sync.bench.ts" },
  { name: "memory", script: "bench/memory.bench.ts", nodeArgs: ["--expose-gc"] },
  { name: "history", script: "bench/history.bench.ts" },
  { name: "queries-quiet", script: "bench/query-surfaces.bench.ts" },
  {
    name: "queries-flip",
    script: "bench/query-surfaces.bench.ts",
    env: { BENCH_QUERIES_LOAD: "flip" },
  },
  { name: "start-stop", script: "bench/start-stop.bench.ts" },
  { name: "scale-out", script: "bench/scale-out.bench.ts" },
  { name: "engine", script: "bench/health-engine.bench.ts" },
];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Options {
  quick: boolean;
  only: string[] | undefined;
  out: string;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let only: string[] | undefined;
  let out: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--quick") quick = true;
    else if (arg === "--only") only = value().split(",").filter(Boolean);
    else if (arg === "--out") out = value();
    else {
      throw new Error(
        `unknown argument "${arg}" (the suite takes --quick, --only <bench,...>, --out <file>)`,
      );
    }
  }
  const known = BENCHES.map((bench) => bench.name);
  const unknown = (only ?? []).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`--only: no bench named ${unknown.join(", ")} (known: ${known.join(", ")})`);
  }
  return {
    quick,
    only,
    out: out ?? join(ROOT, "bench", quick ? "results-quick.json" : "results.json"),
  };
}

function git(args: string[]): string {
  const run = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim() : "";
}

interface BenchOutcome {
  name: string;
  script: string;
  exitCode: number | null;
  signal: string | null;
  durationSec: number;
  problems: string[];
}

async function runBench(
  spec: BenchSpec,
  quick: boolean,
  reportFile: string,
): Promise<{ exitCode: number | null; signal: string | null; durationSec: number }> {
  const args = [
    ...(spec.nodeArgs ?? []),
    "--import",
    "tsx",
    spec.script,
    ...(quick ? ["--quick"] : []),
    "--report",
    reportFile,
  ];
  console.log(`\n>>> ${spec.name}: node ${args.join(" ")}`);
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...spec.env },
  });
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.once("exit", (code, sig) => resolve([code, sig])),
  );
  const durationSec = (performance.now() - started) / 1000;
  console.log(`<<< ${spec.name}: exit ${exitCode ?? signal} after ${durationSec.toFixed(0)} s`);
  return { exitCode, signal, durationSec };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const benches = BENCHES.filter((bench) => options.only?.includes(bench.name) ?? true);
  const startedAt = new Date();
  const dir = mkdtempSync(join(tmpdir(), "oneiric-healthd-bench-suite-"));
  const rows: Row[] = [];
  const facts: Fact[] = [];
  const outcomes: BenchOutcome[] = [];
  try {
    for (const spec of benches) {
      const reportFile = join(dir, `${spec.name}.jsonl`);
      writeFileSync(reportFile, "");
      const run = await runBench(spec, options.quick, reportFile);
      const lines = parseReport(readFileSync(reportFile, "utf8"), reportFile);
      const problems = lines
        .filter((line): line is Problem => line.type === "problem")
        .map((line) => line.message);
      rows.push(...lines.filter((line): line is Row => line.type === "row"));
      facts.push(...lines.filter((line): line is Fact => line.type === "fact"));
      outcomes.push({ name: spec.name, script: spec.script, ...run, problems });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const finishedAt = new Date();

  const titles = new Map(
    outcomes.map((outcome) => [
      outcome.name,
      `${outcome.name} (${outcome.script}, ${outcome.durationSec.toFixed(0)} s)`,
    ]),
  );
  console.log(
    `\n==================== benchmark suite${options.quick ? " (QUICK: smoke run, figures not comparable)" : ""} ====================\n`,
  );
  console.log(formatTable(rows, titles));

  const goals = GOALS.map((goal) => {
    const judged = rows.filter((row) => row.goal === goal.id);
    const status =
      judged.length === 0
        ? "not measured"
        : judged.some((row) => row.met === false)
          ? "not met"
          : judged.some((row) => row.met !== true)
            ? "no value"
            : "met";
    return {
      ...goal,
      status,
      rows: judged.map((row) => ({
        bench: row.bench,
        name: row.name,
        size: row.size,
        value: row.value,
        unit: row.unit,
        met: row.met ?? null,
      })),
    };
  });
  console.log("== goals ==");
  for (const goal of goals) {
    const figures = goal.rows
      .map(
        (row) =>
          `${row.name}${row.size === null ? "" : ` @ ${row.size.toLocaleString("en-US")}`}: ${formatValue(row.value)} ${row.unit}`,
      )
      .join("; ");
    const where = goal.status === "not measured" ? ` (expected from ${goal.bench})` : "";
    console.log(`  ${goal.status.toUpperCase().padEnd(12)} ${goal.text}${where}`);
    if (figures) console.log(`               ${figures}`);
  }

  const failed = outcomes.filter(
    (outcome) => outcome.exitCode !== 0 || outcome.problems.length > 0,
  );
  const commit = git(["rev-parse", "HEAD"]);
  const results = {
    suite: options.quick ? "npm run bench -- --quick" : "npm run bench",
    quick: options.quick,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSec: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    machine: {
      cpuModel: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      memoryBytes: totalmem(),
      kernel: release(),
    },
    node: process.version,
    commit: { sha: commit, dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "" },
    facts: Object.fromEntries(facts.map((fact) => [`${fact.bench}.${fact.key}`, fact.value])),
    benches: outcomes,
    rows,
    goals,
    ok: failed.length === 0,
  };
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${options.out}; ${results.durationSec} s in all`);
  if (failed.length > 0) {
    for (const outcome of failed) {
      const why = [
        ...(outcome.exitCode !== 0 ? [`exit ${outcome.exitCode ?? outcome.signal}`] : []),
        ...outcome.problems,
      ].join("; ");
      console.log(`FAILED: ${outcome.name}: ${why}`);
    }
    return 1;
  }
  return 0;
}

process.exitCode = await main();
