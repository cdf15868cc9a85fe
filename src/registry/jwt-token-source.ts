import { SignJWT } from "jose";

export interface JwtSettings {
  secret: string;
  project: string | undefined;
  /** Lifetime of each token. */
  ttlMs: number;
}

/**
 * Signs short-lived HS256 tokens for registry calls and reuses each one until it
 * nears expiry: renewed once less than a fifth of its life (at least 10 s) is left,
 * so a call never leaves with a token about to lapse in flight.
 */
export class JwtTokenSource {
  private current: { token: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly key: Uint8Array;

  constructor(
    private readonly settings: JwtSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.key = new TextEncoder().encode(settings.secret);
  }

  token(): Promise<string> {
    const margin = Math.max(10_000, this.settings.ttlMs / 5);
    if (this.current && this.current.expiresAt - this.now() > margin) {
      return Promise.resolve(this.current.token);
    }
    this.pending ??= this.sign().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async sign(): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = issuedAt + Math.max(1, Math.floor(this.settings.ttlMs / 1000));
    const claims = this.settings.project === undefined ? {} : { project: this.settings.project };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("oneiric-healthd")
      .setSubject(this.settings.project ?? "oneiric-healthd")
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.key);
    this.current = { token, expiresAt: expiresAt * 1000 };
    return token;
  }
}
