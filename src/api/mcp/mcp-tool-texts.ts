/**
 * The text content of tool answers: one line (or a short list) for people and
 * for clients that ignore structuredContent, which carries the whole answer.
 */
import { HEALTH_STATUSES } from "../../domain/adapter.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import type { CheckHealthAnswer, HealthCheckAnswer } from "../query-backend.js";
import type { AdapterDetail, ResolutionAnswer } from "../query-service.js";

/** Lines of adapters in list_adapters' text content (structuredContent has them all). */
const TEXT_LINES = 20;

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
