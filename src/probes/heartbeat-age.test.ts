import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkHeartbeatAge } from "./heartbeat-age.js";

/** 2026-01-01T00:00:00Z, a whole second. */
const nowSec = 1_767_225_600;
const nowMs = nowSec * 1000;

describe("checkHeartbeatAge", () => {
  it("passes a heartbeat inside the limit", () => {
    expect(checkHeartbeatAge(nowSec - 10, nowMs, 30_000)).toEqual({
      ok: true,
      latencyMs: 0,
      detail: "last heartbeat 10s ago",
    });
  });

  it("passes a heartbeat exactly at the limit", () => {
    expect(checkHeartbeatAge(nowSec - 30, nowMs, 30_000)).toMatchObject({
      ok: true,
      detail: "last heartbeat 30s ago",
    });
  });

  it("fails a heartbeat over the limit, naming its age and the limit", () => {
    expect(checkHeartbeatAge(nowSec - 45, nowMs, 30_000)).toEqual({
      ok: false,
      latencyMs: 0,
      detail: "last heartbeat 45s ago, over the 30s limit",
    });
  });

  it("never shows a stale age as equal to its limit", () => {
    expect(checkHeartbeatAge(nowSec - 30, nowMs + 1, 30_000)).toMatchObject({
      ok: false,
      detail: "last heartbeat 30.1s ago, over the 30s limit",
    });
    expect(checkHeartbeatAge(nowSec - 1, nowMs + 300, 1_250)).toMatchObject({
      ok: false,
      detail: "last heartbeat 1.3s ago, over the 1.2s limit",
    });
  });

  it("fails an adapter that never heartbeated", () => {
    expect(checkHeartbeatAge(0, nowMs, 30_000)).toEqual({
      ok: false,
      latencyMs: 0,
      detail: "no heartbeat recorded",
    });
  });

  it("treats a negative or non-numeric heartbeat as none", () => {
    for (const bogus of [-5, Number.NaN]) {
      expect(checkHeartbeatAge(bogus, nowMs, 30_000)).toMatchObject({
        ok: false,
        detail: "no heartbeat recorded",
      });
    }
  });

  it("passes a heartbeat from slightly in the future (clock skew), as 0s ago", () => {
    expect(checkHeartbeatAge(nowSec + 2, nowMs, 30_000)).toMatchObject({
      ok: true,
      detail: "last heartbeat 0s ago",
    });
  });

  it("passes exactly when the age is within the TTL", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: nowSec }),
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        (lastSec, ttlMs) => {
          const result = checkHeartbeatAge(lastSec, nowMs, ttlMs);
          expect(result.ok).toBe(nowMs - lastSec * 1000 <= ttlMs);
          expect(result.latencyMs).toBe(0);
        },
      ),
    );
  });
});
