import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { type Document, LineCounter, parseDocument } from "yaml";
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
import { ConfigError, type ProblemInFile } from "./errors.js";
import { type ConfigFile, configFileSchema, MAX_TIMER_SEC } from "./schema.js";
import { describeIssues, formatPath, lineOfPath, pathAt, valueWordingFor } from "./yaml-issues.js";
import {
  documentShapeProblems,
  MAX_ALIAS_COUNT,
  MAX_CONFIG_BYTES,
  MAX_NESTING_DEPTH,
  textProblem,
  tooBig,
} from "./yaml-limits.js";

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
  /** How long minute and hour history buckets are kept. */
  history: { minuteBucketsKeptMs: number; hourBucketsKeptMs: number };
  /** Webhook subscribers, in file order (names are unique). */
  webhooks: WebhookConfig[];
  log: { level: string };
  /** Bounds on metric label values. */
  metrics: { maxCategoryLabels: number };
  /** Scale-out over NATS JetStream; undefined: the daemon runs alone and needs no NATS. */
  cluster: ClusterConfig | undefined;
}

/** `healthd.cluster`: how this instance shares the fleet with the others of its name. */
export interface ClusterConfig {
  name: string;
  /** This member's id; undefined: the one the daemon made at first start and keeps in its database. */
  instance: string | undefined;
  /** `dynamic`: rendezvous over the live members (leases in NATS KV); `static`: hashmod by `shard`. */
  mode: "dynamic" | "static";
  /** Static mode only. */
  shard: { index: number; count: number } | undefined;
  leaseTtlMs: number;
  /** Absent only in static mode without NATS. */
  nats: NatsConfig | undefined;
}

/** How to reach the NATS servers. The credentials file holds a secret: log its path, never its text. */
export interface NatsConfig {
  /** As written: `nats://HOST:PORT`, `tls://HOST:PORT` or `HOST:PORT`. */
  servers: string[];
  /** Set (even with every path undefined): TLS is required, verified against the system roots unless `caPath`. */
  tls:
    | { caPath: string | undefined; certPath: string | undefined; keyPath: string | undefined }
    | undefined;
  credentialsPath: string | undefined;
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
  openPaths: { healthz: boolean; metrics: boolean; reflection: boolean; badges: boolean };
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
  return parseConfigText(readConfigText(file), file, env, overrides, true);
}

/** The file's text: at most MAX_CONFIG_BYTES of UTF-8 (a pipe or /dev/zero is read no further). */
function readConfigText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readAtMost(file, MAX_CONFIG_BYTES + 1);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, "", code === "ENOENT" ? "file not found" : `cannot read (${code})`);
  }
  if (bytes.length > MAX_CONFIG_BYTES) throw ConfigError.inFile(file, [tooBig()]);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Decoded loosely, the first bad byte is the first U+FFFD (a real one would have decoded).
    const lossy = bytes.toString("utf8");
    const line = lossy.slice(0, lossy.indexOf("\uFFFD")).split("\n").length;
    throw new ConfigError(file, "", "not a text file: not valid UTF-8", line);
  }
}

function readAtMost(file: string, limit: number): Buffer {
  const descriptor = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(limit);
    let filled = 0;
    while (filled < limit) {
      const read = readSync(descriptor, buffer, filled, limit - filled, null);
      if (read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(descriptor);
  }
}

/** yaml's parse errors and unsupported tags, each with its line and (where one is found) key. */
function yamlProblems(doc: Document, text: string, lines: LineCounter): ProblemInFile[] {
  const unsupportedTags = doc.warnings.filter((warning) => warning.code === "TAG_RESOLVE_FAILED");
  return [...doc.errors, ...unsupportedTags].map((error) => {
    const offset = error.pos[0];
    const line = lines.linePos(offset).line;
    const key = formatPath(pathAt(doc.contents, offset, MAX_NESTING_DEPTH));
    switch (error.code) {
      case "DUPLICATE_KEY":
        return { key, problem: "given more than once (YAML map keys must be unique)", line };
      case "MULTIPLE_DOCS":
        return { key: "", problem: "more than one YAML document (a --- line inside)", line };
      case "TAG_RESOLVE_FAILED":
        return {
          key,
          problem: `tag ${text.slice(offset, error.pos[1]).trim()} is not supported (plain YAML values only)`,
          line,
        };
      default: {
        const message = error.message.split("\n")[0] ?? "";
        // yaml's composer catches its own stack overflow and reports it as a parse error.
        return /call stack/i.test(message)
          ? { key: "", problem: `nested more than ${MAX_NESTING_DEPTH} levels deep`, line }
          : { key: "", problem: `not valid YAML: ${message}`, line };
      }
    }
  });
}

/**
 * Parses config text; `file` names the source in error messages. Throws one
 * ConfigError listing every problem found at the first stage that has any: the
 * text, the YAML, environment variables and the schema, then the rules between
 * keys (and, with `checkFiles`, the files the config names).
 */
export function parseConfigText(
  text: string,
  file: string,
  env: Environment,
  overrides: ConfigOverrides = {},
  checkFiles = false,
): DaemonConfig {
  // Annotated, so that the compiler knows nothing runs after a call.
  const fail: (problems: readonly ProblemInFile[]) => never = (problems) => {
    throw ConfigError.inFile(file, problems);
  };
  const textIssue = textProblem(text);
  if (textIssue) fail([textIssue]);
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    // !!binary, !!set, !!timestamp and the like would give values the schema cannot name.
    resolveKnownTags: false,
  });
  const parseProblems = yamlProblems(doc, text, lines);
  if (parseProblems.length > 0) fail(parseProblems);
  const shapeProblems = documentShapeProblems(doc, lines);
  if (shapeProblems.length > 0) fail(shapeProblems);
  const lineOf = (path: readonly PropertyKey[]) => lineOfPath(doc.contents, path, lines);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    // documentShapeProblems checks what toJS refuses; this is the backstop.
    fail([{ key: "", problem: `not valid YAML: ${(error as Error).message}` }]);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    fail([
      {
        key: "",
        problem: "expected a mapping with oneiric_mcp: and healthd: sections",
        line: lineOf([]) ?? 1,
      },
    ]);
  }
  const variableProblems: ProblemInFile[] = [];
  const expanded = expandEnvironment(raw, env, [], (key, problem, path) => {
    variableProblems.push({ key, problem, line: lineOf(path) });
  });
  const parsed = configFileSchema.safeParse(expanded, {
    error: valueWordingFor(configFileSchema),
  });
  // A value whose variable is unset is reported for that; what the schema says of it is noise.
  const schemaProblems = parsed.success
    ? []
    : parsed.error.issues
        .flatMap((issue) => describeIssues(issue, configFileSchema))
        .filter(({ key }) => !variableProblems.some((unset) => isWithin(key, unset.key)))
        // One problem per key: a huge port breaks both "whole number" and "at most 65535".
        .filter(({ key }, index, all) => all.findIndex((other) => other.key === key) === index)
        .map(({ key, problem, path }) => ({ key, problem, line: lineOf(path) }));
  if (variableProblems.length > 0 || schemaProblems.length > 0) {
    fail([...variableProblems, ...schemaProblems]);
  }
  return resolveConfig((parsed as { data: ConfigFile }).data, file, overrides, lineOf, checkFiles);
}

/** Notes a problem with `key`, found at `path` in the document. */
type Report = (key: string, problem: string, path: readonly PropertyKey[]) => void;

/** `key` is `section` or a key inside it. */
const isWithin = (key: string, section: string) =>
  key === section || key.startsWith(`${section}.`) || key.startsWith(`${section}[`);

/** Files the config names must exist where the daemon will run; checked when loading a real file. */
function verifyReferencedFiles(data: ConfigFile, report: Report): void {
  const mcp = data.oneiric_mcp;
  for (const key of ["tls_ca_path", "tls_cert_path", "tls_key_path"] as const) {
    const path = mcp[key];
    if (path !== undefined && !existsSync(path)) {
      report(`oneiric_mcp.${key}`, `file ${path} does not exist`, ["oneiric_mcp", key]);
    }
  }
  const localFile = data.healthd.registry.local_file;
  if (localFile !== undefined && !existsSync(localFile)) {
    report("healthd.registry.local_file", `file ${localFile} does not exist`, [
      "healthd",
      "registry",
      "local_file",
    ]);
  }
  for (const server of ["http", "grpc"] as const) {
    const tls = data.healthd[server].tls;
    for (const key of ["cert_path", "key_path", "client_ca_path"] as const) {
      const path = tls?.[key];
      if (path !== undefined && !existsSync(path)) {
        report(`healthd.${server}.tls.${key}`, `file ${path} does not exist`, [
          "healthd",
          server,
          "tls",
          key,
        ]);
      }
    }
  }
  const nats = data.healthd.cluster?.nats;
  const natsFiles = [
    ["tls", "ca_path", nats?.tls?.ca_path],
    ["tls", "cert_path", nats?.tls?.cert_path],
    ["tls", "key_path", nats?.tls?.key_path],
    ["credentials", undefined, nats?.credentials],
  ] as const;
  for (const [section, key, path] of natsFiles) {
    const problem = path === undefined ? undefined : unreadableFileProblem(path);
    if (problem === undefined) continue;
    const keyPath = ["healthd", "cluster", "nats", section, ...(key === undefined ? [] : [key])];
    report(keyPath.join("."), problem, keyPath);
  }
  const jwksFile = data.healthd.auth.jwt?.jwks_file;
  if (jwksFile !== undefined) {
    const problem = jwksFileProblem(jwksFile);
    if (problem !== undefined) {
      report("healthd.auth.jwt.jwks_file", problem, ["healthd", "auth", "jwt", "jwks_file"]);
    }
  }
}

/**
 * Why a file the daemon reads at start-up cannot be read, or undefined. Asked
 * of the file system, not read: a FIFO would block the loader.
 */
function unreadableFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `${path} is not a regular file`;
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `file ${path} does not exist` : `cannot read ${path} (${code})`;
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
  const problems: ProblemInFile[] = [];
  const report: Report = (key, problem, path) => {
    problems.push({ key, problem, line: lineOf(path) });
  };
  const address = (value: string, key: string): HostPort => {
    const parsed = parseHostPort(value);
    if (typeof parsed === "string") throw new ConfigError(file, key, parsed);
    return parsed;
  };
  if (mcp.jwt_enabled && !mcp.jwt_secret) {
    report("oneiric_mcp.jwt_secret", "required when jwt_enabled is true", [
      "oneiric_mcp",
      mcp.jwt_secret === undefined ? "jwt_enabled" : "jwt_secret",
    ]);
  }
  if ((mcp.tls_cert_path === undefined) !== (mcp.tls_key_path === undefined)) {
    report(
      mcp.tls_cert_path === undefined ? "oneiric_mcp.tls_cert_path" : "oneiric_mcp.tls_key_path",
      "tls_cert_path and tls_key_path must be given together",
      ["oneiric_mcp", mcp.tls_cert_path === undefined ? "tls_key_path" : "tls_cert_path"],
    );
  }
  checkAuth(data, report);
  checkCluster(data, report);
  if (checkFiles) verifyReferencedFiles(data, report);
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
  checkBreakerThreshold(defaults.breaker, "healthd.breaker", report);
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
        report,
      );
    }
  });
  if (problems.length > 0) throw ConfigError.inFile(file, problems);
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
    history: {
      minuteBucketsKeptMs: healthd.history.minute_buckets_kept_hours * 3_600_000,
      hourBucketsKeptMs: healthd.history.hour_buckets_kept_days * 86_400_000,
    },
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
    cluster: clusterConfig(healthd.cluster),
  };
}

function clusterConfig(cluster: ConfigFile["healthd"]["cluster"]): ClusterConfig | undefined {
  if (cluster === undefined) return undefined;
  const [index, count] = (cluster.shard ?? "").trim().split("/").map(Number);
  const nats = cluster.nats;
  return {
    name: cluster.name,
    instance: cluster.instance,
    mode: cluster.mode,
    shard:
      cluster.shard === undefined ? undefined : { index: index as number, count: count as number },
    leaseTtlMs: cluster.lease_ttl_sec * 1000,
    nats: nats && {
      servers: [...nats.servers],
      tls: nats.tls && {
        caPath: nats.tls.ca_path,
        certPath: nats.tls.cert_path,
        keyPath: nats.tls.key_path,
      },
      credentialsPath: nats.credentials,
    },
  };
}

/**
 * Static mode needs its shard and dynamic mode must not have one; dynamic mode
 * finds the other members through NATS, so it needs the servers; a client
 * certificate needs its key.
 */
function checkCluster(data: ConfigFile, report: Report): void {
  const cluster = data.healthd.cluster;
  if (cluster === undefined) return;
  const at = (...keys: string[]) => ["healthd", "cluster", ...keys];
  if (cluster.mode === "static" && cluster.shard === undefined) {
    report("healthd.cluster.shard", 'required when mode is static (e.g. shard: "0/3")', at("mode"));
  }
  if (cluster.mode === "dynamic" && cluster.shard !== undefined) {
    report(
      "healthd.cluster.shard",
      "only for mode: static (dynamic mode shares the adapters among the live members)",
      at("shard"),
    );
  }
  if (cluster.mode === "dynamic" && cluster.nats === undefined) {
    report(
      "healthd.cluster.nats.servers",
      "required in dynamic mode (the members find each other through NATS)",
      at("nats", "servers"),
    );
  }
  const tls = cluster.nats?.tls;
  if (tls !== undefined && (tls.cert_path === undefined) !== (tls.key_path === undefined)) {
    const missing = tls.cert_path === undefined ? "cert_path" : "key_path";
    report(
      `healthd.cluster.nats.tls.${missing}`,
      "cert_path and key_path must be given together",
      at("nats", "tls", missing === "cert_path" ? "key_path" : "cert_path"),
    );
  }
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
function checkAuth(data: ConfigFile, report: Report): void {
  const auth = data.healthd.auth;
  if (auth.enabled && auth.tokens.length === 0 && auth.jwt === undefined) {
    report(
      "healthd.auth.enabled",
      "auth is enabled but no tokens or jwt are configured, so nothing could get in",
      ["healthd", "auth", "enabled"],
    );
  }
}

/** A consecutive breaker counts failures; count and sampling breakers take a failure ratio. */
function checkBreakerThreshold(breaker: BreakerSettings, key: string, report: Report): void {
  const path = key
    .split(/\.|\[|\]\.?/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  if (breaker.kind === "consecutive" && !Number.isInteger(breaker.threshold)) {
    report(`${key}.threshold`, "a consecutive breaker's threshold is a whole number of failures", [
      ...path,
      "threshold",
    ]);
  }
  if (breaker.kind !== "consecutive" && breaker.threshold > 1) {
    report(
      `${key}.threshold`,
      `a ${breaker.kind} breaker's threshold is a failure ratio from 0 to 1, got ${breaker.threshold}`,
      [...path, "threshold"],
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
 * variable without a default is reported, naming the variable and the key, and
 * its reference is left as written.
 */
export function expandEnvironment(
  value: unknown,
  env: Environment,
  path: readonly PropertyKey[],
  report: (key: string, problem: string, path: readonly PropertyKey[]) => void,
  enclosing: ReadonlySet<object> = new Set(),
): unknown {
  if (typeof value === "string") {
    const expanded = value.replace(
      ENV_REFERENCE,
      (whole: string, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined) return found;
        if (fallback !== undefined) return fallback;
        report(formatPath(path), `environment variable ${name} is not set`, path);
        return whole;
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
  // The document's alias check finds it first, with its line; this keeps the walk finite regardless.
  if (enclosing.has(value)) {
    report(formatPath(path), "refers to itself (a YAML alias inside its own anchor)", path);
    return undefined;
  }
  const inside = new Set(enclosing).add(value);
  if (Array.isArray(value)) {
    return value.map((item, index) =>
      expandEnvironment(item, env, [...path, index], report, inside),
    );
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      expandEnvironment(item, env, [...path, key], report, inside),
    ]),
  );
}
