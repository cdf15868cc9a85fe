import { existsSync, readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import type {
  AdapterSettings,
  BreakerSettings,
  SettingsOverride,
} from "../domain/adapter-settings.js";
import type { FlapPolicy } from "../domain/health.js";
import { type HostPort, parseHostPort } from "../domain/host-port.js";
import type { MaintenanceWindow } from "../domain/maintenance.js";
import type { Requirement } from "../domain/resolution.js";
import { STALE_SLACK_MS, type StaleRule } from "../domain/status-view.js";
import { ConfigError } from "./errors.js";
import { type ConfigFile, configFileSchema, MAX_TIMER_SEC } from "./schema.js";
import { describeIssue, formatPath, lineOfPath } from "./yaml-issues.js";

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
  fallback: {
    secondaries: HostPort[];
    localFile: string | undefined;
    breakerThreshold: number;
    halfOpenAfterMs: number;
    maxHalfOpenAfterMs: number;
    maxConcurrentCalls: number;
    maxQueuedCalls: number;
    jwtTtlMs: number;
  };
  http: {
    listen: HostPort;
    maxBodyBytes: number;
    sseHeartbeatMs: number;
    maxEventStreams: number;
    /** The public listener and the hot read routes run on a worker thread (the front). */
    serveInWorker: boolean;
    tls: TlsFiles | undefined;
  };
  grpc: { listen: HostPort; tls: TlsFiles | undefined };
  /** Who may use the HTTP, gRPC and MCP surfaces. */
  auth: AuthConfig;
  /** Per-client rate limit and connection bounds of the daemon's own servers. */
  limits: {
    /** 0: no rate limit. */
    requestsPerSec: number;
    burst: number;
    maxConnections: number;
    slowClientTimeoutMs: number;
  };
  storage: { path: string; synchronous: "normal" | "full" };
  sync: { intervalMs: number; cron: string | undefined };
  probes: {
    /** Most checks in flight across all adapters. */
    concurrency: number;
    /** When verdicts go stale (see `StaleRule`). */
    stale: StaleRule;
    /** First checks per second after start or a catalog change (see ProbeScheduler). */
    startupRatePerSec: number;
    /** The most first checks per second, even when that spreads them wider than an interval. */
    startupMaxRatePerSec: number;
  };
  /** Per-adapter probe, breaker and priority settings: defaults plus overrides in file order. */
  adapters: { defaults: AdapterSettings; overrides: SettingsOverride[] };
  flap: FlapPolicy;
  resolution: { panic: boolean; requirements: Requirement[] };
  maintenance: MaintenanceWindow[];
  journal: { maxAgeMs: number; maxEvents: number; retentionCron: string };
  /** Webhook subscribers, in file order (names are unique). */
  webhooks: WebhookConfig[];
  log: { level: string };
  /** Bounds on metric label values. */
  metrics: { maxCategoryLabels: number };
}

/** One webhook subscriber, resolved. `secret` must never be logged. */
export interface WebhookConfig {
  name: string;
  url: string;
  secret: string;
  /** Event type globs; undefined: every event. */
  types: string[] | undefined;
  timeoutMs: number;
  /** Failed attempts in a row (on one event) before the subscriber is parked. */
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
}

/** A server's certificate files; `clientCaPath` set means clients must present a certificate. */
export interface TlsFiles {
  certPath: string;
  keyPath: string;
  clientCaPath: string | undefined;
}

/** Bearer-token authentication of the daemon's surfaces. Tokens and secrets must never be logged. */
export interface AuthConfig {
  enabled: boolean;
  tokens: { name: string; token: string; scopes: ("read" | "admin")[] }[];
  jwt:
    | {
        hs256Secret: string | undefined;
        jwksFile: string | undefined;
        issuer: string | undefined;
        audience: string | undefined;
        scopeClaim: string;
      }
    | undefined;
  /** What answers without a token while auth is enabled. */
  openPaths: { healthz: boolean; metrics: boolean; reflection: boolean };
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
  return parseConfigText(text, file, env, overrides, true);
}

/** Parses config text; `file` names the source in error messages. */
export function parseConfigText(
  text: string,
  file: string,
  env: Environment,
  overrides: ConfigOverrides = {},
  checkFiles = false,
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
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (error) {
    // An alias to an anchor defined later or not at all, or too many aliases (a "billion laughs").
    throw new ConfigError(file, "", `not valid YAML: ${(error as Error).message}`);
  }
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
  return resolveConfig(parsed.data, file, overrides, lineOf, checkFiles);
}

/** Files the config names must exist where the daemon will run; checked when loading a real file. */
function verifyReferencedFiles(
  data: ConfigFile,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): void {
  const mcp = data.oneiric_mcp;
  for (const key of ["tls_ca_path", "tls_cert_path", "tls_key_path"] as const) {
    const path = mcp[key];
    if (path !== undefined && !existsSync(path)) {
      throw new ConfigError(
        file,
        `oneiric_mcp.${key}`,
        `file ${path} does not exist`,
        lineOf(["oneiric_mcp", key]),
      );
    }
  }
  const localFile = data.healthd.registry.local_file;
  if (localFile !== undefined && !existsSync(localFile)) {
    throw new ConfigError(
      file,
      "healthd.registry.local_file",
      `file ${localFile} does not exist`,
      lineOf(["healthd", "registry", "local_file"]),
    );
  }
  for (const server of ["http", "grpc"] as const) {
    const tls = data.healthd[server].tls;
    for (const key of ["cert_path", "key_path", "client_ca_path"] as const) {
      const path = tls?.[key];
      if (path !== undefined && !existsSync(path)) {
        throw new ConfigError(
          file,
          `healthd.${server}.tls.${key}`,
          `file ${path} does not exist`,
          lineOf(["healthd", server, "tls", key]),
        );
      }
    }
  }
  const jwksFile = data.healthd.auth.jwt?.jwks_file;
  if (jwksFile !== undefined) {
    const problem = jwksFileProblem(jwksFile);
    if (problem !== undefined) {
      throw new ConfigError(
        file,
        "healthd.auth.jwt.jwks_file",
        problem,
        lineOf(["healthd", "auth", "jwt", "jwks_file"]),
      );
    }
  }
}

/** Why a JWKS file cannot be used, or undefined; the keys themselves are checked at start-up. */
function jwksFileProblem(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `file ${path} does not exist` : `cannot read ${path} (${code})`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${path} is not JSON (expected a JSON Web Key Set: {"keys": [...]})`;
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    return `${path} has no "keys" list (expected a JSON Web Key Set: {"keys": [...]})`;
  }
  return undefined;
}

function resolveConfig(
  data: ConfigFile,
  file: string,
  overrides: ConfigOverrides,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
  checkFiles: boolean,
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
  checkAuth(data, file, lineOf);
  if (checkFiles) verifyReferencedFiles(data, file, lineOf);
  const probes = healthd.probes;
  const breakerKind = healthd.breaker.kind;
  const defaults: AdapterSettings = {
    probes: {
      intervalMs: probes.interval_sec * 1000,
      // Like Envoy's unhealthy_edge_interval: look again sooner while a verdict is in the balance.
      edgeIntervalMs: (probes.edge_interval_sec ?? probes.interval_sec / 3) * 1000,
      // Derived defaults stop at what a timer can wait (given values are bounded by the schema).
      openIntervalMs:
        (probes.open_interval_sec ?? Math.min(probes.interval_sec * 4, MAX_TIMER_SEC)) * 1000,
      // With a stream open, a change is pushed and a lost stream brings the next poll in at
      // once: the poll is a rare safety net (and the only latency measurement).
      watchedIntervalMs:
        (probes.watched_interval_sec ?? Math.min(probes.interval_sec * 30, MAX_TIMER_SEC)) * 1000,
      timeoutMs: probes.timeout_sec * 1000,
      jitter: probes.jitter,
      rise: probes.rise,
      fall: probes.fall,
      degradedLatencyMs: probes.degraded_latency_ms,
      expectBody: probes.expect_body,
      heartbeatTtlMs:
        probes.heartbeat_ttl_sec === undefined ? undefined : probes.heartbeat_ttl_sec * 1000,
      watch: probes.watch,
      registryCheck: probes.registry_check,
    },
    breaker: {
      kind: breakerKind,
      // The registry clients' own breaker defaults (3 failures, 5 minutes) carry over.
      threshold:
        healthd.breaker.threshold ??
        (breakerKind === "consecutive" ? mcp.circuit_breaker_threshold : 0.5),
      halfOpenAfterMs:
        (healthd.breaker.half_open_after_sec ?? mcp.circuit_breaker_duration_sec) * 1000,
      size: healthd.breaker.size,
      minCalls: healthd.breaker.min_calls,
      durationMs: healthd.breaker.duration_sec * 1000,
    },
    priority: 100,
  };
  const adapterOverrides: SettingsOverride[] = healthd.overrides.map((override) => ({
    match: override.match,
    probes: {
      intervalMs: seconds(override.probes?.interval_sec),
      edgeIntervalMs: seconds(override.probes?.edge_interval_sec),
      openIntervalMs: seconds(override.probes?.open_interval_sec),
      watchedIntervalMs: seconds(override.probes?.watched_interval_sec),
      timeoutMs: seconds(override.probes?.timeout_sec),
      jitter: override.probes?.jitter,
      rise: override.probes?.rise,
      fall: override.probes?.fall,
      degradedLatencyMs: override.probes?.degraded_latency_ms,
      expectBody: override.probes?.expect_body,
      heartbeatTtlMs: seconds(override.probes?.heartbeat_ttl_sec),
      watch: override.probes?.watch,
      registryCheck: override.probes?.registry_check,
    },
    breaker: {
      kind: override.breaker?.kind,
      threshold: override.breaker?.threshold,
      halfOpenAfterMs: seconds(override.breaker?.half_open_after_sec),
      size: override.breaker?.size,
      minCalls: override.breaker?.min_calls,
      durationMs: seconds(override.breaker?.duration_sec),
    },
    priority: override.priority,
  }));
  checkBreakerThreshold(defaults.breaker, "healthd.breaker", file, lineOf);
  adapterOverrides.forEach((override, index) => {
    if (override.breaker?.kind !== undefined || override.breaker?.threshold !== undefined) {
      checkBreakerThreshold(
        {
          ...defaults.breaker,
          ...Object.fromEntries(
            Object.entries(override.breaker ?? {}).filter(([, v]) => v !== undefined),
          ),
        },
        `healthd.overrides[${index}].breaker`,
        file,
        lineOf,
      );
    }
  });
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
    http: {
      listen: address(overrides.httpListen ?? healthd.http.listen, "--http-listen"),
      maxBodyBytes: healthd.http.max_body_bytes,
      sseHeartbeatMs: healthd.http.sse_heartbeat_sec * 1000,
      maxEventStreams: healthd.http.max_event_streams,
      serveInWorker: healthd.http.serve_in_worker,
      tls: tlsFiles(healthd.http.tls),
    },
    grpc: {
      listen: address(overrides.grpcListen ?? healthd.grpc.listen, "--grpc-listen"),
      tls: tlsFiles(healthd.grpc.tls),
    },
    auth: {
      enabled: healthd.auth.enabled,
      tokens: healthd.auth.tokens.map((token) => ({
        name: token.name,
        token: token.token,
        scopes: token.scopes,
      })),
      jwt: healthd.auth.jwt && {
        hs256Secret: healthd.auth.jwt.hs256_secret,
        jwksFile: healthd.auth.jwt.jwks_file,
        issuer: healthd.auth.jwt.issuer,
        audience: healthd.auth.jwt.audience,
        scopeClaim: healthd.auth.jwt.scope_claim,
      },
      openPaths: { ...healthd.auth.open_paths },
    },
    limits: {
      requestsPerSec: healthd.limits.requests_per_sec,
      burst: healthd.limits.burst,
      maxConnections: healthd.limits.max_connections,
      slowClientTimeoutMs: healthd.limits.slow_client_timeout_sec * 1000,
    },
    storage: {
      path: overrides.dbPath ?? healthd.storage.path,
      synchronous: healthd.storage.synchronous,
    },
    fallback: {
      secondaries: healthd.registry.secondaries.map((value, index) =>
        address(value, `healthd.registry.secondaries[${index}]`),
      ),
      localFile: healthd.registry.local_file,
      breakerThreshold: healthd.registry.breaker.threshold,
      halfOpenAfterMs: healthd.registry.breaker.half_open_after_sec * 1000,
      maxHalfOpenAfterMs: healthd.registry.breaker.max_half_open_after_sec * 1000,
      maxConcurrentCalls: healthd.registry.max_concurrent_calls,
      maxQueuedCalls: healthd.registry.max_queued_calls,
      jwtTtlMs: healthd.registry.jwt_ttl_sec * 1000,
    },
    sync: { intervalMs: healthd.sync.interval_sec * 1000, cron: healthd.sync.cron },
    probes: {
      concurrency: healthd.probes.concurrency,
      stale: staleRule(healthd.probes.stale_after_sec, healthd.probes.interval_sec, [
        defaults.probes.timeoutMs,
        ...adapterOverrides.map((override) => override.probes?.timeoutMs ?? 0),
      ]),
      startupRatePerSec: healthd.probes.startup_rate_per_sec,
      startupMaxRatePerSec: healthd.probes.startup_max_rate_per_sec,
    },
    adapters: { defaults, overrides: adapterOverrides },
    flap: { transitions: healthd.flap.transitions, windowMs: healthd.flap.window_sec * 1000 },
    resolution: {
      panic: healthd.resolution.panic,
      requirements: healthd.resolution.requirements.map((requirement) => ({
        domain: requirement.domain,
        category: requirement.category,
        provider: requirement.provider,
        project: requirement.project,
      })),
    },
    maintenance: healthd.maintenance.map((window) => ({
      adapters: window.adapters,
      fromMs: window.from === undefined ? undefined : Date.parse(window.from),
      untilMs: window.until === undefined ? undefined : Date.parse(window.until),
      cron: window.cron,
      durationMs: window.duration_min === undefined ? undefined : window.duration_min * 60_000,
      reason: window.reason,
    })),
    journal: {
      maxAgeMs: healthd.journal.max_age_days * 86_400_000,
      maxEvents: healthd.journal.max_events,
      retentionCron: healthd.journal.retention_cron,
    },
    webhooks: healthd.webhooks.map((webhook) => ({
      name: webhook.name,
      url: webhook.url,
      secret: webhook.secret,
      types: webhook.types,
      timeoutMs: webhook.timeout_sec * 1000,
      maxAttempts: webhook.max_attempts,
      backoff: {
        initialMs: webhook.backoff.initial_sec * 1000,
        maxMs: webhook.backoff.max_sec * 1000,
      },
    })),
    log: { level: healthd.log.level },
    metrics: { maxCategoryLabels: healthd.metrics.max_category_labels },
  };
}

/**
 * How late a check may be before its verdict is stale: `stale_after_sec` when
 * set, else the longest check time any adapter is allowed and a second for its
 * commit. A verdict stored without its interval counts three intervals.
 */
function staleRule(
  staleAfterSec: number | undefined,
  intervalSec: number,
  timeoutsMs: readonly number[],
): StaleRule {
  const graceMs =
    staleAfterSec === undefined ? Math.max(...timeoutsMs) + STALE_SLACK_MS : staleAfterSec * 1000;
  return { graceMs, fallbackAfterMs: intervalSec * 3 * 1000 + graceMs };
}

const seconds = (value: number | undefined) => (value === undefined ? undefined : value * 1000);

function tlsFiles(
  tls: { cert_path: string; key_path: string; client_ca_path?: string | undefined } | undefined,
): TlsFiles | undefined {
  return (
    tls && { certPath: tls.cert_path, keyPath: tls.key_path, clientCaPath: tls.client_ca_path }
  );
}

/** Auth switched on must have some way to let a client in. */
function checkAuth(
  data: ConfigFile,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): void {
  const auth = data.healthd.auth;
  if (auth.enabled && auth.tokens.length === 0 && auth.jwt === undefined) {
    throw new ConfigError(
      file,
      "healthd.auth.enabled",
      "auth is enabled but no tokens or jwt are configured, so nothing could get in",
      lineOf(["healthd", "auth", "enabled"]),
    );
  }
}

/** A consecutive breaker counts failures; count and sampling breakers take a failure ratio. */
function checkBreakerThreshold(
  breaker: BreakerSettings,
  key: string,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): void {
  const path = key
    .split(/\.|\[|\]\.?/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  if (breaker.kind === "consecutive" && !Number.isInteger(breaker.threshold)) {
    throw new ConfigError(
      file,
      `${key}.threshold`,
      "a consecutive breaker's threshold is a whole number of failures",
      lineOf([...path, "threshold"]),
    );
  }
  if (breaker.kind !== "consecutive" && breaker.threshold > 1) {
    throw new ConfigError(
      file,
      `${key}.threshold`,
      `a ${breaker.kind} breaker's threshold is a failure ratio from 0 to 1, got ${breaker.threshold}`,
      lineOf([...path, "threshold"]),
    );
  }
}

/** The settings a config file with no keys at all gives. */
export function defaultConfig(overrides: ConfigOverrides = {}): DaemonConfig {
  return parseConfigText("{}", "(defaults)", {}, overrides);
}

const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

function typedScalar(text: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "true") return true;
  if (text === "false") return false;
  return text;
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
  enclosing: ReadonlySet<object> = new Set(),
): unknown {
  if (typeof value === "string") {
    const expanded = value.replace(
      ENV_REFERENCE,
      (_whole, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined) return found;
        if (fallback !== undefined) return fallback;
        return fail(formatPath(path), `environment variable ${name} is not set`, path);
      },
    );
    // A value that is one whole reference takes the type its text reads as, so
    // `grpc_port: ${PORT}` is a number and `use_tls: ${TLS}` a boolean.
    return WHOLE_REFERENCE.test(value) ? typedScalar(expanded) : expanded;
  }
  if (value === null && path.length === 1) {
    // A section whose keys are all commented out reads as null: treat it as empty.
    return {};
  }
  if (value === null || typeof value !== "object") return value;
  // A YAML alias inside its own anchor (`a: &x [*x]`) reads as a value that contains itself.
  if (enclosing.has(value)) {
    return fail(formatPath(path), "refers to itself (a YAML alias inside its own anchor)", path);
  }
  const inside = new Set(enclosing).add(value);
  if (Array.isArray(value)) {
    return value.map((item, index) => expandEnvironment(item, env, [...path, index], fail, inside));
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      expandEnvironment(item, env, [...path, key], fail, inside),
    ]),
  );
}
