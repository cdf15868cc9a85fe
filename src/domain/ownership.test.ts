import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Assignment, rendezvousOwner, shardOf, stableHash } from "./ownership.js";

/** Deterministic adapter ids, shaped like the registry's. */
const adapterIds = (count: number, prefix = "adapter") =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

/** How many ids each member owns. */
function tally(assignment: Assignment, ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(assignment.members.map((member) => [member, 0]));
  for (const id of ids) {
    const owner = assignment.owner(id) as string;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

/** FNV-1a (32-bit) over TextEncoder's UTF-8, then murmur3 fmix32: the documented definition. */
function referenceHash(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const memberIds = fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), {
  minLength: 1,
  maxLength: 12,
});
const adapterId = fc.string({ minLength: 1, maxLength: 80, unit: "grapheme" });

describe("stableHash", () => {
  it("gives the pinned values, so a change of hash function (which moves adapters) is caught", () => {
    // Worked out independently (Python over the UTF-8 bytes); the FNV-1a parts are the
    // published vectors ("a" → 0xe40c292c, "foobar" → 0xbf9cf968) before fmix32.
    expect(
      ["", "a", "foobar", "cache.redis.primary", "adapter-00042", "héllo", "日本", "😀"].map(
        stableHash,
      ),
    ).toEqual([
      2872998923, 444641715, 202221276, 1542093925, 1905734423, 4198468525, 4026831135, 855877642,
    ]);
  });

  it("hashes the UTF-8 bytes, a lone surrogate as U+FFFD", () => {
    expect(stableHash("\ud800x")).toBe(stableHash("\ufffdx"));
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
        expect(stableHash(text)).toBe(referenceHash(text));
      }),
    );
  });

  it("is an unsigned 32-bit integer", () => {
    fc.assert(
      fc.property(adapterId, (text) => {
        const hash = stableHash(text);
        expect(Number.isInteger(hash) && hash >= 0 && hash <= 0xffff_ffff).toBe(true);
      }),
    );
  });
});

describe("rendezvousOwner and Assignment", () => {
  it("has no owner without members", () => {
    expect(rendezvousOwner("adapter-1", [])).toBeUndefined();
    expect(new Assignment([]).owner("adapter-1")).toBeUndefined();
  });

  it("agrees with Assignment, whatever order or repetition the members come in", () => {
    fc.assert(
      fc.property(memberIds, adapterId, (members, id) => {
        const owner = new Assignment(members).owner(id);
        expect(members).toContain(owner);
        expect(rendezvousOwner(id, members)).toBe(owner);
        expect(new Assignment([...members].reverse().concat(members)).owner(id)).toBe(owner);
      }),
    );
  });

  it("keeps its members distinct and in code-unit order", () => {
    const assignment = new Assignment(["b", "a", "B", "b"]);
    expect(assignment.members).toEqual(["B", "a", "b"]);
    expect(Object.isFrozen(assignment.members)).toBe(true);
  });

  it("moves only the removed member's adapters when a member leaves", () => {
    fc.assert(
      fc.property(
        memberIds.filter((members) => members.length >= 2),
        fc.nat(),
        fc.array(adapterId, { minLength: 1, maxLength: 50 }),
        (members, pick, ids) => {
          const leaving = members[pick % members.length] as string;
          const before = new Assignment(members);
          const after = new Assignment(members.filter((member) => member !== leaving));
          for (const id of ids) {
            const owner = before.owner(id);
            if (owner !== leaving) expect(after.owner(id)).toBe(owner);
            else expect(after.owner(id)).not.toBe(leaving);
          }
        },
      ),
    );
  });

  it("moves adapters only to a member that joins", () => {
    fc.assert(
      fc.property(
        memberIds.filter((members) => members.length >= 2),
        fc.array(adapterId, { minLength: 1, maxLength: 50 }),
        (members, ids) => {
          const [joining, ...others] = members as [string, ...string[]];
          const before = new Assignment(others);
          const after = new Assignment(members);
          for (const id of ids) {
            const owner = after.owner(id);
            if (owner !== joining) expect(before.owner(id)).toBe(owner);
          }
        },
      ),
    );
  });

  it("gives a joining member about 1/(n+1) of 10,000 adapters", () => {
    const ids = adapterIds(10_000);
    for (const count of [1, 2, 4, 9]) {
      const existing = Array.from({ length: count }, (_, index) => `healthd-${index}`);
      const before = new Assignment(existing);
      const after = new Assignment([...existing, "healthd-new"]);
      const moved = ids.filter((id) => before.owner(id) !== after.owner(id));
      expect(moved.every((id) => after.owner(id) === "healthd-new")).toBe(true);
      const share = moved.length / ids.length;
      // Expected 1/(n+1); the band is about ten standard deviations wide.
      expect(share, `${count} members + 1`).toBeGreaterThan((1 / (count + 1)) * 0.85);
      expect(share, `${count} members + 1`).toBeLessThan((1 / (count + 1)) * 1.15);
    }
  });

  it("balances 3,000 adapters over 3 members, each between 800 and 1,200", () => {
    const counts = tally(
      new Assignment(["healthd-a", "healthd-b", "healthd-c"]),
      adapterIds(3_000),
    );
    for (const [member, count] of counts) {
      expect(count, member).toBeGreaterThanOrEqual(800);
      expect(count, member).toBeLessThanOrEqual(1_200);
    }
    expect([...counts.values()].reduce((sum, count) => sum + count, 0)).toBe(3_000);
  });

  it("balances members whose ids differ in one character, and adapters that do", () => {
    const members = ["m0", "m1", "m2", "m3"];
    const counts = tally(new Assignment(members), adapterIds(4_000, "a"));
    for (const [member, count] of counts) {
      expect(count, member).toBeGreaterThanOrEqual(800);
      expect(count, member).toBeLessThanOrEqual(1_200);
    }
  });

  it("assigns 100,000 adapters over 10 members, every adapter to one of them", () => {
    const members = Array.from({ length: 10 }, (_, index) => `healthd-${index}`);
    const counts = tally(new Assignment(members), adapterIds(100_000));
    expect([...counts.keys()]).toEqual(members);
    for (const [member, count] of counts) {
      expect(count, member).toBeGreaterThan(9_000);
      expect(count, member).toBeLessThan(11_000);
    }
  });
});

describe("shardOf", () => {
  it("is the hash modulo the count", () => {
    expect(shardOf("adapter-00042", 1)).toBe(0);
    expect(shardOf("adapter-00042", 7)).toBe(1905734423 % 7);
    expect(shardOf("cache.redis.primary", 1024)).toBe(1542093925 % 1024);
  });

  it("puts every adapter in exactly one shard", () => {
    fc.assert(
      fc.property(adapterId, fc.integer({ min: 1, max: 1024 }), (id, count) => {
        const keeping = Array.from({ length: count }, (_, index) => index).filter(
          (index) => shardOf(id, count) === index,
        );
        expect(keeping).toHaveLength(1);
      }),
    );
  });

  it("spreads 3,000 adapters over 3 shards, each between 800 and 1,200", () => {
    const counts = [0, 0, 0];
    for (const id of adapterIds(3_000)) counts[shardOf(id, 3)] = (counts[shardOf(id, 3)] ?? 0) + 1;
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual(800);
      expect(count).toBeLessThanOrEqual(1_200);
    }
  });

  it("refuses a count that is not a whole number of at least 1", () => {
    expect(() => shardOf("a", 0)).toThrow(RangeError);
    expect(() => shardOf("a", 2.5)).toThrow("shard count must be a whole number >= 1; got 2.5");
  });
});
