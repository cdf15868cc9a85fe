/**
 * Where a command line client looks when it is not told, and how it names what
 * answers: in a module of their own, so choosing a source loads neither client.
 */

/** The daemon's HTTP address when neither the command line nor a config names one. */
export const DEFAULT_DAEMON_URL = "http://127.0.0.1:8681";

/** The database path the daemon uses when its config does not name one. */
export const DEFAULT_DB_PATH = "oneiric-healthd.db";

/** How answers read from the file at `path` are announced. */
export function databaseDescription(path: string): string {
  return `database ${path} (read-only, daemon not asked)`;
}
