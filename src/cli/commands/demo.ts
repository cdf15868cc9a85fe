/** `oneiric-healthd demo`: the daemon and an embedded simulator, printing the journal as it grows. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { logVerbosity, setLogVerbosity } from "@grpc/grpc-js";
import { type ConfigOverrides, type DaemonConfig, parseConfigText } from "../../config/load.js";
import { AddressInUseError } from "../../lifecycle/address-in-use.js";
import { createLogger, type RunningDaemon, startDaemon } from "../../main.js";
import { parseListenAddress } from "../../simulator/listen-address.js";
import { loadScenarioFile } from "../../simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../simulator/simulator.js";
import { cliInvocation, PACKAGE_ROOT, pathFrom, shellWord } from "../cli-invocation.js";
import type { CommandLine } from "../command-spec.js";
import type { DEMO_COMMAND } from "../command-specs.js";
import { DemoEventPrinter } from "../demo-event-printer.js";
import { demoGuide } from "../demo-guide.js";
import { untilStopSignal } from "../process-signals.js";
import { UsageError } from "../usage-error.js";

const DEMO_SCENARIO = join(PACKAGE_ROOT, "examples", "scenarios", "demo.yaml");
const EXAMPLE_WORKFLOWS = join(PACKAGE_ROOT, "examples", "workflows", "example-workflows.yaml");
/** A free port on loopback, chosen by the operating system when the listener binds. */
const FREE_LOOPBACK_PORT = "127.0.0.1:0";
/** The simulator's default: it is the demo's own, so any free port does. */
const DEMO_SIMULATOR_LISTEN = FREE_LOOPBACK_PORT;
/** How long the demo waits for its daemon to be ready before printing where to look anyway. */
const READY_WAIT_MS = 15_000;

export async function demoCommand({ values }: CommandLine<typeof DEMO_COMMAND>): Promise<number> {
  // --duration and "ready in" count from here: what a person waits for.
  const startedAt = performance.now();
  const scenarioPath = values.scenario ?? DEMO_SCENARIO;
  const durationSec = values.duration === undefined ? undefined : Number(values.duration);
  if (durationSec !== undefined && !(durationSec > 0))
    throw new UsageError("--duration must be a positive number of seconds");
  // --free-ports: every address not given is a free loopback port (the daemon's defaults otherwise).
  const freePort = values["free-ports"] === true ? FREE_LOOPBACK_PORT : undefined;
  const simulatorListen = values["simulator-listen"] ?? DEMO_SIMULATOR_LISTEN;
  try {
    parseListenAddress(simulatorListen);
  } catch (error) {
    throw new UsageError(`--simulator-listen: ${(error as Error).message}`);
  }
  const scenario = await loadScenarioFile(scenarioPath);
  // grpc-js writes its own line to stderr when a bind fails ("E No address added …"); the demo
  // says which address is taken and what to pass instead, and shows no other logs either.
  setLogVerbosity(logVerbosity.NONE);
  const simulator = await startSimulator({ scenario, listen: simulatorListen }).catch(
    (error: unknown) => {
      throw withDemoAdvice(error);
    },
  );
  const dbPath = join(mkdtempSync(join(tmpdir(), "oneiric-healthd-demo-")), "healthd.db");
  const config = demoConfig(simulator.registryPort, {
    dbPath,
    httpListen: values["http-listen"] ?? freePort,
    grpcListen: values["grpc-listen"] ?? freePort,
  });
  // The demo prints the journal; logs would only repeat it.
  const logger = createLogger("error");
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config, { logger });
  } catch (error) {
    // Nothing the demo started may outlive it: a simulator left listening would hold the process.
    await simulator.stop();
    throw withDemoAdvice(error);
  }
  let stopRequested = false;
  const stopped = untilStopSignal(() => undefined).then(() => {
    stopRequested = true;
  });
  const ready = await Promise.race([untilReady(daemon), stopped.then(() => false)]);
  process.stdout.write(
    `${introduction(simulator, scenarioPath, daemon, ready, performance.now() - startedAt)}\n`,
  );
  const cli = cliInvocation({
    packageRoot: PACKAGE_ROOT,
    cwd: process.cwd(),
    searchPath: process.env.PATH,
  });
  if (!stopRequested) {
    process.stdout.write(
      [
        demoGuide({
          cli,
          http: { host: daemon.httpAddress.address, port: daemon.httpAddress.port },
          grpc: daemon.grpcAddress,
          simulatedRegistry: simulator.registryAddress,
          dbPath,
          workflowFile: pathFrom(process.cwd(), EXAMPLE_WORKFLOWS),
          exampleAdapterId: simulator.adapters[0]?.adapterId,
        }),
        ...(scenarioPath === DEMO_SCENARIO
          ? [
              "Below, one line per change: adapters discovered and checked, one slow, one flapping, one",
              "failing now and then, one dying at 45 s and recovering at 100 s.",
            ]
          : ["Below, one line per change, as the scenario scripts them."]),
        "A breaker that stays open is mentioned again at most once a minute. Ctrl-C stops the demo.",
        "",
      ].join("\n"),
    );
  }
  const printer = new DemoEventPrinter();
  let afterSeq = 0;
  const printNewEvents = () => {
    const events = daemon.readEvents(afterSeq, 500);
    afterSeq = events.at(-1)?.seq ?? afterSeq;
    for (const line of printer.lines(events, Date.now())) process.stdout.write(`${line}\n`);
  };
  const printing = setInterval(printNewEvents, 250);
  await (durationSec === undefined
    ? stopped
    : Promise.race([
        delay(Math.max(0, durationSec * 1000 - (performance.now() - startedAt))),
        stopped,
      ]));
  clearInterval(printing);
  printNewEvents();
  await daemon.stop();
  await simulator.stop();
  // The file outlives the daemon: `status --db` reads last-known state with nothing running.
  process.stdout.write(
    `demo stopped; state kept in ${dbPath}, read it with: ${cli} status --db ${shellWord(dbPath)}\n`,
  );
  return 0;
}

/** Whether the daemon says it is ready within READY_WAIT_MS. */
async function untilReady(daemon: RunningDaemon): Promise<boolean> {
  const deadline = performance.now() + READY_WAIT_MS;
  while (!daemon.queries.readiness().ready) {
    if (performance.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

function introduction(
  simulator: RunningSimulator,
  scenarioPath: string,
  daemon: RunningDaemon,
  ready: boolean,
  waitedMs: number,
): string {
  const scenario = pathFrom(process.cwd(), scenarioPath);
  const what = `oneiric-healthd demo: ${simulator.adapters.length} simulated adapters (scenario ${scenario})`;
  if (ready) return `${what}, daemon ready in ${(waitedMs / 1000).toFixed(1)} s`;
  const readiness = daemon.queries.readiness();
  const reason = readiness.ready ? "" : `: ${readiness.reason}`;
  return `${what}; daemon not ready after ${(waitedMs / 1000).toFixed(1)} s${reason}`;
}

/** What to pass instead when one of the demo's addresses is taken. */
function withDemoAdvice(error: unknown): unknown {
  if (!(error instanceof AddressInUseError)) return error;
  const flag =
    error.surface === "HTTP"
      ? "--http-listen"
      : error.surface === "gRPC"
        ? "--grpc-listen"
        : "--simulator-listen";
  return error.withHint(`pass ${flag} ${FREE_LOOPBACK_PORT} or --free-ports`);
}

/** Short intervals so the scenario's changes show within seconds. */
function demoConfig(registryPort: number, overrides: ConfigOverrides): DaemonConfig {
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
