/**
 * The status page's files and its login, over real HTTP against a running
 * daemon: security headers, ETag revalidation, and the session cookie that
 * admits `read` and nothing more (test/status-page.browser.test.ts drives the
 * page itself in a browser).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EVENT_TYPES_MODULE,
  PAGE_CONTENT_SECURITY_POLICY,
  WEB_DIRECTORY,
} from "../src/api/http/page-assets.js";
import { EVENT_TYPES } from "../src/domain/events.js";
import { startTestStack, stopTestStack, type TestStack } from "./support/stack.js";

const SCENARIO = `
project: page
adapters:
  - { category: storage, provider: s3 }
`;
const READ_TOKEN = "page-reader-token-0123456789";
const ADMIN_TOKEN = "page-operator-token-0123456789";
const HS256_SECRET = "page-hs256-secret-0123456789abcdef-0123456789";

type Stack = TestStack;

const startStack = (extraYaml = ""): Promise<Stack> => startTestStack(SCENARIO, extraYaml, 1);

// biome-ignore lint/suspicious/noExplicitAny: assertions inspect answer bodies structurally
const json = (response: Response): Promise<any> => response.json();

const stopStack = stopTestStack;

describe("the status page's files", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stopStack(stack));

  it("serves index.html at / with the security headers and no-cache", async () => {
    const response = await fetch(`${stack.base}/`);
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    expect(response.headers.get("content-security-policy")).toBe(PAGE_CONTENT_SECURITY_POLICY);
    expect(await response.text()).toBe(readFileSync(join(WEB_DIRECTORY, "index.html"), "utf8"));
  });

  it("holds no inline script or style that the policy would block", () => {
    const html = readFileSync(join(WEB_DIRECTORY, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("answers If-None-Match with 304 and the same ETag, and a changed one with the file", async () => {
    const first = await fetch(`${stack.base}/ui/app.js`);
    expect(first.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const again = await fetch(`${stack.base}/ui/app.js`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(await again.text()).toBe("");
    const other = await fetch(`${stack.base}/ui/app.js`, {
      headers: { "if-none-match": '"something-else"' },
    });
    expect(other.status).toBe(200);
    expect((await fetch(`${stack.base}/ui/style.css`)).headers.get("content-type")).toBe(
      "text/css; charset=utf-8",
    );
  });

  it("serves the page's event types from the daemon's one list, as a module app.js imports", async () => {
    const response = await fetch(`${stack.base}/ui/${EVENT_TYPES_MODULE}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("etag")).toMatch(/^"[\w-]{22}"$/);
    const module = await response.text();
    const listed = JSON.parse(/export const EVENT_TYPES = (\[.*\]);/.exec(module)?.[1] ?? "null");
    expect(listed).toEqual([...EVENT_TYPES]);
    expect(readFileSync(join(WEB_DIRECTORY, "app.js"), "utf8")).toContain(
      `import { EVENT_TYPES } from "./${EVENT_TYPES_MODULE}";`,
    );
  });

  it("serves only the page's own files, by name", async () => {
    for (const path of ["/ui/nope.js", "/ui/..%2Fpackage.json", "/ui/../package.json", "/ui/"]) {
      const response = await fetch(`${stack.base}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it("answers POST /v1/session with 404 while authentication is off", async () => {
    const response = await fetch(`${stack.base}/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: READ_TOKEN }),
    });
    expect(response.status).toBe(404);
    expect((await json(response)).detail).toContain("authentication is off");
  });
});

describe("the status page with authentication on", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(`  auth:
    enabled: true
    tokens:
      - { name: reader, token: ${READ_TOKEN}, scopes: [read] }
      - { name: operator, token: ${ADMIN_TOKEN}, scopes: [admin] }
    jwt: { hs256_secret: ${HS256_SECRET} }
`);
  });
  afterAll(() => stopStack(stack));

  const login = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.base}/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      redirect: "manual",
    });
  const cookieOf = (response: Response) =>
    (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

  it("serves the page without a token, and the data only with one", async () => {
    expect((await fetch(`${stack.base}/`)).status).toBe(200);
    expect((await fetch(`${stack.base}/ui/app.js`)).status).toBe(200);
    expect((await fetch(`${stack.base}/v1/adapters`)).status).toBe(401);
  });

  it("sets an HttpOnly SameSite=Strict cookie for a good token, which reads but never administers", async () => {
    const response = await login(JSON.stringify({ token: ADMIN_TOKEN }));
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ principal: "operator", scopes: ["read"] });
    expect(response.headers.get("set-cookie")).toBe(
      `oneiric_healthd_session=${ADMIN_TOKEN}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800`,
    );
    const cookie = cookieOf(response);
    const list = await fetch(`${stack.base}/v1/adapters`, { headers: { cookie } });
    expect(list.status).toBe(200);
    expect((await json(list)).adapters).toHaveLength(1);
    // The same admin token in a cookie does not open an admin route: a cross-site request could carry it.
    const invalidate = await fetch(`${stack.base}/v1/cache/invalidate`, {
      method: "POST",
      headers: { cookie },
    });
    expect(invalidate.status).toBe(403);
    expect((await json(invalidate)).detail).toContain("a session cookie never grants");
    const withHeader = await fetch(`${stack.base}/v1/cache/invalidate`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, cookie },
    });
    expect(withHeader.status).toBe(200);
  });

  it("refuses a wrong token, a malformed one and another site's Origin", async () => {
    const wrong = await login(JSON.stringify({ token: "not-a-configured-token-0123" }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const malformed = await login(JSON.stringify({ token: "has spaces; and=semicolons" }));
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: "INVALID_PARAMETER", parameter: "token" });
    const missing = await login(JSON.stringify({}));
    expect(await missing.json()).toMatchObject({ parameter: "token" });
    const crossSite = await login(JSON.stringify({ token: READ_TOKEN }), {
      origin: "https://elsewhere.example",
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("set-cookie")).toBeNull();
    const sameSite = await login(JSON.stringify({ token: READ_TOKEN }), {
      origin: stack.base,
    });
    expect(sameSite.status).toBe(200);
  });

  it("ends a JWT's session no later than its exp", async () => {
    const expiresInSec = 600;
    const jwt = await new SignJWT({ scope: "read" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("page-viewer")
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSec)
      .sign(new TextEncoder().encode(HS256_SECRET));
    const response = await login(JSON.stringify({ token: jwt }));
    expect(response.status).toBe(200);
    const maxAge = Number(/Max-Age=(\d+)/.exec(response.headers.get("set-cookie") ?? "")?.[1]);
    expect(maxAge).toBeGreaterThan(expiresInSec - 30);
    expect(maxAge).toBeLessThanOrEqual(expiresInSec);
  });

  it("takes a form's post and answers it with a redirect to the page", async () => {
    const response = await fetch(`${stack.base}/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: READ_TOKEN }).toString(),
      redirect: "manual",
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    expect(response.headers.get("set-cookie")).toMatch(/^oneiric_healthd_session=/);
  });

  it("clears the cookie on DELETE /v1/session", async () => {
    const response = await fetch(`${stack.base}/v1/session`, { method: "DELETE" });
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toBe(
      "oneiric_healthd_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
    );
  });
});
