import { describe, expect, it } from "vitest";
import { initialHealth } from "./health.js";
import { toStatusView } from "./status-view.js";

const entry = {
  adapterId: "p.storage.s3",
  project: "p",
  domain: "storage",
  category: "s3",
  provider: "aws",
  healthCheckUrl: "",
};
const checked = { ...initialHealth("p.storage.s3", "healthy", 1_000), lastChecked: 1_000 };

describe("a status view's owner and verdict age", () => {
  it("leaves both out for a verdict of a daemon that runs alone", () => {
    const view = toStatusView(entry, checked, false, 2_500);
    expect(view).not.toHaveProperty("owner");
    expect(view).not.toHaveProperty("age_ms");
  });

  it("gives a cluster member's verdict its owner and its age in whole ms", () => {
    const view = toStatusView(entry, { ...checked, owner: "b" }, false, 2_500.4);
    expect(view.owner).toBe("b");
    expect(view.age_ms).toBe(2_500);
  });

  it("has no age for a verdict never checked, whatever age it is given", () => {
    const never = { ...initialHealth("p.storage.s3", "healthy", 1_000), owner: "a" };
    expect(toStatusView(entry, never, true, Number.POSITIVE_INFINITY).age_ms).toBeNull();
    expect(toStatusView(entry, never, true, 10).age_ms).toBeNull();
  });
});
