import { describe, expect, it } from "vitest";
import { statusView } from "../../../test/support/status-view.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import { statusChanges } from "./status-changes.js";
import {
  CLEAR_LINE_END,
  CLEAR_TO_END,
  CURSOR_HOME,
  changeLine,
  changeRecord,
  describeWatchSource,
  renderFrame,
  type WatchFrame,
} from "./status-frame.js";

const NOW = Date.parse("2026-12-02T03:00:00.000Z");

/** Checked ten seconds before NOW. */
function view(id: string, overrides: Partial<AdapterStatusView> = {}): AdapterStatusView {
  return statusView(id, {
    since: "2026-12-02T02:00:00.000Z",
    last_checked: "2026-12-02T02:59:50.000Z",
    latency_ms: 4,
    health_check_url: "http://127.0.0.1:1/health",
    ...overrides,
  });
}

const ADAPTERS = ["a.adapter.cache.redis", "a.adapter.storage.gcs", "a.adapter.storage.s3"].map(
  (id) => view(id),
);

function frame(overrides: Partial<WatchFrame> = {}): WatchFrame {
  return {
    source: { kind: "daemon", daemon: "daemon at http://127.0.0.1:8681" },
    listing: { adapters: ADAPTERS, registry: null },
    changedAt: Date.parse("2026-12-02T02:58:07.000Z"),
    now: NOW,
    ...overrides,
  };
}

describe("the watch frame", () => {
  it("is drawn over the last one from the top, each line cleared to its end, the rest cleared after", () => {
    const text = renderFrame(frame());
    expect(text.startsWith(CURSOR_HOME)).toBe(true);
    expect(text.endsWith(CLEAR_TO_END)).toBe(true);
    // Never the whole screen erased first (that is what flickers), and no newline past the last line.
    expect(text).not.toContain("\u001b[2J");
    const lines = text.slice(CURSOR_HOME.length, -CLEAR_TO_END.length).split("\n");
    for (const line of lines) expect(line.endsWith(CLEAR_LINE_END)).toBe(true);
    expect(lines[0]).toBe(
      `daemon at http://127.0.0.1:8681 | changed 02:58:07 UTC | 03:00:00 UTC | Ctrl-C to quit${CLEAR_LINE_END}`,
    );
    expect(lines[1]).toBe(`registry: never contacted${CLEAR_LINE_END}`);
    expect(lines[2]).toMatch(/^ADAPTER +STATUS +SINCE/);
    expect(lines.slice(3).map((line) => line.split(" ")[0])).toEqual(
      ADAPTERS.map((adapter) => adapter.adapter_id),
    );
  });

  it("fits the terminal: lines cut to its width, and what does not fit in its height counted", () => {
    const text = renderFrame(frame(), { columns: 30, rows: 4 });
    const lines = text
      .slice(CURSOR_HOME.length, -CLEAR_TO_END.length)
      .split("\n")
      .map((line) => line.replace(CLEAR_LINE_END, ""));
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(30);
    expect(lines[3]).toBe("... 3 more lines: enlarge the ");
  });

  it("says when the file answers because the daemon is down, and since when", () => {
    const source = {
      kind: "database" as const,
      path: "/var/lib/healthd.db",
      daemon: {
        description: "daemon at http://127.0.0.1:8681",
        downSince: Date.parse("2026-12-02T02:59:01Z"),
      },
    };
    expect(describeWatchSource(source)).toBe(
      "database /var/lib/healthd.db (read-only; daemon at http://127.0.0.1:8681 down since 02:59:01 UTC)",
    );
    expect(renderFrame(frame({ source, changedAt: null }))).toContain(
      "down since 02:59:01 UTC) | no change yet |",
    );
    expect(describeWatchSource({ kind: "database", path: "x.db" })).toBe(
      "database x.db (read-only, daemon not asked)",
    );
  });
});

describe("changes between two listings", () => {
  it("are the adapters listed, gone, or whose state changed; a new latency or check time is none", () => {
    const before = [view("a.adapter.storage.gcs"), view("a.adapter.storage.s3")];
    const after = [
      view("a.adapter.cache.redis"),
      view("a.adapter.storage.gcs", { latency_ms: 90, last_checked: "2026-12-02T03:00:00.000Z" }),
    ];
    expect(
      statusChanges(before, after).map((change) => [change.kind, change.adapter.adapter_id]),
    ).toEqual([
      ["added", "a.adapter.cache.redis"],
      ["removed", "a.adapter.storage.s3"],
    ]);
    const opened = [view("a.adapter.storage.gcs", { breaker: "open", usable: false })];
    expect(statusChanges(before.slice(0, 1), opened)).toHaveLength(1);
  });

  it("print as a timestamped line, and as a JSON record, with the state before and after", () => {
    const before = view("a.adapter.storage.s3");
    const after = view("a.adapter.storage.s3", {
      status: "unhealthy",
      stale: true,
      usable: false,
      reason: "HTTP 503 (2 consecutive failures)",
    });
    const [change] = statusChanges([before], [after]);
    if (!change) throw new Error("no change");
    expect(changeLine(change, NOW)).toBe(
      "2026-12-02T03:00:00.000Z  a.adapter.storage.s3: healthy -> unhealthy, stale, not usable (HTTP 503 (2 consecutive failures))",
    );
    expect(changeRecord(change, { kind: "daemon", daemon: "daemon at x" }, NOW)).toEqual({
      type: "change",
      time: "2026-12-02T03:00:00.000Z",
      source: "daemon at x",
      change: "changed",
      adapter_id: "a.adapter.storage.s3",
      from: "healthy",
      to: "unhealthy, stale, not usable",
      adapter: after,
    });
  });
});
