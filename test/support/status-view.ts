import type { AdapterStatusView } from "../../src/domain/status-view.js";

/**
 * A complete adapter status, as the API answers it, for tests: healthy, checked,
 * usable. Project, domain, category and provider are read from an id of the
 * `project.domain.category.provider` shape; other ids get a storage/s3 adapter of
 * project "p". `overrides` win over everything.
 */
export function statusView(
  id: string,
  overrides: Partial<AdapterStatusView> = {},
): AdapterStatusView {
  const parts = id.split(".");
  const [project, domain, category, provider] =
    parts.length === 4 ? parts : ["p", "adapter", "storage", "s3"];
  return {
    adapter_id: id,
    project: project as string,
    domain: domain as string,
    category: category as string,
    provider: provider as string,
    status: "healthy",
    since: "2026-12-02T07:00:00.000Z",
    last_checked: "2026-12-02T07:59:55.000Z",
    latency_ms: 3,
    source: "probe",
    stale: false,
    reason: "HTTP 200",
    registry_status: "healthy",
    registry_disagrees: false,
    flapping: false,
    breaker: "closed",
    maintenance: null,
    usable: true,
    health_check_url: "",
    ...overrides,
  };
}
