/** `uptime` as a person reads it: a table, worst first. */
import type { UptimeAnswer } from "../api/history-queries.js";
import { formatPercent, formatSeconds, worstFirst } from "../text/uptime-wording.js";

export function formatUptimeTable(answer: UptimeAnswer): string {
  const heading = `uptime over ${answer.window}: ${answer.from} to ${answer.until}`;
  if (answer.adapters.length === 0) return `${heading}\nno adapters match\n`;
  const header = ["ADAPTER", "UPTIME", "DOWN", "MAINTENANCE", "UNKNOWN", "COVERAGE"];
  const rows = worstFirst(answer.adapters).map((adapter) => [
    adapter.adapter_id,
    formatPercent(adapter.uptime_percent),
    formatSeconds(adapter.down_s),
    formatSeconds(adapter.maintenance_s),
    formatSeconds(adapter.unknown_s),
    formatPercent(adapter.coverage_percent),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  // The adapter's name reads left-aligned, the numbers right-aligned under their titles.
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return `${heading}\n${[line(header), ...rows.map(line)].join("\n")}\n`;
}
