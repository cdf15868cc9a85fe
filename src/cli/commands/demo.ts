/** `oneiric-healthd demo`: the daemon and an embedded simulator, printing the journal as it grows. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigOverrides, type DaemonConfig, parseConfigText } from "../../config/load.js";
import { createLogger, startDaemon } from "../../main.js";
import { loadScenarioFile } from "../../simulator/scenario.js";
import { startSimulator } from "../../simulator/simulator.js";
import type { CommandLine } from "../command-spec.js";
import type { DEMO_COMMAND } from "../command-specs.js";
import { formatEvent } from "../format.js";
import { untilStopSignal } from "../process-signals.js";
import { UsageError } from "../usage-error.js";

const DEMO_SCENARIO = new URL("../../../examples/scenarios/demo.yaml", import.meta.url).pathname;

export async function demoCommand({ values }: CommandLine<typeof DEMO_COMMAND>): Promise<number> {
  const scenarioPath = values.scenario ?? DEMO_SCENARIO;
  const durationSec = values.duration === undefined ? undefined : Number(values.duration);
  if (durationSec !== undefined && !(durationSec > 0))
    throw new UsageError("--duration must be a positive number of seconds");
  const scenario = await loadScenarioFile(scenarioPath);
  const simulator = await startSimulator({ scenario, listen: "127.0.0.1:0" });
  const dbPath = join(mkdtempSync(join(tmpdir(), "oneiric-healthd-demo-")), "healthd.db");
  const port = simulator.registryAddress.slice(simulator.registryAddress.lastIndexOf(":") + 1);
  const config = demoConfig(port, {
    dbPath,
    httpListen: values["http-listen"],
    grpcListen: values["grpc-listen"],
  });
  // The demo prints the journal; logs would only repeat it.
  const logger = createLogger("error");
  const daemon = await startDaemon(config, { logger });
  const http = `http://${daemon.httpAddress.address}:${daemon.httpAddress.port}`;
  process.stdout.write(
    [
      `oneiric-healthd demo: ${simulator.adapters.length} simulated adapters (scenario ${scenarioPath})`,
      `  simulated registry   ${simulator.registryAddress}`,
      `  adapters (JSON)      curl -s ${http}/v1/adapters`,
      `  one adapter          curl -s ${http}/v1/adapters/${simulator.adapters[0]?.adapterId ?? "ID"}`,
      `  metrics              curl -s ${http}/metrics`,
      `  status table         npx oneiric-healthd status --db ${dbPath}`,
      "Watch below: adapters are discovered, checked, and change state as the scenario scripts",
      "(one is slow, one flaps, one fails now and then, one dies at 45 s and recovers at 100 s).",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  let afterSeq = 0;
  const printer = setInterval(() => {
    for (const event of daemon.readEvents(afterSeq, 500)) {
      afterSeq = event.seq;
      process.stdout.write(`${formatEvent(event)}\n`);
    }
  }, 250);
  const stopped = untilStopSignal(() => undefined);
  await (durationSec === undefined
    ? stopped
    : Promise.race([
        new Promise<void>((resolve) => setTimeout(resolve, durationSec * 1000)),
        stopped,
      ]));
  clearInterval(printer);
  await daemon.stop();
  await simulator.stop();
  process.stdout.write(`demo stopped; state kept in ${dbPath}\n`);
  return 0;
}

/** Short intervals so the scenario's changes show within seconds. */
function demoConfig(registryPort: string, overrides: ConfigOverrides): DaemonConfig {
  return parseConfigText(
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort}, timeout_sec: 2 }
healthd:
  sync: { interval_sec: 5 }
  probes: { interval_sec: 2, timeout_sec: 1.5, rise: 2, fall: 2, degraded_latency_ms: 500, stale_after_sec: 6 }
  breaker: { kind: consecutive, threshold: 4, half_open_after_sec: 10 }
  flap: { transitions: 3, window_sec: 40 }
  overrides:
    - { match: { provider: redis }, priority: 10 }
  resolution:
    requirements:
      - { domain: adapter, category: cache }
      - { domain: adapter, category: storage, provider: s3 }`,
    "(demo settings)",
    {},
    overrides,
  );
}
