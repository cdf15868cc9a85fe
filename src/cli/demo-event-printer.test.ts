import { describe, expect, it } from "vitest";
import type { EventType, JournalEvent } from "../domain/events.js";
import { DemoEventPrinter } from "./demo-event-printer.js";

const START = Date.parse("2026-12-01T10:00:00.000Z");
const SQLITE = "mahavishnu.adapter.storage.sqlite";
const S3 = "mahavishnu.adapter.storage.s3";

let seq = 0;
function event(type: EventType, subject: string, atSec: number, data = {}): JournalEvent {
  seq += 1;
  return { seq, id: String(seq), type, subject, time: START + atSec * 1000, data };
}

/** A trial check that failed: half-open, then open again. */
function failedRetry(subject: string, atSec: number): JournalEvent[] {
  return [
    event("breaker.half_opened", subject, atSec),
    event("breaker.opened", subject, atSec, { last_failure: "HTTP 503" }),
  ];
}

describe("the demo's event lines", () => {
  it("prints the first OPEN, hides the failed retries, then sums them up once per interval", () => {
    const printer = new DemoEventPrinter(60_000);
    expect(
      printer.lines([event("breaker.opened", SQLITE, 0, { last_failure: "HTTP 503" })], START),
    ).toEqual([`10:00:00  ${SQLITE}: breaker OPEN (HTTP 503)`]);
    const quiet: string[] = [];
    for (let atSec = 10; atSec < 60; atSec += 10) {
      quiet.push(...printer.lines(failedRetry(SQLITE, atSec), START + atSec * 1000));
    }
    expect(quiet).toEqual([]);
    expect(printer.lines([], START + 60_000)).toEqual([
      `10:01:00  ${SQLITE}: breaker still open, 5 retries failed in the last 60 s`,
    ]);
    // The next summary waits a whole interval, however often the printer is asked.
    expect(printer.lines(failedRetry(SQLITE, 70), START + 70_000)).toEqual([]);
    expect(printer.lines([], START + 119_000)).toEqual([]);
    expect(printer.lines([], START + 120_000)).toEqual([
      `10:02:00  ${SQLITE}: breaker still open, 1 retry failed in the last 60 s`,
    ]);
  });

  it("says nothing for an interval without failed retries, and prints the close with their count", () => {
    const printer = new DemoEventPrinter(60_000);
    printer.lines([event("breaker.opened", SQLITE, 0, { last_failure: "HTTP 503" })], START);
    printer.lines(failedRetry(SQLITE, 30), START + 30_000);
    expect(printer.lines([], START + 60_000)).toHaveLength(1);
    expect(printer.lines([], START + 120_000)).toEqual([]);
    expect(
      printer.lines(
        [event("breaker.half_opened", SQLITE, 130), event("breaker.closed", SQLITE, 131)],
        START + 131_000,
      ),
    ).toEqual([`10:02:11  ${SQLITE}: breaker closed (after 1 retry failed)`]);
    // Closed means forgotten: the next OPEN is news again, and no summary follows the close.
    expect(printer.lines([], START + 300_000)).toEqual([]);
    expect(
      printer.lines([event("breaker.opened", SQLITE, 400, { last_failure: "timeout" })], START),
    ).toEqual([`10:06:40  ${SQLITE}: breaker OPEN (timeout)`]);
  });

  it("keeps each adapter's retries apart and prints every other event as it is", () => {
    const printer = new DemoEventPrinter(60_000);
    const lines = printer.lines(
      [
        event("breaker.opened", SQLITE, 0, { last_failure: "HTTP 503" }),
        event("adapter.health_changed", S3, 1, { from: "healthy", to: "unhealthy", reason: "x" }),
        event("breaker.opened", S3, 2, { last_failure: "HTTP 500" }),
        ...failedRetry(SQLITE, 10),
        ...failedRetry(SQLITE, 20),
        ...failedRetry(S3, 12),
        event("breaker.half_opened", S3, 22),
        event("breaker.closed", S3, 22),
      ],
      START + 30_000,
    );
    expect(lines).toEqual([
      `10:00:00  ${SQLITE}: breaker OPEN (HTTP 503)`,
      `10:00:01  ${S3}: healthy -> unhealthy (x)`,
      `10:00:02  ${S3}: breaker OPEN (HTTP 500)`,
      `10:00:22  ${S3}: breaker closed (after 1 retry failed)`,
    ]);
    expect(printer.lines([], START + 60_000)).toEqual([
      `10:01:00  ${SQLITE}: breaker still open, 2 retries failed in the last 60 s`,
    ]);
  });

  it("prints a half-open or close it has no OPEN for, as the journal has it", () => {
    const printer = new DemoEventPrinter(60_000);
    expect(
      printer.lines(
        [event("breaker.half_opened", SQLITE, 0), event("breaker.closed", SQLITE, 1)],
        START + 1_000,
      ),
    ).toEqual([
      `10:00:00  ${SQLITE}: breaker half-open, one trial check`,
      `10:00:01  ${SQLITE}: breaker closed`,
    ]);
  });
});
