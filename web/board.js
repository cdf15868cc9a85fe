// The adapter board: every adapter in the model, grouped by category in
// collapsible sections, each section paged (PAGE_SIZE rows at a time). Paged,
// not virtualised: the rows on screen are real rows in document order, so Tab,
// find-in-page and screen readers work on them, and the DOM stays bounded
// (a collapsed section renders nothing) at 1,000 adapters and more.
import { BAR_LETTERS, historyBar, sparkline, worse } from "./charts.js";
import { age, dateTime, h, milliseconds, percent } from "./dom.js";

export const PAGE_SIZE = 50;
const STATUSES = ["unhealthy", "degraded", "healthy", "unknown"];
/** Latencies kept per adapter for its sparkline when the daemon has no history. */
const SEEN_LATENCIES = 30;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** The bar sizes GET /v1/history offers: each bucket's length, and the bar's span in words. */
export const BAR_SIZES = {
  "1m": { bucketMs: MINUTE_MS, span: "90 min" },
  "1h": { bucketMs: HOUR_MS, span: "90 h" },
  "1d": { bucketMs: 24 * HOUR_MS, span: "90 d" },
};

/** What the row shows as its state: maintenance outranks the probed status. */
export function shownStatus(adapter) {
  return adapter.maintenance ? "maintenance" : adapter.status;
}

/** Whether an adapter needs someone to look at it, and why (empty: it does not). */
export function attentionReasons(adapter) {
  if (adapter.maintenance) return [];
  const reasons = [];
  if (adapter.status === "unhealthy") reasons.push("unhealthy");
  if (adapter.breaker === "open" || adapter.breaker === "isolated") {
    reasons.push(`breaker ${adapter.breaker}`);
  }
  if (adapter.flapping) reasons.push("flapping");
  if (adapter.registry_disagrees) reasons.push("registry disagrees");
  if (adapter.stale) reasons.push("stale");
  return reasons;
}

export class Board {
  /** @param {HTMLElement} root @param {(id: string, from: HTMLElement) => void} open */
  constructor(root, open) {
    this.root = root;
    this.open = open;
    this.adapters = new Map();
    /** adapter id → { status_bar, uptime_percent, latency_ms, from } from GET /v1/history */
    this.history = new Map();
    /** Whether the daemon serves history (undefined until it has been asked). */
    this.hasHistory = undefined;
    /** The bars' bucket size, one of BAR_SIZES. */
    this.barSize = "1h";
    this.seenLatencies = new Map();
    /** category → { section, body, pager, page, summary } */
    this.groups = new Map();
    this.filter = { text: "", problemsOnly: false };
    this.changed = new Set();
    this.listeners = new Set();
  }

  /** Called after every change to the model (the summary banner listens). */
  onChange(listener) {
    this.listeners.add(listener);
  }

  setAll(adapters) {
    this.adapters = new Map(adapters.map((adapter) => [adapter.adapter_id, adapter]));
    for (const adapter of adapters) this.remember(adapter);
    this.renderAll();
  }

  /** A new bar size: the bars drawn so far are of the old one, so they go until read again. */
  setBarSize(size) {
    this.barSize = size;
    this.history = new Map();
    this.renderAll();
  }

  /**
   * Every adapter's history bar, from the pages of one reading of GET /v1/history
   * (`undefined` when the daemon serves none): what the pages do not name has no bar.
   */
  setHistory(pages) {
    this.hasHistory = pages !== undefined;
    this.history = new Map();
    for (const page of pages ?? []) this.storeHistory(page);
    // By the daemon's clock, when the bars were read (tests wait on it).
    this.root.dataset.historyUntil = pages?.[0]?.until ?? "";
    this.renderAll();
  }

  /** Some adapters' bars read again (after events about them), each row redrawn in place. */
  updateHistory(page) {
    if (page === undefined) return;
    this.storeHistory(page);
    for (const entry of page.adapters) this.refreshRow(entry.adapter_id);
  }

  storeHistory(page) {
    for (const entry of page.adapters) {
      // Each entry keeps its own start: one read later than the rest may start a bucket later.
      this.history.set(entry.adapter_id, { ...entry, from: page.from });
    }
  }

  upsert(adapter) {
    const known = this.adapters.has(adapter.adapter_id);
    this.adapters.set(adapter.adapter_id, adapter);
    this.remember(adapter);
    if (known) this.refreshRow(adapter.adapter_id);
    else this.renderAll();
  }

  remove(adapterId) {
    if (this.adapters.delete(adapterId)) this.renderAll();
  }

  /**
   * A health change applied at once from the event itself, before the adapter
   * is fetched again: the row turns as soon as the event arrives. The history
   * bar's current bucket takes the worse of what it had and the new status.
   */
  applyHealthChange(adapterId, data, at) {
    const adapter = this.adapters.get(adapterId);
    if (!adapter) return;
    this.adapters.set(adapterId, { ...adapter, status: data.to, since: at, reason: data.reason });
    this.markCurrentBucket(adapterId, adapter.maintenance ? "maintenance" : data.to);
  }

  /** The bar's last bucket (the one in progress) takes the worse of what it had and `status`. */
  markCurrentBucket(adapterId, status) {
    const entry = this.history.get(adapterId);
    if (entry && entry.status_bar.length > 0) {
      const letters = [...entry.status_bar];
      const current = BAR_LETTERS[letters[letters.length - 1]] ?? "unknown";
      const next = worse(current, status);
      letters[letters.length - 1] =
        Object.entries(BAR_LETTERS).find(([, name]) => name === next)?.[0] ?? "?";
      this.history.set(adapterId, { ...entry, status_bar: letters.join("") });
    }
    this.refreshRow(adapterId);
  }

  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    for (const group of this.groups.values()) group.page = 0;
    this.renderAll();
  }

  /** Re-renders the "since" ages (a clock on the page, no request). */
  tick() {
    for (const cell of this.root.querySelectorAll("[data-since]")) {
      // Only text that changed, so an unchanged board costs the browser no layout.
      const text = age(cell.dataset.since);
      if (cell.textContent !== text) cell.textContent = text;
    }
  }

  counts() {
    const counts = { healthy: 0, degraded: 0, unhealthy: 0, unknown: 0, maintenance: 0 };
    for (const adapter of this.adapters.values()) {
      counts[adapter.status] = (counts[adapter.status] ?? 0) + 1;
      if (adapter.maintenance) counts.maintenance += 1;
    }
    return counts;
  }

  remember(adapter) {
    if (typeof adapter.latency_ms !== "number") return;
    const seen = this.seenLatencies.get(adapter.adapter_id) ?? [];
    if (seen[seen.length - 1] !== adapter.latency_ms || seen.length === 0) {
      seen.push(adapter.latency_ms);
      if (seen.length > SEEN_LATENCIES) seen.shift();
    }
    this.seenLatencies.set(adapter.adapter_id, seen);
  }

  visible(adapter) {
    const { text, problemsOnly } = this.filter;
    if (text !== "" && !adapter.adapter_id.toLowerCase().includes(text.toLowerCase())) return false;
    if (problemsOnly && attentionReasons(adapter).length === 0) return false;
    return true;
  }

  byCategory() {
    const categories = new Map();
    for (const adapter of this.adapters.values()) {
      if (!this.visible(adapter)) continue;
      const list = categories.get(adapter.category) ?? [];
      list.push(adapter);
      categories.set(adapter.category, list);
    }
    for (const list of categories.values()) {
      list.sort((a, b) => a.adapter_id.localeCompare(b.adapter_id));
    }
    return new Map([...categories].sort(([a], [b]) => a.localeCompare(b)));
  }

  renderAll() {
    const categories = this.byCategory();
    for (const [category, group] of this.groups) {
      if (!categories.has(category)) {
        group.section.remove();
        this.groups.delete(category);
      }
    }
    let previous;
    for (const [category, adapters] of categories) {
      const group = this.groups.get(category) ?? this.createGroup(category);
      group.adapters = adapters;
      this.renderGroup(group);
      // Keep sections in category order.
      if (
        previous ? previous.nextSibling !== group.section : this.root.firstChild !== group.section
      ) {
        if (previous) previous.after(group.section);
        else this.root.prepend(group.section);
      }
      previous = group.section;
    }
    if (categories.size === 0) {
      this.root.replaceChildren(
        h(
          "p",
          { class: "empty" },
          this.adapters.size === 0
            ? "No adapters in the catalog yet."
            : "No adapter matches the filter.",
        ),
      );
      this.groups.clear();
    } else this.root.querySelector(":scope > p.empty")?.remove();
    for (const listener of this.listeners) listener();
  }

  createGroup(category) {
    const summary = h("summary", { class: "group-summary" });
    const body = h("tbody");
    const pager = h("div", { class: "pager" });
    const section = h(
      "details",
      { class: "group", open: true, dataset: { category } },
      summary,
      h(
        "table",
        { class: "adapters" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Status", "Adapter", "Since", "Latency", "History", "Uptime", "Breaker", "Notes"].map(
              (title) => h("th", { scope: "col", dataset: { column: title } }, title),
            ),
          ),
        ),
        body,
      ),
      pager,
    );
    const group = { category, section, summary, body, pager, page: 0, adapters: [] };
    // A collapsed section renders no rows; opening it renders the current page.
    section.addEventListener("toggle", () => {
      if (section.open) this.renderGroup(group);
      else body.replaceChildren();
    });
    this.groups.set(category, group);
    return group;
  }

  renderGroup(group) {
    this.renderSummary(group);
    const historyHead = group.section.querySelector('th[data-column="History"]');
    if (historyHead) historyHead.textContent = `History (${BAR_SIZES[this.barSize].span})`;
    const pages = Math.max(1, Math.ceil(group.adapters.length / PAGE_SIZE));
    group.page = Math.min(group.page, pages - 1);
    if (group.section.open) this.renderRows(group, pages);
  }

  /** The section's heading: its category, how many adapters, how many in each state. */
  renderSummary(group) {
    const counts = {};
    for (const adapter of group.adapters) {
      const shown = shownStatus(adapter);
      counts[shown] = (counts[shown] ?? 0) + 1;
    }
    group.summary.replaceChildren(
      h("span", { class: "group-name" }, group.category),
      h("span", { class: "group-total" }, `${group.adapters.length}`),
      ...[...STATUSES, "maintenance"]
        .filter((status) => counts[status])
        .map((status) =>
          h("span", { class: `chip status-${status}` }, `${counts[status]} ${status}`),
        ),
    );
  }

  renderRows(group, pages) {
    const first = group.page * PAGE_SIZE;
    const rows = group.adapters.slice(first, first + PAGE_SIZE).map((adapter) => this.row(adapter));
    // Re-rendering must not take the keyboard's place away.
    const focused = group.body.contains(document.activeElement)
      ? document.activeElement.closest("tr")?.dataset.adapterId
      : undefined;
    group.body.replaceChildren(...rows);
    if (focused !== undefined) rows.find((row) => row.dataset.adapterId === focused)?.focus();
    if (pages === 1) {
      group.pager.replaceChildren();
      return;
    }
    const turn = (delta) => {
      group.page += delta;
      this.renderGroup(group);
      group.body.querySelector("tr")?.focus();
    };
    group.pager.replaceChildren(
      h(
        "button",
        { type: "button", disabled: group.page === 0, onclick: () => turn(-1) },
        "Previous",
      ),
      h(
        "span",
        { class: "pager-text" },
        `rows ${first + 1}–${Math.min(first + PAGE_SIZE, group.adapters.length)} of ${group.adapters.length}`,
      ),
      h(
        "button",
        { type: "button", disabled: group.page === pages - 1, onclick: () => turn(1) },
        "Next",
      ),
    );
  }

  /** Whether the adapter's row is in the document (its section open, on its current page). */
  isOnScreen(adapterId) {
    return this.root.querySelector(`tr[data-adapter-id="${CSS.escape(adapterId)}"]`) !== null;
  }

  /** Replaces one row in place if it is on screen, and the section's counts. */
  refreshRow(adapterId) {
    const adapter = this.adapters.get(adapterId);
    if (!adapter) return;
    const group = this.groups.get(adapter.category);
    if (!group || !this.visible(adapter)) {
      this.renderAll();
      return;
    }
    const index = group.adapters.findIndex((entry) => entry.adapter_id === adapterId);
    if (index < 0) {
      this.renderAll();
      return;
    }
    group.adapters[index] = adapter;
    const existing = group.body.querySelector(`tr[data-adapter-id="${CSS.escape(adapterId)}"]`);
    if (existing) {
      const hadFocus = document.activeElement === existing;
      const row = this.row(adapter);
      existing.replaceWith(row);
      if (hadFocus) row.focus();
    }
    this.renderSummary(group);
    for (const listener of this.listeners) listener();
  }

  row(adapter) {
    const id = adapter.adapter_id;
    const shown = shownStatus(adapter);
    const entry = this.history.get(id);
    const latencies = entry?.latency_ms ?? this.seenLatencies.get(id) ?? [];
    const badges = [];
    if (adapter.flapping) badges.push(h("span", { class: "badge badge-flapping" }, "flapping"));
    if (adapter.maintenance) {
      badges.push(
        h(
          "span",
          {
            class: "badge badge-maintenance",
            title: adapter.maintenance.until
              ? `until ${dateTime(adapter.maintenance.until)}`
              : "until lifted",
          },
          "maintenance",
        ),
      );
    }
    if (adapter.stale) badges.push(h("span", { class: "badge badge-stale" }, "stale"));
    if (adapter.registry_disagrees) {
      badges.push(
        h(
          "span",
          { class: "badge badge-disagrees", title: `registry says ${adapter.registry_status}` },
          "registry disagrees",
        ),
      );
    }
    const open = (event) => this.open(id, event.currentTarget);
    return h(
      "tr",
      {
        tabindex: 0,
        class: `adapter-row shown-${shown}`,
        "aria-label": `${id}: ${shown}`,
        dataset: { adapterId: id, status: adapter.status, shownStatus: shown },
        onclick: open,
        onkeydown: (event) => {
          if (event.key !== "Enter") return;
          // Else the same key press would go on to the dialog's Close button and shut it again.
          event.preventDefault();
          open(event);
        },
      },
      h(
        "td",
        {},
        h("span", { class: `status status-${shown}`, title: adapter.reason ?? "" }, shown),
        // In maintenance the probed status is still told, but it is not downtime.
        shown === "maintenance"
          ? h(
              "span",
              { class: "underlying", title: adapter.reason ?? "" },
              `probed ${adapter.status}`,
            )
          : "",
      ),
      h(
        "td",
        { class: "adapter-name" },
        h("span", { class: "provider" }, adapter.provider),
        h("span", { class: "adapter-id" }, id),
      ),
      h(
        "td",
        { class: "since", title: adapter.since ? dateTime(adapter.since) : "" },
        adapter.since ? h("span", { dataset: { since: adapter.since } }, age(adapter.since)) : "–",
      ),
      h(
        "td",
        { class: "latency" },
        sparkline(latencies),
        h("span", { class: "latency-value" }, milliseconds(adapter.latency_ms)),
      ),
      h(
        "td",
        { class: "history" },
        entry
          ? historyBar(entry.status_bar, entry.from, BAR_SIZES[this.barSize].bucketMs)
          : h("span", { class: "muted" }, this.hasHistory === false ? "no history" : ""),
      ),
      h(
        "td",
        { class: "uptime", dataset: { uptime: entry?.uptime_percent ?? "" } },
        percent(entry?.uptime_percent),
      ),
      h("td", {}, h("span", { class: `breaker breaker-${adapter.breaker}` }, adapter.breaker)),
      h("td", {}, h("div", { class: "badges" }, badges)),
    );
  }
}
