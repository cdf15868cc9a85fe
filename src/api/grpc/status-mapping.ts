import { status as GrpcStatus, Metadata, type StatusObject } from "@grpc/grpc-js";
import { ApiError, type ApiErrorCode } from "../api-error.js";

/**
 * The gRPC status each stable API error code answers with. The HTTP-only codes
 * (body parsing, methods, content negotiation) cannot arise from a gRPC call,
 * so reaching one would be a bug: INTERNAL.
 */
export const GRPC_STATUS: Record<ApiErrorCode, GrpcStatus> = {
  INVALID_PARAMETER: GrpcStatus.INVALID_ARGUMENT,
  UNKNOWN_PARAMETER: GrpcStatus.INVALID_ARGUMENT,
  ADAPTER_NOT_FOUND: GrpcStatus.NOT_FOUND,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  CURSOR_EXPIRED: GrpcStatus.OUT_OF_RANGE,
  REGISTRY_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  NOT_READY: GrpcStatus.UNAVAILABLE,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  RATE_LIMITED: GrpcStatus.RESOURCE_EXHAUSTED,
  MALFORMED_JSON: GrpcStatus.INTERNAL,
  PAYLOAD_TOO_LARGE: GrpcStatus.INTERNAL,
  METHOD_NOT_ALLOWED: GrpcStatus.INTERNAL,
  NOT_ACCEPTABLE: GrpcStatus.INTERNAL,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** What a handler passes to a unary callback or emits on a stream to end it with an error. */
export type GrpcErrorStatus = Pick<StatusObject, "code" | "details" | "metadata">;

/**
 * Turns anything a handler threw into the status the client receives. An
 * ApiError keeps its message and code (also sent as trailing metadata
 * `error-code`, so clients can branch on the stable code rather than parse
 * text); anything else is a bug, answered INTERNAL without its text, which may
 * hold paths or SQL, and passed to `onInternal` to be logged.
 */
export function toGrpcStatus(
  error: unknown,
  onInternal: (error: unknown) => void = () => {},
): GrpcErrorStatus {
  const metadata = new Metadata();
  if (!(error instanceof ApiError)) {
    onInternal(error);
    metadata.set("error-code", "INTERNAL");
    return { code: GrpcStatus.INTERNAL, details: "internal error", metadata };
  }
  metadata.set("error-code", error.code);
  const {
    parameter,
    oldest_seq: oldestSeq,
    required_scope: requiredScope,
    retry_after_sec: retryAfterSec,
  } = error.extra;
  if (typeof parameter === "string") metadata.set("parameter", parameter);
  if (typeof requiredScope === "string") metadata.set("required-scope", requiredScope);
  if (typeof retryAfterSec === "number") metadata.set("retry-after", String(retryAfterSec));
  let details = error.message;
  if (typeof oldestSeq === "number") {
    metadata.set("oldest-seq", String(oldestSeq));
    // The hub's message names it already; say it in any case, it is what the client needs.
    if (!details.includes(`seq ${oldestSeq}`)) details += ` (oldest available seq ${oldestSeq})`;
  }
  return { code: GRPC_STATUS[error.code], details, metadata };
}
