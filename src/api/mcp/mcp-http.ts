/**
 * MCP over Streamable HTTP at `/mcp` inside the daemon.
 *
 * Contract with the HTTP server (http-server.ts):
 *
 * - Call `handler.handle(request, response)` for every request whose path is
 *   exactly `/mcp`, whatever the method, and do nothing else with it: do not
 *   read the body, do not write to the response, do not apply the API's own
 *   body limit or content negotiation. The handler answers every request
 *   itself (also errors) and never rejects; the returned promise settles when
 *   the request has been handled (for a GET, when its event stream is set up,
 *   not when it ends: streams stay open until the client or `close()` ends them).
 * - The third argument `parsedBody` is optional: a server that has already
 *   read and parsed a POST body passes the parsed JSON value; otherwise the
 *   handler reads the body itself, at most `maxBodyBytes` (1 MiB).
 * - `close()` ends every session and its streams (call it before closing the
 *   server, so open event streams do not hold it up); later requests get 503.
 *
 * What the handler answers on its own, as application/problem+json with a
 * stable `code`: 405 METHOD_NOT_ALLOWED (methods other than POST, GET, DELETE;
 * `Allow` header), 413 PAYLOAD_TOO_LARGE, 400 MALFORMED_JSON, 400
 * INVALID_PARAMETER (a non-initialize request without `mcp-session-id`), 404
 * NOT_FOUND (unknown or expired session: the client starts a new one), 403
 * ORIGIN_NOT_ALLOWED (an `Origin` header that is not allowed: DNS-rebinding
 * protection), 503 TOO_MANY_SESSIONS (every session busy) and 503 NOT_READY
 * (after `close()`). Everything else is the SDK's StreamableHTTPServerTransport.
 * Authentication, scopes and rate limits (401, 403, 429) are the HTTP server's,
 * before `handle`; with `scopesEnforced` it attaches each request's scopes as
 * `request.auth`, which reaches tool handlers as `extra.authInfo`.
 *
 * Sessions are stateful (`mcp-session-id`), one McpServer per session, since
 * resource subscriptions live in a session. At most `maxSessions` (100) exist:
 * a new one closes the least recently active idle session (no request or
 * stream open); sessions idle for `idleTimeoutMs` (15 min) are closed.
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { EventHub } from "../../events/event-hub.js";
import { sendProblem } from "../http/problem.js";
import type { QueryBackend } from "../query-backend.js";
import { createMcpServer } from "./mcp-server.js";

export const MCP_PATH = "/mcp";
const DEFAULT_MAX_BODY = 1024 * 1024;
const DEFAULT_MAX_SESSIONS = 100;
const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000;
const SESSION_HEADER = "mcp-session-id";

export interface McpHttpHandlerOptions {
  /** The daemon's version, announced in `initialize`. */
  version: string;
  /** The daemon's event hub: resource subscriptions follow it live. */
  hub?: EventHub | undefined;
  logger?: Logger | undefined;
  /** Largest POST body read (default 1 MiB). */
  maxBodyBytes?: number | undefined;
  /** Most sessions at once (default 100). */
  maxSessions?: number | undefined;
  /** A session without a request or stream open for this long is closed (default 15 min). */
  idleTimeoutMs?: number | undefined;
  /**
   * Origins allowed in an `Origin` header (exact, e.g. "http://localhost:3000").
   * Default: any http(s) origin on localhost, 127.0.0.1 or [::1]. Requests
   * without `Origin` (non-browser clients) are always allowed.
   */
  allowedOrigins?: readonly string[] | undefined;
  now?: (() => number) | undefined;
  /** Authentication is on: the HTTP server attaches each request's scopes, tools check them. */
  scopesEnforced?: boolean | undefined;
}

interface Session {
  id: string;
  server: McpServer;
  transport: StreamableHTTPServerTransport;
  lastActive: number;
  /** Requests (streams included) still open. */
  open: number;
}

type HttpOutcome = {
  status: number;
  code: string;
  title: string;
  headers?: Record<string, string>;
};

export class McpHttpHandler {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly maxBodyBytes: number;
  private readonly maxSessions: number;
  private readonly idleTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly backendFactory: () => QueryBackend,
    private readonly options: McpHttpHandlerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.sweeper = setInterval(
      () => this.closeIdle(),
      Math.max(1_000, Math.min(60_000, this.idleTimeoutMs / 2)),
    );
    this.sweeper.unref();
  }

  /** Sessions open now, and how many of them have a request or stream open (busy). */
  stats(): { sessions: number; busy: number } {
    let busy = 0;
    for (const session of this.sessions.values()) if (session.open > 0) busy += 1;
    return { sessions: this.sessions.size, busy };
  }

  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    parsedBody?: unknown,
  ): Promise<void> {
    try {
      await this.route(request, response, parsedBody);
    } catch (error) {
      this.options.logger?.error({ err: error }, "MCP request failed");
      if (!response.headersSent) {
        this.reject(response, { status: 500, code: "INTERNAL", title: "internal error" });
      } else {
        response.end();
      }
    }
  }

  /** Closes every session (and its streams); later requests are answered 503. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((session) => this.closeSession(session)));
  }

  private async route(
    request: IncomingMessage,
    response: ServerResponse,
    parsedBody: unknown,
  ): Promise<void> {
    const method = request.method ?? "GET";
    if (method !== "POST" && method !== "GET" && method !== "DELETE") {
      return this.reject(response, {
        status: 405,
        code: "METHOD_NOT_ALLOWED",
        title: `${method} is not allowed on ${MCP_PATH}`,
        headers: { allow: "GET, POST, DELETE" },
      });
    }
    if (!this.originAllowed(request.headers.origin)) {
      return this.reject(response, {
        status: 403,
        code: "ORIGIN_NOT_ALLOWED",
        title: `origin ${request.headers.origin} may not use ${MCP_PATH}`,
      });
    }
    if (this.closed) {
      return this.reject(response, {
        status: 503,
        code: "NOT_READY",
        title: "the daemon is stopping",
      });
    }

    let body = parsedBody;
    if (method === "POST" && body === undefined) {
      const read = await this.readJson(request);
      if ("problem" in read) return this.reject(response, read.problem);
      body = read.value;
    }

    const sessionId = request.headers[SESSION_HEADER];
    if (Array.isArray(sessionId)) {
      return this.reject(response, {
        status: 400,
        code: "INVALID_PARAMETER",
        title: `one ${SESSION_HEADER} header, not several`,
      });
    }
    if (sessionId !== undefined) {
      const session = this.sessions.get(sessionId);
      if (!session) {
        return this.reject(response, {
          status: 404,
          code: "NOT_FOUND",
          title: "unknown or expired MCP session; initialize a new one",
        });
      }
      return this.serve(session, request, response, body);
    }
    if (method === "POST" && isInitialize(body)) {
      return this.startSession(request, response, body);
    }
    return this.reject(response, {
      status: 400,
      code: "INVALID_PARAMETER",
      title: `${SESSION_HEADER} header required (send initialize first to get one)`,
    });
  }

  private async startSession(
    request: IncomingMessage,
    response: ServerResponse,
    body: unknown,
  ): Promise<void> {
    if (this.sessions.size >= this.maxSessions && !(await this.evictOne())) {
      return this.reject(response, {
        status: 503,
        code: "TOO_MANY_SESSIONS",
        title: `all ${this.maxSessions} MCP sessions are busy; retry later`,
        headers: { "retry-after": "5" },
      });
    }
    const server = createMcpServer(this.backendFactory(), {
      version: this.options.version,
      hub: this.options.hub,
      logger: this.options.logger,
      scopesEnforced: this.options.scopesEnforced,
    });
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session = { id, server, transport, lastActive: this.now(), open: 0 };
        this.sessions.set(id, session);
      },
      maxRequestBodySize: this.maxBodyBytes,
    });
    transport.onclose = () => {
      if (session && this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
    if (!session) {
      // Initialization was refused: nothing to keep.
      await server.close().catch(() => {});
      return;
    }
    this.options.logger?.debug({ session: session.id }, "MCP session started");
  }

  private async serve(
    session: Session,
    request: IncomingMessage,
    response: ServerResponse,
    body: unknown,
  ): Promise<void> {
    session.open += 1;
    session.lastActive = this.now();
    response.once("close", () => {
      session.open -= 1;
      session.lastActive = this.now();
    });
    await session.transport.handleRequest(request, response, body);
  }

  /** Closes the least recently active idle session; false when every session is busy. */
  private async evictOne(): Promise<boolean> {
    let oldest: Session | undefined;
    for (const session of this.sessions.values()) {
      if (session.open === 0 && (!oldest || session.lastActive < oldest.lastActive)) {
        oldest = session;
      }
    }
    if (!oldest) return false;
    this.options.logger?.info({ session: oldest.id }, "MCP session limit: closing the oldest idle");
    await this.closeSession(oldest);
    return true;
  }

  private closeIdle(): void {
    const cutoff = this.now() - this.idleTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.open === 0 && session.lastActive < cutoff) {
        this.options.logger?.debug({ session: session.id }, "MCP session idle: closing");
        void this.closeSession(session);
      }
    }
  }

  private async closeSession(session: Session): Promise<void> {
    this.sessions.delete(session.id);
    await session.server.close().catch((error: unknown) => {
      this.options.logger?.warn({ err: error, session: session.id }, "closing an MCP session");
    });
  }

  private originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.options.allowedOrigins) return this.options.allowedOrigins.includes(origin);
    try {
      const url = new URL(origin);
      return (
        (url.protocol === "http:" || url.protocol === "https:") &&
        ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)
      );
    } catch {
      return false;
    }
  }

  private async readJson(
    request: IncomingMessage,
  ): Promise<{ value: unknown } | { problem: HttpOutcome }> {
    const tooLarge: HttpOutcome = {
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      title: `request body larger than ${this.maxBodyBytes} bytes`,
      headers: { connection: "close" },
    };
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) return { problem: tooLarge };
    const body = await new Promise<Buffer | undefined>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      request.on("data", (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          // Stop here; the 413 goes out with `connection: close`, which ends the upload.
          settled = true;
          request.pause();
          resolve(undefined);
        } else {
          chunks.push(chunk);
        }
      });
      request.once("end", () => {
        if (!settled) resolve(Buffer.concat(chunks));
        settled = true;
      });
      request.once("error", (error) => {
        if (!settled) reject(error);
        settled = true;
      });
    });
    if (body === undefined) return { problem: tooLarge };
    try {
      return { value: JSON.parse(body.toString("utf8")) };
    } catch (error) {
      return {
        problem: {
          status: 400,
          code: "MALFORMED_JSON",
          title: `request body is not JSON: ${error instanceof Error ? error.message : String(error)}`,
        },
      };
    }
  }

  private reject(response: ServerResponse, outcome: HttpOutcome): void {
    sendProblem(
      response,
      { status: outcome.status, code: outcome.code, title: outcome.title },
      outcome.headers,
    );
  }
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
}

/**
 * The `/mcp` handler: `backendFactory` gives each new session its backend
 * (inside the daemon: `() => localBackend(queries)`).
 */
export function createMcpHttpHandler(
  backendFactory: () => QueryBackend,
  options: McpHttpHandlerOptions,
): McpHttpHandler {
  return new McpHttpHandler(backendFactory, options);
}
