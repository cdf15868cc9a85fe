import { ApiError } from "../api/api-error.js";

/**
 * The command line is wrong: the CLI prints the message, points at the help of
 * `helpFor` (a command's name; the top-level help when empty or, for errors a
 * command raises itself, the command that raised it) and exits 64.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly helpFor?: string,
  ) {
    super(message);
  }
}

/** A parameter the backend refuses came from the command line: that is a usage error. */
export async function usageOnBadParameter<T>(action: () => Promise<T> | T): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (
      error instanceof ApiError &&
      (error.code === "INVALID_PARAMETER" || error.code === "UNKNOWN_PARAMETER")
    ) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}
