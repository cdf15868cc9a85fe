// Checks the observability assets against what the daemon exports (used by
// scripts/check-observability.sh):
//
//   node scripts/check-observability-assets.mjs --metrics FILE
//     [--dashboard FILE]... [--rules FILE]... [--runbooks FILE] [--logs FILE] [--emit-rules FILE]
//
// - every metric a dashboard or rules file queries must be in the /metrics
//   exposition FILE: each PromQL `expr` is reduced to its metric names, and the
//   exposition's names come from its # TYPE lines (so a labelled counter without
//   samples yet counts; histograms add _bucket, _sum and _count);
// - with --runbooks, every alert's runbook_url anchor must be a heading of that
//   Markdown file (GitHub's slug of the heading);
// - with --logs, every line of a daemon's log must have the documented pino shape
//   (docs/observability.md): level, time, name, component and msg, errors under err;
// - with --emit-rules, the dashboard's expressions are written as recording rules
//   (Grafana variables replaced) so that `promtool check rules` parses them.
//
// Prints one line per problem and exits 1 on any, or when a file has no expression.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

/** Series Prometheus makes itself for each target, never in an exposition. */
const SYNTHETIC = new Set([
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
  "scrape_samples_post_metric_relabeling",
  "scrape_series_added",
  "ALERTS",
  "ALERTS_FOR_STATE",
]);

/** PromQL words that look like names but are not metrics. */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression selects (Grafana variables allowed). */
export function metricNamesIn(expr) {
  const stripped = expr
    // String literals (label values, regexes), Grafana variables in them included.
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    // Grafana variables outside strings: $job, ${job}, ${job:regex}, $__rate_interval.
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, " ")
    // Label matchers, range and subquery selectors.
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    // Grouping clauses name labels, not metrics.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set();
  for (const match of stripped.matchAll(/(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice((match.index ?? 0) + name.length);
    if (/^\s*\(/.test(after)) continue; // a function or aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Every series name a text exposition can produce (from # TYPE lines and samples). */
export function exposedNames(text) {
  const names = new Set(SYNTHETIC);
  for (const line of text.split("\n")) {
    const type = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === "histogram")
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
      if (kind === "summary") for (const suffix of ["_sum", "_count"]) names.add(name + suffix);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}

/** Every `expr` of a Grafana dashboard (panels, rows and template queries), with its panel title. */
export function dashboardExpressions(dashboard) {
  const found = [];
  const visit = (node, where) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, where);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const here = typeof node.title === "string" ? node.title : where;
    if (typeof node.expr === "string") found.push({ where: here, expr: node.expr });
    for (const value of Object.values(node)) visit(value, here);
  };
  visit(dashboard.panels ?? [], "");
  for (const variable of dashboard.templating?.list ?? []) {
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
    const inner = typeof query === "string" ? /^label_values\((.*),[^,]*\)$/.exec(query) : null;
    if (inner?.[1]) found.push({ where: `variable ${variable.name}`, expr: inner[1] });
  }
  return found;
}

/** Every `expr` of a Prometheus rules file, with its alert or record name. */
export function ruleExpressions(rules) {
  return (rules.groups ?? []).flatMap((group) =>
    (group.rules ?? []).map((rule) => ({
      where: rule.alert ?? rule.record ?? group.name,
      expr: String(rule.expr),
    })),
  );
}

/** Unknown names in the expressions, one `where: name` string each. */
export function unknownNames(expressions, exposed) {
  const problems = [];
  for (const { where, expr } of expressions) {
    for (const name of metricNamesIn(expr)) {
      if (!exposed.has(name)) problems.push(`${where}: ${name}`);
    }
  }
  return problems;
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export function headingSlug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings (outside code fences). */
export function markdownAnchors(text) {
  const anchors = new Set();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading?.[1]) anchors.add(headingSlug(heading[1]));
    for (const named of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(named[1]);
  }
  return anchors;
}

/** Alerts whose runbook_url has no anchor, or one the Markdown file lacks. */
export function missingRunbooks(rules, anchors) {
  const problems = [];
  for (const group of rules.groups ?? []) {
    for (const rule of group.rules ?? []) {
      if (!rule.alert) continue;
      const url = rule.annotations?.runbook_url;
      const anchor = typeof url === "string" ? url.split("#")[1] : undefined;
      if (!anchor) problems.push(`${rule.alert}: no runbook_url with an #anchor`);
      else if (!anchors.has(anchor)) problems.push(`${rule.alert}: no heading for #${anchor}`);
    }
  }
  return problems;
}

/** How a log line departs from the documented shape, or null when it has it. */
export function logLineProblem(line) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (record === null || typeof record !== "object" || Array.isArray(record))
    return "not an object";
  const problems = [];
  if (!Number.isInteger(record.level)) problems.push("level is not a pino level number");
  if (typeof record.time !== "number") problems.push("time is not epoch milliseconds");
  if (record.name !== "oneiric-healthd") problems.push("name is not oneiric-healthd");
  if (typeof record.component !== "string") problems.push("no component");
  if (typeof record.msg !== "string") problems.push("no msg");
  if ("error" in record) problems.push("an error under `error` instead of `err`");
  if ("err" in record) {
    const err = record.err;
    if (
      err === null ||
      typeof err !== "object" ||
      typeof err.message !== "string" ||
      typeof err.type !== "string"
    ) {
      problems.push("err is not {type, message, ...}");
    }
  }
  return problems.length > 0 ? problems.join("; ") : null;
}

/** The dashboard's expressions as a rules file, Grafana variables replaced by plain values. */
export function expressionsAsRules(expressions) {
  const rules = expressions.map(({ expr }, index) => ({
    record: `dashboard:expr_${index + 1}`,
    expr: expr
      .replace(/\$\{?__(rate_interval|interval|range)(?::\w+)?\}?/g, "5m")
      .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, "x"),
  }));
  return stringifyYaml({ groups: [{ name: "dashboard-expressions", rules }] });
}

function main(argv) {
  const files = { metrics: [], dashboard: [], rules: [], runbooks: [], logs: [], "emit-rules": [] };
  for (let index = 0; index < argv.length; index += 2) {
    const key = argv[index]?.replace(/^--/, "");
    const value = argv[index + 1];
    if (!key || !(key in files) || value === undefined) {
      console.error(
        "usage: check-observability-assets.mjs --metrics FILE [--dashboard FILE]... [--rules FILE]... [--runbooks FILE] [--logs FILE] [--emit-rules FILE]",
      );
      return 64;
    }
    files[key].push(value);
  }
  if (files.metrics.length === 0) {
    console.error("check-observability-assets: --metrics FILE is required");
    return 64;
  }
  const exposed = new Set();
  for (const file of files.metrics)
    for (const name of exposedNames(readFileSync(file, "utf8"))) exposed.add(name);
  let failed = false;
  const check = (file, expressions) => {
    if (expressions.length === 0) {
      console.log(`${file}: no expressions found`);
      failed = true;
      return;
    }
    const problems = unknownNames(expressions, exposed);
    for (const problem of problems) console.log(`${file}: unknown metric in ${problem}`);
    if (problems.length > 0) failed = true;
    else console.log(`${file}: ${expressions.length} expressions, every metric name exported`);
  };
  const dashboardExprs = [];
  for (const file of files.dashboard) {
    const expressions = dashboardExpressions(JSON.parse(readFileSync(file, "utf8")));
    check(file, expressions);
    dashboardExprs.push(...expressions);
  }
  const anchors = new Set();
  for (const file of files.runbooks)
    for (const anchor of markdownAnchors(readFileSync(file, "utf8"))) anchors.add(anchor);
  for (const file of files.rules) {
    const rules = parseYaml(readFileSync(file, "utf8"));
    check(file, ruleExpressions(rules));
    if (files.runbooks.length > 0) {
      const problems = missingRunbooks(rules, anchors);
      for (const problem of problems)
        console.log(`${file}: runbook ${problem} in ${files.runbooks.join(", ")}`);
      if (problems.length > 0) failed = true;
      else
        console.log(
          `${file}: every runbook_url anchor is a heading of ${files.runbooks.join(", ")}`,
        );
    }
  }
  for (const file of files.logs) {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "");
    let bad = 0;
    for (const line of lines) {
      const problem = logLineProblem(line);
      if (problem === null) continue;
      bad++;
      console.log(`${file}: ${problem}: ${line.slice(0, 200)}`);
    }
    if (lines.length === 0) console.log(`${file}: no log lines`);
    if (bad > 0 || lines.length === 0) failed = true;
    else console.log(`${file}: ${lines.length} log lines, each with the documented shape`);
  }
  for (const file of files["emit-rules"]) writeFileSync(file, expressionsAsRules(dashboardExprs));
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
