import {
  Agent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { Logger } from "pino";
import type { Principal } from "../auth/authenticator.js";
import { ADMITTED_PRINCIPAL_HEADER, hasBody, type PassOn, principalHeader } from "./http-server.js";
import { sendProblem } from "./problem.js";

/**
 * The header the internal API puts on every answer: the replica sequence the
 * main thread has recorded so far, changes made by the request included. The
 * front holds the answer until its replica has applied it (read-your-writes),
 * and never shows the header to clients.
 */
export const REPLICA_SEQ_HEADER = "x-oneiric-healthd-replica-seq";

/** Headers that describe one connection, not the message: never passed on. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Past this, an answer is let through even if the replica has not caught up (a bug, logged). */
const HOLD_LIMIT_MS = 2_000;

export interface PassOnOptions {
  /** The internal API's unix socket. */
  socketPath: string;
  /** Resolves once the replica has applied `seq` (at once when it already has). */
  applied: (seq: number) => Promise<void>;
  logger: Logger;
}

/** Tries, and the pause between them, for a connection the internal socket refused as busy. */
const CONNECT_RETRIES = 5;
const CONNECT_RETRY_MS = 20;

/**
 * Streams a request to the internal API and its answer back, both ways as the
 * bytes come (SSE and MCP's streamable HTTP included), holding only the status
 * line until the replica is as new as the answer.
 */
export function passOnTo(options: PassOnOptions): { passOn: PassOn; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });
  const passOn: PassOn = (request, response, principal) =>
    new Promise<void>((resolve) => {
      const bodiless = !hasBody(request);
      const attempt = (retries: number): void => {
        const upstream = httpRequest(
          {
            agent,
            socketPath: options.socketPath,
            method: request.method,
            path: request.url,
            headers: forwardedHeaders(request.headers, principal),
          },
          (answer) => void relay(answer, response, options).then(resolve),
        );
        upstream.on("error", (error) => {
          // A full accept queue on the socket refuses at once; a request with nothing to
          // resend is tried again shortly rather than answered 500.
          if (
            bodiless &&
            retries > 0 &&
            (error as NodeJS.ErrnoException).code === "EAGAIN" &&
            !response.headersSent &&
            !response.destroyed
          ) {
            setTimeout(attempt, CONNECT_RETRY_MS, retries - 1);
            return;
          }
          failed(error);
        });
        // A client that goes away takes its request (an event stream, say) with it.
        response.on("close", () => {
          if (!response.writableFinished) upstream.destroy();
        });
        request.pipe(upstream);
      };
      const failed = (error: Error): void => {
        if (!response.headersSent) {
          options.logger.error({ err: error }, "the main thread's HTTP API did not answer");
          sendProblem(response, { status: 500, code: "INTERNAL", title: "internal error" });
        } else {
          response.destroy();
        }
        resolve();
      };
      attempt(CONNECT_RETRIES);
    });
  return { passOn, close: () => agent.destroy() };
}

async function relay(
  answer: IncomingMessage,
  response: ServerResponse,
  options: PassOnOptions,
): Promise<void> {
  const seq = Number(answer.headers[REPLICA_SEQ_HEADER] ?? 0);
  if (seq > 0) await holdUntilApplied(options, seq);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === REPLICA_SEQ_HEADER) continue;
    headers[name] = value;
  }
  response.writeHead(answer.statusCode ?? 502, headers);
  // An event stream's headers go out now, not with its first event.
  response.flushHeaders();
  answer.pipe(response);
  await new Promise<void>((resolve) => {
    answer.on("end", resolve);
    answer.on("error", () => {
      response.destroy();
      resolve();
    });
    response.on("close", resolve);
  });
}

async function holdUntilApplied(options: PassOnOptions, seq: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), HOLD_LIMIT_MS);
  });
  const tooLate = await Promise.race([options.applied(seq).then(() => false), late]);
  clearTimeout(timer);
  if (tooLate) {
    options.logger.error({ seq }, "the replica did not apply a write's changes in time");
  }
}

function forwardedHeaders(
  incoming: IncomingHttpHeaders,
  principal: Principal | undefined,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === ADMITTED_PRINCIPAL_HEADER) continue;
    headers[name] = value;
  }
  if (principal) headers[ADMITTED_PRINCIPAL_HEADER] = principalHeader(principal);
  return headers;
}
