import { describe, expect, it } from "vitest";
import {
  type ActiveMaintenance,
  declaredMaintenanceOf,
  type MaintenanceWindow,
  type ManualMaintenance,
  maintenanceEndedEvent,
  maintenanceFor,
  maintenanceStartedEvent,
  openWindows,
} from "./maintenance.js";

const T0 = Date.parse("2025-06-01T02:00:00Z");
const MINUTE = 60_000;

function fixed(adapters: string, fromMs: number, untilMs: number, reason = "upgrade") {
  return {
    adapters,
    fromMs,
    untilMs,
    cron: undefined,
    durationMs: undefined,
    reason,
  } satisfies MaintenanceWindow;
}

function recurring(adapters: string, durationMs: number, reason = "nightly backup") {
  return {
    adapters,
    fromMs: undefined,
    untilMs: undefined,
    cron: "0 2 * * *",
    durationMs,
    reason,
  } satisfies MaintenanceWindow;
}

const NONE_FIRED: ReadonlyMap<number, number> = new Map();

describe("openWindows: fixed windows", () => {
  const window = fixed("storage-*", T0, T0 + 30 * MINUTE);

  it("is open from its start, inclusive", () => {
    expect(openWindows([window], NONE_FIRED, T0)).toEqual([
      { adapters: "storage-*", untilMs: T0 + 30 * MINUTE, reason: "upgrade" },
    ]);
    expect(openWindows([window], NONE_FIRED, T0 + 30 * MINUTE - 1)).toHaveLength(1);
  });

  it("is closed before its start and from its end on", () => {
    expect(openWindows([window], NONE_FIRED, T0 - 1)).toEqual([]);
    expect(openWindows([window], NONE_FIRED, T0 + 30 * MINUTE)).toEqual([]);
    expect(openWindows([window], NONE_FIRED, T0 + 60 * MINUTE)).toEqual([]);
  });

  it("ignores lastFired for a fixed window", () => {
    expect(openWindows([window], new Map([[0, T0 - 5 * MINUTE]]), T0 - 1)).toEqual([]);
  });
});

describe("openWindows: recurring windows", () => {
  const window = recurring("cache-*", 20 * MINUTE);

  it("is closed until its schedule has fired", () => {
    expect(openWindows([window], NONE_FIRED, T0)).toEqual([]);
  });

  it("is open for its duration after it last fired, and not after", () => {
    const fired = new Map([[0, T0]]);
    expect(openWindows([window], fired, T0)).toEqual([
      { adapters: "cache-*", untilMs: T0 + 20 * MINUTE, reason: "nightly backup" },
    ]);
    expect(openWindows([window], fired, T0 + 20 * MINUTE - 1)).toHaveLength(1);
    expect(openWindows([window], fired, T0 + 20 * MINUTE)).toEqual([]);
  });

  it("follows the latest firing", () => {
    const fired = new Map([[0, T0 + 24 * 60 * MINUTE]]);
    expect(openWindows([window], fired, T0 + 24 * 60 * MINUTE + 5 * MINUTE)).toEqual([
      {
        adapters: "cache-*",
        untilMs: T0 + 24 * 60 * MINUTE + 20 * MINUTE,
        reason: "nightly backup",
      },
    ]);
  });

  it("keys firings by the window's index in the list", () => {
    const windows = [
      recurring("a-*", 10 * MINUTE, "first"),
      recurring("b-*", 10 * MINUTE, "second"),
    ];
    const open = openWindows(windows, new Map([[1, T0]]), T0 + MINUTE);
    expect(open.map((active) => active.reason)).toEqual(["second"]);
  });
});

describe("openWindows: several windows", () => {
  it("returns every open window, in config order", () => {
    const windows = [
      fixed("a-*", T0 - MINUTE, T0 + MINUTE, "one"),
      fixed("b-*", T0 + MINUTE, T0 + 2 * MINUTE, "not yet"),
      recurring("c-*", 10 * MINUTE, "three"),
    ];
    const open = openWindows(windows, new Map([[2, T0 - MINUTE]]), T0);
    expect(open.map((active) => active.reason)).toEqual(["one", "three"]);
  });
});

describe("maintenanceFor", () => {
  const windows: ActiveMaintenance[] = [
    { adapters: "storage-*", untilMs: T0 + 30 * MINUTE, reason: "storage upgrade" },
    { adapters: "*", untilMs: T0 + 60 * MINUTE, reason: "everything" },
  ];
  const NO_MANUAL: ReadonlyMap<string, ManualMaintenance> = new Map();

  it("finds the first open window whose glob matches the adapter", () => {
    expect(maintenanceFor("storage-s3", windows, NO_MANUAL, T0)).toEqual(windows[0]);
    expect(maintenanceFor("cache-redis", windows, NO_MANUAL, T0)).toEqual(windows[1]);
    expect(maintenanceFor("cache-redis", windows.slice(0, 1), NO_MANUAL, T0)).toBeUndefined();
  });

  it("returns nothing with no window and no declared maintenance", () => {
    expect(maintenanceFor("storage-s3", [], NO_MANUAL, T0)).toBeUndefined();
  });

  it("applies manual maintenance without an end until it is lifted", () => {
    const manual = new Map([
      ["cache-redis", { adapterId: "cache-redis", untilMs: null, reason: "replacing disks" }],
    ]);
    expect(maintenanceFor("cache-redis", [], manual, T0 + 365 * 24 * 60 * MINUTE)).toEqual({
      adapters: "cache-redis",
      untilMs: null,
      reason: "replacing disks",
    });
    expect(maintenanceFor("cache-memcached", [], manual, T0)).toBeUndefined();
  });

  it("applies manual maintenance with an end until that time, exclusive", () => {
    const manual = new Map([
      ["cache-redis", { adapterId: "cache-redis", untilMs: T0 + 10 * MINUTE, reason: "patch" }],
    ]);
    expect(maintenanceFor("cache-redis", [], manual, T0 + 10 * MINUTE - 1)).toEqual({
      adapters: "cache-redis",
      untilMs: T0 + 10 * MINUTE,
      reason: "patch",
    });
    expect(maintenanceFor("cache-redis", [], manual, T0 + 10 * MINUTE)).toBeUndefined();
  });

  it("prefers manual maintenance over a window, and falls back to the window once it expires", () => {
    const manual = new Map([
      ["storage-s3", { adapterId: "storage-s3", untilMs: T0 + 5 * MINUTE, reason: "by hand" }],
    ]);
    expect(maintenanceFor("storage-s3", windows, manual, T0)).toEqual({
      adapters: "storage-s3",
      untilMs: T0 + 5 * MINUTE,
      reason: "by hand",
    });
    expect(maintenanceFor("storage-s3", windows, manual, T0 + 5 * MINUTE)).toEqual(windows[0]);
  });
});

describe("declaredMaintenanceOf", () => {
  it("reads back the declaration and the lift its events record", () => {
    for (const declared of [
      { adapterId: "p.adapter.storage.s3", untilMs: T0 + 3_600_000, reason: "disk swap" },
      { adapterId: "p.adapter.storage.s3", untilMs: null, reason: "" },
    ]) {
      expect(declaredMaintenanceOf(maintenanceStartedEvent(declared, T0))).toEqual({
        adapterId: declared.adapterId,
        declared,
      });
    }
    expect(declaredMaintenanceOf(maintenanceEndedEvent("p.adapter.storage.s3", T0))).toEqual({
      adapterId: "p.adapter.storage.s3",
      declared: null,
    });
  });

  it("reads nothing from another type, or from data that does not say it", () => {
    const started = maintenanceStartedEvent(
      { adapterId: "p.adapter.storage.s3", untilMs: null, reason: "r" },
      T0,
    );
    for (const data of [
      {},
      { adapter_id: "", until: null, reason: "r" },
      { adapter_id: "p.adapter.storage.s3", until: "not a time", reason: "r" },
      { adapter_id: "p.adapter.storage.s3", until: 5, reason: "r" },
      { adapter_id: "p.adapter.storage.s3", until: null },
    ]) {
      expect(declaredMaintenanceOf({ ...started, data })).toBeUndefined();
    }
    expect(declaredMaintenanceOf({ ...started, type: "breaker.opened" })).toBeUndefined();
  });
});
