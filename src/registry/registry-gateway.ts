import type { AdapterEntry, HealthStatus } from "../domain/adapter.js";
import { type Rejection, screenEntries } from "../domain/catalog.js";
import { type CatalogRead, CatalogReader } from "./catalog-reader.js";
import type { ListFilter, RegistryHealth } from "./registry-client.js";
import { RegistryError } from "./registry-client.js";
import type { BreakerState, RegistryEndpoint } from "./registry-endpoint.js";
import { SwrCache } from "./swr-cache.js";

/** Where an answer came from, best first: the fallback chain's links. */
export type AnswerSource = "registry" | "cache" | "store" | "file";

/** An answer labelled with its origin and age, so callers can judge how far to trust it. */
export interface Answer<T> {
  value: T;
  source: AnswerSource;
  /** The registry endpoint that answered, for source registry (or cache filled from it). */
  endpoint: string | null;
  /** How old the information is, in ms. */
  ageMs: number;
  /** True when no registry could be asked and this is an older answer. */
  stale: boolean;
}

/** The daemon's own last-known state, the store link of the chain. */
export interface LastKnownState {
  entries(): AdapterEntry[];
  /** When the stored catalog was last synced from a registry (ms), or null. */
  syncedAt(): number | null;
  /** The daemon's last verdict on an adapter. */
  verdict(adapterId: string): { status: HealthStatus; lastChecked: number | null } | undefined;
}

export interface GatewayOptions {
  /** Primary first, then secondaries in order. */
  endpoints: RegistryEndpoint[];
  cacheTtlMs: number;
  lastKnown: LastKnownState;
  localFile?: { entries: AdapterEntry[]; modifiedAt: number } | undefined;
  now: () => number;
  onCacheHit?: () => void;
  onCacheMiss?: () => void;
  /** Malformed entries dropped or repaired from a registry answer. */
  onRejections?: (rejections: readonly Rejection[], endpoint: string) => void;
  onRefreshError?: (error: unknown) => void;
  /**
   * Told the new link state whenever the registry's aggregate reachability flips,
   * whichever RPC showed it (see {@link RegistryGateway.onLinkChange}).
   */
  onLinkChange?: (state: LinkState) => void;
  /** A link-change listener threw; the call that caused the change is unaffected. */
  onListenerError?: (error: unknown) => void;
}

/** The registry link as the RPCs themselves see it, whichever RPC was last made. */
export interface LinkState {
  /** At least one endpoint is reachable: its breaker not open, its last call not a link failure. */
  reachable: boolean;
  /** The first reachable endpoint (primary before secondaries), else the primary. */
  endpoint: string;
  /** The primary's last link failure, or null when its last call got an answer. */
  lastError: string | null;
}

/** No link of the chain could answer. Lists each link's reason. */
export class RegistryUnavailableError extends Error {
  readonly code = "REGISTRY_UNAVAILABLE";
  constructor(
    what: string,
    readonly reasons: string[],
    /** The error each link gave, in order (fewer than `reasons` when none was asked). */
    readonly causes: readonly unknown[] = [],
  ) {
    super(`${what}: no registry answered and no fallback holds it (${reasons.join("; ")})`);
    this.name = "RegistryUnavailableError";
  }
}

/** The adapter is unknown to a registry that answered, or to every fallback. */
export class AdapterNotFoundError extends Error {
  readonly code = "ADAPTER_NOT_FOUND";
  constructor(readonly adapterId: string) {
    super(`adapter ${JSON.stringify(adapterId)} is not in the registry`);
    this.name = "AdapterNotFoundError";
  }
}

const HEALTH_RANK: Record<HealthStatus, number> = {
  healthy: 0,
  degraded: 1,
  unknown: 2,
  unhealthy: 3,
};

function matches(entry: AdapterEntry, filter: ListFilter): boolean {
  return (
    (!filter.project || entry.project === filter.project) &&
    (!filter.domain || entry.domain === filter.domain) &&
    (!filter.category || entry.category === filter.category) &&
    (!filter.healthyOnly || entry.registryStatus === "healthy")
  );
}

function filterKey(filter: ListFilter): string {
  return JSON.stringify([
    filter.project ?? "",
    filter.domain ?? "",
    filter.category ?? "",
    filter.healthyOnly ?? false,
  ]);
}

/**
 * The client API of the Oneiric registry with the fallback chain behind it:
 * primary registry → secondary registries → cached lists → the daemon's
 * last-known state (SQLite) → a local registry file. Every answer says which
 * link gave it and how old it is.
 */
export class RegistryGateway {
  private readonly cache: SwrCache<{ entries: AdapterEntry[]; endpoint: string }>;
  /** Keeps the last whole-catalog answer, whichever endpoint gave it, to decode only what changed. */
  private readonly catalogReader = new CatalogReader();
  private readonly linkListeners = new Set<(state: LinkState) => void>();
  /** The aggregate reachability last reported, to report flips only. */
  private linkReachable: boolean;

  constructor(private readonly options: GatewayOptions) {
    this.linkReachable = this.linkState().reachable;
    if (options.onLinkChange) this.onLinkChange(options.onLinkChange);
    for (const endpoint of options.endpoints) {
      endpoint.onStatusChange(() => this.noteEndpointStatus());
    }
    this.cache = new SwrCache({
      ttlMs: options.cacheTtlMs,
      refreshAhead: 0.8,
      maxEntries: 1024,
      now: options.now,
      ...(options.onCacheHit ? { onHit: options.onCacheHit } : {}),
      ...(options.onCacheMiss ? { onMiss: options.onCacheMiss } : {}),
      onRefreshError: (_key, error) => options.onRefreshError?.(error),
    });
  }

  get primaryEndpoint(): string {
    return this.options.endpoints[0]?.endpoint ?? "none";
  }

  get endpoints(): readonly RegistryEndpoint[] {
    return this.options.endpoints;
  }

  /**
   * The registry link's aggregate state, from the endpoints' own outcomes: every
   * RPC (ListAdapters, GetAdapter, HealthCheck, Heartbeat) updates it, not only
   * the catalog sync.
   */
  linkState(): LinkState {
    const endpoints = this.options.endpoints;
    const answering = endpoints.find((endpoint) => endpoint.reachable);
    return {
      reachable: answering !== undefined,
      endpoint: (answering ?? endpoints[0])?.endpoint ?? "none",
      lastError: endpoints[0]?.lastFailure ?? null,
    };
  }

  /**
   * Calls `listener` with the new {@link linkState} each time its `reachable`
   * flips, synchronously as the RPC that flipped it completes (before its
   * caller sees the answer). A change of answering endpoint with no flip (the
   * primary fails, a secondary answers) is not reported. Returns the unsubscribe.
   */
  onLinkChange(listener: (state: LinkState) => void): () => void {
    const entry = (state: LinkState) => listener(state);
    this.linkListeners.add(entry);
    return () => {
      this.linkListeners.delete(entry);
    };
  }

  private noteEndpointStatus(): void {
    const state = this.linkState();
    if (state.reachable === this.linkReachable) return;
    this.linkReachable = state.reachable;
    for (const listener of this.linkListeners) {
      try {
        listener(state);
      } catch (error) {
        this.options.onListenerError?.(error);
      }
    }
  }

  /** Adapters matching `filter`, from the first link of the chain that answers. */
  async listAdapters(filter: ListFilter = {}): Promise<Answer<AdapterEntry[]>> {
    const key = filterKey(filter);
    const reasons: string[] = [];
    try {
      const cached = await this.cache.get(key, () =>
        this.askRegistries((endpoint) => this.listFrom(endpoint, filter)),
      );
      return {
        value: cached.value.entries,
        source: cached.hit ? "cache" : "registry",
        endpoint: cached.value.endpoint,
        ageMs: this.options.now() - cached.fetchedAt,
        stale: false,
      };
    } catch (error) {
      reasons.push(
        error instanceof RegistryUnavailableError ? error.reasons.join("; ") : String(error),
      );
    }
    const older = this.cache.peek(key);
    if (older)
      return this.fallback(older.value.entries, "cache", older.fetchedAt, older.value.endpoint);
    const fromStore = this.options.lastKnown.entries();
    const syncedAt = this.options.lastKnown.syncedAt();
    if (fromStore.length > 0 && syncedAt !== null) {
      return this.fallback(
        fromStore.filter((entry) => matches(entry, filter)),
        "store",
        syncedAt,
      );
    }
    const file = this.options.localFile;
    if (file)
      return this.fallback(
        file.entries.filter((entry) => matches(entry, filter)),
        "file",
        file.modifiedAt,
      );
    throw new RegistryUnavailableError("ListAdapters", reasons);
  }

  /**
   * The whole catalog fresh from a registry (primary, then secondaries), for the
   * catalog sync: never from the cache or a fallback, which would only echo the
   * daemon's own state back to it. When no registry gives a catalog and one of
   * them answered with something else (see `NotAListResponseError`), throws a
   * `RegistryError` of kind `bad_answer` listing every endpoint's reason; else
   * a {@link RegistryUnavailableError}.
   */
  async fetchCatalog(): Promise<{ entries: readonly AdapterEntry[]; endpoint: string }> {
    const { entries, endpoint } = await this.readCatalog();
    return { entries, endpoint };
  }

  /**
   * {@link fetchCatalog} with what changed since the catalog answer before it
   * (see {@link CatalogReader}): entries whose bytes are as they were are not
   * decoded again.
   */
  async readCatalog(): Promise<CatalogRead & { endpoint: string }> {
    try {
      return await this.askRegistries(async (endpoint) => {
        const read = await endpoint.readCatalog((bytes) => this.catalogReader.read(bytes));
        if (read.rejections.length > 0) {
          this.options.onRejections?.(read.rejections, endpoint.endpoint);
        }
        return { ...read, endpoint: endpoint.endpoint };
      });
    } catch (error) {
      // A registry that answered with something other than a catalog is named as
      // such (a failed sync, never an empty catalog), with every endpoint's reason.
      if (
        error instanceof RegistryUnavailableError &&
        error.causes.some((cause) => cause instanceof RegistryError && cause.kind === "bad_answer")
      ) {
        throw new RegistryError("bad_answer", error.reasons.join("; "));
      }
      throw error;
    }
  }

  /**
   * Whether a failed {@link readCatalog} means the registry answered ListAdapters,
   * but not with a catalog the daemon can read (another message, bytes that are
   * not protobuf, an error status), rather than not answering: the condition
   * the catalog sync reports once per episode (docs/registry-client.md).
   */
  isUnreadableCatalog(error: unknown): boolean {
    const causes = error instanceof RegistryUnavailableError ? error.causes : [error];
    return causes.some(
      (cause) =>
        cause instanceof RegistryError &&
        (cause.kind === "bad_answer" || cause.kind === "bad_response"),
    );
  }

  async getAdapter(adapterId: string): Promise<Answer<AdapterEntry>> {
    try {
      const { value, endpoint } = await this.askRegistries(async (endpoint) => ({
        value: await endpoint.getAdapter(adapterId),
        endpoint: endpoint.endpoint,
      }));
      return { value, source: "registry", endpoint, ageMs: 0, stale: false };
    } catch (error) {
      if (error instanceof RegistryError && error.kind === "not_found")
        throw new AdapterNotFoundError(adapterId);
      if (!(error instanceof RegistryUnavailableError)) throw error;
      for (const cached of this.cache.values()) {
        const entry = cached.value.entries.find((candidate) => candidate.adapterId === adapterId);
        if (entry) return this.fallback(entry, "cache", cached.fetchedAt, cached.value.endpoint);
      }
      const stored = this.options.lastKnown
        .entries()
        .find((entry) => entry.adapterId === adapterId);
      const syncedAt = this.options.lastKnown.syncedAt();
      if (stored && syncedAt !== null) return this.fallback(stored, "store", syncedAt);
      const fromFile = this.options.localFile?.entries.find(
        (entry) => entry.adapterId === adapterId,
      );
      if (fromFile && this.options.localFile)
        return this.fallback(fromFile, "file", this.options.localFile.modifiedAt);
      throw new RegistryUnavailableError(`GetAdapter ${adapterId}`, error.reasons);
    }
  }

  /**
   * The registry's view of one adapter's health; when no registry answers, the
   * daemon's own last verdict, marked stale.
   */
  async checkAdapterHealth(adapterId: string): Promise<Answer<RegistryHealth>> {
    try {
      const { value, endpoint } = await this.askRegistryHealth(adapterId);
      return { value, source: "registry", endpoint, ageMs: 0, stale: false };
    } catch (error) {
      if (error instanceof RegistryError && error.kind === "not_found")
        throw new AdapterNotFoundError(adapterId);
      if (!(error instanceof RegistryUnavailableError)) throw error;
      const verdict = this.options.lastKnown.verdict(adapterId);
      if (verdict && verdict.lastChecked !== null) {
        return this.fallback(
          {
            healthy: verdict.status === "healthy",
            status: verdict.status,
            message: "the daemon's last verdict; no registry answered",
          },
          "store",
          verdict.lastChecked,
        );
      }
      // Never checked by the daemon: the registry's own last word, from the stored catalog.
      const stored = this.options.lastKnown
        .entries()
        .find((entry) => entry.adapterId === adapterId);
      const syncedAt = this.options.lastKnown.syncedAt();
      if (stored && syncedAt !== null) {
        return this.fallback(
          {
            healthy: stored.registryStatus === "healthy",
            status: stored.registryStatus,
            message: "the registry's status at the last sync; no registry answered",
          },
          "store",
          syncedAt,
        );
      }
      throw new RegistryUnavailableError(`HealthCheck ${adapterId}`, error.reasons);
    }
  }

  /** Registries only (no fallback): what the health checker asks beside its own probes. */
  askRegistryHealth(adapterId: string): Promise<{ value: RegistryHealth; endpoint: string }> {
    return this.askRegistries(async (endpoint) => ({
      value: await endpoint.checkAdapterHealth(adapterId),
      endpoint: endpoint.endpoint,
    }));
  }

  /**
   * The best adapter for a domain/category/provider by the registry's view:
   * healthy before degraded before unknown; among equals the freshest heartbeat,
   * then the id. Null when none matches.
   */
  async resolveAdapter(
    domain: string,
    category: string,
    provider: string,
  ): Promise<Answer<AdapterEntry | null>> {
    const listed = await this.listAdapters({ domain, category });
    const candidates = listed.value
      .filter((entry) => entry.provider === provider && entry.registryStatus !== "unhealthy")
      .sort(
        (a, b) =>
          HEALTH_RANK[a.registryStatus] - HEALTH_RANK[b.registryStatus] ||
          b.lastHeartbeat - a.lastHeartbeat ||
          a.adapterId.localeCompare(b.adapterId),
      );
    return { ...listed, value: candidates[0] ?? null };
  }

  /** Reports an adapter alive to the first registry that answers. */
  sendHeartbeat(adapterId: string): Promise<{ registered: boolean; endpoint: string }> {
    return this.askRegistries(async (endpoint) => ({
      registered: await endpoint.sendHeartbeat(adapterId),
      endpoint: endpoint.endpoint,
    }));
  }

  invalidateCache(): void {
    this.cache.invalidate();
  }

  /** The state of the chain, for health endpoints and the MCP `health_check` tool. */
  healthCheck(): {
    status: "healthy" | "degraded" | "unhealthy";
    endpoints: {
      endpoint: string;
      role: string;
      breaker: BreakerState;
      reachable: boolean;
      last_error: string | null;
    }[];
    cached_lists: number;
    last_sync: string | null;
    local_file: boolean;
  } {
    const endpoints = this.options.endpoints.map((endpoint) => {
      const status = endpoint.status();
      return {
        endpoint: status.endpoint,
        role: status.role,
        breaker: status.breaker,
        reachable: status.reachable,
        last_error: status.lastError,
      };
    });
    const primaryUp = endpoints[0]?.reachable ?? false;
    const anyUp = endpoints.some((endpoint) => endpoint.reachable);
    const syncedAt = this.options.lastKnown.syncedAt();
    return {
      status: primaryUp ? "healthy" : anyUp ? "degraded" : "unhealthy",
      endpoints,
      cached_lists: this.cache.size,
      last_sync: syncedAt === null ? null : new Date(syncedAt).toISOString(),
      local_file: this.options.localFile !== undefined,
    };
  }

  private async listFrom(
    endpoint: RegistryEndpoint,
    filter: ListFilter,
  ): Promise<{ entries: AdapterEntry[]; endpoint: string }> {
    const raw = await endpoint.listAdapters(filter);
    const { entries, rejections } = screenEntries(raw);
    if (rejections.length > 0) this.options.onRejections?.(rejections, endpoint.endpoint);
    return { entries, endpoint: endpoint.endpoint };
  }

  /**
   * Asks each endpoint in order until one answers. A registry that answered
   * "not found" has answered: that ends the search.
   */
  private async askRegistries<T>(ask: (endpoint: RegistryEndpoint) => Promise<T>): Promise<T> {
    const reasons: string[] = [];
    const causes: unknown[] = [];
    for (const endpoint of this.options.endpoints) {
      try {
        return await ask(endpoint);
      } catch (error) {
        if (error instanceof RegistryError && error.kind === "not_found") throw error;
        reasons.push(error instanceof Error ? error.message : String(error));
        causes.push(error);
      }
    }
    throw new RegistryUnavailableError(
      "registry call",
      reasons.length > 0 ? reasons : ["no registry configured"],
      causes,
    );
  }

  private fallback<T>(
    value: T,
    source: AnswerSource,
    since: number,
    endpoint: string | null = null,
  ): Answer<T> {
    return { value, source, endpoint, ageMs: Math.max(0, this.options.now() - since), stale: true };
  }
}
