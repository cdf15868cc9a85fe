import { describe, expect, it } from "vitest";
import { limitHeapGrowth } from "./heap-growth.js";

describe("limitHeapGrowth", () => {
  it("leaves the factor to node's command line when it names one", () => {
    expect(limitHeapGrowth(["--heap-growing-percent=50"])).toBeUndefined();
    expect(limitHeapGrowth(["--inspect", "--heap-growing-percent", "50"])).toBeUndefined();
    // A flag that merely starts the same way is not it.
    expect(limitHeapGrowth(["--heap-growing-percentage=5"])).toBe(20);
  });
});
