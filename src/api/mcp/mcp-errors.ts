/**
 * How failures reach MCP clients. A tool never throws a protocol error: every
 * failure is a tool result with `isError: true`, text `CODE: message`, and
 * `_meta["io.oneiric.healthd/error"]` = {code, …}, the same stable codes as
 * over HTTP. A resource read has no "tool error", so it fails with a JSON-RPC
 * error carrying the code.
 */
import { type CallToolResult, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { ApiError } from "../api-error.js";

/** Where a tool error's code and extra fields are, in the result's `_meta`. */
export const ERROR_META_KEY = "io.oneiric.healthd/error";
/** MCP's "resource not found" JSON-RPC error code. */
export const RESOURCE_NOT_FOUND = -32002;

/** The stable code of an error: ApiError's, a coded error's (CURSOR_EXPIRED, …), else INTERNAL. */
export function errorCode(error: unknown): string {
  if (error instanceof ApiError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z_]*$/.test(code) ? code : "INTERNAL";
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed tool call as a tool result, never a protocol error. */
export function toolError(error: unknown): CallToolResult {
  const code = errorCode(error);
  const extra = error instanceof ApiError ? error.extra : {};
  return {
    isError: true,
    content: [{ type: "text", text: `${code}: ${errorMessage(error)}` }],
    _meta: { [ERROR_META_KEY]: { ...extra, code, message: errorMessage(error) } },
  };
}

/** A failed resource read as a JSON-RPC error (resources have no "tool error"). */
export function resourceError(error: unknown, uri: string): McpError {
  const code = errorCode(error);
  const jsonRpcCode =
    code === "ADAPTER_NOT_FOUND" || code === "NOT_FOUND"
      ? RESOURCE_NOT_FOUND
      : code === "INVALID_PARAMETER" || code === "UNKNOWN_PARAMETER"
        ? ErrorCode.InvalidParams
        : ErrorCode.InternalError;
  return new McpError(jsonRpcCode, `${code}: ${errorMessage(error)}`, { uri, code });
}
