/**
 * `oneiric-healthd healthcheck`: asks a daemon its `/healthz` (or `/readyz`)
 * the way its configuration says it serves them (address, HTTP or HTTPS,
 * token), for a container's HEALTHCHECK or a script. Exit 0 live (ready), 1 not.
 */
import { readFileSync } from "node:fs";
import {
  certificateDer,
  type DaemonProbeTarget,
  probeDaemon,
} from "../../api/clients/daemon-probe.js";
import { daemonUrlFor } from "../../api/clients/daemon-url.js";
import { normalizeDaemonUrl } from "../../api/clients/http-query-client.js";
import type { DaemonConfig } from "../../config/load.js";
import type { CommandLine } from "../command-spec.js";
import type { HEALTHCHECK_COMMAND } from "../command-specs.js";
import { loadConfig } from "../config-source.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { printNotice } from "../output.js";
import { UsageError, usageOnBadParameter } from "../usage-error.js";

/** Under Docker's default HEALTHCHECK --timeout of 30 s, and the image's 5 s. */
const DEFAULT_TIMEOUT_SEC = 4;

export async function healthcheckCommand({
  values,
}: CommandLine<typeof HEALTHCHECK_COMMAND>): Promise<number> {
  const timeoutSec = values.timeout === undefined ? DEFAULT_TIMEOUT_SEC : Number(values.timeout);
  if (!(timeoutSec > 0)) throw new UsageError("--timeout must be a positive number of seconds");
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError("pass --cert and --key together (the client certificate and its key)");
  }
  // The file's address and TLS, with ${VARIABLE}s from this environment, as `run` reads it.
  const config = loadConfig(values.config, {});
  const target: DaemonProbeTarget = {
    ...(values.url === undefined
      ? fromConfig(config, values.config)
      : { baseUrl: await usageOnBadParameter(() => normalizeDaemonUrl(values.url ?? "")) }),
    path: values.ready ? "/readyz" : "/healthz",
    // From the environment, never a flag: a token on the command line shows in `ps`.
    token: process.env.ONEIRIC_HEALTHD_TOKEN || undefined,
    clientCertificate:
      values.cert === undefined || values.key === undefined
        ? undefined
        : { cert: readFlagFile("--cert", values.cert), key: readFlagFile("--key", values.key) },
    timeoutMs: timeoutSec * 1000,
  };
  const verdict = await probeDaemon(target);
  if (verdict.ok) {
    process.stdout.write(`${verdict.detail}\n`);
    return 0;
  }
  const needsClientCertificate =
    config.http.tls?.clientCaPath !== undefined && target.clientCertificate === undefined;
  printNotice(
    needsClientCertificate && verdict.status === undefined
      ? `${verdict.detail}; the daemon asks for a client certificate (healthd.http.tls.client_ca_path): pass --cert and --key`
      : verdict.detail,
  );
  return EXIT_FAILURE;
}

/**
 * The daemon the configuration describes, on this host: its listen address
 * (a wildcard means loopback), and over HTTPS trusted by the very certificate
 * it is configured to serve, so no CA or host name needs to match loopback.
 */
function fromConfig(
  config: DaemonConfig,
  file: string | undefined,
): Pick<DaemonProbeTarget, "baseUrl" | "pinnedCertificate" | "pinnedFrom"> {
  const baseUrl = daemonUrlFor(config);
  const tls = config.http.tls;
  if (!tls) return { baseUrl };
  const where = `healthd.http.tls.cert_path (${tls.certPath}${file ? `, from ${file}` : ""})`;
  let der: Buffer;
  try {
    der = certificateDer(readFileSync(tls.certPath));
  } catch (error) {
    throw new Error(
      `cannot read ${where}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { baseUrl, pinnedCertificate: der, pinnedFrom: where };
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(
      `${flag} ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
