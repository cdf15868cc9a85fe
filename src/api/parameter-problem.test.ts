import { describe, expect, it } from "vitest";
import type { ApiError } from "./api-error.js";
import {
  adapterIdSchema,
  eventsPageSchema,
  listFilterSchema,
  maintenanceSchema,
  parseParameters,
  requirementSchema,
  resolveBatchSchema,
} from "./query-service.js";

/** The error parseParameters throws, as code, parameter and message. */
function problem(run: () => unknown): { code: string; parameter: unknown; message: string } {
  try {
    run();
  } catch (error) {
    const apiError = error as ApiError;
    return { code: apiError.code, parameter: apiError.extra.parameter, message: apiError.message };
  }
  throw new Error("expected a parameter problem");
}

describe("parameter problems in words", () => {
  it.each([
    [
      "a flag",
      () => parseParameters(listFilterSchema, { healthy_only: "yes" }, "filter"),
      "healthy_only",
      'healthy_only must be true or false; got "yes"',
    ],
    [
      "an enum",
      () => parseParameters(listFilterSchema, { status: "fine" }, "filter"),
      "status",
      'status must be one of "unknown", "healthy", "degraded", "unhealthy"; got "fine"',
    ],
    [
      "an integer with a lower bound only",
      () => parseParameters(eventsPageSchema, { since: "abc" }),
      "since",
      'since must be an integer ≥ 0; got "abc"',
    ],
    [
      "an integer in a range",
      () => parseParameters(eventsPageSchema, { limit: "1.5" }),
      "limit",
      'limit must be an integer from 1 to 1000; got "1.5"',
    ],
    [
      "a body that is not an object",
      () => parseParameters(resolveBatchSchema, [{ domain: "adapter" }], "body"),
      "body",
      "the request body must be a JSON object; got an array",
    ],
    [
      "a missing field",
      () => parseParameters(requirementSchema, { category: "storage" }, "requirement"),
      "domain",
      'domain is required (a string such as "adapter")',
    ],
    [
      "a field of the wrong type, deep in a body",
      () =>
        parseParameters(
          resolveBatchSchema,
          { requirements: [{ domain: "adapter", category: 7 }] },
          "body",
        ),
      "requirements.0.category",
      'requirements.0.category must be a string of 1 to 256 characters, such as "storage"; got 7',
    ],
    [
      "an empty list",
      () => parseParameters(resolveBatchSchema, { requirements: [] }, "body"),
      "requirements",
      "requirements must be a list of 1 to 100 items; got an empty array",
    ],
    [
      "a time that is not one",
      () => parseParameters(maintenanceSchema, { until: "tomorrow" }, "body"),
      "until",
      'until must be an ISO 8601 time with an offset, such as "2026-11-27T06:00:00Z"; got "tomorrow"',
    ],
    [
      "a string too long to quote back",
      () => parseParameters(adapterIdSchema, "x".repeat(300), "adapter_id"),
      "adapter_id",
      "adapter_id must be a string of 1 to 256 characters, such as " +
        '"mahavishnu.adapter.storage.s3"; got a string of 300 characters',
    ],
    [
      "a command-line option",
      () => parseParameters(eventsPageSchema, { since: "-3" }, "option"),
      "since",
      '--since must be an integer ≥ 0; got "-3"',
    ],
  ])("words %s", (_what, run, parameter, message) => {
    expect(problem(run)).toEqual({ code: "INVALID_PARAMETER", parameter, message });
  });

  it("reports an unknown key before the missing key it leaves, with the closest known one", () => {
    expect(problem(() => parseParameters(resolveBatchSchema, { requirments: [] }, "body"))).toEqual(
      {
        code: "UNKNOWN_PARAMETER",
        parameter: "requirments",
        message: 'unknown body field "requirments" (did you mean "requirements"?)',
      },
    );
  });

  it("lists the known keys when none is close", () => {
    expect(problem(() => parseParameters(eventsPageSchema, { colour: "blue" }))).toEqual({
      code: "UNKNOWN_PARAMETER",
      parameter: "colour",
      message: 'unknown parameter "colour"; known: since, limit',
    });
  });
});
