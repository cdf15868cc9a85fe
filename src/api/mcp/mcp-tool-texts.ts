/**
 * The text content of tool answers: one line (or a short list) for people and
 * for clients that ignore structuredContent, which carries the whole answer.
 */
import { HEALTH_STATUSES } from "../../domain/adapter.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import { formatPercent, formatSeconds, worstFirst } from "../../text/uptime-wording.js";
import type { UptimeAnswer, UptimeEntry } from "../history-queries.js";
import type { CheckHealthAnswer, HealthCheckAnswer } from "../query-backend.js";
import type { AdapterDetail, ResolutionAnswer } from "../query-service.js";

/** Lines of adapters in list_adapters' text content (structuredContent has them all). */
const TEXT_LINES = 20;
/** Lines of adapters in uptime's text content: a category's worth, worst first. */
const UPTIME_TEXT_LINES = 50;

/** "id: status (usable, stale, …)": also the description of an adapter resource. */
export function adapterLine(adapter: AdapterStatusView): string {
  const notes = [
    adapter.usable ? "usable" : "not usable",
    ...(adapter.stale ? ["stale"] : []),
    ...(adapter.flapping ? ["flapping"] : []),
    ...(adapter.maintenance ? ["maintenance"] : []),
    ...(adapter.breaker !== "closed" ? [`breaker ${adapter.breaker}`] : []),
  ];
  return `${adapter.adapter_id}: ${adapter.status} (${notes.join(", ")})`;
}

export function listText(adapters: AdapterStatusView[]): string {
  const counts = HEALTH_STATUSES.map(
    (status) => `${adapters.filter((adapter) => adapter.status === status).length} ${status}`,
  );
  const lines = adapters.slice(0, TEXT_LINES).map((adapter) => `- ${adapterLine(adapter)}`);
  if (adapters.length > TEXT_LINES) lines.push(`- … and ${adapters.length - TEXT_LINES} more`);
  return [`${adapters.length} adapter(s): ${counts.join(", ")}`, ...lines].join("\n");
}

export function detailText(detail: AdapterDetail): string {
  return `${adapterLine(detail)}; since ${detail.since}; ${detail.reason || "no reason given"}`;
}

export function checkHealthText(value: CheckHealthAnswer): string {
  const daemon = value.daemon
    ? `${value.daemon.status}${value.daemon.stale ? " (stale)" : ""}`
    : "nothing (not in the catalog)";
  const registry = value.registry
    ? `${value.registry.status} (${value.registry.source}${value.registry.stale ? ", stale" : ""})`
    : `nothing (${value.registry_error ?? "no answer"})`;
  return `${value.adapter_id}: the daemon says ${daemon}; the registry says ${registry}`;
}

export function resolutionText(value: ResolutionAnswer): string {
  const head = value.choice
    ? `use ${value.choice.adapter_id} (${value.choice.status}${value.panic ? ", panic" : ""})`
    : "no usable adapter";
  return `${head}: ${value.reason} [${value.fallbacks.length} fallback(s), ${value.excluded.length} excluded]`;
}

export const INVALIDATED_TEXT = "registry cache invalidated; the next queries ask the registry";

export function daemonHealthText(value: HealthCheckAnswer): string {
  const reachable = value.registry.endpoints.filter((endpoint) => endpoint.reachable);
  const adapters = Object.values(value.adapters.by_status).reduce((a, b) => a + b, 0);
  return (
    `daemon ${value.status}${value.ready ? "" : " (not ready)"}; registry link ` +
    `${value.registry.status} (${reachable.length}/${value.registry.endpoints.length} ` +
    `endpoint(s) reachable, last sync ${value.registry.last_sync ?? "never"}); ${adapters} adapter(s)`
  );
}

/**
 * What the figures mean, then one line an adapter, worst first:
 * "id: 99.93% up over 7d (down 1m 1s, maintenance 1h, 98.80% seen)".
 */
export function uptimeText(value: UptimeAnswer): string {
  const head =
    `uptime over ${value.window} (${value.from} to ${value.until}) of ` +
    `${value.adapters.length} adapter(s), worst first: up is healthy or degraded time, down is ` +
    "unhealthy time; maintenance and unknown time (not seen, stale, no verdict) are left out, " +
    "and seen says how much of the window outside maintenance was observed";
  if (value.adapters.length === 0) return `${head}\nno adapters match`;
  const ranked = worstFirst(value.adapters);
  const lines = ranked
    .slice(0, UPTIME_TEXT_LINES)
    .map((entry) => `- ${uptimeLine(entry, value.window)}`);
  if (ranked.length > UPTIME_TEXT_LINES) {
    lines.push(`- … and ${ranked.length - UPTIME_TEXT_LINES} more`);
  }
  return [head, ...lines].join("\n");
}

function uptimeLine(entry: UptimeEntry, window: string): string {
  const maintenance =
    entry.maintenance_s > 0 ? `maintenance ${formatSeconds(entry.maintenance_s)}` : undefined;
  if (entry.uptime_percent === null) {
    return `${entry.adapter_id}: no data over ${window}${maintenance ? ` (${maintenance})` : ""}`;
  }
  const notes = [
    `down ${formatSeconds(entry.down_s)}`,
    ...(maintenance ? [maintenance] : []),
    `${formatPercent(entry.coverage_percent)} seen`,
  ];
  return `${entry.adapter_id}: ${formatPercent(entry.uptime_percent)} up over ${window} (${notes.join(", ")})`;
}
