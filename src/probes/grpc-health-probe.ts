import { Http2HealthClient, type Http2HealthClientOptions } from "./http2-health-client.js";
import type { Probe, ProbeResult } from "./probe.js";

/** A parsed `grpc://host:port/service` target. */
export interface GrpcHealthTarget {
  address: string;
  secure: boolean;
  service: string;
}

/**
 * The common shape, `grpc://host:port/package.Service`, which URL parsing would leave as it is:
 * a plain host name or IPv4 address, a port without a leading zero, a service name of
 * characters that need no decoding and no dot segment.
 */
const PLAIN_TARGET =
  /^grpc(s?):\/\/([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*):([1-9][0-9]{0,4})(?:\/([A-Za-z0-9_.-]*))?$/;

export function parseGrpcTarget(target: string): GrpcHealthTarget | string {
  // Probes parse their target on every check: the regular expression is far cheaper than URL.
  const plain = PLAIN_TARGET.exec(target);
  if (plain && Number(plain[3]) <= 65_535 && plain[4] !== "." && plain[4] !== "..") {
    return {
      address: `${plain[2]}:${plain[3]}`,
      secure: plain[1] === "s",
      service: plain[4] ?? "",
    };
  }
  return parseGrpcTargetAsUrl(target);
}

/** `parseGrpcTarget` without its shortcut: what any target means, by URL parsing. */
export function parseGrpcTargetAsUrl(target: string): GrpcHealthTarget | string {
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
 * Probes a `grpc://host:port/service` target with grpc.health.v1 `Check`: SERVING is
 * healthy. Checks go over `node:http2` with hand-built frames, one connection per address
 * shared by every service there (see `Http2HealthClient`); `grpcs://` is TLS, trusting
 * Node's CA store unless `tls` says more.
 */
export class GrpcHealthProbe implements Probe {
  readonly kind = "grpc";
  private readonly client: Http2HealthClient;

  constructor(options: Http2HealthClientOptions = {}) {
    this.client = new Http2HealthClient(options);
  }

  check(target: string, timeoutMs: number): Promise<ProbeResult> {
    const parsed = parseGrpcTarget(target);
    if (typeof parsed === "string") {
      return Promise.resolve({ ok: false, latencyMs: 0, detail: parsed });
    }
    return this.client.check(parsed, timeoutMs);
  }

  close(): void {
    this.client.close();
  }

  /** Connections open per address (`host:port`, `s` first for TLS). */
  sessionCounts(): Map<string, number> {
    return this.client.sessionCounts();
  }
}
