import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MaintenanceWindow } from "../domain/maintenance.js";
import type { MaintenanceChange } from "../storage/store.js";
import { MaintenanceService } from "./maintenance-service.js";

const HOUR = 3_600_000;
const T0 = Date.parse("2025-06-01T00:00:00Z");

function fixed(adapters: string, fromMs: number, untilMs: number): MaintenanceWindow {
  return { adapters, fromMs, untilMs, cron: undefined, durationMs: undefined, reason: "upgrade" };
}

function everySecond(adapters: string, reason = "backup", durationMs = HOUR): MaintenanceWindow {
  return {
    adapters,
    fromMs: undefined,
    untilMs: undefined,
    cron: "* * * * * *",
    durationMs,
    reason,
  };
}

function declared(adapterId: string, untilMs: number | null, reason = "disk swap") {
  return { adapterId, declared: { adapterId, untilMs, reason } } satisfies MaintenanceChange;
}

let service: MaintenanceService | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  service?.stop();
  service = undefined;
  vi.useRealTimers();
});

describe("MaintenanceService.replaceWindows", () => {
  it("applies new fixed windows at once and tells subscribers to re-judge failovers", () => {
    const changes: unknown[] = [];
    service = new MaintenanceService([], [], Date.now);
    const unsubscribe = service.onWindowsChanged((ids) => changes.push(ids));
    service.start();
    expect(service.current("cache.redis")).toBeUndefined();
    service.replaceWindows([fixed("cache.*", Date.now() - HOUR, Date.now() + HOUR)]);
    expect(service.current("cache.redis")?.reason).toBe("upgrade");
    expect(changes).toEqual(["all"]);
    service.replaceWindows([]);
    expect(service.current("cache.redis")).toBeUndefined();
    expect(changes).toEqual(["all", "all"]);
    // Unsubscribed: told nothing more.
    unsubscribe();
    service.replaceWindows([fixed("cache.*", Date.now() - HOUR, Date.now() + HOUR)]);
    expect(changes).toEqual(["all", "all"]);
  });

  it("keeps an open recurring window open when the reload keeps it, and restarts its schedule", async () => {
    let fired = 0;
    service = new MaintenanceService([everySecond("storage.*")], [], Date.now);
    service.onWindowsChanged(() => {
      fired++;
    });
    service.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(service.current("storage.s3")?.reason).toBe("backup");
    // Same window, now second in the list: it is still open.
    service.replaceWindows([fixed("other.*", 0, 1), everySecond("storage.*")]);
    expect(service.current("storage.s3")?.reason).toBe("backup");
    // The schedule runs again after the reload.
    const before = fired;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(fired).toBeGreaterThan(before + 1);
    // A changed window is a new one: it opens at its next firing, not before.
    service.replaceWindows([everySecond("storage.*", "backup v2")]);
    expect(service.current("storage.s3")).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(service.current("storage.s3")?.reason).toBe("backup v2");
  });
});

describe("MaintenanceService.onWindowsChanged", () => {
  it("tells every subscriber when a cron window opens and again when it closes", async () => {
    const one: unknown[] = [];
    const other: unknown[] = [];
    // A window that closes well before the next firing opens it again.
    const window = { ...everySecond("queue.*", "vacuum", 300), cron: "0 * * * * *" };
    service = new MaintenanceService([window], [], Date.now);
    service.onWindowsChanged((ids) => one.push(ids));
    service.onWindowsChanged((ids) => other.push(ids));
    service.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(one).toEqual(["all"]);
    expect(service.current("queue.kafka")?.reason).toBe("vacuum");
    await vi.advanceTimersByTimeAsync(300);
    expect(one).toEqual(["all", "all"]);
    expect(other).toEqual(one);
    expect(service.current("queue.kafka")).toBeUndefined();
  });

  it("is not told of declarations or lifts: the engine that commits them judges failovers", () => {
    const changes: unknown[] = [];
    service = new MaintenanceService([], [], Date.now);
    service.onWindowsChanged((ids) => changes.push(ids));
    service.applyCommitted([declared("cache.redis", null)]);
    service.applyCommitted([{ adapterId: "cache.redis", declared: null }]);
    expect(changes).toEqual([]);
  });

  it("stops the cron schedules on stop(): nothing fires after", async () => {
    const changes: unknown[] = [];
    service = new MaintenanceService([everySecond("storage.*")], [], Date.now);
    service.onWindowsChanged((ids) => changes.push(ids));
    service.start();
    service.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(changes).toEqual([]);
    expect(service.current("storage.s3")).toBeUndefined();
  });
});

describe("MaintenanceService declarations", () => {
  it("starts from the declarations it is given (as loaded from the store)", () => {
    service = new MaintenanceService(
      [],
      [
        { adapterId: "cache.redis", untilMs: null, reason: "disk swap" },
        { adapterId: "storage.s3", untilMs: T0 + 60_000, reason: "patching" },
      ],
      Date.now,
    );
    expect(service.current("cache.redis")).toEqual({
      adapters: "cache.redis",
      untilMs: null,
      reason: "disk swap",
    });
    expect(service.current("storage.s3")?.untilMs).toBe(T0 + 60_000);
    expect(service.isDeclared("cache.redis")).toBe(true);
    expect(service.isDeclared("queue.kafka")).toBe(false);
    expect(service.lookup()("storage.s3")?.reason).toBe("patching");
  });

  it("applies committed declarations and lifts, in order, and changes its signature each time", () => {
    service = new MaintenanceService([], [], Date.now);
    const signatures = [service.signature()];
    expect(service.lookup()("cache.redis")).toBeUndefined();

    service.applyCommitted([declared("cache.redis", null), declared("storage.s3", null, "first")]);
    signatures.push(service.signature());
    expect(service.current("cache.redis")?.reason).toBe("disk swap");
    expect(service.lookup()("storage.s3")?.reason).toBe("first");
    expect(service.isDeclared("cache.redis")).toBe(true);

    // A lift and a redeclaration in one commit: the later change wins.
    service.applyCommitted([
      { adapterId: "cache.redis", declared: null },
      declared("storage.s3", null, "second"),
    ]);
    signatures.push(service.signature());
    expect(service.current("cache.redis")).toBeUndefined();
    expect(service.isDeclared("cache.redis")).toBe(false);
    expect(service.current("storage.s3")?.reason).toBe("second");

    // Declared then lifted within one commit: not in maintenance, but the signature moved.
    service.applyCommitted([
      declared("queue.kafka", null),
      { adapterId: "queue.kafka", declared: null },
    ]);
    signatures.push(service.signature());
    expect(service.current("queue.kafka")).toBeUndefined();
    expect(new Set(signatures).size).toBe(signatures.length);
  });

  it("lets a declaration with an end run out by the clock; it stays declared until lifted", () => {
    service = new MaintenanceService([], [], Date.now);
    service.applyCommitted([declared("cache.redis", T0 + 60_000)]);
    const inForce = service.signature();
    expect(service.current("cache.redis")?.untilMs).toBe(T0 + 60_000);
    vi.setSystemTime(T0 + 60_000);
    expect(service.current("cache.redis")).toBeUndefined();
    expect(service.lookup()("cache.redis")).toBeUndefined();
    // Expiry changes the signature, so answers computed while it was in force are not reused.
    expect(service.signature()).not.toBe(inForce);
    // Still declared (lifting it is allowed, and records its end).
    expect(service.isDeclared("cache.redis")).toBe(true);
  });

  it("puts a declaration ahead of a window for the same adapter", () => {
    service = new MaintenanceService(
      [fixed("cache.*", T0 - HOUR, T0 + HOUR)],
      [{ adapterId: "cache.redis", untilMs: null, reason: "disk swap" }],
      Date.now,
    );
    expect(service.current("cache.redis")?.reason).toBe("disk swap");
    expect(service.current("cache.memcached")?.reason).toBe("upgrade");
    service.applyCommitted([{ adapterId: "cache.redis", declared: null }]);
    expect(service.current("cache.redis")?.reason).toBe("upgrade");
  });
});
