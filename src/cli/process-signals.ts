/**
 * How long-running commands meet SIGTERM, SIGINT and SIGHUP. Every listener
 * added here is removed again, so nothing outlives the command that asked.
 */
import type { Logger } from "pino";
import { EXIT_FAILURE } from "./exit-codes.js";

const NOTHING_TO_RELOAD = "SIGHUP ignored: this command has no configuration to reload";

/**
 * Resolves on SIGTERM or SIGINT. SIGHUP calls `onHangup` (`run` reloads its
 * config); other long-running commands say there is nothing to reload.
 */
export function untilStopSignal(
  warn: (message: string) => void,
  onHangup: () => void = () => warn(NOTHING_TO_RELOAD),
): Promise<void> {
  return new Promise((resolve) => {
    process.on("SIGHUP", onHangup);
    const done = () => {
      process.off("SIGHUP", onHangup);
      resolve();
    };
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
  });
}

/**
 * Runs `work` with a signal that aborts on SIGINT or SIGTERM, for commands
 * that stream until stopped (`events --follow`, `mcp`) and end by themselves
 * once aborted.
 */
export async function abortingOnStopSignal<T>(
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    return await work(stop.signal);
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
}

/**
 * Arms the shutdown guards once a stop signal arrived: a second SIGTERM or
 * SIGINT exits at once (code 1), SIGHUP is ignored (its default action would
 * kill the process mid-commit), and a stop taking longer than `deadlineMs`
 * exits with code 1 and an ERROR, so a stuck client or probe cannot keep a
 * stopping daemon alive. Returns the disarm function.
 */
export function guardStop(logger: Logger, deadlineMs: number): () => void {
  const exitAtOnce = (signal: NodeJS.Signals) => {
    logger.error({ signal }, `${signal} while stopping: exiting at once`);
    process.exit(EXIT_FAILURE);
  };
  const ignoreHangup = () => logger.warn("SIGHUP ignored: the daemon is stopping");
  const watchdog = setTimeout(() => {
    logger.error(`stopping took longer than ${deadlineMs / 1000} s: exiting without finishing`);
    process.exit(EXIT_FAILURE);
  }, deadlineMs);
  process.on("SIGTERM", exitAtOnce);
  process.on("SIGINT", exitAtOnce);
  process.on("SIGHUP", ignoreHangup);
  return () => {
    clearTimeout(watchdog);
    process.off("SIGTERM", exitAtOnce);
    process.off("SIGINT", exitAtOnce);
    process.off("SIGHUP", ignoreHangup);
  };
}
