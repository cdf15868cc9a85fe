/**
 * The status page in a real browser: Debian's chromium (/usr/bin/chromium, which
 * .ci/run installs when missing) driven by playwright-core, which downloads no
 * browser of its own. The simulator and the daemon run here as in the other
 * end-to-end tests; the page is opened at `/` and watched as adapters die,
 * fail over and go into maintenance. With UPDATE_SCREENSHOTS=1 it saves the
 * light and dark screenshots docs/status-page.md shows.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SseClient } from "./support/sse-client.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  startTestStack,
  stopTestStack,
  type TestStack,
  tempDir,
  testConfig,
} from "./support/stack.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = join(import.meta.dirname, "..", "docs", "images");
/** The goal: the row turns within 2 s of the daemon's health_changed event. */
const DELIVERY_GOAL_MS = 2_000;

const SCENARIO = `
project: board
adapters:
  - { category: storage, provider: s3, capabilities: [read, write, delete, list] }
  - { category: storage, provider: gcs, capabilities: [read, write, delete, list] }
  - { category: storage, provider: file, behaviour: slow, slow_ms: 400 }
  - { category: storage, provider: sqlite, behaviour: down }
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached }
  - { category: orchestration, provider: prefect }
  - { category: orchestration, provider: airflow, behaviour: down, registry_status: healthy }
  - { category: memory, provider: chroma }
`;
const S3 = "board.adapter.storage.s3";
const GCS = "board.adapter.storage.gcs";
const SQLITE = "board.adapter.storage.sqlite";
const REDIS = "board.adapter.cache.redis";
const READ_TOKEN = "browser-reader-token-0123456789";

type Stack = TestStack;

/** The browser's clock is the real one: so is the daemon's (the stack's clock starts at now), for the ages the page shows. */
const startStack = (extraYaml = ""): Promise<Stack> => startTestStack(SCENARIO, extraYaml, 2);

const stopStack = stopTestStack;

/** An adapter down for the daemon: the simulator's endpoint fails, and enough checks run. */
async function kill(stack: Stack, adapterId: string): Promise<void> {
  stack.simulator.setBehaviour(adapterId, "down");
  await stack.daemon.checkAllNow();
  await stack.daemon.checkAllNow();
}

const row = (page: Page, adapterId: string) => page.locator(`tr[data-adapter-id="${adapterId}"]`);

/**
 * What the functions run in the page use of it: this project's TypeScript has no
 * DOM library (its code runs on Node), so they name the browser's globals here.
 */
interface PageNode {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageNode | null;
}
interface PageGlobals {
  document: {
    getElementById(id: string): PageNode | null;
    activeElement: PageNode | null;
    cookie: string;
  };
  performance: { timeOrigin: number; now(): number };
  MutationObserver: new (
    callback: () => void,
  ) => { observe(target: PageNode, options: Record<string, boolean>): void };
  turnedAtMs?: number;
  sameDocument?: boolean;
}

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  }
  browser = await chromium.launch({ executablePath: CHROMIUM });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** A fresh page that records every Content-Security-Policy complaint and script error. */
async function openPage(base: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${base}/`);
  return { page, problems };
}

describe("the status page", () => {
  let stack: Stack;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    stack = await startStack();
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(() => stopStack(stack));

  it("shows every adapter, turns a dying one unhealthy live, fails over, and shows maintenance as maintenance", async () => {
    const { page, problems } = await openPage(stack.base);
    const listed = (await (await fetch(`${stack.base}/v1/adapters`)).json()) as {
      adapters: { adapter_id: string; status: string; category: string }[];
    };
    expect(listed.adapters).toHaveLength(9);
    await expect.poll(() => page.locator("tr[data-adapter-id]").count()).toBe(9);
    for (const adapter of listed.adapters) {
      expect({
        id: adapter.adapter_id,
        status: await row(page, adapter.adapter_id).getAttribute("data-status"),
        category: await row(page, adapter.adapter_id)
          .locator("xpath=ancestor::details")
          .getAttribute("data-category"),
      }).toEqual({ id: adapter.adapter_id, status: adapter.status, category: adapter.category });
    }
    expect(await row(page, S3).getAttribute("data-status")).toBe("healthy");
    expect(await row(page, SQLITE).getAttribute("data-status")).toBe("unhealthy");
    await page.locator("#live[data-live=live]").waitFor();

    await page.fill("#requirement", "storage");
    await page.press("#requirement", "Enter");
    await page.locator(`#resolution [data-choice="${S3}"]`).waitFor();

    // When the page's row turns, by the browser's clock (the same machine's as this test's).
    await page.evaluate((adapterId) => {
      const state = globalThis as unknown as PageGlobals;
      state.sameDocument = true;
      const board = state.document.getElementById("board") as PageNode;
      new state.MutationObserver(() => {
        const found = board.querySelector(`tr[data-adapter-id="${adapterId}"]`);
        if (found?.getAttribute("data-status") === "unhealthy" && state.turnedAtMs === undefined) {
          state.turnedAtMs = state.performance.timeOrigin + state.performance.now();
        }
      }).observe(board, { subtree: true, childList: true, attributes: true });
    }, S3);
    const events = new SseClient(`${stack.base}/v1/events`);
    clients.push(events);
    await events.until((client) => client.comments.some((line) => line.startsWith("streaming")));

    await kill(stack, S3);
    await events.until((client) =>
      client.messages.some(
        (message) =>
          message.event === "adapter.health_changed" &&
          JSON.parse(message.data).data.adapter_id === S3,
      ),
    );
    const changed = events.messages.find(
      (message) =>
        message.event === "adapter.health_changed" &&
        JSON.parse(message.data).data.adapter_id === S3,
    );
    expect(JSON.parse(changed?.data ?? "{}").data.to).toBe("unhealthy");
    await page.waitForFunction(
      () => (globalThis as unknown as PageGlobals).turnedAtMs !== undefined,
      null,
      { timeout: 10_000 },
    );
    const turnedAtMs = await page.evaluate(
      () => (globalThis as unknown as PageGlobals).turnedAtMs ?? Number.NaN,
    );
    expect(turnedAtMs - (changed?.receivedAtMs ?? 0)).toBeLessThan(DELIVERY_GOAL_MS);
    // No reload: the document that watched is the one that changed.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(
      true,
    );
    await expect.poll(() => row(page, S3).getAttribute("data-status")).toBe("unhealthy");
    await page.locator(`#feed [data-type="adapter.health_changed"]`).first().waitFor();

    // The resolver box asks again and shows the failover to the fallback.
    await page.locator(`#resolution [data-choice="${GCS}"]`).waitFor();
    const failover = await page.locator("#resolution .failover").first().textContent();
    expect(failover).toContain(`${S3} → ${GCS}`);

    // Maintenance on a dead adapter: shown as maintenance, and nobody is asked to act on it.
    expect(await page.locator(`#summary [data-attention="${SQLITE}"]`).count()).toBe(1);
    const declared = await fetch(`${stack.base}/v1/adapters/${SQLITE}/maintenance`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "disk swap" }),
    });
    expect(declared.status).toBe(200);
    await expect
      .poll(() => row(page, SQLITE).getAttribute("data-shown-status"))
      .toBe("maintenance");
    expect(await row(page, SQLITE).locator(".status").textContent()).toBe("maintenance");
    expect(await row(page, SQLITE).locator(".underlying").textContent()).toBe("probed unhealthy");
    expect(await row(page, SQLITE).locator(".badge-maintenance").count()).toBe(1);
    expect(await page.locator(`#summary [data-attention="${SQLITE}"]`).count()).toBe(0);
    expect(await page.locator(`#summary [data-count="maintenance"] strong`).textContent()).toBe(
      "1",
    );
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("is keyboard navigable: Enter opens a row's detail, Escape closes it and gives focus back", async () => {
    const { page, problems } = await openPage(stack.base);
    await row(page, GCS).waitFor();
    await row(page, GCS).focus();
    await page.keyboard.press("Enter");
    await page.locator("#detail[open]").waitFor();
    expect(await page.locator("#detail-title").textContent()).toBe(GCS);
    await page.locator("#detail .response-chart").waitFor();
    await page.locator("#detail table.checks tbody tr").first().waitFor();
    await page.keyboard.press("Escape");
    await page.locator("#detail:not([open])").waitFor({ state: "attached" });
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute(
          "data-adapter-id",
        ),
      ),
    ).toBe(GCS);
    // Tab goes on from the row to the next one.
    await page.keyboard.press("Tab");
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute(
          "data-adapter-id",
        ),
      ),
    ).not.toBe(GCS);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);
});

describe("the status page with authentication on", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(`  auth:
    enabled: true
    tokens: [{ name: viewer, token: ${READ_TOKEN}, scopes: [read] }]
`);
  });
  afterAll(() => stopStack(stack));

  it("asks for a token, then works from its HttpOnly cookie, live updates included", async () => {
    const { page, problems } = await openPage(stack.base);
    await page.locator("#login[open]").waitFor();
    expect(await page.locator("tr[data-adapter-id]").count()).toBe(0);
    await page.fill("#token", READ_TOKEN);
    await page.press("#token", "Enter");
    await expect.poll(() => page.locator("tr[data-adapter-id]").count()).toBe(9);
    expect(await page.locator("#login[open]").count()).toBe(0);
    const cookies = await page.context().cookies();
    expect(cookies).toEqual([
      expect.objectContaining({
        name: "oneiric_healthd_session",
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
      }),
    ]);
    // The page's script cannot read the token back.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie)).toBe(
      "",
    );
    await page.locator("#live[data-live=live]").waitFor();

    await kill(stack, REDIS);
    await expect.poll(() => row(page, REDIS).getAttribute("data-status")).toBe("unhealthy");
    // What the cookie admits is reading: an admin route stays shut to it.
    const status = await page.evaluate(
      async () => (await fetch("/v1/cache/invalidate", { method: "POST" })).status,
    );
    expect(status).toBe(403);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);
});

describe("the status page's history over a scripted outage", () => {
  const HISTORY_SCENARIO = `
project: board
adapters:
  - { category: storage, provider: s3, capabilities: [read, write, delete, list] }
  - { category: storage, provider: gcs, capabilities: [read, write, delete, list] }
  - { category: storage, provider: sqlite, behaviour: down }
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached }
  - { category: orchestration, provider: prefect }
  - { category: orchestration, provider: airflow }
  - { category: memory, provider: chroma }
`;
  const AIRFLOW = "board.adapter.orchestration.airflow";
  /**
   * Rise and fall 1, so each scripted minute is exactly its bucket's status, and a
   * breaker that stays shut through minutes of failures (as test/history-api.test.ts).
   */
  const POLICY = `  breaker: { threshold: 1000 }
  overrides:
    - { match: { project: board }, probes: { rise: 1, fall: 1 } }
`;
  const MINUTE_MS = 60_000;
  const STEP_MS = 15_000;
  /** Healthy minutes before the outage: the bar has a stretch to show. */
  const CALM_MINUTES = 40;
  /** The letters of GET /v1/history's status_bar, by the status the page draws. */
  const LETTER: Record<string, string> = {
    healthy: "h",
    degraded: "d",
    unhealthy: "u",
    maintenance: "m",
    unknown: "?",
  };

  let stack: Stack;
  let clock: ManualClock;
  /** The daemon's clock starts at a minute this long before now, and ends near now. */
  const startMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - (CALM_MINUTES + 5) * MINUTE_MS;
  const minute = (index: number) => new Date(startMs + index * MINUTE_MS).toISOString();

  /** Every adapter checked, then the clock moved on 15 s, `steps` times. */
  async function checkSteps(steps: number): Promise<void> {
    for (let step = 0; step < steps; step++) {
      await stack.daemon.checkAllNow();
      clock.advance(STEP_MS);
    }
  }

  /**
   * Waits until the page has read every bar at or after `iso` by the daemon's clock,
   * then a moment more for a reading it may have queued behind that one.
   */
  async function barsReadSince(page: Page, iso: string): Promise<void> {
    await expect
      .poll(async () => {
        const until = await page.locator("#board").getAttribute("data-history-until");
        return Date.parse(until ?? "") >= Date.parse(iso);
      })
      .toBe(true);
    await page.waitForTimeout(300);
  }

  /** What a row's bar shows: one letter per cell, as the API spells it. */
  const barLetters = async (page: Page, adapterId: string) =>
    (
      await row(page, adapterId)
        .locator(".history rect.bucket")
        .evaluateAll((cells) =>
          cells.map((cell) => (cell as unknown as PageNode).getAttribute("data-status")),
        )
    )
      .map((status) => LETTER[status ?? "unknown"])
      .join("");

  beforeAll(async () => {
    const dir = tempDir();
    clock = new ManualClock(startMs);
    const simulator = await startTestSimulator(HISTORY_SCENARIO, clock);
    const daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db"), POLICY),
      clock,
    );
    await daemon.checkAllNow();
    stack = { dir, simulator, daemon, base: `http://127.0.0.1:${daemon.httpAddress.port}` };
  }, 60_000);
  afterAll(() => stopStack(stack));

  it("draws the outage in the bar and the uptime from the daemon's history, live; maintenance is not downtime", async () => {
    const { page, problems } = await openPage(stack.base);
    await page.locator("#live[data-live=live]").waitFor();
    // Minute bars, so the scripted minutes are cells of their own.
    await page.selectOption("#history-bucket", "1m");
    await row(page, S3).locator(`svg.history-bar[data-bucket-ms="${MINUTE_MS}"]`).waitFor();
    expect(await page.locator('th[data-column="History"]').first().textContent()).toBe(
      "History (90 min)",
    );
    await barsReadSince(page, minute(0));
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).sameDocument = true;
    });

    // Calm minutes, then s3 fails for a minute while redis, in a declared maintenance, is down too.
    await checkSteps(CALM_MINUTES * 4);
    const declared = await fetch(`${stack.base}/v1/adapters/${REDIS}/maintenance`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "node upgrade" }),
    });
    expect(declared.status).toBe(200);
    stack.simulator.setBehaviour(REDIS, "down");
    stack.simulator.setBehaviour(S3, "down");
    await checkSteps(1);
    // The bars turn while the outage is on, without a reload.
    await expect
      .poll(() => row(page, S3).locator(".history rect.status-unhealthy").count())
      .toBe(1);
    await expect
      .poll(() => row(page, REDIS).locator(".history rect.status-maintenance").count())
      .toBe(1);
    expect(await row(page, REDIS).locator(".history rect.status-unhealthy").count()).toBe(0);
    // Each minute's events start a new bucket on the page: it reads every bar again.
    await barsReadSince(page, minute(CALM_MINUTES));
    await checkSteps(3);
    // s3 is back; a minute later airflow goes down and stays down.
    stack.simulator.setBehaviour(S3, null);
    await checkSteps(1);
    await barsReadSince(page, minute(CALM_MINUTES + 1));
    await checkSteps(3);
    stack.simulator.setBehaviour(AIRFLOW, "down");
    await checkSteps(1);
    await barsReadSince(page, minute(CALM_MINUTES + 2));
    await checkSteps(5);
    // Half a minute into the last minute, redis is repaired (still in maintenance).
    stack.simulator.setBehaviour(REDIS, null);
    await stack.daemon.checkAllNow();
    // The clock stands still from here: what the page reads, the API answers too.
    const endIso = new Date(clock.now()).toISOString();
    expect(endIso).toBe(new Date(Date.parse(minute(CALM_MINUTES + 3)) + 30_000).toISOString());
    await barsReadSince(page, endIso);

    type BoardEntry = { adapter_id: string; status_bar: string; uptime_percent: number };
    type UptimeEntry = { adapter_id: string; uptime_percent: number | null };
    const board = (await (await fetch(`${stack.base}/v1/history?bucket=1m&buckets=90`)).json()) as {
      adapters: BoardEntry[];
    };
    const uptime = (await (await fetch(`${stack.base}/v1/uptime?window=1h`)).json()) as {
      adapters: UptimeEntry[];
    };
    const bar = (id: string) => board.adapters.find((entry) => entry.adapter_id === id)?.status_bar;
    const uptimeOf = (id: string) =>
      uptime.adapters.find((entry) => entry.adapter_id === id)?.uptime_percent;
    const unseen = "?".repeat(90 - CALM_MINUTES - 4);
    const calm = "h".repeat(CALM_MINUTES);
    // The daemon's own account of the script, which the page must show.
    expect(bar(S3)).toBe(`${unseen}${calm}uhhh`);
    expect(bar(REDIS)).toBe(`${unseen}${calm}mmmm`);
    expect(bar(AIRFLOW)).toBe(`${unseen}${calm}hhuu`);
    expect(uptimeOf(S3)).toBeCloseTo(
      (100 * (CALM_MINUTES * 60 + 150)) / (CALM_MINUTES * 60 + 210),
      2,
    );
    expect(uptimeOf(REDIS)).toBe(100);

    // The page's bars, cell for cell, and its uptime figures, equal to GET /v1/uptime's.
    for (const id of [S3, REDIS, AIRFLOW, GCS]) {
      await expect.poll(() => barLetters(page, id)).toBe(bar(id));
      await expect
        .poll(() => row(page, id).locator(".uptime").getAttribute("data-uptime"))
        .toBe(String(uptimeOf(id)));
    }
    expect(uptimeOf(S3)).toBeLessThan(100);
    expect(await row(page, REDIS).locator(".uptime").textContent()).toBe("100 %");
    expect(await row(page, REDIS).getAttribute("data-shown-status")).toBe("maintenance");
    // Each cell tells its minute and status on hover.
    const outage = row(page, S3).locator(".history rect.status-unhealthy");
    expect(await outage.getAttribute("data-start")).toBe(minute(CALM_MINUTES));
    expect(await outage.locator("title").textContent()).toMatch(/: unhealthy$/);
    // The sparkline is drawn from the history's latency_ms.
    await row(page, S3).locator(".sparkline polyline").waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(
      true,
    );

    // The detail view's response-time chart and timeline come from the adapter's history.
    const history = (await (
      await fetch(`${stack.base}/v1/adapters/${S3}/history?window=1h&bucket=1m`)
    ).json()) as { buckets: { latency_p50_ms: number | null }[] };
    const withLatency = history.buckets.filter((bucket) => bucket.latency_p50_ms !== null).length;
    expect(withLatency).toBeGreaterThan(CALM_MINUTES);
    await row(page, S3).click();
    await page.locator("#detail[open] .response-chart").waitFor();
    await expect
      .poll(() => page.locator("#detail .chart-dot.series-p50").count())
      .toBe(withLatency);
    expect(await page.locator("#detail .legend").textContent()).toContain("p50 per minute");
    expect(await page.locator("#detail .timeline rect.bucket.status-unhealthy").count()).toBe(1);
    expect(await page.locator("#detail .facts").textContent()).toContain(
      `Uptime (1 h)${(await row(page, S3).locator(".uptime").textContent()) ?? ""}`,
    );
    await page.keyboard.press("Escape");

    if (process.env.UPDATE_SCREENSHOTS === "1") {
      await page.fill("#requirement", "storage");
      await page.press("#requirement", "Enter");
      await page.locator(`#resolution [data-choice]`).waitFor();
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        await page.screenshot({
          path: join(SCREENSHOTS, `status-page-${colorScheme}.png`),
          fullPage: true,
        });
      }
      await page.emulateMedia({ colorScheme: "light" });
    }
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);
});

describe("the status page at 1,000 adapters", () => {
  let stack: Stack;
  const LARGE_SCENARIO = `
project: large
adapters:
  - { category: storage, provider: s3 }
generate: { count: 1000, categories: [storage, cache, orchestration, memory] }
`;

  beforeAll(async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.now());
    const simulator = await startTestSimulator(LARGE_SCENARIO, clock);
    const daemon = await startTestDaemon(
      testConfig(simulator.registryPort, join(dir.path, "healthd.db")),
      clock,
    );
    await daemon.checkAllNow();
    stack = { dir, simulator, daemon, base: `http://127.0.0.1:${daemon.httpAddress.port}` };
  }, 60_000);
  afterAll(() => stopStack(stack));

  it("pages each category's rows, so the page stays small and answers at once", async () => {
    const started = Date.now();
    const { page, problems } = await openPage(stack.base);
    await page.locator("#live[data-live=live]").waitFor();
    const loadedMs = Date.now() - started;
    expect(await page.locator("details.group").count()).toBe(4);
    // 1,001 adapters, at most 50 rows a section in the DOM.
    expect(await page.locator("tr[data-adapter-id]").count()).toBe(4 * 50);
    expect(await page.locator("#summary [data-count=healthy] strong").textContent()).toBe("1001");
    const storage = page.locator('details[data-category="storage"]');
    expect(await storage.locator(".pager-text").textContent()).toBe("rows 1–50 of 251");
    await storage.getByRole("button", { name: "Next" }).click();
    expect(await storage.locator(".pager-text").textContent()).toBe("rows 51–100 of 251");
    // Folding a section drops its rows.
    await page.locator('details[data-category="cache"] > summary').click();
    expect(await page.locator('details[data-category="cache"] tr[data-adapter-id]').count()).toBe(
      0,
    );
    // A live change still lands on its row, and a keystroke is answered promptly.
    const shown = await storage
      .locator("tr[data-adapter-id]")
      .first()
      .getAttribute("data-adapter-id");
    await kill(stack, shown ?? "");
    await expect.poll(() => row(page, shown ?? "").getAttribute("data-status")).toBe("unhealthy");
    const typed = Date.now();
    await page.fill("#filter-text", shown ?? "");
    await expect.poll(() => page.locator("tr[data-adapter-id]").count()).toBe(1);
    expect(Date.now() - typed).toBeLessThan(2_000);
    expect(loadedMs).toBeLessThan(10_000);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);
});
