import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CURSOR_HOME, HIDE_CURSOR, SHOW_CURSOR } from "./status-frame.js";
import { lineOutput, terminalOutput, type WatchUpdate } from "./watch-output.js";

function update(time: number, overrides: Partial<WatchUpdate> = {}): WatchUpdate {
  return {
    listing: { adapters: [], registry: null },
    source: { kind: "daemon", daemon: "daemon at http://127.0.0.1:8681" },
    first: false,
    sourceChanged: false,
    registryChanged: false,
    changes: [],
    changedAt: time,
    time,
    ...overrides,
  };
}

describe("the terminal output", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-12-02T03:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("coalesces a burst into at most ten redraws a second, each a whole frame in one write", () => {
    const writes: string[] = [];
    const output = terminalOutput({ write: (text) => writes.push(text), columns: 120, rows: 40 });
    expect(writes).toEqual([HIDE_CURSOR]);
    // 200 updates over 500 ms: one redraw at once, then one per 100 ms.
    for (let index = 0; index < 200; index++) {
      output.update(update(Date.now()));
      vi.advanceTimersByTime(2.5);
    }
    vi.advanceTimersByTime(100);
    const frames = writes.filter((text) => text.startsWith(CURSOR_HOME));
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames.length).toBeLessThanOrEqual(7);
    output.close();
    expect(writes.at(-1)).toBe(`${SHOW_CURSOR}\n`);
  });

  it("redraws once a second without a change, so ages go on counting", () => {
    const writes: string[] = [];
    const output = terminalOutput({ write: (text) => writes.push(text) });
    output.update(update(Date.now()));
    vi.advanceTimersByTime(3_000);
    expect(writes.filter((text) => text.startsWith(CURSOR_HOME))).toHaveLength(4);
    output.close();
  });
});

describe("the line output", () => {
  it("prints who answers and the table first, then a line per change of source", () => {
    const written: string[] = [];
    const output = lineOutput((text) => written.push(text));
    const time = Date.parse("2026-12-02T03:00:00Z");
    output.update(update(time, { first: true }));
    output.update(
      update(time + 1000, {
        sourceChanged: true,
        source: {
          kind: "database",
          path: "x.db",
          daemon: { description: "daemon at y", downSince: time + 900 },
        },
      }),
    );
    expect(written.join("")).toBe(
      "2026-12-02T03:00:00.000Z  from daemon at http://127.0.0.1:8681\n" +
        "registry: never contacted\nno adapters known yet\n" +
        "2026-12-02T03:00:01.000Z  from database x.db (read-only; daemon at y down since 03:00:00 UTC)\n",
    );
  });
});
