/**
 * One GET of a daemon's `/healthz` or `/readyz`, as a container's HEALTHCHECK or
 * a person asks it: over HTTP or HTTPS, with a bearer token when the probes are
 * closed, with a client certificate when the daemon asks for one. The answer is
 * a verdict with the reason, never an exception.
 */
import { X509Certificate } from "node:crypto";
import { request } from "node:http";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";

export type ProbePath = "/healthz" | "/readyz";

export interface DaemonProbeTarget {
  /** `http://host:port` or `https://host:port`, no path. */
  baseUrl: string;
  path: ProbePath;
  /**
   * The certificate the daemon is configured to serve (DER). When set, the
   * daemon is trusted by presenting exactly this certificate, whoever signed it
   * and whatever names it carries (a probe of loopback reaches the daemon by an
   * address its certificate need not name); otherwise the usual CA and host
   * name checks apply (system roots, NODE_EXTRA_CA_CERTS).
   */
  pinnedCertificate?: Buffer | undefined;
  /** Where the pinned certificate came from, for the message when it differs. */
  pinnedFrom?: string | undefined;
  /** A client certificate and key (PEM), for a daemon that requires one. */
  clientCertificate?: { cert: Buffer; key: Buffer } | undefined;
  /** Sent as `authorization: Bearer …`. */
  token?: string | undefined;
  timeoutMs: number;
}

export interface DaemonProbeVerdict {
  ok: boolean;
  /** The HTTP status, when the daemon answered. */
  status?: number;
  /** One line: what the daemon said (its note or the reason it is not ready), or why it could not be asked. */
  detail: string;
}

/** Asks once; resolves with a verdict whatever happens (refused, timed out, wrong certificate). */
export async function probeDaemon(target: DaemonProbeTarget): Promise<DaemonProbeVerdict> {
  const url = `${target.baseUrl}${target.path}`;
  const signal = AbortSignal.timeout(target.timeoutMs);
  let socket: Socket | undefined;
  try {
    socket = await openSocket(target, signal);
    const { status, body } = await get(socket, target, signal);
    return verdictOf(url, target, status, body);
  } catch (error) {
    if (signal.aborted) {
      return { ok: false, detail: `no answer from ${url} within ${target.timeoutMs / 1000} s` };
    }
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, detail: `no daemon answering at ${url} (${message})` };
  } finally {
    socket?.destroy();
  }
}

function verdictOf(
  url: string,
  target: DaemonProbeTarget,
  status: number,
  body: string,
): DaemonProbeVerdict {
  const parsed = parseJson(body);
  if (status === 200) {
    const note = typeof parsed?.note === "string" ? ` (${parsed.note})` : "";
    const what = target.path === "/readyz" ? "ready" : "live";
    return { ok: true, status, detail: `${what}: ${url} answered 200${note}` };
  }
  if (status === 401 || status === 403) {
    const hint = target.token
      ? "the token in ONEIRIC_HEALTHD_TOKEN was refused"
      : "set ONEIRIC_HEALTHD_TOKEN to a token with the read scope";
    return {
      ok: false,
      status,
      detail: `${url} answered ${status}: the probes need a token (healthd.auth.open_paths.healthz is false); ${hint}`,
    };
  }
  const detail = typeof parsed?.detail === "string" ? parsed.detail : body.trim().slice(0, 300);
  const what = target.path === "/readyz" ? "not ready" : "not live";
  return { ok: false, status, detail: `${what}: ${url} answered ${status}: ${detail}` };
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A connected socket, and for HTTPS one whose handshake is done and whose peer
 * is verified, before a byte of the request (its token) is written.
 */
function openSocket(target: DaemonProbeTarget, signal: AbortSignal): Promise<Socket> {
  const url = new URL(target.baseUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const https = url.protocol === "https:";
  const port = Number(url.port || (https ? 443 : 80));
  return new Promise<Socket>((resolve, reject) => {
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason);
    };
    const settle = (error?: Error) => {
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners("error");
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const socket: Socket = https
      ? tlsConnect(
          {
            host,
            port,
            // SNI takes a name, never an address.
            ...(isIP(host) === 0 ? { servername: host } : {}),
            rejectUnauthorized: target.pinnedCertificate === undefined,
            ...(target.clientCertificate ?? {}),
          },
          () => settle(pinningError(socket as TLSSocket, target)),
        )
      : netConnect({ host, port }, () => settle());
    socket.once("error", (error) => settle(error));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function pinningError(socket: TLSSocket, target: DaemonProbeTarget): Error | undefined {
  if (target.pinnedCertificate === undefined) return undefined;
  const presented = socket.getPeerX509Certificate();
  if (presented?.raw.equals(target.pinnedCertificate)) return undefined;
  return new Error(
    `it presented a certificate other than ${target.pinnedFrom ?? "the configured one"}${presented ? ` (subject ${presented.subject.replaceAll("\n", ", ")})` : ""}`,
  );
}

function get(
  socket: Socket,
  target: DaemonProbeTarget,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        createConnection: () => socket,
        path: target.path,
        method: "GET",
        headers: {
          host: new URL(target.baseUrl).host,
          accept: "application/json",
          ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        },
        signal,
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          // A probe answer is a line of JSON; more is not read.
          if (body.length < 16_384) body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** The DER bytes of the first certificate in a PEM file's text. */
export function certificateDer(pem: Buffer): Buffer {
  return new X509Certificate(pem).raw;
}
