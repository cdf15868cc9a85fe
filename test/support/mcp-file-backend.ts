import { ApiError } from "../../src/api/api-error.js";
import { DatabaseQueryBackend } from "../../src/api/clients/database-query-backend.js";
import type { QueryBackend } from "../../src/api/query-backend.js";

/**
 * A read-only backend over a database file, for the stdio tests: the CLI's own
 * DatabaseQueryBackend (the daemon's query service over the file), as a plain
 * object so tests can spread it and replace methods. What needs a running
 * daemon fails with this double's own short wording.
 */
export function testFileBackend(dbPath: string, now: () => number = Date.now): QueryBackend {
  const file = new DatabaseQueryBackend({ path: dbPath, now });
  const needsDaemon = async (): Promise<never> => {
    throw new ApiError("NOT_READY", `needs a running daemon (reading ${dbPath} read-only)`);
  };
  return {
    description: `database ${dbPath} (read-only)`,
    listAdapters: (filter) => file.listAdapters(filter),
    getAdapter: (adapterId) => file.getAdapter(adapterId),
    checkHealth: (adapterId) => file.checkHealth(adapterId),
    resolve: (requirement) => file.resolve(requirement),
    resolveBatch: (body) => file.resolveBatch(body),
    events: (page) => file.events(page),
    uptime: (query) => file.uptime(query),
    invalidateCache: needsDaemon,
    healthCheck: needsDaemon,
  };
}
