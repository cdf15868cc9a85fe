/**
 * MCP over stdio, for `oneiric-healthd mcp`: one session, the client on the
 * other end of stdin/stdout. Nothing but protocol messages is written to
 * stdout; logs go to stderr (the default logger here, and any logger passed in
 * must do the same, as must whatever the backend logs).
 *
 * Resource subscriptions follow the daemon's journal by polling
 * `backend.events()` (every `pollIntervalMs`, default 500 ms) while something
 * is subscribed: simpler than holding an SSE stream, and it works the same for
 * every backend that answers `events` (a backend that cannot, such as a
 * database file read while the daemon is stopped, just sends no updates).
 */

import type { Readable, Writable } from "node:stream";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import pino, { type Logger } from "pino";
import type { QueryBackend } from "../query-backend.js";
import { createMcpServer } from "./mcp-server.js";

export interface McpStdioOptions {
  /** The daemon's version, announced in `initialize`. */
  version: string;
  /** Must write to stderr (fd 2) or elsewhere, never stdout. Default: pino JSON on stderr. */
  logger?: Logger | undefined;
  /** Journal polling period for resource subscriptions (default 500 ms). */
  pollIntervalMs?: number | undefined;
  /** Ends the session when aborted (e.g. on SIGTERM). */
  signal?: AbortSignal | undefined;
  /** For tests; default process.stdin / process.stdout. */
  stdin?: Readable | undefined;
  stdout?: Writable | undefined;
}

/**
 * Serves MCP on stdin/stdout until the client goes away (stdin ends or stdout
 * breaks) or `signal` aborts; resolves then, with everything released.
 */
export async function runMcpStdio(backend: QueryBackend, options: McpStdioOptions): Promise<void> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const logger =
    options.logger ?? pino({ name: "oneiric-healthd", level: "info" }, pino.destination(2));
  const server = createMcpServer(backend, {
    version: options.version,
    pollIntervalMs: options.pollIntervalMs,
    logger,
  });
  const transport = new StdioServerTransport(stdin, stdout);

  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  transport.onerror = (error) => logger.warn({ err: error }, "MCP stdio message error");
  let closing = false;
  const stop = (why: string) => {
    if (closing) return;
    closing = true;
    logger.debug({ why }, "MCP stdio session ending");
    void server.close().catch(() => {});
  };
  const onEnd = () => stop("stdin ended");
  const onStdoutError = (error: Error) => {
    logger.warn({ err: error }, "stdout broke");
    stop("stdout broke");
  };
  const onAbort = () => stop("aborted");
  stdin.once("end", onEnd);
  stdin.once("close", onEnd);
  stdout.once("error", onStdoutError);
  options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    await server.connect(transport);
    logger.info({ backend: backend.description }, "MCP server on stdio");
    if (options.signal?.aborted) stop("aborted");
    // Ended before the transport was connected: close it now that there is one.
    if (closing) void server.close().catch(() => {});
    await closed;
  } finally {
    stdin.off("end", onEnd);
    stdin.off("close", onEnd);
    stdout.off("error", onStdoutError);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
