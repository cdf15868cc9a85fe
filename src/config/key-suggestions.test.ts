import { describe, expect, it } from "vitest";
import { closestKey, editDistance, keysAllowedAt } from "./key-suggestions.js";
import { configFileSchema } from "./schema.js";

describe("editDistance", () => {
  it("counts inserts, deletes, substitutions and swapped neighbours as one edit each", () => {
    expect(editDistance("interval_sec", "interval_sec", 3)).toBe(0);
    expect(editDistance("intervl_sec", "interval_sec", 3)).toBe(1);
    expect(editDistance("intreval_sec", "interval_sec", 3)).toBe(1);
    expect(editDistance("grpc_prot", "grpc_port", 3)).toBe(1);
    expect(editDistance("kitten", "sitting", 3)).toBe(3);
  });

  it("stops at the limit", () => {
    expect(editDistance("a", "abcdefgh", 2)).toBe(3);
    expect(editDistance("abcdef", "uvwxyz", 2)).toBe(3);
  });
});

describe("closestKey", () => {
  const allowed = ["interval_sec", "timeout_sec", "rise", "fall"];

  it("suggests the nearest key, ignoring case and - for _", () => {
    expect(closestKey("intervall_sec", allowed)).toBe("interval_sec");
    expect(closestKey("Timeout-Sec", allowed)).toBe("timeout_sec");
    expect(closestKey("rose", allowed)).toBe("rise");
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
