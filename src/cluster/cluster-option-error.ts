/**
 * An option of the NATS link or the membership that cannot be used. `option` names
 * it as the caller passed it (`servers[1]`, `tls.caPath`, `instanceId`), so the
 * wiring can map it back to its config key; configuration problems exit 78.
 */
export class ClusterOptionError extends Error {
  readonly code = "CLUSTER_OPTION_INVALID";

  constructor(
    readonly option: string,
    readonly problem: string,
  ) {
    super(`${option}: ${problem}`);
    this.name = "ClusterOptionError";
  }
}
