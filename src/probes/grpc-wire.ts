/**
 * The few bytes of gRPC and protobuf that a grpc.health.v1 `Check` needs, framed and parsed by
 * hand: the request is one length-prefixed message with one string field, the answer one enum.
 * Pure functions, no I/O.
 */

/** gRPC status code names by number (grpc/status.proto). */
const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

export const GRPC_OK = 0;
export const GRPC_DEADLINE_EXCEEDED = 4;

/** The name of a gRPC status code, or the number itself for one outside the spec. */
export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/** grpc.health.v1 `ServingStatus` names by number; others read as UNRECOGNIZED, as ts-proto does. */
const SERVING_STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
export const SERVING = 1;

export function servingStatusName(status: number): string {
  return SERVING_STATUS_NAMES[status] ?? "UNRECOGNIZED";
}

/** The 5-byte gRPC message prefix: a compressed flag, then the length as a big-endian uint32. */
export const MESSAGE_PREFIX_BYTES = 5;

/**
 * A `HealthCheckRequest { string service = 1; }` as one uncompressed gRPC message: prefix,
 * then field 1 (tag 0x0a, length-delimited) unless the service is "" (proto3 omits defaults).
 */
export function encodeHealthCheckRequest(service: string): Buffer {
  const serviceBytes = Buffer.byteLength(service, "utf8");
  const fieldBytes = serviceBytes === 0 ? 0 : 1 + varintSize(serviceBytes) + serviceBytes;
  const frame = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + fieldBytes);
  frame[0] = 0;
  frame.writeUInt32BE(fieldBytes, 1);
  if (fieldBytes === 0) return frame;
  frame[5] = 0x0a;
  let at = 6;
  let length = serviceBytes;
  while (length > 0x7f) {
    frame[at++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  frame[at++] = length;
  frame.write(service, at, "utf8");
  return frame;
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

/**
 * The serving status in an answer's body (every DATA chunk, in order), or a sentence saying
 * what is wrong with it. Expects exactly one uncompressed message, as a unary answer is.
 */
export function decodeHealthCheckAnswer(body: Uint8Array): number | string {
  if (body.length === 0) return "no message in the answer";
  if (body.length < MESSAGE_PREFIX_BYTES)
    return `answer of ${body.length} bytes is not a gRPC message`;
  const compressed = body[0];
  if (compressed !== 0) {
    return compressed === 1
      ? "answer is compressed, but no compression was offered"
      : `answer has compressed flag ${compressed}, not a gRPC message`;
  }
  const length =
    (((body[1] ?? 0) << 24) >>> 0) +
    ((body[2] ?? 0) << 16) +
    ((body[3] ?? 0) << 8) +
    (body[4] ?? 0);
  const end = MESSAGE_PREFIX_BYTES + length;
  if (body.length < end)
    return `answer message is cut short (${body.length - MESSAGE_PREFIX_BYTES} of ${length} bytes)`;
  if (body.length > end) return "answer holds more than one message";
  return decodeHealthCheckResponse(body, MESSAGE_PREFIX_BYTES, end);
}

/**
 * `HealthCheckResponse { ServingStatus status = 1; }` from `bytes[start, end)`: the last
 * field 1 wins, other fields are skipped, and an absent field is 0 (UNKNOWN), as protobuf says.
 */
export function decodeHealthCheckResponse(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): number | string {
  let status = 0;
  let at = start;
  while (at < end) {
    const tag = readVarint(bytes, at, end);
    if (tag === undefined) return "answer message has a malformed field tag";
    at = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) return "answer message has field number 0";
    switch (wireType) {
      case 0: {
        const value = readVarint(bytes, at, end);
        if (value === undefined) return "answer message has a malformed varint";
        at = value.next;
        // An enum is an int32: negative values arrive as 10-byte varints; keep the low 32 bits.
        if (field === 1) status = value.low32 | 0;
        break;
      }
      case 1:
        at += 8;
        break;
      case 2: {
        const length = readVarint(bytes, at, end);
        if (length === undefined) return "answer message has a malformed length";
        at = length.next + length.value;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        return `answer message has unsupported wire type ${wireType}`;
    }
    if (at > end) return "answer message is truncated";
  }
  return status;
}

interface Varint {
  /** The value, exact up to 2^53. */
  value: number;
  /** Its low 32 bits, as protobuf's int32 reading keeps them. */
  low32: number;
  next: number;
}

function readVarint(bytes: Uint8Array, start: number, end: number): Varint | undefined {
  let value = 0;
  let low32 = 0;
  let scale = 1;
  for (let at = start, shift = 0; at < end && shift < 70; at++, shift += 7) {
    const byte = bytes[at] ?? 0;
    const bits = byte & 0x7f;
    value += bits * scale;
    if (shift < 32) low32 |= bits << shift;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, low32, next: at + 1 };
  }
  return undefined;
}

/**
 * The `grpc-timeout` header for a deadline: at most 8 digits, in the finest unit that fits.
 */
export function grpcTimeoutHeader(timeoutMs: number): string {
  const ms = Math.max(1, Math.ceil(timeoutMs));
  if (ms < 100_000_000) return `${ms}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 100_000_000) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}

/**
 * The gRPC code a client derives from an HTTP status that is not 200 (gRPC's
 * http-grpc-status-mapping.md), as grpc-js does.
 */
export function grpcCodeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** `grpc-message` is percent-encoded; a malformed escape is kept as sent. */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
