import {
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createJwtGuard } from "./jwt-guard.js";

const SECRET = "simulator-test-secret-0123456789abcdef";
const NOW_MS = 1_800_000_000_000;
const NOW_SEC = NOW_MS / 1000;

function sign(
  claims: Record<string, unknown>,
  options: { secret?: string; alg?: string; exp?: number } = {},
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuedAt(NOW_SEC)
    .setExpirationTime(options.exp ?? NOW_SEC + 300);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

function bearer(value: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", value);
  return metadata;
}

const guard = createJwtGuard({ secret: SECRET, now: () => NOW_MS });
const projectGuard = createJwtGuard({ secret: SECRET, project: "mahavishnu", now: () => NOW_MS });

describe("createJwtGuard.check", () => {
  it("accepts a valid HS256 token", async () => {
    expect(await guard.check(bearer(`Bearer ${await sign({ sub: "healthd" })}`))).toBeUndefined();
  });

  it("accepts the scheme case-insensitively", async () => {
    expect(await guard.check(bearer(`bearer ${await sign({})}`))).toBeUndefined();
  });

  it.each([
    ["no authorization metadata", new Metadata()],
    ["an empty value", bearer("")],
    ["another scheme", bearer("Basic dXNlcjpwYXNz")],
    ["a scheme without a token", bearer("Bearer ")],
  ])("answers missing bearer token for %s", async (_name, metadata) => {
    expect(await guard.check(metadata)).toEqual({
      code: status.UNAUTHENTICATED,
      details: "missing bearer token",
    });
  });

  it("names a bad signature without echoing token or secret", async () => {
    const token = await sign({}, { secret: "some-other-secret-value-abcdefgh" });
    const failure = await guard.check(bearer(`Bearer ${token}`));
    expect(failure).toEqual({ code: status.UNAUTHENTICATED, details: "token signature invalid" });
    expect(failure?.details).not.toContain(token);
    expect(failure?.details).not.toContain(SECRET);
  });

  it("names an expired token, judged by the injected clock", async () => {
    const token = await sign({}, { exp: NOW_SEC - 1 });
    expect(await guard.check(bearer(`Bearer ${token}`))).toEqual({
      code: status.UNAUTHENTICATED,
      details: "token expired",
    });
    const earlier = createJwtGuard({ secret: SECRET, now: () => NOW_MS - 10_000 });
    expect(await earlier.check(bearer(`Bearer ${token}`))).toBeUndefined();
  });

  it("names a token that is not yet valid", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setNotBefore(NOW_SEC + 60)
      .sign(new TextEncoder().encode(SECRET));
    expect((await guard.check(bearer(`Bearer ${token}`)))?.details).toBe("token not yet valid");
  });

  it.each([
    ["garbage", "not-a-jwt"],
    ["two segments", "abc.def"],
    ["bad base64 JSON header", "e30x.e30.c2ln"],
  ])("names a malformed token (%s)", async (_name, token) => {
    expect(await guard.check(bearer(`Bearer ${token}`))).toEqual({
      code: status.UNAUTHENTICATED,
      details: "token malformed",
    });
  });

  it("refuses algorithms other than HS256", async () => {
    const token = await sign({}, { alg: "HS512" });
    expect((await guard.check(bearer(`Bearer ${token}`)))?.details).toBe(
      "token algorithm not allowed, expected HS256",
    );
  });

  it("refuses an unsecured (alg none) token", async () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const token = `${part({ alg: "none" })}.${part({ exp: NOW_SEC + 300 })}.`;
    expect((await guard.check(bearer(`Bearer ${token}`)))?.details).toBe(
      "token algorithm not allowed, expected HS256",
    );
  });

  it("requires the configured project claim", async () => {
    expect(
      await projectGuard.check(bearer(`Bearer ${await sign({ project: "mahavishnu" })}`)),
    ).toBeUndefined();
    expect(
      await projectGuard.check(bearer(`Bearer ${await sign({ project: "crackerjack" })}`)),
    ).toEqual({
      code: status.UNAUTHENTICATED,
      details: 'token project "crackerjack" does not match "mahavishnu"',
    });
    expect((await projectGuard.check(bearer(`Bearer ${await sign({})}`)))?.details).toBe(
      'token has no project claim, expected "mahavishnu"',
    );
    expect(
      (await projectGuard.check(bearer(`Bearer ${await sign({ project: 7 })}`)))?.details,
    ).toBe('token project (not a string) does not match "mahavishnu"');
  });

  it("quotes and truncates a hostile project claim", async () => {
    const project = `evil\n${"x".repeat(500)}`;
    const details = (await projectGuard.check(bearer(`Bearer ${await sign({ project })}`)))
      ?.details;
    expect(details).not.toContain("\n");
    expect(details?.length).toBeLessThan(150);
    expect(details).toMatch(/^token project "evil\\nx+…" does not match "mahavishnu"$/);
  });

  it("refuses an empty secret", () => {
    expect(() => createJwtGuard({ secret: "" })).toThrow(/must not be empty/);
  });
});

describe("createJwtGuard.unary", () => {
  function call(metadata: Metadata): ServerUnaryCall<string, string> {
    return { metadata, request: "ping" } as unknown as ServerUnaryCall<string, string>;
  }

  function invoke(
    handler: handleUnaryCall<string, string>,
    metadata: Metadata,
  ): Promise<{ error: Partial<StatusObject> | null; value: string | null | undefined }> {
    return new Promise((resolve) => {
      handler(call(metadata), (error, value) => resolve({ error, value }));
    });
  }

  it("runs the handler only after the token checks out", async () => {
    let ran = 0;
    const handler = guard.unary<string, string>((c, callback) => {
      ran++;
      callback(null, `${c.request}: pong`);
    });
    expect(await invoke(handler, new Metadata())).toEqual({
      error: { code: status.UNAUTHENTICATED, details: "missing bearer token" },
      value: undefined,
    });
    expect(ran).toBe(0);
    expect(await invoke(handler, bearer(`Bearer ${await sign({})}`))).toEqual({
      error: null,
      value: "ping: pong",
    });
    expect(ran).toBe(1);
  });

  it("answers INTERNAL when the wrapped handler throws", async () => {
    const handler = guard.unary<string, string>(() => {
      throw new Error("table exploded");
    });
    const { error } = await invoke(handler, bearer(`Bearer ${await sign({})}`));
    expect(error).toEqual({ code: status.INTERNAL, details: "table exploded" });
  });
});
