import { setTimeout as delay } from "node:timers/promises";
import type { CloudEvent } from "../../domain/events.js";
import type { AdapterStatusView, RegistryView } from "../../domain/status-view.js";
import { ApiError, type ApiErrorCode, HTTP_STATUS } from "../api-error.js";
import type { UptimeAnswer } from "../history-queries.js";
import type {
  CheckHealthAnswer,
  EventsPage,
  HealthCheckAnswer,
  QueryBackend,
} from "../query-backend.js";
import {
  type AdapterDetail,
  eventsPageSchema,
  listFilterSchema,
  parseParameters,
  type ResolutionAnswer,
  requirementSchema,
  resolveBatchSchema,
  uptimeQuerySchema,
} from "../query-service.js";

export { DEFAULT_DAEMON_URL } from "./source-defaults.js";

/** Told about connection trouble while following, so a person sees why nothing arrives. */
export type NoticeListener = (message: string) => void;

/**
 * Follows the journal after seq `since` (undefined: from now, no history)
 * until `signal` aborts; both backends offer it.
 */
export interface EventFollower {
  followEvents(
    since: number | undefined,
    onEvent: (event: CloudEvent) => void,
    signal: AbortSignal,
    onNotice?: NoticeListener,
  ): Promise<void>;
}

export interface HttpQueryBackendOptions {
  /** Per-call deadline; a daemon answers from memory, so this only trips when it is wedged. */
  timeoutMs?: number;
  /** A stream with no byte (not even a heartbeat comment) for this long is reconnected. */
  idleTimeoutMs?: number;
  /** The first reconnect delay when the daemon does not send `retry:`; doubles up to 30 s. */
  retryMs?: number;
  fetch?: typeof fetch;
  /** Sent as `authorization: Bearer …` to a daemon with `healthd.auth` on. */
  token?: string | undefined;
}

const KNOWN_CODES = new Set<string>(Object.keys(HTTP_STATUS));
const MAX_RETRY_MS = 30_000;
const POLL_MS = 1_000;

/** `host:port`, `http://host:port/` and the like, as a base URL without a trailing slash. */
export function normalizeDaemonUrl(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ApiError("INVALID_PARAMETER", `not a URL: ${JSON.stringify(value)}`, {
      parameter: "url",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ApiError(
      "INVALID_PARAMETER",
      `the daemon speaks http or https, not ${url.protocol}`,
      {
        parameter: "url",
      },
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * QueryBackend over a running daemon's HTTP API. Inputs are validated here with
 * the daemon's own schemas before anything is sent, so a bad question fails the
 * same way (same ApiError code and text) whether or not a daemon is up; the
 * daemon's problem+json answers are turned back into ApiError.
 */
export class HttpQueryBackend implements QueryBackend, EventFollower {
  readonly kind = "daemon";
  readonly baseUrl: string;
  readonly description: string;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly retryMs: number;
  private readonly fetch: typeof fetch;
  private readonly auth: Record<string, string>;

  constructor(baseUrl: string, options: HttpQueryBackendOptions = {}) {
    this.auth = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.baseUrl = normalizeDaemonUrl(baseUrl);
    this.description = `daemon at ${this.baseUrl}`;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
    this.retryMs = options.retryMs ?? 2_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async listAdapters(
    filter?: unknown,
  ): Promise<{ adapters: AdapterStatusView[]; registry: RegistryView | null }> {
    const valid = parseParameters(listFilterSchema, filter ?? {}, "filter");
    return this.request("GET", "/v1/adapters", { query: valid });
  }

  async getAdapter(adapterId: string): Promise<AdapterDetail> {
    return this.request("GET", `/v1/adapters/${encodeURIComponent(adapterId)}`);
  }

  async checkHealth(adapterId: string): Promise<CheckHealthAnswer> {
    return this.request("GET", `/v1/adapters/${encodeURIComponent(adapterId)}/health`);
  }

  async resolve(requirement: unknown): Promise<ResolutionAnswer> {
    const valid = parseParameters(requirementSchema, requirement, "requirement");
    return this.request("GET", "/v1/resolve", { query: valid });
  }

  async resolveBatch(body: unknown): Promise<ResolutionAnswer[]> {
    const valid = parseParameters(resolveBatchSchema, body, "body");
    const answer = await this.request<{ resolutions: ResolutionAnswer[] }>("POST", "/v1/resolve", {
      body: valid,
    });
    return answer.resolutions;
  }

  async events(page: unknown): Promise<EventsPage> {
    const valid = parseParameters(eventsPageSchema, page ?? {}, "parameter");
    return this.request("GET", "/v1/events", { query: valid });
  }

  async uptime(query: unknown): Promise<UptimeAnswer> {
    const valid = parseParameters(uptimeQuerySchema, query ?? {}, "parameter");
    return this.request("GET", "/v1/uptime", { query: valid });
  }

  async invalidateCache(): Promise<{ invalidated: true }> {
    return this.request("POST", "/v1/cache/invalidate");
  }

  async healthCheck(): Promise<HealthCheckAnswer> {
    return this.request("GET", "/v1/health");
  }

  /** Nothing to release: fetch keeps no connection a client must close. */
  close(): void {}

  /** Whether a daemon answers `/healthz` within `timeoutMs` (for choosing a backend). */
  async isUp(timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.fetch(`${this.baseUrl}/healthz`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  /**
   * Streams events after `since` over SSE until `signal` aborts, resuming with
   * `Last-Event-ID` after a dropped connection so nothing is missed or repeated.
   * A daemon that cannot stream (no SSE on this path) is polled instead. No
   * daemon at the first attempt, an expired cursor, a bad request or the abort
   * end it.
   */
  async followEvents(
    since: number | undefined,
    onEvent: (event: CloudEvent) => void,
    signal: AbortSignal,
    onNotice: NoticeListener = () => undefined,
  ): Promise<void> {
    let cursor =
      since === undefined
        ? await this.newestSeq()
        : parseParameters(eventsPageSchema, { since }, "parameter").since;
    // The daemon's `retry:` replaces the first delay; failures in a row double it.
    let baseMs = this.retryMs;
    let delayMs = baseMs;
    let lost = false;
    let connected = false;
    const deliver = (event: CloudEvent) => {
      // A resumed stream may repeat the event it was cut after; the seq says so.
      if (event.seq <= cursor) return;
      cursor = event.seq;
      onEvent(event);
    };
    while (!signal.aborted) {
      try {
        const outcome = await this.streamOnce(cursor, deliver, signal, onNotice, () => {
          if (lost) onNotice(`reconnected to ${this.description}`);
          lost = false;
          connected = true;
          delayMs = baseMs;
        });
        if (outcome.kind === "unsupported") {
          onNotice(`${this.description} does not stream events (${outcome.why}); polling instead`);
          await this.poll(() => cursor, deliver, signal);
          return;
        }
        if (outcome.retryMs !== undefined) {
          baseMs = outcome.retryMs;
          delayMs = baseMs;
        }
        if (signal.aborted) return;
        onNotice(`${outcome.why}; resuming after seq ${cursor}`);
        lost = true;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && !retryable(error)) throw error;
        // A wrong address should fail at once; a daemon lost mid-stream is waited for.
        if (!connected) throw error;
        onNotice(
          `${error instanceof Error ? error.message : String(error)}; retrying in ${Math.round(delayMs / 1000)} s`,
        );
        lost = true;
        await sleep(delayMs, signal);
        delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
        continue;
      }
      await sleep(delayMs, signal);
    }
  }

  /**
   * The newest seq in the journal, so following "from now" has a cursor to
   * resume from even if the first connection drops before any event.
   */
  private async newestSeq(): Promise<number> {
    const health = await this.healthCheck();
    return health.journal.newest_seq ?? 0;
  }

  /** One SSE connection: resolves when it ends (why, and any `retry:` it asked for). */
  private async streamOnce(
    cursor: number,
    deliver: (event: CloudEvent) => void,
    signal: AbortSignal,
    onNotice: NoticeListener,
    onConnected: () => void,
  ): Promise<
    { kind: "ended"; why: string; retryMs?: number } | { kind: "unsupported"; why: string }
  > {
    const idle = new AbortController();
    let idleTimer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(), this.idleTimeoutMs);
    };
    touch();
    let response: Response;
    try {
      response = await this.fetch(`${this.baseUrl}/v1/events?since=${cursor}`, {
        headers: { accept: "text/event-stream", "last-event-id": String(cursor), ...this.auth },
        signal: AbortSignal.any([signal, idle.signal]),
      });
    } catch (error) {
      clearTimeout(idleTimer);
      if (idle.signal.aborted && !signal.aborted) {
        throw new ApiError("NOT_READY", `${this.description} did not answer`);
      }
      throw this.transportError(error);
    }
    try {
      if (!response.ok) {
        const error = await this.problem(response);
        if (error.code === "NOT_ACCEPTABLE" || error.code === "NOT_FOUND") {
          return { kind: "unsupported", why: error.message };
        }
        throw error;
      }
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream")) {
        await response.body?.cancel();
        return { kind: "unsupported", why: `it answered ${type || "no content type"}` };
      }
      onConnected();
      const parser = new SseParser();
      let retryMs: number | undefined;
      let overflow = false;
      const decoder = new TextDecoder();
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          touch();
          for (const message of parser.push(decoder.decode(value, { stream: true }))) {
            if (message.retry !== undefined) retryMs = message.retry;
            if (message.event === "overflow") {
              overflow = true;
              continue;
            }
            if (message.data === undefined) continue;
            let event: CloudEvent;
            try {
              event = JSON.parse(message.data) as CloudEvent;
            } catch {
              // Reconnecting would only be sent the same bytes again: say so and go on.
              onNotice(`skipped an event that is not JSON (id ${message.id ?? "none"})`);
              continue;
            }
            deliver(event);
          }
          if (overflow) break;
        }
      } finally {
        reader.releaseLock();
      }
      const why = overflow
        ? "the daemon cut this stream off for falling behind"
        : "the daemon closed the event stream";
      return retryMs === undefined ? { kind: "ended", why } : { kind: "ended", why, retryMs };
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (idle.signal.aborted && !signal.aborted) {
        return {
          kind: "ended",
          why: `no heartbeat from ${this.description} for ${Math.round(this.idleTimeoutMs / 1000)} s`,
        };
      }
      if (signal.aborted) return { kind: "ended", why: "stopped" };
      throw this.transportError(error);
    } finally {
      clearTimeout(idleTimer);
      if (!response.bodyUsed) await response.body?.cancel().catch(() => undefined);
      idle.abort();
    }
  }

  /** The fallback for a daemon that has the page route but no SSE. */
  private async poll(
    cursor: () => number,
    deliver: (event: CloudEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    while (!signal.aborted) {
      const page = await this.events({ since: cursor(), limit: 1000 });
      for (const event of page.events) deliver(event);
      if (page.events.length < 1000) await sleep(POLL_MS, signal);
    }
  }

  private async request<T>(
    method: "GET" | "POST",
    path: string,
    options: { query?: Record<string, unknown>; body?: unknown } = {},
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: {
          accept: "application/json",
          ...this.auth,
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw this.transportError(error);
    }
    if (!response.ok) throw await this.problem(response);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw this.transportError(error);
    }
  }

  /** A connection failure or timeout, as the ApiError every surface already knows. */
  private transportError(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    const name = (error as { name?: string } | null)?.name;
    if (name === "TimeoutError" || name === "AbortError") {
      return new ApiError(
        "NOT_READY",
        `${this.description} did not answer within ${this.timeoutMs / 1000} s`,
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    return new ApiError("NOT_READY", `no daemon answering at ${this.baseUrl}: ${why}`);
  }

  /** Turns an error answer (problem+json or not) back into ApiError. */
  private async problem(response: Response): Promise<ApiError> {
    const text = await response.text().catch(() => "");
    let body: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === "object") body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const fallback = codeForStatus(response.status);
    if (!body) {
      return new ApiError(
        fallback,
        `${this.description} answered HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`,
      );
    }
    const { type: _type, title, status: _status, code, detail, ...extra } = body;
    const known = typeof code === "string" && KNOWN_CODES.has(code);
    const message =
      typeof detail === "string"
        ? detail
        : typeof title === "string"
          ? title
          : `HTTP ${response.status}`;
    return new ApiError(
      known ? (code as ApiErrorCode) : fallback,
      message,
      // A code this client does not know (a newer daemon) is kept beside the mapped one.
      known || code === undefined ? extra : { ...extra, daemon_code: code },
    );
  }
}

function codeForStatus(status: number): ApiErrorCode {
  switch (status) {
    case 400:
      return "INVALID_PARAMETER";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 406:
      return "NOT_ACCEPTABLE";
    case 410:
      return "CURSOR_EXPIRED";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 503:
      return "NOT_READY";
    default:
      return "INTERNAL";
  }
}

/** Errors worth waiting out while following: the daemon restarting, starting, or overloaded. */
function retryable(error: ApiError): boolean {
  return (
    error.code === "NOT_READY" || error.code === "INTERNAL" || error.code === "REGISTRY_UNAVAILABLE"
  );
}

/** Waits `ms`, or less when `signal` aborts (never throws: the caller checks the signal). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/** One dispatched Server-Sent Event (or a lone `retry:`). */
export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
}

/**
 * The text/event-stream format (WHATWG HTML §9.2): lines end in LF, CRLF or
 * CR; `:` starts a comment; a blank line dispatches the fields gathered so far;
 * several `data:` lines join with LF. Fed arbitrary chunks, it keeps the
 * unfinished tail for the next one.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;
  private retry: number | undefined;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // A CR at the very end of a chunk may be the first half of a CRLF: wait for more.
      if (this.buffer[end] === "\r" && end === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith("\r\n", end) ? 2 : 1));
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const message: SseMessage = {};
    if (this.id !== undefined) message.id = this.id;
    if (this.event !== undefined) message.event = this.event;
    if (this.data.length > 0) message.data = this.data.join("\n");
    if (this.retry !== undefined) message.retry = this.retry;
    this.data = [];
    this.event = undefined;
    this.retry = undefined;
    // The id persists across events per the spec; only report it with data.
    return message.data !== undefined || message.retry !== undefined || message.event
      ? message
      : undefined;
  }
}
