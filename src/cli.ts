/**
 * The command line: parses arguments, calls the composition root in main.ts,
 * formats what comes back, and maps failures to exit codes.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

import { formatEvent, formatStatusDetail, formatStatusTable } from "./cli/format.js";
import { ConfigError, EXIT_CONFIG } from "./config/errors.js";
import {
  type ConfigOverrides,
  type DaemonConfig,
  defaultConfig,
  loadConfigFile,
  parseConfigText,
} from "./config/load.js";
import { createLogger, readStatusSnapshot, startDaemon } from "./main.js";
import { loadScenarioFile, ScenarioError } from "./simulator/scenario.js";
import {
  DEFAULT_SIMULATOR_LISTEN,
  type SimulatorSecurity,
  startSimulator,
} from "./simulator/simulator.js";

const EXIT_USAGE = 64;
const EXIT_FAILURE = 1;

const USAGE = `oneiric-healthd: watches the adapters of an Oneiric adapter registry

Usage:
  oneiric-healthd run [--config FILE] [--db PATH] [--http-listen HOST:PORT] [--grpc-listen HOST:PORT]
      Run the daemon. Defaults: HTTP 127.0.0.1:8681, gRPC 127.0.0.1:8682, registry localhost:8679.
  oneiric-healthd status [ID] [--json] [--db PATH | --config FILE]
      Last-known status from the database file; works while the daemon is stopped.
  oneiric-healthd simulate --scenario FILE [--listen HOST:PORT]
        [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--jwt-secret-env VAR [--jwt-project P]]
      Serve a simulated registry (default ${DEFAULT_SIMULATOR_LISTEN}) and adapter health endpoints,
      optionally requiring TLS, mTLS (client certificates signed by --tls-client-ca) and an HS256 JWT.
  oneiric-healthd check-config FILE
      Validate a config file and exit (0 valid, 78 invalid).
  oneiric-healthd demo [--scenario FILE] [--duration SEC]
      Daemon plus an embedded simulator on the demo scenario; prints what changes.

Exit codes: 0 ok, 1 failure, 64 usage error, 78 configuration error.
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? EXIT_USAGE : 0;
    case "--version":
      process.stdout.write("oneiric-healthd 0.1.0\n");
      return 0;
    case "run":
      return runCommand(rest);
    case "status":
      return statusCommand(rest);
    case "simulate":
      return simulateCommand(rest);
    case "check-config":
      return checkConfigCommand(rest);
    case "demo":
      return demoCommand(rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function parse<const T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  positionals = 0,
) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length > positionals) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`,
      );
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

function loadConfig(file: string | undefined, overrides: ConfigOverrides): DaemonConfig {
  return file === undefined
    ? defaultConfig(overrides)
    : loadConfigFile(file, process.env, overrides);
}

async function runCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    config: { type: "string" },
    db: { type: "string" },
    "http-listen": { type: "string" },
    "grpc-listen": { type: "string" },
  });
  const config = loadConfig(values.config, {
    dbPath: values.db,
    httpListen: values["http-listen"],
    grpcListen: values["grpc-listen"],
  });
  const logger = createLogger(config.log.level);
  const daemon = await startDaemon(config, { logger });
  await untilSignal(logger.warn.bind(logger));
  await daemon.stop();
  logger.flush();
  return 0;
}

/** Resolves on SIGTERM or SIGINT; SIGHUP is acknowledged but not yet acted on. */
function untilSignal(warn: (message: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const onHangup = () =>
      warn(
        "SIGHUP received: configuration reload is not implemented yet; restart to apply changes",
      );
    process.on("SIGHUP", onHangup);
    const done = () => {
      process.off("SIGHUP", onHangup);
      resolve();
    };
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
  });
}

async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: "boolean" }, db: { type: "string" }, config: { type: "string" } },
    1,
  );
  const dbPath = values.db ?? loadConfig(values.config, {}).storage.path;
  if (!existsSync(dbPath)) {
    process.stderr.write(
      `oneiric-healthd: no database at ${dbPath}; pass --db PATH or --config FILE, or start the daemon first\n`,
    );
    return EXIT_FAILURE;
  }
  const snapshot = readStatusSnapshot(dbPath, Date.now());
  const id = positionals[0];
  if (id !== undefined) {
    const adapter = snapshot.adapters.find((candidate) => candidate.adapter_id === id);
    if (!adapter) {
      process.stderr.write(`oneiric-healthd: no adapter ${JSON.stringify(id)} in ${dbPath}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(
      values.json ? `${JSON.stringify(adapter, null, 2)}\n` : formatStatusDetail(adapter),
    );
    return 0;
  }
  process.stdout.write(
    values.json
      ? `${JSON.stringify(snapshot, null, 2)}\n`
      : formatStatusTable(snapshot, Date.now()),
  );
  return 0;
}

async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    scenario: { type: "string" },
    listen: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "tls-client-ca": { type: "string" },
    "jwt-secret-env": { type: "string" },
    "jwt-project": { type: "string" },
  });
  if (!values.scenario) throw new UsageError("simulate needs --scenario FILE");
  const scenario = await loadScenarioFile(values.scenario);
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
  const simulator = await startSimulator({
    scenario,
    listen: values.listen ?? DEFAULT_SIMULATOR_LISTEN,
    security,
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
  await untilSignal((message) => process.stderr.write(`${message}\n`));
  await simulator.stop();
  return 0;
}

function checkConfigCommand(args: string[]): number {
  const { positionals } = parse(args, {}, 1);
  const file = positionals[0];
  if (!file) throw new UsageError("check-config needs a FILE");
  loadConfigFile(file, process.env);
  process.stdout.write(`${file}: valid\n`);
  return 0;
}

async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    scenario: { type: "string" },
    duration: { type: "string" },
    "http-listen": { type: "string" },
    "grpc-listen": { type: "string" },
  });
  const scenarioPath =
    values.scenario ?? new URL("../examples/scenarios/demo.yaml", import.meta.url).pathname;
  const durationSec = values.duration === undefined ? undefined : Number(values.duration);
  if (durationSec !== undefined && !(durationSec > 0))
    throw new UsageError("--duration must be a positive number of seconds");
  const scenario = await loadScenarioFile(scenarioPath);
  const simulator = await startSimulator({ scenario, listen: "127.0.0.1:0" });
  const dbPath = join(mkdtempSync(join(tmpdir(), "oneiric-healthd-demo-")), "healthd.db");
  const port = simulator.registryAddress.slice(simulator.registryAddress.lastIndexOf(":") + 1);
  // Short intervals so the scenario's changes show within seconds.
  const demoConfig = parseConfigText(
    `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${port}, timeout_sec: 2 }
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
    { dbPath, httpListen: values["http-listen"], grpcListen: values["grpc-listen"] },
  );
  // The demo prints the journal; logs would only repeat it.
  const logger = createLogger("error");
  const daemon = await startDaemon(demoConfig, { logger });
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
  const stopAfter =
    durationSec === undefined
      ? undefined
      : new Promise<void>((resolve) => setTimeout(resolve, durationSec * 1000));
  await (stopAfter
    ? Promise.race([stopAfter, untilSignal(() => undefined)])
    : untilSignal(() => undefined));
  clearInterval(printer);
  await daemon.stop();
  await simulator.stop();
  process.stdout.write(`demo stopped; state kept in ${dbPath}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit at once: a lingering keep-alive socket or timer must not hold a stopped daemon open.
    process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof ScenarioError) {
      process.stderr.write(`oneiric-healthd: configuration error: ${error.message}\n`);
      process.exitCode = EXIT_CONFIG;
    } else if (error instanceof UsageError) {
      process.stderr.write(
        `oneiric-healthd: ${error.message}\nRun oneiric-healthd --help for usage.\n`,
      );
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(
        `oneiric-healthd: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = EXIT_FAILURE;
    }
  },
);
