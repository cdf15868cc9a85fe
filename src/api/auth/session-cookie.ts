/**
 * The status page's login: a cookie holding the bearer token the person typed,
 * `HttpOnly` (the page's script never sees it again), `SameSite=Strict` (no
 * other site's request carries it) and `Secure` with the `__Host-` prefix when
 * the daemon serves HTTPS (no plain-HTTP answer or sibling host can set or read
 * it). The daemon keeps no session: each request's cookie is checked again by
 * the same Authenticator as a header, so a token removed from the configuration
 * or a JWT past its `exp` stops working at once, and a principal admitted by the
 * cookie gets at most the `read` scope (see AccessControl.admit).
 */

/** The cookie's name over plain HTTP. */
export const SESSION_COOKIE = "oneiric_healthd_session";
/** Over HTTPS: the `__Host-` prefix makes browsers refuse it without `Secure` and `Path=/`. */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/** How long a session from a static token lasts; a JWT's ends at its `exp` if sooner. */
export const SESSION_MAX_AGE_SEC = 8 * 3600;

/** The characters of a bearer token (RFC 6750 b64token): also every one is a valid cookie octet. */
export const BEARER_TOKEN_SHAPE = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The session cookie's name for a daemon serving HTTPS or not. */
export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/** The session token in a `Cookie` header, if it has one of the right name and shape. */
export function readSessionCookie(header: string | undefined, secure: boolean): string | undefined {
  if (header === undefined) return undefined;
  const name = sessionCookieName(secure);
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    return BEARER_TOKEN_SHAPE.test(value) ? value : undefined;
  }
  return undefined;
}

/** A `Set-Cookie` value starting a session of `maxAgeSec` seconds. */
export function sessionCookie(token: string, secure: boolean, maxAgeSec: number): string {
  const attributes = ["HttpOnly", "SameSite=Strict", "Path=/", `Max-Age=${Math.floor(maxAgeSec)}`];
  if (secure) attributes.push("Secure");
  return [`${sessionCookieName(secure)}=${token}`, ...attributes].join("; ");
}

/** A `Set-Cookie` value ending the session (an expired, empty cookie of the same name). */
export function endedSessionCookie(secure: boolean): string {
  const attributes = ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=0"];
  if (secure) attributes.push("Secure");
  return [`${sessionCookieName(secure)}=`, ...attributes].join("; ");
}

/** How long a session may last: SESSION_MAX_AGE_SEC, or less when the token expires sooner. */
export function sessionMaxAgeSec(expiresAtMs: number | undefined, nowMs: number): number {
  if (expiresAtMs === undefined) return SESSION_MAX_AGE_SEC;
  return Math.max(0, Math.min(SESSION_MAX_AGE_SEC, Math.floor((expiresAtMs - nowMs) / 1000)));
}
