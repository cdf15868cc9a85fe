import { describe, expect, it } from "vitest";
import { catalogEntry } from "../../test/support/catalog-entry.js";
import {
  type AdapterSettings,
  globToRegExp,
  matchesGlob,
  overrideApplies,
  type SettingsOverride,
  settingsFor,
} from "./adapter-settings.js";

/** An id of no `project.domain.category.provider` shape: a mahavishnu s3 storage adapter. */
const PRIMARY = "storage-s3-primary";

const DEFAULTS: AdapterSettings = {
  probes: {
    intervalMs: 15_000,
    edgeIntervalMs: 5_000,
    openIntervalMs: 60_000,
    watchedIntervalMs: 90_000,
    timeoutMs: 5_000,
    jitter: 0.1,
    rise: 2,
    fall: 3,
    degradedLatencyMs: 1000,
    expectBody: undefined,
    heartbeatTtlMs: undefined,
    watch: true,
    registryCheck: true,
  },
  breaker: {
    kind: "consecutive",
    threshold: 3,
    halfOpenAfterMs: 300_000,
    size: 20,
    minCalls: 5,
    durationMs: 60_000,
  },
  priority: 100,
};

describe("globToRegExp and matchesGlob", () => {
  it("anchors the pattern: a glob matches the whole value, not a part of it", () => {
    expect(matchesGlob("storage-s3", "storage")).toBe(false);
    expect(matchesGlob("my-storage", "storage")).toBe(false);
    expect(matchesGlob("storage", "storage")).toBe(true);
    expect(globToRegExp("a*").source).toBe("^a.*$");
  });

  it("lets * match any run of characters, the empty one included", () => {
    expect(matchesGlob("storage-s3-primary", "storage-*")).toBe(true);
    expect(matchesGlob("storage-", "storage-*")).toBe(true);
    expect(matchesGlob("storage", "storage-*")).toBe(false);
    expect(matchesGlob("a/b/c", "*")).toBe(true);
    expect(matchesGlob("", "*")).toBe(true);
    expect(matchesGlob("storage-s3-primary", "*-s3-*")).toBe(true);
    expect(matchesGlob("storage-gcs-primary", "*-s3-*")).toBe(false);
  });

  it("lets ? match exactly one character", () => {
    expect(matchesGlob("db1", "db?")).toBe(true);
    expect(matchesGlob("db", "db?")).toBe(false);
    expect(matchesGlob("db12", "db?")).toBe(false);
  });

  it.each([
    { glob: "a.b", literal: "a.b", lookalike: "aXb" },
    { glob: "a+b", literal: "a+b", lookalike: "aab" },
    { glob: "(ab)", literal: "(ab)", lookalike: "ab" },
    { glob: "[ab]", literal: "[ab]", lookalike: "a" },
    { glob: "a|b", literal: "a|b", lookalike: "a" },
    { glob: "^a$", literal: "^a$", lookalike: "a" },
    { glob: "a{2}", literal: "a{2}", lookalike: "aa" },
    { glob: "\\d", literal: "\\d", lookalike: "1" },
    { glob: "v1.2.*", literal: "v1.2.3", lookalike: "v1x2y3" },
  ])("takes regular-expression characters literally: $glob", ({ glob, literal, lookalike }) => {
    expect(matchesGlob(literal, glob)).toBe(true);
    expect(matchesGlob(lookalike, glob)).toBe(false);
  });

  it("never throws on a glob that would be an invalid regular expression", () => {
    for (const glob of ["(", "[", "a\\", "*+", "?{"]) {
      expect(() => globToRegExp(glob)).not.toThrow();
      expect(matchesGlob(glob, glob)).toBe(true);
    }
  });
});

describe("overrideApplies", () => {
  it("applies when every given field matches", () => {
    expect(
      overrideApplies(
        { category: "storage", provider: "s3" },
        catalogEntry({ adapterId: PRIMARY }),
      ),
    ).toBe(true);
    expect(
      overrideApplies(
        {
          adapter: "storage-*",
          category: "stor?ge",
          provider: "s3",
          domain: "adapter",
          project: "maha*",
        },
        catalogEntry({ adapterId: PRIMARY }),
      ),
    ).toBe(true);
  });

  it("does not apply when any one given field does not match", () => {
    expect(
      overrideApplies(
        { category: "storage", provider: "gcs" },
        catalogEntry({ adapterId: PRIMARY }),
      ),
    ).toBe(false);
    expect(
      overrideApplies({ category: "cache", provider: "s3" }, catalogEntry({ adapterId: PRIMARY })),
    ).toBe(false);
    expect(
      overrideApplies(
        { adapter: "storage-*", project: "other" },
        catalogEntry({ adapterId: PRIMARY }),
      ),
    ).toBe(false);
    expect(overrideApplies({ domain: "service" }, catalogEntry({ adapterId: PRIMARY }))).toBe(
      false,
    );
  });

  it("checks each field against its own value", () => {
    // "s3" is the provider, not the category.
    expect(overrideApplies({ category: "s3" }, catalogEntry({ adapterId: PRIMARY }))).toBe(false);
    expect(overrideApplies({ adapter: "s3" }, catalogEntry({ adapterId: PRIMARY }))).toBe(false);
    expect(overrideApplies({ project: "adapter" }, catalogEntry({ adapterId: PRIMARY }))).toBe(
      false,
    );
  });

  it("treats fields given as undefined as not given", () => {
    expect(
      overrideApplies({ adapter: undefined, provider: "s3" }, catalogEntry({ adapterId: PRIMARY })),
    ).toBe(true);
    expect(overrideApplies({}, catalogEntry({ adapterId: PRIMARY }))).toBe(true);
  });
});

describe("settingsFor", () => {
  it("returns the defaults when no override applies", () => {
    const overrides: SettingsOverride[] = [
      { match: { provider: "gcs" }, priority: 1, probes: { intervalMs: 1 } },
    ];
    expect(settingsFor(catalogEntry({ adapterId: PRIMARY }), DEFAULTS, overrides)).toEqual(
      DEFAULTS,
    );
  });

  it("merges an override's fields over the defaults, keeping the rest", () => {
    const settings = settingsFor(catalogEntry({ adapterId: PRIMARY }), DEFAULTS, [
      {
        match: { provider: "s3" },
        probes: { intervalMs: 5_000, expectBody: "ok" },
        breaker: { kind: "count", threshold: 0.5 },
        priority: 10,
      },
    ]);
    expect(settings).toEqual({
      probes: { ...DEFAULTS.probes, intervalMs: 5_000, expectBody: "ok" },
      breaker: { ...DEFAULTS.breaker, kind: "count", threshold: 0.5 },
      priority: 10,
    });
  });

  it("applies matching overrides in order, the later winning", () => {
    const overrides: SettingsOverride[] = [
      { match: { category: "storage" }, probes: { intervalMs: 1_000, rise: 5 }, priority: 10 },
      { match: { provider: "gcs" }, probes: { intervalMs: 2_000 }, priority: 20 },
      { match: { adapter: "storage-s3-*" }, probes: { intervalMs: 3_000 }, priority: 30 },
    ];
    const settings = settingsFor(catalogEntry({ adapterId: PRIMARY }), DEFAULTS, overrides);
    expect(settings.probes.intervalMs).toBe(3_000);
    expect(settings.probes.rise).toBe(5);
    expect(settings.priority).toBe(30);
    // Reversed, the first one wins where they overlap.
    const reversed = settingsFor(
      catalogEntry({ adapterId: PRIMARY }),
      DEFAULTS,
      [...overrides].reverse(),
    );
    expect(reversed.probes.intervalMs).toBe(1_000);
    expect(reversed.priority).toBe(10);
    // The one for another provider never applied.
    expect(
      settingsFor(
        catalogEntry({ adapterId: PRIMARY, provider: "gcs" }),
        DEFAULTS,
        overrides.slice(0, 2),
      ),
    ).toMatchObject({
      probes: { intervalMs: 2_000, rise: 5 },
      priority: 20,
    });
  });

  it("does not let undefined fields in an override erase defaults or earlier overrides", () => {
    const settings = settingsFor(catalogEntry({ adapterId: PRIMARY }), DEFAULTS, [
      { match: { provider: "s3" }, probes: { timeoutMs: 1_000 }, priority: 7 },
      {
        // As the config loader builds them: every key present, most undefined.
        match: { category: "storage" },
        probes: {
          intervalMs: undefined,
          timeoutMs: undefined,
          jitter: 0.5,
          watch: undefined,
        },
        breaker: { kind: undefined, threshold: undefined, halfOpenAfterMs: 1_000 },
        priority: undefined,
      },
    ]);
    expect(settings.probes).toEqual({ ...DEFAULTS.probes, timeoutMs: 1_000, jitter: 0.5 });
    expect(settings.breaker).toEqual({ ...DEFAULTS.breaker, halfOpenAfterMs: 1_000 });
    expect(settings.priority).toBe(7);
  });

  it("lets an override set a false or zero value", () => {
    const settings = settingsFor(catalogEntry({ adapterId: PRIMARY }), DEFAULTS, [
      { match: { provider: "s3" }, probes: { watch: false, jitter: 0 }, priority: 0 },
    ]);
    expect(settings.probes.watch).toBe(false);
    expect(settings.probes.jitter).toBe(0);
    expect(settings.priority).toBe(0);
  });

  it("does not change the defaults or the overrides passed in", () => {
    const defaults = structuredClone(DEFAULTS);
    const overrides: SettingsOverride[] = [
      { match: { provider: "s3" }, probes: { intervalMs: 1 }, breaker: { size: 4 }, priority: 1 },
    ];
    const overridesCopy = structuredClone(overrides);
    settingsFor(catalogEntry({ adapterId: PRIMARY }), defaults, overrides);
    expect(defaults).toEqual(DEFAULTS);
    expect(overrides).toEqual(overridesCopy);
  });
});
