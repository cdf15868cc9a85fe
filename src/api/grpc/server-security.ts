/**
 * The gRPC server's own protection: TLS/mTLS credentials, and one interceptor
 * that admits every call (any service, reflection and health included)
 * through the same AccessControl as HTTP, before a handler runs.
 */
import {
  status as GrpcStatus,
  ResponderBuilder,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  type ServerOptions,
} from "@grpc/grpc-js";
import { ApiError } from "../api-error.js";
import type { AccessControl, Requirement } from "../auth/access-control.js";
import type { TlsMaterial } from "../auth/tls-material.js";
import { toGrpcStatus } from "./status-mapping.js";

const HEALTH_PREFIX = "/grpc.health.v1.Health/";
const REFLECTION_PREFIX = "/grpc.reflection.";

export interface GrpcSecurityOptions {
  access: AccessControl;
  tls: TlsMaterial | undefined;
  /** Largest request message accepted (RESOURCE_EXHAUSTED beyond). */
  maxReceiveBytes: number;
  /** Called with admission failures that are bugs, to be logged. */
  onInternalError?: (error: unknown) => void;
}

/** What `new Server(…)` and `bindAsync(…)` take. */
export function grpcServerSecurity(options: GrpcSecurityOptions): {
  serverOptions: ServerOptions;
  credentials: ServerCredentials;
} {
  const { tls } = options;
  return {
    serverOptions: {
      interceptors: [accessInterceptor(options.access, options.onInternalError)],
      "grpc.max_receive_message_length": options.maxReceiveBytes,
    },
    credentials: tls
      ? ServerCredentials.createSsl(
          tls.clientCa ?? null,
          [{ cert_chain: tls.cert, private_key: tls.key }],
          tls.clientCa !== undefined,
        )
      : ServerCredentials.createInsecure(),
  };
}

/** The scope a method needs. Healthd and AdapterRegistry only read: no RPC needs `admin`. */
export function grpcRequirement(
  path: string,
  open: AccessControl["openPaths"],
): { requirement: Requirement; rateLimited: boolean } {
  if (path.startsWith(HEALTH_PREFIX)) {
    return open.healthz
      ? { requirement: "open", rateLimited: false }
      : { requirement: "read", rateLimited: false };
  }
  if (path.startsWith(REFLECTION_PREFIX)) {
    return { requirement: open.reflection ? "open" : "read", rateLimited: true };
  }
  return { requirement: "read", rateLimited: true };
}

/**
 * Admits a call when its metadata arrives. A refused call ends with the
 * mapped status (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED) and
 * its handler never starts; a stream (WatchEvents) is admitted, and counted, once.
 */
function accessInterceptor(
  access: AccessControl,
  onInternal: (error: unknown) => void = () => {},
): ServerInterceptor {
  return (descriptor, call: ServerInterceptingCallInterface) => {
    const { requirement, rateLimited } = grpcRequirement(descriptor.path, access.openPaths);
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const value = metadata.get("authorization")[0];
        access
          .admit({
            authorization: typeof value === "string" ? value : undefined,
            clientAddress: call.getConnectionInfo().remoteAddress ?? "unknown",
            requirement,
            rateLimited,
          })
          .then(
            (result) => {
              if (result instanceof ApiError) call.sendStatus(toGrpcStatus(result, onInternal));
              else next(metadata);
            },
            (error: unknown) => {
              onInternal(error);
              call.sendStatus({ code: GrpcStatus.INTERNAL, details: "internal error" });
            },
          );
      })
      .build();
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
}
