import type { Probe } from "./probe.js";

/** The scheme of a health URL, with its colon ("http:", "grpc:", "tcp:"). */
export function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(":") + 1);
}

/** Which schemes each probe kind handles. */
const SCHEMES_OF_KIND: Readonly<Record<string, readonly string[]>> = {
  http: ["http:", "https:"],
  grpc: ["grpc:", "grpcs:"],
  tcp: ["tcp:"],
};

/** The one table from a health URL's scheme to the probe that checks it. */
export class ProbeTable {
  private readonly byScheme = new Map<string, Probe>();

  constructor(probes: readonly Probe[]) {
    for (const probe of probes) {
      for (const scheme of SCHEMES_OF_KIND[probe.kind] ?? []) this.byScheme.set(scheme, probe);
    }
  }

  /** The probe for `url`, or undefined when no probe handles its scheme. */
  forUrl(url: string): Probe | undefined {
    return this.byScheme.get(schemeOf(url));
  }
}
