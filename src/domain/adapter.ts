/** Health as the registry or the daemon states it. */
export const HEALTH_STATUSES = ["unknown", "healthy", "degraded", "unhealthy"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export function isHealthStatus(value: string): value is HealthStatus {
  return (HEALTH_STATUSES as readonly string[]).includes(value);
}

/** One adapter as the registry describes it (the contract's `AdapterEntry`). */
export interface AdapterEntry {
  adapterId: string;
  project: string;
  domain: string;
  category: string;
  provider: string;
  capabilities: string[];
  factoryPath: string;
  /** Empty when the adapter has no health endpoint of its own. */
  healthCheckUrl: string;
  metadata: Record<string, string>;
  /** Unix seconds. */
  registeredAt: number;
  /** Unix seconds. */
  lastHeartbeat: number;
  /** What the registry says about the adapter. */
  registryStatus: HealthStatus;
}

/** Limits that keep one bad registry entry from bloating the store or the API. */
export const ENTRY_LIMITS = {
  idLength: 256,
  fieldLength: 256,
  metadataEntries: 64,
  metadataValueLength: 1024,
  urlLength: 2048,
} as const;

const NO_NOTES: readonly string[] = Object.freeze([]);

export type EntryCheck =
  | { ok: true; entry: AdapterEntry; notes: readonly string[] }
  | { ok: false; reason: string };

/**
 * Checks and normalises one entry as received from a registry.
 * An entry without an id or with an unusable health URL is rejected; fields that
 * can be repaired (an unknown status, oversized metadata) are repaired and noted.
 */
export function checkEntry(raw: AdapterEntry): EntryCheck {
  const notes: string[] = [];
  const adapterId = raw.adapterId.trim();
  if (adapterId === "") return { ok: false, reason: "entry has no adapter_id" };
  if (adapterId.length > ENTRY_LIMITS.idLength) {
    return { ok: false, reason: `adapter_id longer than ${ENTRY_LIMITS.idLength} characters` };
  }
  if (raw.healthCheckUrl !== "") {
    const urlProblem = healthUrlProblem(raw.healthCheckUrl);
    if (urlProblem) return { ok: false, reason: `health_check_url ${urlProblem}` };
  }
  let registryStatus: HealthStatus = "unknown";
  if (isHealthStatus(raw.registryStatus)) {
    registryStatus = raw.registryStatus;
  } else if (raw.registryStatus !== "") {
    notes.push(`unknown health_status ${JSON.stringify(raw.registryStatus)} treated as unknown`);
  }
  const metadata: Record<string, string> = {};
  let kept = 0;
  for (const [key, value] of Object.entries(raw.metadata)) {
    if (kept >= ENTRY_LIMITS.metadataEntries) {
      notes.push(`metadata truncated to ${ENTRY_LIMITS.metadataEntries} entries`);
      break;
    }
    if (key.length > ENTRY_LIMITS.fieldLength) {
      notes.push(`metadata ${noteKey(key)} dropped: key too long`);
      continue;
    }
    if (value.length > ENTRY_LIMITS.metadataValueLength) {
      notes.push(`metadata ${noteKey(key)} dropped: value too long`);
      continue;
    }
    metadata[key] = value;
    kept++;
  }
  const clip = (value: string) => value.slice(0, ENTRY_LIMITS.fieldLength);
  return {
    ok: true,
    // Checks are kept per catalog entry between syncs: most have no notes, and share one.
    notes: notes.length === 0 ? NO_NOTES : notes,
    entry: {
      adapterId,
      project: clip(raw.project),
      domain: clip(raw.domain),
      category: clip(raw.category),
      provider: clip(raw.provider),
      capabilities: raw.capabilities.map(clip),
      factoryPath: clip(raw.factoryPath),
      healthCheckUrl: raw.healthCheckUrl,
      metadata,
      registeredAt: raw.registeredAt,
      lastHeartbeat: raw.lastHeartbeat,
      registryStatus,
    },
  };
}

/** A metadata key as a note names it: its start only, since notes are logged. */
function noteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/** Returns why a health URL cannot be probed, or undefined when it can. */
export function healthUrlProblem(url: string): string | undefined {
  if (url.length > ENTRY_LIMITS.urlLength) return "is too long";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a URL: ${JSON.stringify(url.slice(0, 80))}`;
  }
  if (!["http:", "https:", "grpc:", "grpcs:"].includes(parsed.protocol)) {
    return `has unsupported scheme ${JSON.stringify(parsed.protocol)}`;
  }
  if (parsed.hostname === "") return "has no host";
  if ((parsed.protocol === "grpc:" || parsed.protocol === "grpcs:") && parsed.port === "") {
    return "has no port (grpc:// targets are host:port)";
  }
  return undefined;
}

/**
 * Two entries describe the same adapter the same way (used to detect catalog
 * updates). The heartbeat and the registry's health status are live readings,
 * not description: they are stored without an `adapter.updated` event.
 */
export function sameEntry(a: AdapterEntry, b: AdapterEntry): boolean {
  return (
    a.adapterId === b.adapterId &&
    a.project === b.project &&
    a.domain === b.domain &&
    a.category === b.category &&
    a.provider === b.provider &&
    a.factoryPath === b.factoryPath &&
    a.healthCheckUrl === b.healthCheckUrl &&
    a.registeredAt === b.registeredAt &&
    a.capabilities.length === b.capabilities.length &&
    a.capabilities.every((capability, index) => capability === b.capabilities[index]) &&
    sameMetadata(a.metadata, b.metadata)
  );
}

/** Metadata equality regardless of key order: protobuf map order on the wire is undefined. */
export function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
}
