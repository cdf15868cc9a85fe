/**
 * What `status --watch` shows, as pure functions of what it knows: the frame a
 * terminal is redrawn with, and the lines and JSON records written instead
 * when the output is not a terminal.
 */
import type { AdapterStatusView } from "../../domain/status-view.js";
import { formatClockTime, formatStatusTable } from "../format.js";
import { adapterState, type StatusChange, type StatusListingSnapshot } from "./status-changes.js";

/** Who the listing shown comes from. */
export type WatchSource =
  /** A daemon answers (its description: `daemon at http://…`). */
  | { kind: "daemon"; daemon: string }
  /** The database file, read-only; `daemon` when one is asked again (not with --db). */
  | { kind: "database"; path: string; daemon?: { description: string; downSince: number } }
  /** --url's daemon does not answer: what it last said is shown. */
  | { kind: "unreachable"; daemon: string; downSince: number };

/** `daemon at http://…`, `database x.db (read-only; daemon at … down since 02:40:01 UTC)`. */
export function describeWatchSource(source: WatchSource): string {
  switch (source.kind) {
    case "daemon":
      return source.daemon;
    case "database":
      return source.daemon
        ? `database ${source.path} (read-only; ${source.daemon.description} down since ${clock(source.daemon.downSince)})`
        : `database ${source.path} (read-only, daemon not asked)`;
    case "unreachable":
      return `${source.daemon} down since ${clock(source.downSince)}, retrying; showing what it last answered`;
  }
}

/** Everything a frame shows. */
export interface WatchFrame {
  source: WatchSource;
  listing: StatusListingSnapshot;
  /** When the listing last changed (null: not since it was first shown). */
  changedAt: number | null;
  now: number;
}

/** The terminal's size; a frame is cut to it so that it never scrolls. */
export interface ScreenSize {
  columns?: number | undefined;
  rows?: number | undefined;
}

export const CURSOR_HOME = "\u001b[H";
export const CLEAR_LINE_END = "\u001b[K";
export const CLEAR_TO_END = "\u001b[J";
export const HIDE_CURSOR = "\u001b[?25l";
export const SHOW_CURSOR = "\u001b[?25h";

/** The header and the table, one string per line, before they are cut to the screen. */
export function frameLines(frame: WatchFrame): string[] {
  const changed = frame.changedAt === null ? "no change yet" : `changed ${clock(frame.changedAt)}`;
  const header = `${describeWatchSource(frame.source)} | ${changed} | ${clock(frame.now)} | Ctrl-C to quit`;
  const table = formatStatusTable(frame.listing, frame.now).trimEnd().split("\n");
  return [header, ...table];
}

/**
 * The whole frame as one write: cursor home, each line cleared to its end,
 * the rest of the screen cleared. Nothing is erased before it is drawn over,
 * so a redraw does not flicker. Lines are cut to the width and the frame to
 * the height, saying how many adapters did not fit.
 */
export function renderFrame(frame: WatchFrame, screen: ScreenSize = {}): string {
  let lines = frameLines(frame);
  if (screen.rows !== undefined && screen.rows > 0 && lines.length > screen.rows) {
    const shown = Math.max(1, screen.rows - 1);
    const hidden = lines.length - shown;
    lines = [
      ...lines.slice(0, shown),
      `... ${hidden} more line${hidden === 1 ? "" : "s"}: enlarge the terminal or narrow with --category, --status, ...`,
    ];
  }
  const columns = screen.columns;
  if (columns !== undefined && columns > 0) lines = lines.map((line) => line.slice(0, columns));
  return `${CURSOR_HOME}${lines.map((line) => `${line}${CLEAR_LINE_END}`).join("\n")}${CLEAR_TO_END}`;
}

/** `2026-12-02T02:40:01.123Z  mahavishnu.adapter.storage.s3: healthy -> unhealthy (HTTP 503)`. */
export function changeLine(change: StatusChange, time: number): string {
  const at = new Date(time).toISOString();
  const id = change.adapter.adapter_id;
  switch (change.kind) {
    case "added":
      return `${at}  ${id}: listed, ${adapterState(change.adapter)}${reasonOf(change.adapter)}`;
    case "removed":
      return `${at}  ${id}: no longer listed`;
    case "changed":
      return `${at}  ${id}: ${adapterState(change.before)} -> ${adapterState(change.adapter)}${reasonOf(change.adapter)}`;
  }
}

/** `2026-12-02T02:40:01.123Z  from database x.db (read-only; …)`: who answers from now on. */
export function sourceLine(source: WatchSource, time: number): string {
  return `${new Date(time).toISOString()}  from ${describeWatchSource(source)}`;
}

/** One NDJSON record of `status --watch --json`. */
export type WatchRecord =
  | {
      type: "listing";
      time: string;
      source: string;
      adapters: AdapterStatusView[];
      registry: StatusListingSnapshot["registry"];
    }
  | { type: "source"; time: string; source: string; from: WatchSource["kind"] }
  | {
      type: "change";
      time: string;
      source: string;
      change: StatusChange["kind"];
      adapter_id: string;
      from: string | null;
      to: string | null;
      adapter: AdapterStatusView | null;
    }
  | { type: "registry"; time: string; source: string; registry: StatusListingSnapshot["registry"] };

export function listingRecord(
  listing: StatusListingSnapshot,
  source: WatchSource,
  time: number,
): WatchRecord {
  return {
    type: "listing",
    time: new Date(time).toISOString(),
    source: describeWatchSource(source),
    adapters: listing.adapters,
    registry: listing.registry,
  };
}

export function changeRecord(change: StatusChange, source: WatchSource, time: number): WatchRecord {
  return {
    type: "change",
    time: new Date(time).toISOString(),
    source: describeWatchSource(source),
    change: change.kind,
    adapter_id: change.adapter.adapter_id,
    from:
      change.kind === "added"
        ? null
        : adapterState(change.kind === "changed" ? change.before : change.adapter),
    to: change.kind === "removed" ? null : adapterState(change.adapter),
    adapter: change.kind === "removed" ? null : change.adapter,
  };
}

export function sourceRecord(source: WatchSource, time: number): WatchRecord {
  return {
    type: "source",
    time: new Date(time).toISOString(),
    source: describeWatchSource(source),
    from: source.kind,
  };
}

/** ` (HTTP 503; maintenance: upgrade)`: the verdict's reason, and the maintenance's when in one. */
function reasonOf(adapter: AdapterStatusView): string {
  const reasons = [
    adapter.reason,
    adapter.maintenance ? `maintenance: ${adapter.maintenance.reason}` : "",
  ].filter(Boolean);
  return reasons.length > 0 ? ` (${reasons.join("; ")})` : "";
}

function clock(time: number): string {
  return `${formatClockTime(time)} UTC`;
}
