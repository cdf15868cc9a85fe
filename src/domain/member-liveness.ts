/**
 * Which members of a cluster are alive, judged only from what this instance has
 * heard of their leases: a member is alive while its lease renewals keep coming,
 * gone at once when it deletes its lease, and gone when nothing has been heard of
 * it for a lease TTL. Times are a monotonic clock in ms, given by the caller.
 *
 * "Not heard of" only means "gone" while this instance can hear at all. While it
 * cannot (its own NATS link is down, or its own lease renewals fail), silence
 * says nothing about the others, so the set is frozen: a whole-NATS outage must
 * not make every instance drop every other and take over everything.
 */
export interface MemberLivenessOptions {
  /** This instance: always a member, never judged. */
  self: string;
  /** A member not heard of for this long is gone. */
  leaseTtlMs: number;
  /**
   * Sweeps further apart than this mean this process itself was not running
   * (an event-loop stall, a paused VM): what it missed meanwhile it cannot judge,
   * so that sweep drops nobody and counts everyone as seen then.
   */
  blindGapMs: number;
  /** Members assumed alive (the last view) until heard otherwise, as seen at `nowMs`. */
  assumed?: readonly string[];
  nowMs: number;
}

interface Sighting {
  /** When the member was last heard of (monotonic ms). */
  atMs: number;
  /** The lease revision last heard, when known: a re-read of the same revision is no news. */
  revision: number | undefined;
}

export class MemberLiveness {
  private readonly sightings = new Map<string, Sighting>();
  /** Starts deaf: until the caller says it hears, silence proves nothing. */
  private frozen = true;
  private lastSweepMs: number | undefined;
  private sorted: readonly string[] = [];

  constructor(private readonly options: MemberLivenessOptions) {
    for (const id of options.assumed ?? []) {
      if (id !== options.self) this.sightings.set(id, { atMs: options.nowMs, revision: undefined });
    }
    this.resort();
  }

  /**
   * The member holds a lease at `revision`: alive, seen now. A revision already
   * heard (a re-listing of an unchanged lease) does not count as seen again,
   * since a crashed member's lease stays listed until it expires.
   */
  heard(id: string, nowMs: number, revision?: number): void {
    if (id === this.options.self) return;
    const known = this.sightings.get(id);
    if (known && revision !== undefined && known.revision === revision) return;
    this.sightings.set(id, { atMs: nowMs, revision: revision ?? known?.revision });
    if (!known) this.resort();
  }

  /** The member deleted its lease (a graceful stop): gone at once, frozen or not. */
  left(id: string): void {
    if (this.sightings.delete(id)) this.resort();
  }

  /** This instance cannot hear the others: nobody is dropped until `thaw`. */
  freeze(): void {
    this.frozen = true;
  }

  /**
   * This instance hears again: every known member counts as seen now, so each
   * has a full lease TTL to show it is still there.
   */
  thaw(nowMs: number): void {
    this.frozen = false;
    this.lastSweepMs = nowMs;
    this.refreshAll(nowMs);
  }

  get hearing(): boolean {
    return !this.frozen;
  }

  /** Drops the members not heard of for a lease TTL; returns them (none while frozen). */
  sweep(nowMs: number): readonly string[] {
    const previousSweepMs = this.lastSweepMs;
    this.lastSweepMs = nowMs;
    if (this.frozen) return [];
    if (previousSweepMs !== undefined && nowMs - previousSweepMs > this.options.blindGapMs) {
      this.refreshAll(nowMs);
      return [];
    }
    const dropped: string[] = [];
    for (const [id, sighting] of this.sightings) {
      if (nowMs - sighting.atMs >= this.options.leaseTtlMs) dropped.push(id);
    }
    for (const id of dropped) this.sightings.delete(id);
    if (dropped.length > 0) this.resort();
    return dropped.sort();
  }

  /** The live members, sorted, this instance included. */
  members(): readonly string[] {
    return this.sorted;
  }

  private refreshAll(nowMs: number): void {
    for (const sighting of this.sightings.values()) sighting.atMs = nowMs;
  }

  private resort(): void {
    this.sorted = [this.options.self, ...this.sightings.keys()].sort();
  }
}
