import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry as MetricsRegistry } from "prom-client";
import type { EventHub } from "../../events/event-hub.js";
import { packageVersion } from "../../package-version.js";
import { closestName } from "../../text/closest-name.js";
import { ApiError } from "../api-error.js";
import {
  type AccessControl,
  type Admission,
  challengeHeaders,
  type OpenPaths,
  type Requirement,
} from "../auth/access-control.js";
import type { Principal, Scope } from "../auth/authenticator.js";
import {
  BEARER_TOKEN_SHAPE,
  endedSessionCookie,
  readSessionCookie,
  sessionCookie,
  sessionMaxAgeSec,
} from "../auth/session-cookie.js";
import type { TlsMaterial } from "../auth/tls-material.js";
import type { BadgeService } from "../badges/badges.js";
import type { QueryService } from "../query-service.js";
import { sendBadge } from "./badge-response.js";
import { EventStreams } from "./event-stream.js";
import { openApiDocument } from "./openapi.js";
import type { PageAssets } from "./page-assets.js";
import { sendJson, sendProblem } from "./problem.js";

/**
 * The header the HTTP front sets on a request it passes on to the main thread's
 * API, naming the principal it admitted (`{"name":…,"scopes":[…]}`). The front
 * removes any copy a client sent; the internal API listens on a private socket.
 */
export const ADMITTED_PRINCIPAL_HEADER = "x-oneiric-healthd-principal";

/** Passes a request the front does not answer itself to the main thread's API. */
export type PassOn = (
  request: IncomingMessage,
  response: ServerResponse,
  principal: Principal | undefined,
) => Promise<void>;

/** Handles `/mcp` (MCP over streamable HTTP); provided by the MCP transport. */
export interface McpHttpHandler {
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

export interface HttpApiOptions {
  queries: QueryService;
  /** Required unless `passOn` is given (the events routes are then passed on). */
  hub?: EventHub | undefined;
  /** Required unless `passOn` is given (`/metrics` is then passed on). */
  metrics?: MetricsRegistry | undefined;
  /** Required unless `passOn` is given (the badge routes are then passed on). */
  badges?: BadgeService | undefined;
  logger: Logger;
  mcp?: McpHttpHandler | undefined;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  heartbeatMs?: number;
  maxEventStreams?: number;
  /** Authentication, scopes and rate limits; without it every route is open and unlimited. */
  access?: AccessControl | undefined;
  /** Serve HTTPS (and with a client CA, require client certificates). */
  tls?: TlsMaterial | undefined;
  /** Most connections open at once; more are closed as they arrive. */
  maxConnections?: number;
  /** A client has this long to send a request's headers, and to send the whole request. */
  slowClientTimeoutMs?: number;
  /**
   * The front (a worker thread): answers the routes marked `front` itself and,
   * once admitted, passes every other request on with this.
   */
  passOn?: PassOn | undefined;
  /** With `passOn`: whether the front can answer its routes now (else it passes them on too). */
  answersHere?: (() => boolean) | undefined;
  /**
   * The internal API behind the front: trusts ADMITTED_PRINCIPAL_HEADER (there is
   * no access control here, the front admitted the request) and adds these
   * headers to every answer.
   */
  behindFront?: { answerHeaders: () => Record<string, string> } | undefined;
  /** The status page's files, served at `/` and `/ui/<name>`; without them those are 404. */
  page?: PageAssets | undefined;
}

/** The auth info the MCP SDK hands tool handlers as `extra.authInfo` (it reads `request.auth`). */
interface McpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
}

type Method = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";
type Handler = (context: RequestContext) => void | Promise<void>;

interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  query: URLSearchParams;
  params: string[];
  /** At the front: hands this request on to the main thread's API after all. */
  passOn?: (() => Promise<void>) | undefined;
}

interface Route {
  pattern: RegExp;
  methods: Partial<Record<Method, Handler>>;
  /** Answers without a token while this `auth.open_paths` switch is on. */
  open?: keyof OpenPaths;
  /** Methods that need the `admin` scope; the others need `read`. */
  admin?: readonly Method[];
  /**
   * Answered by the front from its replica of the committed view (the hot read
   * routes); `"always"`: answered there even before the replica is loaded, since
   * it needs nothing from it (the page's files, the login).
   */
  front?: true | "always";
  /** Answers without a token whatever the configuration says (it holds no data). */
  public?: true;
}

const DEFAULT_MAX_BODY = 64 * 1024;
/** Pending connections the internal socket queues (Linux caps it at net.core.somaxconn). */
const INTERNAL_ACCEPT_BACKLOG = 65_535;
const DEFAULT_SLOW_CLIENT_TIMEOUT_MS = 10_000;

/** Query parameters as an object; a repeated parameter is an error, not a silent pick. */
function queryObject(query: URLSearchParams): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of query) {
    if (Object.hasOwn(result, key)) {
      throw new ApiError("INVALID_PARAMETER", `${key} is given more than once; give it once`, {
        parameter: key,
      });
    }
    result[key] = value;
  }
  return result;
}

/** A query parameter the route does not take, with the closest one it does take. */
function unknownParameter(name: string, known: readonly string[]): ApiError {
  const suggestion = closestName(name, known);
  const hint =
    suggestion !== undefined
      ? ` (did you mean "${suggestion}"?)`
      : known.length > 0
        ? `; known: ${known.join(", ")}`
        : "; this path takes none";
  return new ApiError("UNKNOWN_PARAMETER", `unknown parameter ${JSON.stringify(name)}${hint}`, {
    parameter: name,
  });
}

function decodeId(raw: string, parameter = "adapter_id"): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(
      "INVALID_PARAMETER",
      `${parameter} must be percent-encoded UTF-8; got ${JSON.stringify(raw)}`,
      { parameter },
    );
  }
}

/** Whether a request carries a body (a length above zero, or chunked). */
export function hasBody(request: IncomingMessage): boolean {
  const length = Number(request.headers["content-length"] ?? 0);
  return request.headers["transfer-encoding"] !== undefined || length > 0;
}

/** The principal the front admitted a request as, from its header (behind the front only). */
function admittedPrincipal(request: IncomingMessage): Principal | undefined {
  const text = request.headers[ADMITTED_PRINCIPAL_HEADER];
  if (typeof text !== "string") return undefined;
  const value = JSON.parse(text) as { name: string; scopes: Scope[] };
  return { name: value.name, scopes: new Set(value.scopes) };
}

/** The header value naming an admitted principal. */
export function principalHeader(principal: Principal): string {
  return JSON.stringify({ name: principal.name, scopes: [...principal.scopes] });
}

/** The daemon's HTTP API: a thin transport over the query service. */
export class HttpApi {
  private readonly server: Server | ReturnType<typeof createHttpsServer>;
  private readonly routes: Route[];
  private readonly streams: EventStreams;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: HttpApiOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.streams = new EventStreams(options.hub as EventHub, {
      heartbeatMs: options.heartbeatMs ?? 15_000,
      maxQueuedBytes: 1024 * 1024,
      maxStreams: options.maxEventStreams ?? 5_000,
    });
    const queries = options.queries;
    this.routes = [
      {
        pattern: /^\/$/,
        front: "always",
        public: true,
        methods: { GET: ({ request, response }) => this.page(request, response, "index.html") },
      },
      {
        pattern: /^\/ui\/([^/]+)$/,
        front: "always",
        public: true,
        methods: {
          GET: ({ request, response, params }) => this.page(request, response, params[0] ?? ""),
        },
      },
      {
        pattern: /^\/v1\/session$/,
        // At the front the token is checked where every other request's is.
        front: "always",
        public: true,
        methods: {
          POST: (context) => this.openSession(context),
          DELETE: (context) => this.endSession(context),
        },
      },
      {
        pattern: /^\/v1\/adapters$/,
        front: true,
        methods: {
          GET: ({ response, query }) =>
            sendJson(response, 200, queries.listAdapters(queryObject(query))),
        },
      },
      {
        pattern: /^\/v1\/adapters\/([^/]+)$/,
        front: true,
        methods: {
          GET: ({ response, query, params }) => {
            this.noParameters(query);
            sendJson(response, 200, queries.getAdapter(decodeId(params[0] ?? "")));
          },
        },
      },
      {
        pattern: /^\/v1\/adapters\/([^/]+)\/health$/,
        methods: {
          GET: async ({ response, query, params }) => {
            this.noParameters(query);
            sendJson(response, 200, await queries.checkHealth(decodeId(params[0] ?? "")));
          },
        },
      },
      {
        // History and uptime are read from SQLite: on the main thread.
        pattern: /^\/v1\/adapters\/([^/]+)\/history$/,
        methods: {
          GET: ({ response, query, params }) =>
            sendJson(
              response,
              200,
              queries.adapterHistory(decodeId(params[0] ?? ""), queryObject(query)),
            ),
        },
      },
      {
        pattern: /^\/v1\/uptime$/,
        methods: {
          GET: ({ response, query }) => sendJson(response, 200, queries.uptime(queryObject(query))),
        },
      },
      {
        pattern: /^\/v1\/history$/,
        methods: {
          GET: ({ response, query }) => sendJson(response, 200, queries.board(queryObject(query))),
        },
      },
      {
        pattern: /^\/v1\/adapters\/([^/]+)\/maintenance$/,
        methods: {
          PUT: async ({ request, response, query, params }) => {
            this.noParameters(query);
            const body = await this.readJson(request, true);
            sendJson(response, 200, queries.setMaintenance(decodeId(params[0] ?? ""), body ?? {}));
          },
          DELETE: ({ response, query, params }) => {
            this.noParameters(query);
            sendJson(response, 200, queries.liftMaintenance(decodeId(params[0] ?? "")));
          },
        },
        admin: ["PUT", "DELETE"],
      },
      {
        pattern: /^\/v1\/resolve$/,
        front: true,
        methods: {
          GET: ({ response, query }) =>
            sendJson(response, 200, queries.resolve(queryObject(query))),
          POST: async ({ request, response, query }) => {
            this.noParameters(query);
            const body = await this.readJson(request, false);
            sendJson(response, 200, { resolutions: queries.resolveBatch(body) });
          },
        },
      },
      {
        pattern: /^\/v1\/events$/,
        // Live streams and recent cursors; the rest is passed on (see events()).
        front: true,
        methods: { GET: (context) => this.events(context) },
      },
      {
        pattern: /^\/v1\/cache\/invalidate$/,
        methods: {
          POST: ({ response, query }) => {
            this.noParameters(query);
            sendJson(response, 200, queries.invalidateCache());
          },
        },
        admin: ["POST"],
      },
      {
        pattern: /^\/v1\/health$/,
        methods: {
          GET: ({ response, query }) => {
            this.noParameters(query);
            sendJson(response, 200, queries.healthCheck());
          },
        },
      },
      // Badges read live state and, for uptime, the history in SQLite: main thread only.
      {
        pattern: /^\/v1\/badges\/category\/([^/]+)\.svg$/,
        methods: {
          GET: async ({ request, response, query, params }) => {
            const category = decodeId(params[0] ?? "", "category");
            const answer = await this.badges().categoryBadge(category, queryObject(query));
            sendBadge(request, response, answer);
          },
        },
        open: "badges",
      },
      {
        pattern: /^\/v1\/badges\/([^/]+)\.svg$/,
        methods: {
          GET: async ({ request, response, query, params }) => {
            const adapterId = decodeId(params[0] ?? "");
            const answer = await this.badges().adapterBadge(adapterId, queryObject(query));
            sendBadge(request, response, answer);
          },
        },
        open: "badges",
      },
      {
        pattern: /^\/metrics$/,
        methods: { GET: ({ response }) => this.metrics(response) },
        open: "metrics",
      },
      {
        pattern: /^\/healthz$/,
        front: true,
        methods: { GET: ({ response }) => sendJson(response, 200, { status: "ok" }) },
        open: "healthz",
      },
      {
        pattern: /^\/readyz$/,
        front: true,
        methods: { GET: ({ response }) => this.readiness(response) },
        open: "healthz",
      },
      {
        pattern: /^\/openapi\.json$/,
        methods: {
          GET: ({ response }) => sendJson(response, 200, openApiDocument(packageVersion())),
        },
        open: "reflection",
      },
    ];
    const slowClientMs = options.slowClientTimeoutMs ?? DEFAULT_SLOW_CLIENT_TIMEOUT_MS;
    const serverOptions = {
      // Node checks the request timeouts this often (default 30 s, longer than the timeouts themselves).
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, slowClientMs / 4)),
    };
    const handle = (request: IncomingMessage, response: ServerResponse) => {
      void this.dispatch(request, response);
    };
    const tls = options.tls;
    this.server = tls
      ? createHttpsServer(
          {
            ...serverOptions,
            cert: tls.cert,
            key: tls.key,
            // A client that opens a connection and never finishes the handshake is a slow client too.
            handshakeTimeout: slowClientMs,
            ...(tls.clientCa
              ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }
              : {}),
          },
          handle,
        )
      : createServer(serverOptions, handle);
    // Slow or idle clients cannot hold connections open indefinitely; event streams are exempt below.
    this.server.requestTimeout = slowClientMs;
    this.server.headersTimeout = slowClientMs;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 100;
    this.server.maxConnections = options.maxConnections ?? 1_000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Listens on a unix socket (the internal API behind the front). */
  listenOnSocket(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      // The front passes on each client's event stream as its own connection: a burst of
      // them while this thread is busy must queue, not be refused. A unix socket with a full
      // accept queue refuses at once (EAGAIN), so the queue is as long as the kernel allows.
      this.server.listen({ path, backlog: INTERNAL_ACCEPT_BACKLOG }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  /** Ends event streams and MCP sessions, then stops accepting and closes idle connections. */
  async close(): Promise<void> {
    this.streams.closeAll();
    await this.options.mcp?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(request.url ?? "/", "http://localhost");
    } catch {
      sendProblem(response, {
        status: 400,
        code: "INVALID_PARAMETER",
        title: "Bad request",
        detail: "malformed URL",
      });
      return;
    }
    const path = url.pathname;
    const { passOn, behindFront } = this.options;
    // Only the front may say who was admitted: a client's own copy is dropped.
    if (passOn) delete request.headers[ADMITTED_PRINCIPAL_HEADER];
    if (behindFront) {
      for (const [name, value] of Object.entries(behindFront.answerHeaders())) {
        response.setHeader(name, value);
      }
    }
    try {
      const route = this.routes.find((candidate) => candidate.pattern.test(path));
      const method = (request.method === "HEAD" ? "GET" : request.method) as Method;
      // Before anything else, 404s included: an unauthenticated client learns nothing.
      const admission = behindFront
        ? { principal: admittedPrincipal(request) }
        : await this.admit(request, route, method);
      const answeredHere =
        route?.front === "always" ||
        (route?.front === true && this.options.answersHere?.() !== false);
      if (passOn && !answeredHere) {
        await passOn(request, response, admission.principal);
        return;
      }
      if (path === "/mcp") {
        if (!this.options.mcp) throw new ApiError("NOT_FOUND", "MCP over HTTP is not enabled");
        if (admission.principal) {
          // The tools check scopes (the cache invalidation needs admin). The token
          // itself is left out: one more place holding it is one more place to leak it.
          const auth: McpAuthInfo = {
            token: "",
            clientId: admission.principal.name,
            scopes: [...admission.principal.scopes],
          };
          (request as IncomingMessage & { auth?: McpAuthInfo }).auth = auth;
        }
        await this.options.mcp.handle(request, response);
        return;
      }
      if (!route) throw new ApiError("NOT_FOUND", `no resource at ${path}`);
      const handler = route.methods[method];
      if (!handler) {
        const allowed = Object.keys(route.methods).flatMap((name) =>
          name === "GET" ? ["GET", "HEAD"] : [name],
        );
        sendProblem(
          response,
          {
            status: 405,
            code: "METHOD_NOT_ALLOWED",
            title: "Method not allowed",
            detail: `${request.method} is not allowed on ${path}`,
          },
          { allow: allowed.join(", ") },
        );
        request.resume();
        return;
      }
      const params = (route.pattern.exec(path) ?? []).slice(1);
      await handler({
        request,
        response,
        query: url.searchParams,
        params,
        passOn: passOn && (() => passOn(request, response, admission.principal)),
      });
    } catch (error) {
      this.fail(request, response, error, path);
    }
  }

  /** Lets the request in, or throws UNAUTHENTICATED, FORBIDDEN or RATE_LIMITED. */
  private async admit(
    request: IncomingMessage,
    route: Route | undefined,
    method: Method,
  ): Promise<Admission> {
    const access = this.options.access;
    if (!access) return { principal: undefined };
    const requirement: Requirement =
      route?.public || (route?.open !== undefined && access.openPaths[route.open])
        ? "open"
        : route?.admin?.includes(method)
          ? "admin"
          : "read";
    const result = await access.admit({
      authorization: request.headers.authorization,
      sessionToken: readSessionCookie(request.headers.cookie, this.secure),
      clientAddress: request.socket.remoteAddress ?? "unknown",
      requirement,
      rateLimited: route?.open !== "healthz",
    });
    if (result instanceof ApiError) throw result;
    return result;
  }

  private fail(
    request: IncomingMessage,
    response: ServerResponse,
    error: unknown,
    path: string,
  ): void {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (error instanceof ApiError) {
      const headers = challengeHeaders(error);
      if (
        (error.code === "UNAUTHENTICATED" ||
          error.code === "FORBIDDEN" ||
          error.code === "RATE_LIMITED") &&
        hasBody(request)
      ) {
        // Refused before its body was read: closing beats reading a body nobody wants.
        headers.connection = "close";
      }
      sendProblem(
        response,
        {
          status: error.status,
          code: error.code,
          title: error.code.toLowerCase().replaceAll("_", " "),
          detail: error.message,
          ...error.extra,
        },
        headers,
      );
      return;
    }
    this.options.logger.error({ err: error, path }, "HTTP handler failed");
    sendProblem(response, { status: 500, code: "INTERNAL", title: "internal error" });
  }

  /** Whether browsers reach this listener over HTTPS (the session cookie is then `Secure`). */
  private get secure(): boolean {
    return this.options.tls !== undefined;
  }

  private page(request: IncomingMessage, response: ServerResponse, name: string): void {
    const page = this.options.page;
    if (!page?.installed) {
      throw new ApiError(
        "NOT_FOUND",
        `the status page is not installed (no index.html in ${page?.directory ?? "web/"})`,
      );
    }
    const asset = page.find(name);
    if (!asset)
      throw new ApiError("NOT_FOUND", `the status page has no file ${JSON.stringify(name)}`);
    page.send(request, response, asset);
  }

  /**
   * POST /v1/session: checks the token in the body (JSON `{"token": …}` or a
   * form's `token=…`) and sets the session cookie. A form's post is answered
   * with a redirect to the page, so the login works without script too.
   */
  private async openSession({ request, response, query }: RequestContext): Promise<void> {
    this.noParameters(query);
    this.sameOrigin(request);
    const access = this.options.access;
    if (!access?.authEnabled) {
      request.resume();
      throw new ApiError(
        "NOT_FOUND",
        "authentication is off (healthd.auth.enabled is false): the page needs no session",
      );
    }
    const isForm = (request.headers["content-type"] ?? "").startsWith(
      "application/x-www-form-urlencoded",
    );
    const token = isForm
      ? new URLSearchParams(await this.readText(request)).get("token")
      : ((await this.readJson(request, false)) as { token?: unknown } | null)?.token;
    if (typeof token !== "string" || !BEARER_TOKEN_SHAPE.test(token)) {
      throw new ApiError(
        "INVALID_PARAMETER",
        `token must be a bearer token (letters, digits and -._~+/, then any =); got ${token === undefined || token === null ? "none" : "something else"}`,
        { parameter: "token" },
      );
    }
    const principal = await access.checkSessionToken(
      token,
      request.socket.remoteAddress ?? "unknown",
    );
    if (principal instanceof ApiError) throw principal;
    const nowMs = Date.now();
    const maxAgeSec = sessionMaxAgeSec(principal.expiresAtMs, nowMs);
    const cookie = sessionCookie(token, this.secure, maxAgeSec);
    if (isForm) {
      response.writeHead(303, { location: "/", "set-cookie": cookie, "cache-control": "no-store" });
      response.end();
      return;
    }
    response.setHeader("set-cookie", cookie);
    sendJson(response, 200, {
      principal: principal.name,
      scopes: ["read"],
      expires: new Date(nowMs + maxAgeSec * 1000).toISOString(),
    });
  }

  /** DELETE /v1/session: clears the cookie (whether or not there was one). */
  private endSession({ request, response, query }: RequestContext): void {
    this.noParameters(query);
    this.sameOrigin(request);
    response.setHeader("set-cookie", endedSessionCookie(this.secure));
    sendJson(response, 200, { session: "ended" });
  }

  /**
   * Refuses a request whose `Origin` (sent by browsers on a POST or DELETE) is
   * another site: no other page may log a visitor in or out of this one.
   */
  private sameOrigin(request: IncomingMessage): void {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host === "" || host !== request.headers.host) {
      request.resume();
      throw new ApiError(
        "FORBIDDEN",
        `the Origin ${JSON.stringify(origin)} is not this daemon's (${request.headers.host ?? "no Host header"}): a session is opened from the daemon's own page only`,
      );
    }
  }

  private noParameters(query: URLSearchParams): void {
    const first = query.keys().next();
    if (!first.done) throw unknownParameter(first.value, []);
  }

  /** Reads a JSON body up to the size limit; an empty body is undefined when allowed. */
  private async readJson(request: IncomingMessage, emptyAllowed: boolean): Promise<unknown> {
    const text = await this.readText(request);
    if (text.trim() === "") {
      if (emptyAllowed) return undefined;
      throw new ApiError("MALFORMED_JSON", "request body is empty; expected JSON");
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ApiError(
        "MALFORMED_JSON",
        `request body is not valid JSON: ${(error as Error).message}`,
      );
    }
  }

  /** Reads a body as UTF-8 text up to the size limit. */
  private readText(request: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const declared = Number(request.headers["content-length"] ?? Number.NaN);
      if (declared > this.maxBodyBytes) {
        request.resume();
        reject(
          new ApiError("PAYLOAD_TOO_LARGE", `request body over ${this.maxBodyBytes} bytes`, {
            limit: this.maxBodyBytes,
          }),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      request.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          request.destroy();
          reject(
            new ApiError("PAYLOAD_TOO_LARGE", `request body over ${this.maxBodyBytes} bytes`, {
              limit: this.maxBodyBytes,
            }),
          );
          return;
        }
        chunks.push(chunk);
      });
      request.on("error", reject);
      request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  }

  private async events({ request, response, query, passOn }: RequestContext): Promise<void> {
    const wantsStream = (request.headers.accept ?? "").includes("text/event-stream");
    // The journal's pages are read from SQLite, on the main thread.
    if (passOn && !wantsStream) return passOn();
    const parameters = queryObject(query);
    if (!wantsStream) {
      sendJson(response, 200, this.options.queries.events(parameters));
      return;
    }
    const lastEventId = request.headers["last-event-id"];
    const cursorText =
      typeof lastEventId === "string" && lastEventId !== ""
        ? lastEventId
        : (parameters.since ?? undefined);
    const { limit: _ignored, since: _since, ...rest } = parameters;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw unknownParameter(unknown, ["since", "limit"]);
    const hub = this.hub();
    let cursor = hub.newestSeq();
    if (cursorText !== undefined) {
      cursor = Number(cursorText);
      if (!Number.isSafeInteger(cursor) || cursor < 0) {
        const named = cursorText === lastEventId ? "Last-Event-ID" : "since";
        throw new ApiError(
          "INVALID_PARAMETER",
          `${named} must be an integer ≥ 0 (an event's seq); got ${JSON.stringify(cursorText)}`,
          { parameter: named },
        );
      }
    }
    try {
      hub.checkCursor(cursor);
    } catch (error) {
      // Older than the front holds: the main thread replays it from SQLite (or says it expired).
      if (passOn) return passOn();
      throw this.options.queries.cursorError(error);
    }
    if (this.streams.full) {
      throw new ApiError("NOT_READY", "too many event streams open; try again shortly");
    }
    // An event stream lives as long as the client wants it.
    request.setTimeout(0);
    this.streams.start(request, response, cursor);
  }

  private async metrics(response: ServerResponse): Promise<void> {
    const metrics = this.options.metrics;
    if (!metrics) throw new Error("no metrics registry: /metrics is served on the main thread");
    const body = await metrics.metrics();
    response.writeHead(200, { "content-type": metrics.contentType });
    response.end(body);
  }

  private badges(): BadgeService {
    const badges = this.options.badges;
    if (!badges) throw new Error("no badge service: badges are served on the main thread");
    return badges;
  }

  private hub(): EventHub {
    const hub = this.options.hub;
    if (!hub) throw new Error("no event hub: events are served on the main thread");
    return hub;
  }

  private readiness(response: ServerResponse): void {
    const readiness = this.options.queries.readiness();
    if (readiness.ready) {
      sendJson(response, 200, {
        status: "ready",
        ...(readiness.note ? { note: readiness.note } : {}),
      });
    } else
      sendProblem(response, {
        status: 503,
        code: "NOT_READY",
        title: "not ready",
        detail: readiness.reason,
      });
  }
}
