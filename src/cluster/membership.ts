import { randomUUID } from "node:crypto";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm, type KvWatchEntry, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { MemberLiveness } from "../domain/member-liveness.js";
import { type CoalescingTask, coalescing } from "../lifecycle/coalescing-task.js";
import { withDeadline } from "../lifecycle/deadline.js";
import { ClusterOptionError } from "./cluster-option-error.js";
import type { LinkState, NatsLink } from "./nats-link.js";

export interface MembershipOptions {
  link: NatsLink;
  /** The cluster's name: instances with the same name share one members bucket. */
  cluster: string;
  /** This instance's id, its key in the bucket; stable across restarts. */
  instanceId: string;
  /** How long a lease lives unrenewed: the bucket's max age and the liveness timeout. */
  leaseTtlMs: number;
  logger: Logger;
  /** Members to assume until the first snapshot from NATS (e.g. the last view, persisted by the daemon). */
  initialMembers?: readonly string[];
  /** A monotonic clock in ms for liveness; `performance.now` by default. */
  monotonic?: () => number;
}

export interface MembershipStatus {
  /** This instance holds a lease it renewed within the last lease TTL. */
  joined: boolean;
  /** The bucket revision of this instance's lease, or null while it holds none. */
  leaseRevision: number | null;
  /** How often this instance found its lease lapsed or taken and rejoined with a new one. */
  fencedCount: number;
  members: readonly string[];
}

/** What a member writes under its key. */
export interface LeaseValue {
  instance: string;
  /** Random per process start: tells a restarted instance from its former self. */
  incarnation: string;
  started_at: string;
  renewed_at: string;
}

/** The members bucket of a cluster. */
export function membersBucketName(cluster: string): string {
  return `healthd_${cluster}_members`;
}

/** Bucket names allow letters, digits, `-` and `_`. */
const CLUSTER_NAME = /^[-\w]+$/;
/** KV keys allow letters, digits and `-/_=.`, with no `.` at either end. */
const MEMBER_ID = /^[-/=\w]+(?:\.[-/=\w]+)*$/;
/** Below a second the renewals (a third of it) would race the round trips. */
const MIN_LEASE_TTL_MS = 1_000;
/** `stop()` waits this long for a renewal in flight, then this long for the deletion. */
const STOP_WAIT_MS = 1_000;
const DELETE_BUDGET_MS = 2_000;

/**
 * One connection's worth of membership work: the bucket opened on it and the
 * watch of the bucket. A new one starts each time the link (re)connects, since
 * after a server restart the old watch's consumer may be gone without a word.
 */
interface Session {
  readonly nc: NatsConnection;
  kv?: KV;
  jsm?: JetStreamManager;
  watch?: QueuedIterator<KvWatchEntry>;
  watching: boolean;
}

/**
 * This instance's membership of its cluster, by a lease key in a JetStream KV
 * bucket: it puts its key when the link connects, renews it by compare-and-set
 * every third of the TTL, and deletes it on a graceful stop. Others are alive
 * while their renewals keep coming (the bucket's watch, and a re-listing every TTL
 * in case the watch missed some), gone when their key is deleted or has not been
 * renewed for a TTL; while this instance cannot hear (its link is down, or its own
 * renewals fail) nobody is dropped. A renewal that finds the key changed means the
 * lease lapsed or was taken: this instance is fenced, and rejoins with a new lease
 * and a fresh snapshot before it reports the member set again.
 */
export class Membership {
  private readonly self: string;
  private readonly bucket: string;
  private readonly streamName: string;
  private readonly subjectPrefix: string;
  private readonly ttlMs: number;
  private readonly incarnation = randomUUID();
  private readonly startedAt = new Date().toISOString();
  private readonly monotonic: () => number;
  private readonly logger: Logger;
  private readonly liveness: MemberLiveness;
  private readonly maintenance: CoalescingTask;
  private readonly listeners = new Set<(members: readonly string[]) => void>();
  private readonly settleWaiters = new Set<() => void>();
  private reported: readonly string[];
  private session: Session | undefined;
  private leaseRevision: number | null = null;
  /** When the lease was last put or renewed (monotonic ms). */
  private renewedAtMs: number | null = null;
  private fencedCount = 0;
  /** False from a fence until the snapshot after the rejoin: the set is not reported meanwhile. */
  private reporting = true;
  /** A snapshot of the bucket was read since the current lease was taken. */
  private settledNow = false;
  private lastSnapshotMs: number | null = null;
  /** Consecutive failed attempts to hold the lease, for one warning per episode. */
  private failures = 0;
  private warnedTrouble = false;
  private ttlChecked = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribeLink: (() => void) | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: MembershipOptions) {
    const { cluster, instanceId, leaseTtlMs } = options;
    if (typeof cluster !== "string" || !CLUSTER_NAME.test(cluster)) {
      throw new ClusterOptionError(
        "cluster",
        `${JSON.stringify(cluster)} is not a usable cluster name (letters, digits, "-" and "_")`,
      );
    }
    if (typeof instanceId !== "string" || !MEMBER_ID.test(instanceId)) {
      throw new ClusterOptionError(
        "instanceId",
        `${JSON.stringify(instanceId)} is not a usable instance id (letters, digits and "-/_=.", no "." at either end)`,
      );
    }
    if (!Number.isFinite(leaseTtlMs) || leaseTtlMs < MIN_LEASE_TTL_MS) {
      throw new ClusterOptionError(
        "leaseTtlMs",
        `${leaseTtlMs} is too short; a lease lives at least ${MIN_LEASE_TTL_MS} ms`,
      );
    }
    (options.initialMembers ?? []).forEach((id, index) => {
      if (!MEMBER_ID.test(id)) {
        throw new ClusterOptionError(
          `initialMembers[${index}]`,
          `${JSON.stringify(id)} is not a usable instance id`,
        );
      }
    });
    this.self = instanceId;
    this.bucket = membersBucketName(cluster);
    this.streamName = `KV_${this.bucket}`;
    this.subjectPrefix = `$KV.${this.bucket}.`;
    this.ttlMs = Math.round(leaseTtlMs);
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.logger = options.logger;
    this.liveness = new MemberLiveness({
      self: instanceId,
      leaseTtlMs: this.ttlMs,
      // The sweep runs every sixth of the TTL; a gap of half the TTL is this process stalling.
      blindGapMs: this.ttlMs / 2,
      assumed: options.initialMembers ?? [],
      nowMs: this.monotonic(),
    });
    this.reported = this.liveness.members();
    this.maintenance = coalescing(
      () => this.maintain(),
      (error) => this.logger.error({ err: error }, "cluster membership upkeep failed unexpectedly"),
    );
  }

  /** Joins when (and whenever) the link connects; until then the assumed members stand. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.unsubscribeLink = this.options.link.onState((state) => this.onLinkState(state));
    this.timers.push(
      setInterval(() => void this.maintenance.run(), this.ttlMs / 3),
      setInterval(() => this.sweep(), this.ttlMs / 6),
    );
    for (const timer of this.timers) timer.unref();
    this.onLinkState(this.options.link.state());
  }

  /** Live member ids, sorted, always including this instance. */
  members(): readonly string[] {
    return this.reported;
  }

  /** Calls `listener` with the new set each time the set changes; returns the function that stops it. */
  onChange(listener: (members: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Resolves true once a snapshot of the bucket has been read since this
   * instance took its current lease, or false after `timeoutMs` without one.
   */
  settled(timeoutMs: number): Promise<boolean> {
    if (this.settledNow) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.settleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.settleWaiters.add(done);
    });
  }

  status(): MembershipStatus {
    const renewedAtMs = this.renewedAtMs;
    return {
      joined:
        this.leaseRevision !== null &&
        renewedAtMs !== null &&
        this.monotonic() - renewedAtMs < this.ttlMs,
      leaseRevision: this.leaseRevision,
      fencedCount: this.fencedCount,
      members: this.reported,
    };
  }

  /**
   * Leaves: deletes this instance's key (only if it is still this lease's, not a
   * newer incarnation's), so the others drop it at once rather than after the TTL;
   * stops the timers and the watch. Takes at most about 3 s; the link stays open.
   */
  stop(): Promise<void> {
    this.stopping ??= this.leave();
    return this.stopping;
  }

  private async leave(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.unsubscribeLink?.();
    // A renewal in flight changes the revision the deletion must name.
    await withDeadline(this.maintenance.idle(), STOP_WAIT_MS, () => undefined);
    const session = this.session;
    this.endSession();
    this.liveness.freeze();
    const revision = this.leaseRevision;
    this.leaseRevision = null;
    this.renewedAtMs = null;
    if (!session?.kv || revision === null || this.options.link.state() !== "connected") return;
    try {
      let timedOut = false;
      await withDeadline(
        session.kv.delete(this.self, { previousSeq: revision }),
        DELETE_BUDGET_MS,
        () => {
          timedOut = true;
        },
      );
      if (timedOut) {
        this.logger.warn(
          "leaving the cluster timed out; the others drop this instance after the lease TTL",
        );
      } else {
        this.logger.info(
          { cluster: this.options.cluster, instance: this.self },
          "left the cluster",
        );
      }
    } catch (error) {
      if (isStaleRevision(error)) {
        this.logger.info("left the cluster; the lease had already passed to a newer incarnation");
      } else {
        this.logger.warn(
          { err: error },
          "could not delete the lease; the others drop this instance after the lease TTL",
        );
      }
    }
  }

  private onLinkState(state: LinkState): void {
    if (this.stopping) return;
    const nc = this.options.link.connection();
    if (state === "connected" && nc) {
      if (this.session?.nc === nc) return;
      this.endSession();
      this.session = { nc, watching: false };
      void this.maintenance.run();
      return;
    }
    // Cut off: silence from the others proves nothing until we hear again.
    this.endSession();
    this.liveness.freeze();
  }

  private endSession(): void {
    const session = this.session;
    this.session = undefined;
    session?.watch?.stop();
  }

  /**
   * The upkeep, never overlapping itself: open the bucket, hold the lease (put it,
   * or renew it and rejoin when fenced), read a snapshot when one is due, keep the
   * watch running, and report. Any failure leaves the set frozen until the next
   * round succeeds.
   */
  private async maintain(): Promise<void> {
    const session = this.session;
    if (!session || this.stopping) return;
    try {
      const kv = await this.openBucket(session);
      if (this.session !== session) return;
      const freshLease = await this.holdLease(kv);
      if (this.session !== session) return;
      const snapshotDue =
        this.lastSnapshotMs === null || this.monotonic() - this.lastSnapshotMs >= this.ttlMs;
      if (freshLease || !this.liveness.hearing || snapshotDue) {
        await this.readSnapshot(session, kv);
        if (this.session !== session) return;
      }
      if (!session.watching) this.watch(session, kv);
      if (!this.liveness.hearing) this.liveness.thaw(this.monotonic());
      this.recovered();
      if (!this.settledNow) {
        this.settledNow = true;
        this.reporting = true;
        this.logger.info(
          { revision: this.leaseRevision, members: this.liveness.members() },
          this.fencedCount === 0 ? "joined the cluster" : "rejoined the cluster with a new lease",
        );
      }
      this.report();
      for (const done of [...this.settleWaiters]) done();
      this.settleWaiters.clear();
    } catch (error) {
      if (this.session !== session) return;
      // Our own lease cannot be renewed: we may not hear the others either.
      this.liveness.freeze();
      this.trouble(error);
    }
  }

  private async openBucket(session: Session): Promise<KV> {
    if (session.kv) return session.kv;
    const js = jetstream(session.nc);
    const kv = await new Kvm(js).create(this.bucket, { ttl: this.ttlMs, history: 1 });
    const jsm = await jetstreamManager(session.nc);
    if (!this.ttlChecked) {
      const bucketTtlMs = (await kv.status()).ttl;
      this.ttlChecked = true;
      if (bucketTtlMs !== this.ttlMs) {
        this.logger.warn(
          { bucket: this.bucket, bucketTtlMs, leaseTtlMs: this.ttlMs },
          "the members bucket already exists with another TTL; leases expire after the bucket's, members are judged by ours: give every instance the same lease TTL",
        );
      }
    }
    session.kv = kv;
    session.jsm = jsm;
    return kv;
  }

  /** Puts or renews the lease; true when it is a new lease (first join, or a rejoin after a fence). */
  private async holdLease(kv: KV): Promise<boolean> {
    const revision = this.leaseRevision;
    if (revision !== null) {
      try {
        this.leaseRevision = await kv.update(this.self, this.leaseValue(), revision);
        this.renewedAtMs = this.monotonic();
        return false;
      } catch (error) {
        if (!isStaleRevision(error)) throw error;
        await this.fenced(kv);
      }
    }
    // The same id after a restart overwrites the old incarnation: it is this instance coming back.
    this.leaseRevision = await kv.put(this.self, this.leaseValue());
    this.renewedAtMs = this.monotonic();
    this.settledNow = false;
    return true;
  }

  private async fenced(kv: KV): Promise<void> {
    this.fencedCount++;
    this.leaseRevision = null;
    this.renewedAtMs = null;
    this.settledNow = false;
    // Ownership must be recomputed from the membership as it is now, not as it was.
    this.reporting = false;
    const holder = await kv.get(this.self).catch(() => null);
    this.logger.warn(
      { fencedCount: this.fencedCount, reason: this.fenceReason(holder) },
      "lease lapsed; rejoining as a new lease",
    );
  }

  private fenceReason(holder: KvEntry | null): string {
    if (!holder) return "the lease expired";
    if (holder.operation !== "PUT") return "the lease was deleted";
    const incarnation = leaseOf(holder)?.incarnation;
    return incarnation && incarnation !== this.incarnation
      ? `another process with this instance id holds it (incarnation ${incarnation})`
      : "the lease was rewritten";
  }

  /**
   * Reads every key in the bucket (one stream-info request for the subjects, then
   * one get per key). A listed lease at a revision not heard yet counts as heard;
   * one already heard does not (a crashed member stays listed until it expires).
   * kv.keys() would do too, but leaves an ordered consumer on the server each time.
   */
  private async readSnapshot(session: Session, kv: KV): Promise<void> {
    const jsm = session.jsm;
    if (!jsm) throw new Error("the members bucket is not open");
    const info = await jsm.streams.info(this.streamName, { subjects_filter: ">" });
    const keys = Object.keys(info.state.subjects ?? {})
      .filter((subject) => subject.startsWith(this.subjectPrefix))
      .map((subject) => subject.slice(this.subjectPrefix.length));
    const entries = await Promise.all(keys.map((key) => kv.get(key)));
    const nowMs = this.monotonic();
    for (const entry of entries) if (entry) this.take(entry, nowMs);
    this.lastSnapshotMs = nowMs;
  }

  private watch(session: Session, kv: KV): void {
    session.watching = true;
    const follow = async () => {
      const watch = await kv.watch({ include: KvWatchInclude.LastValue });
      if (this.session !== session) {
        watch.stop();
        return;
      }
      session.watch = watch;
      for await (const entry of watch) {
        if (this.session !== session) break;
        this.take(entry, this.monotonic());
        this.report();
      }
    };
    follow()
      .catch((error: unknown) => {
        if (this.session === session) this.logger.debug({ err: error }, "members watch ended");
      })
      .finally(() => {
        // The next upkeep round starts another watch, if the session still stands.
        session.watching = false;
        session.watch = undefined;
      });
  }

  private take(entry: KvEntry, nowMs: number): void {
    // Our own key is judged by our renewals, not by what we read of it.
    if (entry.key === this.self) return;
    if (entry.operation === "PUT") this.liveness.heard(entry.key, nowMs, entry.revision);
    else this.liveness.left(entry.key);
  }

  private sweep(): void {
    if (this.liveness.sweep(this.monotonic()).length > 0) this.report();
  }

  /** Tells the listeners of a changed set; not between a fence and the snapshot after it. */
  private report(): void {
    if (!this.reporting) return;
    const next = this.liveness.members();
    const previous = this.reported;
    if (sameMembers(previous, next)) return;
    this.reported = next;
    this.logger.info(
      {
        members: next,
        joined: next.filter((id) => !previous.includes(id)),
        left: previous.filter((id) => !next.includes(id)),
      },
      "cluster members changed",
    );
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (error) {
        this.logger.error({ err: error }, "a cluster membership listener threw");
      }
    }
  }

  private trouble(error: unknown): void {
    this.failures++;
    // One failed round is often the server still starting JetStream after a restart.
    if (this.failures < 2 || this.warnedTrouble) {
      this.logger.debug({ err: error }, "cluster lease upkeep failed; retrying");
      return;
    }
    this.warnedTrouble = true;
    this.logger.warn(
      { err: error, bucket: this.bucket },
      "cannot hold the cluster lease on NATS JetStream; retrying, and dropping no member meanwhile",
    );
  }

  private recovered(): void {
    if (this.warnedTrouble) {
      this.logger.info({ bucket: this.bucket }, "cluster lease held again");
    }
    this.failures = 0;
    this.warnedTrouble = false;
  }

  private leaseValue(): string {
    const value: LeaseValue = {
      instance: this.self,
      incarnation: this.incarnation,
      started_at: this.startedAt,
      renewed_at: new Date().toISOString(),
    };
    return JSON.stringify(value);
  }
}

/** The server refused a compare-and-set: the key is no longer at the revision we hold. */
function isStaleRevision(error: unknown): boolean {
  if (error instanceof JetStreamApiError) {
    return (
      error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    );
  }
  return error instanceof Error && error.message.includes("wrong last sequence");
}

function leaseOf(entry: KvEntry): Partial<LeaseValue> | undefined {
  try {
    return entry.json<Partial<LeaseValue>>();
  } catch {
    return undefined;
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}
