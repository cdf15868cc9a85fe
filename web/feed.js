// The live event feed: the newest events from the SSE stream, newest first.
import { clockTime, h } from "./dom.js";

/** Entries kept on screen; older ones drop off the end. */
const KEPT = 100;

/** One line saying what an event means, from its type and data. */
export function describe(type, data) {
  switch (type) {
    case "adapter.health_changed":
      return `${data.from} → ${data.to}${data.maintenance ? " (in maintenance)" : ""}: ${data.reason}`;
    case "adapter.flapping":
      return `flapping (${data.transitions} changes)`;
    case "adapter.settled":
      return `settled as ${data.status}`;
    case "adapter.maintenance_started":
      return `maintenance started${data.reason ? `: ${data.reason}` : ""}`;
    case "adapter.maintenance_ended":
      return "maintenance ended";
    case "breaker.opened":
    case "breaker.half_opened":
    case "breaker.closed":
      return `breaker ${data.state}`;
    case "failover":
      return `failover ${data.from ?? "nothing"} → ${data.to ?? "nothing usable"}: ${data.reason}`;
    case "registry.unreachable":
      return `registry unreachable: ${data.error ?? ""}`;
    case "registry.recovered":
      return "registry reachable again";
    case "adapter.discovered":
      return "discovered";
    case "adapter.removed":
      return "removed from the catalog";
    case "adapter.updated":
      return `updated (${(data.changed ?? []).join(", ")})`;
    default:
      return type;
  }
}

export class EventFeed {
  /** @param {HTMLOListElement} list */
  constructor(list) {
    this.list = list;
  }

  add(type, event) {
    const data = event.data ?? {};
    const tone =
      type === "adapter.health_changed"
        ? `status-${data.to}`
        : type === "failover" || type === "registry.unreachable" || type === "breaker.opened"
          ? "status-unhealthy"
          : "";
    const entry = h(
      "li",
      { class: `feed-entry ${tone}`, dataset: { type, seq: String(event.seq) } },
      h("time", { datetime: event.time }, clockTime(event.time)),
      h("span", { class: "feed-type" }, type),
      h("span", { class: "feed-subject" }, event.subject ?? ""),
      h("span", { class: "feed-text" }, describe(type, data)),
    );
    this.list.prepend(entry);
    while (this.list.childElementCount > KEPT) this.list.lastElementChild.remove();
    this.list.querySelector(":scope > .empty")?.remove();
  }
}
