import { describe, expect, it } from "vitest";
import type { StoreStatus } from "../engine/health-engine.js";
import type { RegistryState } from "../storage/store.js";
import { type ReadinessInputs, readiness } from "./readiness.js";

const T0 = Date.parse("2026-12-01T12:00:00Z");

const WRITABLE: StoreStatus = {
  writable: true,
  failingSince: null,
  lastError: null,
  lastWriteAt: T0,
  pendingStates: 0,
  pendingEvents: 0,
};

const NEVER_REACHED: RegistryState = {
  endpoint: "localhost:8679",
  reachable: false,
  lastSync: null,
  lastAttempt: T0,
  lastError: "connect ECONNREFUSED 127.0.0.1:8679",
};

const ANSWERING: RegistryState = {
  endpoint: "registry:8679",
  reachable: true,
  lastSync: T0,
  lastAttempt: T0,
  lastError: null,
};

/** A started daemon with a writable store and a registry that answered a catalog of three. */
function inputs(change: Partial<ReadinessInputs> = {}): ReadinessInputs {
  return {
    started: true,
    store: WRITABLE,
    registryEnabled: true,
    registryConfirmed: true,
    registry: ANSWERING,
    adapters: 3,
    ...change,
  };
}

describe("readiness", () => {
  it("is not ready before start-up has finished", () => {
    expect(readiness(inputs({ started: false }))).toEqual({
      ready: false,
      reason: "start-up has not finished",
    });
  });

  it("is ready from a stored catalog with a note until the registry is confirmed", () => {
    expect(readiness(inputs({ registryConfirmed: false, registry: NEVER_REACHED }))).toEqual({
      ready: true,
      note: "catalog from storage, registry not yet confirmed",
    });
    expect(readiness(inputs())).toEqual({ ready: true });
  });

  it("stays ready with a catalog while the registry is unreachable: the last-known catalog is checked", () => {
    const down = { ...ANSWERING, reachable: false, lastError: "deadline exceeded" };
    expect(readiness(inputs({ registry: down }))).toEqual({ ready: true });
  });

  it("is not ready with no catalog at all until the registry answers, naming the registry's error", () => {
    expect(
      readiness(inputs({ registryConfirmed: false, registry: NEVER_REACHED, adapters: 0 })),
    ).toEqual({
      ready: false,
      reason:
        "no catalog yet: none is stored and the registry has not answered (connect ECONNREFUSED 127.0.0.1:8679)",
    });
  });

  it("is ready with a note when a reachable registry answered with an empty catalog", () => {
    expect(readiness(inputs({ adapters: 0 }))).toEqual({
      ready: true,
      note: "the registry at registry:8679 answered with an empty catalog: no adapters to watch yet",
    });
  });

  it("is not ready on a stored empty catalog while the registry has not answered since start-up", () => {
    const storedEmpty = { ...NEVER_REACHED, lastSync: T0 - 3_600_000 };
    expect(
      readiness(inputs({ registryConfirmed: false, registry: storedEmpty, adapters: 0 })),
    ).toEqual({
      ready: false,
      reason:
        "the stored catalog is empty and the registry at localhost:8679 has not answered since start-up (connect ECONNREFUSED 127.0.0.1:8679)",
    });
  });

  it("is not ready on an empty catalog once the registry that vouched for it stops answering", () => {
    const down = { ...ANSWERING, reachable: false, lastError: "deadline exceeded" };
    expect(readiness(inputs({ registry: down, adapters: 0 }))).toEqual({
      ready: false,
      reason:
        "the catalog is empty and the registry at registry:8679 is unreachable: its last answer was at 2026-12-01T12:00:00.000Z (deadline exceeded)",
    });
  });

  it("is not ready on an empty catalog with the registry off: nothing can fill it", () => {
    expect(readiness(inputs({ registryEnabled: false, adapters: 0 }))).toEqual({
      ready: false,
      reason:
        "the catalog is empty and oneiric_mcp.enabled is false: no registry to fill it, nothing to watch",
    });
    expect(readiness(inputs({ registryEnabled: false }))).toEqual({ ready: true });
  });

  it("is not ready before any write to the database has succeeded", () => {
    expect(readiness(inputs({ store: { ...WRITABLE, lastWriteAt: null } }))).toEqual({
      ready: false,
      reason: "no write to the database has succeeded yet",
    });
  });

  it("is not ready while the database refuses commits, saying since when and what waits", () => {
    const failing: StoreStatus = {
      writable: false,
      failingSince: T0,
      lastError: "SQLITE_FULL: database or disk is full",
      lastWriteAt: T0 - 1_000,
      pendingStates: 2,
      pendingEvents: 5,
    };
    expect(readiness(inputs({ store: failing }))).toEqual({
      ready: false,
      reason:
        "the database refuses commits since 2026-12-01T12:00:00.000Z (SQLITE_FULL: database or disk is full); 5 events and 2 verdicts wait to be committed, queries answer from the last commit",
    });
  });

  it("stays ready while the registry's catalog cannot be read, with a note saying since when", () => {
    const unreadable = { since: T0, error: "not a ListResponse" };
    expect(readiness(inputs({ unreadableCatalog: unreadable }))).toEqual({
      ready: true,
      note: "the registry's catalog cannot be read since 2026-12-01T12:00:00.000Z (not a ListResponse); serving the last-known catalog",
    });
    // With no catalog at all the daemon is not ready, whatever the reason.
    expect(readiness(inputs({ unreadableCatalog: unreadable, adapters: 0 }))).toEqual({
      ready: false,
      reason:
        "the catalog is empty and the registry's catalog cannot be read since 2026-12-01T12:00:00.000Z (not a ListResponse)",
    });
  });
});
