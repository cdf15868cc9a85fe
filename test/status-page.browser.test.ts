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
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { SseClient } from "./support/sse-client.js";
import {
  ManualClock,
  startTestDaemon,
  startTestSimulator,
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

interface Stack {
  dir: ReturnType<typeof tempDir>;
  simulator: RunningSimulator;
  daemon: RunningDaemon;
  base: string;
}

async function startStack(extraYaml = ""): Promise<Stack> {
  const dir = tempDir();
  // The browser's clock is the real one: so is the daemon's, for the ages the page shows.
  const clock = new ManualClock(Date.now());
  const simulator = await startTestSimulator(SCENARIO, clock);
  const daemon = await startTestDaemon(
    testConfig(simulator.registryPort, join(dir.path, "healthd.db"), extraYaml),
    clock,
  );
  await daemon.checkAllNow();
  await daemon.checkAllNow();
  return { dir, simulator, daemon, base: `http://127.0.0.1:${daemon.httpAddress.port}` };
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await stack.daemon.stop();
  await stack.simulator.stop();
  stack.dir.remove();
}

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

    if (process.env.UPDATE_SCREENSHOTS === "1") {
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
