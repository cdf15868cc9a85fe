import { describe, expect, it } from "vitest";
import { ownDelayReason } from "./own-delay.js";

const THRESHOLDS = { degradedLatencyMs: 1_000, timeoutMs: 5_000 };

describe("ownDelayReason", () => {
  it("lets every result stand while the loop was not held up", () => {
    expect(ownDelayReason({ ok: true, latencyMs: 1_500 }, 0, THRESHOLDS)).toBeUndefined();
    expect(ownDelayReason({ ok: false, latencyMs: 5_000 }, 0, THRESHOLDS)).toBeUndefined();
  });

  it("lets a fast answer and a refusal given in time stand whatever the stall", () => {
    expect(ownDelayReason({ ok: true, latencyMs: 20 }, 900, THRESHOLDS)).toBeUndefined();
    expect(ownDelayReason({ ok: false, latencyMs: 300 }, 900, THRESHOLDS)).toBeUndefined();
  });

  it("screens out a slow answer that the stall pushed over the degraded threshold", () => {
    const reason = ownDelayReason({ ok: true, latencyMs: 1_003 }, 40, THRESHOLDS);
    expect(reason).toBe(
      "answered in 1003 ms while the daemon's event loop was held up 40 ms: no verdict",
    );
  });

  it("keeps a slow answer that would be over the threshold even without the stall", () => {
    expect(ownDelayReason({ ok: true, latencyMs: 1_600 }, 200, THRESHOLDS)).toBeUndefined();
  });

  it("screens out a timeout when the answer could have come in time during the stall", () => {
    expect(ownDelayReason({ ok: false, latencyMs: 5_150 }, 300, THRESHOLDS)).toMatch(
      /^no answer while the daemon's event loop was held up 300 ms/,
    );
    // Fired late by more than the stall: the deadline had passed before the stall began.
    expect(ownDelayReason({ ok: false, latencyMs: 5_400 }, 300, THRESHOLDS)).toBeUndefined();
  });
});
