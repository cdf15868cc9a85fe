import { readFileSync, statSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import type { AdapterEntry } from "../domain/adapter.js";
import { HEALTH_STATUSES } from "../domain/adapter.js";
import { ConfigError } from "./errors.js";
import { describeIssue, lineOfPath } from "./yaml-issues.js";
import { documentShapeProblems, MAX_ALIAS_COUNT } from "./yaml-limits.js";

const entrySchema = z.strictObject({
  adapter_id: z.string().min(1),
  project: z.string().default(""),
  domain: z.string().min(1),
  category: z.string().min(1),
  provider: z.string().min(1),
  capabilities: z.array(z.string()).default([]),
  factory_path: z.string().default(""),
  health_check_url: z.string().default(""),
  metadata: z.record(z.string(), z.string()).default({}),
  registered_at: z.number().int().min(0).default(0),
  last_heartbeat: z.number().int().min(0).default(0),
  health_status: z.enum(HEALTH_STATUSES).default("unknown"),
});

const fileSchema = z.union([
  z.strictObject({ adapters: z.array(entrySchema) }),
  z.array(entrySchema),
]);

/** The local registry file: the last link of the fallback chain. */
export interface LocalRegistry {
  entries: AdapterEntry[];
  /** The file's modification time: how old its answers are. */
  modifiedAt: number;
}

/**
 * Reads a local registry file: YAML or JSON, either a list of entries or
 * `adapters:` with one, fields named as in the registry's `AdapterEntry`.
 * Problems are ConfigErrors naming the file, line and key.
 */
export function loadLocalRegistry(file: string): LocalRegistry {
  let text: string;
  let modifiedAt: number;
  try {
    text = readFileSync(file, "utf8");
    modifiedAt = statSync(file).mtimeMs;
  } catch (error) {
    throw new ConfigError(
      file,
      "",
      `cannot read local registry file (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    throw new ConfigError(
      file,
      "",
      `not valid YAML or JSON: ${firstError.message.split("\n")[0]}`,
      lines.linePos(firstError.pos[0]).line,
    );
  }
  // Aliases and nesting are checked as in the configuration; the size is not (a registry can be large).
  const shapeProblems = documentShapeProblems(doc, lines);
  if (shapeProblems.length > 0) throw ConfigError.inFile(file, shapeProblems);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? [];
  } catch (error) {
    // An alias to an anchor defined later or not at all, or too many aliases (a "billion laughs").
    throw new ConfigError(file, "", `not valid YAML or JSON: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    // The union reports both branches; the branch that matches the file's shape says more.
    const issues = parsed.error.issues.flatMap((issue) =>
      issue.code === "invalid_union"
        ? (issue.errors.find((branch) => branch.length > 0) ?? [issue])
        : [issue],
    );
    const { key, problem, path } = describeIssue(issues[0] as z.core.$ZodIssue);
    throw new ConfigError(file, key, problem, lineOfPath(doc.contents, path, lines));
  }
  const list = Array.isArray(parsed.data) ? parsed.data : parsed.data.adapters;
  const seen = new Set<string>();
  const entries: AdapterEntry[] = [];
  list.forEach((entry, index) => {
    if (seen.has(entry.adapter_id)) {
      const path = Array.isArray(parsed.data)
        ? [index, "adapter_id"]
        : ["adapters", index, "adapter_id"];
      throw new ConfigError(
        file,
        `adapter ${entry.adapter_id}`,
        "duplicate adapter_id",
        lineOfPath(doc.contents, path, lines),
      );
    }
    seen.add(entry.adapter_id);
    entries.push({
      adapterId: entry.adapter_id,
      project: entry.project,
      domain: entry.domain,
      category: entry.category,
      provider: entry.provider,
      capabilities: entry.capabilities,
      factoryPath: entry.factory_path,
      healthCheckUrl: entry.health_check_url,
      metadata: entry.metadata,
      registeredAt: entry.registered_at,
      lastHeartbeat: entry.last_heartbeat,
      registryStatus: entry.health_status,
    });
  });
  return { entries, modifiedAt };
}
