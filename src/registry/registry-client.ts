import { readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type ChannelCredentials,
  type ClientOptions,
  credentials,
  status as grpcStatus,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import type { AdapterEntry } from "../domain/adapter.js";
import {
  AdapterRegistryClient,
  AdapterRegistryService,
  AdapterEntry as WireAdapterEntry,
} from "../gen/oneiric/registry/v1/registry.js";

/** Entries decoded between two turns of the event loop. */
const ENTRIES_PER_SLICE = 500;

/** ListResponse's only field: `repeated AdapterEntry adapters = 1`. */
const ADAPTERS_FIELD = 1;
const WIRE_TYPE_NAMES = [
  "varint",
  "64-bit",
  "length-delimited",
  "start-group",
  "end-group",
  "32-bit",
];

function wireTypeName(wireType: number): string {
  return `${wireType} (${WIRE_TYPE_NAMES[wireType] ?? "invalid"})`;
}

/**
 * The bytes answering ListAdapters decode, but not as a ListResponse: most
 * likely another message (a HealthCheckResponse, a HeartbeatResponse) from a
 * misrouted proxy or a different service on the registry's port. Decoded the
 * lenient protobuf way, such an answer would read as an empty catalog.
 */
export class NotAListResponseError extends Error {
  constructor(readonly detail: string) {
    super(`registry answer is not a ListResponse: ${detail}`);
    this.name = "NotAListResponseError";
  }

  /** An answer of `count` entries none of which has an adapter_id. */
  static noIds(count: number): NotAListResponseError {
    return new NotAListResponseError(
      `none of its ${count} ${count === 1 ? "entry has" : "entries have"} an adapter_id`,
    );
  }
}

/**
 * Decodes a `ListResponse` (field 1: repeated AdapterEntry) a slice of entries
 * at a time, giving the event loop a turn between slices: a catalog of 10,000
 * entries is 1.6 MB whose decoding in one piece held every query and event
 * stream for tens of milliseconds.
 *
 * Unknown fields are skipped, as the generated decoder does, so a newer
 * registry may add fields. But protobuf's leniency would also read any other
 * message as "no adapters", which the catalog sync would take as "remove them
 * all"; so an answer is refused ({@link NotAListResponseError}) when
 * - field 1 arrives with a wire type other than length-delimited;
 * - it has bytes but no field 1 at all, only unknown fields;
 * - it has entries and none of them has an adapter_id.
 * Empty bytes are a valid, empty catalog (proto3 encodes `{ adapters: [] }` so).
 */
export async function decodeListInSlices(
  bytes: Uint8Array,
  perSlice = ENTRIES_PER_SLICE,
): Promise<AdapterEntry[]> {
  const reader = new BinaryReader(bytes);
  const entries: AdapterEntry[] = [];
  const unknownFields = new Set<number>();
  let inSlice = 0;
  while (reader.pos < reader.len) {
    // tag() refuses field number 0 and wire types 6 and 7 (not protobuf at all).
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === ADAPTERS_FIELD) {
      if (wireType !== WireType.LengthDelimited) {
        throw new NotAListResponseError(
          `field 1 (adapters) has wire type ${wireTypeName(wireType)}, expected ${wireTypeName(WireType.LengthDelimited)}`,
        );
      }
      entries.push(fromWireEntry(WireAdapterEntry.decode(reader, reader.uint32())));
      if (++inSlice === perSlice) {
        inSlice = 0;
        await nextTurn();
      }
      continue;
    }
    unknownFields.add(fieldNo);
    // Throws on an end-group tag without its start: malformed, not merely unknown.
    reader.skip(wireType, fieldNo);
  }
  if (entries.length === 0 && bytes.length > 0) {
    throw new NotAListResponseError(
      `its ${bytes.length} bytes hold no field 1 (adapters), only field(s) unknown to it: ${[...unknownFields].join(", ")}`,
    );
  }
  if (entries.length > 0 && entries.every((entry) => entry.adapterId.trim() === "")) {
    throw NotAListResponseError.noIds(entries.length);
  }
  return entries;
}

/** Why a registry call failed, in terms the daemon acts on. */
export type RegistryErrorKind =
  | "unavailable"
  | "timeout"
  | "not_found"
  | "rejected"
  /** An error status (INTERNAL, UNKNOWN, UNIMPLEMENTED) or bytes that are not protobuf. */
  | "bad_response"
  /** Decodable bytes of the wrong message: see {@link NotAListResponseError}. */
  | "bad_answer"
  | "circuit_open"
  | "overloaded";

export class RegistryError extends Error {
  readonly code = "REGISTRY_ERROR";
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

export interface ListFilter {
  project?: string;
  domain?: string;
  category?: string;
  healthyOnly?: boolean;
}

export interface RegistryHealth {
  healthy: boolean;
  status: string;
  message: string;
}

/** Told about every query, for metrics. */
export type QueryObserver = (
  operation: string,
  result: "ok" | RegistryErrorKind,
  seconds: number,
) => void;

export interface RegistryClientOptions {
  host: string;
  port: number;
  timeoutMs: number;
  useTls: boolean;
  tlsCaPath?: string | undefined;
  tlsCertPath?: string | undefined;
  tlsKeyPath?: string | undefined;
  /** Supplies the bearer token sent with every call, when the registry wants a JWT. */
  tokens?: { token(): Promise<string> } | undefined;
  observe?: QueryObserver;
}

/** The registry's read and heartbeat RPCs over one reused gRPC channel. */
export interface Registry {
  readonly endpoint: string;
  listAdapters(filter?: ListFilter): Promise<AdapterEntry[]>;
  /**
   * ListAdapters with the answer's bytes handed to `read`, within the call: a
   * `NotAListResponseError` from it fails the call as `bad_answer`, any other
   * error as `bad_response`, exactly as for {@link listAdapters}.
   */
  readListAdapters<T>(filter: ListFilter, read: (answer: Uint8Array) => Promise<T>): Promise<T>;
  getAdapter(adapterId: string): Promise<AdapterEntry>;
  checkAdapterHealth(adapterId: string): Promise<RegistryHealth>;
  sendHeartbeat(adapterId: string): Promise<boolean>;
  close(): void;
}

export function fromWireEntry(wire: WireAdapterEntry): AdapterEntry {
  return {
    adapterId: wire.adapterId,
    project: wire.project,
    domain: wire.domain,
    category: wire.category,
    provider: wire.provider,
    capabilities: [...wire.capabilities],
    factoryPath: wire.factoryPath,
    healthCheckUrl: wire.healthCheckUrl,
    metadata: { ...wire.metadata },
    registeredAt: wire.registeredAt,
    lastHeartbeat: wire.lastHeartbeat,
    // Checked and normalised by checkEntry before use.
    registryStatus: wire.healthStatus as AdapterEntry["registryStatus"],
  };
}

/**
 * A gRPC client of the Oneiric registry. One channel is shared by every call;
 * keepalive notices a dead peer; every call carries a deadline; calls made while
 * the channel is down fail fast instead of queueing without bound.
 */
export class GrpcRegistryClient implements Registry {
  readonly endpoint: string;
  private readonly client: AdapterRegistryClient;

  constructor(private readonly options: RegistryClientOptions) {
    this.endpoint = `${options.host}:${options.port}`;
    const channelOptions: ClientOptions = {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.initial_reconnect_backoff_ms": 500,
      "grpc.max_reconnect_backoff_ms": 30_000,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    };
    this.client = new AdapterRegistryClient(
      this.endpoint,
      channelCredentials(options),
      channelOptions,
    );
  }

  listAdapters(filter: ListFilter = {}): Promise<AdapterEntry[]> {
    // The answer arrives as bytes and is decoded in slices (see decodeListInSlices).
    return this.readListAdapters(filter, (bytes) => decodeListInSlices(bytes));
  }

  readListAdapters<T>(filter: ListFilter, read: (answer: Uint8Array) => Promise<T>): Promise<T> {
    const method = AdapterRegistryService.listAdapters;
    return this.call<T>("ListAdapters", (metadata, callOptions, done) =>
      this.client.makeUnaryRequest<Parameters<typeof method.requestSerialize>[0], Buffer>(
        method.path,
        method.requestSerialize,
        (bytes) => bytes,
        {
          project: filter.project ?? "",
          domain: filter.domain ?? "",
          category: filter.category ?? "",
          healthyOnly: filter.healthyOnly ?? false,
        },
        metadata,
        callOptions,
        (error, bytes) => {
          if (error || bytes === undefined) {
            done(error, undefined);
            return;
          }
          read(bytes).then(
            (value) => done(null, value),
            (decodeError: unknown) =>
              done(
                null,
                undefined,
                decodeError instanceof NotAListResponseError
                  ? new RegistryError(
                      "bad_answer",
                      `ListAdapters: the answer of registry ${this.endpoint} is not a ListResponse: ${decodeError.detail}`,
                    )
                  : `answer could not be decoded: ${decodeError instanceof Error ? decodeError.message : String(decodeError)}`,
              ),
          );
        },
      ),
    );
  }

  getAdapter(adapterId: string): Promise<AdapterEntry> {
    return this.call("GetAdapter", (metadata, callOptions, done) =>
      this.client.getAdapter({ adapterId }, metadata, callOptions, (error, response) => {
        if (!error && !response?.adapter) {
          done(null, undefined, "GetAdapter answered without an adapter");
          return;
        }
        done(error, response?.adapter ? fromWireEntry(response.adapter) : undefined);
      }),
    );
  }

  checkAdapterHealth(adapterId: string): Promise<RegistryHealth> {
    return this.call("HealthCheck", (metadata, callOptions, done) =>
      this.client.healthCheck({ adapterId }, metadata, callOptions, (error, response) =>
        done(error, response ? { ...response } : undefined),
      ),
    );
  }

  sendHeartbeat(adapterId: string): Promise<boolean> {
    return this.call("Heartbeat", (metadata, callOptions, done) =>
      this.client.heartbeat({ adapterId }, metadata, callOptions, (error, response) =>
        done(error, response?.registered),
      ),
    );
  }

  close(): void {
    this.client.close();
  }

  private async call<T>(
    operation: string,
    start: (
      metadata: Metadata,
      callOptions: { deadline: Date; waitForReady: boolean },
      /** `problem` says why an answer without an error status is unusable. */
      done: (
        error: ServiceError | null,
        value: T | undefined,
        problem?: string | RegistryError,
      ) => void,
    ) => void,
  ): Promise<T> {
    const began = performance.now();
    const metadata = new Metadata();
    if (this.options.tokens) {
      metadata.set("authorization", `Bearer ${await this.options.tokens.token()}`);
    }
    return new Promise<T>((resolve, reject) => {
      start(
        metadata,
        // waitForReady false: while disconnected a call fails at once rather than queueing.
        { deadline: new Date(Date.now() + this.options.timeoutMs), waitForReady: false },
        (error, value, problem) => {
          const seconds = (performance.now() - began) / 1000;
          if (error || value === undefined) {
            const failure = error
              ? toRegistryError(operation, this.endpoint, error, this.options.useTls)
              : problem instanceof RegistryError
                ? problem
                : new RegistryError("bad_response", `${operation}: ${problem ?? "empty response"}`);
            this.options.observe?.(operation, failure.kind, seconds);
            reject(failure);
            return;
          }
          this.options.observe?.(operation, "ok", seconds);
          resolve(value);
        },
      );
    });
  }
}

function channelCredentials(options: RegistryClientOptions): ChannelCredentials {
  if (!options.useTls) return credentials.createInsecure();
  const read = (path: string | undefined) => (path ? readFileSync(path) : null);
  return credentials.createSsl(
    read(options.tlsCaPath),
    read(options.tlsKeyPath),
    read(options.tlsCertPath),
  );
}

const TLS_TROUBLE = /certificate|ssl|tls|handshake|self[- ]signed|unable to verify|alert/i;

function toRegistryError(
  operation: string,
  endpoint: string,
  error: ServiceError,
  useTls: boolean,
): RegistryError {
  const detail = error.details || error.message;
  if (useTls && error.code === grpcStatus.UNAVAILABLE && TLS_TROUBLE.test(detail)) {
    return new RegistryError(
      "rejected",
      `${operation}: TLS handshake with registry ${endpoint} failed (check tls_ca_path and the client certificate): ${detail}`,
    );
  }
  switch (error.code) {
    case grpcStatus.NOT_FOUND:
      return new RegistryError("not_found", `${operation}: not found: ${detail}`);
    case grpcStatus.DEADLINE_EXCEEDED:
      return new RegistryError(
        "timeout",
        `${operation}: registry ${endpoint} did not answer in time`,
      );
    case grpcStatus.UNAVAILABLE:
      return new RegistryError(
        "unavailable",
        `${operation}: registry ${endpoint} unavailable: ${detail}`,
      );
    case grpcStatus.UNAUTHENTICATED:
    case grpcStatus.PERMISSION_DENIED:
      return new RegistryError(
        "rejected",
        `${operation}: registry ${endpoint} refused the call: ${detail}`,
      );
    case grpcStatus.INTERNAL:
    case grpcStatus.UNIMPLEMENTED:
    case grpcStatus.UNKNOWN:
      return new RegistryError(
        "bad_response",
        `${operation}: registry ${endpoint} answered badly: ${detail}`,
      );
    default:
      return new RegistryError("unavailable", `${operation}: registry ${endpoint}: ${detail}`);
  }
}
