import { describe, expect, it } from "vitest";
import { jsonText, writeListingJson } from "./output.js";

/** A listing of `count` adapters, as the views `status` lists (a nested object included). */
function listing(count: number, registry: unknown) {
  const adapters = Array.from({ length: count }, (_, index) => ({
    adapter_id: `t.adapter.cache.redis-${index}`,
    reason: index % 7 === 0 ? 'quote " and \\ and \n' : "SERVING",
    latency_ms: index % 3 === 0 ? null : index / 8,
    maintenance: index % 5 === 0 ? { until: null, reason: "disk swap" } : null,
    usable: index % 2 === 0,
  }));
  let asked = 0;
  return {
    snapshot: { adapters, registry },
    paged: {
      count,
      registry,
      views: (from: number, to: number) => {
        asked++;
        return adapters.slice(from, to);
      },
    },
    asked: () => asked,
  };
}

describe("writeListingJson", () => {
  const registries = [
    null,
    { endpoint: "127.0.0.1:8679", reachable: true, last_sync: null, last_error: null },
  ];

  it("writes jsonText's listing byte for byte, a page of views at a time, at and around page ends", () => {
    for (const registry of registries) {
      for (const count of [0, 1, 2, 999, 1_000, 1_001, 2_500]) {
        const { snapshot, paged, asked } = listing(count, registry);
        const pieces: string[] = [];
        writeListingJson((text) => pieces.push(text), paged);
        expect(pieces.join("")).toBe(jsonText(snapshot));
        // Pages of 1,000: the views are never all made at once for a large listing.
        expect(asked()).toBe(Math.ceil(count / 1_000));
        if (count > 1_000) expect(pieces.length).toBeGreaterThan(2);
      }
    }
  });
});
