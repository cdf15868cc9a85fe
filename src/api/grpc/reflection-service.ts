import { fileURLToPath } from "node:url";
import type { Server } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** The checkout's proto/ directory, found from this file like migrations/ is. */
export const PROTO_DIRECTORY = fileURLToPath(new URL("../../../proto/", import.meta.url));

/** Every proto file whose services the daemon serves, relative to PROTO_DIRECTORY. */
export const SERVED_PROTO_FILES = [
  "oneiric/healthd/v1/healthd.proto",
  "oneiric/registry/v1/registry.proto",
  "grpc/health/v1/health.proto",
] as const;

/**
 * Adds gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and
 * similar tools can list and call the daemon's services without the .proto
 * files. The reflection package needs descriptors, which the ts-proto code does
 * not carry, so the same .proto files it was generated from are parsed here.
 */
export function addReflection(server: Pick<Server, "addService">): void {
  const definition = loadSync([...SERVED_PROTO_FILES], {
    includeDirs: [PROTO_DIRECTORY],
    keepCase: true,
  });
  new ReflectionService(definition).addToServer(server);
}
