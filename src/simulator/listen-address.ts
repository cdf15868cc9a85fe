import { formatHostPort, parseHostPort } from "../domain/host-port.js";

export { formatHostPort };

/** A `HOST:PORT` listen address, as written on the command line. */
export interface ListenAddress {
  /** Without brackets, also for IPv6 (`::1`). */
  host: string;
  /** 0 asks the operating system for a free port. */
  port: number;
}

/** Parses `127.0.0.1:8679`, `localhost:0` or `[::1]:8679`; throws a RangeError otherwise. */
export function parseListenAddress(text: string): ListenAddress {
  const parsed = parseHostPort(text);
  if (typeof parsed === "string") {
    throw new RangeError(
      `invalid listen address "${text}": expected HOST:PORT (e.g. 127.0.0.1:8679 or [::1]:0)`,
    );
  }
  return parsed;
}

/**
 * The host to put in URLs handed to clients: a wildcard bind address is not something a
 * client can connect to, so it is replaced by loopback.
 */
export function connectableHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}
