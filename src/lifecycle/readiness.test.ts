import { describe, expect, it } from "vitest";
import type { StoreStatus } from "../engine/health-engine.js";
import { readiness } from "./readiness.js";

const WRITABLE: StoreStatus = {
  writable: true,
  failingSince: null,
  lastError: null,
  pendingStates: 0,
  pendingEvents: 0,
};

describe("readiness", () => {
  it("is not ready before start-up has finished", () => {
    expect(readiness(false, WRITABLE, true, 3)).toEqual({
      ready: false,
      reason: "start-up has not finished",
    });
  });

  it("is ready from a stored catalog with a note until the registry is confirmed", () => {
    expect(readiness(true, WRITABLE, false, 3)).toEqual({
      ready: true,
      note: "catalog from storage, registry not yet confirmed",
    });
    expect(readiness(true, WRITABLE, true, 3)).toEqual({ ready: true });
  });

  it("is not ready with no catalog at all until the registry answers, then ready even when empty", () => {
    expect(readiness(true, WRITABLE, false, 0)).toEqual({
      ready: false,
      reason: "no catalog yet: none is stored and the registry has not answered",
    });
    expect(readiness(true, WRITABLE, true, 0)).toEqual({ ready: true });
  });

  it("is not ready while the database refuses commits, saying since when and what waits", () => {
    const failing: StoreStatus = {
      writable: false,
      failingSince: Date.parse("2026-12-01T12:00:00Z"),
      lastError: "SQLITE_FULL: database or disk is full",
      pendingStates: 2,
      pendingEvents: 5,
    };
    expect(readiness(true, failing, true, 3)).toEqual({
      ready: false,
      reason:
        "the database refuses commits since 2026-12-01T12:00:00.000Z (SQLITE_FULL: database or disk is full); 5 events and 2 verdicts wait to be committed, queries answer from the last commit",
    });
  });

  it("stays ready while the registry's catalog cannot be read, with a note saying since when", () => {
    const unreadable = { since: Date.parse("2026-12-01T12:00:00Z"), error: "not a ListResponse" };
    expect(readiness(true, WRITABLE, true, 3, unreadable)).toEqual({
      ready: true,
      note: "the registry's catalog cannot be read since 2026-12-01T12:00:00.000Z (not a ListResponse); serving the last-known catalog",
    });
    // With no catalog at all the daemon is not ready, whatever the reason.
    expect(readiness(true, WRITABLE, false, 0, unreadable).ready).toBe(false);
  });
});
