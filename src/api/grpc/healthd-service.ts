import {
  status as GrpcStatus,
  type handleUnaryCall,
  Metadata,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import { type CloudEvent, type JournalEvent, toCloudEvent } from "../../domain/events.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import type { EventHub, Subscription } from "../../events/event-hub.js";
import type {
  AdapterDetail,
  AdapterStatus,
  Candidate,
  Event,
  HealthdServer,
  ListAdaptersRequest,
  Resolution,
  ResolveRequest,
  WatchEventsRequest,
} from "../../gen/oneiric/healthd/v1/healthd.js";
import { ApiError } from "../api-error.js";
import type {
  AdapterDetail as AdapterDetailView,
  CandidateAnswer,
  QueryService,
  ResolutionAnswer,
} from "../query-service.js";
import { type GrpcErrorStatus, toGrpcStatus } from "./status-mapping.js";

/** Most events queued for one WatchEvents client before it is cut off as too slow. */
export const DEFAULT_MAX_QUEUED_EVENTS = 10_000;
/** Events read per page while a WatchEvents stream catches up (QueryService's maximum). */
const CATCH_UP_PAGE = 1000;

export interface HealthdServiceParts {
  queries: QueryService;
  hub: EventHub;
  /** Called with errors that are bugs (answered INTERNAL), to be logged. */
  onInternalError?: (error: unknown) => void;
  maxQueuedEvents?: number;
}

export interface HealthdServiceHandle {
  /** What `server.addService(HealthdService, …)` takes. */
  readonly implementation: HealthdServer;
  /** WatchEvents streams open now. */
  readonly openStreams: number;
  /**
   * Ends every WatchEvents stream (status OK, after the events already queued)
   * and refuses new ones. Call it at shutdown before the server's graceful
   * shutdown, which waits for open calls and would otherwise wait forever.
   */
  close(): void;
}

/** oneiric.healthd.v1.Healthd over the query service and the event hub. */
export function createHealthdService(parts: HealthdServiceParts): HealthdServiceHandle {
  const { queries } = parts;
  const onInternal = parts.onInternalError ?? (() => {});
  const maxQueued = parts.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
  const streams = new Set<EventStream>();
  let closed = false;

  const implementation: HealthdServer = {
    listAdapters: unary(onInternal, (request: ListAdaptersRequest) => {
      const { adapters, registry } = queries.listAdapters(listFilter(request));
      return {
        adapters: adapters.map(toAdapterStatus),
        registry: {
          endpoint: registry.endpoint,
          reachable: registry.reachable,
          lastSync: registry.last_sync ?? "",
          lastError: registry.last_error ?? "",
        },
      };
    }),
    getAdapter: unary(onInternal, (request: { adapterId: string }) =>
      toAdapterDetail(queries.getAdapter(request.adapterId)),
    ),
    resolve: unary(onInternal, (request: ResolveRequest) =>
      toResolution(queries.resolve(requirementInput(request))),
    ),
    watchEvents(call: ServerWritableStream<WatchEventsRequest, Event>) {
      if (closed) {
        call.emit("error", {
          code: GrpcStatus.UNAVAILABLE,
          details: "the daemon is shutting down; reconnect and resume from your last seq",
        });
        return;
      }
      const stream = new EventStream(call, parts.hub, queries, maxQueued, onInternal, () =>
        streams.delete(stream),
      );
      streams.add(stream);
      void stream.start(call.request.since);
    },
  };

  return {
    implementation,
    get openStreams() {
      return streams.size;
    },
    close() {
      closed = true;
      for (const stream of [...streams]) stream.finish();
    },
  };
}

/** Runs a synchronous or async handler, turning what it throws into the mapped status. */
function unary<Request, Response>(
  onInternal: (error: unknown) => void,
  handle: (request: Request) => Response | Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handle(call.request))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error, onInternal)),
      );
  };
}

/**
 * proto3 strings cannot be absent, so "" means "not given": dropped before
 * QueryService validates, which then treats the request like an HTTP query
 * without that parameter (and still rejects a bad value naming it).
 */
function given(value: string): string | undefined {
  return value === "" ? undefined : value;
}

function listFilter(request: ListAdaptersRequest): Record<string, unknown> {
  return {
    project: given(request.project),
    domain: given(request.domain),
    category: given(request.category),
    provider: given(request.provider),
    status: given(request.status),
    healthy_only: request.healthyOnly || undefined,
  };
}

function requirementInput(request: ResolveRequest): Record<string, unknown> {
  return {
    domain: given(request.domain),
    category: given(request.category),
    provider: given(request.provider),
    project: given(request.project),
    panic: request.panic || undefined,
  };
}

export function toAdapterStatus(view: AdapterStatusView): AdapterStatus {
  return {
    adapterId: view.adapter_id,
    project: view.project,
    domain: view.domain,
    category: view.category,
    provider: view.provider,
    status: view.status,
    since: view.since,
    lastChecked: view.last_checked ?? "",
    latencyMs: view.latency_ms ?? undefined,
    source: view.source,
    stale: view.stale,
    reason: view.reason,
    registryStatus: view.registry_status,
    registryDisagrees: view.registry_disagrees,
    flapping: view.flapping,
    breaker: view.breaker,
    maintenance: view.maintenance
      ? { until: view.maintenance.until ?? "", reason: view.maintenance.reason }
      : undefined,
    usable: view.usable,
    healthCheckUrl: view.health_check_url,
    ageMs: view.age_ms ?? undefined,
    owner: view.owner ?? "",
  };
}

function toAdapterDetail(detail: AdapterDetailView): AdapterDetail {
  return {
    ...toAdapterStatus(detail),
    capabilities: detail.capabilities,
    metadata: detail.metadata,
    factoryPath: detail.factory_path,
    lastHeartbeat: detail.last_heartbeat ?? "",
    consecutiveSuccesses: detail.consecutive_successes,
    consecutiveFailures: detail.consecutive_failures,
    recentChecks: detail.recent_checks.map((check) => ({
      at: check.at,
      ok: check.ok,
      latencyMs: check.latency_ms,
      detail: check.detail,
      source: check.source,
    })),
  };
}

function toCandidate(candidate: CandidateAnswer): Candidate {
  return {
    adapterId: candidate.adapter_id,
    provider: candidate.provider,
    status: candidate.status,
    breaker: candidate.breaker,
    flapping: candidate.flapping,
    maintenance: candidate.maintenance,
    priority: candidate.priority,
    latencyMs: candidate.latency_ms ?? undefined,
    excludedBecause: candidate.excluded_because ?? "",
  };
}

function toResolution(answer: ResolutionAnswer): Resolution {
  return {
    requirement: {
      domain: answer.requirement.domain,
      category: answer.requirement.category,
      provider: answer.requirement.provider ?? "",
      project: answer.requirement.project ?? "",
    },
    choice: answer.choice ? toCandidate(answer.choice) : undefined,
    fallbacks: answer.fallbacks.map(toCandidate),
    excluded: answer.excluded.map(toCandidate),
    reason: answer.reason,
    panic: answer.panic,
    at: answer.at,
  };
}

export function toEventMessage(event: CloudEvent): Event {
  return {
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time: event.time,
    datacontenttype: event.datacontenttype,
    seq: event.seq,
    dataJson: JSON.stringify(event.data),
  };
}

/**
 * One WatchEvents call. It catches up from the journal page by page, waiting
 * for the client to drain each page (a long catch-up paces itself to the
 * client instead of buffering the journal in memory), then follows the hub's
 * live commits. Live events cannot wait, since the hub delivers them
 * synchronously to every consumer: a client that lets more than `maxQueued`
 * pile up is cut off with RESOURCE_EXHAUSTED and told where to resume.
 */
class EventStream {
  private cursor = 0;
  private ended = false;
  private subscription: Subscription | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: ServerWritableStream<WatchEventsRequest, Event>,
    private readonly hub: EventHub,
    private readonly queries: QueryService,
    private readonly maxQueued: number,
    private readonly onInternal: (error: unknown) => void,
    private readonly onEnded: () => void,
  ) {
    call.on("cancelled", () => this.stop());
    call.on("drain", () => this.wake?.());
    // Covers every way the call goes away (status sent, connection lost).
    call.on("close", () => this.stop());
  }

  async start(since: number): Promise<void> {
    try {
      this.cursor = this.firstCursor(since);
      for (;;) {
        const page = this.queries.events({ since: this.cursor, limit: CATCH_UP_PAGE });
        for (const event of page.events) this.write(event);
        if (this.ended) return;
        if (page.events.length < CATCH_UP_PAGE) break;
        if (this.call.writableNeedDrain) await this.drained();
        if (this.ended) return;
      }
      // The hub replays whatever committed after the last page, so no event is missed.
      this.subscription = this.hub.subscribe(this.cursor, (events) => this.deliver(events));
      if (this.ended) this.subscription.close();
    } catch (error) {
      this.fail(toGrpcStatus(this.queries.cursorError(error), this.onInternal));
    }
  }

  /** Ends the stream with OK after what is queued, at daemon shutdown. */
  finish(): void {
    if (this.ended) return;
    this.stop();
    this.call.end();
  }

  /** since = 0 means "from the oldest kept", even when retention pruned seq 1. */
  private firstCursor(since: number): number {
    if (since !== 0) return since;
    try {
      this.queries.events({ since: 0, limit: 1 });
      return 0;
    } catch (error) {
      const oldest = error instanceof ApiError ? error.extra.oldest_seq : undefined;
      if (
        error instanceof ApiError &&
        error.code === "CURSOR_EXPIRED" &&
        typeof oldest === "number"
      )
        return oldest - 1;
      throw error;
    }
  }

  private deliver(events: readonly JournalEvent[]): void {
    for (const event of events) this.write(toCloudEvent(event));
    if (!this.ended && this.call.writableLength > this.maxQueued) {
      const metadata = new Metadata();
      metadata.set("resume-since", String(this.cursor));
      this.fail({
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        details:
          `WatchEvents client too slow: more than ${this.maxQueued} events queued unread; ` +
          `the events queued so far are sent before this status, so resume with since=${this.cursor} ` +
          "(the seq of the last event received)",
        metadata,
      });
    }
  }

  private write(event: CloudEvent): void {
    if (this.ended) return;
    this.call.write(toEventMessage(event));
    this.cursor = event.seq;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Ends with an error status; grpc-js sends it after the messages already queued. */
  private fail(status: GrpcErrorStatus): void {
    if (this.ended) return;
    this.stop();
    this.call.emit("error", status);
  }

  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.subscription?.close();
    this.wake?.();
    this.onEnded();
  }
}
