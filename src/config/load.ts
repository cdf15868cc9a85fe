import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { type HostPort, parseHostPort } from "../domain/host-port.js";
import { ConfigError } from "./errors.js";
import { type ConfigFile, configFileSchema } from "./schema.js";

/** The daemon's settings after validation, defaults and command-line overrides. */
export interface DaemonConfig {
  source: string;
  registry: {
    enabled: boolean;
    host: string;
    port: number;
    useTls: boolean;
    timeoutMs: number;
    cacheTtlMs: number;
    jwtEnabled: boolean;
    jwtSecret: string | undefined;
    jwtProject: string | undefined;
    tlsCertPath: string | undefined;
    tlsKeyPath: string | undefined;
    tlsCaPath: string | undefined;
    breakerThreshold: number;
    breakerDurationMs: number;
  };
  http: { listen: HostPort };
  grpc: { listen: HostPort };
  storage: { path: string; synchronous: "normal" | "full" };
  sync: { intervalMs: number };
  probes: {
    intervalMs: number;
    timeoutMs: number;
    jitter: number;
    rise: number;
    fall: number;
    degradedLatencyMs: number;
    concurrency: number;
    staleAfterMs: number;
  };
  log: { level: string };
}

/** Values given on the command line, which win over the file. */
export interface ConfigOverrides {
  dbPath?: string | undefined;
  httpListen?: string | undefined;
  grpcListen?: string | undefined;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Reads, expands, validates and resolves a config file; throws ConfigError. */
export function loadConfigFile(
  file: string,
  env: Environment,
  overrides: ConfigOverrides = {},
): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, "", code === "ENOENT" ? "file not found" : `cannot read (${code})`);
  }
  return parseConfigText(text, file, env, overrides);
}

/** Parses config text; `file` names the source in error messages. */
export function parseConfigText(
  text: string,
  file: string,
  env: Environment,
  overrides: ConfigOverrides = {},
): DaemonConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    // With prettyErrors off the error has no linePos; the line counter still knows it.
    const line = firstError.linePos?.[0]?.line ?? lines.linePos(firstError.pos[0]).line;
    throw new ConfigError(file, "", `not valid YAML: ${firstError.message.split("\n")[0]}`, line);
  }
  const lineOf = (path: readonly PropertyKey[]) => lineOfPath(doc.contents, path, lines);
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(
      file,
      "",
      "expected a mapping with oneiric_mcp: and healthd: sections",
      lineOf([]) ?? 1,
    );
  }
  const expanded = expandEnvironment(raw, env, [], (key, problem, path) => {
    throw new ConfigError(file, key, problem, lineOf(path));
  });
  const parsed = configFileSchema.safeParse(expanded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const { key, problem, path } = describeIssue(issue);
    const more = parsed.error.issues.length - 1;
    throw new ConfigError(
      file,
      key,
      more > 0 ? `${problem} (and ${more} more problem${more > 1 ? "s" : ""})` : problem,
      lineOf(path),
    );
  }
  return resolveConfig(parsed.data, file, overrides, lineOf);
}

function resolveConfig(
  data: ConfigFile,
  file: string,
  overrides: ConfigOverrides,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): DaemonConfig {
  const mcp = data.oneiric_mcp;
  const healthd = data.healthd;
  const address = (value: string, key: string): HostPort => {
    const parsed = parseHostPort(value);
    if (typeof parsed === "string") throw new ConfigError(file, key, parsed);
    return parsed;
  };
  if (mcp.jwt_enabled && !mcp.jwt_secret) {
    throw new ConfigError(
      file,
      "oneiric_mcp.jwt_secret",
      "required when jwt_enabled is true",
      lineOf(["oneiric_mcp", mcp.jwt_secret === undefined ? "jwt_enabled" : "jwt_secret"]),
    );
  }
  if ((mcp.tls_cert_path === undefined) !== (mcp.tls_key_path === undefined)) {
    throw new ConfigError(
      file,
      mcp.tls_cert_path === undefined ? "oneiric_mcp.tls_cert_path" : "oneiric_mcp.tls_key_path",
      "tls_cert_path and tls_key_path must be given together",
      lineOf(["oneiric_mcp", mcp.tls_cert_path === undefined ? "tls_key_path" : "tls_cert_path"]),
    );
  }
  const intervalMs = healthd.probes.interval_sec * 1000;
  return {
    source: file,
    registry: {
      enabled: mcp.enabled,
      host: mcp.grpc_host,
      port: mcp.grpc_port,
      useTls: mcp.use_tls,
      timeoutMs: mcp.timeout_sec * 1000,
      cacheTtlMs: mcp.cache_ttl_sec * 1000,
      jwtEnabled: mcp.jwt_enabled,
      jwtSecret: mcp.jwt_secret,
      jwtProject: mcp.jwt_project,
      tlsCertPath: mcp.tls_cert_path,
      tlsKeyPath: mcp.tls_key_path,
      tlsCaPath: mcp.tls_ca_path,
      breakerThreshold: mcp.circuit_breaker_threshold,
      breakerDurationMs: mcp.circuit_breaker_duration_sec * 1000,
    },
    http: { listen: address(overrides.httpListen ?? healthd.http.listen, "--http-listen") },
    grpc: { listen: address(overrides.grpcListen ?? healthd.grpc.listen, "--grpc-listen") },
    storage: {
      path: overrides.dbPath ?? healthd.storage.path,
      synchronous: healthd.storage.synchronous,
    },
    sync: { intervalMs: healthd.sync.interval_sec * 1000 },
    probes: {
      intervalMs,
      timeoutMs: healthd.probes.timeout_sec * 1000,
      jitter: healthd.probes.jitter,
      rise: healthd.probes.rise,
      fall: healthd.probes.fall,
      degradedLatencyMs: healthd.probes.degraded_latency_ms,
      concurrency: healthd.probes.concurrency,
      // Three missed rounds before a verdict is called stale.
      staleAfterMs: (healthd.probes.stale_after_sec ?? healthd.probes.interval_sec * 3) * 1000,
    },
    log: { level: healthd.log.level },
  };
}

/** The settings a config file with no keys at all gives. */
export function defaultConfig(overrides: ConfigOverrides = {}): DaemonConfig {
  return parseConfigText("{}", "(defaults)", {}, overrides);
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` (and `${NAME:-default}`) in every string value. An unset
 * variable without a default is reported, naming the variable and the key.
 */
export function expandEnvironment(
  value: unknown,
  env: Environment,
  path: readonly PropertyKey[],
  fail: (key: string, problem: string, path: readonly PropertyKey[]) => never,
): unknown {
  if (typeof value === "string") {
    return value.replace(ENV_REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      return fail(formatPath(path), `environment variable ${name} is not set`, path);
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => expandEnvironment(item, env, [...path, index], fail));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        expandEnvironment(item, env, [...path, key], fail),
      ]),
    );
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): {
  key: string;
  problem: string;
  path: PropertyKey[];
} {
  const path = [...issue.path];
  if (issue.code === "unrecognized_keys") {
    const unknownKey = issue.keys[0] ?? "";
    const fullPath = [...path, unknownKey];
    return { key: formatPath(fullPath), problem: "unknown key", path: fullPath };
  }
  return { key: formatPath(path), problem: issue.message.replace(/^Invalid input: /, ""), path };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}

/** The line of the deepest node that exists along `path`, for error messages. */
function lineOfPath(
  root: Node | null,
  path: readonly PropertyKey[],
  lines: LineCounter,
): number | undefined {
  let node: unknown = root;
  let offset: number | undefined = root?.range?.[0];
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === part);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === "number") {
      node = node.items[part];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}
