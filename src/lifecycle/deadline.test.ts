import { describe, expect, it } from "vitest";
import { withDeadline } from "./deadline.js";

describe("withDeadline", () => {
  it("passes on a result that comes in time, without calling onTimeout", async () => {
    let timedOut = false;
    const value = await withDeadline(Promise.resolve(7), 1_000, () => {
      timedOut = true;
    });
    expect(value).toBe(7);
    expect(timedOut).toBe(false);
  });

  it("stops waiting at the deadline and says so", async () => {
    let timedOut = false;
    const started = Date.now();
    const value = await withDeadline(new Promise<number>(() => undefined), 50, () => {
      timedOut = true;
    });
    expect(value).toBeUndefined();
    expect(timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("passes on a rejection that comes in time", async () => {
    await expect(
      withDeadline(Promise.reject(new Error("closed twice")), 1_000, () => undefined),
    ).rejects.toThrow("closed twice");
  });
});
