import type { Readiness } from "../api/query-service.js";
import type { StoreStatus } from "../engine/health-engine.js";
import type { RegistryState } from "../storage/store.js";

/** What readiness is judged from; every part is read fresh for each answer. */
export interface ReadinessInputs {
  /** Whether start-up (migrations, restore, the first sync's outcome) has finished. */
  started: boolean;
  store: StoreStatus;
  /** False when `oneiric_mcp.enabled` is false: the stored catalog is all there is. */
  registryEnabled: boolean;
  /** Whether a registry has answered a catalog sync since start-up. */
  registryConfirmed: boolean;
  /** The registry link as last committed (reachability follows every registry call). */
  registry: RegistryState;
  /** Adapters in the catalog now. */
  adapters: number;
  /** The open episode of a registry answering with something that is not a catalog. */
  unreadableCatalog?: { since: number; error: string } | undefined;
  /** A cluster member's link to NATS (docs/scale-out.md); absent when none is configured. */
  nats?: { connected: boolean; since: number; lastError: string | null } | undefined;
}

/**
 * Ready means: send this daemon work, its answers are worth having. That takes
 * finished start-up, a database that has taken a write (the start-up write,
 * then every commit) and refuses none now, and a catalog: from the registry, or
 * stored by an earlier run. A daemon whose verdicts cannot be stored answers
 * from its last commit, but should not be sent new work as if nothing were
 * wrong.
 *
 * An empty catalog is a catalog only while a reachable registry vouches for it:
 * ready, with a note, when the registry answered with no adapters (nothing is
 * registered yet, which the daemon reports truthfully); not ready when the
 * emptiness comes from storage or from a registry that no longer answers, as a
 * daemon pointed at the wrong registry (`localhost` inside a container) would
 * otherwise look healthy while it watches nothing.
 *
 * A non-empty catalog keeps the daemon ready while the registry is down (it
 * serves and checks the last-known catalog), with a note before the registry's
 * first answer, and while the registry's answers cannot be read.
 */
export function readiness(inputs: ReadinessInputs): Readiness {
  const alone = memberReadiness(inputs);
  const { nats } = inputs;
  if (!alone.ready || nats === undefined || nats.connected) return alone;
  // Still ready: the member probes what it owned at its last view of the cluster and journals it.
  const error = nats.lastError === null ? "" : ` (${nats.lastError})`;
  const note = `NATS unreachable since ${isoTime(nats.since)}${error}: probing the adapters this member owned at its last view of the cluster; its events wait for the stream, the other members' verdicts and events are not coming in`;
  return { ready: true, note: alone.note === undefined ? note : `${alone.note}; ${note}` };
}

/** Readiness as a daemon that runs alone judges it. */
function memberReadiness(inputs: ReadinessInputs): Readiness {
  const { store, adapters, unreadableCatalog } = inputs;
  if (!inputs.started) return { ready: false, reason: "start-up has not finished" };
  if (!store.writable) {
    const since =
      store.failingSince === null ? "" : ` since ${new Date(store.failingSince).toISOString()}`;
    return {
      ready: false,
      reason: `the database refuses commits${since} (${store.lastError ?? "unknown error"}); ${store.pendingEvents} events and ${store.pendingStates} verdicts wait to be committed, queries answer from the last commit`,
    };
  }
  if (store.lastWriteAt === null) {
    return { ready: false, reason: "no write to the database has succeeded yet" };
  }
  if (adapters === 0) return emptyCatalogReadiness(inputs);
  if (!inputs.registryConfirmed) {
    return { ready: true, note: "catalog from storage, registry not yet confirmed" };
  }
  if (unreadableCatalog) {
    // Still ready: the last-known catalog is served and checked; the note says what is wrong.
    return {
      ready: true,
      note: `the registry's catalog cannot be read since ${isoTime(unreadableCatalog.since)} (${unreadableCatalog.error}); serving the last-known catalog`,
    };
  }
  return { ready: true };
}

function emptyCatalogReadiness(inputs: ReadinessInputs): Readiness {
  const { registry, unreadableCatalog } = inputs;
  if (!inputs.registryEnabled) {
    return {
      ready: false,
      reason:
        "the catalog is empty and oneiric_mcp.enabled is false: no registry to fill it, nothing to watch",
    };
  }
  const lastError = registry.lastError === null ? "" : ` (${registry.lastError})`;
  if (!inputs.registryConfirmed) {
    if (registry.lastSync === null) {
      return {
        ready: false,
        reason: `no catalog yet: none is stored and the registry has not answered${lastError}`,
      };
    }
    return {
      ready: false,
      reason: `the stored catalog is empty and the registry at ${registry.endpoint} has not answered since start-up${lastError}`,
    };
  }
  if (unreadableCatalog) {
    return {
      ready: false,
      reason: `the catalog is empty and the registry's catalog cannot be read since ${isoTime(unreadableCatalog.since)} (${unreadableCatalog.error})`,
    };
  }
  if (!registry.reachable) {
    const answered =
      registry.lastSync === null ? "" : `: its last answer was at ${isoTime(registry.lastSync)}`;
    return {
      ready: false,
      reason: `the catalog is empty and the registry at ${registry.endpoint} is unreachable${answered}${lastError}`,
    };
  }
  return {
    ready: true,
    note: `the registry at ${registry.endpoint} answered with an empty catalog: no adapters to watch yet`,
  };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
