import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { UPTIME_WINDOW_NAMES } from "../api/history-queries.js";
import { eventsPageSchema } from "../api/query-service.js";
import { parseCommandLine } from "./arguments.js";
import type { CommandSpec } from "./command-spec.js";
import { COMMAND_GROUPS, COMMANDS, EVENTS_COMMAND, UPTIME_COMMAND } from "./command-specs.js";

/** The number schema inside a zod default, with the bounds its checks set. */
function bounds(schema: z.ZodDefault<z.ZodCoercedNumber>) {
  const inner = schema.unwrap();
  return { min: inner.minValue, max: inner.maxValue, default: schema.def.defaultValue };
}

describe("command specs", () => {
  it("bound --since and --limit as the events API does", () => {
    const limit = bounds(eventsPageSchema.shape.limit);
    expect(EVENTS_COMMAND.flags.limit).toMatchObject({
      min: limit.min,
      max: limit.max,
      default: String(limit.default),
    });
    const since = bounds(eventsPageSchema.shape.since);
    expect(EVENTS_COMMAND.flags.since.min).toBe(since.min);
    // No max in the spec: the parser's own limit is the largest safe integer, as the schema's.
    expect(since.max).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("name the uptime windows the API takes, and its default", () => {
    const names = UPTIME_WINDOW_NAMES;
    const listed = `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
    expect(UPTIME_COMMAND.flags.window.description).toBe(`Over the last W: ${listed}.`);
    expect(UPTIME_COMMAND.flags.window.default).toBe("24h");
  });

  it.each(COMMANDS.map((spec): [string, CommandSpec] => [spec.name, spec]))(
    "%s: every example parses, and every flag's example value is accepted",
    (name, spec) => {
      expect(spec.examples.length).toBeGreaterThan(0);
      for (const example of spec.examples) {
        const words = example.command.split(" ");
        expect(words.slice(0, 1 + name.split(" ").length).join(" ")).toBe(
          `oneiric-healthd ${name}`,
        );
        expect(() => parseCommandLine(spec, words.slice(1 + name.split(" ").length))).not.toThrow();
      }
      const required = Object.entries(spec.flags).flatMap(([flag, entry]) =>
        entry.type !== "boolean" && entry.required ? [`--${flag}`, entry.example] : [],
      );
      const needed = spec.arguments.filter((argument) => argument.required).map((a) => a.name);
      for (const [flag, entry] of Object.entries(spec.flags)) {
        const args = entry.type === "boolean" ? [`--${flag}`] : [`--${flag}`, entry.example];
        const line = parseCommandLine(spec, [...needed, ...required, ...args]);
        expect(line.help).toBe(false);
        if (!line.help) {
          const value = (line.values as Record<string, unknown>)[flag];
          expect(value).toBe(
            entry.type === "boolean"
              ? true
              : entry.type === "integer"
                ? Number(entry.example)
                : entry.example,
          );
        }
      }
    },
  );

  it("name each command once, with its group when it has two words", () => {
    const names = COMMANDS.map((spec) => spec.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names.filter((candidate) => candidate.includes(" "))) {
      expect(COMMAND_GROUPS.map((group) => group.name)).toContain(name.split(" ")[0]);
    }
  });
});
