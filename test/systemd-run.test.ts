import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadUnixDgram, type UnixDatagramSocket } from "../src/lifecycle/systemd-notifier.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { ManualClock, startTestSimulator, tempDir } from "./support/stack.js";

const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");

/** Stands in for systemd: a notify socket that records what `run` tells it. */
async function notifySocket(
  path: string,
): Promise<{ socket: UnixDatagramSocket; messages: string[] }> {
  const messages: string[] = [];
  const socket = loadUnixDgram().createSocket("unix_dgram", (message) =>
    messages.push(message.toString("utf8")),
  );
  await new Promise<void>((resolve, reject) => {
    socket.on("listening", resolve);
    socket.on("error", reject);
    socket.bind(path);
  });
  return { socket, messages };
}

async function until(condition: () => boolean, what: () => string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("run under systemd (Type=notify)", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let receiver: UnixDatagramSocket | undefined;
  let blocker: Server | undefined;

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startTestSimulator(
      "adapters:\n  - { category: storage, provider: s3 }\n",
      new ManualClock(Date.now()),
    );
  });
  afterEach(async () => {
    receiver?.close();
    receiver = undefined;
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    blocker = undefined;
    await simulator.stop();
    dir.remove();
  });

  function startRun(messagesPath: string, httpListen = "127.0.0.1:0") {
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(
      config,
      `oneiric_mcp:\n  grpc_host: 127.0.0.1\n  grpc_port: ${simulator.registryPort}\n`,
    );
    const child = spawn(
      process.execPath,
      [
        CLI,
        "run",
        "--config",
        config,
        "--db",
        join(dir.path, "healthd.db"),
        "--http-listen",
        httpListen,
        "--grpc-listen",
        "127.0.0.1:0",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        // 1 s watchdog: pings every 500 ms.
        env: { ...process.env, NOTIFY_SOCKET: messagesPath, WATCHDOG_USEC: "1000000" },
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    return { child, exited, output: () => output };
  }

  it("reports each start-up stage, READY after the first sync, watchdog pings, reload and stop", async () => {
    const path = join(dir.path, "notify");
    const systemd = await notifySocket(path);
    receiver = systemd.socket;
    const { messages } = systemd;
    const run = startRun(path);
    const shown = () => `${JSON.stringify(messages)}\n${run.output()}`;

    await until(() => messages.some((message) => message.startsWith("READY=1")), shown);
    const readyAt = messages.findIndex((message) => message.startsWith("READY=1"));
    const stages = messages.slice(0, readyAt);
    expect(stages.map((message) => message.replace(/ .*/s, ""))).toEqual([
      "STATUS=opening",
      "STATUS=restoring",
      "STATUS=starting",
      "STATUS=listening",
    ]);
    expect(stages[3]).toContain(`syncing the catalog from 127.0.0.1:${simulator.registryPort}`);
    // Readiness comes after the first sync: the adapter it found is counted.
    expect(messages[readyAt]).toMatch(/^READY=1\nSTATUS=ready: 1 adapters; HTTP 127\.0\.0\.1:\d+/);

    await until(() => messages.filter((message) => message === "WATCHDOG=1").length >= 2, shown);
    const watchdogFirst = messages.indexOf("WATCHDOG=1");
    expect(watchdogFirst).toBeGreaterThan(readyAt);

    // `systemctl reload`: RELOADING=1 (with the monotonic clock), then READY=1 with how it went.
    run.child.kill("SIGHUP");
    const reloadingAt = () => messages.findIndex((message) => message.startsWith("RELOADING=1"));
    await until(
      () =>
        reloadingAt() >= 0 &&
        messages.slice(reloadingAt()).some((message) => message.startsWith("READY=1\nSTATUS=")),
      shown,
    );
    expect(messages[reloadingAt()]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);

    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    const stoppingAt = messages.indexOf("STOPPING=1");
    expect(stoppingAt).toBeGreaterThan(readyAt);
    expect(messages[stoppingAt + 1]).toMatch(/^STATUS=stopping/);
    // The watchdog stops with the daemon.
    expect(messages.slice(stoppingAt).includes("WATCHDOG=1")).toBe(false);
  });

  it("says why start-up failed and never sends READY", async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker?.listen(0, "127.0.0.1", () => {
        const address = blocker?.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      }),
    );
    const path = join(dir.path, "notify");
    const systemd = await notifySocket(path);
    receiver = systemd.socket;
    const run = startRun(path, `127.0.0.1:${port}`);
    // 69 (EX_UNAVAILABLE): the unit's Restart=on-failure tries again, as the holder may go.
    expect(await run.exited).toBe(69);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(systemd.messages.some((message) => message.startsWith("READY=1"))).toBe(false);
    expect(systemd.messages.at(-1)).toBe(
      `STATUS=start failed: HTTP address 127.0.0.1:${port} is in use (another oneiric-healthd?)`,
    );
  });
});
