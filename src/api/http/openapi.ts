/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.
 * test/http-api.test.ts checks that every route the server answers is here.
 */
const problem = { $ref: "#/components/responses/Problem" };
const stringParam = (name: string, description: string, required = false) => ({
  name,
  in: "query",
  required,
  description,
  schema: { type: "string", minLength: 1, maxLength: 256 },
});
const adapterId = {
  name: "adapter_id",
  in: "path",
  required: true,
  description: "The adapter's id, percent-encoded.",
  schema: { type: "string" },
};

/** The list filters of /v1/adapters, which /v1/uptime and /v1/history take too. */
const listFilters = [
  stringParam("project", "Only this project"),
  stringParam("domain", "Only this domain"),
  stringParam("category", "Only this category"),
  stringParam("provider", "Only this provider"),
  { name: "status", in: "query", schema: { $ref: "#/components/schemas/Status" } },
  {
    name: "healthy_only",
    in: "query",
    schema: { type: "boolean" },
    description: "Healthy and usable only",
  },
];
const enumParam = (
  name: string,
  values: readonly string[],
  fallback: string,
  description: string,
) => ({
  name,
  in: "query",
  description,
  schema: { type: "string", enum: values, default: fallback },
});
const seconds = (description: string) => ({ type: "number", minimum: 0, description });
const percentOrNull = (description: string) => ({
  oneOf: [{ type: "number", minimum: 0, maximum: 100 }, { type: "null" }],
  description,
});
const UPTIME_DESCRIPTION =
  "up = healthy + degraded time, down = unhealthy time; uptime_percent = 100 × up / (up + down). Maintenance and unknown time (unknown verdicts, stale ones, and time the daemon did not see: stopped, or not yet checked) are left out of the denominator; coverage_percent says how much of the window outside maintenance was seen.";
const badgeParameters = [
  {
    name: "kind",
    in: "query",
    schema: { type: "string", enum: ["status", "uptime"], default: "status" },
    description:
      "status: the live verdict (one adapter: healthy, degraded, unhealthy, unknown or maintenance, `(stale)` when the verdict is overdue; a category: `5/6 healthy` on the colour of the worst). uptime: the percentage of up (healthy + degraded) time over up and down time in `window`, `no data` when there is neither",
  },
  {
    name: "window",
    in: "query",
    schema: { type: "string", enum: ["1h", "24h", "7d", "30d", "90d"], default: "24h" },
    description: "The uptime window, ending now (kind=uptime only)",
  },
  {
    name: "label",
    in: "query",
    schema: { type: "string", maxLength: 64 },
    description: "The left text, instead of the adapter's id or the category; empty for none",
  },
  {
    name: "style",
    in: "query",
    schema: { type: "string", enum: ["flat", "flat-square"], default: "flat" },
  },
];
const badgeResponses = {
  "200": {
    description:
      "The badge. `ETag` (strong) and `Cache-Control: no-cache`: caches keep it but revalidate every time",
    content: { "image/svg+xml": { schema: { type: "string" } } },
  },
  "304": { description: "Unchanged since the `If-None-Match` tag; no body" },
  "400": problem,
  "404": {
    description:
      "A grey `not found` badge (an image, not a problem: a README shows a JSON body as a broken image)",
    content: { "image/svg+xml": { schema: { type: "string" } } },
  },
};

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "oneiric-healthd",
      version,
      description:
        "Last-known health of every adapter in the Oneiric registry, resolution with failover, and the event journal. Errors are application/problem+json with a stable `code`.",
    },
    paths: {
      "/v1/adapters": {
        get: {
          summary: "List adapters with their last-known status",
          parameters: listFilters,
          responses: {
            "200": {
              description: "Adapters and the registry link",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/AdapterList" } },
              },
            },
            "400": problem,
          },
        },
      },
      "/v1/adapters/{adapter_id}": {
        get: {
          summary: "One adapter with its breaker state and recent checks",
          parameters: [adapterId],
          responses: {
            "200": {
              description: "The adapter",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/AdapterDetail" } },
              },
            },
            "404": problem,
          },
        },
      },
      "/v1/adapters/{adapter_id}/health": {
        get: {
          summary: "The daemon's verdict beside the registry's (through the fallback chain)",
          parameters: [adapterId],
          responses: { "200": { description: "Both views" }, "404": problem },
        },
      },
      "/v1/adapters/{adapter_id}/history": {
        get: {
          summary: "One adapter's health history over a window, in buckets",
          description: `Time per status in each bucket, checks, failures and latency p50/p95 (successful measured checks; binned, within about 9 %). A window ends now and starts at the bucket boundary before now − window; the last bucket is the one in progress. Maintenance time counts as maintenance whatever the status. ${UPTIME_DESCRIPTION}`,
          parameters: [
            adapterId,
            enumParam(
              "window",
              ["1h", "6h", "24h", "48h", "7d", "30d", "90d"],
              "24h",
              "How far back",
            ),
            {
              name: "bucket",
              in: "query",
              description:
                "Bucket size; by default 1m for 1h, 5m for 6h, 15m for 24h, 1h for 48h, 6h for 7d, 1d for 30d and 90d. At most 1,440 buckets; sizes under 1h reach back as far as one-minute buckets are kept (48 h by default).",
              schema: { type: "string", enum: ["1m", "5m", "15m", "1h", "6h", "1d"] },
            },
          ],
          responses: {
            "200": {
              description: "The buckets, oldest first, and the window's uptime",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/AdapterHistory" } },
              },
            },
            "400": problem,
            "404": problem,
          },
        },
      },
      "/v1/adapters/{adapter_id}/maintenance": {
        put: {
          summary: "Put an adapter in maintenance (out of resolution, no alarms)",
          parameters: [adapterId],
          requestBody: {
            required: false,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  additionalProperties: false,
                  properties: {
                    until: {
                      type: "string",
                      format: "date-time",
                      description: "Omit for 'until lifted'",
                    },
                    reason: { type: "string", maxLength: 500 },
                  },
                },
              },
            },
          },
          responses: {
            "200": { description: "The adapter's status" },
            "400": problem,
            "404": problem,
            "413": problem,
          },
        },
        delete: {
          summary: "Lift maintenance declared for an adapter",
          parameters: [adapterId],
          responses: { "200": { description: "The adapter's status" }, "404": problem },
        },
      },
      "/v1/resolve": {
        get: {
          summary: "Which adapter should a workflow use?",
          parameters: [
            stringParam("domain", "Adapter domain, e.g. adapter", true),
            stringParam("category", "e.g. storage", true),
            stringParam("provider", "e.g. s3; any when omitted"),
            stringParam("project", "any when omitted"),
            {
              name: "panic",
              in: "query",
              schema: { type: "boolean" },
              description: "When nothing is usable, return the least-bad candidate, marked",
            },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 0, maximum: 1000, default: 10 },
              description:
                "Most fallbacks and excluded candidates listed; the totals are always given",
            },
          ],
          responses: {
            "200": {
              description: "Choice, fallbacks, excluded candidates and the reason",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/Resolution" } },
              },
            },
            "400": problem,
          },
        },
        post: {
          summary: "Resolve up to 100 requirements at once",
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["requirements"],
                  additionalProperties: false,
                  properties: {
                    requirements: {
                      type: "array",
                      minItems: 1,
                      maxItems: 100,
                      items: { $ref: "#/components/schemas/Requirement" },
                    },
                  },
                },
              },
            },
          },
          responses: {
            "200": {
              description: "One resolution per requirement, in order",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      resolutions: {
                        type: "array",
                        items: { $ref: "#/components/schemas/Resolution" },
                      },
                    },
                  },
                },
              },
            },
            "400": problem,
            "413": problem,
          },
        },
      },
      "/v1/uptime": {
        get: {
          summary: "Uptime over a window of each adapter the filters match",
          description: `${UPTIME_DESCRIPTION} A window of 1h starts at the minute before now − 1 h; longer ones at the hour before now − window.`,
          parameters: [
            enumParam("window", ["1h", "24h", "7d", "30d", "90d"], "24h", "The window, ending now"),
            ...listFilters,
          ],
          responses: {
            "200": {
              description: "Each adapter's uptime",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/UptimeList" } },
              },
            },
            "400": problem,
          },
        },
      },
      "/v1/history": {
        get: {
          summary:
            "The status board's history bars and latency sparklines, a page of adapters at a time",
          parameters: [
            enumParam("bucket", ["1m", "1h", "1d"], "1h", "Bucket size of the bars"),
            {
              name: "buckets",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 90, default: 90 },
              description: "Buckets in each bar, the newest (in progress) last",
            },
            {
              name: "offset",
              in: "query",
              schema: { type: "integer", minimum: 0, default: 0 },
              description:
                "Skip this many matching adapters (in the order /v1/adapters lists them)",
            },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 1000 },
              description: "Most adapters in the page",
            },
            ...listFilters,
          ],
          responses: {
            "200": {
              description: "A bar and a sparkline per adapter",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/Board" } },
              },
            },
            "400": problem,
          },
        },
      },
      "/v1/events": {
        get: {
          summary:
            "Journal events: a page as JSON, or a live stream with Accept: text/event-stream",
          description:
            "As SSE each event is `id: <seq>`, `event: <type>`, `data: <CloudEvent JSON>`; resume with `Last-Event-ID`; `: heartbeat` comments every 15 s. Without a cursor a stream starts from now. A cursor older than retention answers 410 CURSOR_EXPIRED with `oldest_seq`.",
          parameters: [
            {
              name: "since",
              in: "query",
              schema: { type: "integer", minimum: 0 },
              description: "Events after this seq (default 0 for a page)",
            },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
            {
              name: "Last-Event-ID",
              in: "header",
              schema: { type: "string" },
              description: "SSE resume cursor",
            },
          ],
          responses: {
            "200": {
              description: "Events",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/EventPage" } },
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            "400": problem,
            "410": problem,
          },
        },
      },
      "/v1/cache/invalidate": {
        post: {
          summary: "Drop the registry client's cached adapter lists",
          responses: { "200": { description: "Done" } },
        },
      },
      "/v1/session": {
        post: {
          summary:
            "The status page's login: checks a token and sets an HttpOnly, SameSite=Strict session cookie that admits the read scope at most (see docs/security.md)",
          security: [],
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["token"],
                  properties: { token: { type: "string" } },
                  additionalProperties: false,
                },
              },
              "application/x-www-form-urlencoded": {
                schema: {
                  type: "object",
                  required: ["token"],
                  properties: { token: { type: "string" } },
                },
              },
            },
          },
          responses: {
            "200": {
              description:
                "Signed in (JSON body): `Set-Cookie` carries the session, which ends after 8 hours or at a JWT's `exp`, whichever is sooner",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      principal: { type: "string" },
                      scopes: { type: "array", items: { type: "string", enum: ["read"] } },
                      expires: { type: "string", format: "date-time" },
                    },
                  },
                },
              },
            },
            "303": { description: "Signed in (form body): back to the page at /" },
            "400": problem,
            "401": problem,
            // Another site's Origin.
            "403": problem,
            // Authentication is off: no session is needed.
            "404": problem,
          },
        },
        delete: {
          summary: "Ends the status page's session (clears the cookie)",
          security: [],
          responses: { "200": { description: "Ended" }, "403": problem },
        },
      },
      "/": {
        get: {
          summary:
            "The status page (HTML; open without a token: it holds no data, and what it fetches needs read). See docs/status-page.md",
          security: [],
          responses: {
            "200": { description: "The page", content: { "text/html": {} } },
            "304": { description: "Not modified (If-None-Match)" },
          },
        },
      },
      "/ui/{file}": {
        get: {
          summary: "The status page's scripts, styles and icon, by file name",
          security: [],
          parameters: [
            {
              name: "file",
              in: "path",
              required: true,
              description: "A file of the page, such as app.js or style.css.",
              schema: { type: "string" },
            },
          ],
          responses: {
            "200": { description: "The file" },
            "304": { description: "Not modified (If-None-Match)" },
            "404": problem,
          },
        },
      },
      "/v1/health": {
        get: {
          summary: "The daemon's and the registry link's health",
          responses: { "200": { description: "Health" } },
        },
      },
      "/v1/badges/{adapter_id}.svg": {
        get: {
          summary: "A Shields-style SVG badge of one adapter's status or uptime",
          parameters: [adapterId, ...badgeParameters],
          responses: badgeResponses,
        },
      },
      "/v1/badges/category/{category}.svg": {
        get: {
          summary:
            "A Shields-style SVG badge of a category's status or uptime (every project and domain unless `domain` is given)",
          parameters: [
            {
              name: "category",
              in: "path",
              required: true,
              description: "The category, e.g. storage",
              schema: { type: "string" },
            },
            stringParam("domain", "Only adapters of this domain"),
            ...badgeParameters,
          ],
          responses: badgeResponses,
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "Text exposition format" } },
        },
      },
      "/healthz": { get: { summary: "Liveness", responses: { "200": { description: "Alive" } } } },
      "/readyz": {
        get: {
          summary:
            "Readiness: start-up finished, a write to the database went through and none is refused now, and a catalog to watch (from the registry, or stored; an empty one only while the registry answers)",
          responses: {
            "200": {
              description:
                'Ready; `note` is "catalog from storage, registry not yet confirmed" until a sync succeeds (also when the first one failed), and says so when the registry answered an empty catalog',
            },
            // Not ready: the problem's `detail` says why.
            "503": problem,
          },
        },
      },
      "/openapi.json": {
        get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
      },
      "/mcp": {
        post: {
          summary: "MCP over streamable HTTP (see docs/mcp.md)",
          responses: { "200": { description: "MCP" } },
        },
      },
    },
    components: {
      securitySchemes: {
        session_cookie: {
          type: "apiKey",
          in: "cookie",
          name: "oneiric_healthd_session",
          description:
            "Set by POST /v1/session for the status page (named __Host-oneiric_healthd_session over HTTPS); used when no Authorization header is sent, and admits the read scope at most.",
        },
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "With healthd.auth.enabled: a static token or a JWT (HS256, RS256, ES256) with scope `read` (queries, events, /mcp) or `admin` (maintenance, cache invalidation; includes read). 401 UNAUTHENTICATED, 403 FORBIDDEN (names required_scope), 429 RATE_LIMITED (Retry-After). See docs/security.md.",
        },
      },
      responses: {
        Problem: {
          description: "RFC 9457 problem details with a stable code",
          content: {
            "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
          },
        },
      },
      schemas: {
        Uptime: {
          type: "object",
          description: UPTIME_DESCRIPTION,
          required: [
            "uptime_percent",
            "up_s",
            "down_s",
            "maintenance_s",
            "unknown_s",
            "coverage_percent",
          ],
          properties: {
            uptime_percent: percentOrNull("null when nothing was up or down"),
            up_s: seconds("Healthy and degraded seconds"),
            down_s: seconds("Unhealthy seconds"),
            maintenance_s: seconds("Seconds in maintenance, whatever the status"),
            unknown_s: seconds("Everything else in the window"),
            coverage_percent: percentOrNull("null when the window was all maintenance"),
          },
        },
        HistoryBucket: {
          type: "object",
          properties: {
            start: { type: "string", format: "date-time" },
            status: {
              type: "string",
              enum: ["healthy", "degraded", "unhealthy", "maintenance", "unknown"],
              description:
                "The worst seen: unhealthy, then degraded, then maintenance, then healthy; unknown when nothing was seen",
            },
            healthy_s: seconds("Healthy seconds"),
            degraded_s: seconds("Degraded seconds"),
            unhealthy_s: seconds("Unhealthy seconds"),
            maintenance_s: seconds("Seconds in maintenance"),
            unknown_s: seconds("The rest of the bucket"),
            checks: { type: "integer", minimum: 0 },
            failures: { type: "integer", minimum: 0 },
            latency_p50_ms: { oneOf: [{ type: "number" }, { type: "null" }] },
            latency_p95_ms: { oneOf: [{ type: "number" }, { type: "null" }] },
            uptime_percent: percentOrNull("The bucket's uptime"),
          },
        },
        AdapterHistory: {
          type: "object",
          properties: {
            adapter_id: { type: "string" },
            window: { type: "string" },
            bucket: { type: "string" },
            from: { type: "string", format: "date-time" },
            until: { type: "string", format: "date-time" },
            buckets: { type: "array", items: { $ref: "#/components/schemas/HistoryBucket" } },
            uptime: { $ref: "#/components/schemas/Uptime" },
          },
        },
        UptimeList: {
          type: "object",
          properties: {
            window: { type: "string" },
            from: { type: "string", format: "date-time" },
            until: { type: "string", format: "date-time" },
            adapters: {
              type: "array",
              items: {
                allOf: [
                  { $ref: "#/components/schemas/Uptime" },
                  {
                    type: "object",
                    properties: {
                      adapter_id: { type: "string" },
                      domain: { type: "string" },
                      category: { type: "string" },
                      provider: { type: "string" },
                    },
                  },
                ],
              },
            },
          },
        },
        Board: {
          type: "object",
          properties: {
            bucket: { type: "string" },
            buckets: { type: "integer" },
            from: { type: "string", format: "date-time" },
            until: { type: "string", format: "date-time" },
            total: { type: "integer", description: "Adapters matching the filters" },
            offset: { type: "integer" },
            adapters: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  adapter_id: { type: "string" },
                  status_bar: {
                    type: "string",
                    description:
                      "One letter per bucket, oldest first: h healthy, d degraded, u unhealthy, m maintenance, ? unknown",
                  },
                  uptime_percent: percentOrNull("Over the bar's span"),
                  latency_ms: {
                    type: "array",
                    items: { oneOf: [{ type: "number" }, { type: "null" }] },
                    description:
                      "p50 latency of each of the last 30 one-minute buckets, oldest first",
                  },
                },
              },
            },
          },
        },
        Status: { type: "string", enum: ["unknown", "healthy", "degraded", "unhealthy"] },
        Problem: {
          type: "object",
          required: ["type", "status", "code", "title"],
          properties: {
            type: { type: "string" },
            status: { type: "integer" },
            code: {
              type: "string",
              enum: [
                "INVALID_PARAMETER",
                "UNKNOWN_PARAMETER",
                "MALFORMED_JSON",
                "PAYLOAD_TOO_LARGE",
                "ADAPTER_NOT_FOUND",
                "CURSOR_EXPIRED",
                "NOT_FOUND",
                "METHOD_NOT_ALLOWED",
                "NOT_ACCEPTABLE",
                "REGISTRY_UNAVAILABLE",
                "NOT_READY",
                "UNAUTHENTICATED",
                "FORBIDDEN",
                "RATE_LIMITED",
                "INTERNAL",
              ],
            },
            title: { type: "string" },
            detail: { type: "string" },
            parameter: { type: "string" },
            oldest_seq: { type: "integer" },
            required_scope: { type: "string", enum: ["read", "admin"] },
            retry_after_sec: { type: "integer" },
          },
        },
        AdapterStatus: {
          type: "object",
          properties: {
            adapter_id: { type: "string" },
            project: { type: "string" },
            domain: { type: "string" },
            category: { type: "string" },
            provider: { type: "string" },
            status: { $ref: "#/components/schemas/Status" },
            since: { type: "string", format: "date-time" },
            last_checked: { type: ["string", "null"], format: "date-time" },
            latency_ms: { type: ["number", "null"] },
            source: { type: "string", enum: ["probe", "registry", "none"] },
            stale: { type: "boolean" },
            age_ms: {
              type: ["integer", "null"],
              description:
                "How long ago the last check finished; null when never checked. Only on a cluster member's verdict (docs/scale-out.md).",
            },
            owner: {
              type: "string",
              description:
                "The cluster member whose check gave this verdict (docs/scale-out.md). Absent on a daemon that runs alone.",
            },
            reason: { type: "string" },
            registry_status: { $ref: "#/components/schemas/Status" },
            registry_disagrees: { type: "boolean" },
            flapping: { type: "boolean" },
            breaker: { type: "string", enum: ["closed", "open", "half-open", "isolated"] },
            maintenance: { type: ["object", "null"] },
            usable: { type: "boolean" },
            health_check_url: { type: "string" },
          },
        },
        AdapterDetail: {
          allOf: [
            { $ref: "#/components/schemas/AdapterStatus" },
            {
              type: "object",
              properties: {
                capabilities: { type: "array", items: { type: "string" } },
                metadata: { type: "object", additionalProperties: { type: "string" } },
                factory_path: { type: "string" },
                last_heartbeat: { type: ["string", "null"] },
                consecutive_successes: { type: "integer" },
                consecutive_failures: { type: "integer" },
                recent_checks: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      at: { type: "string", format: "date-time" },
                      ok: { type: "boolean" },
                      latency_ms: { type: "number" },
                      detail: { type: "string" },
                      source: { type: "string", enum: ["probe", "registry", "watch"] },
                    },
                  },
                },
              },
            },
          ],
        },
        AdapterList: {
          type: "object",
          properties: {
            adapters: { type: "array", items: { $ref: "#/components/schemas/AdapterStatus" } },
            registry: {
              type: "object",
              properties: {
                endpoint: { type: "string" },
                reachable: { type: "boolean" },
                last_sync: { type: ["string", "null"] },
                last_error: { type: ["string", "null"] },
              },
            },
          },
        },
        Requirement: {
          type: "object",
          required: ["domain", "category"],
          additionalProperties: false,
          properties: {
            domain: { type: "string" },
            category: { type: "string" },
            provider: { type: "string" },
            project: { type: "string" },
            panic: { type: "boolean" },
            limit: { type: "integer", minimum: 0, maximum: 1000 },
          },
        },
        Candidate: {
          type: "object",
          properties: {
            adapter_id: { type: "string" },
            provider: { type: "string" },
            status: { $ref: "#/components/schemas/Status" },
            breaker: { type: "string", enum: ["closed", "open", "half-open", "isolated"] },
            flapping: { type: "boolean" },
            maintenance: { type: "boolean" },
            priority: { type: "integer" },
            latency_ms: {
              type: ["number", "null"],
              description: "The last check's latency, to the microsecond",
            },
            excluded_because: {
              type: ["string", "null"],
              description: "Why it may not be used; null when usable",
            },
          },
        },
        Resolution: {
          type: "object",
          properties: {
            requirement: { $ref: "#/components/schemas/Requirement" },
            choice: {
              oneOf: [{ $ref: "#/components/schemas/Candidate" }, { type: "null" }],
            },
            fallbacks: { type: "array", items: { $ref: "#/components/schemas/Candidate" } },
            excluded: { type: "array", items: { $ref: "#/components/schemas/Candidate" } },
            fallbacks_total: { type: "integer" },
            excluded_total: { type: "integer" },
            reason: { type: "string" },
            panic: { type: "boolean" },
            at: { type: "string", format: "date-time" },
          },
        },
        EventPage: {
          type: "object",
          properties: {
            events: {
              type: "array",
              items: { type: "object", description: "CloudEvents 1.0 JSON with seq" },
            },
            next_since: { type: "integer" },
            oldest_seq: { type: ["integer", "null"] },
          },
        },
      },
    },
  };
}
