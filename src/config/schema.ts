import { validate as isCronExpression } from "node-cron";
import { z } from "zod";
import { parseHostPort } from "../domain/host-port.js";

const listenAddress = z.string().refine((value) => typeof parseHostPort(value) !== "string", {
  error: (issue) => {
    const parsed = parseHostPort(String(issue.input));
    return typeof parsed === "string" ? parsed : "invalid address";
  },
});
const connectAddress = z.string().refine((value) => {
  const parsed = parseHostPort(value);
  return typeof parsed !== "string" && parsed.port > 0;
}, "expected HOST:PORT with a port from 1 to 65535");
const cronExpression = z
  .string()
  .refine(isCronExpression, 'not a valid cron expression (e.g. "*/30 * * * * *")');
const count = z.number().int().min(1).max(100);
const breakerKind = z.enum(["consecutive", "count", "sampling"]);
const positiveSeconds = z.number().positive();
/** The longest a Node.js timer waits (2^31 - 1 ms, 24.8 days): a longer delay would fire at once. */
export const MAX_TIMER_SEC = 2_147_483;
/** A wait the daemon sets a timer for. */
const timerSeconds = positiveSeconds.max(
  MAX_TIMER_SEC,
  `at most ${MAX_TIMER_SEC} (24.8 days, the longest a timer can wait)`,
);
const port = z.number().int().min(1).max(65535);
/**
 * A secret (a token, a signing key): JSON Schema's `writeOnly`, so that a
 * problem with it describes what was given (`a number`, `a string of 12
 * characters`) and never quotes it.
 */
const secret = <T extends z.ZodType>(schema: T): T => schema.meta({ writeOnly: true });

/** An event type glob: `*` and `?` over the type after `io.oneiric.healthd.` (or the full type). */
const eventTypeGlob = z
  .string()
  .regex(/^[a-z0-9_.*?]+$/, 'an event type glob like "adapter.*" or "failover"');

/** One webhook subscriber; the secret signs every delivery and is never logged. */
const webhookSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9_-]+$/, "lower-case letters, digits, _ and - only")
    .max(64),
  // Not z.httpUrl(): it wants a domain name, and receivers are often IPs or localhost.
  url: z.url({ protocol: /^https?$/, error: "an http:// or https:// URL" }),
  // 16+ characters: a short HMAC key is guessable offline from one signed delivery.
  secret: secret(
    z.string().min(16, "at least 16 characters (use 32 random bytes, e.g. from ${ENV})"),
  ),
  types: z.array(eventTypeGlob).min(1).max(100).optional(),
  timeout_sec: positiveSeconds.max(300).default(5),
  max_attempts: z.number().int().min(1).max(1000).default(10),
  backoff: z
    .strictObject({
      initial_sec: timerSeconds.default(1),
      max_sec: timerSeconds.default(300),
    })
    .prefault({})
    .refine((backoff) => backoff.max_sec >= backoff.initial_sec, {
      error: "max_sec must not be less than initial_sec",
      path: ["max_sec"],
    }),
});

/** A server certificate and key; with `client_ca_path`, clients must present a certificate it signed. */
const tlsFiles = z.strictObject({
  cert_path: z.string().min(1),
  key_path: z.string().min(1),
  client_ca_path: z.string().min(1).optional(),
});

/** A cluster or member name: it becomes part of NATS subjects, stream and KV bucket names. */
const CLUSTER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const clusterId = z.string().regex(CLUSTER_ID, {
  error: (issue) =>
    `must be 1 to 64 letters, digits, _ or - (it becomes part of NATS names); got ${JSON.stringify(issue.input)}`,
});

/** The most shards a static cluster splits into (Prometheus hashmod's modulus). */
const MAX_SHARDS = 1024;
/** `i/n`: this instance keeps the adapters whose hash modulo n is i. */
const shardText = z.string().superRefine((text, context) => {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || !(index < count)) {
    context.addIssue({
      code: "custom",
      message: `must be "i/n" with 0 <= i < n; got ${JSON.stringify(text)}`,
    });
  } else if (count > MAX_SHARDS) {
    context.addIssue({
      code: "custom",
      message: `must be "i/n" with n at most ${MAX_SHARDS}; got ${JSON.stringify(text)}`,
    });
  }
});

/** What the NATS client accepts for a server: `nats://HOST:PORT`, `tls://HOST:PORT` or `HOST:PORT`. */
const natsServer = z.string().refine(
  (text) => {
    const parsed = parseHostPort(text.replace(/^(?:nats|tls):\/\//, ""));
    // As written: the client is handed the text itself, spaces and all.
    return text === text.trim() && typeof parsed !== "string" && parsed.port > 0;
  },
  {
    error: (issue) =>
      `expected nats://HOST:PORT, tls://HOST:PORT or HOST:PORT with a port from 1 to 65535; got ${JSON.stringify(issue.input)}`,
  },
);

/**
 * `healthd.cluster`: instances with one name split the adapters between them
 * and share one event stream and fleet view over NATS JetStream. Rules between
 * the keys (mode and shard, mode and nats) are checked by the loader.
 */
const clusterSchema = z.strictObject({
  name: clusterId,
  /** This member's id; when absent the daemon makes one at first start and keeps it. */
  instance: clusterId.optional(),
  mode: z.enum(["dynamic", "static"]).default("dynamic"),
  shard: shardText.optional(),
  // The lease is renewed every third of it; 3 s leaves a second between renewals.
  lease_ttl_sec: z.number().int().min(3).max(300).default(10),
  nats: z
    .strictObject({
      servers: z.array(natsServer).min(1).max(64),
      /** Client TLS to the NATS servers: a CA for theirs, and a certificate of our own for mTLS. */
      tls: z
        .strictObject({
          ca_path: z.string().min(1).optional(),
          cert_path: z.string().min(1).optional(),
          key_path: z.string().min(1).optional(),
        })
        .optional(),
      /** A NATS `.creds` file (a user JWT and its NKey seed). */
      credentials: z.string().min(1).optional(),
    })
    .optional(),
});

/** RFC 6750 `b64token` characters, so a token always fits an `Authorization: Bearer` header. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** One static bearer token; the token itself is a secret and is never logged or echoed. */
const authTokenSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9_-]+$/, "lower-case letters, digits, _ and - only")
    .max(64),
  // 16+ characters: shorter tokens are guessable by a client allowed 50 attempts a second.
  token: secret(
    z
      .string()
      .min(16, "at least 16 characters (use 32 random bytes, e.g. from ${ENV})")
      .max(4096)
      .regex(BEARER_TOKEN, "letters, digits and - . _ ~ + / only (base64, base64url or hex)"),
  ),
  scopes: z
    .array(z.enum(["read", "admin"]))
    .min(1)
    .max(2),
});

/** Who may use the daemon's own HTTP, gRPC and MCP surfaces; off by default (loopback only). */
const authSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    tokens: z
      .array(authTokenSchema)
      .max(1000)
      .default([])
      .superRefine((tokens, context) => {
        const names = new Map<string, number>();
        const values = new Map<string, number>();
        tokens.forEach((token, index) => {
          if (names.has(token.name)) {
            context.addIssue({
              code: "custom",
              message: `duplicate token name "${token.name}"`,
              path: [index, "name"],
            });
          }
          const same = values.get(token.token);
          if (same !== undefined) {
            // Names the other entry, never the value: the message is printed.
            context.addIssue({
              code: "custom",
              message: `the same token as tokens[${same}] ("${tokens[same]?.name}")`,
              path: [index, "token"],
            });
          }
          names.set(token.name, index);
          values.set(token.token, index);
        });
      }),
    jwt: z
      .strictObject({
        // 32+ characters: an HS256 key shorter than the hash output weakens it (RFC 7518 3.2).
        hs256_secret: secret(
          z.string().min(32, "at least 32 characters (256 bits), e.g. from ${ENV}"),
        ).optional(),
        /** A JSON Web Key Set file with the RS256/ES256 public keys tokens are signed with. */
        jwks_file: z.string().min(1).optional(),
        issuer: z.string().min(1).optional(),
        audience: z.string().min(1).optional(),
        scope_claim: z.string().min(1).default("scope"),
      })
      .refine(
        (jwt) => jwt.hs256_secret !== undefined || jwt.jwks_file !== undefined,
        "give hs256_secret, jwks_file or both",
      )
      .optional(),
    open_paths: z
      .strictObject({
        healthz: z.boolean().default(true),
        metrics: z.boolean().default(true),
        reflection: z.boolean().default(true),
        // Off: badges show adapters' health, which the other read routes keep behind a token.
        badges: z.boolean().default(false),
      })
      .prefault({}),
  })
  .prefault({});

/**
 * The `oneiric_mcp:` section exactly as Mahavishnu settings files write it, so a
 * user can copy it across. Keys are the contract page's.
 */
export const oneiricSectionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  grpc_host: z.string().min(1).default("localhost"),
  grpc_port: port.default(8679),
  use_tls: z.boolean().default(false),
  timeout_sec: timerSeconds.default(30),
  cache_ttl_sec: z.number().min(0).default(300),
  jwt_enabled: z.boolean().default(false),
  jwt_secret: secret(z.string()).optional(),
  jwt_project: z.string().optional(),
  tls_cert_path: z.string().optional(),
  tls_key_path: z.string().optional(),
  tls_ca_path: z.string().optional(),
  circuit_breaker_threshold: z.number().int().min(1).default(3),
  circuit_breaker_duration_sec: timerSeconds.default(300),
});

/** The daemon's own settings. */
export const healthdSectionSchema = z.strictObject({
  http: z
    .strictObject({
      listen: listenAddress.default("127.0.0.1:8681"),
      max_body_bytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(64 * 1024),
      sse_heartbeat_sec: timerSeconds.default(15),
      max_event_streams: z.number().int().min(1).max(100_000).default(5_000),
      serve_in_worker: z.boolean().default(true),
      tls: tlsFiles.optional(),
    })
    .prefault({}),
  grpc: z
    .strictObject({ listen: listenAddress.default("127.0.0.1:8682"), tls: tlsFiles.optional() })
    .prefault({}),
  auth: authSchema,
  limits: z
    .strictObject({
      /** Sustained requests per second per client; 0 turns rate limiting off. */
      requests_per_sec: z.number().min(0).max(1_000_000).default(50),
      burst: z.number().int().min(1).max(1_000_000).default(100),
      max_connections: z.number().int().min(1).max(1_000_000).default(1_000),
      slow_client_timeout_sec: positiveSeconds.max(3_600).default(10),
    })
    .prefault({}),
  storage: z
    .strictObject({
      path: z.string().min(1).default("oneiric-healthd.db"),
      synchronous: z.enum(["normal", "full"]).default("normal"),
    })
    .prefault({}),
  registry: z
    .strictObject({
      /** Registries asked, in order, when the primary (oneiric_mcp) fails; same TLS and JWT settings. */
      secondaries: z.array(connectAddress).max(16).default([]),
      /** A local registry file (YAML or JSON entries): the last link of the fallback chain. */
      local_file: z.string().min(1).optional(),
      breaker: z
        .strictObject({
          threshold: z.number().int().min(1).max(1000).default(3),
          half_open_after_sec: timerSeconds.default(1),
          max_half_open_after_sec: timerSeconds.default(60),
        })
        .prefault({}),
      /** Calls in flight per registry endpoint, and calls allowed to wait for a slot. */
      max_concurrent_calls: z.number().int().min(1).max(10_000).default(64),
      max_queued_calls: z.number().int().min(0).max(100_000).default(256),
      jwt_ttl_sec: z.number().int().min(10).max(86_400).default(300),
    })
    .prefault({}),
  sync: z
    .strictObject({
      interval_sec: timerSeconds.default(60),
      /** A cron expression (node-cron, with optional seconds field); replaces interval_sec when set. */
      cron: z
        .string()
        .refine(isCronExpression, 'not a valid cron expression (e.g. "*/30 * * * * *")')
        .optional(),
    })
    .prefault({}),
  probes: z
    .strictObject({
      interval_sec: timerSeconds.default(15),
      edge_interval_sec: timerSeconds.optional(),
      open_interval_sec: timerSeconds.optional(),
      watched_interval_sec: timerSeconds.optional(),
      timeout_sec: timerSeconds.default(5),
      jitter: z.number().min(0).max(1).default(0.1),
      rise: count.default(2),
      fall: count.default(3),
      degraded_latency_ms: z.number().positive().default(1000),
      expect_body: z.string().min(1).optional(),
      heartbeat_ttl_sec: positiveSeconds.optional(),
      watch: z.boolean().default(true),
      registry_check: z.boolean().default(true),
      concurrency: z.number().int().min(1).max(10_000).default(64),
      startup_rate_per_sec: z.number().positive().max(100_000).default(200),
      startup_max_rate_per_sec: z.number().positive().max(100_000).default(2_500),
      stale_after_sec: positiveSeconds.optional(),
    })
    .prefault({}),
  breaker: z
    .strictObject({
      kind: breakerKind.default("consecutive"),
      threshold: z.number().positive().optional(),
      half_open_after_sec: timerSeconds.optional(),
      size: z.number().int().min(2).max(10_000).default(20),
      min_calls: z.number().int().min(1).max(10_000).default(5),
      duration_sec: positiveSeconds.default(60),
    })
    .prefault({}),
  flap: z
    .strictObject({
      transitions: z.number().int().min(2).max(1000).default(4),
      window_sec: positiveSeconds.default(120),
    })
    .prefault({}),
  overrides: z
    .array(
      z.strictObject({
        match: z
          .strictObject({
            adapter: z.string().min(1).optional(),
            category: z.string().min(1).optional(),
            provider: z.string().min(1).optional(),
            domain: z.string().min(1).optional(),
            project: z.string().min(1).optional(),
          })
          .refine(
            (match) => Object.keys(match).length > 0,
            "needs at least one of adapter, category, provider, domain, project",
          ),
        probes: z
          .strictObject({
            interval_sec: timerSeconds,
            edge_interval_sec: timerSeconds,
            open_interval_sec: timerSeconds,
            watched_interval_sec: timerSeconds,
            timeout_sec: timerSeconds,
            jitter: z.number().min(0).max(1),
            rise: count,
            fall: count,
            degraded_latency_ms: z.number().positive(),
            expect_body: z.string().min(1),
            heartbeat_ttl_sec: positiveSeconds,
            watch: z.boolean(),
            registry_check: z.boolean(),
          })
          .partial()
          .optional(),
        breaker: z
          .strictObject({
            kind: breakerKind,
            threshold: z.number().positive(),
            half_open_after_sec: timerSeconds,
            size: z.number().int().min(2).max(10_000),
            min_calls: z.number().int().min(1).max(10_000),
            duration_sec: positiveSeconds,
          })
          .partial()
          .optional(),
        priority: z.number().int().min(0).max(1_000_000).optional(),
      }),
    )
    .max(1000)
    .default([]),
  resolution: z
    .strictObject({
      panic: z.boolean().default(false),
      requirements: z
        .array(
          z.strictObject({
            domain: z.string().min(1),
            category: z.string().min(1),
            provider: z.string().min(1).optional(),
            project: z.string().min(1).optional(),
          }),
        )
        .max(10_000)
        .default([]),
    })
    .prefault({}),
  maintenance: z
    .array(
      z
        .strictObject({
          adapters: z.string().min(1),
          from: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
          cron: cronExpression.optional(),
          duration_min: z.number().positive().optional(),
          reason: z.string().default(""),
        })
        .refine(
          (window) =>
            (window.from !== undefined &&
              window.until !== undefined &&
              window.cron === undefined) ||
            (window.cron !== undefined &&
              window.duration_min !== undefined &&
              window.from === undefined),
          "give either from and until, or cron and duration_min",
        ),
    )
    .max(1000)
    .default([]),
  journal: z
    .strictObject({
      max_age_days: z.number().positive().default(30),
      max_events: z.number().int().min(100).default(1_000_000),
      retention_cron: cronExpression.default("*/10 * * * *"),
    })
    .prefault({}),
  /** Health history buckets (uptime and the status page); pruned with the journal, by `journal.retention_cron`. */
  history: z
    .strictObject({
      minute_buckets_kept_hours: z
        .number()
        .int()
        .min(1)
        .max(24 * 14)
        .default(48),
      hour_buckets_kept_days: z.number().int().min(1).max(3660).default(90),
    })
    .prefault({}),
  /** Subscribers that receive every committed event (matching `types`) as a signed POST. */
  webhooks: z
    .array(webhookSchema)
    .max(50)
    .default([])
    .superRefine((webhooks, context) => {
      const seen = new Set<string>();
      webhooks.forEach((webhook, index) => {
        if (seen.has(webhook.name)) {
          context.addIssue({
            code: "custom",
            message: `duplicate webhook name "${webhook.name}"`,
            path: [index, "name"],
          });
        }
        seen.add(webhook.name);
      });
    }),
  metrics: z
    .strictObject({
      /** Domain/category pairs with their own label values; the rest are summed as "other". */
      max_category_labels: z.number().int().min(1).max(1000).default(50),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    })
    .prefault({}),
  /** Scale-out; without it the daemon runs alone and needs no NATS. */
  cluster: clusterSchema.optional(),
});

export const configFileSchema = z.strictObject({
  oneiric_mcp: oneiricSectionSchema.prefault({}),
  healthd: healthdSectionSchema.prefault({}),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type OneiricSection = z.infer<typeof oneiricSectionSchema>;
export type HealthdSection = z.infer<typeof healthdSectionSchema>;
