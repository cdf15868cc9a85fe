import { credentials, status as grpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  healthCheckResponse_ServingStatusToJSON,
} from "../gen/grpc/health/v1/health.js";
import { elapsedSince, type Probe, type ProbeResult } from "./probe.js";

/** A parsed `grpc://host:port/service` target. */
export interface GrpcHealthTarget {
  address: string;
  secure: boolean;
  service: string;
}

export function parseGrpcTarget(target: string): GrpcHealthTarget | string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return "invalid URL";
  }
  if (url.protocol !== "grpc:" && url.protocol !== "grpcs:") return `not a grpc:// URL`;
  if (!url.hostname || !url.port) return "grpc target needs host and port";
  let service: string;
  try {
    service = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch {
    // URL() keeps a malformed escape such as %zz; decoding it throws URIError.
    return "service name in grpc target is not valid percent-encoding";
  }
  return {
    address: `${url.hostname}:${url.port}`,
    secure: url.protocol === "grpcs:",
    service,
  };
}

/**
 * Probes a `grpc://host:port/service` target with grpc.health.v1 `Check`:
 * SERVING is healthy. One channel per address is kept and reused.
 */
export class GrpcHealthProbe implements Probe {
  readonly kind = "grpc";
  private readonly clients = new Map<string, HealthClient>();

  check(target: string, timeoutMs: number): Promise<ProbeResult> {
    const startedAt = performance.now();
    const parsed = parseGrpcTarget(target);
    if (typeof parsed === "string") {
      return Promise.resolve({ ok: false, latencyMs: 0, detail: parsed });
    }
    const client = this.clientFor(parsed);
    return new Promise<ProbeResult>((resolve) => {
      client.check(
        { service: parsed.service },
        new Metadata(),
        { deadline: new Date(Date.now() + timeoutMs) },
        (error: ServiceError | null, response) => {
          const latencyMs = elapsedSince(startedAt);
          if (error) {
            const detail =
              error.code === grpcStatus.DEADLINE_EXCEEDED
                ? `no answer within ${timeoutMs} ms`
                : `${grpcStatus[error.code] ?? error.code}: ${error.details}`;
            resolve({ ok: false, latencyMs, detail });
            return;
          }
          const serving = response.status === HealthCheckResponse_ServingStatus.SERVING;
          resolve({
            ok: serving,
            latencyMs,
            detail: healthCheckResponse_ServingStatusToJSON(response.status),
          });
        },
      );
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(target: GrpcHealthTarget): HealthClient {
    const key = `${target.secure ? "s" : ""}${target.address}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new HealthClient(
        target.address,
        target.secure ? credentials.createSsl() : credentials.createInsecure(),
        { "grpc.keepalive_time_ms": 30_000, "grpc.initial_reconnect_backoff_ms": 500 },
      );
      this.clients.set(key, client);
    }
    return client;
  }
}
