import { describe, expect, it } from "vitest";
import type { JournalEvent } from "../../domain/events.js";
import { EventHub } from "../../events/event-hub.js";
import { RecentEvents } from "./recent-events.js";

function startedAt(seq: number, capacity: number): RecentEvents {
  const recent = new RecentEvents(capacity);
  recent.startAt(seq);
  return recent;
}

const event = (seq: number) => ({ seq, id: `e${seq}`, type: "t" }) as unknown as JournalEvent;
const seqs = (events: readonly JournalEvent[]) => events.map((one) => one.seq);

describe("the front's recent events", () => {
  it("serves cursors from its start on and reads earlier ones as expired", () => {
    const recent = startedAt(10, 3);
    const hub = new EventHub(recent);
    expect(hub.newestSeq()).toBe(10);
    expect(() => hub.checkCursor(10)).not.toThrow();
    expect(() => hub.checkCursor(9)).toThrow(/no longer kept/);
    // Already-known and repeated seqs are dropped; the rest are kept in order.
    expect(seqs(recent.append([event(9), event(11), event(12), event(12)]))).toEqual([11, 12]);
    expect(seqs(recent.readEvents(10, 100))).toEqual([11, 12]);
    expect(seqs(recent.readEvents(11, 100))).toEqual([12]);
    expect(hub.newestSeq()).toBe(12);
  });

  it("keeps the newest `capacity` events and raises its floor past what it dropped", () => {
    const recent = startedAt(0, 3);
    const hub = new EventHub(recent);
    for (let seq = 1; seq <= 20; seq++) recent.append([event(seq)]);
    expect(recent.floor).toBe(17);
    expect(seqs(recent.readEvents(17, 100))).toEqual([18, 19, 20]);
    expect(seqs(recent.readEvents(18, 1))).toEqual([19]);
    expect(() => hub.checkCursor(16)).toThrow(/no longer kept/);
    expect(() => hub.checkCursor(17)).not.toThrow();
  });

  it("serves no cursor before what retention deleted", () => {
    const recent = startedAt(0, 100);
    const hub = new EventHub(recent);
    recent.append([event(1), event(2), event(3), event(4)]);
    recent.prunedTo(2);
    expect(() => hub.checkCursor(1)).toThrow(/no longer kept/);
    expect(seqs(recent.readEvents(2, 100))).toEqual([3, 4]);
    recent.prunedTo(1);
    expect(recent.floor).toBe(2);
  });

  it("gives a subscriber resuming inside the window every event after its cursor, then live ones", () => {
    const recent = startedAt(0, 100);
    const hub = new EventHub(recent);
    recent.append([event(1), event(2), event(3)]);
    const seen: number[] = [];
    hub.subscribe(1, (events) => seen.push(...seqs(events)));
    hub.publish(recent.append([event(3), event(4)]));
    expect(seen).toEqual([2, 3, 4]);
  });
});
