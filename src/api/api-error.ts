/** Stable error codes every transport maps (HTTP status, gRPC status, MCP tool error). */
export type ApiErrorCode =
  | "INVALID_PARAMETER"
  | "UNKNOWN_PARAMETER"
  | "MALFORMED_JSON"
  | "PAYLOAD_TOO_LARGE"
  | "ADAPTER_NOT_FOUND"
  | "CURSOR_EXPIRED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "NOT_ACCEPTABLE"
  | "REGISTRY_UNAVAILABLE"
  | "NOT_READY"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "RATE_LIMITED"
  | "INTERNAL";

export const HTTP_STATUS: Record<ApiErrorCode, number> = {
  INVALID_PARAMETER: 400,
  UNKNOWN_PARAMETER: 400,
  MALFORMED_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  ADAPTER_NOT_FOUND: 404,
  CURSOR_EXPIRED: 410,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REGISTRY_UNAVAILABLE: 503,
  NOT_READY: 503,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/** An error a client caused or should know about, with a stable code and extra fields. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}
