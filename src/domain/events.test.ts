import { describe, expect, it } from "vitest";
import { type JournalEvent, toCloudEvent } from "./events.js";

const lone: JournalEvent = {
  seq: 7,
  id: "3f0c2a8e-6d1b-4c57-9a43-0e5b8f9d2c11",
  type: "adapter.health_changed",
  subject: "t.adapter.storage.s3",
  time: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
  data: { from: "healthy", to: "unhealthy" },
};

describe("toCloudEvent", () => {
  it("gives a lone daemon's event the envelope it always had, with no origin attribute", () => {
    expect(toCloudEvent(lone)).toStrictEqual({
      specversion: "1.0",
      id: lone.id,
      source: "oneiric-healthd",
      type: "io.oneiric.healthd.adapter.health_changed",
      subject: "t.adapter.storage.s3",
      time: "2025-01-02T03:04:05.678Z",
      datacontenttype: "application/json",
      seq: 7,
      data: { from: "healthy", to: "unhealthy" },
    });
  });

  it("adds the committing member as the `origin` extension attribute when the event has one", () => {
    const envelope = toCloudEvent({ ...lone, origin: "healthd-b" });
    expect(envelope.origin).toBe("healthd-b");
    const { origin: _, ...rest } = envelope;
    expect(rest).toStrictEqual(toCloudEvent(lone));
  });
});
