/**
 * The daemon's own surfaces under authentication, rate limits, connection
 * limits and TLS: every rejection, on every transport (HTTP, gRPC, MCP over
 * HTTP), against real daemons in-process.
 */

import { writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import {
  type CallOptions,
  type ChannelCredentials,
  credentials,
  Client as GrpcClient,
  status as GrpcStatus,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type DaemonConfig,
  loadConfigFile,
  parseConfigText,
  type TlsFiles,
} from "../src/config/load.js";
import {
  HealthClient,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../src/gen/grpc/health/v1/health.js";
import {
  type Event,
  HealthdClient,
  type ListAdaptersResponse,
} from "../src/gen/oneiric/healthd/v1/healthd.js";
import {
  AdapterRegistryClient,
  type ListResponse,
} from "../src/gen/oneiric/registry/v1/registry.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { type GeneratedCertificates, generateCertificates } from "./support/certificates.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SCENARIO = `
project: auth
adapters:
  - { category: storage, provider: s3 }
  - { category: cache, provider: redis }
`;
const S3 = "auth.adapter.storage.s3";

const READ_TOKEN = "reader-token-0123456789abcdef";
const ADMIN_TOKEN = "operator-token-0123456789abcdef";
const HS256_SECRET = "hs256-test-secret-0123456789abcdef-0123456789";
const ISSUER = "https://id.example.test";
const AUDIENCE = "oneiric-healthd";
const GRPC_OPTIONS = { "grpc.use_local_subchannel_pool": 1 };
const DEADLINE_MS = 5_000;

// --- Token minting ---------------------------------------------------------------

type SigningKey = Parameters<SignJWT["sign"]>[0];

interface Mint {
  claims?: JWTPayload;
  subject?: string;
  expiresAt?: number;
  issuer?: string;
  audience?: string;
}

function mint(
  key: SigningKey,
  header: { alg: string; kid?: string },
  options: Mint = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(options.claims ?? { scope: "read" })
    .setProtectedHeader(header)
    .setSubject(options.subject ?? "ci")
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now - 60)
    .setExpirationTime(options.expiresAt ?? now + 300)
    .sign(key);
}

const hs256 = (options: Mint = {}) =>
  mint(new TextEncoder().encode(HS256_SECRET), { alg: "HS256" }, options);

// --- Clients ---------------------------------------------------------------------

interface HttpAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: assertions inspect arbitrary JSON bodies structurally
  body: any;
}

async function httpCall(
  daemon: RunningDaemon,
  path: string,
  options: {
    token?: string;
    method?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`http://127.0.0.1:${daemon.httpAddress.port}${path}`, {
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text.startsWith("{") ? JSON.parse(text) : text,
  };
}

function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

const callOptions = (): CallOptions => ({ deadline: Date.now() + DEADLINE_MS });

function unary<T>(invoke: (done: (error: ServiceError | null, value?: T) => void) => void) {
  return new Promise<T>((resolve, reject) =>
    invoke((error, value) => (error ? reject(error) : resolve(value as T))),
  );
}

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("expected the call to fail");
}

const listHealthd = (client: HealthdClient, token?: string) =>
  unary<ListAdaptersResponse>((done) =>
    client.listAdapters(
      { project: "", domain: "", category: "", provider: "", status: "", healthyOnly: false },
      bearer(token),
      callOptions(),
      done,
    ),
  );

const listRegistry = (client: AdapterRegistryClient, token?: string) =>
  unary<ListResponse>((done) =>
    client.listAdapters(
      { project: "", domain: "", category: "", healthyOnly: false },
      bearer(token),
      callOptions(),
      done,
    ),
  );

const checkHealth = (client: HealthClient, token?: string) =>
  unary<ServingStatus>((done) =>
    client.check({ service: "" }, bearer(token), callOptions(), (error, response) =>
      done(error, response?.status),
    ),
  );

/** The first WatchEvents message, or the status the stream ended with. */
function firstEvent(client: HealthdClient, token?: string): Promise<Event> {
  return new Promise((resolve, reject) => {
    const stream = client.watchEvents({ since: 0 }, bearer(token), callOptions());
    stream.once("data", (event: Event) => {
      resolve(event);
      stream.cancel();
    });
    stream.on("error", (error: ServiceError) => {
      if (error.code !== GrpcStatus.CANCELLED) reject(error);
    });
  });
}

/**
 * Opens a server-reflection stream and half-closes it at once: an admitted call
 * ends OK (no requests, no answers), a refused one with the admission status.
 */
function reflectionCall(address: string, token?: string): Promise<void> {
  const client = new GrpcClient(address, credentials.createInsecure(), GRPC_OPTIONS);
  return new Promise<void>((resolve, reject) => {
    const identity = (value: Buffer) => value;
    const call = client.makeBidiStreamRequest(
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      identity,
      identity,
      bearer(token),
      callOptions(),
    );
    call.on("data", () => {});
    call.on("error", reject);
    call.on("status", (status) => {
      if (status.code === GrpcStatus.OK) resolve();
    });
    call.end();
  }).finally(() => client.close());
}

async function mcpConnect(daemon: RunningDaemon, token?: string): Promise<Client> {
  const client = new Client({ name: "auth-test", version: "1.0.0" });
  const headers: Record<string, string> =
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${daemon.httpAddress.port}/mcp`), {
      requestInit: { headers },
    }),
  );
  return client;
}

async function mcpTool(client: Client, name: string) {
  return (await client.callTool({ name, arguments: {} })) as CallToolResult;
}

const MCP_INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "raw", version: "1" },
  },
});
const MCP_HEADERS = { accept: "application/json, text/event-stream" };

// --- The stack -------------------------------------------------------------------

interface Stack {
  dir: ReturnType<typeof tempDir>;
  simulator: RunningSimulator;
  daemons: RunningDaemon[];
}

async function startStack(): Promise<Stack> {
  const dir = tempDir();
  const simulator = await startTestSimulator(SCENARIO, new ManualClock());
  return { dir, simulator, daemons: [] };
}

async function addDaemon(
  stack: Stack,
  name: string,
  extraYaml: string,
  adjust: (config: DaemonConfig) => DaemonConfig = (config) => config,
): Promise<RunningDaemon> {
  const daemon = await startTestDaemon(
    adjust(testConfig(stack.simulator.registryPort, join(stack.dir.path, `${name}.db`), extraYaml)),
  );
  stack.daemons.push(daemon);
  return daemon;
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await Promise.all(stack.daemons.map((daemon) => daemon.stop()));
  await stack.simulator.stop();
  stack.dir.remove();
}

// --- Tests -----------------------------------------------------------------------

describe("authentication on every transport", () => {
  let stack: Stack;
  let daemon: RunningDaemon;
  let rsaKey: SigningKey;
  let rs256: (options?: Mint) => Promise<string>;
  const grpcClients: { close(): void }[] = [];
  let healthd: HealthdClient;
  let registry: AdapterRegistryClient;
  let health: HealthClient;

  beforeAll(async () => {
    stack = await startStack();
    const pair = await generateKeyPair("RS256");
    rsaKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test-1", alg: "RS256", use: "sig" };
    const jwksFile = join(stack.dir.path, "jwks.json");
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    rs256 = (options = {}) => mint(rsaKey, { alg: "RS256", kid: "test-1" }, options);
    daemon = await addDaemon(
      stack,
      "auth",
      `  auth:
    enabled: true
    tokens:
      - { name: reader, token: ${READ_TOKEN}, scopes: [read] }
      - { name: operator, token: ${ADMIN_TOKEN}, scopes: [admin] }
    jwt:
      hs256_secret: ${HS256_SECRET}
      jwks_file: ${JSON.stringify(jwksFile)}
      issuer: ${ISSUER}
      audience: ${AUDIENCE}
  limits: { requests_per_sec: 0 }
`,
    );
    const address = daemon.grpcAddress;
    healthd = new HealthdClient(address, credentials.createInsecure(), GRPC_OPTIONS);
    registry = new AdapterRegistryClient(address, credentials.createInsecure(), GRPC_OPTIONS);
    health = new HealthClient(address, credentials.createInsecure(), GRPC_OPTIONS);
    grpcClients.push(healthd, registry, health);
  });

  afterAll(async () => {
    for (const client of grpcClients) client.close();
    await stopStack(stack);
  });

  describe("HTTP", () => {
    it("answers 401 without a token, with a bare Bearer challenge", async () => {
      const answer = await httpCall(daemon, "/v1/adapters");
      expect(answer.status).toBe(401);
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(answer.body).toMatchObject({
        code: "UNAUTHENTICATED",
        detail: "bearer token required",
      });
      expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="oneiric-healthd"');
    });

    it("answers 401 before 404, so an unknown path tells a stranger nothing", async () => {
      expect((await httpCall(daemon, "/v2/secret")).status).toBe(401);
      expect((await httpCall(daemon, "/v2/secret", { token: READ_TOKEN })).status).toBe(404);
    });

    it("answers 401 for an unknown token and for a non-Bearer scheme", async () => {
      const unknown = await httpCall(daemon, "/v1/adapters", {
        token: "not-a-configured-token-at-all",
      });
      expect(unknown.status).toBe(401);
      expect(unknown.body.detail).toBe("token not recognized");
      expect(unknown.headers.get("www-authenticate")).toBe(
        'Bearer realm="oneiric-healthd", error="invalid_token", error_description="token not recognized"',
      );
      const basic = await httpCall(daemon, "/v1/adapters", {
        headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` },
      });
      expect(basic.status).toBe(401);
      expect(basic.headers.get("www-authenticate")).toContain('error="invalid_request"');
    });

    it("answers 401 'token expired' for an expired JWT, HS256 or RS256", async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      for (const token of [await hs256({ expiresAt: past }), await rs256({ expiresAt: past })]) {
        const answer = await httpCall(daemon, "/v1/adapters", { token });
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({ code: "UNAUTHENTICATED", detail: "token expired" });
        expect(answer.headers.get("www-authenticate")).toBe(
          'Bearer realm="oneiric-healthd", error="invalid_token", error_description="token expired"',
        );
      }
    });

    it("names what is wrong with a JWT, and never echoes the token", async () => {
      const forged = await new SignJWT({ scope: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode("another-secret-0123456789abcdef-0123456789"));
      const cases: [string, string][] = [
        [forged, "token signature invalid"],
        [await hs256({ audience: "someone-else" }), "token audience not accepted"],
        [await rs256({ issuer: "https://evil.example" }), "token issuer not accepted"],
        [
          await mint(rsaKey, { alg: "RS256", kid: "unknown-kid" }),
          "token signed with an unknown key",
        ],
        [
          await new SignJWT({ scope: "read" })
            .setProtectedHeader({ alg: "HS256" })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .sign(new TextEncoder().encode(HS256_SECRET)),
          'token has no "exp" claim',
        ],
        // alg "none" is never accepted.
        [
          `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"scope":"admin"}').toString("base64url")}.`,
          "token algorithm not accepted",
        ],
      ];
      for (const [token, message] of cases) {
        const answer = await httpCall(daemon, "/v1/adapters", { token });
        expect(answer.status, message).toBe(401);
        expect(answer.body.detail).toBe(message);
        expect(JSON.stringify(answer.body)).not.toContain(token);
      }
    });

    it("answers 403 naming the missing scope for a read token on admin routes", async () => {
      const invalidate = await httpCall(daemon, "/v1/cache/invalidate", {
        method: "POST",
        token: READ_TOKEN,
      });
      expect(invalidate.status).toBe(403);
      expect(invalidate.body).toMatchObject({ code: "FORBIDDEN", required_scope: "admin" });
      expect(invalidate.body.detail).toContain('"admin" scope');
      expect(invalidate.headers.get("www-authenticate")).toBe(
        'Bearer realm="oneiric-healthd", error="insufficient_scope", scope="admin"',
      );
      for (const method of ["PUT", "DELETE"]) {
        const maintenance = await httpCall(daemon, `/v1/adapters/${S3}/maintenance`, {
          method,
          token: await hs256({ claims: { scope: "read" } }),
          ...(method === "PUT" ? { body: "{}" } : {}),
        });
        expect(maintenance.status, method).toBe(403);
        expect(maintenance.body.required_scope).toBe("admin");
      }
    });

    it("answers 403 naming read for a valid token without the read scope", async () => {
      const answer = await httpCall(daemon, "/v1/adapters", {
        token: await hs256({ claims: { scope: "billing" } }),
      });
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ code: "FORBIDDEN", required_scope: "read" });
      expect(answer.body.detail).toBe('this needs the "read" scope; the token has no scope');
    });

    it("answers 200 for valid static, HS256 and RS256 tokens with the scope", async () => {
      for (const token of [READ_TOKEN, ADMIN_TOKEN, await hs256(), await rs256()]) {
        const answer = await httpCall(daemon, "/v1/adapters", { token });
        expect(answer.status).toBe(200);
        expect(answer.body.adapters).toHaveLength(2);
      }
      // admin includes read; a scope claim may be an array.
      for (const token of [
        ADMIN_TOKEN,
        await hs256({ claims: { scope: "read admin" } }),
        await rs256({ claims: { scope: ["admin"] } }),
      ]) {
        const invalidate = await httpCall(daemon, "/v1/cache/invalidate", {
          method: "POST",
          token,
        });
        expect(invalidate.status).toBe(200);
      }
      const put = await httpCall(daemon, `/v1/adapters/${S3}/maintenance`, {
        method: "PUT",
        token: ADMIN_TOKEN,
        body: JSON.stringify({ reason: "auth test" }),
      });
      expect(put.status).toBe(200);
      const lift = await httpCall(daemon, `/v1/adapters/${S3}/maintenance`, {
        method: "DELETE",
        token: ADMIN_TOKEN,
      });
      expect(lift.status).toBe(200);
    });

    it("protects the event stream: 401 without a token, a stream with one", async () => {
      const headers = { accept: "text/event-stream" };
      expect((await httpCall(daemon, "/v1/events", { headers })).status).toBe(401);
      const controller = new AbortController();
      const response = await fetch(`http://127.0.0.1:${daemon.httpAddress.port}/v1/events`, {
        headers: { ...headers, authorization: `Bearer ${READ_TOKEN}` },
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      controller.abort();
      await response.body?.cancel().catch(() => {});
    });

    it("leaves /healthz, /readyz, /metrics and /openapi.json open by default", async () => {
      for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
        expect((await httpCall(daemon, path)).status, path).toBe(200);
      }
    });

    it("still answers 413 for an oversized body from an admitted client, 401 before reading one", async () => {
      const body = JSON.stringify({ reason: "x".repeat(70 * 1024) });
      const path = `/v1/adapters/${S3}/maintenance`;
      const admitted = await httpCall(daemon, path, { method: "PUT", token: ADMIN_TOKEN, body });
      expect(admitted.status).toBe(413);
      expect(admitted.body.code).toBe("PAYLOAD_TOO_LARGE");
      const stranger = await httpCall(daemon, path, { method: "PUT", body });
      expect(stranger.status).toBe(401);
      expect(stranger.headers.get("connection")).toBe("close");
    });
  });

  describe("gRPC", () => {
    it("answers UNAUTHENTICATED without a token on Healthd, AdapterRegistry and WatchEvents", async () => {
      for (const error of [
        await failure(listHealthd(healthd)),
        await failure(listRegistry(registry)),
        await failure(firstEvent(healthd)),
      ]) {
        expect(error.code).toBe(GrpcStatus.UNAUTHENTICATED);
        expect(error.details).toBe("bearer token required");
        expect(error.metadata.get("error-code")).toEqual(["UNAUTHENTICATED"]);
      }
    });

    it("answers UNAUTHENTICATED 'token expired' for an expired JWT", async () => {
      const token = await rs256({ expiresAt: Math.floor(Date.now() / 1000) - 3600 });
      const error = await failure(listHealthd(healthd, token));
      expect(error.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(error.details).toBe("token expired");
    });

    it("answers PERMISSION_DENIED naming the scope for a token without read", async () => {
      const token = await hs256({ claims: { scope: "billing" } });
      for (const error of [
        await failure(listHealthd(healthd, token)),
        await failure(listRegistry(registry, token)),
        await failure(firstEvent(healthd, token)),
      ]) {
        expect(error.code).toBe(GrpcStatus.PERMISSION_DENIED);
        expect(error.details).toContain('"read" scope');
        expect(error.metadata.get("required-scope")).toEqual(["read"]);
      }
    });

    it("answers OK for valid static, HS256 and RS256 tokens, streams included", async () => {
      for (const token of [READ_TOKEN, ADMIN_TOKEN, await hs256(), await rs256()]) {
        expect((await listHealthd(healthd, token)).adapters).toHaveLength(2);
        expect((await listRegistry(registry, token)).adapters).toHaveLength(2);
        expect((await firstEvent(healthd, token)).seq).toBe(1);
      }
    });

    it("leaves grpc.health.v1 and reflection open by default", async () => {
      expect(await checkHealth(health)).toBe(ServingStatus.SERVING);
      await reflectionCall(daemon.grpcAddress);
    });
  });

  describe("MCP over HTTP", () => {
    it("answers 401 problem+json before the MCP handler without a token", async () => {
      const response = await fetch(`http://127.0.0.1:${daemon.httpAddress.port}/mcp`, {
        method: "POST",
        headers: { ...MCP_HEADERS, "content-type": "application/json" },
        body: MCP_INITIALIZE,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({ code: "UNAUTHENTICATED" });
      await expect(mcpConnect(daemon)).rejects.toThrow(/401|bearer token required/);
    });

    it("refuses an expired JWT with 'token expired'", async () => {
      const token = await hs256({ expiresAt: Math.floor(Date.now() / 1000) - 3600 });
      await expect(mcpConnect(daemon, token)).rejects.toThrow(/token expired/);
    });

    it("refuses a token without read (403) and the invalidate tool without admin (FORBIDDEN)", async () => {
      const noRead = await hs256({ claims: { scope: "billing" } });
      await expect(mcpConnect(daemon, noRead)).rejects.toThrow(/403|"read" scope/);
      const client = await mcpConnect(daemon, READ_TOKEN);
      try {
        const result = await mcpTool(client, "oneiric_invalidate_cache");
        expect(result.isError).toBe(true);
        expect(result._meta?.["io.oneiric.healthd/error"]).toMatchObject({
          code: "FORBIDDEN",
          required_scope: "admin",
        });
        expect((await mcpTool(client, "oneiric_list_adapters")).isError).toBeFalsy();
      } finally {
        await client.close();
      }
    });

    it("serves valid static, HS256 and RS256 tokens, and invalidation to admin", async () => {
      for (const token of [READ_TOKEN, await hs256(), await rs256()]) {
        const client = await mcpConnect(daemon, token);
        try {
          const result = await mcpTool(client, "oneiric_list_adapters");
          expect(result.isError).toBeFalsy();
          expect(result.structuredContent?.count).toBe(2);
        } finally {
          await client.close();
        }
      }
      for (const token of [ADMIN_TOKEN, await rs256({ claims: { scope: "admin" } })]) {
        const client = await mcpConnect(daemon, token);
        try {
          const result = await mcpTool(client, "oneiric_invalidate_cache");
          expect(result.isError).toBeFalsy();
          expect(result.structuredContent).toMatchObject({ invalidated: true });
        } finally {
          await client.close();
        }
      }
    });
  });
});

describe("probe, metrics and reflection endpoints configured closed", () => {
  let stack: Stack;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    stack = await startStack();
    daemon = await addDaemon(
      stack,
      "closed",
      `  auth:
    enabled: true
    tokens: [{ name: monitor, token: ${READ_TOKEN}, scopes: [read] }]
    open_paths: { healthz: false, metrics: false, reflection: false }
`,
    );
  });

  afterAll(() => stopStack(stack));

  it("answers 401 on /healthz, /readyz, /metrics and /openapi.json, 200 with a token", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
      const answer = await httpCall(daemon, path);
      expect(answer.status, path).toBe(401);
      expect(answer.body.code).toBe("UNAUTHENTICATED");
      expect((await httpCall(daemon, path, { token: READ_TOKEN })).status, path).toBe(200);
    }
  });

  it("answers UNAUTHENTICATED on grpc.health.v1 and reflection, OK with a token", async () => {
    const health = new HealthClient(daemon.grpcAddress, credentials.createInsecure(), GRPC_OPTIONS);
    try {
      expect((await failure(checkHealth(health))).code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(await checkHealth(health, READ_TOKEN)).toBe(ServingStatus.SERVING);
    } finally {
      health.close();
    }
    expect((await failure(reflectionCall(daemon.grpcAddress))).code).toBe(
      GrpcStatus.UNAUTHENTICATED,
    );
    await reflectionCall(daemon.grpcAddress, READ_TOKEN);
  });
});

describe("rate limits", () => {
  let stack: Stack;
  let daemon: RunningDaemon;

  // Three requests at once, then one every 100 s: a test never sees a refill.
  beforeAll(async () => {
    stack = await startStack();
    daemon = await addDaemon(
      stack,
      "limited",
      `  auth:
    enabled: true
    tokens:
      - { name: reader, token: ${READ_TOKEN}, scopes: [read] }
      - { name: operator, token: ${ADMIN_TOKEN}, scopes: [admin] }
    jwt: { hs256_secret: ${HS256_SECRET}, issuer: ${ISSUER}, audience: ${AUDIENCE} }
  limits: { requests_per_sec: 0.01, burst: 3 }
`,
    );
  });

  afterAll(() => stopStack(stack));

  it("answers 429 with Retry-After after burst requests, per token", async () => {
    for (let request = 0; request < 3; request++) {
      expect((await httpCall(daemon, "/v1/adapters", { token: READ_TOKEN })).status).toBe(200);
    }
    const limited = await httpCall(daemon, "/v1/adapters", { token: READ_TOKEN });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: "RATE_LIMITED", retry_after_sec: 100 });
    expect(limited.headers.get("retry-after")).toBe("100");
    // Another principal has its own bucket, and liveness probes are never limited.
    expect((await httpCall(daemon, "/v1/adapters", { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await httpCall(daemon, "/healthz")).status).toBe(200);
  });

  it("limits failed attempts by client address, so tokens cannot be guessed at speed", async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      statuses.push(
        (await httpCall(daemon, "/v1/adapters", { token: `guess-${attempt}-0123456789ab` })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it("answers RESOURCE_EXHAUSTED on gRPC with retry-after metadata", async () => {
    const client = new HealthdClient(
      daemon.grpcAddress,
      credentials.createInsecure(),
      GRPC_OPTIONS,
    );
    try {
      const token = await hs256({ subject: "grpc-client" });
      for (let call = 0; call < 3; call++) await listHealthd(client, token);
      const error = await failure(listHealthd(client, token));
      expect(error.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(error.metadata.get("error-code")).toEqual(["RATE_LIMITED"]);
      expect(error.metadata.get("retry-after")).toEqual(["100"]);
    } finally {
      client.close();
    }
  });

  it("counts an event stream once, when it connects", async () => {
    const token = await hs256({ subject: "sse-client" });
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${daemon.httpAddress.port}/v1/events`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    // Heartbeats every 0.2 s: several arrive, none of them spends a token.
    let received = "";
    while ((received.match(/: heartbeat/g) ?? []).length < 3) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    expect((received.match(/: heartbeat/g) ?? []).length).toBeGreaterThanOrEqual(3);
    const next = async () => (await httpCall(daemon, "/v1/adapters", { token })).status;
    expect([await next(), await next(), await next()]).toEqual([200, 200, 429]);
    controller.abort();
    await reader?.cancel().catch(() => {});
  });
});

describe("connection limits and slow clients", () => {
  let stack: Stack;
  let daemon: RunningDaemon;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    stack = await startStack();
    daemon = await addDaemon(
      stack,
      "slow",
      "  limits: { max_connections: 3, slow_client_timeout_sec: 0.5 }\n",
    );
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await stopStack(stack);
  });

  /** A raw connection: what it received, and when the server closed it. */
  function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket = netConnect(daemon.httpAddress.port, "127.0.0.1");
      sockets.push(socket);
      let received = "";
      socket.on("data", (chunk) => {
        received += chunk.toString("latin1");
      });
      const closed = new Promise<number>((done) =>
        socket.on("close", () => done(Date.now() - started)),
      );
      socket.once("error", () => {});
      socket.once("connect", () => resolve({ socket, received: () => received, closed }));
      socket.once("error", reject);
    });
  }

  it("answers 408 and closes a client that sends its headers too slowly", async () => {
    const slow = await open();
    slow.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const after = await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(after).toBeLessThan(3_000);
  });

  it("closes connections beyond max_connections at once", async () => {
    const held = await Promise.all([open(), open(), open()]);
    const extra = await open();
    expect(await extra.closed).toBeLessThan(1_000);
    expect(extra.received()).toBe("");
    for (const connection of held) connection.socket.destroy();
    await Promise.all(held.map((connection) => connection.closed));
    // The slots are free once the server (on the HTTP front's thread) has seen those close too.
    await vi.waitFor(async () => {
      const again = await open();
      again.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      await again.closed;
      expect(again.received()).toMatch(/^HTTP\/1\.1 200 /);
    });
  });

  it("keeps an event stream open past the slow-client timeout", async () => {
    const stream = await open();
    stream.socket.write(
      "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(stream.socket.destroyed).toBe(false);
    expect(stream.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect((stream.received().match(/: heartbeat/g) ?? []).length).toBeGreaterThanOrEqual(3);
    stream.socket.destroy();
  });
});

describe("TLS and mTLS", () => {
  let stack: Stack;
  let certs: GeneratedCertificates;
  let tls: RunningDaemon;
  let mtls: RunningDaemon;

  beforeAll(async () => {
    stack = await startStack();
    certs = generateCertificates(stack.dir.path);
    // testConfig's YAML already has http: and grpc: keys, so TLS goes onto the resolved config.
    const withTls = (clientCa: boolean) => (config: DaemonConfig) => {
      const files: TlsFiles = {
        certPath: certs.serverCert,
        keyPath: certs.serverKey,
        clientCaPath: clientCa ? certs.caCert : undefined,
      };
      return {
        ...config,
        http: { ...config.http, tls: files },
        grpc: { ...config.grpc, tls: files },
      };
    };
    tls = await addDaemon(stack, "tls", "", withTls(false));
    mtls = await addDaemon(stack, "mtls", "", withTls(true));
  });

  afterAll(() => stopStack(stack));

  function httpsGet(
    daemon: RunningDaemon,
    path: string,
    client?: { cert: Buffer; key: Buffer },
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        {
          host: "127.0.0.1",
          port: daemon.httpAddress.port,
          path,
          ca: certs.read(certs.caCert),
          ...(client ?? {}),
          agent: false,
          timeout: DEADLINE_MS,
        },
        (response) => {
          let body = "";
          response.on("data", (chunk) => {
            body += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end();
    });
  }

  const clientPair = () => ({
    cert: certs.read(certs.clientCert),
    key: certs.read(certs.clientKey),
  });

  it("serves HTTPS with the test CA, and refuses plain HTTP on the TLS port", async () => {
    const answer = await httpsGet(tls, "/v1/adapters");
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).adapters).toHaveLength(2);
    await expect(fetch(`http://127.0.0.1:${tls.httpAddress.port}/healthz`)).rejects.toThrow();
  });

  it("refuses an HTTPS client without a certificate, or with one from another CA, under mTLS", async () => {
    await expect(httpsGet(mtls, "/healthz")).rejects.toThrow();
    await expect(
      httpsGet(mtls, "/healthz", {
        cert: certs.read(certs.wrongClientCert),
        key: certs.read(certs.wrongClientKey),
      }),
    ).rejects.toThrow();
    expect((await httpsGet(mtls, "/healthz", clientPair())).status).toBe(200);
  });

  function grpcHealthd(daemon: RunningDaemon, creds: ChannelCredentials): HealthdClient {
    return new HealthdClient(daemon.grpcAddress, creds, GRPC_OPTIONS);
  }

  it("serves gRPC over TLS with the test CA, and refuses a plaintext client", async () => {
    const secure = grpcHealthd(tls, credentials.createSsl(certs.read(certs.caCert)));
    const plain = grpcHealthd(tls, credentials.createInsecure());
    try {
      expect((await listHealthd(secure)).adapters).toHaveLength(2);
      expect((await failure(listHealthd(plain))).code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      secure.close();
      plain.close();
    }
  });

  it("requires a client certificate on gRPC under mTLS", async () => {
    const ca = certs.read(certs.caCert);
    const withCert = grpcHealthd(
      mtls,
      credentials.createSsl(ca, certs.read(certs.clientKey), certs.read(certs.clientCert)),
    );
    const without = grpcHealthd(mtls, credentials.createSsl(ca));
    try {
      expect((await listHealthd(withCert)).adapters).toHaveLength(2);
      expect((await failure(listHealthd(without))).code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      withCert.close();
      without.close();
    }
  });
});

describe("auth configuration", () => {
  const parse = (healthd: string) => () => parseConfigText(`healthd:\n${healthd}`, "h.yaml", {});

  it("is off by default, with probes, metrics and reflection open and badges closed", () => {
    const config = parseConfigText("", "h.yaml", {});
    expect(config.auth.enabled).toBe(false);
    expect(config.auth.openPaths).toEqual({
      healthz: true,
      metrics: true,
      reflection: true,
      badges: false,
    });
    expect(config.limits).toEqual({
      requestsPerSec: 50,
      burst: 100,
      maxConnections: 1_000,
      slowClientTimeoutMs: 10_000,
    });
  });

  it("opens the badges alone with open_paths.badges, and refuses a value that is not a bool", () => {
    const config = parseConfigText(
      "healthd:\n  auth:\n    open_paths: { badges: true }\n",
      "h.yaml",
      {},
    );
    expect(config.auth.openPaths).toEqual({
      healthz: true,
      metrics: true,
      reflection: true,
      badges: true,
    });
    expect(parse("  auth:\n    open_paths: { badges: yes please }\n")).toThrow(
      /healthd\.auth\.open_paths\.badges: must be true or false; got "yes please"/,
    );
  });

  it("refuses auth enabled with no way in", () => {
    expect(parse("  auth:\n    enabled: true\n")).toThrow(
      "h.yaml:3: healthd.auth.enabled: auth is enabled but no tokens or jwt are configured",
    );
  });

  it("refuses short tokens and repeated ones, without printing them", () => {
    expect(parse("  auth:\n    tokens: [{ name: a, token: short, scopes: [read] }]\n")).toThrow(
      "healthd.auth.tokens[0].token: at least 16 characters",
    );
    const token = "repeated-token-0123456789";
    let message = "";
    try {
      parse(
        `  auth:\n    tokens:\n      - { name: a, token: ${token}, scopes: [read] }\n      - { name: b, token: ${token}, scopes: [admin] }\n`,
      )();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('healthd.auth.tokens[1].token: the same token as tokens[0] ("a")');
    expect(message).not.toContain(token);
  });

  it("refuses a jwt section without a key, and a short HS256 secret", () => {
    expect(parse("  auth:\n    jwt: { issuer: x }\n")).toThrow(
      "give hs256_secret, jwks_file or both",
    );
    expect(parse("  auth:\n    jwt: { hs256_secret: too-short }\n")).toThrow(
      "at least 32 characters",
    );
  });

  it("checks that TLS and JWKS files exist and that the JWKS is a key set", () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "h.yaml");
      writeFileSync(
        file,
        "healthd:\n  http:\n    tls: { cert_path: /nonexistent/server.crt, key_path: /nonexistent/server.key }\n",
      );
      expect(() => loadConfigFile(file, {})).toThrow(
        `${file}:3: healthd.http.tls.cert_path: file /nonexistent/server.crt does not exist`,
      );
      const jwks = join(dir.path, "jwks.json");
      writeFileSync(jwks, '{"not": "keys"}');
      writeFileSync(
        file,
        `healthd:\n  auth:\n    jwt:\n      jwks_file: ${JSON.stringify(jwks)}\n`,
      );
      expect(() => loadConfigFile(file, {})).toThrow(`${file}:4: healthd.auth.jwt.jwks_file:`);
    } finally {
      dir.remove();
    }
  });
});
