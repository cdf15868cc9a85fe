import v8 from "node:v8";

/** How far V8 lets the old generation grow past its live size before a full collection. */
export const DAEMON_HEAP_GROWTH_PERCENT = 20;

const FLAG = "--heap-growing-percent";

/**
 * Keeps the daemon's heap close to what it holds. V8's own growth heuristic lets
 * a heap that turns over quickly (every check's short-lived objects) grow to
 * several times its live size between full collections, which is most of a busy
 * daemon's RSS. A fixed factor of 1.2 trades a few more full collections for a
 * footprint near the live size. A `--heap-growing-percent` given to node (on its
 * command line) wins. Returns the factor in force, as a percentage, or undefined
 * when the command line chose.
 */
export function limitHeapGrowth(execArgv: readonly string[]): number | undefined {
  if (execArgv.some((arg) => arg === FLAG || arg.startsWith(`${FLAG}=`))) return undefined;
  v8.setFlagsFromString(`${FLAG}=${DAEMON_HEAP_GROWTH_PERCENT}`);
  return DAEMON_HEAP_GROWTH_PERCENT;
}
