import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../../../src/main.js";
import type { RunningSimulator } from "../../../src/simulator/simulator.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "../../support/stack.js";

/**
 * Every parameter of every HTTP route (docs/http-api.md, /openapi.json), fed
 * random values against a real daemon: the answer is a 2xx, or a 4xx problem
 * that names what was wrong; never a 5xx, never a hang, and the server keeps
 * answering.
 */

const SCENARIO = `
project: h
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis }
`;
const KNOWN_ID = "h.adapter.storage.s3";

/** Values a client might send by mistake or on purpose. */
const valueArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  // Percent signs that do not start a valid escape, where a path or query decodes them.
  fc
    .tuple(
      fc.string({ maxLength: 5 }),
      fc.constantFrom("%", "%z", "%zz", "%E0%A4%A", "%%", "%C0%80", "%ED%A0%80"),
      fc.string({ maxLength: 5 }),
    )
    .map((parts) => parts.join("")),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom(
    "",
    " ",
    "true",
    "false",
    "1",
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "9007199254740993",
    "0x10",
    "healthy",
    "unknown",
    "adapter",
    "storage",
    KNOWN_ID,
    "%",
    "%zz",
    "%00",
    "../..",
    "null",
    "{}",
    "[]",
    "2026-11-27T06:00:00Z",
    "2000-01-01T00:00:00Z",
    "<script>",
  ),
  // Huge, but under the 16 KiB of headers Node.js reads before it answers 431 itself.
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 257, max: 3000 }))
    .map(([piece, times]) => piece.repeat(times).slice(0, 12_000)),
);

interface Sent {
  method: "GET" | "PUT" | "DELETE" | "POST";
  path: string;
  body?: string;
}

interface ParameterCase {
  name: string;
  /** The request carrying `value` in the parameter, the others valid. */
  request: (value: string) => Sent;
  /** What a problem about this parameter may call it. */
  names: readonly string[];
}

const query = (path: string, parameters: Record<string, string>) =>
  `${path}?${new URLSearchParams(parameters).toString()}`;

const RESOLVE_BASE = { domain: "adapter", category: "storage" };

const CASES: ParameterCase[] = [
  ...["project", "domain", "category", "provider", "status", "healthy_only"].map((name) => ({
    name: `GET /v1/adapters ?${name}`,
    request: (value: string): Sent => ({
      method: "GET",
      path: query("/v1/adapters", { [name]: value }),
    }),
    names: [name],
  })),
  ...["domain", "category", "provider", "project", "panic", "limit"].map((name) => ({
    name: `GET /v1/resolve ?${name}`,
    request: (value: string): Sent => ({
      method: "GET",
      path: query("/v1/resolve", { ...RESOLVE_BASE, [name]: value }),
    }),
    names: [name],
  })),
  ...["domain", "category", "provider", "project", "panic", "limit"].map((name) => ({
    name: `POST /v1/resolve body requirements[].${name}`,
    request: (value: string): Sent => ({
      method: "POST",
      path: "/v1/resolve",
      body: JSON.stringify({ requirements: [{ ...RESOLVE_BASE, [name]: value }] }),
    }),
    names: [`requirements.0.${name}`],
  })),
  ...["since", "limit"].map((name) => ({
    name: `GET /v1/events ?${name}`,
    request: (value: string): Sent => ({
      method: "GET",
      path: query("/v1/events", { [name]: value }),
    }),
    names: [name],
  })),
  ...["", "/health", "/maintenance"].flatMap((suffix) =>
    (suffix === "/maintenance" ? (["PUT", "DELETE"] as const) : (["GET"] as const)).map(
      (method) => ({
        name: `${method} /v1/adapters/{adapter_id}${suffix}`,
        request: (value: string): Sent => ({
          method,
          path: `/v1/adapters/${encodeURIComponent(value)}${suffix}`,
        }),
        names: ["adapter_id"],
      }),
    ),
  ),
  {
    name: "GET /v1/adapters/{adapter_id} with the id as typed (stray % signs and all)",
    request: (value) => ({ method: "GET", path: `/v1/adapters/${value}` }),
    names: ["adapter_id"],
  },
  {
    name: "GET /v1/adapters/{adapter_id} with the id not percent-encoded",
    request: (value) => ({ method: "GET", path: `/v1/adapters/${encodeURI(value)}` }),
    names: ["adapter_id"],
  },
  ...["until", "reason"].map((name) => ({
    name: `PUT /v1/adapters/{adapter_id}/maintenance body ${name}`,
    request: (value: string): Sent => ({
      method: "PUT",
      path: `/v1/adapters/${KNOWN_ID}/maintenance`,
      body: JSON.stringify({ [name]: value }),
    }),
    names: [name],
  })),
  ...["/v1/adapters", "/v1/resolve", "/v1/events", "/v1/health", `/v1/adapters/${KNOWN_ID}`].map(
    (path) => ({
      name: `GET ${path} with an unknown or repeated parameter`,
      request: (value: string): Sent => ({
        method: "GET",
        path: `${query(path, path === "/v1/resolve" ? RESOLVE_BASE : {})}&${new URLSearchParams([
          [value, "x"],
          [value, "y"],
        ]).toString()}`,
      }),
      names: [],
    }),
  ),
  ...["/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/health"].map((path) => ({
    name: `GET ${path} with random query text`,
    request: (value: string): Sent => ({
      method: "GET",
      path: `${path}?${encodeURIComponent(value)}=${encodeURIComponent(value)}`,
    }),
    names: [],
  })),
];

/** Generous: the machine is shared and busy; a hang, not slowness, is what this catches. */
const ANSWER_WITHIN_MS = 10_000;
const RUNS_PER_CASE = 30;

describe("every HTTP parameter against a real daemon", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon;
  let base: string;

  beforeAll(async () => {
    dir = tempDir();
    const clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
    daemon = await startTestDaemon(
      testConfig(
        simulator.registryPort,
        join(dir.path, "healthd.db"),
        // Thousands of requests from one client: the rate limit is another test's subject.
        "  limits: { requests_per_sec: 0 }\n",
      ),
      clock,
    );
    base = `http://127.0.0.1:${daemon.httpAddress.port}`;
    await daemon.checkAllNow();
  });

  afterAll(async () => {
    await daemon?.stop();
    await simulator?.stop();
    dir?.remove();
  });

  async function send(sent: Sent) {
    const response = await fetch(`${base}${sent.path}`, {
      method: sent.method,
      ...(sent.body === undefined
        ? {}
        : { body: sent.body, headers: { "content-type": "application/json" } }),
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    const text = await response.text();
    return { status: response.status, type: response.headers.get("content-type") ?? "", text };
  }

  it.each(CASES)(
    "$name: 2xx, or a 4xx problem naming what is wrong",
    async ({ request, names }) => {
      await fc.assert(
        fc.asyncProperty(valueArbitrary, async (value) => {
          const sent = request(value);
          const answer = await send(sent);
          // Node.js refuses a request line and headers over 16 KiB itself, before the daemon
          // sees it. The line's length is the URL as the client writes it (the URL parser
          // percent-encodes characters such as ' in the query, tripling them).
          const written = new URL(sent.path, base);
          const lineLength = written.pathname.length + written.search.length;
          if (lineLength > 16 * 1024) expect(answer.status).toBe(431);
          if (answer.status === 431) {
            expect(lineLength).toBeGreaterThan(15 * 1024);
            return;
          }
          const where = `${sent.method} ${sent.path} ${sent.body ?? ""} -> ${answer.status} ${answer.text.slice(0, 300)}`;
          expect(answer.status, where).toBeLessThan(500);
          if (answer.status === 200 && sent.path.startsWith("/metrics")) return;
          if (answer.status < 300 && answer.type.startsWith("text/html")) {
            // Dot segments in a typed id (`../..`) take the URL out of /v1/ before it is sent
            // (the client resolves them): the status page answers at / and its files at /ui/.
            expect(written.pathname === "/" || written.pathname.startsWith("/ui/"), where).toBe(
              true,
            );
            return;
          }
          const body = JSON.parse(answer.text);
          if (answer.status < 300) return;
          expect(answer.status, where).toBeGreaterThanOrEqual(400);
          expect(answer.type, where).toContain("application/problem+json");
          expect(body.status, where).toBe(answer.status);
          expect(typeof body.code, where).toBe("string");
          expect(typeof body.detail, where).toBe("string");
          if (body.code === "INVALID_PARAMETER" || body.code === "UNKNOWN_PARAMETER") {
            const sentNames = new Set([...names, ...queryNames(sent.path)]);
            expect(sentNames.has(body.parameter), where).toBe(true);
            // Names given by the case are the only ones that were not valid.
            if (names.length > 0 && !body.code.startsWith("UNKNOWN")) {
              expect(names, where).toContain(body.parameter);
            }
            expect(body.detail, where).toContain(
              body.code === "UNKNOWN_PARAMETER" ? JSON.stringify(body.parameter) : body.parameter,
            );
          } else if (body.code === "ADAPTER_NOT_FOUND") {
            expect(names, where).toContain("adapter_id");
            expect(typeof body.adapter_id, where).toBe("string");
          } else {
            // Anything else is one of these, each for a reason the request shows (an id of
            // "." or ".." is a dot segment the client resolves away, leaving another route,
            // which may not take the method).
            expect(
              ["NOT_FOUND", "CURSOR_EXPIRED", "MALFORMED_JSON", "METHOD_NOT_ALLOWED"],
              where,
            ).toContain(body.code);
          }
        }),
        // `../..` every time: as an id it resolves to the status page at /, which CI once drew.
        { numRuns: RUNS_PER_CASE, examples: [["../.."]] },
      );
      // The server still answers, and correctly.
      const health = await send({ method: "GET", path: "/healthz" });
      expect(health).toMatchObject({ status: 200 });
      const one = await send({ method: "GET", path: `/v1/adapters/${KNOWN_ID}` });
      expect(JSON.parse(one.text)).toMatchObject({ adapter_id: KNOWN_ID });
    },
  );

  it("answers a URL over Node.js's header limit with 431 and keeps answering", async () => {
    const answer = await send({
      method: "GET",
      path: `/v1/adapters?project=${"p".repeat(70_000)}`,
    });
    expect(answer.status).toBe(431);
    expect((await send({ method: "GET", path: "/healthz" })).status).toBe(200);
  });
});

function queryNames(path: string): string[] {
  const at = path.indexOf("?");
  return at < 0 ? [] : [...new URLSearchParams(path.slice(at + 1)).keys()];
}
