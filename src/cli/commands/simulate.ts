/** `oneiric-healthd simulate`: a scripted registry and adapter health endpoints, until stopped. */
import { readFileSync } from "node:fs";
import { AddressInUseError } from "../../lifecycle/address-in-use.js";
import { loadScenarioFile } from "../../simulator/scenario.js";
import { type SimulatorSecurity, startSimulator } from "../../simulator/simulator.js";
import { DEFAULT_SIMULATOR_LISTEN } from "../../simulator/simulator-defaults.js";
import type { CommandLine } from "../command-spec.js";
import type { SIMULATE_COMMAND } from "../command-specs.js";
import { untilStopSignal } from "../process-signals.js";
import { UsageError } from "../usage-error.js";

type SimulateValues = CommandLine<typeof SIMULATE_COMMAND>["values"];

export async function simulateCommand({
  values,
}: CommandLine<typeof SIMULATE_COMMAND>): Promise<number> {
  // --scenario is required and --watch-interval-ms a positive integer: the parser checked both.
  const watchIntervalMs = values["watch-interval-ms"];
  const scenario = await loadScenarioFile(values.scenario);
  const security = securityOf(values);
  const simulator = await startSimulator({
    scenario,
    listen: values.listen ?? DEFAULT_SIMULATOR_LISTEN,
    security,
    ...(watchIntervalMs === undefined ? {} : { watchIntervalMs }),
  }).catch((error: unknown) => {
    throw error instanceof AddressInUseError
      ? error.withHint("pass --listen HOST:PORT (port 0 picks a free one)")
      : error;
  });
  const guards = [
    security.tls ? (security.tls.clientCaPem ? "mTLS" : "TLS") : "",
    security.jwt ? "JWT" : "",
  ]
    .filter(Boolean)
    .join(" + ");
  process.stdout.write(
    `simulating ${simulator.adapters.length} adapters: registry on ${simulator.registryAddress}${guards ? ` (${guards})` : ""}, health endpoints on http://${simulator.httpAddress}\n`,
  );
  await untilStopSignal((message) => process.stderr.write(`${message}\n`));
  await simulator.stop();
  return 0;
}

/** What the simulated registry demands of clients: TLS (mTLS with a client CA), a JWT. */
function securityOf(values: SimulateValues): SimulatorSecurity {
  const security: SimulatorSecurity = {};
  if (values["tls-cert"] || values["tls-key"]) {
    if (!values["tls-cert"] || !values["tls-key"]) {
      throw new UsageError("--tls-cert and --tls-key go together");
    }
    security.tls = {
      certPem: readFileSync(values["tls-cert"]),
      keyPem: readFileSync(values["tls-key"]),
      ...(values["tls-client-ca"] ? { clientCaPem: readFileSync(values["tls-client-ca"]) } : {}),
    };
  } else if (values["tls-client-ca"]) {
    throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  const secretVariable = values["jwt-secret-env"];
  if (secretVariable !== undefined) {
    // The secret is read from the environment so it never shows in `ps` output.
    const secret = process.env[secretVariable];
    if (!secret) throw new UsageError(`environment variable ${secretVariable} is not set`);
    security.jwt = { secret, ...(values["jwt-project"] ? { project: values["jwt-project"] } : {}) };
  }
  return security;
}
