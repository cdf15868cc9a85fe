import type { JournalEvent } from "../domain/events.js";
import type { AdapterStatusView, RegistryView } from "../domain/status-view.js";

/** "12s", "5m", "3h", "2d": how long ago, for people. */
export function formatAge(fromIso: string | null, now: number): string {
  if (fromIso === null) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** The STATUS column: `unhealthy, stale, flapping`, as the table and watch lines say it. */
export function statusWords(adapter: AdapterStatusView): string {
  return [
    adapter.status,
    adapter.stale ? "stale" : "",
    adapter.flapping ? "flapping" : "",
    adapter.maintenance ? "maintenance" : "",
    adapter.registry_disagrees ? `registry says ${adapter.registry_status}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

export function formatStatusTable(
  snapshot: { adapters: AdapterStatusView[]; registry: RegistryView | null },
  now: number,
): string {
  // A cluster member's listing says who answers for each verdict; a lone daemon's has no such column.
  const clustered = snapshot.adapters.some((adapter) => adapter.owner !== undefined);
  const header = [
    "ADAPTER",
    "STATUS",
    "SINCE",
    "CHECKED",
    "LATENCY",
    "SOURCE",
    "BREAKER",
    ...(clustered ? ["OWNER"] : []),
    "REASON",
  ];
  const rows = snapshot.adapters.map((adapter) => [
    adapter.adapter_id,
    statusWords(adapter),
    formatAge(adapter.since, now),
    formatAge(adapter.last_checked, now),
    adapter.latency_ms === null ? "-" : `${Math.round(adapter.latency_ms)}ms`,
    adapter.source,
    adapter.breaker,
    ...(clustered ? [adapter.owner ?? "-"] : []),
    adapter.reason.length > 60 ? `${adapter.reason.slice(0, 57)}...` : adapter.reason,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const registry = snapshot.registry;
  const registryLine = registry
    ? `registry ${registry.endpoint}: ${registry.reachable ? "reachable" : "UNREACHABLE"}, last sync ${formatAge(registry.last_sync, now)} ago${registry.last_error ? ` (${registry.last_error})` : ""}`
    : "registry: never contacted";
  if (rows.length === 0) return `${registryLine}\nno adapters known yet\n`;
  return `${registryLine}\n${[line(header), ...rows.map(line)].join("\n")}\n`;
}

export function formatStatusDetail(adapter: AdapterStatusView): string {
  return `${Object.entries(adapter)
    .map(([key, value]) => `${`${key}:`.padEnd(18)}${value === null ? "-" : String(value)}`)
    .join("\n")}\n`;
}

/** "14:03:27" (UTC), as the demo's lines start. */
export function formatClockTime(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(11, 19);
}

/** One line per journal event, for people following the demo. */
export function formatEvent(event: JournalEvent): string {
  const time = formatClockTime(event.time);
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case "adapter.health_changed":
      return `${time}  ${event.subject}: ${String(data.from)} -> ${String(data.to)} (${String(data.reason)})`;
    case "adapter.discovered":
      return `${time}  ${event.subject}: discovered`;
    case "adapter.removed":
      return `${time}  ${event.subject}: removed from the registry`;
    case "adapter.updated":
      return `${time}  ${event.subject}: updated (${(data.changed as string[] | undefined)?.join(", ") ?? ""})`;
    case "registry.unreachable":
      return `${time}  registry ${event.subject} unreachable: ${String(data.error)}`;
    case "registry.recovered":
      return `${time}  registry ${event.subject} reachable again`;
    case "adapter.flapping":
      return `${time}  ${event.subject}: FLAPPING (${String(data.transitions)} changes within ${Math.round(Number(data.window_ms) / 1000)} s); held out of resolution`;
    case "adapter.settled":
      return `${time}  ${event.subject}: settled as ${String(data.status)}`;
    case "adapter.maintenance_started":
      return `${time}  ${event.subject}: maintenance started (${String(data.reason)})`;
    case "adapter.maintenance_ended":
      return `${time}  ${event.subject}: maintenance ended`;
    case "breaker.opened":
      return `${time}  ${event.subject}: breaker OPEN (${String(data.last_failure)})`;
    case "breaker.half_opened":
      return `${time}  ${event.subject}: breaker half-open, one trial check`;
    case "breaker.closed":
      return `${time}  ${event.subject}: breaker closed`;
    case "failover": {
      const requirement = data.requirement as {
        domain: string;
        category: string;
        provider?: string;
      };
      const wanted = [requirement.domain, requirement.category, requirement.provider ?? "*"].join(
        "/",
      );
      return `${time}  FAILOVER ${wanted}: ${String(data.from ?? "none")} -> ${String(data.to ?? "NONE USABLE")}`;
    }
  }
}
