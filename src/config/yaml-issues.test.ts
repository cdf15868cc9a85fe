import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeIssues, valueWordingFor } from "./yaml-issues.js";

/** The problems `describeIssues` finds when `schema` parses `input` with the value wording. */
function problems(schema: z.ZodType, input: unknown): string[] {
  const parsed = schema.safeParse(input, { error: valueWordingFor(schema) });
  if (parsed.success) throw new Error("expected the input to be refused");
  return parsed.error.issues
    .flatMap((issue) => describeIssues(issue, schema))
    .map(({ key, problem }) => `${key}: ${problem}`);
}

describe("valueWordingFor", () => {
  it("words a value from its schema, in YAML's terms", () => {
    const schema = z.strictObject({ every: z.array(z.number().positive()).max(2) });
    expect(problems(schema, { every: [1, 2, 3] })).toEqual([
      "every: must be a list of at most 2 items; got a list of 3 items",
    ]);
    expect(problems(schema, { every: [1, "soon"] })).toEqual([
      'every[1]: must be a number > 0; got "soon"',
    ]);
  });

  it("keeps zod's message, less its prefix, where the schema says nothing of the value", () => {
    const schema = z.strictObject({ when: z.date() });
    expect(problems(schema, { when: "today" })).toEqual(["when: expected date, received string"]);
  });

  it("leaves unknown keys and refinements to their own wording", () => {
    const schema = z.strictObject({
      range: z
        .strictObject({ from: z.number(), to: z.number() })
        .refine((range) => range.to >= range.from, "to must not be less than from"),
    });
    expect(problems(schema, { range: { from: 2, to: 1 } })).toEqual([
      "range: to must not be less than from",
    ]);
    expect(problems(schema, { range: { from: 1, to: 2, step: 1 } })).toEqual([
      "range.step: unknown key",
    ]);
  });
});
