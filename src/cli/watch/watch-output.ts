/**
 * Where `status --watch` writes what it sees: a terminal redrawn in place, or
 * (into a pipe or a file) a timestamped line, or a JSON line, per change.
 */
import { formatStatusTable } from "../format.js";
import type { StatusChange, StatusListingSnapshot } from "./status-changes.js";
import {
  changeLine,
  changeRecord,
  HIDE_CURSOR,
  listingRecord,
  renderFrame,
  type ScreenSize,
  SHOW_CURSOR,
  sourceLine,
  sourceRecord,
  type WatchRecord,
  type WatchSource,
} from "./status-frame.js";

/** One new listing, and how it differs from the last one shown. */
export interface WatchUpdate {
  listing: StatusListingSnapshot;
  source: WatchSource;
  /** True for the first listing shown. */
  first: boolean;
  sourceChanged: boolean;
  registryChanged: boolean;
  changes: StatusChange[];
  /** When the listing last changed (null: not since it was first shown). */
  changedAt: number | null;
  time: number;
}

export interface WatchOutput {
  update(update: WatchUpdate): void;
  /** Writes what is still pending and leaves the output as it found it (the cursor shown). */
  close(): void;
}

/** At most this many redraws a second, however many changes arrive. */
const REDRAWS_PER_SECOND = 10;
/** Ages ("12s") go on counting between changes: the frame is redrawn this often anyway. */
const TICK_MS = 1_000;

export interface TerminalLike {
  write(text: string): unknown;
  readonly columns?: number | undefined;
  readonly rows?: number | undefined;
}

/**
 * Redraws the whole frame in place, a burst of updates coalesced into one
 * redraw (REDRAWS_PER_SECOND at most), and once a second for the ages.
 */
export function terminalOutput(terminal: TerminalLike, now: () => number = Date.now): WatchOutput {
  const minGapMs = 1000 / REDRAWS_PER_SECOND;
  let latest: WatchUpdate | undefined;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let pending: NodeJS.Timeout | undefined;
  const screen = (): ScreenSize => ({ columns: terminal.columns, rows: terminal.rows });
  const draw = () => {
    pending = undefined;
    if (!latest) return;
    lastDrawAt = now();
    terminal.write(
      renderFrame(
        {
          source: latest.source,
          listing: latest.listing,
          changedAt: latest.changedAt,
          now: lastDrawAt,
        },
        screen(),
      ),
    );
  };
  const tick = setInterval(draw, TICK_MS);
  tick.unref();
  terminal.write(HIDE_CURSOR);
  return {
    update(update) {
      latest = update;
      if (pending) return;
      const wait = lastDrawAt + minGapMs - now();
      if (wait <= 0) draw();
      else pending = setTimeout(draw, wait);
    },
    close() {
      clearInterval(tick);
      if (pending) {
        clearTimeout(pending);
        draw();
      }
      terminal.write(`${SHOW_CURSOR}\n`);
    },
  };
}

/** The table once, then a timestamped line per change (and per change of source). */
export function lineOutput(write: (text: string) => void): WatchOutput {
  return {
    update(update) {
      if (update.first) {
        write(`${sourceLine(update.source, update.time)}\n`);
        write(formatStatusTable(update.listing, update.time));
        return;
      }
      if (update.sourceChanged) write(`${sourceLine(update.source, update.time)}\n`);
      if (update.registryChanged) {
        // The registry line of the table, as it reads now.
        const registry = formatStatusTable({ ...update.listing, adapters: [] }, update.time);
        write(`${new Date(update.time).toISOString()}  ${registry.split("\n")[0]}\n`);
      }
      for (const change of update.changes) write(`${changeLine(change, update.time)}\n`);
    },
    close() {},
  };
}

/** NDJSON: the listing as one record, then a record per change (and per change of source). */
export function jsonLinesOutput(write: (text: string) => void): WatchOutput {
  const emit = (record: WatchRecord) => write(`${JSON.stringify(record)}\n`);
  return {
    update(update) {
      const { source, time } = update;
      if (update.first) {
        emit(listingRecord(update.listing, source, time));
        return;
      }
      if (update.sourceChanged) emit(sourceRecord(source, time));
      if (update.registryChanged) {
        emit({
          type: "registry",
          time: new Date(time).toISOString(),
          source: sourceRecord(source, time).source,
          registry: update.listing.registry,
        });
      }
      for (const change of update.changes) emit(changeRecord(change, source, time));
    },
    close() {},
  };
}
