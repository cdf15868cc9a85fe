import type { HealthStatus } from "./adapter.js";
import { roundToMicroseconds } from "./round-to-microseconds.js";

/**
 * Health history: how long each adapter spent in each status, per time bucket.
 *
 * Time between two observations of an adapter (checks, maintenance declared or
 * lifted) is counted for the status the first one left, but only while that
 * verdict was fresh: past its stale limit the time is unknown. Maintenance time
 * is counted as maintenance whatever the status. Time the daemon did not see at
 * all (stopped, or before its first check of an adapter in this run) has no
 * bucket time; readers count it as unknown, neither up nor down.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The two bucket sizes kept: one minute, and one hour. */
export type Granularity = "minute" | "hour";
export const GRANULARITY_MS: Readonly<Record<Granularity, number>> = {
  minute: MINUTE_MS,
  hour: HOUR_MS,
};

/** What one stretch of time counts as. */
export type TimeKind = "healthy" | "degraded" | "unhealthy" | "unknown" | "maintenance";

/** Milliseconds counted per kind. */
export interface TimeTally {
  healthyMs: number;
  degradedMs: number;
  unhealthyMs: number;
  unknownMs: number;
  maintenanceMs: number;
}

export const EMPTY_TIME: Readonly<TimeTally> = Object.freeze({
  healthyMs: 0,
  degradedMs: 0,
  unhealthyMs: 0,
  unknownMs: 0,
  maintenanceMs: 0,
});

const TIME_FIELD: Readonly<Record<TimeKind, keyof TimeTally>> = {
  healthy: "healthyMs",
  degraded: "degradedMs",
  unhealthy: "unhealthyMs",
  unknown: "unknownMs",
  maintenance: "maintenanceMs",
};

/**
 * Latencies as counts per logarithmic bin, eight bins an octave (each about 9 %
 * wide) from 1 µs: small enough to keep per bucket, and two of them add up, so
 * a coarser bucket's percentiles come from its finer buckets exactly as binned.
 */
export type LatencyBins = ReadonlyMap<number, number>;

const BINS_PER_OCTAVE = 8;
const SMALLEST_MS = 0.001;
/** 240 bins cover 1 µs to about 1,000 s; slower is counted in the last. */
const LAST_BIN = 239;

export function latencyBin(latencyMs: number): number {
  if (!(latencyMs > SMALLEST_MS)) return 0;
  const bin = Math.floor(Math.log2(latencyMs / SMALLEST_MS) * BINS_PER_OCTAVE);
  return Math.min(LAST_BIN, bin);
}

/** A bin's representative latency: the geometric middle of its bounds. */
export function binLatencyMs(bin: number): number {
  return SMALLEST_MS * 2 ** ((bin + 0.5) / BINS_PER_OCTAVE);
}

/** The latency at quantile `q` (nearest rank), or null without any. */
export function latencyQuantile(bins: LatencyBins, q: number): number | null {
  let total = 0;
  for (const count of bins.values()) total += count;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bin of [...bins.keys()].sort((a, b) => a - b)) {
    seen += bins.get(bin) ?? 0;
    if (seen >= rank) return roundToMicroseconds(binLatencyMs(bin));
  }
  return null;
}

export function addBins(a: LatencyBins, b: LatencyBins): Map<number, number> {
  const sum = new Map(a);
  for (const [bin, count] of b) sum.set(bin, (sum.get(bin) ?? 0) + count);
  return sum;
}

/** Bins as bytes: each bin's index, then its count as a LEB128 varint. */
export function encodeBins(bins: LatencyBins): Uint8Array {
  const bytes: number[] = [];
  for (const bin of [...bins.keys()].sort((a, b) => a - b)) {
    let count = bins.get(bin) ?? 0;
    if (count <= 0) continue;
    bytes.push(bin);
    while (count >= 0x80) {
      bytes.push((count & 0x7f) | 0x80);
      count = Math.floor(count / 0x80);
    }
    bytes.push(count);
  }
  return Uint8Array.from(bytes);
}

export function decodeBins(bytes: Uint8Array): Map<number, number> {
  const bins = new Map<number, number>();
  let offset = 0;
  while (offset < bytes.length) {
    const bin = bytes[offset++] ?? 0;
    let count = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[offset++];
      if (byte === undefined) return bins;
      count += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
    }
    bins.set(bin, (bins.get(bin) ?? 0) + count);
  }
  return bins;
}

/** What one bucket holds for one adapter. */
export interface BucketTally extends TimeTally {
  checks: number;
  failures: number;
  /** Latencies of the successful measured checks (a pushed status carries none). */
  latency: LatencyBins;
}

export const EMPTY_BUCKET: Readonly<BucketTally> = Object.freeze({
  ...EMPTY_TIME,
  checks: 0,
  failures: 0,
  latency: new Map<number, number>(),
});

/** One bucket as stored. Hour buckets carry running totals too (`through`). */
export interface BucketRow {
  adapterId: string;
  granularity: Granularity;
  /** The bucket's start, ms since the epoch, a multiple of its size. */
  start: number;
  tally: BucketTally;
  /**
   * Hour buckets: the adapter's time per kind summed over every hour bucket up
   * to and including this one, so any window's totals are two lookups.
   */
  through?: TimeTally;
}

export function addTime(a: TimeTally, b: TimeTally): TimeTally {
  return {
    healthyMs: a.healthyMs + b.healthyMs,
    degradedMs: a.degradedMs + b.degradedMs,
    unhealthyMs: a.unhealthyMs + b.unhealthyMs,
    unknownMs: a.unknownMs + b.unknownMs,
    maintenanceMs: a.maintenanceMs + b.maintenanceMs,
  };
}

export function subtractTime(a: TimeTally, b: TimeTally): TimeTally {
  return {
    healthyMs: a.healthyMs - b.healthyMs,
    degradedMs: a.degradedMs - b.degradedMs,
    unhealthyMs: a.unhealthyMs - b.unhealthyMs,
    unknownMs: a.unknownMs - b.unknownMs,
    maintenanceMs: a.maintenanceMs - b.maintenanceMs,
  };
}

export function timeOf(tally: TimeTally): TimeTally {
  return {
    healthyMs: tally.healthyMs,
    degradedMs: tally.degradedMs,
    unhealthyMs: tally.unhealthyMs,
    unknownMs: tally.unknownMs,
    maintenanceMs: tally.maintenanceMs,
  };
}

export function addBuckets(a: BucketTally, b: BucketTally): BucketTally {
  return {
    ...addTime(a, b),
    checks: a.checks + b.checks,
    failures: a.failures + b.failures,
    latency: addBins(a.latency, b.latency),
  };
}

/** The adapter as last observed: what the time from `at` on counts as. */
export interface Observation {
  at: number;
  status: HealthStatus;
  maintenance: boolean;
  /** Past this time (ms) the verdict is stale: the time after counts as unknown. */
  freshUntil: number;
}

/** A check that finished at the observation's time. */
export interface CountedCheck {
  ok: boolean;
  /** Measured latency, or null for a pushed status. */
  latencyMs: number | null;
}

/** The bucket the newest time went into, kept open to add to. */
export interface OpenBucket {
  start: number;
  tally: BucketTally;
}

/** One adapter's history as the recorder carries it between observations. */
export interface AdapterHistory {
  /** Undefined until the adapter is first observed in this run. */
  last: Observation | undefined;
  minute: OpenBucket | undefined;
  hour: OpenBucket | undefined;
  /** Running totals through the hour before `hour` (see BucketRow.through). */
  throughBefore: TimeTally;
}

/** A fresh adapter's history, or one resumed from its newest stored buckets (after a restart). */
export function resumeHistory(
  newestMinute: BucketRow | undefined,
  newestHour: BucketRow | undefined,
): AdapterHistory {
  const throughHour = newestHour?.through ?? EMPTY_TIME;
  return {
    last: undefined,
    minute: newestMinute ? { start: newestMinute.start, tally: newestMinute.tally } : undefined,
    hour: newestHour ? { start: newestHour.start, tally: newestHour.tally } : undefined,
    throughBefore: newestHour ? subtractTime(throughHour, newestHour.tally) : EMPTY_TIME,
  };
}

function kindOf(observation: Observation): TimeKind {
  if (observation.maintenance) return "maintenance";
  return observation.status;
}

/** Adds `ms` of `kind` to a tally. */
function withTime(tally: BucketTally, kind: TimeKind, ms: number): BucketTally {
  const field = TIME_FIELD[kind];
  return { ...tally, [field]: tally[field] + ms };
}

function withCheck(tally: BucketTally, check: CountedCheck): BucketTally {
  let latency = tally.latency;
  if (check.ok && check.latencyMs !== null) {
    const bin = latencyBin(check.latencyMs);
    const next = new Map(latency);
    next.set(bin, (next.get(bin) ?? 0) + 1);
    latency = next;
  }
  return {
    ...tally,
    checks: tally.checks + 1,
    failures: tally.failures + (check.ok ? 0 : 1),
    latency,
  };
}

/** The stretches from the last observation to `to`: fresh time as its kind, then unknown. */
function stretches(last: Observation, to: number): { from: number; to: number; kind: TimeKind }[] {
  if (to <= last.at) return [];
  const kind = kindOf(last);
  // Maintenance is maintenance whether or not the verdict is fresh.
  const freshEnd = kind === "maintenance" ? to : Math.min(to, Math.max(last.at, last.freshUntil));
  const parts: { from: number; to: number; kind: TimeKind }[] = [];
  if (freshEnd > last.at) parts.push({ from: last.at, to: freshEnd, kind });
  if (to > freshEnd) parts.push({ from: freshEnd, to, kind: "unknown" });
  return parts;
}

/**
 * Carries one granularity's open bucket across the time [from, to) of `kind`,
 * writing a row for each bucket the time touched.
 */
function spread(
  open: OpenBucket | undefined,
  size: number,
  from: number,
  to: number,
  kind: TimeKind,
  touched: (bucket: OpenBucket, closing: boolean) => void,
): OpenBucket | undefined {
  let current = open;
  let at = from;
  while (at < to) {
    const start = Math.floor(at / size) * size;
    const end = Math.min(to, start + size);
    if (!current || current.start !== start) {
      if (current) touched(current, true);
      current = { start, tally: EMPTY_BUCKET };
    }
    current = { start, tally: withTime(current.tally, kind, end - at) };
    at = end;
  }
  return current;
}

/**
 * The next history after observing the adapter at `observation.at` (with the
 * check that finished then, if any), and the bucket rows to write for it.
 */
export function observe(
  history: AdapterHistory,
  adapterId: string,
  observation: Observation,
  check?: CountedCheck,
): { history: AdapterHistory; rows: BucketRow[] } {
  const at = observation.at;
  const touchedMinutes = new Map<number, OpenBucket>();
  const touchedHours = new Map<number, OpenBucket>();
  let minute = history.minute;
  let hour = history.hour;
  let throughBefore = history.throughBefore;
  const closeHour = (bucket: OpenBucket, closing: boolean) => {
    touchedHours.set(bucket.start, bucket);
    if (closing) throughBefore = addTime(throughBefore, bucket.tally);
  };
  if (history.last) {
    for (const part of stretches(history.last, at)) {
      minute = spread(minute, MINUTE_MS, part.from, part.to, part.kind, (bucket) =>
        touchedMinutes.set(bucket.start, bucket),
      );
      hour = spread(hour, HOUR_MS, part.from, part.to, part.kind, closeHour);
    }
  }
  // The check (and, after a gap, the new run) lands in the buckets holding `at`.
  const minuteStart = Math.floor(at / MINUTE_MS) * MINUTE_MS;
  const hourStart = Math.floor(at / HOUR_MS) * HOUR_MS;
  if (!minute || minute.start < minuteStart) {
    if (minute) touchedMinutes.set(minute.start, minute);
    minute = { start: minuteStart, tally: EMPTY_BUCKET };
  }
  if (!hour || hour.start < hourStart) {
    if (hour) closeHour(hour, true);
    hour = { start: hourStart, tally: EMPTY_BUCKET };
  }
  if (check) {
    minute = { start: minute.start, tally: withCheck(minute.tally, check) };
    hour = { start: hour.start, tally: withCheck(hour.tally, check) };
  }
  const changed = history.last !== undefined || check !== undefined;
  if (changed) {
    touchedMinutes.set(minute.start, minute);
    touchedHours.set(hour.start, hour);
  }
  const rows: BucketRow[] = [];
  for (const bucket of touchedMinutes.values()) {
    rows.push({ adapterId, granularity: "minute", start: bucket.start, tally: bucket.tally });
  }
  // Running totals: each touched hour adds to those before it, in order.
  let through = history.throughBefore;
  for (const bucket of [...touchedHours.values()].sort((a, b) => a.start - b.start)) {
    through = addTime(through, bucket.tally);
    rows.push({
      adapterId,
      granularity: "hour",
      start: bucket.start,
      tally: bucket.tally,
      through,
    });
  }
  return { history: { last: observation, minute, hour, throughBefore }, rows };
}

/**
 * The time from the last observation up to `to` that no bucket holds yet, per
 * bucket of `sizeMs` (by start), from `from` on: what a reader adds to the
 * stored buckets to see them as they stand now.
 */
export function unrecordedTime(
  last: Observation,
  from: number,
  to: number,
  sizeMs: number,
): Map<number, TimeTally> {
  const byBucket = new Map<number, TimeTally>();
  for (const part of stretches(last, to)) {
    let at = Math.max(part.from, from);
    while (at < part.to) {
      const start = Math.floor(at / sizeMs) * sizeMs;
      const end = Math.min(part.to, start + sizeMs);
      const field = TIME_FIELD[part.kind];
      const time = { ...(byBucket.get(start) ?? EMPTY_TIME) };
      time[field] += end - at;
      byBucket.set(start, time);
      at = end;
    }
  }
  return byBucket;
}

/** A bucket's one-word summary: the worst seen, maintenance over healthy, unknown if nothing. */
export type BucketStatus = "healthy" | "degraded" | "unhealthy" | "maintenance" | "unknown";

export function bucketStatus(tally: TimeTally): BucketStatus {
  if (tally.unhealthyMs > 0) return "unhealthy";
  if (tally.degradedMs > 0) return "degraded";
  if (tally.maintenanceMs > 0) return "maintenance";
  if (tally.healthyMs > 0) return "healthy";
  return "unknown";
}

/** A bucket status as one letter, for compact bars. */
export const STATUS_LETTER: Readonly<Record<BucketStatus, string>> = {
  healthy: "h",
  degraded: "d",
  unhealthy: "u",
  maintenance: "m",
  unknown: "?",
};

/** Uptime over a span, as every surface reports it. */
export interface UptimeFigures {
  /** 100 × up / (up + down); null when nothing was up or down. */
  uptime_percent: number | null;
  /** Healthy and degraded time. */
  up_s: number;
  /** Unhealthy time. */
  down_s: number;
  maintenance_s: number;
  /** Everything else in the span: unknown verdicts, stale ones, and time the daemon did not see. */
  unknown_s: number;
  /** 100 × (up + down) / (span − maintenance); null when the span was all maintenance. */
  coverage_percent: number | null;
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function percent(part: number, whole: number): number | null {
  if (whole <= 0) return null;
  return Math.round((part / whole) * 100 * 1000) / 1000;
}

/**
 * Uptime over a span of `spanMs`: maintenance is left out of the denominator,
 * and so is unknown time (said as coverage): time nobody saw is neither up nor
 * down. The tally may not exceed the span; what it does not cover is unknown.
 */
export function uptimeFigures(tally: TimeTally, spanMs: number): UptimeFigures {
  const upMs = tally.healthyMs + tally.degradedMs;
  const downMs = tally.unhealthyMs;
  const seenMs = upMs + downMs + tally.maintenanceMs;
  const unknownMs = Math.max(0, spanMs - seenMs);
  return {
    uptime_percent: percent(upMs, upMs + downMs),
    up_s: seconds(upMs),
    down_s: seconds(downMs),
    maintenance_s: seconds(tally.maintenanceMs),
    unknown_s: seconds(unknownMs),
    coverage_percent: percent(upMs + downMs, Math.max(spanMs, seenMs) - tally.maintenanceMs),
  };
}
