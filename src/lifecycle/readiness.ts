import type { Readiness } from "../api/query-service.js";
import type { StoreStatus } from "../engine/health-engine.js";

/**
 * Ready once start-up has finished and while the database takes commits: a
 * daemon whose verdicts cannot be stored answers from its last commit, but
 * should not be sent new work as if nothing were wrong. Ready from a stored
 * catalog before the registry's first answer, with a note saying so; not ready
 * with no catalog at all until the registry answers. Ready, with a note, while
 * the registry answers the catalog sync with something that is not a readable
 * catalog (the last-known catalog is served).
 */
export function readiness(
  started: boolean,
  store: StoreStatus,
  registryConfirmed = true,
  adapters = 0,
  unreadableCatalog?: { since: number; error: string },
): Readiness {
  if (!started) return { ready: false, reason: "start-up has not finished" };
  if (!store.writable) {
    const since =
      store.failingSince === null ? "" : ` since ${new Date(store.failingSince).toISOString()}`;
    return {
      ready: false,
      reason: `the database refuses commits${since} (${store.lastError ?? "unknown error"}); ${store.pendingEvents} events and ${store.pendingStates} verdicts wait to be committed, queries answer from the last commit`,
    };
  }
  if (!registryConfirmed) {
    if (adapters === 0) {
      return {
        ready: false,
        reason: "no catalog yet: none is stored and the registry has not answered",
      };
    }
    return { ready: true, note: "catalog from storage, registry not yet confirmed" };
  }
  if (unreadableCatalog) {
    // Still ready: the last-known catalog is served and checked; the note says what is wrong.
    return {
      ready: true,
      note: `the registry's catalog cannot be read since ${new Date(unreadableCatalog.since).toISOString()} (${unreadableCatalog.error}); serving the last-known catalog`,
    };
  }
  return { ready: true };
}
