/**
 * An sd_notify(3) client: tells systemd (a `Type=notify` unit) when the daemon
 * is ready, reloading or stopping, what it is doing (`STATUS=`), and that it is
 * alive (`WATCHDOG=1`). Messages are datagrams sent to the unix socket named by
 * `NOTIFY_SOCKET`; Node has no unix datagram sockets, so the native unix-dgram
 * module sends them. Without `NOTIFY_SOCKET` (not started by systemd, or by a
 * unit of another type) every call does nothing.
 */
import { createRequire } from "node:module";

/** The part of a unix-dgram socket used here and by tests (the package ships no types). */
export interface UnixDatagramSocket {
  bind(path: string): void;
  send(
    buffer: Buffer,
    offset: number,
    length: number,
    path: string,
    callback: (error?: Error) => void,
  ): void;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "listening", listener: () => void): unknown;
  close(): void;
}

export interface UnixDgramModule {
  createSocket(type: "unix_dgram", onMessage?: (message: Buffer) => void): UnixDatagramSocket;
}

/** Loads unix-dgram, a CommonJS native addon, from this ES module. */
export function loadUnixDgram(): UnixDgramModule {
  return createRequire(import.meta.url)("unix-dgram") as UnixDgramModule;
}

/** Where notifier trouble is reported; a pino logger fits. */
export interface NotifierLogger {
  warn(fields: object, message: string): void;
}

export interface SystemdNotifierOptions {
  logger?: NotifierLogger;
  /** This process's id, compared with `WATCHDOG_PID`; defaults to `process.pid`. */
  pid?: number;
  /** CLOCK_MONOTONIC in microseconds (for `MONOTONIC_USEC`); defaults to `process.hrtime`. */
  monotonicUsec?: () => bigint;
  /** Defaults to the installed unix-dgram; loaded only when there is a socket to send to. */
  unixDgram?: () => UnixDgramModule;
}

export interface SystemdNotifier {
  /** True when `NOTIFY_SOCKET` names a socket this notifier can send to. */
  readonly enabled: boolean;
  /** How often `startWatchdog` pings: half of `WATCHDOG_USEC`; undefined when no watchdog is asked for. */
  readonly watchdogIntervalMs: number | undefined;
  /** `READY=1`, with a `STATUS=` line when given: start-up (or a reload) is complete. */
  ready(status?: string): void;
  /** `STATUS=`: one line saying what the daemon is doing (line breaks become spaces). */
  status(text: string): void;
  /** `RELOADING=1` with `MONOTONIC_USEC`: a configuration reload began; `ready()` ends it. */
  reloading(): void;
  /** `STOPPING=1`: shutdown began. */
  stopping(): void;
  /** One `WATCHDOG=1` keep-alive ping. */
  watchdog(): void;
  /** Pings at `watchdogIntervalMs` (first ping at once) until `stopWatchdog` or `close`. */
  startWatchdog(): void;
  stopWatchdog(): void;
  /** Stops the watchdog and closes the socket; later calls do nothing. */
  close(): void;
}

/** What `NOTIFY_SOCKET` names, or why it cannot be used. */
export type NotifyAddress =
  | { kind: "path"; path: string }
  | { kind: "abstract"; name: string }
  | { kind: "unsupported"; reason: string };

/**
 * Parses `NOTIFY_SOCKET`: an absolute path, or `@name` for a Linux abstract
 * socket, whose address is the name after a NUL byte (`@` → `\0`).
 */
export function parseNotifySocket(value: string): NotifyAddress {
  if (value.startsWith("/")) return { kind: "path", path: value };
  if (value.startsWith("@") && value.length > 1)
    return { kind: "abstract", name: `\0${value.slice(1)}` };
  return {
    kind: "unsupported",
    reason:
      "it is neither an absolute path nor an @abstract name (vsock addresses are not supported)",
  };
}

/**
 * Half of `WATCHDOG_USEC` in milliseconds (systemd's advice), or undefined when no
 * watchdog is asked of this process: unset or invalid, or `WATCHDOG_PID` names
 * another process.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || !/^\d+$/.test(usec) || Number(usec) === 0) return undefined;
  const watchdogPid = env.WATCHDOG_PID;
  if (watchdogPid !== undefined && watchdogPid !== "" && watchdogPid !== String(pid)) {
    return undefined;
  }
  return Math.max(1, Math.floor(Number(usec) / 2_000));
}

/** What runs outside systemd: every call does nothing. */
function disabledNotifier(): SystemdNotifier {
  return {
    enabled: false,
    watchdogIntervalMs: undefined,
    ready: () => undefined,
    status: () => undefined,
    reloading: () => undefined,
    stopping: () => undefined,
    watchdog: () => undefined,
    startWatchdog: () => undefined,
    stopWatchdog: () => undefined,
    close: () => undefined,
  };
}

/**
 * A notifier for the systemd unit that started this process, as described by
 * `env` (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`). Nothing it does
 * throws: the first failure to send is logged at WARN and the daemon carries on
 * (systemd's start timeout or watchdog will say the rest).
 */
export function createSystemdNotifier(
  env: NodeJS.ProcessEnv,
  options: SystemdNotifierOptions = {},
): SystemdNotifier {
  const socketName = env.NOTIFY_SOCKET;
  if (socketName === undefined || socketName === "") return disabledNotifier();
  const logger = options.logger;
  const address = parseNotifySocket(socketName);
  if (address.kind !== "path") {
    // unix-dgram copies the address with strncpy, so a name starting with NUL
    // would become an empty abstract name: a message sent there reaches no one.
    logger?.warn(
      { notifySocket: socketName },
      address.kind === "abstract"
        ? "NOTIFY_SOCKET is an abstract socket, which unix-dgram cannot address; systemd notifications are off"
        : `NOTIFY_SOCKET is unusable: ${address.reason}; systemd notifications are off`,
    );
    return disabledNotifier();
  }
  const path = address.path;
  const monotonicUsec = options.monotonicUsec ?? (() => process.hrtime.bigint() / 1_000n);
  const intervalMs = watchdogIntervalMs(env, options.pid ?? process.pid);
  let socket: UnixDatagramSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let warned = false;

  const failed = (error: unknown, message: string) => {
    if (warned) return;
    warned = true;
    logger?.warn(
      { err: error, notifySocket: path, notification: message.split("\n")[0] },
      "could not notify systemd; later failures are not logged",
    );
  };
  const send = (message: string) => {
    if (closed) return;
    try {
      if (socket === undefined) {
        socket = (options.unixDgram ?? loadUnixDgram)().createSocket("unix_dgram");
        // Errors come back through the callback; this only keeps a stray one from crashing us.
        socket.on("error", () => undefined);
      }
      const buffer = Buffer.from(message, "utf8");
      socket.send(buffer, 0, buffer.length, path, (error) => {
        if (error) failed(error, message);
      });
    } catch (error) {
      failed(error, message);
    }
  };
  const oneLine = (text: string) => text.replace(/[\r\n]+/g, " ");
  const stopWatchdog = () => {
    clearInterval(timer);
    timer = undefined;
  };

  return {
    enabled: true,
    watchdogIntervalMs: intervalMs,
    ready: (status) =>
      send(status === undefined ? "READY=1" : `READY=1\nSTATUS=${oneLine(status)}`),
    status: (text) => send(`STATUS=${oneLine(text)}`),
    reloading: () => send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`),
    stopping: () => send("STOPPING=1"),
    watchdog: () => send("WATCHDOG=1"),
    startWatchdog() {
      if (intervalMs === undefined || timer !== undefined || closed) return;
      send("WATCHDOG=1");
      timer = setInterval(() => send("WATCHDOG=1"), intervalMs);
      // The pings show that the event loop turns; they must not keep it turning.
      timer.unref();
    },
    stopWatchdog,
    close() {
      if (closed) return;
      closed = true;
      stopWatchdog();
      try {
        socket?.close();
      } catch (error) {
        logger?.warn({ err: error }, "closing the systemd notification socket failed");
      }
      socket = undefined;
    },
  };
}
