import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry as MetricsRegistry } from "prom-client";
import type { AdapterStatusView, RegistryView } from "../../domain/status-view.js";
import { type Problem, sendJson, sendProblem } from "./problem.js";

/** What the HTTP API reads: the in-memory view of the last commit. */
export interface StatusQueries {
  list(): AdapterStatusView[];
  get(adapterId: string): AdapterStatusView | undefined;
  registryView(): RegistryView;
}

export interface HttpApiOptions {
  queries: StatusQueries;
  metrics: MetricsRegistry;
  logger: Logger;
  /** Whether the daemon has finished starting (migrations, restore, first sync attempt). */
  isReady: () => boolean;
}

interface Route {
  pattern: RegExp;
  handle: (
    request: IncomingMessage,
    response: ServerResponse,
    match: RegExpExecArray,
  ) => void | Promise<void>;
}

/** The daemon's HTTP API: a thin transport over the status queries. */
export class HttpApi {
  private readonly server: Server;
  private readonly routes: Route[];

  constructor(private readonly options: HttpApiOptions) {
    this.routes = [
      { pattern: /^\/v1\/adapters$/, handle: (_req, res) => this.listAdapters(res) },
      {
        pattern: /^\/v1\/adapters\/([^/]+)$/,
        handle: (_req, res, match) => this.getAdapter(res, match[1] ?? ""),
      },
      { pattern: /^\/metrics$/, handle: (_req, res) => this.metrics(res) },
      { pattern: /^\/healthz$/, handle: (_req, res) => sendJson(res, 200, { status: "ok" }) },
      { pattern: /^\/readyz$/, handle: (_req, res) => this.readiness(res) },
    ];
    this.server = createServer((request, response) => {
      void this.dispatch(request, response);
    });
    // Slow or idle clients cannot hold connections open indefinitely.
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.server.keepAliveTimeout = 5_000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const route = this.routes.find((candidate) => candidate.pattern.test(path));
    try {
      if (!route) {
        sendProblem(response, {
          status: 404,
          code: "NOT_FOUND",
          title: "Not found",
          detail: `no resource at ${path}`,
        });
        return;
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        sendProblem(
          response,
          {
            status: 405,
            code: "METHOD_NOT_ALLOWED",
            title: "Method not allowed",
            detail: `${request.method} is not allowed on ${path}`,
          },
          { allow: "GET, HEAD" },
        );
        return;
      }
      await route.handle(request, response, route.pattern.exec(path) as RegExpExecArray);
    } catch (error) {
      this.options.logger.error({ err: error, path }, "HTTP handler failed");
      if (!response.headersSent) {
        sendProblem(response, { status: 500, code: "INTERNAL", title: "Internal error" });
      } else {
        response.destroy();
      }
    }
  }

  private listAdapters(response: ServerResponse): void {
    const registry = this.options.queries.registryView();
    sendJson(response, 200, { adapters: this.options.queries.list(), registry });
  }

  private getAdapter(response: ServerResponse, encodedId: string): void {
    let adapterId: string;
    try {
      adapterId = decodeURIComponent(encodedId);
    } catch {
      sendProblem(response, {
        status: 400,
        code: "INVALID_ID",
        title: "Invalid adapter id",
        detail: "the id is not valid percent-encoding",
      });
      return;
    }
    const view = this.options.queries.get(adapterId);
    if (!view) {
      const problem: Problem = {
        status: 404,
        code: "ADAPTER_NOT_FOUND",
        title: "Adapter not found",
        detail: `no adapter with id ${JSON.stringify(adapterId)} in the catalog`,
        adapter_id: adapterId,
      };
      sendProblem(response, problem);
      return;
    }
    sendJson(response, 200, view);
  }

  private async metrics(response: ServerResponse): Promise<void> {
    const body = await this.options.metrics.metrics();
    response.writeHead(200, { "content-type": this.options.metrics.contentType });
    response.end(body);
  }

  private readiness(response: ServerResponse): void {
    if (this.options.isReady()) sendJson(response, 200, { status: "ready" });
    else
      sendProblem(response, {
        status: 503,
        code: "NOT_READY",
        title: "Not ready",
        detail: "start-up has not finished",
      });
  }
}
