import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  describeValue,
  expectation,
  namesAKind,
  schemaAt,
  valueProblem,
  valueSchemaOf,
} from "./value-wording.js";

/** The JSON Schema node of `schema` itself. */
const nodeOf = (schema: z.ZodType) => valueSchemaOf(schema);

describe("what a value must be", () => {
  it.each([
    ["an exclusive lower bound", z.number().positive(), "a number > 0"],
    [
      "an exclusive lower and inclusive upper bound",
      z.number().positive().max(300),
      "a number > 0 and ≤ 300",
    ],
    ["an exclusive upper bound", z.number().lt(1), "a number < 1"],
    ["an inclusive range", z.number().int().min(1).max(65535), "an integer from 1 to 65535"],
    ["a URL", z.url(), "a URL"],
    [
      "a pattern",
      z
        .string()
        .max(64)
        .regex(/^[a-z]+$/),
      "a string of at most 64 characters matching ^[a-z]+$",
    ],
    ["another format", z.email(), "a string in the email format"],
  ])("names %s", (_what, schema, words) => {
    expect(expectation(nodeOf(schema))).toBe(words);
  });

  it("says a mapping in YAML where JSON says a JSON object", () => {
    const node = nodeOf(z.object({ a: z.number() }));
    expect(expectation(node, "json")).toBe("a JSON object");
    expect(expectation(node, "yaml")).toBe("a mapping");
  });

  it("finds the node of an array element by its index", () => {
    const root = nodeOf(z.object({ list: z.array(z.object({ port: z.number().int() })) }));
    expect(schemaAt(root, ["list", 3, "port"])).toMatchObject({ type: "integer" });
    expect(schemaAt(root, ["list", 3, "nothing", "deeper"])).toBeUndefined();
  });

  it("knows a node that says nothing of the value", () => {
    expect(namesAKind(nodeOf(z.date()))).toBe(false);
    expect(namesAKind(nodeOf(z.enum(["a", "b"])))).toBe(true);
  });
});

describe("what was given", () => {
  it("spells lists, mappings and empty values the YAML way when asked", () => {
    expect(describeValue([1, 2, 3], "yaml")).toBe("a list of 3 items");
    expect(describeValue(["x"], "yaml")).toBe("a list of 1 item");
    expect(describeValue([], "yaml")).toBe("an empty list");
    expect(describeValue({ a: 1 }, "yaml")).toBe("a mapping");
    expect(describeValue(null, "yaml")).toBe("an empty value");
    expect(describeValue([1, 2, 3])).toBe("an array");
    expect(describeValue(null)).toBe("null");
  });

  it("describes a secret without quoting it", () => {
    const node = nodeOf(z.string().min(16).meta({ writeOnly: true }));
    expect(valueProblem(node, 1234567890123, "yaml")).toBe(
      "must be a string of at least 16 characters; got a number",
    );
    expect(valueProblem(node, ["hunter2"], "yaml")).toBe(
      "must be a string of at least 16 characters; got a list of 1 item",
    );
  });

  it("says a missing value is required, briefly", () => {
    expect(valueProblem(nodeOf(z.string().min(1).max(256)), undefined)).toBe(
      "is required (a string)",
    );
  });
});
