/**
 * One admission decision for every transport (HTTP, gRPC, MCP over HTTP):
 * authenticate when the route needs a scope, rate-limit by principal (or by
 * client address when there is none), then check the scope. Transports only
 * say what a request needs and map the ApiError it may get back.
 */
import type { AuthConfig, DaemonConfig } from "../../config/load.js";
import { ApiError } from "../api-error.js";
import { Authenticator, type Principal, readJwksFile, type Scope } from "./authenticator.js";
import { RateLimiter } from "./rate-limiter.js";

/** What a route needs: nothing (open), or a token with this scope. */
export type Requirement = "open" | Scope;

export interface AdmissionRequest {
  /** The `Authorization` header (HTTP) or `authorization` metadata (gRPC). */
  authorization: string | undefined;
  /**
   * The status page's session cookie (HTTP only), used when no `Authorization`
   * is given; whoever it admits gets at most the `read` scope.
   */
  sessionToken?: string | undefined;
  /** The peer's address: the rate-limit key of a request without a principal. */
  clientAddress: string;
  requirement: Requirement;
  /**
   * False for liveness and readiness probes: they cost nothing, and a noisy
   * neighbour on the same address must not get the daemon restarted.
   */
  rateLimited: boolean;
}

/** An admitted request; `principal` is undefined when the route is open or auth is off. */
export interface Admission {
  principal: Principal | undefined;
}

export interface OpenPaths {
  /** `/healthz`, `/readyz` and grpc.health.v1. */
  healthz: boolean;
  /** `/metrics`. */
  metrics: boolean;
  /** gRPC server reflection and `/openapi.json`: descriptions of the API, not of its state. */
  reflection: boolean;
  /**
   * `/v1/badges/…`: status and uptime badges, which READMEs and dashboards embed
   * as images, where no token can be sent.
   */
  badges: boolean;
}

export interface AccessControlOptions {
  /** Undefined: authentication is off and every route is open. */
  authenticator?: Authenticator | undefined;
  /** Undefined: no rate limit. */
  limiter?: RateLimiter | undefined;
  openPaths?: OpenPaths | undefined;
}

const REALM = "oneiric-healthd";

export class AccessControl {
  readonly openPaths: OpenPaths;

  constructor(private readonly options: AccessControlOptions = {}) {
    this.openPaths = options.openPaths ?? {
      healthz: true,
      metrics: true,
      reflection: true,
      badges: false,
    };
  }

  /** Whether routes that need a scope check tokens (false: everything is open). */
  get authEnabled(): boolean {
    return this.options.authenticator !== undefined;
  }

  /** Lets a request in, or says why not (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED). */
  async admit(request: AdmissionRequest): Promise<Admission | ApiError> {
    const { authenticator } = this.options;
    if (authenticator === undefined || request.requirement === "open") {
      return (
        this.charge(`address:${request.clientAddress}`, request.rateLimited) ?? {
          principal: undefined,
        }
      );
    }
    const byCookie = request.authorization === undefined && request.sessionToken !== undefined;
    const authenticated = await authenticator.authenticate(
      byCookie ? `Bearer ${request.sessionToken}` : request.authorization,
    );
    if (authenticated instanceof ApiError) {
      // Failed attempts spend the address's budget: guessing tokens is rate-limited too.
      return this.charge(`address:${request.clientAddress}`, true) ?? authenticated;
    }
    // A cookie rides along with any request the browser sends, so it never opens admin routes.
    const principal = byCookie ? readOnly(authenticated) : authenticated;
    const limited = this.charge(`principal:${principal.name}`, request.rateLimited);
    if (limited) return limited;
    if (!principal.scopes.has(request.requirement)) {
      return byCookie
        ? new ApiError(
            "FORBIDDEN",
            `this needs the "${request.requirement}" scope, which a session cookie never grants; send the token in an Authorization: Bearer header`,
            { required_scope: request.requirement },
          )
        : forbidden(request.requirement, principal.scopes);
    }
    return { principal };
  }

  /**
   * Checks a token someone typed into the status page's login form, as a
   * request with it would be checked (failures spend the address's budget):
   * the principal, whose scopes must include `read`, or why not.
   */
  async checkSessionToken(token: string, clientAddress: string): Promise<Principal | ApiError> {
    const admission = await this.admit({
      authorization: `Bearer ${token}`,
      clientAddress,
      requirement: "read",
      rateLimited: true,
    });
    if (admission instanceof ApiError) return admission;
    // Auth is on (the route refuses otherwise), so there is a principal.
    return admission.principal as Principal;
  }

  private charge(key: string, rateLimited: boolean): ApiError | undefined {
    if (!rateLimited || !this.options.limiter) return undefined;
    const decision = this.options.limiter.take(key);
    if (decision.allowed) return undefined;
    return new ApiError(
      "RATE_LIMITED",
      `too many requests from this client; retry in ${decision.retryAfterSec} s`,
      { retry_after_sec: decision.retryAfterSec },
    );
  }
}

/** The principal with no scope beyond `read`. */
function readOnly(principal: Principal): Principal {
  return {
    ...principal,
    scopes: new Set([...principal.scopes].filter((scope) => scope === "read")),
  };
}

/** The error for a caller whose token lacks `required`; names the scope, not the token. */
export function forbidden(required: Scope, has: Iterable<string>): ApiError {
  const held = [...has].sort().join(" ");
  return new ApiError(
    "FORBIDDEN",
    `this needs the "${required}" scope; the token has ${held === "" ? "no scope" : `"${held}"`}`,
    { required_scope: required },
  );
}

/** The admission policy the configuration asks for; reads the JWKS file (throws naming it). */
export function createAccessControl(
  auth: AuthConfig,
  limits: Pick<DaemonConfig["limits"], "requestsPerSec" | "burst">,
): AccessControl {
  const jwt = auth.jwt;
  const authenticator = auth.enabled
    ? new Authenticator({
        tokens: auth.tokens,
        jwt: jwt && {
          hs256Secret: jwt.hs256Secret,
          jwks: jwt.jwksFile === undefined ? undefined : readJwksFile(jwt.jwksFile),
          issuer: jwt.issuer,
          audience: jwt.audience,
          scopeClaim: jwt.scopeClaim,
        },
      })
    : undefined;
  const limiter =
    limits.requestsPerSec > 0
      ? new RateLimiter({ ratePerSec: limits.requestsPerSec, burst: limits.burst })
      : undefined;
  return new AccessControl({ authenticator, limiter, openPaths: auth.openPaths });
}

/**
 * The HTTP headers an admission error carries: RFC 6750's `WWW-Authenticate`
 * challenge on 401 and 403 (no error code when no token was sent at all, as
 * §3.1 asks), `Retry-After` on 429.
 */
export function challengeHeaders(error: ApiError): Record<string, string> {
  switch (error.code) {
    case "UNAUTHENTICATED": {
      const kind = error.extra.bearer_error;
      return {
        "www-authenticate":
          typeof kind === "string"
            ? `Bearer realm="${REALM}", error="${kind}", error_description="${quoted(error.message)}"`
            : `Bearer realm="${REALM}"`,
      };
    }
    case "FORBIDDEN":
      return {
        "www-authenticate": `Bearer realm="${REALM}", error="insufficient_scope", scope="${quoted(String(error.extra.required_scope))}"`,
      };
    case "RATE_LIMITED":
      return { "retry-after": String(error.extra.retry_after_sec) };
    default:
      return {};
  }
}

/** Text fit for an HTTP quoted-string. */
function quoted(text: string): string {
  return text.replace(/[\\"]/g, (char) => `\\${char}`).replace(/[^\x20-\x7e]/g, "?");
}
