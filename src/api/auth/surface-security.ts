import type { DaemonConfig } from "../../config/load.js";
import type { HostPort } from "../../domain/host-port.js";
import { type AccessControl, createAccessControl } from "./access-control.js";
import { readTlsMaterial, type TlsMaterial } from "./tls-material.js";

/** What protects the daemon's own HTTP and gRPC servers, read from the configuration. */
export interface SurfaceSecurity {
  access: AccessControl;
  httpTls: TlsMaterial | undefined;
  grpcTls: TlsMaterial | undefined;
  /** Configurations that are allowed but probably not meant, to be logged at start-up. */
  warnings: string[];
}

/**
 * Reads the TLS files and the JWKS file up front, so a bad one stops start-up
 * with a message naming it instead of failing the first client.
 */
export function surfaceSecurity(config: DaemonConfig): SurfaceSecurity {
  const warnings: string[] = [];
  const servers = [
    ["HTTP", config.http.listen, config.http.tls],
    ["gRPC", config.grpc.listen, config.grpc.tls],
  ] as const;
  for (const [name, listen, tls] of servers) {
    if (isLoopback(listen)) continue;
    if (!config.auth.enabled) {
      warnings.push(
        `${name} listens on ${listen.host}, beyond loopback, without authentication (healthd.auth.enabled is false)`,
      );
    }
    if (!tls) {
      warnings.push(
        `${name} listens on ${listen.host}, beyond loopback, without TLS: tokens cross the network in clear`,
      );
    }
  }
  return {
    access: createAccessControl(config.auth, config.limits),
    httpTls: config.http.tls && readTlsMaterial(config.http.tls, "HTTP"),
    grpcTls: config.grpc.tls && readTlsMaterial(config.grpc.tls, "gRPC"),
    warnings,
  };
}

function isLoopback(address: HostPort): boolean {
  const host = address.host.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
