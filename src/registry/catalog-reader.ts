import { setImmediate as nextTurn } from "node:timers/promises";
import type { AdapterEntry, EntryCheck } from "../domain/adapter.js";
import { checkEntry } from "../domain/adapter.js";
import {
  addRejections,
  type CatalogChanges,
  type Rejection,
  screenChecks,
  screenEntries,
} from "../domain/catalog.js";
import { AdapterEntry as WireAdapterEntry } from "../gen/oneiric/registry/v1/registry.js";
import { ListResponseScanner, STATUS_CODES } from "./list-response-scan.js";
import { decodeListInSlices, fromWireEntry, NotAListResponseError } from "./registry-client.js";

/** One whole-catalog answer, screened as `screenEntries` screens it. */
export interface CatalogRead {
  /** This answer's number, unique per reader. */
  readonly generation: number;
  readonly entries: readonly AdapterEntry[];
  readonly rejections: readonly Rejection[];
  /**
   * What differs from the answer read before it (`changes.since`), when that one
   * is known; undefined for the first answer and after one that had to be
   * decoded whole.
   */
  readonly changes: CatalogChanges | undefined;
  /** Entries decoded from protobuf; the others were known from the answer before. */
  readonly decoded: number;
}

/** What the reader keeps of the answer before, per entry in its order. */
interface KnownAnswer {
  readonly generation: number;
  /**
   * The answer's bytes, when it was scanned: an answer byte for byte the same is
   * that answer again, recognised by one comparison instead of a scan.
   */
  readonly bytes: Buffer;
  readonly count: number;
  readonly digestLow: Int32Array;
  readonly digestHigh: Int32Array;
  /** How many of the entry's bytes its digest covers (see `ListResponseScanner`). */
  readonly describedLength: Uint32Array;
  /** health_status code (see STATUS_CODES), or WHOLE for an entry digested whole. */
  readonly status: Int8Array;
  /** last_heartbeat; meaningful where `status` is not WHOLE. */
  readonly heartbeat: Float64Array;
  /** The adapter_id each entry arrived with (before trimming). */
  readonly rawIds: readonly string[];
  readonly checks: readonly EntryCheck[];
  /** 1 where the entry was dropped as a duplicate. */
  readonly duplicate: Uint8Array;
  readonly entries: readonly AdapterEntry[];
  readonly rejections: readonly Rejection[];
  /** Raw id → first index, built when an entry is not where it was. */
  byRawId?: Map<string, number>;
  /** Trimmed id → kept entry, built when an entry's earlier version must be found by id. */
  byId?: Map<string, AdapterEntry>;
}

type ScannedAnswer = Omit<
  KnownAnswer,
  "bytes" | "duplicate" | "entries" | "rejections" | "byRawId" | "byId"
>;

/** The marker in `status` of an entry digested whole (its readings are not a plain tail). */
const WHOLE = -1;
const NO_ID = "entry has no adapter_id";
/** Work units between two turns of the event loop: a scanned entry is 1, a decoded one 10. */
const UNITS_PER_SLICE = 5_000;
const DECODE_UNITS = 10;

/** The per-entry columns of an answer being read, grown as entries come. */
class ScannedEntries {
  count = 0;
  private readonly rawIds: string[] = [];
  private readonly checks: EntryCheck[] = [];
  private digestLow: Int32Array;
  private digestHigh: Int32Array;
  private describedLength: Uint32Array;
  private status: Int8Array;
  private heartbeat: Float64Array;
  /** For each entry, the index of its earlier version in the answer before, or -1. */
  earlier: Int32Array;

  constructor(private capacity: number) {
    this.digestLow = new Int32Array(capacity);
    this.digestHigh = new Int32Array(capacity);
    this.describedLength = new Uint32Array(capacity);
    this.status = new Int8Array(capacity);
    this.heartbeat = new Float64Array(capacity);
    this.earlier = new Int32Array(capacity);
  }

  /** Makes room for one more entry; returns its index. */
  add(): number {
    if (this.count === this.capacity) {
      this.capacity *= 2;
      this.digestLow = grown(this.digestLow, new Int32Array(this.capacity));
      this.digestHigh = grown(this.digestHigh, new Int32Array(this.capacity));
      this.describedLength = grown(this.describedLength, new Uint32Array(this.capacity));
      this.status = grown(this.status, new Int8Array(this.capacity));
      this.heartbeat = grown(this.heartbeat, new Float64Array(this.capacity));
      this.earlier = grown(this.earlier, new Int32Array(this.capacity));
    }
    return this.count++;
  }

  /** Records what the scan found about entry `index`, and the index of its earlier version (or -1). */
  record(index: number, scanner: ListResponseScanner, earlier: number): void {
    this.digestLow[index] = scanner.digestLow;
    this.digestHigh[index] = scanner.digestHigh;
    this.describedLength[index] = scanner.describedLength;
    this.status[index] = scanner.split ? scanner.status : WHOLE;
    this.heartbeat[index] = scanner.split ? scanner.heartbeat : 0;
    this.earlier[index] = earlier;
  }

  /** Records entry `index`'s id as it arrived and its check. */
  checked(index: number, rawId: string, checked: EntryCheck): void {
    this.rawIds[index] = rawId;
    this.checks[index] = checked;
  }

  finish(generation: number): ScannedAnswer {
    return {
      generation,
      count: this.count,
      digestLow: this.digestLow,
      digestHigh: this.digestHigh,
      describedLength: this.describedLength,
      status: this.status,
      heartbeat: this.heartbeat,
      rawIds: this.rawIds,
      checks: this.checks,
    };
  }
}

function grown<T extends Int32Array | Uint32Array | Int8Array | Float64Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

/**
 * Reads successive whole-catalog answers (`ListAdapters` with no filter) of a
 * registry, decoding only what changed: each entry's bytes are digested in
 * place (see {@link ListResponseScanner}) and compared with the digest kept for
 * that entry from the answer before; an entry whose description is the same
 * keeps its earlier decoded, checked and screened form, and one whose only
 * change is a live reading (last_heartbeat, a plain health_status) gets those
 * read from the bytes without decoding. What comes out is what `screenEntries`
 * over a full decode would give (the tests hold it to that), plus the changes
 * since the answer before.
 *
 * The digest is 64 bits: an entry that changed goes unnoticed only if both
 * 32-bit lanes collide for that entry, about once in 2^64 changes.
 *
 * Memory: about 90 bytes per entry besides the entries themselves, which the
 * catalog shares. A new reader (a restart) decodes its first answer whole.
 */
export class CatalogReader {
  private known: KnownAnswer | undefined;
  private generations = 0;

  /**
   * Reads one answer. Throws `NotAListResponseError` for an answer that is not a
   * ListResponse and the decoder's error for bytes that are not protobuf, as
   * `decodeListInSlices` does; then the answer before stays the one compared with.
   */
  async read(bytes: Uint8Array): Promise<CatalogRead> {
    const generation = ++this.generations;
    const known = this.known;
    const answer = keepable(bytes);
    if (known?.bytes.equals(answer)) {
      // The answer before, again (a catalog that did not change): nothing to scan or decode.
      this.known = { ...known, generation };
      return {
        generation,
        entries: known.entries,
        rejections: known.rejections,
        changes: { since: known.generation, changed: [], removed: [] },
        decoded: 0,
      };
    }
    const scanned = new ScannedEntries(known ? known.count + 64 : 1024);
    const scanner = new ListResponseScanner(bytes);
    let decoded = 0;
    let withoutId = 0;
    let units = 0;
    // Whether every entry is where it was, with the same id, accepted or rejected alike.
    let sameOrder = known !== undefined;
    /** Where the answer before is expected to continue: after the last entry matched. */
    let expected = 0;
    /** Indexes of entries that are not the same objects as in the answer before. */
    const fresh: number[] = [];
    for (let step = scanner.nextEntry(); step !== 0; step = scanner.nextEntry()) {
      if (step < 0) return this.readWhole(bytes, generation);
      const index = scanned.add();
      let match = -1;
      let same = false;
      if (
        known &&
        expected < known.count &&
        scanner.matches(
          known.status[expected] !== WHOLE,
          known.describedLength[expected] as number,
          known.digestLow[expected] as number,
          known.digestHigh[expected] as number,
        )
      ) {
        match = expected;
        same = true;
      } else {
        if (!scanner.scanEntry()) return this.readWhole(bytes, generation);
        if (known) {
          const rawId = scanner.entryId();
          match =
            expected < known.count && known.rawIds[expected] === rawId
              ? expected
              : (rawIdIndex(known).get(rawId) ?? -1);
          same =
            match >= 0 &&
            (known.status[match] !== WHOLE) === scanner.split &&
            known.describedLength[match] === scanner.describedLength &&
            known.digestLow[match] === scanner.digestLow &&
            known.digestHigh[match] === scanner.digestHigh;
        }
      }
      if (match >= 0) expected = match + 1;
      if (match !== index) sameOrder = false;
      scanned.record(index, scanner, match);
      let checked: EntryCheck;
      let rawId: string;
      if (known && same) {
        const before = known.checks[match] as EntryCheck;
        checked = scanner.split
          ? withReadings(
              before,
              known.status[match] as number,
              known.heartbeat[match] as number,
              scanner.status,
              scanner.heartbeat,
            )
          : before;
        rawId = known.rawIds[match] as string;
        units++;
      } else {
        const wire = WireAdapterEntry.decode(scanner.entryBytes());
        checked = checkEntry(fromWireEntry(wire));
        rawId = wire.adapterId;
        decoded++;
        units += DECODE_UNITS;
      }
      scanned.checked(index, rawId, checked);
      if (!checked.ok && checked.reason === NO_ID) withoutId++;
      if (known && checked !== known.checks[match]) {
        fresh.push(index);
        if (sameOrder && checked.ok !== known.checks[index]?.ok) sameOrder = false;
      }
      if (units >= UNITS_PER_SLICE) {
        units = 0;
        await nextTurn();
      }
    }
    const count = scanned.count;
    if (count === 0 && bytes.length > 0) return this.readWhole(bytes, generation);
    if (count > 0 && withoutId === count) throw NotAListResponseError.noIds(count);
    const next =
      known && sameOrder && count === known.count
        ? inSameOrder(known, scanned.finish(generation), fresh, decoded > 0)
        : reordered(known, scanned.finish(generation), scanned.earlier);
    this.known = { ...next.answer, bytes: answer };
    return {
      generation,
      entries: next.answer.entries,
      rejections: next.answer.rejections,
      changes: next.changes,
      decoded,
    };
  }

  /** The answer decoded whole, as before this reader existed; nothing is kept to compare with. */
  private async readWhole(bytes: Uint8Array, generation: number): Promise<CatalogRead> {
    const raw = await decodeListInSlices(bytes);
    const { entries, rejections } = screenEntries(raw);
    this.known = undefined;
    return { generation, entries, rejections, changes: undefined, decoded: raw.length };
  }
}

/**
 * Every entry is where it was, with the same id, and passed or failed its
 * checks as before: duplicates are the same, only the fresh entries are visited.
 */
function inSameOrder(
  known: KnownAnswer,
  scanned: ScannedAnswer,
  fresh: readonly number[],
  anyDecoded: boolean,
): { answer: Omit<KnownAnswer, "bytes">; changes: CatalogChanges } {
  const changed: { before: AdapterEntry; after: AdapterEntry }[] = [];
  for (const index of fresh) {
    const checked = scanned.checks[index] as EntryCheck;
    const before = known.checks[index] as EntryCheck;
    if (checked.ok && before.ok && known.duplicate[index] === 0) {
      changed.push({ before: before.entry, after: checked.entry });
    }
  }
  let entries = known.entries;
  if (changed.length > 0) {
    const kept: AdapterEntry[] = [];
    scanned.checks.forEach((checked, index) => {
      if (checked.ok && known.duplicate[index] === 0) kept.push(checked.entry);
    });
    entries = kept;
  }
  // New live readings leave the notes as they were; a decoded entry may change them.
  let rejections = known.rejections;
  if (anyDecoded) {
    const listed: Rejection[] = [];
    scanned.checks.forEach((checked, index) => {
      addRejections(listed, scanned.rawIds[index] as string, checked, known.duplicate[index] === 1);
    });
    rejections = listed;
  }
  return {
    answer: { ...scanned, duplicate: known.duplicate, entries, rejections },
    changes: { since: known.generation, changed, removed: [] },
  };
}

/** Entries moved, came or went: the answer is screened afresh and compared by id. */
function reordered(
  known: KnownAnswer | undefined,
  scanned: ScannedAnswer,
  earlier: Int32Array,
): { answer: Omit<KnownAnswer, "bytes">; changes: CatalogChanges | undefined } {
  const screened = screenChecks(scanned.rawIds, scanned.checks);
  const answer: Omit<KnownAnswer, "bytes"> = {
    ...scanned,
    duplicate: screened.duplicate,
    entries: screened.entries,
    rejections: screened.rejections,
  };
  if (!known) return { answer, changes: undefined };
  const changed: { before: AdapterEntry | undefined; after: AdapterEntry }[] = [];
  scanned.checks.forEach((checked, index) => {
    if (!checked.ok || screened.duplicate[index] === 1) return;
    const match = earlier[index] as number;
    const matched = match >= 0 ? (known.checks[match] as EntryCheck) : undefined;
    // The same check as an entry kept then: unchanged.
    if (matched === checked && known.duplicate[match] === 0) return;
    // The earlier version is the one kept then: the matched entry, unless that was
    // dropped (a duplicate, or rejected); then it is found by id.
    const before =
      matched?.ok && known.duplicate[match] === 0
        ? matched.entry
        : idIndex(known).get(checked.entry.adapterId);
    if (before !== checked.entry) changed.push({ before, after: checked.entry });
  });
  const removed = known.entries.filter((entry) => !screened.ids.has(entry.adapterId));
  return { answer, changes: { since: known.generation, changed, removed } };
}

/**
 * The answer's bytes as a Buffer the reader may keep: the same memory when the
 * bytes are a whole allocation of their own (gRPC hands each message over in one),
 * a copy when they are a small view into a larger one, which keeping would pin.
 */
function keepable(bytes: Uint8Array): Buffer {
  if (bytes.byteLength * 2 >= bytes.buffer.byteLength) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return Buffer.from(bytes);
}

function rawIdIndex(known: KnownAnswer): Map<string, number> {
  if (!known.byRawId) {
    const index = new Map<string, number>();
    known.rawIds.forEach((rawId, at) => {
      if (!index.has(rawId)) index.set(rawId, at);
    });
    known.byRawId = index;
  }
  return known.byRawId;
}

function idIndex(known: KnownAnswer): Map<string, AdapterEntry> {
  if (!known.byId) known.byId = new Map(known.entries.map((entry) => [entry.adapterId, entry]));
  return known.byId;
}

/**
 * The check of an entry whose description is unchanged, with its live readings
 * as they are now: the same object when they did not change either, else the
 * entry with the new readings. A rejection does not depend on them.
 */
function withReadings(
  before: EntryCheck,
  statusBefore: number,
  heartbeatBefore: number,
  status: number,
  heartbeat: number,
): EntryCheck {
  if (!before.ok) return before;
  if (status === statusBefore && heartbeat === heartbeatBefore) return before;
  return {
    ok: true,
    // A plain status needs no repair, so the notes are the description's, as before.
    notes: before.notes,
    entry: {
      ...before.entry,
      lastHeartbeat: heartbeat,
      registryStatus: STATUS_CODES[status] ?? "unknown",
    },
  };
}
