/**
 * FILTER_FLAGS (command-specs.ts) as the list filter of `GET /v1/adapters`: the
 * flags given, under their query parameters' names. Kept apart from the query
 * service, so a command given no filter does not load its schemas.
 */

/** What the parser hands a command for FILTER_FLAGS. */
export interface FilterValues {
  project?: string | undefined;
  domain?: string | undefined;
  category?: string | undefined;
  provider?: string | undefined;
  status?: string | undefined;
  "healthy-only"?: boolean | undefined;
}

/** The list filter the flags ask for: only what was given (`{}` for none). */
export function listFilterOf(values: FilterValues): Record<string, string | boolean> {
  const filter: Record<string, string | boolean> = {};
  for (const key of ["project", "domain", "category", "provider", "status"] as const) {
    const value = values[key];
    if (value !== undefined) filter[key] = value;
  }
  if (values["healthy-only"]) filter.healthy_only = true;
  return filter;
}
