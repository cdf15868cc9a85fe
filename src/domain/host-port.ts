/** A parsed `HOST:PORT` listen or connect address. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`, `[IPv6]:PORT`; returns an error message instead of throwing. */
export function parseHostPort(value: string): HostPort | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return `expected HOST:PORT, got ${JSON.stringify(value)}`;
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port > 65535) return `port ${port} is out of range 0-65535`;
  return { host, port };
}

/** `host:port`, bracketing IPv6 hosts as URLs and gRPC targets require. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
