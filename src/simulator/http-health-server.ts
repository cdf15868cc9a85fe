import type { IncomingMessage, ServerResponse } from "node:http";
import type { AdapterTable } from "./adapter-table.js";

/**
 * HTTP checks answered, per adapter and per user agent: who probes which adapter how
 * often (a cluster's members name themselves in it; see docs/scale-out.md).
 */
export class ProbeCounts {
  private readonly counts = new Map<string, Map<string, number>>();

  record(adapterId: string, userAgent: string): void {
    let byAgent = this.counts.get(adapterId);
    if (!byAgent) {
      byAgent = new Map();
      this.counts.set(adapterId, byAgent);
    }
    byAgent.set(userAgent, (byAgent.get(userAgent) ?? 0) + 1);
  }

  /** A copy: adapter id → user agent → checks answered so far. */
  snapshot(): Map<string, Map<string, number>> {
    return new Map([...this.counts].map(([adapterId, byAgent]) => [adapterId, new Map(byAgent)]));
  }
}

export interface HttpHealthHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Drops responses still waiting out a delay, so stopping does not wait for them. */
  close(): void;
}

const PREFIX = "/health/";

/**
 * Per-adapter HTTP health endpoints: `GET /health/<adapter_id>` answers 200 when the adapter
 * is up and 503 when it is down, after the adapter's current delay; 404 for an unknown id.
 */
export function createHttpHealthHandler(
  table: AdapterTable,
  probes?: ProbeCounts,
): HttpHealthHandler {
  const pending = new Map<NodeJS.Timeout, ServerResponse>();

  return {
    handle(req, res) {
      const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
      if (!path.startsWith(PREFIX) || path.length === PREFIX.length) {
        send(res, 404, { status: "not_found", error: `no route for ${path}` });
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET, HEAD");
        send(res, 405, { status: "error", error: `method ${req.method} not allowed` });
        return;
      }
      let adapterId: string;
      try {
        adapterId = decodeURIComponent(path.slice(PREFIX.length));
      } catch {
        send(res, 400, { status: "error", error: "malformed adapter id in path" });
        return;
      }

      // One sample per request, so an intermittent adapter fails per request.
      const sample = table.sample(adapterId);
      if (sample !== undefined) probes?.record(adapterId, req.headers["user-agent"] ?? "");
      if (sample === undefined) {
        send(res, 404, {
          status: "unknown",
          adapter_id: adapterId,
          error: `adapter "${adapterId}" is not registered`,
        });
        return;
      }
      const answer = () =>
        sample.up
          ? send(res, 200, { status: "ok", adapter_id: adapterId })
          : send(res, 503, { status: "down", adapter_id: adapterId });
      if (sample.delayMs === 0) {
        answer();
        return;
      }
      const timer = setTimeout(() => {
        pending.delete(timer);
        answer();
      }, sample.delayMs);
      pending.set(timer, res);
      res.on("close", () => {
        clearTimeout(timer);
        pending.delete(timer);
      });
    },

    close() {
      for (const [timer, res] of pending) {
        clearTimeout(timer);
        res.destroy();
      }
      pending.clear();
    },
  };
}

function send(res: ServerResponse, statusCode: number, body: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    // A health answer is only true at the moment it is given.
    "Cache-Control": "no-store",
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}
