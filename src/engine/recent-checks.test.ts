import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FinishedCheck, RECENT_CHECKS, RecentChecks } from "./recent-checks.js";

const check = (atMs: number, ok = true, source = "probe"): FinishedCheck => ({
  atMs,
  ok,
  latencyMs: atMs / 7,
  detail: ok ? "SERVING" : `failed at ${atMs}`,
  source,
});

describe("recent checks", () => {
  it("keeps each adapter's newest ten, newest first, with every field as recorded", () => {
    const recent = new RecentChecks();
    for (let at = 1; at <= 25; at++)
      recent.record("a", check(at * 1000, at % 3 !== 0, at % 2 ? "watch" : "probe"));
    recent.record("b", check(5_000, false, "registry"));
    const shown = recent.newestFirst("a");
    expect(shown).toHaveLength(RECENT_CHECKS);
    expect(shown.map((one) => Date.parse(one.at))).toEqual(
      Array.from({ length: 10 }, (_, index) => (25 - index) * 1000),
    );
    expect(shown[0]).toEqual({
      at: new Date(25_000).toISOString(),
      ok: true,
      latency_ms: Math.round((25_000 / 7) * 1000) / 1000,
      detail: "SERVING",
      source: "watch",
    });
    expect(shown[1]).toMatchObject({ ok: false, detail: "failed at 24000", source: "probe" });
    expect(recent.newestFirst("b")).toEqual([
      {
        at: new Date(5_000).toISOString(),
        ok: false,
        latency_ms: Math.round((5_000 / 7) * 1000) / 1000,
        detail: "failed at 5000",
        source: "registry",
      },
    ]);
    expect(recent.newestFirst("never checked")).toEqual([]);
  });

  it("forgets an adapter and gives its row to the next, with nothing carried over", () => {
    const recent = new RecentChecks();
    recent.record("gone", check(1_000, false));
    recent.record("gone", check(2_000, false));
    recent.forget("gone");
    expect(recent.newestFirst("gone")).toEqual([]);
    recent.record("new", check(3_000));
    expect(recent.newestFirst("new").map((one) => one.detail)).toEqual(["SERVING"]);
  });

  it("answers as a plain list per adapter would, across growth and reuse", () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant("record" as const), adapter: fc.nat(3000), ok: fc.boolean() }),
      fc.record({ kind: fc.constant("forget" as const), adapter: fc.nat(3000) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 3000 }), (operations) => {
        const recent = new RecentChecks();
        const expected = new Map<string, FinishedCheck[]>();
        operations.forEach((op, index) => {
          const id = `adapter-${op.adapter % 1500}`;
          if (op.kind === "forget") {
            recent.forget(id);
            expected.delete(id);
            return;
          }
          const one = check(index, op.ok);
          recent.record(id, one);
          expected.set(id, [one, ...(expected.get(id) ?? [])].slice(0, RECENT_CHECKS));
        });
        for (const [id, checks] of expected) {
          expect(recent.newestFirst(id).map((one) => [Date.parse(one.at), one.ok])).toEqual(
            checks.map((one) => [one.atMs, one.ok]),
          );
        }
      }),
      { numRuns: 30 },
    );
  });
});
