import { status } from "@grpc/grpc-js";
import type { AdapterRegistryServer } from "../gen/oneiric/registry/v1/registry.js";
import type { AdapterTable } from "./adapter-table.js";

const MESSAGES: Readonly<Record<string, string>> = {
  healthy: "adapter is healthy",
  unhealthy: "adapter is unhealthy",
  degraded: "adapter is degraded",
  unknown: "adapter health is unknown",
};

/** The `oneiric.registry.v1.AdapterRegistry` service over the simulator's table. */
export function createRegistryService(table: AdapterTable): AdapterRegistryServer {
  return {
    listAdapters(call, callback) {
      callback(null, { adapters: table.list(call.request) });
    },

    getAdapter(call, callback) {
      const adapter = table.entry(call.request.adapterId);
      if (adapter === undefined) {
        callback(notFound(call.request.adapterId));
        return;
      }
      callback(null, { adapter });
    },

    healthCheck(call, callback) {
      const registryStatus = table.registryStatus(call.request.adapterId);
      if (registryStatus === undefined) {
        callback(notFound(call.request.adapterId));
        return;
      }
      callback(null, {
        healthy: registryStatus === "healthy",
        status: registryStatus,
        message: MESSAGES[registryStatus] ?? registryStatus,
      });
    },

    heartbeat(call, callback) {
      callback(null, { registered: table.heartbeat(call.request.adapterId) });
    },

    registerAdapter(call, callback) {
      const adapter = call.request.adapter;
      if (adapter === undefined) {
        callback(null, { success: false, message: "adapter is required" });
        return;
      }
      callback(null, table.register(adapter));
    },

    unregisterAdapter(call, callback) {
      callback(null, { success: table.unregister(call.request.adapterId) });
    },
  };
}

function notFound(adapterId: string) {
  return { code: status.NOT_FOUND, details: `adapter "${adapterId}" is not registered` };
}
