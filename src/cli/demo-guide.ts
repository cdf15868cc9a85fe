/**
 * The block `demo` prints once its daemon is ready: every surface at the address
 * it really listens on, and the CLI commands that reach this daemon, spelt the
 * way they run where the demo was started.
 */
import { formatHostPort } from "../domain/host-port.js";
import { shellWord } from "./cli-invocation.js";

/** The daemon's HTTP address the query commands ask when given no source (docs/cli.md). */
const DEFAULT_QUERY_URL = "http://127.0.0.1:8681";

export interface DemoPlaces {
  /** How the CLI is typed here (`npx oneiric-healthd`, `node bin/oneiric-healthd.js`, …). */
  cli: string;
  http: { host: string; port: number };
  /** `HOST:PORT`. */
  grpc: string;
  /** `HOST:PORT`. */
  simulatedRegistry: string;
  dbPath: string;
  /** A workflow file for `workflow check`, as typed from where the demo runs. */
  workflowFile: string;
  /** An adapter of the scenario, for the one-adapter URL. */
  exampleAdapterId: string | undefined;
}

export function demoGuide(places: DemoPlaces): string {
  const base = `http://${formatHostPort(places.http.host, places.http.port)}`;
  // The query commands ask 127.0.0.1:8681 unless told otherwise.
  const source = base === DEFAULT_QUERY_URL ? "" : ` --url ${base}`;
  const cli = places.cli;
  const row = (what: string, where: string) => `  ${what.padEnd(21)}${where}`;
  return [
    "Where to look:",
    row("status page", `${base}/`),
    row("live table", `${cli} status --watch${source}`),
    row("HTTP API", `${base}/v1/adapters`),
    ...(places.exampleAdapterId === undefined
      ? []
      : [row("one adapter", `${base}/v1/adapters/${encodeURIComponent(places.exampleAdapterId)}`)]),
    row("OpenAPI", `${base}/openapi.json`),
    row("metrics", `${base}/metrics`),
    row("liveness, readiness", `${base}/healthz  ${base}/readyz`),
    row("events (SSE)", `curl -N -H 'Accept: text/event-stream' ${base}/v1/events`),
    row("gRPC", `${places.grpc} (reflection on: grpcurl -plaintext ${places.grpc} list)`),
    row("MCP", `${base}/mcp (streamable HTTP), or on stdio: ${cli} mcp${source}`),
    row("simulated registry", places.simulatedRegistry),
    "Try:",
    `  ${cli} status${source}`,
    `  ${cli} resolve adapter storage s3${source}`,
    `  ${cli} events --follow${source}`,
    `  ${cli} workflow check ${shellWord(places.workflowFile)}${source}`,
    `  ${cli} uptime --window 1h${source}`,
  ].join("\n");
}
