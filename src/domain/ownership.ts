/**
 * Which cluster member probes an adapter. Pure: every member computes the same
 * answer from the same member list, with nothing exchanged but that list.
 *
 * - Dynamic mode: rendezvous (highest random weight) hashing over the live
 *   members, so a member joining takes only its share and a member leaving
 *   hands over only its own adapters.
 * - Static mode: Prometheus-style hashmod, `stableHash(adapterId) % count`.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * murmur3's 32-bit finaliser: every input bit affects every output bit. FNV-1a
 * alone mixes its last bytes poorly into the low bits, which `% count` and
 * nearby member ids would feel.
 */
function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One FNV-1a step over a byte. */
function fnvByte(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, FNV_PRIME);
}

/**
 * 32-bit hash of an adapter id or member id, stable across processes and
 * releases: murmur3's fmix32 of FNV-1a (32-bit) over the text's UTF-8 bytes
 * (a lone surrogate counts as U+FFFD, as TextEncoder encodes it). Integer
 * arithmetic only (`Math.imul`, shifts), so no Node or V8 version changes it,
 * and any language can reproduce it from the UTF-8 bytes. Changing it moves
 * adapters between members on upgrade: the pinned vectors in the tests say so.
 */
export function stableHash(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let index = 0; index < text.length; index++) {
    let code = text.charCodeAt(index);
    if (code < 0x80) {
      hash = fnvByte(hash, code);
      continue;
    }
    if (code < 0x800) {
      hash = fnvByte(hash, 0xc0 | (code >> 6));
      hash = fnvByte(hash, 0x80 | (code & 0x3f));
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(index + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        index++;
        hash = fnvByte(hash, 0xf0 | (code >> 18));
        hash = fnvByte(hash, 0x80 | ((code >> 12) & 0x3f));
        hash = fnvByte(hash, 0x80 | ((code >> 6) & 0x3f));
        hash = fnvByte(hash, 0x80 | (code & 0x3f));
        continue;
      }
      code = 0xfffd;
    }
    hash = fnvByte(hash, 0xe0 | (code >> 12));
    hash = fnvByte(hash, 0x80 | ((code >> 6) & 0x3f));
    hash = fnvByte(hash, 0x80 | (code & 0x3f));
  }
  return fmix32(hash);
}

/**
 * An adapter's weight for a member, from both hashes. fmix32 of the XOR is a
 * bijection per member, so each member's weights are as evenly spread as the
 * adapter hashes, and members with different hashes rank adapters unrelatedly.
 */
function weight(adapterHash: number, memberHash: number): number {
  return fmix32(adapterHash ^ memberHash);
}

/**
 * Rendezvous (highest random weight): the member with the highest
 * weight(adapterId, member). Ties → smaller member id. Undefined when there
 * are no members. Hashes every member on each call: to assign many adapters
 * over one member list, build an `Assignment` once.
 */
export function rendezvousOwner(adapterId: string, members: readonly string[]): string | undefined {
  return new Assignment(members).owner(adapterId);
}

/**
 * hashmod: `stableHash(adapterId) % count`, the shard (0 to count - 1) that
 * keeps the adapter. Throws a RangeError when `count` is not a whole number ≥ 1
 * (the config loader never lets one through).
 */
export function shardOf(adapterId: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`shard count must be a whole number >= 1; got ${count}`);
  }
  return stableHash(adapterId) % count;
}

/**
 * An assignment the scheduler asks "do I own this?": one member list, each
 * member hashed once here, so `owner` costs one hash of the adapter id and one
 * mix per member.
 */
export class Assignment {
  /** Distinct, in ascending order (UTF-16 code units), whatever order they were given in. */
  readonly members: readonly string[];
  private readonly memberHashes: Uint32Array;

  constructor(members: readonly string[]) {
    // Sorted, so that scanning in order and keeping only strictly higher weights
    // breaks a tie in favour of the smaller id on every member alike.
    this.members = Object.freeze([...new Set(members)].sort(byCodeUnits));
    this.memberHashes = Uint32Array.from(this.members, stableHash);
  }

  /** The member that owns the adapter; undefined when there are no members. */
  owner(adapterId: string): string | undefined {
    const adapterHash = stableHash(adapterId);
    let best = -1;
    let bestWeight = -1;
    for (let index = 0; index < this.memberHashes.length; index++) {
      const candidate = weight(adapterHash, this.memberHashes[index] as number);
      if (candidate > bestWeight) {
        bestWeight = candidate;
        best = index;
      }
    }
    return this.members[best];
  }
}

/** Plain code-unit order, the same in every locale (localeCompare is not). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
