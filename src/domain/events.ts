/** Event types the daemon records in its journal. */
export type EventType =
  | "adapter.discovered"
  | "adapter.updated"
  | "adapter.removed"
  | "adapter.health_changed"
  | "adapter.flapping"
  | "adapter.settled"
  | "adapter.maintenance_started"
  | "adapter.maintenance_ended"
  | "breaker.opened"
  | "breaker.half_opened"
  | "breaker.closed"
  | "failover"
  | "registry.unreachable"
  | "registry.recovered";

/** An event before the journal has given it a sequence number and id. */
export interface NewEvent {
  type: EventType;
  /** What the event is about: an adapter id, or the registry endpoint. */
  subject: string;
  /** ms since the epoch. */
  time: number;
  data: Record<string, unknown>;
}

/** An event as stored in the journal. */
export interface JournalEvent extends NewEvent {
  seq: number;
  id: string;
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
    data: event.data,
  };
}
