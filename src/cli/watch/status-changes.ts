/**
 * What changed between two listings, as `status --watch` reports it: an
 * adapter that appeared, went, or whose state a person acts on changed
 * (status, staleness, flapping, maintenance, the registry's disagreement, the
 * breaker, whether resolution may choose it). Latency and check times change
 * at every check and are shown, not reported.
 */
import type { AdapterStatusView, RegistryView } from "../../domain/status-view.js";
import { statusWords } from "../format.js";

export interface StatusListingSnapshot {
  adapters: AdapterStatusView[];
  registry: RegistryView | null;
}

export type StatusChange =
  | { kind: "added"; adapter: AdapterStatusView }
  | { kind: "removed"; adapter: AdapterStatusView }
  | { kind: "changed"; before: AdapterStatusView; adapter: AdapterStatusView };

/** What a change is judged by: the words of the STATUS column, the breaker, usability. */
export function adapterState(adapter: AdapterStatusView): string {
  const breaker = adapter.breaker === "closed" ? "" : `, breaker ${adapter.breaker}`;
  return `${statusWords(adapter)}${breaker}${adapter.usable ? "" : ", not usable"}`;
}

/** The changes from `before` to `after`, in `after`'s order, removals last. */
export function statusChanges(
  before: readonly AdapterStatusView[],
  after: readonly AdapterStatusView[],
): StatusChange[] {
  const earlier = new Map(before.map((adapter) => [adapter.adapter_id, adapter]));
  const changes: StatusChange[] = [];
  for (const adapter of after) {
    const previous = earlier.get(adapter.adapter_id);
    earlier.delete(adapter.adapter_id);
    if (previous === undefined) changes.push({ kind: "added", adapter });
    else if (adapterState(previous) !== adapterState(adapter)) {
      changes.push({ kind: "changed", before: previous, adapter });
    }
  }
  for (const adapter of earlier.values()) changes.push({ kind: "removed", adapter });
  return changes;
}

/** Whether the registry line a person reads changed (reachability, its error). */
export function registryChanged(before: RegistryView | null, after: RegistryView | null): boolean {
  if (before === null || after === null) return before !== after;
  return (
    before.endpoint !== after.endpoint ||
    before.reachable !== after.reachable ||
    before.last_error !== after.last_error
  );
}
