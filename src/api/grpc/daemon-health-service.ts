import {
  status as grpcStatus,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  type HealthServer,
} from "../../gen/grpc/health/v1/health.js";

/** The service names the daemon answers grpc.health.v1 for ("" is the whole server). */
export const DAEMON_HEALTH_SERVICES = [
  "",
  "oneiric.healthd.v1.Healthd",
  "oneiric.registry.v1.AdapterRegistry",
] as const;

/**
 * grpc.health.v1 for the daemon itself: SERVING once ready. Watch sends the
 * current status and stays open until the server shuts down.
 */
export function daemonHealthService(isReady: () => boolean): HealthServer {
  const statusOf = (service: string): HealthCheckResponse_ServingStatus | undefined => {
    if (!(DAEMON_HEALTH_SERVICES as readonly string[]).includes(service)) return undefined;
    return isReady()
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING;
  };
  return {
    check(
      call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: sendUnaryData<HealthCheckResponse>,
    ) {
      const status = statusOf(call.request.service);
      if (status === undefined) {
        callback({
          code: grpcStatus.NOT_FOUND,
          details: `unknown service ${JSON.stringify(call.request.service)}`,
        });
        return;
      }
      callback(null, { status });
    },
    watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      const status =
        statusOf(call.request.service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
      call.write({ status });
    },
  };
}
