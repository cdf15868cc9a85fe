import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import {
  GetResponse,
  HealthCheckResponse,
  HeartbeatResponse,
  ListResponse,
  RegisterResponse,
  type AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";
import { decodeListInSlices, fromWireEntry, NotAListResponseError } from "./registry-client.js";

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

  it("refuses a HealthCheckResponse: field 1 is a bool (wire type 0)", async () => {
    const bytes = HealthCheckResponse.encode({
      healthy: true,
      status: "healthy",
      message: "ok",
    }).finish();
    const decoding = decodeListInSlices(bytes);
    await expect(decoding).rejects.toBeInstanceOf(NotAListResponseError);
    await expect(decodeListInSlices(bytes)).rejects.toThrow(
      "registry answer is not a ListResponse: field 1 (adapters) has wire type 0 (varint), expected 2 (length-delimited)",
    );
  });

  it("refuses a HeartbeatResponse and a RegisterResponse (field 1 a bool)", async () => {
    for (const bytes of [
      HeartbeatResponse.encode({ registered: true }).finish(),
      RegisterResponse.encode({ success: true, message: "done" }).finish(),
    ]) {
      await expect(decodeListInSlices(bytes)).rejects.toThrow("field 1 (adapters) has wire type 0");
    }
  });

  it("refuses field 1 with any other wire type, even after good entries", async () => {
    const fixed32 = ListResponse.encode({ adapters: [wireEntry(1)] })
      .uint32((1 << 3) | 5)
      .fixed32(7)
      .finish();
    await expect(decodeListInSlices(fixed32)).rejects.toThrow(
      "field 1 (adapters) has wire type 5 (32-bit), expected 2 (length-delimited)",
    );
    const fixed64 = new BinaryWriter()
      .uint32((1 << 3) | 1)
      .fixed64(7)
      .finish();
    await expect(decodeListInSlices(fixed64)).rejects.toThrow("wire type 1 (64-bit)");
  });

  it("refuses an answer with bytes but only unknown fields, naming them", async () => {
    // A HealthCheckResponse saying unhealthy: healthy=false is not encoded, so only fields 2 and 3.
    const unhealthy = HealthCheckResponse.encode({
      healthy: false,
      status: "unhealthy",
      message: "down",
    }).finish();
    await expect(decodeListInSlices(unhealthy)).rejects.toThrow(
      `registry answer is not a ListResponse: its ${unhealthy.length} bytes hold no field 1 (adapters), only field(s) unknown to it: 2, 3`,
    );
    const future = new BinaryWriter()
      .uint32((15 << 3) | 2)
      .string("from the future")
      .uint32((16 << 3) | 0)
      .int32(4)
      .finish();
    await expect(decodeListInSlices(future)).rejects.toThrow("unknown to it: 15, 16");
  });

  it("refuses an answer whose every entry lacks an adapter_id", async () => {
    const noIds = ListResponse.encode({
      adapters: [
        { ...wireEntry(1), adapterId: "" },
        { ...wireEntry(2), adapterId: "  " },
      ],
    }).finish();
    await expect(decodeListInSlices(noIds)).rejects.toThrow(
      "registry answer is not a ListResponse: none of its 2 entries have an adapter_id",
    );
    // An empty field 1 decodes as one entry with nothing in it.
    const emptyEntry = new BinaryWriter().uint32(10).uint32(0).finish();
    await expect(decodeListInSlices(emptyEntry)).rejects.toThrow(
      "none of its 1 entry has an adapter_id",
    );
  });

  it("keeps an answer in which only some entries lack an id (screening drops those)", async () => {
    const bytes = ListResponse.encode({
      adapters: [{ ...wireEntry(1), adapterId: "" }, wireEntry(2)],
    }).finish();
    const entries = await decodeListInSlices(bytes);
    expect(entries.map((entry) => entry.adapterId)).toEqual(["", "adapter-2"]);
  });

  it("reads a GetResponse as a list of its one adapter (same shape on the wire)", async () => {
    const bytes = GetResponse.encode({ adapter: wireEntry(3) }).finish();
    expect((await decodeListInSlices(bytes)).map((entry) => entry.adapterId)).toEqual([
      "adapter-3",
    ]);
  });

  it("still reads a genuinely empty catalog (no bytes) as empty", async () => {
    expect(await decodeListInSlices(ListResponse.encode({ adapters: [] }).finish())).toEqual([]);
    expect(await decodeListInSlices(new Uint8Array(0))).toEqual([]);
  });

  it("keeps unknown fields of every wire type beside real entries", async () => {
    const writer = ListResponse.encode({ adapters: [wireEntry(1), wireEntry(2)] });
    writer.uint32((20 << 3) | 0).int32(99);
    writer.uint32((21 << 3) | 1).fixed64(1);
    writer.uint32((22 << 3) | 5).fixed32(1);
    writer
      .uint32((23 << 3) | 3)
      .uint32((1 << 3) | 0)
      .int32(5)
      .uint32((23 << 3) | 4);
    const entries = await decodeListInSlices(writer.finish());
    expect(entries.map((entry) => entry.adapterId)).toEqual(["adapter-1", "adapter-2"]);
  });

  it("fails on bytes that are not protobuf at all (field 0, a stray end-group)", async () => {
    await expect(decodeListInSlices(new Uint8Array([0, 0]))).rejects.toThrow("illegal tag");
    const strayEnd = ListResponse.encode({ adapters: [wireEntry(1)] })
      .uint32((9 << 3) | 4)
      .finish();
    await expect(decodeListInSlices(strayEnd)).rejects.toThrow();
  });
});
