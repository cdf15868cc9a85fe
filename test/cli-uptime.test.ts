/**
 * `uptime` as people run it (a child process of the CLI) against an HTTP
 * server answering GET /v1/uptime as history-contract lays it out: it stands
 * in for the daemon's route until the daemon serves it, so what is tested is
 * the CLI's side (what it asks, how it prints, what it refuses).
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UptimeAnswer } from "../src/api/uptime-query.js";
import { runCli } from "./support/cli-process.js";

const ANSWER: UptimeAnswer = {
  window: "7d",
  from: "2026-11-25T03:00:00.000Z",
  until: "2026-12-02T03:00:00.000Z",
  adapters: [
    {
      adapter_id: "mahavishnu.adapter.storage.s3",
      domain: "adapter",
      category: "storage",
      provider: "s3",
      uptime_percent: 99.95,
      up_s: 604_000,
      down_s: 300,
      maintenance_s: 3600,
      unknown_s: 120,
      coverage_percent: 99.98,
    },
    {
      adapter_id: "mahavishnu.adapter.storage.sqlite",
      domain: "adapter",
      category: "storage",
      provider: "sqlite",
      uptime_percent: 50,
      up_s: 300_000,
      down_s: 300_000,
      maintenance_s: 0,
      unknown_s: 4800,
      coverage_percent: 99.2,
    },
  ],
};

describe("uptime", () => {
  let server: Server;
  let url: string;
  const asked: string[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: ANSWER };

  beforeAll(async () => {
    server = createServer((request, response) => {
      asked.push(request.url ?? "");
      response.writeHead(answer.status, {
        "content-type": answer.status === 200 ? "application/json" : "application/problem+json",
      });
      response.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("asks for the window and the filters, and prints a table worst first", async () => {
    asked.length = 0;
    const result = await runCli([
      "uptime",
      "--window",
      "7d",
      "--category",
      "storage",
      "--url",
      url,
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(asked).toEqual(["/v1/uptime?category=storage&window=7d"]);
    expect(result.stdout.split("\n").slice(0, 4)).toEqual([
      "uptime over 7d: 2026-11-25T03:00:00.000Z to 2026-12-02T03:00:00.000Z",
      "ADAPTER                            UPTIME    DOWN  MAINTENANCE  UNKNOWN  COVERAGE",
      "mahavishnu.adapter.storage.sqlite  50.00%  3d 11h           0s   1h 20m    99.20%",
      "mahavishnu.adapter.storage.s3      99.95%      5m           1h       2m    99.98%",
    ]);
  });

  it("--json prints the answer as the API gave it; the window defaults to 24h", async () => {
    asked.length = 0;
    const result = await runCli(["uptime", "--json", "--url", url]);
    expect(result.code).toBe(0);
    expect(asked).toEqual(["/v1/uptime?window=24h"]);
    expect(JSON.parse(result.stdout)).toEqual(ANSWER);
  });

  it("a window it does not take is a usage error naming the flag and the windows; nothing is asked", async () => {
    asked.length = 0;
    const result = await runCli(["uptime", "--window", "30", "--url", url]);
    expect(result.code).toBe(64);
    expect(result.stderr).toBe(
      'oneiric-healthd: --window must be one of "1h", "24h", "7d", "30d", "90d"; got "30"; did you mean --window 30d?\n' +
        "Run oneiric-healthd uptime --help for usage.\n",
    );
    expect(asked).toEqual([]);
  });

  it("a daemon without GET /v1/uptime is named as such (exit 1)", async () => {
    answer = { status: 404, body: { code: "NOT_FOUND", detail: "no route GET /v1/uptime" } };
    try {
      const result = await runCli(["uptime", "--url", url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `oneiric-healthd: daemon at ${url} does not answer GET /v1/uptime (no route GET /v1/uptime); it may be older than this oneiric-healthd\n`,
      );
    } finally {
      answer = { status: 200, body: ANSWER };
    }
  });
});
