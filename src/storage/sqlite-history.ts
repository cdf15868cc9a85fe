import type { Database, Statement } from "better-sqlite3";
import {
  type BucketRow,
  type BucketTally,
  decodeBins,
  encodeBins,
  type Granularity,
  subtractTime,
  type TimeTally,
} from "../domain/history.js";
import type { HistoryPrunePage } from "./store.js";

const TABLE: Readonly<Record<Granularity, string>> = {
  minute: "history_minute",
  hour: "history_hour",
};

const TALLY_COLUMNS =
  "healthy_ms, degraded_ms, unhealthy_ms, unknown_ms, maintenance_ms, checks, failures, latency_bins";
const THROUGH_COLUMNS =
  "through_healthy_ms, through_degraded_ms, through_unhealthy_ms, through_unknown_ms, through_maintenance_ms";

interface TallyRow {
  bucket: number;
  healthy_ms: number;
  degraded_ms: number;
  unhealthy_ms: number;
  unknown_ms: number;
  maintenance_ms: number;
  checks: number;
  failures: number;
  latency_bins: Buffer;
}

interface HourRow extends TallyRow {
  through_healthy_ms: number;
  through_degraded_ms: number;
  through_unhealthy_ms: number;
  through_unknown_ms: number;
  through_maintenance_ms: number;
}

interface ThroughRow {
  through_healthy_ms: number;
  through_degraded_ms: number;
  through_unhealthy_ms: number;
  through_unknown_ms: number;
  through_maintenance_ms: number;
}

function tallyOf(row: TallyRow): BucketTally {
  return {
    healthyMs: row.healthy_ms,
    degradedMs: row.degraded_ms,
    unhealthyMs: row.unhealthy_ms,
    unknownMs: row.unknown_ms,
    maintenanceMs: row.maintenance_ms,
    checks: row.checks,
    failures: row.failures,
    latency: decodeBins(row.latency_bins),
  };
}

function throughOf(row: ThroughRow): TimeTally {
  return {
    healthyMs: row.through_healthy_ms,
    degradedMs: row.through_degraded_ms,
    unhealthyMs: row.through_unhealthy_ms,
    unknownMs: row.through_unknown_ms,
    maintenanceMs: row.through_maintenance_ms,
  };
}

function rowOf(adapterId: string, granularity: Granularity, row: TallyRow | HourRow): BucketRow {
  return {
    adapterId,
    granularity,
    start: row.bucket,
    tally: tallyOf(row),
    ...(granularity === "hour" ? { through: throughOf(row as HourRow) } : {}),
  };
}

/**
 * The history tables (migrations/0006_history.sql) for SqliteStore. Bucket rows
 * name their adapter by a small key; a key made in a transaction that rolls
 * back is not remembered.
 */
export class SqliteHistory {
  private readonly keys = new Map<string, number>();
  private readonly findKey: Statement;
  private readonly makeKey: Statement | undefined;
  private readonly writes: Record<Granularity, Statement> | undefined;
  private readonly newest: Record<Granularity, Statement>;
  private readonly range: Record<Granularity, Statement>;
  private readonly throughBefore: Statement;
  private readonly slots: Record<Granularity, Statement>;
  private readonly oldestFrom: Statement;

  constructor(
    private readonly db: Database,
    writable: boolean,
  ) {
    this.findKey = db
      .prepare("SELECT adapter_key FROM history_adapters WHERE adapter_id = ?")
      .pluck(true);
    this.makeKey = writable
      ? db.prepare("INSERT INTO history_adapters (adapter_id) VALUES (?)")
      : undefined;
    const upsert = (granularity: Granularity) => {
      const hour = granularity === "hour";
      const columns = hour ? `${TALLY_COLUMNS}, ${THROUGH_COLUMNS}` : TALLY_COLUMNS;
      const names = columns.split(", ");
      return db.prepare(
        `INSERT INTO ${TABLE[granularity]} (adapter_key, bucket, ${columns})
         VALUES (?, ?, ${names.map(() => "?").join(", ")})
         ON CONFLICT (adapter_key, bucket) DO UPDATE SET
         ${names.map((name) => `${name} = excluded.${name}`).join(", ")}`,
      );
    };
    this.writes = writable ? { minute: upsert("minute"), hour: upsert("hour") } : undefined;
    const selectColumns = (granularity: Granularity) =>
      granularity === "hour"
        ? `bucket, ${TALLY_COLUMNS}, ${THROUGH_COLUMNS}`
        : `bucket, ${TALLY_COLUMNS}`;
    const newest = (granularity: Granularity) =>
      db.prepare(
        `SELECT ${selectColumns(granularity)} FROM ${TABLE[granularity]}
         WHERE adapter_key = ? ORDER BY bucket DESC LIMIT 1`,
      );
    this.newest = { minute: newest("minute"), hour: newest("hour") };
    const range = (granularity: Granularity) =>
      db.prepare(
        `SELECT ${selectColumns(granularity)} FROM ${TABLE[granularity]}
         WHERE adapter_key = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
      );
    this.range = { minute: range("minute"), hour: range("hour") };
    // Summed in SQLite: no row, tally or bins built in JavaScript for a sum of time.
    const slots = (granularity: Granularity) =>
      db.prepare(
        `SELECT bucket - (bucket % @slot) AS start, SUM(healthy_ms) AS healthy_ms,
           SUM(degraded_ms) AS degraded_ms, SUM(unhealthy_ms) AS unhealthy_ms,
           SUM(unknown_ms) AS unknown_ms, SUM(maintenance_ms) AS maintenance_ms
         FROM ${TABLE[granularity]}
         WHERE adapter_key = @key AND bucket >= @from AND bucket < @until
         GROUP BY start ORDER BY start`,
      );
    this.slots = { minute: slots("minute"), hour: slots("hour") };
    this.throughBefore = db.prepare(
      `SELECT ${THROUGH_COLUMNS} FROM history_hour
       WHERE adapter_key = ? AND bucket < ? ORDER BY bucket DESC LIMIT 1`,
    );
    this.oldestFrom = db.prepare(
      `SELECT ${TALLY_COLUMNS}, ${THROUGH_COLUMNS} FROM history_hour
       WHERE adapter_key = ? AND bucket >= ? ORDER BY bucket LIMIT 1`,
    );
  }

  /** Writes rows inside the caller's transaction; returns the keys it made, to remember once committed. */
  write(rows: readonly BucketRow[]): Map<string, number> {
    const made = new Map<string, number>();
    if (rows.length === 0) return made;
    const writes = this.writes;
    const makeKey = this.makeKey;
    if (!writes || !makeKey) throw new Error("store was opened read-only");
    for (const row of rows) {
      let key =
        this.keys.get(row.adapterId) ?? made.get(row.adapterId) ?? this.lookUp(row.adapterId);
      if (key === undefined) {
        key = Number(makeKey.run(row.adapterId).lastInsertRowid);
        made.set(row.adapterId, key);
      }
      const tally = row.tally;
      const values: unknown[] = [
        key,
        row.start,
        Math.round(tally.healthyMs),
        Math.round(tally.degradedMs),
        Math.round(tally.unhealthyMs),
        Math.round(tally.unknownMs),
        Math.round(tally.maintenanceMs),
        tally.checks,
        tally.failures,
        Buffer.from(encodeBins(tally.latency)),
      ];
      if (row.granularity === "hour") {
        const through = row.through ?? tally;
        values.push(
          Math.round(through.healthyMs),
          Math.round(through.degradedMs),
          Math.round(through.unhealthyMs),
          Math.round(through.unknownMs),
          Math.round(through.maintenanceMs),
        );
      }
      writes[row.granularity].run(...values);
    }
    return made;
  }

  /** Remembers keys made by a committed transaction. */
  remember(made: ReadonlyMap<string, number>): void {
    for (const [adapterId, key] of made) this.keys.set(adapterId, key);
  }

  newestBuckets(adapterId: string): { minute?: BucketRow; hour?: BucketRow } {
    const key = this.keyOf(adapterId);
    if (key === undefined) return {};
    const minute = this.newest.minute.get(key) as TallyRow | undefined;
    const hour = this.newest.hour.get(key) as HourRow | undefined;
    return {
      ...(minute ? { minute: rowOf(adapterId, "minute", minute) } : {}),
      ...(hour ? { hour: rowOf(adapterId, "hour", hour) } : {}),
    };
  }

  readBuckets(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
  ): BucketRow[] {
    const key = this.keyOf(adapterId);
    if (key === undefined) return [];
    return (this.range[granularity].all(key, from, until) as HourRow[]).map((row) =>
      rowOf(adapterId, granularity, row),
    );
  }

  sumTime(
    adapterId: string,
    granularity: Granularity,
    from: number,
    until: number,
    slotMs: number,
  ): { start: number; time: TimeTally }[] {
    const key = this.keyOf(adapterId);
    if (key === undefined) return [];
    return (
      this.slots[granularity].all({ key, from, until, slot: slotMs }) as (Omit<
        TallyRow,
        "bucket" | "checks" | "failures" | "latency_bins"
      > & { start: number })[]
    ).map((row) => ({
      start: row.start,
      time: {
        healthyMs: row.healthy_ms,
        degradedMs: row.degraded_ms,
        unhealthyMs: row.unhealthy_ms,
        unknownMs: row.unknown_ms,
        maintenanceMs: row.maintenance_ms,
      },
    }));
  }

  readThrough(adapterIds: readonly string[], before: number): Map<string, TimeTally> {
    const totals = new Map<string, TimeTally>();
    for (const adapterId of adapterIds) {
      const key = this.keyOf(adapterId);
      if (key === undefined) continue;
      const row = this.throughBefore.get(key, before) as ThroughRow | undefined;
      if (row) {
        totals.set(adapterId, throughOf(row));
        continue;
      }
      // Retention took the buckets before: the totals before the oldest kept one.
      const oldest = this.oldestFrom.get(key, before) as HourRow | undefined;
      if (oldest) totals.set(adapterId, subtractTime(throughOf(oldest), tallyOf(oldest)));
    }
    return totals;
  }

  /** Deletes the buckets past retention of a page of adapters (see HistoryStore.pruneHistory). */
  prune(
    minutesBefore: number,
    hoursBefore: number,
    page: HistoryPrunePage,
  ): { deleted: number; last: string | undefined } {
    const adapters = this.db
      .prepare(
        "SELECT adapter_key, adapter_id FROM history_adapters WHERE adapter_id > ? ORDER BY adapter_id LIMIT ?",
      )
      .all(page.after ?? "", page.adapters) as { adapter_key: number; adapter_id: string }[];
    const minutes = this.db.prepare(
      "DELETE FROM history_minute WHERE adapter_key = ? AND bucket < ?",
    );
    const hours = this.db.prepare("DELETE FROM history_hour WHERE adapter_key = ? AND bucket < ?");
    let deleted = 0;
    for (const { adapter_key: key } of adapters) {
      deleted += minutes.run(key, minutesBefore).changes + hours.run(key, hoursBefore).changes;
    }
    return { deleted, last: adapters.at(-1)?.adapter_id };
  }

  /** Deletes the history of adapters no longer in the adapters table (forgotten by retention). */
  forgetRemoved(): void {
    const keys = this.db
      .prepare(
        "SELECT adapter_key, adapter_id FROM history_adapters WHERE adapter_id NOT IN (SELECT adapter_id FROM adapters)",
      )
      .all() as { adapter_key: number; adapter_id: string }[];
    for (const { adapter_key: key, adapter_id: adapterId } of keys) {
      this.db.prepare("DELETE FROM history_minute WHERE adapter_key = ?").run(key);
      this.db.prepare("DELETE FROM history_hour WHERE adapter_key = ?").run(key);
      this.db.prepare("DELETE FROM history_adapters WHERE adapter_key = ?").run(key);
      this.keys.delete(adapterId);
    }
  }

  private keyOf(adapterId: string): number | undefined {
    return this.keys.get(adapterId) ?? this.lookUp(adapterId);
  }

  private lookUp(adapterId: string): number | undefined {
    const key = this.findKey.get(adapterId) as number | undefined;
    // Keys found in the file are committed: safe to remember.
    if (key !== undefined) this.keys.set(adapterId, key);
    return key;
  }
}
