import { accessSync, constants, readFileSync } from "node:fs";
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import { withDeadline } from "../lifecycle/deadline.js";
import { ClusterOptionError } from "./cluster-option-error.js";

export interface NatsLinkOptions {
  /** `nats://host:port`, `tls://host:port` or `host:port` (port 4222 when left out). */
  servers: string[];
  /** Client TLS: a CA to trust, and a certificate with its key for mutual TLS. */
  tls?: { caPath?: string; certPath?: string; keyPath?: string };
  /** A NATS `.creds` file (user JWT and NKey seed). */
  credentialsPath?: string;
  /** Shown by the server's monitoring, e.g. `oneiric-healthd <cluster>/<instance>`. */
  connectionName: string;
  logger: Logger;
}

/**
 * `connecting` until the first connection; `disconnected` while nats.js
 * reconnects after one; `closed` after `close()`.
 */
export type LinkState = "connecting" | "connected" | "disconnected" | "closed";

export interface LinkStatus {
  state: LinkState;
  /** When the link entered `state` (ms, `Date.now`), e.g. since when it is disconnected. */
  since: number;
  /** The last connection problem seen, or null when there has been none. */
  lastError: string | null;
  /** Reconnections after the first connection. */
  reconnects: number;
}

/** nats.js waits this long between two attempts on one server (its default is 2 s). */
const RECONNECT_WAIT_MS = 1_000;
/**
 * The random delay added to each wait, capped (nats.js's default for TLS is a
 * whole second) so that a fleet does not retry in step yet none waits long.
 */
const RECONNECT_JITTER_MS = 250;
/** A server that takes longer to greet us counts as unreachable for this attempt. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * nats.js pings every 2 minutes by default, so a connection that dies without a
 * TCP reset (a cut network) would look alive for minutes; two pings missed at
 * this interval mark it stale within about 15 s, close to one lease TTL.
 */
const PING_INTERVAL_MS = 5_000;
/** `close()` gives a drain this long, then closes outright. */
const DRAIN_BUDGET_MS = 1_500;
/** ...and the outright close the rest of the 2 s it may take. */
const CLOSE_BUDGET_MS = 500;

/**
 * The daemon's one connection to NATS. It never stands in the daemon's way: it
 * connects in the background, and an unreachable NATS (at start or later) is a
 * state to report, not an error. nats.js does the retrying, forever, first
 * connection included; the link watches it and says so once per outage (one
 * WARN when it starts, one INFO with its length when it ends), not once per retry.
 */
export class NatsLink {
  private readonly connectOptions: NodeConnectionOptions;
  private readonly logger: Logger;
  private readonly listeners = new Set<(state: LinkState) => void>();
  private current: LinkState = "connecting";
  private since = Date.now();
  private lastError: string | null = null;
  private reconnects = 0;
  private nc: NatsConnection | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  /** Attempts nats.js made before the first connection (it tells us of each through `reconnectToServer`). */
  private firstConnectAttempts = 0;
  /** When the current outage began (ms, `Date.now`), or null while NATS answers. */
  private outageSince: number | null = null;
  /** An error nats.js reported on the current connection, to say why it then dropped. */
  private problemSinceConnect: string | null = null;

  constructor(private readonly options: NatsLinkOptions) {
    this.logger = options.logger;
    this.connectOptions = connectOptionsFor(options, {
      // nats.js asks this before every dial, first connection included: the only
      // way to learn that a first attempt failed, and to stop the attempts after
      // close() (the pending connect() has no handle to cancel it by).
      reconnectToServer: () => {
        if (this.closing) throw new Error("the NATS link is closed");
        if (!this.nc) this.noteFirstConnectAttempt();
        return null;
      },
    });
  }

  /** Connects in the background, retrying forever. Never throws; calling it again does nothing. */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    // Connecting since now, not since construction.
    this.since = Date.now();
    this.firstConnect();
  }

  state(): LinkState {
    return this.current;
  }

  /** The connection, once there has been one (also while nats.js reconnects it), until closed. */
  connection(): NatsConnection | undefined {
    return this.current === "closed" ? undefined : this.nc;
  }

  /** Calls `listener` with each new state; returns the function that stops it. */
  onState(listener: (state: LinkState) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  status(): LinkStatus {
    return {
      state: this.current,
      since: this.since,
      lastError: this.lastError,
      reconnects: this.reconnects,
    };
  }

  /** Drains and closes the connection, within about 2 s; stops any connection attempt. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private firstConnect(): void {
    connect(this.connectOptions).then(
      (nc) => {
        if (this.closing) {
          // Connected while closing: the close did not see this connection.
          void nc.close().catch(() => undefined);
          return;
        }
        this.adopt(nc);
      },
      (error: unknown) => {
        if (this.closing) return;
        // With waitOnFirstConnect nats.js only gives up when told to (closing);
        // should it ever give up otherwise, start over rather than stay down.
        this.lastError = messageOf(error);
        this.logger.debug({ err: error }, "NATS connect gave up; starting over");
        setTimeout(() => this.firstConnect(), RECONNECT_WAIT_MS).unref();
      },
    );
  }

  private adopt(nc: NatsConnection): void {
    this.nc = nc;
    this.problemSinceConnect = null;
    const server = nc.getServer();
    if (this.outageSince === null) {
      this.logger.info({ server }, "connected to NATS");
    } else {
      this.reachableAgain(server);
    }
    this.setState("connected");
    void this.followStatus(nc);
    void nc.closed().then((error) => {
      if (this.closing || this.nc !== nc) return;
      // nats.js closed the connection itself (it gives up on some auth failures):
      // the link retries forever, so it starts over with a new connection.
      this.lastError = error ? messageOf(error) : "connection closed by the client library";
      this.nc = undefined;
      this.outageStarted(this.lastError);
      this.setState("disconnected");
      this.firstConnectAttempts = 0;
      this.firstConnect();
    });
  }

  private async followStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.closing || this.nc !== nc) return;
      this.onStatus(status, nc);
    }
  }

  private onStatus(status: Status, nc: NatsConnection): void {
    switch (status.type) {
      case "disconnect": {
        const cause = this.problemSinceConnect;
        this.lastError = `disconnected from ${status.server}${cause ? `: ${cause}` : ""}`;
        this.outageStarted(this.lastError);
        this.setState("disconnected");
        return;
      }
      case "reconnect":
        this.reconnects++;
        this.problemSinceConnect = null;
        this.reachableAgain(nc.getServer());
        this.setState("connected");
        return;
      case "error":
        this.problemSinceConnect = messageOf(status.error);
        this.lastError = this.problemSinceConnect;
        return;
      case "staleConnection":
        this.problemSinceConnect = "the server stopped answering pings";
        this.lastError = this.problemSinceConnect;
        return;
      default:
        return;
    }
  }

  private noteFirstConnectAttempt(): void {
    this.firstConnectAttempts++;
    // Each server tried once without a connection: NATS is unreachable for now.
    // (nats.js keeps the reason of a failed first attempt to itself.)
    if (this.firstConnectAttempts === this.options.servers.length + 1) {
      this.lastError = "no NATS server accepted a connection";
      this.outageStarted(this.lastError);
    }
  }

  private outageStarted(reason: string): void {
    if (this.outageSince !== null) return;
    this.outageSince = Date.now();
    this.logger.warn(
      { servers: this.options.servers, reason },
      this.current === "connecting"
        ? "NATS unreachable; connecting in the background, the daemon runs on without it"
        : "NATS unreachable; reconnecting in the background, the daemon runs on without it",
    );
  }

  private reachableAgain(server: string): void {
    if (this.outageSince === null) return;
    const downMs = Date.now() - this.outageSince;
    this.outageSince = null;
    this.logger.info(
      { server, downMs, downSec: Math.round(downMs / 100) / 10 },
      "NATS reachable again",
    );
  }

  private setState(next: LinkState): void {
    if (next === this.current) return;
    this.current = next;
    this.since = Date.now();
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (error) {
        this.logger.error({ err: error }, "a NATS link state listener threw");
      }
    }
  }

  private async shutDown(): Promise<void> {
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // A drain while disconnected cannot flush; it would only wait out its budget.
      const drained =
        this.current === "connected"
          ? await withDeadline(
              nc.drain().then(() => true),
              DRAIN_BUDGET_MS,
              () => undefined,
            ).catch(() => false)
          : false;
      if (!drained) {
        await withDeadline(nc.close(), CLOSE_BUDGET_MS, () => undefined).catch(() => undefined);
      }
    }
    this.setState("closed");
  }
}

interface ServerAddress {
  scheme: "nats" | "tls" | undefined;
  hostPort: string;
}

/** `scheme://host:port` (scheme optional, port 4222 when left out); IPv6 in brackets. */
const SERVER_FORM =
  /^(?:(?<scheme>[a-z]+):\/\/)?(?<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(?<port>\d{1,5}))?$/;

function parseServer(text: string, option: string): ServerAddress {
  if (text.includes("@")) {
    // nats.js would take user:password@ from the address; a secret does not belong there.
    throw new ClusterOptionError(
      option,
      "an address must not carry credentials (user@host); give a .creds file in credentialsPath",
    );
  }
  const match = SERVER_FORM.exec(text.trim());
  const groups = match?.groups;
  if (!groups?.host) {
    throw new ClusterOptionError(
      option,
      `${JSON.stringify(text)} is not a NATS server address (nats://host:port, tls://host:port or host:port)`,
    );
  }
  const scheme = groups.scheme;
  if (scheme !== undefined && scheme !== "nats" && scheme !== "tls") {
    throw new ClusterOptionError(
      option,
      `${JSON.stringify(text)}: the scheme must be nats:// or tls://, not ${scheme}://`,
    );
  }
  const port = groups.port === undefined ? 4222 : Number(groups.port);
  if (port < 1 || port > 65_535) {
    throw new ClusterOptionError(option, `${JSON.stringify(text)}: port ${port} is out of range`);
  }
  return { scheme, hostPort: `${groups.host}:${port}` };
}

function readable(path: string, option: string): string {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new ClusterOptionError(option, `cannot read ${path}: ${messageOf(error)}`);
  }
  return path;
}

/**
 * The credentials file is read again at each connection attempt, so a rotated
 * file is picked up by the next reconnect; if it cannot be read then, the last
 * good copy is used (a missing file at start is a configuration error instead).
 */
function credentialsFrom(path: string): Authenticator {
  let lastGood: Uint8Array;
  try {
    lastGood = readFileSync(path);
  } catch (error) {
    throw new ClusterOptionError("credentialsPath", `cannot read ${path}: ${messageOf(error)}`);
  }
  try {
    credsAuthenticator(lastGood)("validation-nonce");
  } catch (error) {
    throw new ClusterOptionError(
      "credentialsPath",
      `${path} is not a NATS credentials file: ${messageOf(error)}`,
    );
  }
  return credsAuthenticator(() => {
    try {
      lastGood = readFileSync(path);
    } catch {
      // Keep the last good copy: a file being replaced may be missing for a moment.
    }
    return lastGood;
  });
}

function connectOptionsFor(
  options: NatsLinkOptions,
  extra: Pick<NodeConnectionOptions, "reconnectToServer">,
): NodeConnectionOptions {
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new ClusterOptionError("servers", "at least one NATS server address is needed");
  }
  const servers = options.servers.map((text, index) => parseServer(text, `servers[${index}]`));
  const schemes = new Set(servers.map((server) => server.scheme ?? "nats"));
  if (schemes.size > 1) {
    throw new ClusterOptionError(
      "servers",
      "mixes nats:// and tls:// addresses; one connection uses TLS with every server or with none",
    );
  }
  if (options.connectionName.trim() === "") {
    throw new ClusterOptionError("connectionName", "must not be empty");
  }
  const tls = options.tls;
  if (tls && (tls.certPath === undefined) !== (tls.keyPath === undefined)) {
    throw new ClusterOptionError(
      tls.certPath === undefined ? "tls.certPath" : "tls.keyPath",
      "a client certificate needs both tls.certPath and tls.keyPath",
    );
  }
  const useTls = schemes.has("tls") || tls !== undefined;
  return {
    servers: servers.map((server) => server.hostPort),
    name: options.connectionName,
    ...(useTls
      ? {
          // Any TLS options object makes nats.js require TLS of the server.
          tls: {
            ...(tls?.caPath ? { caFile: readable(tls.caPath, "tls.caPath") } : {}),
            ...(tls?.certPath ? { certFile: readable(tls.certPath, "tls.certPath") } : {}),
            ...(tls?.keyPath ? { keyFile: readable(tls.keyPath, "tls.keyPath") } : {}),
          },
        }
      : {}),
    ...(options.credentialsPath ? { authenticator: credentialsFrom(options.credentialsPath) } : {}),
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    // Keep retrying when the server rejects our credentials twice (nats.js would
    // close for good): they may be fixed on the server side.
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    reconnectJitter: RECONNECT_JITTER_MS,
    reconnectJitterTLS: RECONNECT_JITTER_MS,
    timeout: HANDSHAKE_TIMEOUT_MS,
    pingInterval: PING_INTERVAL_MS,
    ...extra,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
