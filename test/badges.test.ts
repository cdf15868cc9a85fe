/**
 * Status and uptime badges over HTTP, against a real daemon: what they say,
 * their headers and revalidation (ETag, 304), the `not found` badge, problems
 * for bad parameters, and admission with auth on (open_paths.badges).
 */
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UptimeLookup, UptimeSeconds, UptimeWindow } from "../src/api/badges/badges.js";
import { type RunningDaemon, startDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { ManualClock, startTestSimulator, tempDir, testConfig } from "./support/stack.js";

const SCENARIO = `
project: b
adapters:
  - { category: storage, provider: s3 }
  - { category: storage, provider: gcs }
  - { category: cache, provider: redis }
`;
const S3 = "b.adapter.storage.s3";
const GCS = "b.adapter.storage.gcs";
const REDIS = "b.adapter.cache.redis";
const READ_TOKEN = "badge-reader-token-0123456789";

/**
 * The health history as a table the test fills: the daemon under test reads
 * uptime through this interface, which the history store implements.
 */
class TableUptime implements UptimeLookup {
  readonly table = new Map<string, UptimeSeconds>();
  readonly asked: { adapterIds: readonly string[]; window: UptimeWindow }[] = [];
  uptime(adapterIds: readonly string[], window: UptimeWindow): UptimeSeconds {
    this.asked.push({ adapterIds: [...adapterIds], window });
    let up = 0;
    let down = 0;
    for (const id of adapterIds) {
      up += this.table.get(id)?.up_s ?? 0;
      down += this.table.get(id)?.down_s ?? 0;
    }
    return { up_s: up, down_s: down };
  }
}

interface Stack {
  dir: ReturnType<typeof tempDir>;
  clock: ManualClock;
  simulator: RunningSimulator;
  daemon: RunningDaemon;
  history: TableUptime;
  base: string;
}

async function startStack(extraYaml = ""): Promise<Stack> {
  const dir = tempDir();
  const clock = new ManualClock();
  const simulator = await startTestSimulator(SCENARIO, clock);
  const history = new TableUptime();
  const daemon = await startDaemon(
    testConfig(simulator.registryPort, join(dir.path, "healthd.db"), extraYaml),
    { logger: pino({ level: "silent" }), now: clock.now, sharedClock: clock.cell, uptime: history },
  );
  await daemon.checkAllNow();
  return {
    dir,
    clock,
    simulator,
    daemon,
    history,
    base: `http://127.0.0.1:${daemon.httpAddress.port}`,
  };
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  await stack?.daemon.stop();
  await stack?.simulator.stop();
  stack?.dir.remove();
}

/** A badge's answer: status, headers, and what it reads (its `<title>`) on which colour. */
async function badge(stack: Stack, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.base}${path}`, { headers });
  const body = await response.text();
  const fills = [...body.matchAll(/<rect [^>]*fill="(#[0-9a-f]+)"/g)].map((match) => match[1]);
  return {
    status: response.status,
    headers: response.headers,
    body,
    text: /<title>([^<]*)<\/title>/.exec(body)?.[1],
    color: fills[fills.length - 1],
  };
}

describe("badges over HTTP", () => {
  let stack: Stack;

  beforeEach(async () => {
    stack = await startStack();
  });

  afterEach(() => stopStack(stack));

  async function breakAdapter(adapterId: string) {
    stack.simulator.setBehaviour(adapterId, "down");
    await stack.daemon.checkAllNow();
    await stack.daemon.checkAllNow();
  }

  it("serves an adapter's status as an SVG that caches must revalidate", async () => {
    const answer = await badge(stack, `/v1/badges/${S3}.svg`);
    expect(answer).toMatchObject({ status: 200, text: `${S3}: healthy`, color: "#4c1" });
    expect(answer.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*role="img"/);
    expect(Object.fromEntries(answer.headers)).toMatchObject({
      "content-type": "image/svg+xml; charset=utf-8",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'",
      etag: expect.stringMatching(/^"[A-Za-z0-9_-]{27}"$/),
      "content-length": String(Buffer.byteLength(answer.body)),
    });
    await breakAdapter(S3);
    expect(await badge(stack, `/v1/badges/${S3}.svg`)).toMatchObject({
      text: `${S3}: unhealthy`,
      color: "#e05d44",
    });
  });

  it("answers 304 without a body while the badge is unchanged, and the new badge once it changes", async () => {
    const first = await badge(stack, `/v1/badges/${S3}.svg`);
    const etag = first.headers.get("etag") ?? "";
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await badge(stack, `/v1/badges/${S3}.svg`, { "if-none-match": ifNoneMatch });
      expect({ ifNoneMatch, status: again.status, body: again.body }).toEqual({
        ifNoneMatch,
        status: 304,
        body: "",
      });
      expect(again.headers.get("etag")).toBe(etag);
      expect(again.headers.get("cache-control")).toBe("no-cache");
    }
    // Another badge of the same adapter is another representation, with its own tag.
    const square = await badge(stack, `/v1/badges/${S3}.svg?style=flat-square`, {
      "if-none-match": etag,
    });
    expect(square.status).toBe(200);
    expect(square.headers.get("etag")).not.toBe(etag);

    await breakAdapter(S3);
    const changed = await badge(stack, `/v1/badges/${S3}.svg`, { "if-none-match": etag });
    expect(changed).toMatchObject({ status: 200, text: `${S3}: unhealthy` });
    expect(changed.headers.get("etag")).not.toBe(etag);

    const head = await fetch(`${stack.base}/v1/badges/${S3}.svg`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("etag")).toBe(changed.headers.get("etag"));
    expect(await head.text()).toBe("");
  });

  it("says maintenance in blue while an adapter is in maintenance", async () => {
    const put = await fetch(`${stack.base}/v1/adapters/${GCS}/maintenance`, {
      method: "PUT",
      body: JSON.stringify({ reason: "upgrade" }),
    });
    expect(put.status).toBe(200);
    expect(await badge(stack, `/v1/badges/${GCS}.svg?label=gcs`)).toMatchObject({
      status: 200,
      text: "gcs: maintenance",
      color: "#007ec6",
    });
  });

  it("counts a category's healthy adapters, on the colour of the worst", async () => {
    expect(await badge(stack, "/v1/badges/category/storage.svg")).toMatchObject({
      status: 200,
      text: "storage: 2/2 healthy",
      color: "#4c1",
    });
    await breakAdapter(S3);
    expect(await badge(stack, "/v1/badges/category/storage.svg?domain=adapter")).toMatchObject({
      status: 200,
      text: "adapter/storage: 1/2 healthy",
      color: "#e05d44",
    });
    expect(await badge(stack, "/v1/badges/category/cache.svg")).toMatchObject({
      text: "cache: 1/1 healthy",
    });
  });

  it("gives uptime from the history, for an adapter and summed over a category", async () => {
    stack.history.table.set(S3, { up_s: 86_356.8, down_s: 43.2 });
    stack.history.table.set(GCS, { up_s: 86_400, down_s: 0 });
    expect(await badge(stack, `/v1/badges/${S3}.svg?kind=uptime`)).toMatchObject({
      status: 200,
      text: `${S3} uptime 24h: 99.95%`,
      color: "#4c1",
    });
    expect(
      await badge(stack, "/v1/badges/category/storage.svg?kind=uptime&window=7d&label=storage"),
    ).toMatchObject({ text: "storage: 99.97%", color: "#4c1" });
    expect(await badge(stack, `/v1/badges/${REDIS}.svg?kind=uptime&window=90d`)).toMatchObject({
      text: `${REDIS} uptime 90d: no data`,
      color: "#9f9f9f",
    });
    expect(stack.history.asked).toEqual([
      { adapterIds: [S3], window: "24h" },
      { adapterIds: [GCS, S3], window: "7d" },
      { adapterIds: [REDIS], window: "90d" },
    ]);
  });

  it("answers an unknown adapter or an empty category with a `not found` badge and 404", async () => {
    for (const [path, text] of [
      ["/v1/badges/b.adapter.storage.nope.svg", "b.adapter.storage.nope: not found"],
      ["/v1/badges/category/mail.svg", "mail: not found"],
      ["/v1/badges/category/cache.svg?domain=other", "other/cache: not found"],
      ["/v1/badges/nope.svg?kind=uptime", "nope: not found"],
    ] as const) {
      const answer = await badge(stack, path);
      expect({ path, status: answer.status, text: answer.text, color: answer.color }).toEqual({
        path,
        status: 404,
        text,
        color: "#9f9f9f",
      });
      expect(answer.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
      expect(answer.headers.get("etag")).toBeNull();
    }
  });

  it("answers bad parameters with the API's 400 problem, naming the parameter", async () => {
    const cases = [
      [`/v1/badges/${S3}.svg?colour=red`, "UNKNOWN_PARAMETER", "colour"],
      [`/v1/badges/${S3}.svg?kind=latency`, "INVALID_PARAMETER", "kind"],
      [`/v1/badges/${S3}.svg?kind=uptime&window=2d`, "INVALID_PARAMETER", "window"],
      [`/v1/badges/${S3}.svg?window=7d`, "INVALID_PARAMETER", "window"],
      [`/v1/badges/${S3}.svg?label=${"x".repeat(65)}`, "INVALID_PARAMETER", "label"],
      [`/v1/badges/${S3}.svg?style=plastic`, "INVALID_PARAMETER", "style"],
      [`/v1/badges/${S3}.svg?style=flat&style=flat`, "INVALID_PARAMETER", "style"],
      ["/v1/badges/category/storage.svg?domian=adapter", "UNKNOWN_PARAMETER", "domian"],
      ["/v1/badges/%zz.svg", "INVALID_PARAMETER", "adapter_id"],
      ["/v1/badges/category/%zz.svg", "INVALID_PARAMETER", "category"],
    ] as const;
    for (const [path, code, parameter] of cases) {
      const response = await fetch(`${stack.base}${path}`);
      expect({ path, status: response.status, type: response.headers.get("content-type") }).toEqual(
        { path, status: 400, type: "application/problem+json" },
      );
      expect({ path, body: await response.json() }).toMatchObject({
        path,
        body: { code, parameter },
      });
    }
    const unknown = await fetch(`${stack.base}/v1/badges/${S3}.svg?lable=s3`);
    expect(((await unknown.json()) as { detail: string }).detail).toBe(
      'unknown parameter "lable" (did you mean "label"?)',
    );
  });
});

describe("badges with auth on", () => {
  const auth = (openBadges: boolean) => `  auth:
    enabled: true
    tokens: [{ name: reader, token: ${READ_TOKEN}, scopes: [read] }]
    open_paths: { badges: ${openBadges} }
  limits: { requests_per_sec: 0 }
`;
  let closed: Stack;
  let open: Stack;

  beforeAll(async () => {
    closed = await startStack(auth(false));
    open = await startStack(auth(true));
  });

  afterAll(async () => {
    await stopStack(closed);
    await stopStack(open);
  });

  it("need a read token like every other route by default", async () => {
    for (const path of [`/v1/badges/${S3}.svg`, "/v1/badges/category/storage.svg"]) {
      const refused = await fetch(`${closed.base}${path}`);
      expect({ path, status: refused.status }).toEqual({ path, status: 401 });
      expect(((await refused.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
      const admitted = await badge(closed, path, { authorization: `Bearer ${READ_TOKEN}` });
      expect({ path, status: admitted.status }).toEqual({ path, status: 200 });
    }
  });

  it("answer without a token with open_paths.badges, which opens nothing else", async () => {
    expect(await badge(open, `/v1/badges/${S3}.svg`)).toMatchObject({
      status: 200,
      text: `${S3}: healthy`,
    });
    expect(await badge(open, "/v1/badges/category/nope.svg")).toMatchObject({ status: 404 });
    expect((await fetch(`${open.base}/v1/adapters/${S3}`)).status).toBe(401);
  });
});
