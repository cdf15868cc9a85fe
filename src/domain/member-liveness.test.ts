import { describe, expect, it } from "vitest";
import { MemberLiveness } from "./member-liveness.js";

const TTL = 12_000;
const TICK = TTL / 6;

/** A liveness view for "a" that hears from t = 0, ticking every TTL/6 like the membership does. */
function hearingAt(nowMs = 0, assumed: readonly string[] = []) {
  const liveness = new MemberLiveness({
    self: "a",
    leaseTtlMs: TTL,
    blindGapMs: TTL / 2,
    assumed,
    nowMs,
  });
  liveness.thaw(nowMs);
  return liveness;
}

/** Sweeps every tick from `fromMs` up to and including `toMs`; returns what was dropped when. */
function sweepEveryTick(liveness: MemberLiveness, fromMs: number, toMs: number) {
  const drops: { atMs: number; dropped: readonly string[] }[] = [];
  for (let at = fromMs; at <= toMs; at += TICK) {
    const dropped = liveness.sweep(at);
    if (dropped.length > 0) drops.push({ atMs: at, dropped });
  }
  return drops;
}

describe("MemberLiveness", () => {
  it("always counts itself, alone at first, and sorts the members", () => {
    const liveness = hearingAt();
    expect(liveness.members()).toEqual(["a"]);
    liveness.heard("c", 0, 1);
    liveness.heard("b", 0, 2);
    liveness.heard("a", 0, 3);
    expect(liveness.members()).toEqual(["a", "b", "c"]);
    liveness.left("a");
    expect(liveness.members()).toEqual(["a", "b", "c"]);
  });

  it("keeps a member whose renewals keep coming", () => {
    const liveness = hearingAt();
    for (let at = 0, revision = 1; at <= 10 * TTL; at += TTL / 3, revision++) {
      liveness.heard("b", at, revision);
      expect(liveness.sweep(at)).toEqual([]);
      expect(liveness.sweep(at + TICK)).toEqual([]);
    }
    expect(liveness.members()).toEqual(["a", "b"]);
  });

  it("drops a member not heard of for a lease TTL, at the first sweep from then on", () => {
    const liveness = hearingAt();
    liveness.heard("b", 1_000, 1);
    expect(sweepEveryTick(liveness, 0, 3 * TTL)).toEqual([
      // Heard at 1 s, so silent for a TTL from 13 s; sweeps fall every 2 s: the first after is at 14 s.
      { atMs: 7 * TICK, dropped: ["b"] },
    ]);
    expect(liveness.members()).toEqual(["a"]);
  });

  it("drops at once a member that deleted its lease", () => {
    const liveness = hearingAt();
    liveness.heard("b", 0, 1);
    liveness.heard("c", 0, 2);
    liveness.left("b");
    expect(liveness.members()).toEqual(["a", "c"]);
    liveness.left("nobody");
    expect(liveness.members()).toEqual(["a", "c"]);
  });

  it("does not count a re-read of the same lease revision as hearing the member again", () => {
    const liveness = hearingAt();
    liveness.heard("b", 0, 7);
    liveness.heard("c", 0, 8);
    liveness.heard("d", 0);
    expect(sweepEveryTick(liveness, TICK, TTL - TICK)).toEqual([]);
    // A crashed member's key stays listed until it expires: re-listing it is no news.
    liveness.heard("b", TTL - 1, 7);
    liveness.heard("c", TTL - 1, 9);
    liveness.heard("d", TTL - 1);
    expect(liveness.sweep(TTL)).toEqual(["b"]);
    expect(liveness.members()).toEqual(["a", "c", "d"]);
  });

  it("drops nobody while frozen, however long, and gives everyone a full TTL after the thaw", () => {
    const liveness = hearingAt();
    liveness.heard("b", 0, 1);
    liveness.heard("c", 0, 2);
    liveness.freeze();
    expect(liveness.hearing).toBe(false);
    expect(sweepEveryTick(liveness, TICK, 6 * TTL)).toEqual([]);
    expect(liveness.members()).toEqual(["a", "b", "c"]);

    liveness.thaw(6 * TTL);
    expect(liveness.hearing).toBe(true);
    liveness.heard("b", 6 * TTL + 2_000, 3);
    expect(sweepEveryTick(liveness, 6 * TTL + TICK, 6 * TTL + TTL - 1)).toEqual([]);
    expect(liveness.sweep(7 * TTL)).toEqual(["c"]);
    expect(liveness.members()).toEqual(["a", "b"]);
  });

  it("still takes a deletion while frozen: it is news, not silence", () => {
    const liveness = hearingAt();
    liveness.heard("b", 0, 1);
    liveness.freeze();
    liveness.left("b");
    expect(liveness.members()).toEqual(["a"]);
  });

  it("starts frozen: before the caller hears anything, the assumed members stay", () => {
    const liveness = new MemberLiveness({
      self: "b",
      leaseTtlMs: TTL,
      blindGapMs: TTL / 2,
      assumed: ["c", "a", "b"],
      nowMs: 0,
    });
    expect(liveness.hearing).toBe(false);
    expect(liveness.members()).toEqual(["a", "b", "c"]);
    expect(liveness.sweep(5 * TTL)).toEqual([]);
    expect(liveness.members()).toEqual(["a", "b", "c"]);
  });

  it("gives assumed members a lease TTL from the thaw to show up", () => {
    const liveness = new MemberLiveness({
      self: "a",
      leaseTtlMs: TTL,
      blindGapMs: TTL / 2,
      assumed: ["b", "c"],
      nowMs: 0,
    });
    liveness.thaw(3 * TTL);
    liveness.heard("b", 3 * TTL + 500, 4);
    expect(sweepEveryTick(liveness, 3 * TTL + TICK, 4 * TTL)).toEqual([
      { atMs: 4 * TTL, dropped: ["c"] },
    ]);
    expect(liveness.members()).toEqual(["a", "b"]);
  });

  it("drops nobody after a sweep gap (this process was not running) and restarts the count", () => {
    const liveness = hearingAt();
    liveness.heard("b", 0, 1);
    liveness.sweep(TICK);
    // The event loop stalled for 2 TTLs: b's renewals may be waiting unread in a socket.
    expect(liveness.sweep(TICK + 2 * TTL)).toEqual([]);
    expect(liveness.members()).toEqual(["a", "b"]);
    // Counted as seen at the end of the gap; gone a TTL after that if still silent.
    expect(sweepEveryTick(liveness, 2 * TICK + 2 * TTL, TICK + 3 * TTL)).toEqual([
      { atMs: TICK + 3 * TTL, dropped: ["b"] },
    ]);
  });
});
