/**
 * Who is calling: checks the bearer token of an HTTP, gRPC or MCP request
 * against the configured static tokens and JWT keys, and answers with the
 * principal and its scopes, or an UNAUTHENTICATED ApiError whose message is
 * one of a fixed set (never the token, a secret or a claim value).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { ApiError } from "../api-error.js";

export const SCOPES = ["read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface StaticToken {
  name: string;
  token: string;
  scopes: readonly Scope[];
}

export interface JwtSettings {
  /** HS256 shared secret. */
  hs256Secret?: string | undefined;
  /** RS256/ES256 public keys. */
  jwks?: JSONWebKeySet | undefined;
  /** When set, `iss` must equal it. */
  issuer?: string | undefined;
  /** When set, `aud` must contain it. */
  audience?: string | undefined;
  /** The claim holding the scopes: a space-separated string or an array of strings. */
  scopeClaim: string;
}

export interface AuthenticatorOptions {
  tokens: readonly StaticToken[];
  jwt?: JwtSettings | undefined;
  /**
   * Wall clock for `exp`/`nbf`, default Date.now. Not the daemon's scheduling
   * clock: tokens are minted elsewhere with real time, as certificates are.
   */
  now?: () => number;
}

/** An authenticated caller: a token's configured name, or `jwt:<sub>`. */
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** A JWT's `exp` in ms since the epoch (a static token has none): a session ends by then. */
  expiresAtMs?: number | undefined;
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWKS_ALGORITHMS = ["RS256", "ES256"];
// Identity providers and the daemon do not share a clock; a token is not refused for a few seconds of drift.
const CLOCK_TOLERANCE_SEC = 30;
const MAX_SUBJECT_CHARS = 128;

/** The error for a request without usable credentials; `bearer_error` feeds `WWW-Authenticate`. */
export function unauthenticated(message: string, invalidToken = true): ApiError {
  return new ApiError(
    "UNAUTHENTICATED",
    message,
    invalidToken ? { bearer_error: "invalid_token" } : {},
  );
}

export class Authenticator {
  private readonly tokens: { name: string; digest: Buffer; scopes: ReadonlySet<Scope> }[];
  private readonly secret: Uint8Array | undefined;
  private readonly jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: AuthenticatorOptions) {
    // Digests of equal length make timingSafeEqual usable whatever the token lengths.
    this.tokens = options.tokens.map((token) => ({
      name: token.name,
      digest: digest(token.token),
      scopes: withImplied(token.scopes),
    }));
    const secret = options.jwt?.hs256Secret;
    this.secret = secret === undefined ? undefined : new TextEncoder().encode(secret);
    this.jwks = options.jwt?.jwks ? createLocalJWKSet(options.jwt.jwks) : undefined;
    this.now = options.now ?? Date.now;
  }

  /** The principal behind an `Authorization` header value, or why there is none. */
  async authenticate(header: string | undefined): Promise<Principal | ApiError> {
    if (header === undefined || header.trim() === "") {
      return unauthenticated("bearer token required", false);
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      return new ApiError("UNAUTHENTICATED", "expected an Authorization: Bearer <token> header", {
        bearer_error: "invalid_request",
      });
    }
    const known = this.staticToken(token);
    if (known) return known;
    if ((this.secret || this.jwks) && JWT_SHAPE.test(token)) return this.verifyJwt(token);
    return unauthenticated("token not recognized");
  }

  /**
   * Compares against every configured token, without stopping at a match, in
   * constant time per token: the answer time says nothing about how close a guess was.
   */
  private staticToken(token: string): Principal | undefined {
    const presented = digest(token);
    let found: Principal | undefined;
    for (const candidate of this.tokens) {
      if (timingSafeEqual(candidate.digest, presented) && !found) {
        found = { name: candidate.name, scopes: candidate.scopes };
      }
    }
    return found;
  }

  private async verifyJwt(token: string): Promise<Principal | ApiError> {
    let algorithm: unknown;
    try {
      algorithm = decodeProtectedHeader(token).alg;
    } catch {
      return unauthenticated("token malformed");
    }
    const jwt = this.options.jwt;
    const common = {
      currentDate: new Date(this.now()),
      clockTolerance: CLOCK_TOLERANCE_SEC,
      // A JWT without an expiry would be a static token nobody can rotate; static tokens exist for that.
      requiredClaims: ["exp"],
      ...(jwt?.issuer === undefined ? {} : { issuer: jwt.issuer }),
      ...(jwt?.audience === undefined ? {} : { audience: jwt.audience }),
    };
    let payload: JWTPayload;
    try {
      // Algorithms are pinned per key source, so an HS256 token is never checked
      // against a public key (the classic algorithm-confusion forgery) and `none` never passes.
      if (algorithm === "HS256" && this.secret) {
        ({ payload } = await jwtVerify(token, this.secret, { ...common, algorithms: ["HS256"] }));
      } else if (this.jwks) {
        ({ payload } = await jwtVerify(token, this.jwks, {
          ...common,
          algorithms: JWKS_ALGORITHMS,
        }));
      } else {
        return unauthenticated("token algorithm not accepted");
      }
    } catch (error) {
      return unauthenticated(describeVerifyError(error));
    }
    const subject = typeof payload.sub === "string" ? payload.sub.slice(0, MAX_SUBJECT_CHARS) : "";
    return {
      name: `jwt:${subject}`,
      scopes: withImplied(scopesOf(payload[jwt?.scopeClaim ?? "scope"])),
      // requiredClaims makes jose refuse a token without a numeric exp.
      expiresAtMs: (payload.exp as number) * 1000,
    };
  }
}

/** Reads a JSON Web Key Set file; throws an Error naming the file (never a key). */
export function readJwksFile(path: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read the JWKS file ${path}: ${(error as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`the JWKS file ${path} has no "keys" list`);
  }
  // createLocalJWKSet checks the structure; each key is imported on first use.
  createLocalJWKSet(parsed as JSONWebKeySet);
  return parsed as JSONWebKeySet;
}

/** `admin` includes `read`: an operator token need not list both. */
function withImplied(scopes: Iterable<Scope>): ReadonlySet<Scope> {
  const set = new Set(scopes);
  if (set.has("admin")) set.add("read");
  return set;
}

/** The known scopes in a claim: `"read admin"` or `["read", "admin"]`; anything else grants nothing. */
function scopesOf(claim: unknown): Scope[] {
  const words =
    typeof claim === "string"
      ? claim.split(/\s+/)
      : Array.isArray(claim)
        ? claim.filter((item): item is string => typeof item === "string")
        : [];
  return words.filter((word): word is Scope => (SCOPES as readonly string[]).includes(word));
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Maps jose's errors to fixed messages, so an answer never carries the token,
 * a key or a claim value.
 */
function describeVerifyError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not accepted";
  if (error instanceof errors.JWKSNoMatchingKey) return "token signed with an unknown key";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `token has no "${error.claim}" claim`;
    if (error.claim === "iss") return "token issuer not accepted";
    if (error.claim === "aud") return "token audience not accepted";
    if (error.claim === "nbf") return "token not yet valid";
    return `token claim "${error.claim}" invalid`;
  }
  return "token malformed";
}
