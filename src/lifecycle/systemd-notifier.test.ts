import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createSystemdNotifier,
  loadUnixDgram,
  type NotifierLogger,
  parseNotifySocket,
  type SystemdNotifier,
  type UnixDatagramSocket,
  watchdogIntervalMs,
} from "./systemd-notifier.js";

/** A real unix datagram socket standing in for systemd's notify socket. */
interface FakeSystemd {
  path: string;
  messages: string[];
  /** Resolves once `count` messages have arrived (real time, at most 2 s). */
  waitFor(count: number): Promise<string[]>;
}

let directory: string;
let receiver: UnixDatagramSocket | undefined;
const notifiers: SystemdNotifier[] = [];

async function fakeSystemd(): Promise<FakeSystemd> {
  const path = join(directory, "notify");
  const messages: string[] = [];
  const socket = loadUnixDgram().createSocket("unix_dgram", (message) =>
    messages.push(message.toString("utf8")),
  );
  await new Promise<void>((resolve, reject) => {
    socket.on("listening", resolve);
    socket.on("error", reject);
    socket.bind(path);
  });
  receiver = socket;
  return {
    path,
    messages,
    async waitFor(count) {
      const deadline = Date.now() + 2_000;
      while (messages.length < count && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return messages;
    },
  };
}

function recordingLogger(): NotifierLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (_fields, message) => warnings.push(message) };
}

function notifier(...args: Parameters<typeof createSystemdNotifier>): SystemdNotifier {
  const created = createSystemdNotifier(...args);
  notifiers.push(created);
  return created;
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-notify-"));
});

afterEach(() => {
  vi.useRealTimers();
  for (const created of notifiers.splice(0)) created.close();
  receiver?.close();
  receiver = undefined;
  rmSync(directory, { recursive: true, force: true });
});

describe("systemd notifier", () => {
  it("sends READY, STATUS, STOPPING and WATCHDOG as sd_notify datagrams", async () => {
    const systemd = await fakeSystemd();
    const notify = notifier({ NOTIFY_SOCKET: systemd.path });
    expect(notify.enabled).toBe(true);
    notify.status("migrating the database");
    notify.ready();
    notify.watchdog();
    notify.stopping();
    notify.ready("ready: 3 adapters");
    expect(await systemd.waitFor(5)).toEqual([
      "STATUS=migrating the database",
      "READY=1",
      "WATCHDOG=1",
      "STOPPING=1",
      "READY=1\nSTATUS=ready: 3 adapters",
    ]);
  });

  it("keeps a STATUS on one line", async () => {
    const systemd = await fakeSystemd();
    notifier({ NOTIFY_SOCKET: systemd.path }).status("first sync failed:\nregistry down\r\n");
    expect(await systemd.waitFor(1)).toEqual(["STATUS=first sync failed: registry down "]);
  });

  it("sends RELOADING with the monotonic clock in microseconds", async () => {
    const systemd = await fakeSystemd();
    const notify = notifier({ NOTIFY_SOCKET: systemd.path });
    const before = process.hrtime.bigint() / 1_000n;
    notify.reloading();
    const after = process.hrtime.bigint() / 1_000n;
    const [message] = await systemd.waitFor(1);
    const match = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(message ?? "");
    expect(match).not.toBeNull();
    const usec = BigInt(match?.[1] ?? "0");
    expect(usec >= before && usec <= after).toBe(true);
  });

  it("pings the watchdog at half of WATCHDOG_USEC until stopped", async () => {
    const systemd = await fakeSystemd();
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const notify = notifier({ NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "30000000" });
    expect(notify.watchdogIntervalMs).toBe(15_000);
    notify.startWatchdog();
    notify.startWatchdog(); // a second start does not add a second timer
    vi.advanceTimersByTime(14_999);
    expect(await systemd.waitFor(1)).toEqual(["WATCHDOG=1"]);
    vi.advanceTimersByTime(1);
    expect(await systemd.waitFor(2)).toHaveLength(2);
    vi.advanceTimersByTime(30_000);
    expect(await systemd.waitFor(4)).toEqual(Array(4).fill("WATCHDOG=1"));
    notify.stopWatchdog();
    vi.advanceTimersByTime(60_000);
    notify.status("after");
    expect((await systemd.waitFor(5)).slice(4)).toEqual(["STATUS=after"]);
  });

  it("asks for a watchdog only when WATCHDOG_USEC is valid and meant for this process", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "20000000" }, 42)).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: "42" }, 42)).toBe(10_000);
    expect(
      watchdogIntervalMs({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: "7" }, 42),
    ).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "1" }, 42)).toBe(1);
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 42)).toBeUndefined();
  });

  it("does not ping when WATCHDOG_PID names another process", async () => {
    const systemd = await fakeSystemd();
    const notify = notifier(
      { NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "2000", WATCHDOG_PID: String(process.pid + 1) },
      { pid: process.pid },
    );
    expect(notify.watchdogIntervalMs).toBeUndefined();
    notify.startWatchdog();
    await new Promise((resolve) => setTimeout(resolve, 20));
    notify.status("still here");
    expect(await systemd.waitFor(1)).toEqual(["STATUS=still here"]);
  });

  it("does nothing without NOTIFY_SOCKET", async () => {
    const logger = recordingLogger();
    let loaded = false;
    const notify = notifier(
      { WATCHDOG_USEC: "2000" },
      {
        logger,
        unixDgram: () => {
          loaded = true;
          return loadUnixDgram();
        },
      },
    );
    expect(notify.enabled).toBe(false);
    expect(notify.watchdogIntervalMs).toBeUndefined();
    notify.status("migrating");
    notify.ready();
    notify.reloading();
    notify.watchdog();
    notify.startWatchdog();
    notify.stopping();
    notify.close();
    expect(loaded).toBe(false);
    expect(logger.warnings).toEqual([]);
  });

  it("logs the first failure to send once and never throws", () => {
    const logger = recordingLogger();
    const notify = notifier({ NOTIFY_SOCKET: join(directory, "nobody-listens") }, { logger });
    expect(() => {
      notify.status("one");
      notify.ready();
      notify.watchdog();
    }).not.toThrow();
    expect(logger.warnings).toEqual(["could not notify systemd; later failures are not logged"]);
  });

  it("logs once and carries on when unix-dgram cannot be loaded", () => {
    const logger = recordingLogger();
    const notify = notifier(
      { NOTIFY_SOCKET: join(directory, "notify") },
      {
        logger,
        unixDgram: () => {
          throw new Error("Cannot find module 'unix-dgram'");
        },
      },
    );
    notify.ready();
    notify.stopping();
    expect(logger.warnings).toHaveLength(1);
  });

  it("sends nothing after close", async () => {
    const systemd = await fakeSystemd();
    const notify = notifier({ NOTIFY_SOCKET: systemd.path });
    notify.status("before");
    notify.close();
    notify.close();
    notify.status("after");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(systemd.messages).toEqual(["STATUS=before"]);
  });

  it("turns @name into an abstract address, and says it cannot reach one", () => {
    expect(parseNotifySocket("/run/systemd/notify")).toEqual({
      kind: "path",
      path: "/run/systemd/notify",
    });
    expect(parseNotifySocket("@/org/freedesktop/systemd1/notify/42")).toEqual({
      kind: "abstract",
      name: "\0/org/freedesktop/systemd1/notify/42",
    });
    expect(parseNotifySocket("vsock:2:1234").kind).toBe("unsupported");
    expect(parseNotifySocket("@").kind).toBe("unsupported");
    const logger = recordingLogger();
    const notify = notifier({ NOTIFY_SOCKET: "@healthd-test" }, { logger });
    expect(notify.enabled).toBe(false);
    notify.ready();
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain("abstract");
  });
});
