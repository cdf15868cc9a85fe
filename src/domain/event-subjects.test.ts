import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AdapterKind,
  decodeStreamEvent,
  encodeStreamEvent,
  eventStreamName,
  eventStreamSubjects,
  eventSubject,
  MAX_TOKEN_BYTES,
  StreamEventError,
  subjectToken,
} from "./event-subjects.js";
import { EVENT_TYPES, type JournalEvent, toCloudEvent } from "./events.js";

const S3 = "t.adapter.storage.s3";
const kinds = new Map<string, AdapterKind>([[S3, { domain: "storage", category: "s3" }]]);
const kindOf = (adapterId: string) => kinds.get(adapterId);

function journalEvent(overrides: Partial<JournalEvent> = {}): JournalEvent {
  return {
    seq: 42,
    id: "9b2f6c1d-7e4a-4b8c-9d0e-1f2a3b4c5d6e",
    type: "adapter.health_changed",
    subject: S3,
    time: Date.UTC(2025, 5, 1, 12, 0, 0, 250),
    data: { from: "healthy", to: "unhealthy", reason: "HTTP 503" },
    ...overrides,
  };
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] ?? "" });

describe("subjectToken", () => {
  it("keeps letters, digits, _ and -, turns anything else into _ and an empty text into _", () => {
    expect(subjectToken("prod-eu_1")).toBe("prod-eu_1");
    expect(subjectToken("storage/s3//")).toBe("storage_s3__");
    expect(subjectToken("a.b *>\tç")).toBe("a_b_____");
    expect(subjectToken("")).toBe("_");
  });

  it("cuts a long token to 255 bytes", () => {
    expect(subjectToken("x".repeat(300))).toBe("x".repeat(MAX_TOKEN_BYTES));
    expect(subjectToken("é".repeat(300))).toBe("_".repeat(MAX_TOKEN_BYTES));
  });
});

describe("eventSubject", () => {
  it("files adapter and breaker events under type, domain and category", () => {
    expect(eventSubject("prod", journalEvent(), kindOf, "healthd-a")).toBe(
      "healthd.prod.adapter.health_changed.storage.s3",
    );
    expect(eventSubject("prod", { type: "breaker.opened", subject: S3 }, kindOf, "a")).toBe(
      "healthd.prod.breaker.opened.storage.s3",
    );
  });

  it("files an adapter that left the catalog under _unknown._unknown", () => {
    expect(
      eventSubject("prod", { type: "adapter.removed", subject: "t.gone" }, kindOf, "healthd-a"),
    ).toBe("healthd.prod.adapter.removed._unknown._unknown");
  });

  it("files failovers under the requirement and registry events under the instance", () => {
    expect(
      eventSubject("prod", { type: "failover", subject: "storage/s3//" }, kindOf, "healthd-a"),
    ).toBe("healthd.prod.failover.storage_s3__");
    expect(
      eventSubject(
        "prod",
        { type: "registry.unreachable", subject: "registry-a:8680" },
        kindOf,
        "healthd-a.eu",
      ),
    ).toBe("healthd.prod.registry.unreachable.healthd-a_eu");
  });

  it("always gives a valid NATS subject inside the cluster's stream", () => {
    const anyText = fc.string({ unit: "binary", maxLength: 400 });
    fc.assert(
      fc.property(
        anyText,
        fc.constantFrom(...EVENT_TYPES),
        anyText,
        fc.option(fc.record({ domain: anyText, category: anyText }), { nil: undefined }),
        anyText,
        (cluster, type, subject, kind, instanceId) => {
          const result = eventSubject(cluster, { type, subject }, () => kind, instanceId);
          const tokens = result.split(".");
          for (const token of tokens) {
            expect(token.length).toBeGreaterThan(0);
            expect(Buffer.byteLength(token)).toBeLessThanOrEqual(MAX_TOKEN_BYTES);
            expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
          }
          // In the stream: what `healthd.<cluster>.>` matches.
          const filter = eventStreamSubjects(cluster).split(".");
          expect(filter.at(-1)).toBe(">");
          expect(tokens.slice(0, filter.length - 1)).toEqual(filter.slice(0, -1));
          expect(tokens.length).toBeGreaterThanOrEqual(filter.length);
          expect(tokens.slice(2, 2 + type.split(".").length).join(".")).toBe(type);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("eventStreamName", () => {
  it("names the stream and its subjects after the cluster", () => {
    expect(eventStreamName("prod")).toBe("healthd_prod_events");
    expect(eventStreamSubjects("prod")).toBe("healthd.prod.>");
    expect(eventStreamName("eu.west 1")).toBe("healthd_eu_west_1_events");
  });
});

describe("encodeStreamEvent and decodeStreamEvent", () => {
  it("encode the CloudEvent with the origin as an extension attribute", () => {
    const event = journalEvent();
    const body = JSON.parse(new TextDecoder().decode(encodeStreamEvent(event, "healthd-a")));
    expect(body).toEqual({ ...toCloudEvent(event), origin: "healthd-a" });
    expect(body.type).toBe("io.oneiric.healthd.adapter.health_changed");
  });

  it("decode back to the event as its origin committed it, without the origin's seq", () => {
    const event = journalEvent();
    expect(decodeStreamEvent(encodeStreamEvent(event, "healthd-a"))).toStrictEqual({
      id: event.id,
      origin: "healthd-a",
      type: "adapter.health_changed",
      subject: S3,
      time: event.time,
      data: event.data,
    });
  });

  it("round-trip any event", () => {
    const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.nat(),
          id: fc.uuid(),
          type: fc.constantFrom(...EVENT_TYPES),
          subject: fc.string({ unit: "binary" }),
          // Years 0000 to 9999, which toISOString writes without a sign.
          time: fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }),
          data: fc.dictionary(fc.string(), json),
        }),
        fc.string({ unit: "binary", minLength: 1 }),
        (event, origin) => {
          const { seq: _, ...committed } = event;
          expect(decodeStreamEvent(encodeStreamEvent(event, origin))).toEqual({
            ...committed,
            origin,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("take the origin from the Healthd-Origin header when the body has none", () => {
    const { origin: _, ...envelope } = toCloudEvent(journalEvent());
    expect(
      decodeStreamEvent(bytes(envelope), headers({ "Healthd-Origin": "healthd-c" })).origin,
    ).toBe("healthd-c");
  });

  it("accept a well-formed type this version does not know (a newer member's)", () => {
    const envelope = { ...toCloudEvent(journalEvent()), origin: "b" };
    expect(
      decodeStreamEvent(bytes({ ...envelope, type: "io.oneiric.healthd.adapter.renamed" })).type,
    ).toBe("adapter.renamed");
  });

  const good = { ...toCloudEvent(journalEvent()), origin: "healthd-b" };
  const malformed: [string, Uint8Array, string][] = [
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), "stream event body: is not UTF-8"],
    ["not JSON", new TextEncoder().encode("{"), "stream event body: is not JSON"],
    ["an array", bytes([good]), "stream event body: is not a JSON object"],
    ["another specversion", bytes({ ...good, specversion: "0.3" }), "stream event specversion:"],
    ["no id", bytes({ ...good, id: undefined }), "stream event id: is missing, not a string"],
    ["an empty id", bytes({ ...good, id: "" }), "stream event id: is empty"],
    ["a number for a type", bytes({ ...good, type: 7 }), "stream event type: is a number"],
    [
      "a foreign type",
      bytes({ ...good, type: "com.example.thing" }),
      'stream event type: "com.example.thing" does not start with io.oneiric.healthd.',
    ],
    [
      "a type with a wildcard",
      bytes({ ...good, type: "io.oneiric.healthd.adapter.*" }),
      "stream event type:",
    ],
    ["no subject", bytes({ ...good, subject: undefined }), "stream event subject: is missing"],
    [
      "a time that is no timestamp",
      bytes({ ...good, time: "yesterday" }),
      'stream event time: "yesterday" is not an RFC 3339 timestamp',
    ],
    ["a time in ms", bytes({ ...good, time: 1_700_000_000_000 }), "stream event time: is a number"],
    ["data that is a list", bytes({ ...good, data: [1] }), "stream event data: is an array"],
    ["null data", bytes({ ...good, data: null }), "stream event data: is null"],
    ["an empty origin", bytes({ ...good, origin: "" }), 'stream event origin: is ""'],
    [
      "no origin at all",
      bytes({ ...good, origin: undefined }),
      "stream event origin: is missing, and so is the Healthd-Origin header",
    ],
  ];

  it.each(malformed)("refuse a message with %s, naming the field", (_, message, expected) => {
    let caught: unknown;
    try {
      decodeStreamEvent(message, headers({}));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StreamEventError);
    expect((caught as StreamEventError).message).toContain(expected);
    expect((caught as StreamEventError).code).toBe("STREAM_EVENT_MALFORMED");
  });
});
