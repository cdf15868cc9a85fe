import type { AddressInfo } from "node:net";
import type { DaemonConfig } from "../../config/load.js";
import type { Requirement } from "../../domain/resolution.js";
import type { ReplicaBatch, SnapshotEnd, SnapshotPart } from "./replica-feed.js";

/** What the front's thread starts with (its `workerData`). */
export interface FrontInit {
  config: DaemonConfig;
  logLevel: string;
  /** The main thread's clock (ms at index 0, a Float64Array's buffer) when it was given one. */
  clock: SharedArrayBuffer | undefined;
}

export type MainToFront =
  /** Listen on the public address; pass requests on to the internal API at `socketPath`. */
  | { type: "listen"; socketPath: string }
  /** The view as the front started, in parts, once it listens (see snapshotMessages). */
  | SnapshotPart
  | SnapshotEnd
  | ReplicaBatch
  /** A reload's settings and resolution options (resolution ranks by the settings' priority). */
  | { type: "reconfigure"; config: DaemonConfig }
  | { type: "close" };

export type FrontToMain =
  | { type: "listening"; address: AddressInfo }
  | { type: "failed"; message: string; code: string | undefined }
  /** Batch `seq` has been applied. */
  | { type: "applied"; seq: number }
  /** A requirement resolved by the front, to be watched for failover. */
  | { type: "asked"; requirement: Requirement; panic: boolean | undefined }
  /** The snapshot is in: the front answers its routes from now on. */
  | { type: "loaded" }
  /** How many event streams the front serves now (sent when it changes). */
  | { type: "streams"; count: number }
  /** One pino line from the front's logger. */
  | { type: "log"; line: string }
  | { type: "closed" };
