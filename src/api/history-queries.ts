import { z } from "zod";
import {
  addBuckets,
  addTime,
  type BucketStatus,
  type BucketTally,
  bucketStatus,
  DAY_MS,
  EMPTY_BUCKET,
  EMPTY_TIME,
  type Granularity,
  HOUR_MS,
  latencyQuantile,
  MINUTE_MS,
  type Observation,
  STATUS_LETTER,
  subtractTime,
  type TimeTally,
  type UptimeFigures,
  unrecordedTime,
  uptimeFigures,
} from "../domain/history.js";
import type { AdapterStatusView } from "../domain/status-view.js";
import type { HistoryStore } from "../storage/store.js";
import { ApiError } from "./api-error.js";

/** Uptime windows, by name. */
export const UPTIME_WINDOWS = {
  "1h": HOUR_MS,
  "24h": DAY_MS,
  "7d": 7 * DAY_MS,
  "30d": 30 * DAY_MS,
  "90d": 90 * DAY_MS,
} as const;
export type UptimeWindow = keyof typeof UPTIME_WINDOWS;
export const UPTIME_WINDOW_NAMES = Object.keys(UPTIME_WINDOWS) as [UptimeWindow, ...UptimeWindow[]];

/** History windows, by name. */
export const HISTORY_WINDOWS = {
  "1h": HOUR_MS,
  "6h": 6 * HOUR_MS,
  "24h": DAY_MS,
  "48h": 2 * DAY_MS,
  "7d": 7 * DAY_MS,
  "30d": 30 * DAY_MS,
  "90d": 90 * DAY_MS,
} as const;
export type HistoryWindow = keyof typeof HISTORY_WINDOWS;
const HISTORY_WINDOW_NAMES = Object.keys(HISTORY_WINDOWS) as [HistoryWindow, ...HistoryWindow[]];

/** Bucket sizes an answer may be given in, by name. */
export const BUCKET_SIZES = {
  "1m": MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "1h": HOUR_MS,
  "6h": 6 * HOUR_MS,
  "1d": DAY_MS,
} as const;
export type BucketSize = keyof typeof BUCKET_SIZES;
const BUCKET_SIZE_NAMES = Object.keys(BUCKET_SIZES) as [BucketSize, ...BucketSize[]];

/** The bucket size a history window is given in when the question does not say. */
const DEFAULT_BUCKET: Readonly<Record<HistoryWindow, BucketSize>> = {
  "1h": "1m",
  "6h": "5m",
  "24h": "15m",
  "48h": "1h",
  "7d": "6h",
  "30d": "1d",
  "90d": "1d",
};

/** Most buckets in one answer. */
export const MAX_BUCKETS = 1_440;
/** The board's bars: this many buckets at most, of one of these sizes. */
export const BOARD_BUCKETS = 90;
const BOARD_SIZES = ["1m", "1h", "1d"] as const;
/** The board's latency sparkline: the p50 of this many one-minute buckets. */
export const SPARKLINE_MINUTES = 30;
/** Most adapters in one board page. */
export const MAX_BOARD_PAGE = 1_000;

export const historySchema = z.strictObject({
  window: z.enum(HISTORY_WINDOW_NAMES).default("24h"),
  bucket: z.enum(BUCKET_SIZE_NAMES).optional(),
});

export const uptimeWindowSchema = z.strictObject({
  window: z.enum(UPTIME_WINDOW_NAMES).default("24h"),
});

export const boardSchema = z.strictObject({
  bucket: z.enum(BOARD_SIZES).default("1h"),
  buckets: z.coerce.number().int().min(1).max(BOARD_BUCKETS).default(BOARD_BUCKETS),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_BOARD_PAGE).default(MAX_BOARD_PAGE),
});

/** One bucket as the API answers it. */
export interface HistoryBucket {
  start: string;
  status: BucketStatus;
  healthy_s: number;
  degraded_s: number;
  unhealthy_s: number;
  maintenance_s: number;
  /** The bucket's time not otherwise counted: unknown verdicts, stale ones, and time not seen. */
  unknown_s: number;
  checks: number;
  failures: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  uptime_percent: number | null;
}

export interface AdapterHistoryAnswer {
  adapter_id: string;
  window: HistoryWindow;
  bucket: BucketSize;
  from: string;
  until: string;
  buckets: HistoryBucket[];
  uptime: UptimeFigures;
}

export interface UptimeEntry extends UptimeFigures {
  adapter_id: string;
  domain: string;
  category: string;
  provider: string;
}

export interface UptimeAnswer {
  window: UptimeWindow;
  from: string;
  until: string;
  adapters: UptimeEntry[];
}

export interface BoardEntry {
  adapter_id: string;
  /** One letter per bucket, oldest first: h, d, u, m (maintenance) or ? (unknown). */
  status_bar: string;
  uptime_percent: number | null;
  /** p50 latency of each of the last SPARKLINE_MINUTES one-minute buckets, oldest first. */
  latency_ms: (number | null)[];
}

export interface BoardAnswer {
  bucket: (typeof BOARD_SIZES)[number];
  buckets: number;
  from: string;
  until: string;
  /** Adapters matching the filter, of which this page lists `adapters`. */
  total: number;
  offset: number;
  adapters: BoardEntry[];
}

export interface HistoryQueryParts {
  store: HistoryStore;
  now: () => number;
  /** How long one-minute buckets are kept: a finer question reaching further back is refused. */
  minuteBucketsKeptMs: () => number;
  /**
   * An adapter's last committed observation in this run: the time since it is in
   * no bucket yet (no check has come since), and answers add it as it counts.
   * Absent where nothing runs (a database file read without the daemon).
   */
  lastObservation?: ((adapterId: string) => Observation | undefined) | undefined;
}

/** A slot size that puts every bucket since the epoch into one slot: a plain sum. */
const ONE_SLOT = Number.MAX_SAFE_INTEGER;

const floorTo = (time: number, size: number) => Math.floor(time / size) * size;
const iso = (time: number) => new Date(time).toISOString();
const seconds = (ms: number) => Math.round(ms) / 1000;

/** The stored bucket size a requested size is made of. */
function sourceOf(sizeMs: number): Granularity {
  return sizeMs < HOUR_MS ? "minute" : "hour";
}

function answerBucket(start: number, spanMs: number, tally: BucketTally): HistoryBucket {
  const figures = uptimeFigures(tally, spanMs);
  return {
    start: iso(start),
    status: bucketStatus(tally),
    healthy_s: seconds(tally.healthyMs),
    degraded_s: seconds(tally.degradedMs),
    unhealthy_s: seconds(tally.unhealthyMs),
    maintenance_s: seconds(tally.maintenanceMs),
    unknown_s: figures.unknown_s,
    checks: tally.checks,
    failures: tally.failures,
    latency_p50_ms: latencyQuantile(tally.latency, 0.5),
    latency_p95_ms: latencyQuantile(tally.latency, 0.95),
    uptime_percent: figures.uptime_percent,
  };
}

/**
 * History and uptime answers, read from the store's buckets (committed data
 * only). A window ends now and starts at a bucket boundary: an uptime window
 * of a day or more at the hour before `now − window`, an hour's at the minute.
 */
export class HistoryQueries {
  constructor(private readonly parts: HistoryQueryParts) {}

  /** `GET /v1/adapters/{id}/history`: the adapter's buckets over a window. */
  adapterHistory(
    adapterId: string,
    { window, bucket: asked }: z.output<typeof historySchema>,
  ): AdapterHistoryAnswer {
    const bucket = asked ?? DEFAULT_BUCKET[window];
    const sizeMs = BUCKET_SIZES[bucket];
    const windowMs = HISTORY_WINDOWS[window];
    if (windowMs / sizeMs > MAX_BUCKETS) {
      throw new ApiError(
        "INVALID_PARAMETER",
        `bucket ${bucket} over window ${window} makes ${windowMs / sizeMs} buckets; at most ${MAX_BUCKETS}: give a larger bucket`,
        { parameter: "bucket" },
      );
    }
    const now = this.parts.now();
    const from = floorTo(now - windowMs, sizeMs);
    this.checkMinuteReach(sizeMs, now - from);
    const rows = this.parts.store.readBuckets(adapterId, sourceOf(sizeMs), from, now + 1);
    const merged = new Map<number, BucketTally>();
    for (const row of rows) {
      const start = floorTo(row.start, sizeMs);
      merged.set(start, addBuckets(merged.get(start) ?? EMPTY_BUCKET, row.tally));
    }
    for (const [start, time] of this.tail(adapterId, from, now, sizeMs)) {
      const tally = merged.get(start) ?? EMPTY_BUCKET;
      merged.set(start, { ...tally, ...addTime(tally, time) });
    }
    const buckets: HistoryBucket[] = [];
    let total: BucketTally = EMPTY_BUCKET;
    for (let start = from; start <= now; start += sizeMs) {
      const tally = merged.get(start) ?? EMPTY_BUCKET;
      total = addBuckets(total, tally);
      buckets.push(answerBucket(start, Math.min(sizeMs, now - start), tally));
    }
    return {
      adapter_id: adapterId,
      window,
      bucket,
      from: iso(from),
      until: iso(now),
      buckets,
      uptime: uptimeFigures(total, now - from),
    };
  }

  /** `GET /v1/uptime`: each adapter's uptime over a window. */
  uptime(adapters: readonly AdapterStatusView[], window: UptimeWindow): UptimeAnswer {
    const now = this.parts.now();
    const { from, totals } = this.windowTotals(
      adapters.map((adapter) => adapter.adapter_id),
      UPTIME_WINDOWS[window],
      now,
    );
    return {
      window,
      from: iso(from),
      until: iso(now),
      adapters: adapters.map((adapter) => ({
        adapter_id: adapter.adapter_id,
        domain: adapter.domain,
        category: adapter.category,
        provider: adapter.provider,
        ...uptimeFigures(totals.get(adapter.adapter_id) ?? EMPTY_TIME, now - from),
      })),
    };
  }

  /**
   * Up (healthy + degraded) and down (unhealthy) seconds over a window ending
   * now, summed over `adapterIds`: what an uptime badge shows (UptimeLookup).
   */
  upAndDown(adapterIds: readonly string[], window: UptimeWindow): { up_s: number; down_s: number } {
    const { totals } = this.windowTotals(adapterIds, UPTIME_WINDOWS[window], this.parts.now());
    let upMs = 0;
    let downMs = 0;
    for (const time of totals.values()) {
      upMs += time.healthyMs + time.degradedMs;
      downMs += time.unhealthyMs;
    }
    return { up_s: seconds(upMs), down_s: seconds(downMs) };
  }

  /** `GET /v1/history`: the board's bars and sparklines, a page of adapters at a time. */
  board(adapters: readonly AdapterStatusView[], query: z.output<typeof boardSchema>): BoardAnswer {
    const now = this.parts.now();
    const sizeMs = BUCKET_SIZES[query.bucket];
    const from = floorTo(now, sizeMs) - (query.buckets - 1) * sizeMs;
    this.checkMinuteReach(sizeMs, now - from);
    const page = adapters.slice(query.offset, query.offset + query.limit);
    const sparkFrom = floorTo(now, MINUTE_MS) - (SPARKLINE_MINUTES - 1) * MINUTE_MS;
    const source = sourceOf(sizeMs);
    const entries = page.map((adapter): BoardEntry => {
      const id = adapter.adapter_id;
      // Time only, summed by SQLite per bar bucket, then the time since the last observation.
      const time = new Map<number, TimeTally>();
      for (const slot of this.parts.store.sumTime(id, source, from, now + 1, sizeMs)) {
        time.set(slot.start, slot.time);
      }
      for (const [start, extra] of this.tail(id, from, now, sizeMs)) {
        time.set(start, addTime(time.get(start) ?? EMPTY_TIME, extra));
      }
      let bar = "";
      let total: TimeTally = EMPTY_TIME;
      for (let start = from; start <= now; start += sizeMs) {
        const bucket = time.get(start) ?? EMPTY_TIME;
        total = addTime(total, bucket);
        bar += STATUS_LETTER[bucketStatus(bucket)];
      }
      const minutes = new Map(
        this.parts.store
          .readBuckets(id, "minute", sparkFrom, now + 1)
          .map((row) => [row.start, latencyQuantile(row.tally.latency, 0.5)]),
      );
      const latency: (number | null)[] = [];
      for (let start = sparkFrom; start <= now; start += MINUTE_MS) {
        latency.push(minutes.get(start) ?? null);
      }
      return {
        adapter_id: id,
        status_bar: bar,
        uptime_percent: uptimeFigures(total, now - from).uptime_percent,
        latency_ms: latency,
      };
    });
    return {
      bucket: query.bucket,
      buckets: query.buckets,
      from: iso(from),
      until: iso(now),
      total: adapters.length,
      offset: query.offset,
      adapters: entries,
    };
  }

  /**
   * Each adapter's time over the window ending now: an hour from minute buckets,
   * longer windows from the hour buckets' running totals (two lookups each).
   */
  private windowTotals(
    adapterIds: readonly string[],
    windowMs: number,
    now: number,
  ): { from: number; totals: Map<string, TimeTally> } {
    const store = this.parts.store;
    const totals = new Map<string, TimeTally>();
    const from = floorTo(now - windowMs, windowMs <= HOUR_MS ? MINUTE_MS : HOUR_MS);
    if (windowMs <= HOUR_MS) {
      for (const id of adapterIds) {
        const [sum] = store.sumTime(id, "minute", from, now + 1, ONE_SLOT);
        totals.set(id, sum?.time ?? EMPTY_TIME);
      }
    } else {
      const through = store.readThrough(adapterIds, Number.MAX_SAFE_INTEGER);
      const before = store.readThrough(adapterIds, from);
      for (const [id, upToNow] of through) {
        totals.set(id, subtractTime(upToNow, before.get(id) ?? EMPTY_TIME));
      }
    }
    for (const id of adapterIds) {
      for (const extra of this.tail(id, from, now, ONE_SLOT).values()) {
        totals.set(id, addTime(totals.get(id) ?? EMPTY_TIME, extra));
      }
    }
    return { from, totals };
  }

  /** The adapter's time since its last committed observation, from `from` to now, per bucket of `sizeMs`. */
  private tail(
    adapterId: string,
    from: number,
    now: number,
    sizeMs: number,
  ): Map<number, TimeTally> {
    const last = this.parts.lastObservation?.(adapterId);
    if (!last) return new Map();
    return unrecordedTime(last, from, now, sizeMs);
  }

  private checkMinuteReach(sizeMs: number, reachMs: number): void {
    const keptMs = this.parts.minuteBucketsKeptMs();
    if (sizeMs >= HOUR_MS || reachMs <= keptMs + MINUTE_MS) return;
    const keptHours = Math.round(keptMs / HOUR_MS);
    throw new ApiError(
      "INVALID_PARAMETER",
      `buckets under 1h reach back ${keptHours} h at most (history.minute_buckets_kept_hours); give bucket 1h or larger, or a shorter window`,
      { parameter: "bucket" },
    );
  }
}
