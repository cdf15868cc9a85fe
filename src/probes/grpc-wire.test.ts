import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HealthCheckRequest, HealthCheckResponse } from "../gen/grpc/health/v1/health.js";
import {
  decodeGrpcMessage,
  decodeHealthCheckAnswer,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  grpcCodeForHttpStatus,
  grpcStatusName,
  grpcTimeoutHeader,
  servingStatusName,
} from "./grpc-wire.js";

/** A gRPC message: uncompressed flag, big-endian length, then the bytes. */
function framed(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

describe("encodeHealthCheckRequest", () => {
  it("frames what protobuf would encode, for any service name", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (service) => {
        const frame = encodeHealthCheckRequest(service);
        expect(frame).toEqual(framed(HealthCheckRequest.encode({ service }).finish()));
        expect(HealthCheckRequest.decode(frame.subarray(5))).toEqual({ service });
      }),
    );
  });

  it("sends the empty service (the server as a whole) as an empty message", () => {
    expect(encodeHealthCheckRequest("")).toEqual(Buffer.from([0, 0, 0, 0, 0]));
  });
});

describe("decodeHealthCheckAnswer", () => {
  it.each([
    [0, "UNKNOWN"],
    [1, "SERVING"],
    [2, "NOT_SERVING"],
    [3, "SERVICE_UNKNOWN"],
  ])("reads status %i (%s) as protobuf encodes it", (status, name) => {
    const answer = framed(HealthCheckResponse.encode({ status }).finish());
    expect(decodeHealthCheckAnswer(answer)).toBe(status);
    expect(servingStatusName(status)).toBe(name);
  });

  it("agrees with protobuf on any status value", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (status) => {
        const answer = framed(HealthCheckResponse.encode({ status }).finish());
        expect(decodeHealthCheckAnswer(answer)).toBe(status);
      }),
    );
  });

  it("skips fields it does not know, and the last status field wins", () => {
    const message = Buffer.from([
      0x10,
      0x96,
      0x01, // field 2, varint 150
      0x08,
      0x02, // status NOT_SERVING
      0x1a,
      0x03,
      0x61,
      0x62,
      0x63, // field 3, "abc"
      0x21,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 4, fixed64
      0x2d,
      1,
      2,
      3,
      4, // field 5, fixed32
      0x08,
      0x01, // status SERVING
    ]);
    expect(decodeHealthCheckResponse(message)).toBe(1);
  });

  it("names an unknown serving status UNRECOGNIZED, as the generated code does", () => {
    expect(servingStatusName(7)).toBe("UNRECOGNIZED");
    expect(servingStatusName(-1)).toBe("UNRECOGNIZED");
  });

  it.each([
    [Buffer.alloc(0), "no message in the answer"],
    [Buffer.from([0, 0, 0]), "answer of 3 bytes is not a gRPC message"],
    [Buffer.from([1, 0, 0, 0, 2, 8, 1]), "answer is compressed, but no compression was offered"],
    [Buffer.from([9, 0, 0, 0, 0]), "answer has compressed flag 9, not a gRPC message"],
    [Buffer.from([0, 0, 0, 0, 4, 8, 1]), "answer message is cut short (2 of 4 bytes)"],
    [Buffer.from([0, 0, 0, 0, 2, 8, 1, 0]), "answer holds more than one message"],
    [Buffer.from([0, 0, 0, 0, 1, 8]), "answer message has a malformed varint"],
    [Buffer.from([0, 0, 0, 0, 2, 0x1a, 5]), "answer message is truncated"],
    [Buffer.from([0, 0, 0, 0, 1, 0x0b]), "answer message has unsupported wire type 3"],
    [Buffer.from([0, 0, 0, 0, 2, 0x00, 0x01]), "answer message has field number 0"],
    [Buffer.from([0, 0, 0, 0, 1, 0x80]), "answer message has a malformed field tag"],
  ])("says what is wrong with a malformed answer %#", (answer, problem) => {
    expect(decodeHealthCheckAnswer(answer)).toBe(problem);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = decodeHealthCheckAnswer(framed(bytes));
        expect(["number", "string"]).toContain(typeof result);
      }),
    );
  });
});

describe("grpcTimeoutHeader", () => {
  it.each([
    [150, "150m"],
    [0.2, "1m"],
    [1500.4, "1501m"],
    [99_999_999, "99999999m"],
    [100_000_000, "100000S"],
  ])("%d ms is %s", (ms, header) => {
    expect(grpcTimeoutHeader(ms)).toBe(header);
  });
});

describe("status names and mappings", () => {
  it("names gRPC codes, and numbers ones outside the spec", () => {
    expect(grpcStatusName(0)).toBe("OK");
    expect(grpcStatusName(5)).toBe("NOT_FOUND");
    expect(grpcStatusName(14)).toBe("UNAVAILABLE");
    expect(grpcStatusName(16)).toBe("UNAUTHENTICATED");
    expect(grpcStatusName(42)).toBe("42");
  });

  it.each([
    [400, 13],
    [401, 16],
    [403, 7],
    [404, 12],
    [429, 14],
    [502, 14],
    [503, 14],
    [504, 14],
    [500, 2],
  ])("maps HTTP %i to gRPC code %i", (http, code) => {
    expect(grpcCodeForHttpStatus(http)).toBe(code);
  });

  it("percent-decodes grpc-message, keeping a malformed one as sent", () => {
    expect(decodeGrpcMessage("unknown%20service")).toBe("unknown service");
    expect(decodeGrpcMessage("caf%C3%A9")).toBe("café");
    expect(decodeGrpcMessage("100%")).toBe("100%");
    expect(decodeGrpcMessage("plain")).toBe("plain");
  });
});
