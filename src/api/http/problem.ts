import type { ServerResponse } from "node:http";

/** RFC 9457 problem details, with a stable machine-readable `code`. */
export interface Problem {
  status: number;
  code: string;
  title: string;
  detail?: string;
  [extension: string]: unknown;
}

export function sendProblem(
  response: ServerResponse,
  problem: Problem,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ type: "about:blank", ...problem });
  response.writeHead(problem.status, {
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  response.end(body);
}
