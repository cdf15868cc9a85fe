import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import { type AdapterEntry, type HealthStatus, sameEntry } from "./adapter.js";
import {
  changedFields,
  DEFAULT_REMOVAL_RULE,
  diffCatalog,
  type HeldRemoval,
  isSuspectShrink,
  SUSPECT_REMOVAL_MIN_ANSWERS,
  SUSPECT_REMOVAL_MIN_SPAN_MS,
  screenEntries,
  screenRemoval,
} from "./catalog.js";

describe("screenEntries", () => {
  it("passes good entries through in order with no rejections", () => {
    const raw = [
      catalogEntry({ adapterId: "a" }),
      catalogEntry({ adapterId: "b" }),
      catalogEntry({ adapterId: "c" }),
    ];
    expect(screenEntries(raw)).toEqual({ entries: raw, rejections: [] });
  });

  it("drops malformed entries and reports each with a kind", () => {
    const { entries, rejections } = screenEntries([
      catalogEntry({ adapterId: "" }),
      catalogEntry({ adapterId: "bad-url", healthCheckUrl: "not a url" }),
      catalogEntry({ adapterId: "ftp", healthCheckUrl: "ftp://files.internal/health" }),
      catalogEntry({ adapterId: "x".repeat(300) }),
      catalogEntry({ adapterId: "good" }),
    ]);
    expect(entries.map((kept) => kept.adapterId)).toEqual(["good"]);
    expect(rejections).toEqual([
      { adapterId: "", reason: "entry has no adapter_id", kind: "no_id" },
      {
        adapterId: "bad-url",
        reason: 'health_check_url is not a URL: "not a url"',
        kind: "bad_url",
      },
      {
        adapterId: "ftp",
        reason: 'health_check_url has unsupported scheme "ftp:"',
        kind: "bad_url",
      },
      {
        adapterId: "x".repeat(300),
        reason: "adapter_id longer than 256 characters",
        kind: "too_long",
      },
    ]);
  });

  it("keeps the first of duplicate ids (after trimming) and reports the rest", () => {
    const first = catalogEntry({ adapterId: "dup", provider: "first" });
    const { entries, rejections } = screenEntries([
      first,
      catalogEntry({ adapterId: " dup ", provider: "second" }),
      catalogEntry({ adapterId: "dup", provider: "third" }),
    ]);
    expect(entries).toEqual([first]);
    expect(rejections).toEqual([
      {
        adapterId: "dup",
        reason: "duplicate adapter_id; the first entry is kept",
        kind: "duplicate",
      },
      {
        adapterId: "dup",
        reason: "duplicate adapter_id; the first entry is kept",
        kind: "duplicate",
      },
    ]);
  });

  it("does not let a rejected entry claim an id", () => {
    const { entries, rejections } = screenEntries([
      catalogEntry({ adapterId: "a1", healthCheckUrl: "mailto:ops@example.com" }),
      catalogEntry({ adapterId: "a1" }),
    ]);
    expect(entries.map((kept) => kept.adapterId)).toEqual(["a1"]);
    expect(rejections.map((rejection) => rejection.kind)).toEqual(["bad_url"]);
  });

  it("keeps repairable entries, repaired, and reports each repair", () => {
    const { entries, rejections } = screenEntries([
      catalogEntry({
        adapterId: "odd",
        registryStatus: "on_fire" as string as HealthStatus,
        metadata: { region: "eu", huge: "z".repeat(5000) },
      }),
    ]);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.registryStatus).toBe("unknown");
    expect(entries[0]?.metadata).toEqual({ region: "eu" });
    expect(rejections).toEqual([
      {
        adapterId: "odd",
        reason: 'unknown health_status "on_fire" treated as unknown',
        kind: "repaired",
      },
      { adapterId: "odd", reason: 'metadata "huge" dropped: value too long', kind: "repaired" },
    ]);
  });

  it("trims metadata beyond 64 entries", () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 100 }, (_, index) => [`k${index}`, "v"]),
    );
    const { entries, rejections } = screenEntries([catalogEntry({ adapterId: "big", metadata })]);
    expect(Object.keys(entries[0]?.metadata ?? {})).toHaveLength(64);
    expect(rejections).toEqual([
      { adapterId: "big", reason: "metadata truncated to 64 entries", kind: "repaired" },
    ]);
  });
});

describe("diffCatalog", () => {
  it("finds added, updated and removed entries", () => {
    const current = [
      catalogEntry({ adapterId: "keep" }),
      catalogEntry({ adapterId: "change" }),
      catalogEntry({ adapterId: "gone" }),
    ];
    const changed = catalogEntry({ adapterId: "change", factoryPath: "pkg.other:Factory" });
    const incoming = [
      catalogEntry({ adapterId: "keep" }),
      changed,
      catalogEntry({ adapterId: "new" }),
    ];
    expect(diffCatalog(current, incoming)).toEqual({
      added: [catalogEntry({ adapterId: "new" })],
      updated: [{ before: catalogEntry({ adapterId: "change" }), after: changed }],
      removed: [catalogEntry({ adapterId: "gone" })],
      refreshed: [],
    });
  });

  it("reports an entry whose only change is the registry's status as refreshed, not updated", () => {
    const degraded = catalogEntry({ adapterId: "a", registryStatus: "degraded" });
    expect(diffCatalog([catalogEntry({ adapterId: "a" })], [degraded])).toMatchObject({
      updated: [],
      refreshed: [degraded],
    });
  });

  it("reports an entry whose only change is a newer heartbeat as refreshed, not updated", () => {
    const newer = catalogEntry({ adapterId: "a", lastHeartbeat: 1_700_000_200 });
    expect(diffCatalog([catalogEntry({ adapterId: "a" })], [newer])).toEqual({
      added: [],
      updated: [],
      removed: [],
      refreshed: [newer],
    });
  });

  it("reports a heartbeat plus another change as updated only", () => {
    const after = catalogEntry({ adapterId: "a", lastHeartbeat: 1_700_000_200, provider: "minio" });
    const diff = diffCatalog([catalogEntry({ adapterId: "a" })], [after]);
    expect(diff.updated).toEqual([{ before: catalogEntry({ adapterId: "a" }), after }]);
    expect(diff.refreshed).toEqual([]);
  });

  it("reports nothing for an identical catalog", () => {
    const catalog = [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })];
    expect(
      diffCatalog(
        catalog,
        catalog.map((item) => ({ ...item })),
      ),
    ).toEqual({
      added: [],
      updated: [],
      removed: [],
      refreshed: [],
    });
  });

  it("does not treat reordered metadata keys as an update", () => {
    const before = catalogEntry({ adapterId: "a", metadata: { region: "eu", zone: "b" } });
    const after = catalogEntry({ adapterId: "a", metadata: { zone: "b", region: "eu" } });
    expect(diffCatalog([before], [after]).updated).toEqual([]);
  });

  it("handles empty catalogs on either side", () => {
    const catalog = [catalogEntry({ adapterId: "a" }), catalogEntry({ adapterId: "b" })];
    expect(diffCatalog([], catalog).added).toEqual(catalog);
    expect(diffCatalog(catalog, []).removed).toEqual(catalog);
  });
});

describe("isSuspectShrink", () => {
  it.each([
    [0, 0, false],
    [1, 1, false],
    [2, 1, false],
    [2, 2, true],
    [3, 1, false],
    [3, 2, true],
    [4, 2, false],
    [4, 3, true],
    [10, 5, false],
    [10, 6, true],
    [10, 10, true],
  ])("catalog of %i losing %i: %s", (size, removed, suspect) => {
    expect(isSuspectShrink(size, removed)).toBe(suspect);
  });
});

describe("screenRemoval", () => {
  const T0 = 1_700_000_000_000;
  const MINUTE = 60_000;
  const ids = (...names: string[]) => names;

  /** Feeds the answers' removals in order, as the catalog sync would, and returns each verdict. */
  function run(
    currentSize: number,
    answers: { at: number; removed: string[] }[],
    start?: HeldRemoval,
  ): ReturnType<typeof screenRemoval>[] {
    let held = start;
    return answers.map(({ at, removed }) => {
      const verdict = screenRemoval(held, currentSize, removed, at);
      held = verdict.held;
      return verdict;
    });
  }

  it("defaults to three answers over five minutes", () => {
    expect(SUSPECT_REMOVAL_MIN_ANSWERS).toBe(3);
    expect(SUSPECT_REMOVAL_MIN_SPAN_MS).toBe(300_000);
    expect(DEFAULT_REMOVAL_RULE).toEqual({ minAnswers: 3, minSpanMs: 300_000 });
  });

  it("holds a suspect removal at the first answer", () => {
    expect(screenRemoval(undefined, 4, ids("a", "b", "c"), T0)).toEqual({
      remove: [],
      held: { ids: new Set(["a", "b", "c"]), firstSeenAt: T0, answers: 1 },
    });
  });

  it("holds an empty answer for a catalog of two", () => {
    expect(screenRemoval(undefined, 2, ids("a", "b"), T0)).toMatchObject({ remove: [] });
    expect(screenRemoval(undefined, 2, ids("a", "b"), T0).held?.answers).toBe(1);
  });

  it("still holds at the second answer one second later (the next sync alone does not confirm)", () => {
    const [, second] = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + 1_000, removed: ids("a", "b", "c") },
    ]);
    expect(second?.remove).toEqual([]);
    expect(second?.held).toEqual({ ids: new Set(["a", "b", "c"]), firstSeenAt: T0, answers: 2 });
  });

  it("still holds at the second answer even ten minutes later (too few answers)", () => {
    const [, second] = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + 10 * MINUTE, removed: ids("a", "b", "c") },
    ]);
    expect(second?.remove).toEqual([]);
    expect(second?.held?.answers).toBe(2);
  });

  it("still holds at three answers within five minutes, and at a fourth before the span is reached", () => {
    const verdicts = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + MINUTE, removed: ids("a", "b", "c") },
      { at: T0 + 2 * MINUTE, removed: ids("a", "b", "c") },
      { at: T0 + 5 * MINUTE - 1, removed: ids("a", "b", "c") },
    ]);
    expect(verdicts.map((verdict) => verdict.remove)).toEqual([[], [], [], []]);
    expect(verdicts[3]?.held).toEqual({
      ids: new Set(["a", "b", "c"]),
      firstSeenAt: T0,
      answers: 4,
    });
  });

  it("confirms at the third answer five minutes after the first, removing all of it", () => {
    const verdicts = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + 2 * MINUTE, removed: ids("c", "b", "a") },
      { at: T0 + 5 * MINUTE, removed: ids("a", "b", "c") },
    ]);
    expect(verdicts[1]?.remove).toEqual([]);
    expect(verdicts[2]?.remove.sort()).toEqual(["a", "b", "c"]);
    expect(verdicts[2]?.held).toBeUndefined();
  });

  it("restarts the count when an answer removes a different set", () => {
    const verdicts = run(4, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + 2 * MINUTE, removed: ids("a", "b", "c") },
      // "c" is back, "d" is gone: a different set, counted from here.
      { at: T0 + 5 * MINUTE, removed: ids("a", "b", "d") },
      { at: T0 + 7 * MINUTE, removed: ids("a", "b", "d") },
      { at: T0 + 9 * MINUTE, removed: ids("a", "b", "d") },
      { at: T0 + 10 * MINUTE, removed: ids("a", "b", "d") },
    ]);
    expect(verdicts[2]).toEqual({
      remove: [],
      held: { ids: new Set(["a", "b", "d"]), firstSeenAt: T0 + 5 * MINUTE, answers: 1 },
    });
    expect(verdicts[3]?.remove).toEqual([]);
    // Three answers, but only four minutes since the new set was first seen.
    expect(verdicts[4]?.remove).toEqual([]);
    expect(verdicts[5]?.remove.sort()).toEqual(["a", "b", "d"]);
  });

  it("restarts when an answer removes fewer (some came back) while still suspect", () => {
    const verdicts = run(5, [
      { at: T0, removed: ids("a", "b", "c", "d") },
      { at: T0 + 3 * MINUTE, removed: ids("a", "b", "c") },
      { at: T0 + 6 * MINUTE, removed: ids("a", "b", "c") },
    ]);
    expect(verdicts[1]?.held).toEqual({
      ids: new Set(["a", "b", "c"]),
      firstSeenAt: T0 + 3 * MINUTE,
      answers: 1,
    });
    expect(verdicts[2]?.remove).toEqual([]);
    expect(verdicts[2]?.held?.answers).toBe(2);
  });

  it("lets a non-suspect removal pass at once and clears what was held", () => {
    const [first, second, third] = run(4, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + MINUTE, removed: ids("a") },
      { at: T0 + 2 * MINUTE, removed: ids("a", "b", "c") },
    ]);
    expect(first?.held?.answers).toBe(1);
    expect(second).toEqual({ remove: ["a"], held: undefined });
    // Held afresh: the earlier answer no longer counts.
    expect(third?.held).toEqual({
      ids: new Set(["a", "b", "c"]),
      firstSeenAt: T0 + 2 * MINUTE,
      answers: 1,
    });
  });

  it("passes half of a catalog, or a removal from a catalog of one, at once", () => {
    expect(screenRemoval(undefined, 4, ids("a", "b"), T0)).toEqual({
      remove: ["a", "b"],
      held: undefined,
    });
    expect(screenRemoval(undefined, 1, ids("a"), T0)).toEqual({ remove: ["a"], held: undefined });
    expect(screenRemoval(undefined, 10, [], T0)).toEqual({ remove: [], held: undefined });
  });

  it("clears a hold when an answer removes nothing", () => {
    const [, second] = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 + MINUTE, removed: [] },
    ]);
    expect(second).toEqual({ remove: [], held: undefined });
  });

  it("continues the count when an answer removes more than the held set, and screens the extra afresh", () => {
    // A catalog of 10: a..f (6) held; later answers also lose g and h.
    const held = ids("a", "b", "c", "d", "e", "f");
    const verdicts = run(10, [
      { at: T0, removed: held },
      { at: T0 + 3 * MINUTE, removed: [...held, "g"] },
      { at: T0 + 5 * MINUTE, removed: [...held, "g", "h"] },
    ]);
    expect(verdicts[1]?.held).toEqual({ ids: new Set(held), firstSeenAt: T0, answers: 2 });
    // The six are confirmed; g and h are half of the four left: not suspect, removed too.
    expect(verdicts[2]?.remove.sort()).toEqual([...held, "g", "h"]);
    expect(verdicts[2]?.held).toBeUndefined();
  });

  it("holds the extra ids afresh when they are most of what is left after the confirmed removal", () => {
    const held = ids("a", "b", "c", "d", "e", "f");
    const verdicts = run(10, [
      { at: T0, removed: held },
      { at: T0 + 3 * MINUTE, removed: held },
      { at: T0 + 5 * MINUTE, removed: [...held, "g", "h", "i"] },
    ]);
    expect(verdicts[2]?.remove.sort()).toEqual(held);
    expect(verdicts[2]?.held).toEqual({
      ids: new Set(["g", "h", "i"]),
      firstSeenAt: T0 + 5 * MINUTE,
      answers: 1,
    });
  });

  it("does not confirm early when the clock goes back", () => {
    const verdicts = run(3, [
      { at: T0, removed: ids("a", "b", "c") },
      { at: T0 - 60 * MINUTE, removed: ids("a", "b", "c") },
      { at: T0 - 58 * MINUTE, removed: ids("a", "b", "c") },
      { at: T0 - 55 * MINUTE, removed: ids("a", "b", "c") },
    ]);
    expect(verdicts[1]?.held?.firstSeenAt).toBe(T0 - 60 * MINUTE);
    expect(verdicts[2]?.remove).toEqual([]);
    expect(verdicts[3]?.remove.sort()).toEqual(["a", "b", "c"]);
  });

  it("follows a custom rule, and ignores repeated ids", () => {
    const rule = { minAnswers: 2, minSpanMs: 1_000 };
    const first = screenRemoval(undefined, 2, ids("a", "b", "a"), T0, rule);
    expect(first.held?.ids).toEqual(new Set(["a", "b"]));
    expect(screenRemoval(first.held, 2, ids("a", "b"), T0 + 999, rule).remove).toEqual([]);
    expect(screenRemoval(first.held, 2, ids("b", "a"), T0 + 1_000, rule).remove.sort()).toEqual([
      "a",
      "b",
    ]);
    // A rule asking for no evidence applies a suspect removal at once.
    expect(screenRemoval(undefined, 2, ids("a", "b"), T0, { minAnswers: 1, minSpanMs: 0 })).toEqual(
      { remove: ["a", "b"], held: undefined },
    );
  });
});

describe("changedFields", () => {
  it("names each changed field", () => {
    const before = catalogEntry({ adapterId: "a", metadata: { region: "us-east-1" } });
    const after = catalogEntry({
      adapterId: "a",
      provider: "minio",
      capabilities: ["read"],
      metadata: { region: "eu-west-1" },
      registryStatus: "unhealthy",
    });
    // The registry's status is a live reading, not part of the description.
    expect(changedFields(before, after)).toEqual(["provider", "capabilities", "metadata"]);
  });

  it("ignores the heartbeat and metadata key order", () => {
    const before = catalogEntry({ adapterId: "a", metadata: { a: "1", b: "2" } });
    const after = catalogEntry({ adapterId: "a", metadata: { b: "2", a: "1" }, lastHeartbeat: 9 });
    expect(changedFields(before, after)).toEqual([]);
  });

  it("counts a capability reorder as a change", () => {
    expect(
      changedFields(
        catalogEntry({ adapterId: "a" }),
        catalogEntry({ adapterId: "a", capabilities: ["write", "read"] }),
      ),
    ).toEqual(["capabilities"]);
  });

  // A small exhaustive stand-in for a property test: for every single-field change,
  // diffCatalog's updated/refreshed decision and changedFields agree.
  const variations: Partial<AdapterEntry>[] = [
    { project: "other" },
    { domain: "other" },
    { category: "other" },
    { provider: "other" },
    { capabilities: [] },
    { capabilities: ["read", "write", "admin"] },
    { capabilities: ["read\u0000write"] },
    { factoryPath: "other:Factory" },
    { healthCheckUrl: "" },
    { healthCheckUrl: "grpc://127.0.0.1:50051/svc" },
    { metadata: {} },
    { metadata: { region: "us-east-1", extra: "" } },
    { metadata: { region: "" } },
    { registeredAt: 0 },
    { registryStatus: "unknown" },
    { lastHeartbeat: 0 },
    {},
  ];
  it.each(variations)("agrees with sameEntry and diffCatalog for %o", (variation) => {
    const before = catalogEntry({ adapterId: "a", metadata: { region: "us-east-1" } });
    const after = catalogEntry({ adapterId: "a", metadata: { region: "us-east-1" }, ...variation });
    const fields = changedFields(before, after);
    const onlyHeartbeat =
      Object.keys(variation).length === 1 &&
      (variation.lastHeartbeat !== undefined || variation.registryStatus !== undefined);
    expect(fields.length === 0).toBe(sameEntry(before, after));
    expect(fields.length === 0).toBe(onlyHeartbeat || Object.keys(variation).length === 0);
    const diff = diffCatalog([before], [after]);
    expect(diff.updated.length).toBe(fields.length > 0 ? 1 : 0);
    expect(diff.refreshed.length).toBe(onlyHeartbeat ? 1 : 0);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
  });
});
