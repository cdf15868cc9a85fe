import { describe, expect, it } from "vitest";
import { formatPercent, formatSeconds } from "./uptime-wording.js";

describe("uptime wording", () => {
  it("never rounds a percentage up to 100, and says times in two units at most", () => {
    expect(formatPercent(99.9999)).toBe("99.99%");
    expect(formatPercent(100)).toBe("100%");
    expect(formatPercent(null)).toBe("-");
    expect(formatSeconds(59.4)).toBe("59s");
    expect(formatSeconds(3 * 86_400 + 4 * 3600 + 59)).toBe("3d 4h");
    expect(formatSeconds(7200)).toBe("2h");
  });
});
