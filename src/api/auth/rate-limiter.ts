/**
 * A token bucket per client key (an IP address, or a principal's name once
 * authenticated): `burst` requests at once, refilled at `ratePerSec`.
 */

export interface RateLimiterOptions {
  ratePerSec: number;
  burst: number;
  /**
   * Most keys remembered; beyond that the least recently seen is forgotten (and
   * starts with a full bucket if it comes back). Bounds memory whatever number
   * of addresses a client cycles through.
   */
  maxKeys?: number;
  /**
   * Milliseconds from a monotonic clock, default performance.now: a rate is
   * about elapsed time, which wall-clock steps (NTP, a test's manual clock) must not bend.
   */
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_MAX_KEYS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    if (!(options.ratePerSec > 0) || !(options.burst >= 1)) {
      throw new RangeError("a rate limiter needs ratePerSec > 0 and burst >= 1");
    }
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = options.now ?? (() => performance.now());
  }

  /** Keys remembered now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one request's token from `key`'s bucket, or says how long until one is there. */
  take(key: string): RateDecision {
    const { ratePerSec, burst } = this.options;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-inserted below, so the Map's order is least recently seen first.
      this.buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSec);
      bucket.at = now;
    } else {
      bucket = { tokens: burst, at: now };
      while (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done) break;
        this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    // Whole seconds, as Retry-After carries them; at least 1, so a client never retries at once.
    return {
      allowed: false,
      retryAfterSec: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSec)),
    };
  }
}
