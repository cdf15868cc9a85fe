// The page's charts, drawn as SVG by hand: a latency sparkline, the 90-bucket
// history bar, a response-time chart and a timeline. Colours come from CSS classes
// (style.css), so both themes apply and nothing needs a style attribute.
import { clockTime, dateTime, milliseconds, s } from "./dom.js";

/** The status a history-bar letter stands for (history contract: h d u m ?). */
export const BAR_LETTERS = {
  h: "healthy",
  d: "degraded",
  u: "unhealthy",
  m: "maintenance",
  "?": "unknown",
};

/** Worst first, as a bucket's status is the worst seen in it. */
const SEVERITY = ["unhealthy", "degraded", "maintenance", "healthy", "unknown"];

/** The worse of two statuses, by the history contract's order. */
export function worse(a, b) {
  return SEVERITY.indexOf(a) <= SEVERITY.indexOf(b) ? a : b;
}

/** A small line of latencies (oldest first; null where there was no check). */
export function sparkline(values, width = 64, height = 20) {
  const known = values.filter((value) => typeof value === "number");
  const svg = s("svg", {
    class: "sparkline",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label":
      known.length === 0
        ? "no latency figures yet"
        : `latency, last ${milliseconds(known[known.length - 1])}, highest ${milliseconds(Math.max(...known))}`,
  });
  if (known.length === 0) return svg;
  const top = Math.max(...known) || 1;
  const step = values.length > 1 ? (width - 2) / (values.length - 1) : 0;
  const points = [];
  values.forEach((value, index) => {
    if (typeof value !== "number") return;
    const x = 1 + index * step;
    const y = height - 1 - (value / top) * (height - 2);
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  if (points.length === 1) {
    const [x, y] = points[0].split(",");
    svg.append(s("circle", { cx: x, cy: y, r: 1.5, class: "spark-line" }));
  } else svg.append(s("polyline", { points: points.join(" "), class: "spark-line" }));
  return svg;
}

/**
 * The history bar: one rectangle per bucket, oldest left; hovering (or focusing
 * the row) shows each bucket's start and status in its tooltip.
 */
export function historyBar(statusBar, fromIso, bucketMs, width = 168, height = 16) {
  const letters = [...statusBar];
  const svg = s("svg", {
    class: "history-bar",
    width,
    height,
    viewBox: `0 0 ${letters.length * 2} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": describeBar(letters),
    dataset: { bucketMs: String(bucketMs) },
  });
  const from = Date.parse(fromIso);
  letters.forEach((letter, index) => {
    const status = BAR_LETTERS[letter] ?? "unknown";
    const start = new Date(from + index * bucketMs).toISOString();
    svg.append(
      s(
        "rect",
        {
          x: index * 2,
          y: 0,
          width: 1.6,
          height,
          class: `bucket status-${status}`,
          dataset: { bucket: String(index), status, start },
        },
        s("title", {}, `${dateTime(start)}: ${status}`),
      ),
    );
  });
  return svg;
}

function describeBar(letters) {
  const counts = {};
  for (const letter of letters) {
    const status = BAR_LETTERS[letter] ?? "unknown";
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return `history of ${letters.length} buckets: ${Object.entries(counts)
    .map(([status, count]) => `${count} ${status}`)
    .join(", ")}`;
}

/**
 * A response-time chart: one or more series of `{ at, ms }` over the same
 * time axis, with the highest value and the span written on it.
 */
export function responseChart(series, width = 560, height = 160) {
  const pad = { left: 48, right: 8, top: 8, bottom: 20 };
  const svg = s("svg", {
    class: "response-chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "response time",
  });
  const points = series.flatMap((line) => line.points);
  if (points.length === 0) {
    svg.append(s("text", { x: width / 2, y: height / 2, class: "chart-note" }, "no checks yet"));
    return svg;
  }
  const times = points.map((point) => Date.parse(point.at));
  const first = Math.min(...times);
  const last = Math.max(...times);
  const top = Math.max(...points.map((point) => point.ms)) || 1;
  const x = (iso) =>
    pad.left +
    (last === first ? 0.5 : (Date.parse(iso) - first) / (last - first)) *
      (width - pad.left - pad.right);
  const y = (ms) => pad.top + (1 - ms / top) * (height - pad.top - pad.bottom);
  svg.append(
    s("line", { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), class: "axis" }),
    s("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(0), class: "axis" }),
    s("text", { x: pad.left - 4, y: pad.top + 8, class: "axis-label end" }, milliseconds(top)),
    s("text", { x: pad.left - 4, y: y(0), class: "axis-label end" }, "0"),
    s("text", { x: pad.left, y: height - 4, class: "axis-label" }, clockTime(new Date(first))),
    s(
      "text",
      { x: width - pad.right, y: height - 4, class: "axis-label end" },
      clockTime(new Date(last)),
    ),
  );
  for (const line of series) {
    const sorted = [...line.points].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    svg.append(
      s("polyline", {
        points: sorted
          .map((point) => `${x(point.at).toFixed(1)},${y(point.ms).toFixed(1)}`)
          .join(" "),
        class: `chart-line ${line.className}`,
      }),
    );
    for (const point of sorted) {
      svg.append(
        s(
          "circle",
          { cx: x(point.at), cy: y(point.ms), r: 2.5, class: `chart-dot ${line.className}` },
          s("title", {}, `${dateTime(point.at)}: ${milliseconds(point.ms)} (${line.label})`),
        ),
      );
    }
  }
  return svg;
}

/**
 * A timeline from `fromIso` to `untilIso`: history buckets as coloured bands,
 * maintenance windows as hatched bands over them, state changes as ticks.
 */
export function timeline({ fromIso, untilIso, buckets, changes, windows }, width = 560) {
  const height = 44;
  const from = Date.parse(fromIso);
  const until = Date.parse(untilIso);
  const span = Math.max(1, until - from);
  const x = (ms) => Math.min(width, Math.max(0, ((ms - from) / span) * width));
  const svg = s("svg", {
    class: "timeline",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `timeline from ${dateTime(fromIso)} to ${dateTime(untilIso)}: ${changes.length} state changes, ${windows.length} maintenance windows`,
  });
  svg.append(s("rect", { x: 0, y: 8, width, height: 20, class: "bucket status-unknown" }));
  for (const bucket of buckets) {
    const start = Date.parse(bucket.start);
    const end = start + bucket.ms;
    svg.append(
      s(
        "rect",
        {
          x: x(start),
          y: 8,
          width: Math.max(0.5, x(end) - x(start)),
          height: 20,
          class: `bucket status-${bucket.status}`,
        },
        s("title", {}, `${dateTime(bucket.start)}: ${bucket.status}`),
      ),
    );
  }
  for (const window of windows) {
    const start = Date.parse(window.from);
    const end = window.until ? Date.parse(window.until) : until;
    svg.append(
      s(
        "rect",
        {
          x: x(start),
          y: 4,
          width: Math.max(2, x(end) - x(start)),
          height: 28,
          class: "maintenance-window",
          dataset: { maintenance: "window" },
        },
        s(
          "title",
          {},
          `maintenance ${dateTime(window.from)} – ${window.until ? dateTime(window.until) : "now"}${window.reason ? `: ${window.reason}` : ""}`,
        ),
      ),
    );
  }
  for (const change of changes) {
    const at = x(Date.parse(change.at));
    svg.append(
      s(
        "g",
        { class: `change status-${change.to}` },
        s("line", { x1: at, y1: 2, x2: at, y2: 34 }),
        s("title", {}, `${dateTime(change.at)}: ${change.from} → ${change.to} (${change.reason})`),
      ),
    );
  }
  svg.append(
    s("text", { x: 0, y: height - 1, class: "axis-label" }, dateTime(fromIso)),
    s("text", { x: width, y: height - 1, class: "axis-label end" }, dateTime(untilIso)),
  );
  return svg;
}
