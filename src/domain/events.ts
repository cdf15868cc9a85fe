/** Event types the daemon records in its journal. */
export const EVENT_TYPES = [
  "adapter.discovered",
  "adapter.updated",
  "adapter.removed",
  "adapter.health_changed",
  "adapter.flapping",
  "adapter.settled",
  "adapter.maintenance_started",
  "adapter.maintenance_ended",
  "breaker.opened",
  "breaker.half_opened",
  "breaker.closed",
  "failover",
  "registry.unreachable",
  "registry.recovered",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** An event before the journal has given it a sequence number and id. */
export interface NewEvent {
  type: EventType;
  /** What the event is about: an adapter id, or the registry endpoint. */
  subject: string;
  /** ms since the epoch. */
  time: number;
  data: Record<string, unknown>;
  /**
   * The cluster member whose journal the event was first committed in
   * (docs/scale-out.md); absent on a daemon that runs alone.
   */
  origin?: string;
}

/** An event as stored in the journal. */
export interface JournalEvent extends NewEvent {
  seq: number;
  id: string;
}

/**
 * An event another cluster member committed, mirrored into this journal from the
 * fleet's stream. It keeps the id its origin gave it, so mirroring it twice is
 * recognised, and gets a local seq only when journalled here.
 */
export interface ForeignEvent extends NewEvent {
  id: string;
  origin: string;
}

/** The CloudEvents 1.0 JSON envelope consumers receive. */
export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  seq: number;
  /**
   * CloudEvents extension attribute: the cluster member that committed the event
   * first. Only present on a cluster member's events, so a lone daemon's stay as they were.
   */
  origin?: string;
  data: Record<string, unknown>;
}

export const EVENT_SOURCE = "oneiric-healthd";
export const EVENT_TYPE_PREFIX = "io.oneiric.healthd.";

export function toCloudEvent(event: JournalEvent): CloudEvent {
  return {
    specversion: "1.0",
    id: event.id,
    source: EVENT_SOURCE,
    type: `${EVENT_TYPE_PREFIX}${event.type}`,
    subject: event.subject,
    time: new Date(event.time).toISOString(),
    datacontenttype: "application/json",
    seq: event.seq,
    ...(event.origin === undefined ? {} : { origin: event.origin }),
    data: event.data,
  };
}
