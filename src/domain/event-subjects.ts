import {
  EVENT_TYPE_PREFIX,
  type EventType,
  type ForeignEvent,
  type JournalEvent,
  toCloudEvent,
} from "./events.js";

/**
 * How the fleet's journal events are laid out on the cluster's JetStream stream
 * (docs/scale-out.md): one stream per cluster, one subject per event type and
 * adapter kind, so a consumer filters with a wildcard (`healthd.prod.adapter.*.storage.>`)
 * instead of decoding every message. Pure: the publisher and the mirror share it.
 */

/** The domain and category an adapter is filed under, for its events' subjects. */
export interface AdapterKind {
  domain: string;
  category: string;
}

/** The headers of a stream message, as far as decoding needs them (nats.js `MsgHdrs` fits). */
export interface StreamHeaders {
  /** The header's value; "" (or undefined) when it is not set. */
  get(name: string): string | undefined;
}

/** The member that committed the event, beside the body's `origin` attribute. */
export const ORIGIN_HEADER = "Healthd-Origin";
/** The event's seq in its origin's journal, for operators reading the stream by hand. */
export const SEQ_HEADER = "Healthd-Seq";

/** NATS puts no limit on a token, but subjects travel in every message: keep each one short. */
export const MAX_TOKEN_BYTES = 255;

/** The token an adapter that has left the catalog is filed under, for domain and category. */
export const UNKNOWN_KIND_TOKEN = "_unknown";

const OUTSIDE_TOKEN = /[^A-Za-z0-9_-]/gu;

/**
 * `text` as one subject token: every character outside `[A-Za-z0-9_-]` becomes `_`
 * (so no `.`, `*`, `>` or whitespace can split a subject or act as a wildcard), an
 * empty text becomes `_`, and the result is cut to {@link MAX_TOKEN_BYTES} (it is
 * ASCII by then, one byte a character). Different texts may share a token: the
 * subject is for filtering; the message body carries the exact values.
 */
export function subjectToken(text: string): string {
  const token = text.replace(OUTSIDE_TOKEN, "_").slice(0, MAX_TOKEN_BYTES);
  return token === "" ? "_" : token;
}

/** The cluster's event stream: `healthd_<cluster>_events`. */
export function eventStreamName(cluster: string): string {
  return `healthd_${subjectToken(cluster)}_events`;
}

/** The subjects the cluster's event stream takes: `healthd.<cluster>.>`. */
export function eventStreamSubjects(cluster: string): string {
  return `healthd.${subjectToken(cluster)}.>`;
}

/**
 * The subject one event is published on:
 * - adapter.* and breaker.*: `healthd.<cluster>.<type>.<domain>.<category>` (the type keeps
 *   its dot, e.g. `healthd.prod.adapter.health_changed.storage.s3`); an adapter `kindOf`
 *   does not know (it left the catalog) is filed under `_unknown._unknown`;
 * - failover (its subject is the requirement key): `healthd.<cluster>.failover.<requirement>`;
 * - registry.*: `healthd.<cluster>.<type>.<instanceId>`, since each member has its own link.
 */
export function eventSubject(
  cluster: string,
  event: Pick<JournalEvent, "type" | "subject">,
  kindOf: (adapterId: string) => AdapterKind | undefined,
  instanceId: string,
): string {
  const prefix = ["healthd", subjectToken(cluster), ...event.type.split(".").map(subjectToken)];
  switch (familyOf(event.type)) {
    case "adapter": {
      const kind = kindOf(event.subject);
      const tokens = kind
        ? [subjectToken(kind.domain), subjectToken(kind.category)]
        : [UNKNOWN_KIND_TOKEN, UNKNOWN_KIND_TOKEN];
      return [...prefix, ...tokens].join(".");
    }
    case "failover":
      return [...prefix, subjectToken(event.subject)].join(".");
    case "registry":
      return [...prefix, subjectToken(instanceId)].join(".");
  }
}

type EventFamily = "adapter" | "failover" | "registry";

/** What an event is about, which decides the last tokens of its subject. */
function familyOf(type: EventType): EventFamily {
  if (type === "failover") return "failover";
  if (type.startsWith("registry.")) return "registry";
  // adapter.* and breaker.*: both are about one adapter.
  return "adapter";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A stream message that is not an event this daemon can mirror. */
export class StreamEventError extends Error {
  readonly code = "STREAM_EVENT_MALFORMED";
  constructor(
    /** The CloudEvents attribute (or header) at fault. */
    readonly field: string,
    problem: string,
  ) {
    super(`stream event ${field}: ${problem}`);
    this.name = "StreamEventError";
  }
}

/** The message body: the event's CloudEvents JSON envelope with `origin` set. */
export function encodeStreamEvent(event: JournalEvent, origin: string): Uint8Array {
  return encoder.encode(JSON.stringify(toCloudEvent({ ...event, origin })));
}

/**
 * The event a stream message carries, as another member committed it: the inverse
 * of {@link encodeStreamEvent} (type without the `io.oneiric.healthd.` prefix, the
 * ISO time as ms). The origin is the body's, else the Healthd-Origin header's. The
 * origin's seq is not kept: the event gets its own seq where it is mirrored. Throws
 * a StreamEventError naming the field for anything else.
 *
 * A type this version does not know is accepted if well formed: during a rolling
 * upgrade a newer member may publish one, and the journal holds such events (readers
 * print them generically).
 */
export function decodeStreamEvent(bytes: Uint8Array, headers?: StreamHeaders): ForeignEvent {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new StreamEventError("body", "is not UTF-8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new StreamEventError("body", `is not JSON (${(error as Error).message})`);
  }
  if (!isObject(body)) throw new StreamEventError("body", "is not a JSON object");
  if (body.specversion !== "1.0") {
    throw new StreamEventError("specversion", `is ${describeValue(body.specversion)}, not "1.0"`);
  }
  const id = requiredText(body, "id");
  const type = eventTypeOf(requiredText(body, "type"));
  const subject = textOf(body, "subject");
  const time = timeOf(textOf(body, "time"));
  if (!isObject(body.data)) {
    throw new StreamEventError("data", `is ${describeValue(body.data)}, not a JSON object`);
  }
  const origin = originOf(body.origin, headers);
  return { id, origin, type, subject, time, data: body.data };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value).slice(0, 80) : `a ${typeof value}`;
}

function textOf(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string") {
    throw new StreamEventError(field, `is ${describeValue(value)}, not a string`);
  }
  return value;
}

function requiredText(body: Record<string, unknown>, field: string): string {
  const value = textOf(body, field);
  if (value === "") throw new StreamEventError(field, "is empty");
  return value;
}

const TYPE_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

function eventTypeOf(type: string): EventType {
  if (!type.startsWith(EVENT_TYPE_PREFIX)) {
    throw new StreamEventError(
      "type",
      `${describeValue(type)} does not start with ${EVENT_TYPE_PREFIX}`,
    );
  }
  const name = type.slice(EVENT_TYPE_PREFIX.length);
  if (!TYPE_NAME.test(name)) {
    throw new StreamEventError("type", `${describeValue(type)} is not an event type name`);
  }
  return name as EventType;
}

/** Strict RFC 3339 as toISOString writes it, so "tomorrow" or a bare date is not guessed at. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function timeOf(time: string): number {
  const ms = ISO_TIME.test(time) ? Date.parse(time) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new StreamEventError("time", `${describeValue(time)} is not an RFC 3339 timestamp`);
  }
  return ms;
}

function originOf(value: unknown, headers: StreamHeaders | undefined): string {
  if (value !== undefined) {
    if (typeof value !== "string" || value === "") {
      throw new StreamEventError("origin", `is ${describeValue(value)}, not a member id`);
    }
    return value;
  }
  const header = headers?.get(ORIGIN_HEADER);
  if (header) return header;
  throw new StreamEventError("origin", `is missing, and so is the ${ORIGIN_HEADER} header`);
}
