import { describe, expect, it } from "vitest";
import { closestKey, keysAllowedAt } from "./key-suggestions.js";
import { configFileSchema } from "./schema.js";

describe("closestKey", () => {
  const allowed = ["interval_sec", "timeout_sec", "rise", "fall"];

  it("suggests the nearest key, ignoring case and - for _", () => {
    expect(closestKey("intervall_sec", allowed)).toBe("interval_sec");
    expect(closestKey("Timeout-Sec", allowed)).toBe("timeout_sec");
    expect(closestKey("rose", allowed)).toBe("rise");
    expect(closestKey("intreval_sec", allowed)).toBe("interval_sec");
  });

  it("suggests nothing for a key that is not a slip", () => {
    expect(closestKey("bogus_key", allowed)).toBeUndefined();
    expect(closestKey("xy", allowed)).toBeUndefined();
    expect(closestKey("anything", [])).toBeUndefined();
  });
});

describe("keysAllowedAt", () => {
  it("finds an object's keys through defaults, optionals and lists", () => {
    expect(keysAllowedAt(configFileSchema, [])).toEqual(["oneiric_mcp", "healthd"]);
    expect(keysAllowedAt(configFileSchema, ["healthd", "log"])).toEqual(["level"]);
    expect(keysAllowedAt(configFileSchema, ["healthd", "overrides", 3, "breaker"])).toContain(
      "half_open_after_sec",
    );
    expect(keysAllowedAt(configFileSchema, ["healthd", "auth", "jwt"])).toContain("jwks_file");
  });

  it("finds none below a value or an unknown key", () => {
    expect(keysAllowedAt(configFileSchema, ["healthd", "log", "level"])).toEqual([]);
    expect(keysAllowedAt(configFileSchema, ["healthd", "nope"])).toEqual([]);
    expect(keysAllowedAt(configFileSchema, ["healthd", "toString"])).toEqual([]);
  });
});
