import type { DaemonConfig } from "./load.js";

/** What a reload changed, by config-file key, split by whether it took effect. */
export interface ConfigChanges {
  /** Keys whose new value the running daemon applied. */
  applied: string[];
  /** Keys that changed in the file but keep their old value until a restart. */
  needsRestart: string[];
}

interface KeyRule {
  /** The key as the config file spells it. */
  key: string;
  /** Whether the daemon applies a change without a restart. */
  live: boolean;
}

/**
 * DaemonConfig paths (a path also covers everything under it) → the file key
 * they come from. Effective values are compared, so a default derived from
 * another key (edge_interval_sec from interval_sec, say) is listed when it
 * changes with it, and a key overridden on the command line never shows.
 */
export const KEY_RULES: Readonly<Record<string, KeyRule>> = {
  "registry.enabled": { key: "oneiric_mcp.enabled", live: false },
  "registry.host": { key: "oneiric_mcp.grpc_host", live: false },
  "registry.port": { key: "oneiric_mcp.grpc_port", live: false },
  "registry.useTls": { key: "oneiric_mcp.use_tls", live: false },
  "registry.timeoutMs": { key: "oneiric_mcp.timeout_sec", live: false },
  "registry.cacheTtlMs": { key: "oneiric_mcp.cache_ttl_sec", live: false },
  "registry.jwtEnabled": { key: "oneiric_mcp.jwt_enabled", live: false },
  "registry.jwtSecret": { key: "oneiric_mcp.jwt_secret", live: false },
  "registry.jwtProject": { key: "oneiric_mcp.jwt_project", live: false },
  "registry.tlsCertPath": { key: "oneiric_mcp.tls_cert_path", live: false },
  "registry.tlsKeyPath": { key: "oneiric_mcp.tls_key_path", live: false },
  "registry.tlsCaPath": { key: "oneiric_mcp.tls_ca_path", live: false },
  // Only defaults of the adapters' breakers (healthd.breaker.*), which apply live.
  "registry.breakerThreshold": { key: "oneiric_mcp.circuit_breaker_threshold", live: true },
  "registry.breakerDurationMs": { key: "oneiric_mcp.circuit_breaker_duration_sec", live: true },
  "fallback.secondaries": { key: "healthd.registry.secondaries", live: false },
  "fallback.localFile": { key: "healthd.registry.local_file", live: false },
  "fallback.breakerThreshold": { key: "healthd.registry.breaker.threshold", live: false },
  "fallback.halfOpenAfterMs": { key: "healthd.registry.breaker.half_open_after_sec", live: false },
  "fallback.maxHalfOpenAfterMs": {
    key: "healthd.registry.breaker.max_half_open_after_sec",
    live: false,
  },
  "fallback.maxConcurrentCalls": { key: "healthd.registry.max_concurrent_calls", live: false },
  "fallback.maxQueuedCalls": { key: "healthd.registry.max_queued_calls", live: false },
  "fallback.jwtTtlMs": { key: "healthd.registry.jwt_ttl_sec", live: false },
  "http.listen": { key: "healthd.http.listen", live: false },
  // Read once by the HTTP server when it is built.
  "http.maxBodyBytes": { key: "healthd.http.max_body_bytes", live: false },
  "http.sseHeartbeatMs": { key: "healthd.http.sse_heartbeat_sec", live: false },
  "http.maxEventStreams": { key: "healthd.http.max_event_streams", live: false },
  "http.serveInWorker": { key: "healthd.http.serve_in_worker", live: false },
  "http.tls": { key: "healthd.http.tls", live: false },
  "grpc.listen": { key: "healthd.grpc.listen", live: false },
  "grpc.tls": { key: "healthd.grpc.tls", live: false },
  // The servers are built with their credentials, checkers and limiters at start-up.
  "auth.enabled": { key: "healthd.auth.enabled", live: false },
  "auth.tokens": { key: "healthd.auth.tokens", live: false },
  "auth.jwt": { key: "healthd.auth.jwt", live: false },
  "auth.openPaths": { key: "healthd.auth.open_paths", live: false },
  "limits.requestsPerSec": { key: "healthd.limits.requests_per_sec", live: false },
  "limits.burst": { key: "healthd.limits.burst", live: false },
  "limits.maxConnections": { key: "healthd.limits.max_connections", live: false },
  "limits.slowClientTimeoutMs": { key: "healthd.limits.slow_client_timeout_sec", live: false },
  "storage.path": { key: "healthd.storage.path", live: false },
  "storage.synchronous": { key: "healthd.storage.synchronous", live: false },
  "sync.intervalMs": { key: "healthd.sync.interval_sec", live: true },
  "sync.cron": { key: "healthd.sync.cron", live: true },
  "adapters.defaults.probes.intervalMs": { key: "healthd.probes.interval_sec", live: true },
  "adapters.defaults.probes.edgeIntervalMs": {
    key: "healthd.probes.edge_interval_sec",
    live: true,
  },
  "adapters.defaults.probes.openIntervalMs": {
    key: "healthd.probes.open_interval_sec",
    live: true,
  },
  "adapters.defaults.probes.timeoutMs": { key: "healthd.probes.timeout_sec", live: true },
  "adapters.defaults.probes.jitter": { key: "healthd.probes.jitter", live: true },
  "adapters.defaults.probes.rise": { key: "healthd.probes.rise", live: true },
  "adapters.defaults.probes.fall": { key: "healthd.probes.fall", live: true },
  "adapters.defaults.probes.degradedLatencyMs": {
    key: "healthd.probes.degraded_latency_ms",
    live: true,
  },
  "adapters.defaults.probes.expectBody": { key: "healthd.probes.expect_body", live: true },
  "adapters.defaults.probes.heartbeatTtlMs": {
    key: "healthd.probes.heartbeat_ttl_sec",
    live: true,
  },
  "adapters.defaults.probes.watch": { key: "healthd.probes.watch", live: true },
  "adapters.defaults.probes.watchedIntervalMs": {
    key: "healthd.probes.watched_interval_sec",
    live: true,
  },
  "adapters.defaults.probes.registryCheck": { key: "healthd.probes.registry_check", live: true },
  "probes.concurrency": { key: "healthd.probes.concurrency", live: true },
  "probes.stale.graceMs": { key: "healthd.probes.stale_after_sec", live: true },
  "probes.stale.fallbackAfterMs": { key: "healthd.probes.interval_sec", live: true },
  "probes.startupRatePerSec": { key: "healthd.probes.startup_rate_per_sec", live: true },
  "probes.startupMaxRatePerSec": { key: "healthd.probes.startup_max_rate_per_sec", live: true },
  "adapters.defaults.breaker.kind": { key: "healthd.breaker.kind", live: true },
  "adapters.defaults.breaker.threshold": { key: "healthd.breaker.threshold", live: true },
  "adapters.defaults.breaker.halfOpenAfterMs": {
    key: "healthd.breaker.half_open_after_sec",
    live: true,
  },
  "adapters.defaults.breaker.size": { key: "healthd.breaker.size", live: true },
  "adapters.defaults.breaker.minCalls": { key: "healthd.breaker.min_calls", live: true },
  "adapters.defaults.breaker.durationMs": { key: "healthd.breaker.duration_sec", live: true },
  // A constant today; priorities are set through overrides.
  "adapters.defaults.priority": { key: "healthd.overrides", live: true },
  "adapters.overrides": { key: "healthd.overrides", live: true },
  "flap.transitions": { key: "healthd.flap.transitions", live: true },
  "flap.windowMs": { key: "healthd.flap.window_sec", live: true },
  "resolution.panic": { key: "healthd.resolution.panic", live: true },
  "resolution.requirements": { key: "healthd.resolution.requirements", live: true },
  maintenance: { key: "healthd.maintenance", live: true },
  "history.minuteBucketsKeptMs": {
    key: "healthd.history.minute_buckets_kept_hours",
    live: true,
  },
  "history.hourBucketsKeptMs": { key: "healthd.history.hour_buckets_kept_days", live: true },
  "journal.maxAgeMs": { key: "healthd.journal.max_age_days", live: true },
  "journal.maxEvents": { key: "healthd.journal.max_events", live: true },
  "journal.retentionCron": { key: "healthd.journal.retention_cron", live: true },
  // Subscribers own delivery loops and persisted cursors: rebuilt only at start.
  webhooks: { key: "healthd.webhooks", live: false },
  // Bounds the label sets the metrics are registered with at start-up.
  "metrics.maxCategoryLabels": { key: "healthd.metrics.max_category_labels", live: false },
  "log.level": { key: "healthd.log.level", live: true },
  // Membership, leases, the stream and the fleet view are set up once, at start-up;
  // a section added or removed as a whole is named as the section.
  cluster: { key: "healthd.cluster", live: false },
  "cluster.name": { key: "healthd.cluster.name", live: false },
  "cluster.instance": { key: "healthd.cluster.instance", live: false },
  "cluster.mode": { key: "healthd.cluster.mode", live: false },
  "cluster.shard": { key: "healthd.cluster.shard", live: false },
  "cluster.leaseTtlMs": { key: "healthd.cluster.lease_ttl_sec", live: false },
  "cluster.nats": { key: "healthd.cluster.nats", live: false },
  "cluster.nats.servers": { key: "healthd.cluster.nats.servers", live: false },
  "cluster.nats.tls": { key: "healthd.cluster.nats.tls", live: false },
  "cluster.nats.tls.caPath": { key: "healthd.cluster.nats.tls.ca_path", live: false },
  "cluster.nats.tls.certPath": { key: "healthd.cluster.nats.tls.cert_path", live: false },
  "cluster.nats.tls.keyPath": { key: "healthd.cluster.nats.tls.key_path", live: false },
  "cluster.nats.credentialsPath": { key: "healthd.cluster.nats.credentials", live: false },
};

/** Keys in the order the reference lists them, so a summary reads like the file. */
const FILE_ORDER = new Map(
  [...new Set(Object.values(KEY_RULES).map((rule) => rule.key))].map((key, index) => [key, index]),
);

function inFileOrder(keys: Set<string>): string[] {
  const rank = (key: string) => FILE_ORDER.get(key) ?? Number.MAX_SAFE_INTEGER;
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Where the config was read from is not a setting. */
const IGNORED = new Set(["source"]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Leaf paths (arrays count as leaves) whose values differ. */
function changedPaths(before: unknown, after: unknown, path: string, out: string[]): void {
  if (IGNORED.has(path)) return;
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) {
      changedPaths(before[key], after[key], path === "" ? key : `${path}.${key}`, out);
    }
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out.push(path);
}

/** The rule of a DaemonConfig path: its own, or the nearest enclosing path's. */
export function ruleFor(path: string): KeyRule | undefined {
  for (let prefix = path; prefix !== ""; ) {
    const rule = KEY_RULES[prefix];
    if (rule) return rule;
    const dot = prefix.lastIndexOf(".");
    prefix = dot === -1 ? "" : prefix.slice(0, dot);
  }
  return undefined;
}

/**
 * The config-file keys whose effective values differ between the running and
 * the new config, split into those a reload applies and those that need a
 * restart. A setting without a rule (one added later and not classified here)
 * is reported as needing a restart, which is never wrong.
 */
export function diffConfigs(running: DaemonConfig, next: DaemonConfig): ConfigChanges {
  const paths: string[] = [];
  changedPaths(running, next, "", paths);
  const applied = new Set<string>();
  const needsRestart = new Set<string>();
  for (const path of paths) {
    const rule = ruleFor(path);
    if (!rule) needsRestart.add(path);
    else (rule.live ? applied : needsRestart).add(rule.key);
  }
  return { applied: inFileOrder(applied), needsRestart: inFileOrder(needsRestart) };
}

/**
 * The configuration in effect after a reload: `next` where it applies live,
 * `running` where a change needs a restart. Kept as the daemon's running config,
 * so the next reload still names a change that waits for a restart.
 */
export function appliedConfig(running: DaemonConfig, next: DaemonConfig): DaemonConfig {
  return merge(running, next, "") as DaemonConfig;
}

function merge(running: unknown, next: unknown, path: string): unknown {
  const rule = path === "" || IGNORED.has(path) ? undefined : ruleFor(path);
  if (rule) return rule.live ? next : running;
  if (isPlainObject(running) && isPlainObject(next)) {
    const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
    return Object.fromEntries(
      [...keys].map((key) => [
        key,
        merge(running[key], next[key], path === "" ? key : `${path}.${key}`),
      ]),
    );
  }
  // A setting without a rule keeps its running value, as diffConfigs reports it.
  return IGNORED.has(path) ? next : running;
}
