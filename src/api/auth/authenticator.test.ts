import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ApiError } from "../api-error.js";
import { AccessControl, challengeHeaders } from "./access-control.js";
import { Authenticator, type Principal } from "./authenticator.js";

const SECRET = "unit-test-hs256-secret-0123456789abcdef";

async function es256Setup() {
  const pair = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "ec-1", alg: "ES256" };
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "ec-1" })
      .setSubject("robot")
      .setExpirationTime("5m")
      .sign(pair.privateKey);
  return { jwks: { keys: [jwk] }, sign };
}

const principal = (result: Principal | ApiError): Principal => {
  if (result instanceof ApiError) throw result;
  return result;
};

describe("Authenticator", () => {
  it("accepts ES256 tokens from the JWKS, reading scopes from the configured claim", async () => {
    const { jwks, sign } = await es256Setup();
    const auth = new Authenticator({ tokens: [], jwt: { jwks, scopeClaim: "permissions" } });
    const found = principal(
      await auth.authenticate(`Bearer ${await sign({ permissions: ["admin", "other"] })}`),
    );
    expect(found.name).toBe("jwt:robot");
    // admin includes read; unknown scopes grant nothing.
    expect([...found.scopes].sort()).toEqual(["admin", "read"]);
    const none = principal(await auth.authenticate(`Bearer ${await sign({ scope: "admin" })}`));
    expect(none.scopes.size).toBe(0);
  });

  it("pins algorithms: an HS256 token is refused when only public keys are configured", async () => {
    const { jwks } = await es256Setup();
    const auth = new Authenticator({ tokens: [], jwt: { jwks, scopeClaim: "scope" } });
    const hs = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));
    const result = await auth.authenticate(`Bearer ${hs}`);
    expect(result).toBeInstanceOf(ApiError);
    expect((result as ApiError).message).toBe("token algorithm not accepted");
  });

  it("matches static tokens exactly, and treats the scheme case-insensitively", async () => {
    const auth = new Authenticator({
      tokens: [{ name: "ci", token: "static-token-0123456789", scopes: ["read"] }],
    });
    expect(principal(await auth.authenticate("bearer static-token-0123456789")).name).toBe("ci");
    for (const header of ["Bearer static-token-012345678", "Bearer static-token-01234567890"]) {
      expect(await auth.authenticate(header)).toBeInstanceOf(ApiError);
    }
  });
});

describe("AccessControl", () => {
  it("lets everything in when auth is off, and open routes without a token when on", async () => {
    const off = new AccessControl();
    expect(
      await off.admit({
        authorization: undefined,
        clientAddress: "::1",
        requirement: "admin",
        rateLimited: true,
      }),
    ).toEqual({ principal: undefined });
    const on = new AccessControl({ authenticator: new Authenticator({ tokens: [] }) });
    expect(
      await on.admit({
        authorization: undefined,
        clientAddress: "::1",
        requirement: "open",
        rateLimited: true,
      }),
    ).toEqual({ principal: undefined });
    const refused = await on.admit({
      authorization: undefined,
      clientAddress: "::1",
      requirement: "read",
      rateLimited: true,
    });
    expect(refused).toBeInstanceOf(ApiError);
    expect(challengeHeaders(refused as ApiError)).toEqual({
      "www-authenticate": 'Bearer realm="oneiric-healthd"',
    });
  });

  it("escapes quotes in a challenge's description", () => {
    const error = new ApiError("UNAUTHENTICATED", 'token has no "exp" claim', {
      bearer_error: "invalid_token",
    });
    expect(challengeHeaders(error)["www-authenticate"]).toBe(
      'Bearer realm="oneiric-healthd", error="invalid_token", error_description="token has no \\"exp\\" claim"',
    );
  });
});
