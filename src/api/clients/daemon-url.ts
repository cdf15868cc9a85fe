import type { DaemonConfig } from "../../config/load.js";
import { formatHostPort } from "../../domain/host-port.js";

/**
 * The URL a client on this host reaches a daemon listening on `listen` at:
 * a wildcard address means this host's loopback, and a daemon serving HTTPS
 * is reached over HTTPS. Kept apart from the backends so that `healthcheck`
 * does not load SQLite to learn an address.
 */
export function daemonUrlFor(config: DaemonConfig): string {
  const { host, port } = config.http.listen;
  const reachable = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const scheme = config.http.tls ? "https" : "http";
  return `${scheme}://${formatHostPort(reachable, port)}`;
}
