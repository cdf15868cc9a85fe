import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import {
  ListResponse,
  type AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";
import { decodeListInSlices, fromWireEntry } from "./registry-client.js";

function wireEntry(index: number): WireAdapterEntry {
  return {
    adapterId: `adapter-${index}`,
    project: "mahavishnu",
    domain: "adapter",
    category: index % 2 === 0 ? "storage" : "cache",
    provider: "s3",
    capabilities: ["read", `cap-${index}`],
    factoryPath: "x:Y",
    healthCheckUrl: `http://127.0.0.1:9000/${index}/health`,
    metadata: { region: `r${index % 3}` },
    registeredAt: 1_700_000_000 + index,
    lastHeartbeat: 1_700_000_100 + index,
    healthStatus: "healthy",
  };
}

describe("decodeListInSlices", () => {
  it("decodes what the generated decoder decodes, unknown fields skipped", async () => {
    const adapters = Array.from({ length: 1_234 }, (_, index) => wireEntry(index));
    const writer = ListResponse.encode({ adapters });
    // A field this build does not know (15, a string), as a newer registry might send.
    writer.uint32((15 << 3) | 2).string("from the future");
    const bytes = writer.finish();
    const expected = ListResponse.decode(bytes).adapters.map(fromWireEntry);
    expect(expected).toHaveLength(1_234);
    expect(await decodeListInSlices(bytes, 100)).toEqual(expected);
    expect(await decodeListInSlices(new BinaryWriter().finish())).toEqual([]);
  });

  it("lets other work run between slices", async () => {
    const bytes = ListResponse.encode({
      adapters: Array.from({ length: 100 }, (_, index) => wireEntry(index)),
    }).finish();
    let turns = 0;
    let decoding = true;
    const count = () => {
      turns++;
      if (decoding) setImmediate(count);
    };
    setImmediate(count);
    const entries = await decodeListInSlices(bytes, 10);
    decoding = false;
    expect(entries).toHaveLength(100);
    // Not decoded in one piece: timers ran while it was under way.
    expect(turns).toBeGreaterThan(0);
  });

  it("fails on a truncated answer instead of returning part of it", async () => {
    const bytes = ListResponse.encode({ adapters: [wireEntry(1), wireEntry(2)] }).finish();
    await expect(decodeListInSlices(bytes.subarray(0, bytes.length - 5))).rejects.toThrow();
  });
});
