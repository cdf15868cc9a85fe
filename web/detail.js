// One adapter in a dialog: what it is, its recent checks, a response-time chart
// and a timeline of its state changes and maintenance windows. Opened with Enter
// or a click on a row, closed with Escape (the dialog's own) or the Close button;
// focus goes back to the row it came from.
import { ApiProblem, api } from "./api.js";
import { responseChart, timeline } from "./charts.js";
import { age, dateTime, h, milliseconds, percent } from "./dom.js";

const DAY_MS = 24 * 3_600_000;
/**
 * What the detail view reads for each of the board's bar sizes: a window of
 * GET /v1/adapters/{id}/history, its bucket, and how the view names them.
 */
const VIEWS = {
  "1m": { window: "1h", bucket: "1m", span: "Last hour", per: "per minute", uptime: "1 h" },
  "1h": { window: "24h", bucket: "1h", span: "Last 24 hours", per: "per hour", uptime: "24 h" },
  "1d": { window: "30d", bucket: "1d", span: "Last 30 days", per: "per day", uptime: "30 d" },
};
/** Journal events read back to find an adapter's state changes (one page). */
const EVENTS_LOOKED_AT = 1000;

export class AdapterDetail {
  /** @param {HTMLDialogElement} dialog @param {() => string} barSize the board's, a VIEWS key */
  constructor(dialog, barSize) {
    this.dialog = dialog;
    this.barSize = barSize;
    this.body = dialog.querySelector("[data-detail-body]");
    this.title = dialog.querySelector("[data-detail-title]");
    this.adapterId = undefined;
    this.returnFocus = undefined;
    dialog.querySelector("[data-detail-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      this.adapterId = undefined;
      this.returnFocus?.focus();
    });
  }

  async open(adapterId, from) {
    this.adapterId = adapterId;
    this.returnFocus = from;
    this.title.textContent = adapterId;
    this.body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  /** Reads the adapter again (on an event about it while the dialog is open). */
  async refresh() {
    const adapterId = this.adapterId;
    if (adapterId === undefined) return;
    const view = VIEWS[this.barSize()] ?? VIEWS["1h"];
    try {
      const [adapter, history, events] = await Promise.all([
        api.adapter(adapterId),
        api.adapterHistory(adapterId, view.window, view.bucket),
        recentEventsAbout(adapterId),
      ]);
      if (this.adapterId !== adapterId) return;
      this.body.replaceChildren(...render(adapter, history, events, view));
    } catch (error) {
      if (this.adapterId !== adapterId) return;
      this.body.replaceChildren(
        h("p", { class: "error" }, error instanceof ApiProblem ? error.message : String(error)),
      );
    }
  }
}

/** The newest journal page's events about one adapter (the journal has no subject filter). */
async function recentEventsAbout(adapterId) {
  const health = await api.health();
  const newest = health.journal?.newest_seq ?? 0;
  const page = await api.events(Math.max(0, newest - EVENTS_LOOKED_AT), EVENTS_LOOKED_AT);
  return page.events.filter((event) => event.subject === adapterId);
}

function shortType(event) {
  return event.type.replace(/^io\.oneiric\.healthd\./, "");
}

/** Maintenance windows from started/ended pairs, and the one going on now. */
function maintenanceWindows(events, adapter) {
  const windows = [];
  let open;
  for (const event of events) {
    const type = shortType(event);
    if (type === "adapter.maintenance_started") {
      open = { from: event.time, until: undefined, reason: event.data?.reason };
      windows.push(open);
    } else if (type === "adapter.maintenance_ended" && open) {
      open.until = event.time;
      open = undefined;
    }
  }
  if (adapter.maintenance && !open) {
    windows.push({
      from: adapter.maintenance.since ?? adapter.since,
      until: undefined,
      reason: adapter.maintenance.reason,
    });
  }
  return windows;
}

function render(adapter, history, events, view) {
  const changes = events
    .filter((event) => shortType(event) === "adapter.health_changed")
    .map((event) => ({ at: event.time, ...event.data }));
  const now = Date.now();
  const fromIso = history?.from ?? new Date(now - DAY_MS).toISOString();
  const untilIso = history?.until ?? new Date(now).toISOString();
  const buckets = (history?.buckets ?? []).map((bucket, index, all) => ({
    start: bucket.start,
    status: bucket.status,
    ms:
      (index + 1 < all.length ? Date.parse(all[index + 1].start) : Date.parse(untilIso)) -
      Date.parse(bucket.start),
  }));
  const checks = adapter.recent_checks ?? [];
  const series = [
    {
      label: "check",
      className: "series-checks",
      points: checks
        .filter((check) => typeof check.latency_ms === "number")
        .map((check) => ({ at: check.at, ms: check.latency_ms })),
    },
  ];
  if (history) {
    for (const [key, label, className] of [
      ["latency_p50_ms", `p50 ${view.per}`, "series-p50"],
      ["latency_p95_ms", `p95 ${view.per}`, "series-p95"],
    ]) {
      series.push({
        label,
        className,
        points: history.buckets
          .filter((bucket) => typeof bucket[key] === "number")
          .map((bucket) => ({ at: bucket.start, ms: bucket[key] })),
      });
    }
  }
  const facts = [
    ["Status", adapter.maintenance ? `maintenance (${adapter.status})` : adapter.status],
    ["Since", adapter.since ? `${dateTime(adapter.since)} (${age(adapter.since)})` : "–"],
    ["Reason", adapter.reason ?? "–"],
    ["Last checked", adapter.last_checked ? dateTime(adapter.last_checked) : "never"],
    ["Latency", milliseconds(adapter.latency_ms)],
    ["Breaker", adapter.breaker],
    [
      "Registry says",
      `${adapter.registry_status ?? "–"}${adapter.registry_disagrees ? " (disagrees)" : ""}`,
    ],
    ["Usable for resolution", adapter.usable ? "yes" : "no"],
    [`Uptime (${view.uptime})`, percent(history?.uptime?.uptime_percent)],
    ["Health check", adapter.health_check_url || "none (the registry's view only)"],
    ["Capabilities", (adapter.capabilities ?? []).join(", ") || "–"],
  ];
  if (adapter.maintenance) {
    facts.splice(1, 0, [
      "Maintenance",
      `${adapter.maintenance.reason ?? "no reason given"}, until ${adapter.maintenance.until ? dateTime(adapter.maintenance.until) : "lifted"}`,
    ]);
  }
  return [
    h(
      "dl",
      { class: "facts" },
      facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    ),
    h("h3", {}, "Response time"),
    responseChart(series),
    h(
      "p",
      { class: "legend" },
      series
        .filter((line) => line.points.length > 0)
        .map((line) => h("span", { class: `legend-item ${line.className}` }, line.label)),
    ),
    h("h3", {}, history ? view.span : "Timeline (no history on this daemon: recent events only)"),
    timeline({ fromIso, untilIso, buckets, changes, windows: maintenanceWindows(events, adapter) }),
    h("h3", {}, "State changes"),
    changes.length === 0
      ? h("p", { class: "muted" }, "None in the journal's newest events.")
      : h(
          "ol",
          { class: "changes" },
          changes
            .slice()
            .reverse()
            .map((change) =>
              h(
                "li",
                {},
                h("time", { datetime: change.at }, dateTime(change.at)),
                " ",
                h("span", { class: `status status-${change.from}` }, change.from),
                " → ",
                h("span", { class: `status status-${change.to}` }, change.to),
                change.maintenance ? " (in maintenance)" : "",
                `: ${change.reason}`,
              ),
            ),
        ),
    h("h3", {}, "Recent checks"),
    checks.length === 0
      ? h("p", { class: "muted" }, "No checks since the daemon started.")
      : h(
          "table",
          { class: "checks" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["When", "Result", "Latency", "Source", "Detail"].map((title) =>
                h("th", { scope: "col" }, title),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            checks.map((check) =>
              h(
                "tr",
                {},
                h("td", {}, dateTime(check.at)),
                h(
                  "td",
                  {},
                  h(
                    "span",
                    { class: `status status-${check.ok ? "healthy" : "unhealthy"}` },
                    check.ok ? "ok" : "failed",
                  ),
                ),
                h("td", {}, milliseconds(check.latency_ms)),
                h("td", {}, check.source),
                h("td", {}, check.detail ?? ""),
              ),
            ),
          ),
        ),
  ];
}
