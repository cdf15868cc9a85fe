import { roundToMicroseconds } from "../domain/round-to-microseconds.js";
/** One finished check, as the "recent checks" of an adapter show it. */
export interface RecentCheck {
  at: string;
  ok: boolean;
  latency_ms: number;
  detail: string;
  source: string;
}

/** One finished check, as the engine hands it to the mirror. */
export interface FinishedCheck {
  /** When it finished (ms since the epoch). */
  atMs: number;
  ok: boolean;
  latencyMs: number;
  detail: string;
  /** "probe", "registry", or "watch" for a pushed status. */
  source: string;
}

/** Checks remembered per adapter. */
export const RECENT_CHECKS = 10;

/** Distinct detail texts shared before the table starts afresh (details like "HTTP 200" repeat). */
const INTERNED_DETAILS_MAX = 4_096;
const FIRST_CAPACITY = 1_024;

/**
 * The newest RECENT_CHECKS checks of every adapter, in columns: one typed array
 * per field for all adapters (a ring of RECENT_CHECKS slots each), an adapter
 * holding only a row number. Every adapter keeps ten checks, so an object, or
 * even a typed array, per adapter would cost several times the data (about
 * 1.4 KB an adapter as one ring object each; about 0.3 KB in columns). Repeated
 * detail texts and the few sources are stored once.
 */
export class RecentChecks {
  private readonly rows = new Map<string, number>();
  private readonly freeRows: number[] = [];
  private capacity = 0;
  private atMs = new Float64Array(0);
  private latencyMs = new Float64Array(0);
  /** Per slot: bit 7 = ok, bits 0-6 = index into `sources`. */
  private outcome = new Uint8Array(0);
  private details: string[] = [];
  /** Per row: the slot the next check goes into, and how many slots are filled. */
  private next = new Uint8Array(0);
  private filled = new Uint8Array(0);
  private readonly sources: string[] = [];
  private readonly sourceIndex = new Map<string, number>();
  private readonly internedDetails = new Map<string, string>();

  record(adapterId: string, check: FinishedCheck): void {
    const row = this.rowOf(adapterId);
    const slotInRow = this.next[row] ?? 0;
    const slot = row * RECENT_CHECKS + slotInRow;
    this.atMs[slot] = check.atMs;
    this.latencyMs[slot] = check.latencyMs;
    this.outcome[slot] = (check.ok ? 0x80 : 0) | this.sourceCode(check.source);
    this.details[slot] = this.intern(check.detail);
    this.next[row] = (slotInRow + 1) % RECENT_CHECKS;
    this.filled[row] = Math.min((this.filled[row] ?? 0) + 1, RECENT_CHECKS);
  }

  /** The newest checks first; empty for an adapter with none. */
  newestFirst(adapterId: string): RecentCheck[] {
    const row = this.rows.get(adapterId);
    if (row === undefined) return [];
    const checks: RecentCheck[] = [];
    const next = this.next[row] ?? 0;
    const filled = this.filled[row] ?? 0;
    for (let back = 1; back <= filled; back++) {
      const slot = row * RECENT_CHECKS + ((next - back + RECENT_CHECKS) % RECENT_CHECKS);
      const outcome = this.outcome[slot] ?? 0;
      checks.push({
        at: new Date(this.atMs[slot] ?? 0).toISOString(),
        ok: (outcome & 0x80) !== 0,
        latency_ms: roundToMicroseconds(this.latencyMs[slot] ?? 0),
        detail: this.details[slot] ?? "",
        source: this.sources[outcome & 0x7f] ?? "",
      });
    }
    return checks;
  }

  forget(adapterId: string): void {
    const row = this.rows.get(adapterId);
    if (row === undefined) return;
    this.rows.delete(adapterId);
    this.next[row] = 0;
    this.filled[row] = 0;
    // Let the texts go; the numbers are overwritten when the row is taken again.
    this.details.fill("", row * RECENT_CHECKS, (row + 1) * RECENT_CHECKS);
    this.freeRows.push(row);
  }

  private rowOf(adapterId: string): number {
    let row = this.rows.get(adapterId);
    if (row !== undefined) return row;
    row = this.freeRows.pop() ?? this.rows.size;
    if (row >= this.capacity) this.grow(Math.max(FIRST_CAPACITY, this.capacity * 2));
    this.rows.set(adapterId, row);
    return row;
  }

  private grow(capacity: number): void {
    const slots = capacity * RECENT_CHECKS;
    this.atMs = copiedInto(new Float64Array(slots), this.atMs);
    this.latencyMs = copiedInto(new Float64Array(slots), this.latencyMs);
    this.outcome = copiedInto(new Uint8Array(slots), this.outcome);
    this.next = copiedInto(new Uint8Array(capacity), this.next);
    this.filled = copiedInto(new Uint8Array(capacity), this.filled);
    this.capacity = capacity;
  }

  private sourceCode(source: string): number {
    let code = this.sourceIndex.get(source);
    if (code === undefined) {
      // More than 127 distinct sources would be a bug; they share the last code rather than fail.
      code = Math.min(this.sources.length, 0x7f);
      if (code === this.sources.length) this.sources.push(source);
      this.sourceIndex.set(source, code);
    }
    return code;
  }

  private intern(detail: string): string {
    const shared = this.internedDetails.get(detail);
    if (shared !== undefined) return shared;
    if (this.internedDetails.size >= INTERNED_DETAILS_MAX) this.internedDetails.clear();
    this.internedDetails.set(detail, detail);
    return detail;
  }
}

function copiedInto<T extends Float64Array | Uint8Array>(target: T, source: T): T {
  target.set(source);
  return target;
}
