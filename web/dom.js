// Building DOM nodes without innerHTML: every text the daemon sends (adapter ids,
// reasons, metadata) is set as text, never parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * An HTML element: `h("td", { class: "x", dataset: { adapterId: id } }, "text", child)`.
 * Attributes with value `undefined`, `null` or `false` are left out.
 */
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** An SVG element, as `h` makes HTML ones. */
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** "3 s", "4 min", "2 h", "5 d": how long ago (or ahead) `iso` is from `nowMs`. */
export function age(iso, nowMs = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((nowMs - Date.parse(iso)) / 1000);
  const ahead = seconds < 0;
  const magnitude = Math.abs(seconds);
  const text =
    magnitude < 60
      ? `${magnitude} s`
      : magnitude < 3600
        ? `${Math.floor(magnitude / 60)} min`
        : magnitude < 86_400
          ? `${Math.floor(magnitude / 3600)} h`
          : `${Math.floor(magnitude / 86_400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

// One formatter each, made once: toLocaleString() builds a new one on every call,
// which at 90 history cells a row made drawing a board of 500 rows take seconds.
const CLOCK_TIME = new Intl.DateTimeFormat([], {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const DATE_TIME = new Intl.DateTimeFormat([], {
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** A time as the reader's clock shows it, to the second. */
export function clockTime(iso) {
  return CLOCK_TIME.format(new Date(iso));
}

/** A date and time, short. */
export function dateTime(iso) {
  return DATE_TIME.format(new Date(iso));
}

/** "99.95 %", or "–" when there is no figure. */
export function percent(value) {
  if (value === null || value === undefined) return "–";
  return `${value >= 99.995 && value < 100 ? "99.99" : Number(value.toFixed(2))} %`;
}

/** "1.2 ms", "801 ms", "–". */
export function milliseconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}
