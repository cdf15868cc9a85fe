import { connect, type LookupFunction, type Socket } from "node:net";
import { describeError, elapsedSince, type Probe, type ProbeResult } from "./probe.js";

/** A parsed `tcp://host:port` target. */
export interface TcpTarget {
  /** Without the brackets of an IPv6 literal, as `net.connect` wants it. */
  host: string;
  port: number;
}

export function parseTcpTarget(target: string): TcpTarget | string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return "invalid URL";
  }
  if (url.protocol !== "tcp:") return "not a tcp:// URL";
  if (!url.hostname || !url.port) return "tcp target needs host and port";
  const port = Number(url.port);
  // URL() accepts port 0, which nothing can listen on for a client to reach.
  if (port < 1) return "tcp target needs a port from 1 to 65535";
  // A path or query means the target was meant for another probe kind; failing says so,
  // where ignoring it would pass a check that was never made.
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    return "tcp target takes only host and port";
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

export interface TcpProbeOptions {
  /** Host name resolution; `dns.lookup` by default. Tests use it to stall a connect. */
  lookup?: LookupFunction;
}

/**
 * Probes a `tcp://host:port` target: a TCP connection completed within the deadline is
 * healthy. The socket is closed as soon as it connects; nothing is sent, so this says the
 * port accepts connections, not that the service behind it answers.
 */
export class TcpProbe implements Probe {
  readonly kind = "tcp";
  private readonly lookup: LookupFunction | undefined;

  constructor(options: TcpProbeOptions = {}) {
    this.lookup = options.lookup;
  }

  check(target: string, timeoutMs: number): Promise<ProbeResult> {
    const startedAt = performance.now();
    const parsed = parseTcpTarget(target);
    if (typeof parsed === "string") {
      return Promise.resolve({ ok: false, latencyMs: 0, detail: parsed });
    }
    return new Promise<ProbeResult>((resolve) => {
      let settled = false;
      // Declared before finish() can run: an early failure must not hit the TDZ.
      let timer: ReturnType<typeof setTimeout> | undefined;
      let socket: Socket | undefined;
      const finish = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // Destroyed rather than ended: there is nothing to flush, and waiting for the peer's
        // FIN would hold the socket open for no reason.
        socket?.destroy();
        resolve({ ok, latencyMs: elapsedSince(startedAt), detail });
      };
      try {
        socket = connect({
          host: parsed.host,
          port: parsed.port,
          ...(this.lookup ? { lookup: this.lookup } : {}),
        });
      } catch (error) {
        finish(false, describeError(error));
        return;
      }
      // One timer covers name resolution and the handshake; a socket timeout would only
      // measure idleness.
      timer = setTimeout(() => finish(false, `no connection within ${timeoutMs} ms`), timeoutMs);
      socket.once("connect", () => finish(true, "connected"));
      // Stays attached after finish(): a late error on a destroyed socket must not go unhandled.
      socket.on("error", (error) => finish(false, describeError(error)));
    });
  }

  /** Nothing is pooled: each check closes its own socket. */
  close(): void {}
}
