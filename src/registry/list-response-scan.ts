import type { HealthStatus } from "../domain/adapter.js";

/**
 * Reads a `ListResponse` in its wire format without decoding it: where each
 * `AdapterEntry` lies, a 64-bit digest of the bytes that describe it, its
 * adapter_id's bytes, and its two live readings (`last_heartbeat`,
 * `health_status`) read in place.
 *
 * An entry is *split* when its live readings come last, one plain field each
 * (every encoder in use writes fields in number order, and they are fields 11
 * and 12): its digest then covers the description before them, and an entry
 * whose description bytes are as before is recognised by digesting that many
 * bytes and reading the short tail, without walking its fields. Any other
 * entry is digested whole.
 *
 * Only plain protobuf is scanned: anything the generated decoder would read in
 * a surprising way (groups, field 0, a field running past its entry, a varint
 * longer than 10 bytes, field 1 of the list with another wire type, a list
 * with bytes but no entry) makes the scan give up, and the caller decodes the
 * answer whole as before, which keeps every decoding and error rule as it was.
 */
export class ListResponseScanner {
  /** Where the entry found by {@link nextEntry} lies. */
  entryStart = 0;
  entryEnd = 0;
  /** The digest of the entry scanned or matched last, as two 32-bit halves. */
  digestLow = 0;
  digestHigh = 0;
  /**
   * How many of the entry's bytes the digest covers: those before the live
   * readings of a split entry, all of them otherwise.
   */
  describedLength = 0;
  /** Whether the scanned entry is split (see the class); the readings below are then meaningful. */
  split = true;
  /** Where the scanned entry's adapter_id bytes lie (its last field 1), or -1 and -1. */
  idStart = -1;
  idEnd = -1;
  /** last_heartbeat (Unix seconds), 0 when absent. */
  heartbeat = 0;
  /** health_status as a {@link STATUS_CODES} index. */
  status = 0;

  private pos = 0;
  private varintValue = 0;
  private varintEnd = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether {@link nextEntry} has gone past the last byte. */
  get atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Moves to the next entry: 1 when found (see `entryStart`, `entryEnd`), 0 at the end, -1 when not plain. */
  nextEntry(): 1 | 0 | -1 {
    const end = this.bytes.length;
    while (this.pos < end) {
      if (!this.readVarint(this.pos, end, 5) || this.varintValue > 0xffffffff) return -1;
      const tag = this.varintValue;
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field === 0) return -1;
      if (field === ADAPTERS_FIELD) {
        if (wireType !== LEN) return -1;
        if (!this.readVarint(this.varintEnd, end, 5)) return -1;
        this.entryStart = this.varintEnd;
        this.entryEnd = this.entryStart + this.varintValue;
        if (this.entryEnd > end) return -1;
        this.pos = this.entryEnd;
        return 1;
      }
      const next = this.skipField(wireType, this.varintEnd, end);
      if (next < 0) return -1;
      this.pos = next;
    }
    return 0;
  }

  /**
   * Whether the current entry is one scanned before as `split` with that
   * `describedLength` and digest: its first `describedLength` bytes digest the
   * same and, for a split one, the rest is its live readings alone, which are
   * then read into `heartbeat` and `status`. Walks no field of the description.
   */
  matches(split: boolean, describedLength: number, digestLow: number, digestHigh: number): boolean {
    const start = this.entryStart;
    const length = this.entryEnd - start;
    if (split ? length < describedLength : length !== describedLength) return false;
    this.digest(split, start, describedLength);
    if (this.digestLow !== digestLow || this.digestHigh !== digestHigh) return false;
    this.describedLength = describedLength;
    this.split = split;
    return !split || this.readReadings(start + describedLength);
  }

  /**
   * Scans the current entry field by field: its digest, id and live readings.
   * False when the entry is not plain protobuf (see the class).
   */
  scanEntry(): boolean {
    const start = this.entryStart;
    const end = this.entryEnd;
    this.idStart = -1;
    this.idEnd = -1;
    /** Where the description seen so far ends: the end of its last field. */
    let describedEnd = start;
    let readingSinceDescription = false;
    let readingsLast = true;
    let pos = start;
    while (pos < end) {
      if (!this.readVarint(pos, end, 5) || this.varintValue > 0xffffffff) return false;
      const tag = this.varintValue;
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field === 0) return false;
      const valueStart = this.varintEnd;
      if (wireType === LEN) {
        if (!this.readVarint(valueStart, end, 5)) return false;
        const payload = this.varintEnd;
        pos = payload + this.varintValue;
        if (pos > end) return false;
        if (field === ID_FIELD) {
          this.idStart = payload;
          this.idEnd = pos;
        } else if (field === METADATA_FIELD && !this.plainMessage(payload, pos)) {
          return false;
        }
      } else {
        pos = this.skipField(wireType, valueStart, end);
        if (pos < 0) return false;
      }
      if (
        (field === HEARTBEAT_FIELD && wireType === VARINT) ||
        (field === STATUS_FIELD && wireType === LEN)
      ) {
        readingSinceDescription = true;
      } else {
        // A description field after a reading: the readings are not a tail.
        if (readingSinceDescription) readingsLast = false;
        describedEnd = pos;
      }
    }
    const split = readingsLast && this.readReadings(describedEnd);
    this.split = split;
    this.describedLength = split ? describedEnd - start : end - start;
    this.digest(split, start, this.describedLength);
    return true;
  }

  /** The scanned entry's adapter_id as the generated decoder reads it ("" when absent). */
  entryId(): string {
    return this.idStart < 0 ? "" : UTF8.decode(this.bytes.subarray(this.idStart, this.idEnd));
  }

  /** The bytes of the current entry, for the generated decoder. */
  entryBytes(): Uint8Array {
    return this.bytes.subarray(this.entryStart, this.entryEnd);
  }

  /**
   * Reads the live readings from `from` to the entry's end: at most one plain
   * last_heartbeat (up to 7 bytes, exact) and one health_status among the four
   * statuses. False when anything else is there.
   */
  private readReadings(from: number): boolean {
    const bytes = this.bytes;
    const end = this.entryEnd;
    let heartbeats = 0;
    let statuses = 0;
    this.heartbeat = 0;
    this.status = 0;
    let pos = from;
    while (pos < end) {
      const tag = bytes[pos] as number;
      if (tag === HEARTBEAT_TAG && heartbeats === 0) {
        if (!this.readVarint(pos + 1, end, 7)) return false;
        this.heartbeat = this.varintValue;
        pos = this.varintEnd;
        heartbeats++;
      } else if (tag === STATUS_TAG && statuses === 0) {
        if (!this.readVarint(pos + 1, end, 5)) return false;
        const payload = this.varintEnd;
        pos = payload + this.varintValue;
        if (pos > end) return false;
        this.status = statusCode(bytes, payload, pos);
        if (this.status < 0) return false;
        statuses++;
      } else {
        return false;
      }
    }
    return true;
  }

  /** A map entry (the one submessage the decoder descends into) holds plain fields only. */
  private plainMessage(start: number, end: number): boolean {
    let pos = start;
    while (pos < end) {
      if (!this.readVarint(pos, end, 5) || this.varintValue > 0xffffffff) return false;
      const tag = this.varintValue;
      if (tag < 8) return false;
      pos = this.skipField(tag % 8, this.varintEnd, end);
      if (pos < 0) return false;
    }
    return true;
  }

  /** The position after a field's value that starts at `pos`, or -1 when it is not plain or runs past `end`. */
  private skipField(wireType: number, pos: number, end: number): number {
    let next: number;
    switch (wireType) {
      case VARINT:
        return this.readVarint(pos, end, 10) ? this.varintEnd : -1;
      case I64:
        next = pos + 8;
        break;
      case LEN:
        if (!this.readVarint(pos, end, 5)) return -1;
        next = this.varintEnd + this.varintValue;
        break;
      case I32:
        next = pos + 4;
        break;
      default:
        // Groups (3, 4) and wire types 6 and 7: the decoders stop or throw there.
        return -1;
    }
    return next > end ? -1 : next;
  }

  /**
   * Reads a varint of at most `maxBytes` bytes at `pos` (before `end`) into
   * `varintValue` (exact up to 7 bytes) and `varintEnd`. False when it is longer
   * or cut off.
   */
  private readVarint(pos: number, end: number, maxBytes: number): boolean {
    const bytes = this.bytes;
    let value = 0;
    let scale = 1;
    const last = Math.min(end, pos + maxBytes);
    for (let at = pos; at < last; at++) {
      const byte = bytes[at] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.varintValue = value;
        this.varintEnd = at + 1;
        return true;
      }
      scale *= 128;
    }
    return false;
  }

  /**
   * Digests `length` bytes from `from` into `digestLow` and `digestHigh`, four
   * bytes at a time in two lanes (a MurmurHash3 round and an xxHash32 round), so
   * a collision needs both 32-bit lanes to collide at once. Split and whole
   * entries start from different seeds.
   */
  private digest(split: boolean, from: number, length: number): void {
    const view = this.view;
    const bytes = this.bytes;
    let low = split ? SPLIT_SEED_LOW : WHOLE_SEED_LOW;
    let high = split ? SPLIT_SEED_HIGH : WHOLE_SEED_HIGH;
    const to = from + length;
    let at = from;
    for (; at + 4 <= to; at += 4) {
      const word = view.getInt32(at, true);
      let k = Math.imul(word, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      low ^= Math.imul(k, 0x1b873593);
      low = (low << 13) | (low >>> 19);
      low = (Math.imul(low, 5) + 0xe6546b64) | 0;
      high = (high + Math.imul(word, 0x85ebca77)) | 0;
      high = Math.imul((high << 13) | (high >>> 19), 0x9e3779b1);
    }
    for (; at < to; at++) {
      const byte = bytes[at] as number;
      low = Math.imul(low ^ byte, 0x01000193);
      high = Math.imul((high + Math.imul(byte, 0x165667b1)) | 0, 0x27d4eb2f);
      high = (high << 11) | (high >>> 21);
    }
    low ^= length;
    low = Math.imul(low ^ (low >>> 16), 0x85ebca6b);
    low = Math.imul(low ^ (low >>> 13), 0xc2b2ae35);
    this.digestLow = low ^ (low >>> 16);
    high ^= length;
    high = Math.imul(high ^ (high >>> 15), 0x85ebca77);
    high = Math.imul(high ^ (high >>> 13), 0xc2b2ae3d);
    this.digestHigh = high ^ (high >>> 16);
  }
}

/**
 * health_status values by the code {@link ListResponseScanner} gives them, as
 * the catalog keeps them: absent or empty reads as unknown, without a note.
 */
export const STATUS_CODES: readonly HealthStatus[] = [
  "unknown",
  "unknown",
  "healthy",
  "degraded",
  "unhealthy",
];
const STATUS_SPELLINGS = ["", "unknown", "healthy", "degraded", "unhealthy"].map((status) =>
  new TextEncoder().encode(status),
);

/** The {@link STATUS_CODES} index of a status's bytes, or -1 for any other string. */
function statusCode(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  candidates: for (let code = 0; code < STATUS_SPELLINGS.length; code++) {
    const spelling = STATUS_SPELLINGS[code] as Uint8Array;
    if (spelling.length !== length) continue;
    for (let at = 0; at < length; at++) {
      if (spelling[at] !== bytes[start + at]) continue candidates;
    }
    return code;
  }
  return -1;
}

const UTF8 = new TextDecoder();
/** ListResponse's only field: `repeated AdapterEntry adapters = 1`. */
const ADAPTERS_FIELD = 1;
/** AdapterEntry's fields that the scan treats apart (proto/oneiric/registry/v1/registry.proto). */
const ID_FIELD = 1;
const METADATA_FIELD = 9;
const HEARTBEAT_FIELD = 11;
const STATUS_FIELD = 12;
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
/** The one-byte tags of the two readings: field 11 as a varint, field 12 length-delimited. */
const HEARTBEAT_TAG = (HEARTBEAT_FIELD << 3) | VARINT;
const STATUS_TAG = (STATUS_FIELD << 3) | LEN;
const SPLIT_SEED_LOW = 0x2f693a5b;
const SPLIT_SEED_HIGH = 0x6a09e667;
const WHOLE_SEED_LOW = 0x510e527f;
const WHOLE_SEED_HIGH = 0x1f83d9ab;
