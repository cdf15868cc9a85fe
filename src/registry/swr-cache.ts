export interface CachedValue<V> {
  value: V;
  /** When the value was loaded (ms since the epoch). */
  fetchedAt: number;
}

export interface SwrCacheOptions {
  /** How long a value is served as fresh; 0 disables caching (loads are still single-flight). */
  ttlMs: number;
  /** From this fraction of the TTL on, a hit also starts a background refresh. */
  refreshAhead: number;
  /** Most keys kept; the least recently used goes first. */
  maxEntries: number;
  now: () => number;
  onHit?: () => void;
  onMiss?: () => void;
  /** A background refresh failed; the old value stays until it expires. */
  onRefreshError?: (key: string, error: unknown) => void;
}

/**
 * A TTL cache with stale-while-revalidate and single flight: N concurrent gets
 * of one missing key cause one load; a value past `refreshAhead` of its life is
 * still served while one background load replaces it; an expired value is no
 * longer served by `get` but stays available to `peek` as a last resort.
 */
export class SwrCache<V> {
  private readonly entries = new Map<string, CachedValue<V>>();
  private readonly loading = new Map<string, Promise<CachedValue<V>>>();
  /** Bumped by invalidate(), so loads started before it do not repopulate the cache. */
  private generation = 0;

  constructor(private readonly options: SwrCacheOptions) {}

  /** The value for `key`, from the cache when fresh, else from one shared `load`. */
  async get(key: string, load: () => Promise<V>): Promise<CachedValue<V> & { hit: boolean }> {
    const cached = this.entries.get(key);
    const now = this.options.now();
    if (cached && now - cached.fetchedAt < this.options.ttlMs) {
      this.options.onHit?.();
      // Touch for LRU order.
      this.entries.delete(key);
      this.entries.set(key, cached);
      if (now - cached.fetchedAt >= this.options.ttlMs * this.options.refreshAhead) {
        this.refreshInBackground(key, load);
      }
      return { ...cached, hit: true };
    }
    this.options.onMiss?.();
    return { ...(await this.load(key, load)), hit: false };
  }

  /** The last value for `key`, however old, without loading. */
  peek(key: string): CachedValue<V> | undefined {
    return this.entries.get(key);
  }

  /** Every cached value, however old. */
  values(): CachedValue<V>[] {
    return [...this.entries.values()];
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private refreshInBackground(key: string, load: () => Promise<V>): void {
    if (this.loading.has(key)) return;
    this.load(key, load).catch((error: unknown) => this.options.onRefreshError?.(key, error));
  }

  private load(key: string, load: () => Promise<V>): Promise<CachedValue<V>> {
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const promise = load()
      .then((value) => {
        const loaded = { value, fetchedAt: this.options.now() };
        if (generation === this.generation && this.options.ttlMs > 0) this.store(key, loaded);
        return loaded;
      })
      .finally(() => {
        this.loading.delete(key);
      });
    this.loading.set(key, promise);
    return promise;
  }

  private store(key: string, value: CachedValue<V>): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
