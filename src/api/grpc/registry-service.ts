import { status as GrpcStatus, type handleUnaryCall, Metadata } from "@grpc/grpc-js";
import type { AdapterEntry as CatalogEntry, HealthStatus } from "../../domain/adapter.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import type { HealthView } from "../../engine/health-view.js";
import type {
  AdapterEntry,
  AdapterRegistryServer,
  HealthCheckResponse,
  ListRequest,
} from "../../gen/oneiric/registry/v1/registry.js";

/** The daemon's verdict on one catalog entry, as the registry's fields carry it. */
interface Verdict {
  status: HealthStatus;
  /** What `healthy_only` and HealthCheck's `healthy` mean here. */
  healthy: boolean;
  reason: string;
}

function verdictOf(view: HealthView, adapterId: string): Verdict {
  const status: AdapterStatusView | undefined = view.get(adapterId);
  // A catalog entry is given a state when it is discovered; until then nothing is known.
  if (!status) return { status: "unknown", healthy: false, reason: "not checked yet" };
  // Healthy and usable: an adapter in maintenance, flapping or behind an open
  // breaker is not one a client should pick, whatever its last check said.
  const healthy = status.status === "healthy" && status.usable;
  const held = [
    status.maintenance ? "in maintenance" : "",
    status.flapping ? "flapping" : "",
    status.breaker === "open" || status.breaker === "isolated" ? `breaker ${status.breaker}` : "",
  ].filter((why) => why !== "");
  const reason =
    status.status === "healthy" && !healthy && held.length > 0
      ? `${status.reason}; not usable: ${held.join(", ")}`
      : status.reason;
  return { status: status.status, healthy, reason };
}

function toEntry(entry: CatalogEntry, verdict: Verdict): AdapterEntry {
  return {
    adapterId: entry.adapterId,
    project: entry.project,
    domain: entry.domain,
    category: entry.category,
    provider: entry.provider,
    capabilities: entry.capabilities,
    factoryPath: entry.factoryPath,
    healthCheckUrl: entry.healthCheckUrl,
    metadata: entry.metadata,
    registeredAt: entry.registeredAt,
    lastHeartbeat: entry.lastHeartbeat,
    healthStatus: verdict.status,
  };
}

function notFound(adapterId: string): { code: GrpcStatus; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set("error-code", "ADAPTER_NOT_FOUND");
  return {
    code: GrpcStatus.NOT_FOUND,
    details: `no adapter with id ${JSON.stringify(adapterId)} in the catalog`,
    metadata,
  };
}

function readOnly<Request, Response>(rpc: string): handleUnaryCall<Request, Response> {
  return (_call, callback) =>
    callback({
      code: GrpcStatus.UNIMPLEMENTED,
      details:
        `${rpc} is not served here: oneiric-healthd serves the registry's read RPCs from its ` +
        "last-known state and is read-only; send it to the Oneiric registry itself",
    });
}

/**
 * oneiric.registry.v1.AdapterRegistry's read RPCs answered from the daemon's
 * last-known state, so an existing Oneiric client can point at the daemon and
 * get its verdicts (and an answer while the registry is down). `health_status`
 * is the daemon's verdict, not the registry's: that is the point of asking it.
 */
export function createRegistryService(view: HealthView): AdapterRegistryServer {
  return {
    listAdapters(call, callback) {
      const request: ListRequest = call.request;
      const adapters = view
        .allEntries()
        .filter(
          (entry) =>
            (request.project === "" || entry.project === request.project) &&
            (request.domain === "" || entry.domain === request.domain) &&
            (request.category === "" || entry.category === request.category),
        )
        .map((entry) => ({ entry, verdict: verdictOf(view, entry.adapterId) }))
        .filter(({ verdict }) => !request.healthyOnly || verdict.healthy)
        .map(({ entry, verdict }) => toEntry(entry, verdict))
        .sort((a, b) => a.adapterId.localeCompare(b.adapterId));
      callback(null, { adapters });
    },
    getAdapter(call, callback) {
      const entry = view.entry(call.request.adapterId);
      if (!entry) {
        callback(notFound(call.request.adapterId));
        return;
      }
      callback(null, { adapter: toEntry(entry, verdictOf(view, entry.adapterId)) });
    },
    healthCheck(call, callback) {
      const entry = view.entry(call.request.adapterId);
      if (!entry) {
        callback(notFound(call.request.adapterId));
        return;
      }
      const verdict = verdictOf(view, entry.adapterId);
      const response: HealthCheckResponse = {
        healthy: verdict.healthy,
        status: verdict.status,
        message: verdict.reason,
      };
      callback(null, response);
    },
    heartbeat: readOnly("Heartbeat"),
    registerAdapter: readOnly("RegisterAdapter"),
    unregisterAdapter: readOnly("UnregisterAdapter"),
  };
}
