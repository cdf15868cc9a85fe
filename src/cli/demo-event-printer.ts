/**
 * What `demo` prints of the journal: one line per event, except the retries of a
 * breaker that stays open. A dead adapter's breaker lets one trial check through
 * every `half_open_after_sec`, and each failed trial records a `breaker.half_opened`
 * and a `breaker.opened` event; printed as they are, those pairs would fill the
 * demo's first minutes. So the first OPEN is printed, the failed retries are
 * counted and summed up at most once per adapter per interval, and the close is
 * printed when the adapter recovers. The journal itself keeps every event.
 */
import type { JournalEvent } from "../domain/events.js";
import { formatClockTime, formatEvent } from "./format.js";

/** How often a breaker that stays open is mentioned again, at most. */
export const BREAKER_SUMMARY_INTERVAL_MS = 60_000;

/** A breaker the demo has printed as open and not yet as closed. */
interface OpenBreaker {
  /** Start of the summary window: when it opened, or when it was last summed up. */
  windowStartMs: number;
  /** Failed trial checks since windowStartMs. */
  failedInWindow: number;
  /** Failed trial checks since it opened. */
  failedSinceOpened: number;
}

export class DemoEventPrinter {
  private readonly open = new Map<string, OpenBreaker>();

  constructor(private readonly summaryIntervalMs = BREAKER_SUMMARY_INTERVAL_MS) {}

  /** The lines for `events` (oldest first), then the summaries due at `nowMs`. */
  lines(events: readonly JournalEvent[], nowMs: number): string[] {
    const printed: string[] = [];
    for (const event of events) {
      const line = this.lineFor(event);
      if (line !== undefined) printed.push(line);
    }
    return [...printed, ...this.summariesDue(nowMs)];
  }

  /** The event's line, or undefined when it is a retry of a breaker already printed as open. */
  private lineFor(event: JournalEvent): string | undefined {
    const breaker = this.open.get(event.subject);
    switch (event.type) {
      case "breaker.opened":
        if (breaker === undefined) {
          this.open.set(event.subject, {
            windowStartMs: event.time,
            failedInWindow: 0,
            failedSinceOpened: 0,
          });
          return formatEvent(event);
        }
        // Opened again: the trial check that half-opened it failed.
        breaker.failedInWindow += 1;
        breaker.failedSinceOpened += 1;
        return undefined;
      case "breaker.half_opened":
        // Its outcome, open again or closed, is what the demo reports.
        return breaker === undefined ? formatEvent(event) : undefined;
      case "breaker.closed":
        if (breaker === undefined) return formatEvent(event);
        this.open.delete(event.subject);
        return breaker.failedSinceOpened === 0
          ? formatEvent(event)
          : `${formatEvent(event)} (after ${retries(breaker.failedSinceOpened)} failed)`;
      default:
        return formatEvent(event);
    }
  }

  private summariesDue(nowMs: number): string[] {
    const lines: string[] = [];
    for (const [adapterId, breaker] of this.open) {
      if (nowMs - breaker.windowStartMs < this.summaryIntervalMs) continue;
      if (breaker.failedInWindow > 0) {
        const seconds = Math.round((nowMs - breaker.windowStartMs) / 1000);
        lines.push(
          `${formatClockTime(nowMs)}  ${adapterId}: breaker still open, ${retries(breaker.failedInWindow)} failed in the last ${seconds} s`,
        );
      }
      breaker.windowStartMs = nowMs;
      breaker.failedInWindow = 0;
    }
    return lines;
  }
}

function retries(count: number): string {
  return count === 1 ? "1 retry" : `${count} retries`;
}
