import { ApiError } from "../../src/api/api-error.js";
import type { QueryBackend } from "../../src/api/query-backend.js";
import { listFilterSchema, parseParameters, toAdapterDetail } from "../../src/api/query-service.js";
import { readStatusSnapshot } from "../../src/main.js";
import { SqliteStore } from "../../src/storage/sqlite-store.js";

/**
 * A minimal read-only backend over a database file, for the stdio tests: lists
 * and details come from the file; everything else needs a running daemon.
 */
export function testFileBackend(dbPath: string, now: () => number = Date.now): QueryBackend {
  const needsDaemon = async (): Promise<never> => {
    throw new ApiError("NOT_READY", `needs a running daemon (reading ${dbPath} read-only)`);
  };
  return {
    description: `database ${dbPath} (read-only)`,
    async listAdapters(filter) {
      const wanted = parseParameters(listFilterSchema, filter ?? {}, "filter");
      const { adapters, registry } = readStatusSnapshot(dbPath, now());
      return {
        registry,
        adapters: adapters.filter(
          (adapter) =>
            (!wanted.project || adapter.project === wanted.project) &&
            (!wanted.domain || adapter.domain === wanted.domain) &&
            (!wanted.category || adapter.category === wanted.category) &&
            (!wanted.provider || adapter.provider === wanted.provider) &&
            (!wanted.status || adapter.status === wanted.status) &&
            (!wanted.healthy_only || (adapter.status === "healthy" && adapter.usable)),
        ),
      };
    },
    async getAdapter(adapterId) {
      const view = readStatusSnapshot(dbPath, now()).adapters.find(
        (adapter) => adapter.adapter_id === adapterId,
      );
      const store = new SqliteStore({ path: dbPath, readonly: true });
      try {
        const entry = store.loadCatalog().find((item) => item.adapterId === adapterId);
        const state = store.loadHealth().find((item) => item.adapterId === adapterId);
        if (!view || !entry || !state) {
          throw new ApiError(
            "ADAPTER_NOT_FOUND",
            `no adapter with id ${JSON.stringify(adapterId)} in the catalog`,
            { adapter_id: adapterId },
          );
        }
        return toAdapterDetail(view, entry, state, []);
      } finally {
        store.close();
      }
    },
    checkHealth: needsDaemon,
    resolve: needsDaemon,
    resolveBatch: needsDaemon,
    events: needsDaemon,
    invalidateCache: needsDaemon,
    healthCheck: needsDaemon,
  };
}
