import type { AdapterEntry } from "../../src/domain/adapter.js";

/** The `project.domain.category.provider` shape of the ids the tests use, e.g. "t.adapter.cache.redis". */
const KIND_ID = /^([^.]+)\.([^.]+)\.([^.]+)\.([^.]+)$/;

/**
 * A complete catalog entry for tests. Project, domain, category and provider
 * are read from an id of the `project.domain.category.provider` shape (so
 * "t.adapter.cache.redis" is a redis cache, as resolution expects); other ids
 * get an s3 storage adapter of "mahavishnu". `overrides` win over everything.
 */
export function catalogEntry(
  overrides: Partial<AdapterEntry> & { adapterId?: string } = {},
): AdapterEntry {
  const adapterId = overrides.adapterId ?? "t.adapter.storage.s3";
  const [, project = "mahavishnu", domain = "adapter", category = "storage", provider = "s3"] =
    KIND_ID.exec(adapterId) ?? [];
  const className = `${provider.charAt(0).toUpperCase()}${provider.slice(1)}Adapter`;
  return {
    adapterId,
    project,
    domain,
    category,
    provider,
    capabilities: ["read", "write"],
    factoryPath: `${project}.${domain}s.${category}.${provider}:${className}`,
    healthCheckUrl: `http://127.0.0.1:9000/${adapterId}/health`,
    metadata: {},
    registeredAt: 1_700_000_000,
    lastHeartbeat: 1_700_000_100,
    registryStatus: "healthy",
    ...overrides,
  };
}
