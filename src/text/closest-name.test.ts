import { describe, expect, it } from "vitest";
import { closestName, editDistance } from "./closest-name.js";

describe("closestName", () => {
  const flags = ["json", "db", "config", "url", "limit", "since", "follow", "help"];

  it.each([
    ["jsno", "json"],
    ["lmit", "limit"],
    ["folow", "follow"],
    ["snice", "since"],
    ["conifg", "config"],
    ["lim", "limit"],
    ["fol", "follow"],
  ])("takes %s for %s", (typed, meant) => {
    expect(closestName(typed, flags)).toBe(meant);
  });

  it("suggests nothing when no candidate is close", () => {
    expect(closestName("frobnicate", flags)).toBeUndefined();
    expect(closestName("verbose", flags)).toBeUndefined();
    // One letter is too little to guess from.
    expect(closestName("x", flags)).toBeUndefined();
  });

  it("suggests nothing when several candidates start with what was typed", () => {
    expect(closestName("re", ["resolve", "run", "reset"])).toBeUndefined();
  });

  it("finds misspelt commands", () => {
    const commands = ["run", "status", "simulate", "check-config", "demo", "resolve", "events"];
    expect(closestName("stauts", commands)).toBe("status");
    expect(closestName("checkconfig", commands)).toBe("check-config");
    expect(closestName("evnets", commands)).toBe("events");
  });
});

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["", "abc", 3],
    ["json", "json", 0],
    ["jsno", "json", 1],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3],
  ])("from %j to %j is %i", (from, to, distance) => {
    expect(editDistance(from, to)).toBe(distance);
  });
});
