// The status page: loads the board once, then keeps it current from the
// daemon's SSE stream (GET /v1/events), with no timer asking for the board again.
// Read docs/status-page.md for what it shows and why it is built this way.
import { ApiProblem, api, NeedsLogin } from "./api.js";
import { attentionReasons, BAR_SIZES, Board } from "./board.js";
import { AdapterDetail } from "./detail.js";
import { age, dateTime, h } from "./dom.js";
// Not a file in web/: the daemon makes it from its own list of event types.
import { EVENT_TYPES } from "./event-types.js";
import { EventFeed } from "./feed.js";
import { Resolver } from "./resolver.js";

/** Events about this many adapters at once are applied by reading the whole list once. */
const WHOLE_LIST_AFTER = 40;
/** Changes arriving within this long are read back together. */
const COALESCE_MS = 25;
/** After the stream is refused (not merely dropped), try again this much later. */
const RECONNECT_MS = 5_000;
/**
 * The banner's catalog age: a successful sync sends no event, so the banner
 * alone reads GET /v1/health again this often. The board is never polled.
 */
const BANNER_REFRESH_MS = 60_000;
/** Adapters in one page of GET /v1/history (the most it gives). */
const HISTORY_PAGE = 1_000;
/** Events after which an adapter's history bar is read again: they change its buckets. */
const HISTORY_EVENTS = new Set([
  "adapter.discovered",
  "adapter.health_changed",
  "adapter.maintenance_started",
  "adapter.maintenance_ended",
]);
/** Where the reader's choice of bar size is kept between visits. */
const BAR_SIZE_KEY = "oneiric-healthd.bar-size";

const $ = (id) => document.getElementById(id);

const detail = new AdapterDetail($("detail"), () => board.barSize);
const board = new Board($("board"), (adapterId, from) => void detail.open(adapterId, from));
const resolver = new Resolver($("resolver"), $("resolution"));
const feed = new EventFeed($("feed"));
let health;
let source;
let loggedIn = false;
const pending = new Set();
/** Of `pending`, the adapters whose history bars are to be read again too. */
const historyPending = new Set();
let flushTimer;
/**
 * The board's history is read whole when the daemon's clock passes the end of
 * the bars' newest bucket: `historyDueAt` is that end, by the daemon's clock
 * (an event's time says it), and `historyTimer` fires then by the page's.
 */
let historyDueAt = Number.POSITIVE_INFINITY;
let historyTimer;
let historyReading;
let historyAgain = false;
let boardMarked = false;

const barSizeInput = $("history-bucket");
barSizeInput.value = BAR_SIZES[localStorage.getItem(BAR_SIZE_KEY)]
  ? localStorage.getItem(BAR_SIZE_KEY)
  : "1h";
board.barSize = barSizeInput.value;

/** What the banner shows now, in short: it is drawn again only when this changes. */
let summaryShown;

board.onChange(() => renderSummary());

function renderSummary() {
  const root = $("summary");
  if (!health) return;
  const registry = health.registry ?? {};
  const reachable = (registry.endpoints ?? []).some((endpoint) => endpoint.reachable);
  const counts = board.counts();
  const problems = [...board.adapters.values()]
    .map((adapter) => ({ adapter, reasons: attentionReasons(adapter) }))
    .filter((entry) => entry.reasons.length > 0);
  // The 5 s clock calls this too; redrawing an unchanged banner would only make work
  // for the browser (with many pages open, most of their CPU).
  const shown = JSON.stringify([
    health.ready,
    health.not_ready_reason,
    reachable,
    registry.last_sync,
    registry.last_sync ? age(registry.last_sync) : "",
    counts,
    problems.slice(0, 8).map(({ adapter, reasons }) => [adapter.adapter_id, reasons]),
    problems.length,
  ]);
  if (shown === summaryShown && root.dataset.shown === "summary") return;
  summaryShown = shown;
  root.dataset.shown = "summary";
  const attention = [];
  if (!health.ready)
    attention.push(h("li", {}, `Not ready: ${health.not_ready_reason ?? "starting"}`));
  if (!reachable)
    attention.push(
      h("li", {}, "The registry cannot be reached: the board shows the stored catalog"),
    );
  for (const { adapter, reasons } of problems.slice(0, 8)) {
    attention.push(
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "link",
            dataset: { attention: adapter.adapter_id },
            onclick: (event) => void detail.open(adapter.adapter_id, event.currentTarget),
          },
          adapter.adapter_id,
        ),
        `: ${reasons.join(", ")}`,
      ),
    );
  }
  if (problems.length > 8) {
    attention.push(
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "link",
            onclick: () => {
              $("filter-problems").checked = true;
              board.setFilter({ problemsOnly: true });
            },
          },
          `and ${problems.length - 8} more`,
        ),
      ),
    );
  }
  root.replaceChildren(
    h(
      "div",
      {
        class: `registry ${reachable ? "registry-up" : "registry-down"}`,
        dataset: { registry: reachable ? "reachable" : "unreachable" },
      },
      h("strong", {}, reachable ? "Registry reachable" : "Registry unreachable"),
      h(
        "span",
        { title: registry.last_sync ? dateTime(registry.last_sync) : "" },
        registry.last_sync
          ? ` · catalog synced ${age(registry.last_sync)}`
          : " · catalog never synced",
      ),
    ),
    h(
      "ul",
      { class: "counts", "aria-label": "adapters by status" },
      ["healthy", "degraded", "unhealthy", "unknown", "maintenance"].map((status) =>
        h(
          "li",
          { class: `chip status-${status}`, dataset: { count: status } },
          h("strong", {}, String(counts[status] ?? 0)),
          ` ${status}`,
        ),
      ),
    ),
    attention.length > 0
      ? h("div", { class: "attention" }, h("strong", {}, "Needs a person"), h("ul", {}, attention))
      : h("p", { class: "all-well" }, "Nothing needs a person."),
  );
}

function setLive(state, text) {
  const live = $("live");
  live.dataset.live = state;
  live.textContent = text;
}

function showError(error) {
  $("summary").dataset.shown = "error";
  $("summary").replaceChildren(
    h(
      "p",
      { class: "error" },
      error instanceof ApiProblem ? error.message : `The page failed: ${error}`,
    ),
  );
}

/** Reads everything once, then follows the stream from the journal's newest event. */
async function load() {
  try {
    health = await api.health();
    const cursor = health.journal?.newest_seq ?? 0;
    const list = await api.adapters();
    board.setAll(list.adapters);
    if (!boardMarked) {
      // What bench/status-page.bench.ts times: every category on screen with its first rows.
      performance.mark("board-rendered");
      boardMarked = true;
    }
    connect(cursor);
    await readHistory();
  } catch (error) {
    if (error instanceof NeedsLogin) showLogin();
    else showError(error);
  }
}

/**
 * The stream, from `cursor` on: nothing between the first read and the stream
 * is missed. EventSource reconnects by itself with Last-Event-ID after a drop;
 * a refused stream (401, 503, 410) is started afresh by load().
 */
function connect(cursor) {
  source?.close();
  source = new EventSource(`/v1/events?since=${cursor}`);
  source.addEventListener("open", () => setLive("live", "live"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      setLive("down", "disconnected; retrying");
      setTimeout(() => void load(), RECONNECT_MS);
    } else setLive("reconnecting", "reconnecting…");
  });
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => handle(type, JSON.parse(message.data)));
  }
}

function handle(type, event) {
  feed.add(type, event);
  // The daemon's clock has passed the bars' newest bucket: a new bucket has begun.
  if (Date.parse(event.time) >= historyDueAt) void readHistory();
  const data = event.data ?? {};
  const adapterId = data.adapter_id ?? event.subject;
  if (type === "failover") {
    resolver.failover(data);
    return;
  }
  if (type.startsWith("registry.")) {
    void refreshHealth();
    return;
  }
  if (type === "adapter.removed") {
    board.remove(adapterId);
    return;
  }
  if (type === "adapter.health_changed") board.applyHealthChange(adapterId, data, event.time);
  if (type === "adapter.maintenance_started") board.markCurrentBucket(adapterId, "maintenance");
  queueRead(adapterId, HISTORY_EVENTS.has(type));
}

/** Reads the adapters events were about, a few at a time or the whole list for many. */
function queueRead(adapterId, withHistory) {
  pending.add(adapterId);
  if (withHistory) historyPending.add(adapterId);
  if (flushTimer === undefined) flushTimer = setTimeout(() => void flush(), COALESCE_MS);
}

async function flush() {
  flushTimer = undefined;
  const ids = [...pending];
  const historyIds = [...historyPending];
  pending.clear();
  historyPending.clear();
  try {
    if (ids.length > WHOLE_LIST_AFTER) {
      board.setAll((await api.adapters()).adapters);
      if (historyIds.length > 0) void readHistory();
    } else {
      const answers = await Promise.allSettled(ids.map((id) => api.adapter(id)));
      answers.forEach((answer, index) => {
        if (answer.status === "fulfilled") board.upsert(answer.value);
        else if (
          answer.reason instanceof ApiProblem &&
          answer.reason.code === "ADAPTER_NOT_FOUND"
        ) {
          board.remove(ids[index]);
        }
      });
      void readRowHistories(historyIds);
    }
    if (ids.some((id) => resolver.concerns(id))) void resolver.ask();
    if (ids.includes(detail.adapterId)) void detail.refresh();
  } catch (error) {
    if (error instanceof NeedsLogin) showLogin();
  }
}

/**
 * Every adapter's history bar, a page of GET /v1/history at a time; then the
 * next reading is set for the end of the bars' newest bucket. One reading at a
 * time: one asked for meanwhile follows it.
 */
async function readHistory() {
  if (historyReading) {
    historyAgain = true;
    return historyReading;
  }
  historyDueAt = Number.POSITIVE_INFINITY;
  clearTimeout(historyTimer);
  historyReading = (async () => {
    const size = board.barSize;
    const pages = [];
    const first = await api.boardHistory(size, { limit: HISTORY_PAGE });
    if (first !== undefined) {
      pages.push(first);
      while (pages.length * HISTORY_PAGE < first.total) {
        const page = await api.boardHistory(size, {
          offset: pages.length * HISTORY_PAGE,
          limit: HISTORY_PAGE,
        });
        if (page === undefined) break;
        pages.push(page);
      }
    }
    if (size !== board.barSize) return;
    board.setHistory(first === undefined ? undefined : pages);
    if (first === undefined) return;
    performance.mark("history-rendered");
    const bucketMs = BAR_SIZES[size].bucketMs;
    historyDueAt = Date.parse(first.from) + first.buckets * bucketMs;
    // By the page's clock, a moment after the daemon's reaches that end.
    const wait = Math.max(1_000, historyDueAt - Date.parse(first.until) + 1_000);
    historyTimer = setTimeout(() => void readHistory(), wait);
  })();
  try {
    await historyReading;
  } finally {
    historyReading = undefined;
    if (historyAgain) {
      historyAgain = false;
      void readHistory();
    }
  }
}

/**
 * The history bars of a few adapters, each asked by its list filters (which name
 * one adapter). Only rows on screen: the others keep the mark their events left on
 * their newest bucket until the next whole reading, so a page open on a large,
 * busy board does not ask the daemon twice for every event.
 */
async function readRowHistories(ids) {
  const size = board.barSize;
  const answers = await Promise.allSettled(
    ids
      .filter((id) => board.isOnScreen(id))
      .map((id) => board.adapters.get(id))
      .filter((adapter) => adapter !== undefined)
      .map((adapter) =>
        api.boardHistory(size, {
          limit: 1,
          filter: {
            project: adapter.project,
            domain: adapter.domain,
            category: adapter.category,
            provider: adapter.provider,
          },
        }),
      ),
  );
  if (size !== board.barSize) return;
  // A whole reading under way may have read these rows before their change: read it again after.
  if (historyReading) historyAgain = true;
  for (const answer of answers) {
    if (answer.status === "fulfilled") board.updateHistory(answer.value);
  }
}

async function refreshHealth() {
  try {
    health = await api.health();
    renderSummary();
  } catch (error) {
    if (error instanceof NeedsLogin) showLogin();
  }
}

function showLogin() {
  source?.close();
  setLive("down", "needs a token");
  const dialog = $("login");
  if (!dialog.open) dialog.showModal();
  $("token").focus();
}

$("login").addEventListener("cancel", (event) => event.preventDefault());
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("login-error");
  error.hidden = true;
  try {
    await api.login($("token").value);
    $("token").value = "";
    $("login").close();
    loggedIn = true;
    $("logout").hidden = false;
    await load();
  } catch (failure) {
    error.textContent =
      failure instanceof NeedsLogin || failure instanceof ApiProblem
        ? failure.message
        : String(failure);
    error.hidden = false;
  }
});
$("logout").addEventListener("click", async () => {
  await api.logout();
  loggedIn = false;
  $("logout").hidden = true;
  showLogin();
});

let filterTimer;
$("filter-text").addEventListener("input", (event) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => board.setFilter({ text: event.target.value.trim() }), 120);
});
$("filter-problems").addEventListener("change", (event) =>
  board.setFilter({ problemsOnly: event.target.checked }),
);
barSizeInput.addEventListener("change", () => {
  localStorage.setItem(BAR_SIZE_KEY, barSizeInput.value);
  board.setBarSize(barSizeInput.value);
  void readHistory();
});

// Ages on screen move with the clock; the banner's catalog age needs the daemon's word.
setInterval(() => {
  board.tick();
  renderSummary();
}, 5_000);
setInterval(() => {
  if (health && (loggedIn || source)) void refreshHealth();
}, BANNER_REFRESH_MS);

void load();
