/**
 * Bearer-token checks for the simulator's registry RPCs: an HS256 JWT in the `authorization`
 * metadata, verified with `jose`, as the real registry requires it.
 */
import { type handleUnaryCall, type Metadata, type StatusObject, status } from "@grpc/grpc-js";
import { errors, jwtVerify } from "jose";

export interface JwtGuardOptions {
  /** The shared HS256 secret. */
  secret: string;
  /** When set, the token's `project` claim must equal it. */
  project?: string;
  /**
   * Clock in milliseconds since the epoch for `exp`/`nbf`; default the wall clock. The
   * simulator passes the wall clock, not its scenario clock, because clients sign tokens
   * with real time, just as TLS validates certificates against real time.
   */
  now?: () => number;
}

/** Why a call was refused: a gRPC UNAUTHENTICATED status with a message naming the cause. */
export type AuthFailure = Pick<StatusObject, "code" | "details">;

export interface JwtGuard {
  /** Resolves to undefined when the metadata carries a valid token, else to the failure. */
  check(metadata: Metadata): Promise<AuthFailure | undefined>;
  /** Wraps a unary handler so it runs only after `check` passes. */
  unary<Req, Res>(handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res>;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function createJwtGuard(options: JwtGuardOptions): JwtGuard {
  // An empty HMAC key would accept tokens anyone can forge; refuse it up front rather than
  // discovering it on the first call.
  if (options.secret.length === 0) throw new TypeError("jwt secret must not be empty");
  const key = new TextEncoder().encode(options.secret);
  const now = options.now ?? Date.now;

  const check = async (metadata: Metadata): Promise<AuthFailure | undefined> => {
    const token = bearerToken(metadata);
    if (token === undefined) return unauthenticated("missing bearer token");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        currentDate: new Date(now()),
      }));
    } catch (error) {
      return unauthenticated(describeVerifyError(error));
    }
    if (options.project !== undefined) {
      const claim = payload.project;
      if (claim === undefined) {
        return unauthenticated(`token has no project claim, expected ${quote(options.project)}`);
      }
      if (claim !== options.project) {
        const shown = typeof claim === "string" ? quote(truncate(claim)) : "(not a string)";
        return unauthenticated(`token project ${shown} does not match ${quote(options.project)}`);
      }
    }
    return undefined;
  };

  return {
    check,
    unary<Req, Res>(handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> {
      return (call, callback) => {
        check(call.metadata).then(
          (failure) => {
            if (failure !== undefined) {
              callback(failure);
              return;
            }
            try {
              handler(call, callback);
            } catch (error) {
              // The handler now runs in a promise continuation, where a throw would be an
              // unhandled rejection instead of reaching grpc-js; answer it as a server fault.
              callback({ code: status.INTERNAL, details: messageOf(error) });
            }
          },
          (error: unknown) => callback({ code: status.INTERNAL, details: messageOf(error) }),
        );
      };
    },
  };
}

/** The token from `authorization: Bearer <token>`, or undefined when there is none. */
function bearerToken(metadata: Metadata): string | undefined {
  for (const value of metadata.get("authorization")) {
    if (typeof value !== "string") continue;
    const match = BEARER.exec(value);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

/**
 * Maps jose's errors to fixed messages: its own messages are fine today, but a fixed set
 * guarantees the reply never carries the token, the secret or the claims.
 */
function describeVerifyError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (error instanceof errors.JOSEAlgNotAllowed)
    return "token algorithm not allowed, expected HS256";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return "token not yet valid";
    return `token claim ${quote(error.claim)} invalid`;
  }
  // JWSInvalid, JWTInvalid, JOSENotSupported (e.g. an unknown `crit` header) and anything a
  // decoder throws on garbage input.
  return "token malformed";
}

function unauthenticated(details: string): AuthFailure {
  return { code: status.UNAUTHENTICATED, details };
}

// JSON quoting escapes control characters, so a hostile claim cannot forge log lines.
function quote(value: string): string {
  return JSON.stringify(value);
}

// Claims are the caller's input; cap what goes back so a huge claim cannot bloat trailers.
const MAX_CLAIM_SHOWN = 64;
function truncate(value: string): string {
  // By code point, so the cut never splits a surrogate pair.
  const chars = [...value];
  return chars.length > MAX_CLAIM_SHOWN ? `${chars.slice(0, MAX_CLAIM_SHOWN).join("")}…` : value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
