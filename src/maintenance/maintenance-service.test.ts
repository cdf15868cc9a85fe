import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MaintenanceWindow } from "../domain/maintenance.js";
import { SqliteStore } from "../storage/sqlite-store.js";
import { MaintenanceService } from "./maintenance-service.js";

const HOUR = 3_600_000;

function fixed(adapters: string, fromMs: number, untilMs: number): MaintenanceWindow {
  return { adapters, fromMs, untilMs, cron: undefined, durationMs: undefined, reason: "upgrade" };
}

function everySecond(adapters: string, reason = "backup"): MaintenanceWindow {
  return {
    adapters,
    fromMs: undefined,
    untilMs: undefined,
    cron: "* * * * * *",
    durationMs: HOUR,
    reason,
  };
}

let directory: string;
let store: SqliteStore;
let service: MaintenanceService | undefined;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-maintenance-"));
  store = new SqliteStore({ path: join(directory, "state.db") });
});

afterEach(() => {
  service?.stop();
  store.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("MaintenanceService.replaceWindows", () => {
  it("applies new fixed windows at once and asks for failovers to be re-checked", () => {
    const changes: unknown[] = [];
    service = new MaintenanceService([], store, Date.now, (ids) => changes.push(ids));
    service.start();
    expect(service.current("cache.redis")).toBeUndefined();
    service.replaceWindows([fixed("cache.*", Date.now() - HOUR, Date.now() + HOUR)]);
    expect(service.current("cache.redis")?.reason).toBe("upgrade");
    expect(changes).toEqual(["all"]);
    service.replaceWindows([]);
    expect(service.current("cache.redis")).toBeUndefined();
  });

  it("keeps an open recurring window open when the reload keeps it, and restarts its schedule", async () => {
    let fired = 0;
    service = new MaintenanceService([everySecond("storage.*")], store, Date.now, () => {
      fired++;
    });
    service.start();
    await expect
      .poll(() => service?.current("storage.s3")?.reason, { timeout: 3_000 })
      .toBe("backup");
    // Same window, now second in the list: it is still open.
    service.replaceWindows([fixed("other.*", 0, 1), everySecond("storage.*")]);
    expect(service.current("storage.s3")?.reason).toBe("backup");
    // The schedule runs again after the reload.
    const before = fired;
    await expect.poll(() => fired, { timeout: 3_000 }).toBeGreaterThan(before + 1);
    // A changed window is a new one: it opens at its next firing, not before.
    service.replaceWindows([everySecond("storage.*", "backup v2")]);
    expect(service.current("storage.s3")).toBeUndefined();
  });
});
