import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../src/config/errors.js";
import { type DaemonConfig, parseConfigText } from "../src/config/load.js";
import type { RunningDaemon } from "../src/main.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import {
  getJson,
  ManualClock,
  startTestDaemon,
  startTestSimulator,
  tempDir,
  testConfig,
} from "./support/stack.js";

const SECRET = "itest-webhook-secret-5f0c7d21";

const SCENARIO = `
project: wh
adapters:
  - { category: storage, provider: s3 }
  - { category: cache, provider: redis }
  - { category: cache, provider: memcached }
  - { category: orchestration, provider: prefect }
`;
const IDS = [
  "wh.adapter.storage.s3",
  "wh.adapter.cache.redis",
  "wh.adapter.cache.memcached",
  "wh.adapter.orchestration.prefect",
];

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  id: string;
  seq: number;
  /** The status sent back; 0 while (or if never) answered. */
  status: number;
}

/** A webhook receiver on a free port; `answer` decides each request's status by its index. */
class Receiver {
  readonly requests: Delivery[] = [];
  private readonly server: Server;
  onAcknowledged: ((delivery: Delivery) => void) | undefined;

  constructor(
    private readonly answer: (index: number) => number,
    public delayMs = 0,
  ) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const event = JSON.parse(body) as { id: string; seq: number };
        const delivery: Delivery = { headers: request.headers, body, ...event, status: 0 };
        const status = this.answer(this.requests.length);
        this.requests.push(delivery);
        setTimeout(() => {
          if (response.destroyed) return;
          response.writeHead(status).end();
          delivery.status = status;
          if (status >= 200 && status < 300) this.onAcknowledged?.(delivery);
        }, this.delayMs);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  acknowledged(): Delivery[] {
    return this.requests.filter((delivery) => delivery.status >= 200 && delivery.status < 300);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Constant-time check of the documented scheme: sha256=hex(HMAC(secret, "<ts>.<body>")). */
function signatureVerifies(delivery: Delivery, secret: string): boolean {
  const timestamp = delivery.headers["webhook-timestamp"];
  const header = delivery.headers["webhook-signature"];
  if (typeof timestamp !== "string" || typeof header !== "string") return false;
  const expected = Buffer.from(
    `sha256=${createHmac("sha256", secret).update(`${timestamp}.${delivery.body}`).digest("hex")}`,
  );
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function webhookYaml(name: string, url: string, extra = ""): string {
  return `    - name: ${name}
      url: ${JSON.stringify(url)}
      secret: ${JSON.stringify(SECRET)}
      max_attempts: 10
      backoff: { initial_sec: 0.01, max_sec: 0.05 }
${extra}`;
}

function metricValue(text: string, line: string): number | undefined {
  const found = text.split("\n").find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe("webhooks from a running daemon", () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let simulator: RunningSimulator;
  let daemon: RunningDaemon | undefined;
  const receivers: Receiver[] = [];

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock();
    simulator = await startTestSimulator(SCENARIO, clock);
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    await simulator.stop();
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    dir.remove();
  });

  function config(webhooks: string): DaemonConfig {
    return testConfig(
      simulator.registryPort,
      join(dir.path, "healthd.db"),
      `  webhooks:\n${webhooks}`,
    );
  }

  async function receiver(answer: (index: number) => number, delayMs = 0) {
    const created = new Receiver(answer, delayMs);
    receivers.push(created);
    return { receiver: created, url: await created.listen() };
  }

  async function start(webhooks: string): Promise<RunningDaemon> {
    daemon = await startTestDaemon(config(webhooks), clock);
    return daemon;
  }

  async function stop(): Promise<void> {
    await daemon?.stop();
    daemon = undefined;
  }

  /** Every adapter down, or every adapter back up: one health_changed event each. */
  async function flipAll(behaviour: "down" | "healthy", running: RunningDaemon): Promise<void> {
    for (const id of IDS) simulator.setBehaviour(id, behaviour === "down" ? "down" : null);
    await running.checkAllNow();
    await running.checkAllNow();
  }

  it("delivers every event once, in seq order, signed, through failures and a restart", async () => {
    // 500 for the first three attempts, then 200; each answer takes 20 ms.
    const { receiver: hook, url } = await receiver((index) => (index < 3 ? 500 : 200), 20);
    const webhooks = webhookYaml("itest", url);
    const first = await start(webhooks);
    await first.checkAllNow();
    await flipAll("down", first);
    const beforeStop = first.hub.newestSeq();
    expect(beforeStop).toBeGreaterThanOrEqual(12); // 4 discovered, 4 to healthy, 4 to unhealthy
    await vi.waitFor(() => expect(hook.acknowledged()).toHaveLength(beforeStop), {
      timeout: 10_000,
    });

    // More events, and a stop after a few of them were delivered.
    await flipAll("healthy", first);
    await flipAll("down", first);
    const newest = first.hub.newestSeq();
    expect(newest).toBeGreaterThanOrEqual(beforeStop + 8);
    const stopping = new Promise<void>((resolve) => {
      hook.onAcknowledged = (delivery) => {
        if (delivery.seq === beforeStop + 2) {
          hook.onAcknowledged = undefined;
          // Slower answers from here: the one in flight lands within stop's grace, the rest wait.
          hook.delayMs = 200;
          void stop().then(resolve);
        }
      };
    });
    await stopping;
    const acknowledgedAtStop = hook.acknowledged().length;
    expect(acknowledgedAtStop).toBeGreaterThanOrEqual(beforeStop + 2);
    expect(acknowledgedAtStop).toBeLessThan(newest);

    // Same database, same config: the rest arrives, once, in order.
    hook.delayMs = 5;
    const second = await start(webhooks);
    await vi.waitFor(() => expect(hook.acknowledged()).toHaveLength(second.hub.newestSeq()), {
      timeout: 10_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const finalSeq = second.hub.newestSeq();
    const acknowledged = hook.acknowledged();
    expect(new Set(acknowledged.map((delivery) => delivery.id)).size).toBe(acknowledged.length);
    expect(acknowledged.map((delivery) => delivery.seq)).toEqual(range(1, finalSeq));
    // The failed attempts were for the first event, which was not acknowledged until the fourth.
    expect(hook.requests.slice(0, 4).map((delivery) => [delivery.seq, delivery.status])).toEqual([
      [1, 500],
      [1, 500],
      [1, 500],
      [1, 200],
    ]);
    const journal = second.readEvents(0, 1000);
    for (const delivery of hook.requests) {
      expect(signatureVerifies(delivery, SECRET)).toBe(true);
      expect(delivery.headers["content-type"]).toBe("application/cloudevents+json");
      expect(delivery.headers["ce-id"]).toBe(delivery.id);
      const event = journal.find((candidate) => candidate.seq === delivery.seq);
      expect(delivery.id).toBe(event?.id);
      expect(delivery.headers["ce-type"]).toBe(`io.oneiric.healthd.${event?.type}`);
    }
    await vi.waitFor(() =>
      expect(second.webhooks.statuses()).toEqual([
        expect.objectContaining({ subscriber: "itest", lagEvents: 0, cursor: finalSeq }),
      ]),
    );
    const metrics = (await getJson(second, "/metrics")).body as string;
    expect(metricValue(metrics, 'oneiric_healthd_webhook_lag_events{subscriber="itest"}')).toBe(0);
    expect(metricValue(metrics, 'oneiric_healthd_webhook_parked{subscriber="itest"}')).toBe(0);
  });

  it("parks a subscriber whose receiver always fails, shows it in metrics, and keeps it parked after a restart", async () => {
    const { receiver: dead, url: deadUrl } = await receiver(() => 500);
    const { receiver: alive, url: aliveUrl } = await receiver(() => 200);
    const webhooks =
      webhookYaml("dead", deadUrl, '      types: ["adapter.*"]\n').replace(
        "max_attempts: 10",
        "max_attempts: 3",
      ) + webhookYaml("alive", aliveUrl);
    const first = await start(webhooks);
    await first.checkAllNow();
    await vi.waitFor(
      () =>
        expect(first.webhooks.statuses()).toContainEqual(
          expect.objectContaining({ subscriber: "dead", parked: true }),
        ),
      { timeout: 10_000 },
    );
    // The other subscriber is not held up by the parked one.
    await vi.waitFor(() => expect(alive.acknowledged()).toHaveLength(first.hub.newestSeq()), {
      timeout: 10_000,
    });
    expect(dead.requests.map((delivery) => delivery.seq)).toEqual([1, 1, 1]);
    const metrics = (await getJson(first, "/metrics")).body as string;
    expect(metricValue(metrics, 'oneiric_healthd_webhook_parked{subscriber="dead"}')).toBe(1);
    expect(metricValue(metrics, 'oneiric_healthd_webhook_parked{subscriber="alive"}')).toBe(0);
    expect(
      metricValue(
        metrics,
        'oneiric_healthd_webhook_deliveries_total{subscriber="dead",result="failed"}',
      ),
    ).toBe(3);
    expect(
      metricValue(
        metrics,
        'oneiric_healthd_webhook_deliveries_total{subscriber="dead",result="delivered"}',
      ),
    ).toBe(0);
    expect(metricValue(metrics, 'oneiric_healthd_webhook_lag_events{subscriber="dead"}')).toBe(
      first.hub.newestSeq(),
    );

    await stop();
    const second = await start(webhooks);
    await flipAll("down", second);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dead.requests).toHaveLength(3);
    const after = (await getJson(second, "/metrics")).body as string;
    expect(metricValue(after, 'oneiric_healthd_webhook_parked{subscriber="dead"}')).toBe(1);
    expect(second.webhooks.statuses()).toContainEqual(
      expect.objectContaining({ subscriber: "dead", parked: true, cursor: 0 }),
    );

    // Pointing it at a working receiver is the fix: it resumes with the event it gave up on.
    await stop();
    const { receiver: fixed, url: fixedUrl } = await receiver(() => 200);
    const third = await start(
      webhookYaml("dead", fixedUrl, '      types: ["adapter.*"]\n') +
        webhookYaml("alive", aliveUrl),
    );
    // Its filter takes adapter.* events only (the restarted daemon's first checks, due at
    // once, may add breaker events meanwhile).
    const adapterEvents = () =>
      third.readEvents(0, 10_000).filter((event) => event.type.startsWith("adapter.")).length;
    await vi.waitFor(() => expect(fixed.acknowledged()).toHaveLength(adapterEvents()), {
      timeout: 10_000,
    });
    expect(fixed.acknowledged().map((delivery) => delivery.seq)[0]).toBe(1);
  });
});

describe("webhook configuration", () => {
  const base = (webhooks: string) => `healthd:\n  webhooks:\n${webhooks}`;

  function problem(text: string, env: Record<string, string> = {}): ConfigError {
    try {
      parseConfigText(text, "healthd.yaml", env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error("expected a ConfigError");
  }

  it("resolves defaults, milliseconds and a ${ENV} secret", () => {
    const config = parseConfigText(
      base(`    - name: ops-pager
      url: https://hooks.example.internal/oneiric?token=t
      secret: \${HOOK_SECRET}
      types: ["adapter.*", failover]
    - name: audit_log
      url: http://10.0.0.7:8080/in
      secret: another-secret-0123456789
      timeout_sec: 2.5
      max_attempts: 3
      backoff: { initial_sec: 0.5, max_sec: 30 }
`),
      "healthd.yaml",
      { HOOK_SECRET: "from-the-environment-0123" },
    );
    expect(config.webhooks).toEqual([
      {
        name: "ops-pager",
        url: "https://hooks.example.internal/oneiric?token=t",
        secret: "from-the-environment-0123",
        types: ["adapter.*", "failover"],
        timeoutMs: 5_000,
        maxAttempts: 10,
        backoff: { initialMs: 1_000, maxMs: 300_000 },
      },
      {
        name: "audit_log",
        url: "http://10.0.0.7:8080/in",
        secret: "another-secret-0123456789",
        types: undefined,
        timeoutMs: 2_500,
        maxAttempts: 3,
        backoff: { initialMs: 500, maxMs: 30_000 },
      },
    ]);
    expect(parseConfigText("", "empty.yaml", {}).webhooks).toEqual([]);
  });

  const hook = (name: string, extra = "") =>
    `    - name: ${name}\n      url: http://127.0.0.1:9/x\n      secret: s3cret-s3cret-s3cret\n${extra}`;

  it.each([
    [
      "a duplicate name",
      base(hook("ops") + hook("ops")),
      'healthd.yaml:6: healthd.webhooks[1].name: duplicate webhook name "ops"',
    ],
    [
      "a name with capitals",
      base(hook("Ops")),
      "healthd.yaml:3: healthd.webhooks[0].name: lower-case letters, digits, _ and - only",
    ],
    [
      "a URL that is not http(s)",
      base(hook("ops").replace("http://127.0.0.1:9/x", "ftp://127.0.0.1/x")),
      "healthd.yaml:4: healthd.webhooks[0].url: an http:// or https:// URL",
    ],
    [
      "an unknown key",
      base(hook("ops", "      retries: 3\n")),
      "healthd.yaml:6: healthd.webhooks[0].retries: unknown key",
    ],
    [
      "a backoff whose max is below its initial wait",
      base(hook("ops", "      backoff: { initial_sec: 10, max_sec: 1 }\n")),
      "healthd.yaml:6: healthd.webhooks[0].backoff.max_sec: max_sec must not be less than initial_sec",
    ],
    [
      "a malformed type glob",
      base(hook("ops", '      types: ["adapter/*"]\n')),
      'healthd.yaml:6: healthd.webhooks[0].types[0]: an event type glob like "adapter.*" or "failover"',
    ],
    [
      "zero attempts",
      base(hook("ops", "      max_attempts: 0\n")),
      "healthd.yaml:6: healthd.webhooks[0].max_attempts: must be an integer from 1 to 1000; got 0",
    ],
  ])("rejects %s, naming the key and line", (_, text, message) => {
    expect(problem(text).message).toBe(message);
  });

  it("rejects more than 50 subscribers", () => {
    const many = Array.from({ length: 51 }, (_, index) => hook(`h${index}`)).join("");
    expect(problem(base(many)).key).toBe("healthd.webhooks");
  });

  it("rejects a short secret without echoing it", () => {
    const error = problem(base(hook("ops").replace("s3cret-s3cret-s3cret", "${HOOK_SECRET}")), {
      HOOK_SECRET: "hunter2",
    });
    expect(error.key).toBe("healthd.webhooks[0].secret");
    expect(error.message).not.toContain("hunter2");
  });
});
