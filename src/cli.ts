/**
 * The command line: parses arguments, calls the composition root in main.ts,
 * formats what comes back, and maps failures to exit codes.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { Logger } from "pino";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

import { ApiError } from "./api/api-error.js";
import { type ClientBackend, chooseBackend } from "./api/clients/choose-backend.js";
import { eventsPageSchema, parseParameters } from "./api/query-service.js";
import { formatEvent, formatStatusDetail, formatStatusTable } from "./cli/format.js";
import { describeRequirement, formatCloudEvent, formatResolution } from "./cli/query-format.js";
import { checkWorkflows, formatWorkflowReport } from "./cli/workflow-check.js";
import { loadWorkflowFile, type WorkflowFile, WorkflowFileError } from "./cli/workflow-file.js";
import { ConfigError, EXIT_CONFIG } from "./config/errors.js";
import {
  type ConfigOverrides,
  type DaemonConfig,
  defaultConfig,
  loadConfigFile,
  parseConfigText,
} from "./config/load.js";
import type { CloudEvent } from "./domain/events.js";
import { coalescing } from "./lifecycle/coalescing-task.js";
import { createSystemdNotifier, type SystemdNotifier } from "./lifecycle/systemd-notifier.js";
import { createLogger, type RunningDaemon, readStatusSnapshot, startDaemon } from "./main.js";
import { packageVersion } from "./package-version.js";
import { loadScenarioFile, ScenarioError } from "./simulator/scenario.js";
import {
  DEFAULT_SIMULATOR_LISTEN,
  type SimulatorSecurity,
  startSimulator,
} from "./simulator/simulator.js";

const EXIT_USAGE = 64;
const EXIT_FAILURE = 1;
/** `workflow check`: the file itself is wrong (as opposed to a requirement not being met). */
const EXIT_INVALID_WORKFLOW = 2;
/** How long `run` lets the daemon stop (systemd's default TimeoutStopSec is 90 s; ours is tighter). */
const STOP_DEADLINE_MS = 10_000;

const USAGE = `oneiric-healthd: watches the adapters of an Oneiric adapter registry

Usage:
  oneiric-healthd run [--config FILE] [--db PATH] [--http-listen HOST:PORT] [--grpc-listen HOST:PORT]
      Run the daemon. Defaults: HTTP 127.0.0.1:8681, gRPC 127.0.0.1:8682, registry localhost:8679.
  oneiric-healthd status [ID] [--json] [--db PATH | --config FILE]
      Last-known status from the database file; works while the daemon is stopped.
  oneiric-healthd simulate --scenario FILE [--listen HOST:PORT] [--watch-interval-ms MS]
        [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--jwt-secret-env VAR [--jwt-project P]]
      Serve a simulated registry (default ${DEFAULT_SIMULATOR_LISTEN}) and adapter health endpoints,
      optionally requiring TLS, mTLS (client certificates signed by --tls-client-ca) and an HS256 JWT.
      Watch streams see a scripted change within --watch-interval-ms (default 100).
  oneiric-healthd check-config FILE
      Validate a config file and exit (0 valid, 78 invalid).
  oneiric-healthd demo [--scenario FILE] [--duration SEC]
      Daemon plus an embedded simulator on the demo scenario; prints what changes.

Queries (answered by a running daemon, or read from its database file while it is stopped):
  oneiric-healthd resolve DOMAIN CATEGORY [PROVIDER] [--project P] [--panic] [--json] [SOURCE]
      The adapter to use, its fallbacks in order, what is excluded and why. Exit 1 when none is usable.
  oneiric-healthd events [--since SEQ] [--limit N] [--follow] [--json] [SOURCE]
      Journal events, one line each (--json: CloudEvents, one per line); --follow streams until Ctrl-C.
  oneiric-healthd workflow check FILE [--json] [SOURCE]
      Resolves every adapter requirement of the workflows in FILE.
      Exit 0 all met, 1 some not met (with the nearest adapters), 2 invalid file (with its line).
  oneiric-healthd mcp [SOURCE]
      An MCP server on stdin/stdout with the oneiric_* tools.
  SOURCE is --url URL (a daemon's HTTP address), --db PATH (its database file, read-only) or
  --config FILE (the daemon's config: ask the daemon it names, else read its file). With none,
  the daemon at http://127.0.0.1:8681 is asked, else ./oneiric-healthd.db is read.

Exit codes: 0 ok, 1 failure, 2 invalid workflow file, 64 usage error, 78 configuration error.
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
      process.stdout.write(`oneiric-healthd ${packageVersion()}\n`);
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
    case "resolve":
      return resolveCommand(rest);
    case "events":
      return eventsCommand(rest);
    case "workflow":
      return workflowCommand(rest);
    case "mcp":
      return mcpCommand(rest);
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
  const source: ConfigSource = {
    file: values.config,
    overrides: {
      dbPath: values.db,
      httpListen: values["http-listen"],
      grpcListen: values["grpc-listen"],
    },
  };
  const config = loadConfig(source.file, source.overrides);
  const logger = createLogger(config.log.level);
  // Under systemd (Type=notify): STATUS= per start-up stage, READY=1, watchdog, STOPPING=1.
  const notifier = createSystemdNotifier(process.env, {
    logger: logger.child({ component: "systemd" }),
  });
  const daemon = await startDaemon(config, {
    logger,
    status: (text) => notifier.status(text),
  }).catch((error: unknown) => {
    notifier.status(`start failed: ${error instanceof Error ? error.message : String(error)}`);
    notifier.close();
    throw error;
  });
  const { address, port } = daemon.httpAddress;
  notifier.ready(
    `ready: ${daemon.view.size} adapters; HTTP ${address}:${port}, gRPC ${daemon.grpcAddress}`,
  );
  notifier.startWatchdog();
  // One reload at a time: SIGHUPs during a reload make one more reload after it.
  const reloads = coalescing(
    () => reloadUnderSystemd(notifier, () => reloadFromFile(daemon, source, logger)),
    (error) => logger.error({ err: error }, "configuration reload failed"),
  );
  await untilSignal(logger.warn.bind(logger), () => void reloads.run());
  const disarm = guardStop(logger, STOP_DEADLINE_MS);
  // A reload under way finishes first (it is quick): stop() must not run into it.
  await reloads.idle();
  notifier.stopping();
  notifier.stopWatchdog();
  notifier.status("stopping: finishing checks in flight, committing, closing servers");
  await daemon.stop();
  disarm();
  notifier.close();
  logger.flush();
  return 0;
}

/** Where `run` read its configuration, so SIGHUP reads the same again. */
interface ConfigSource {
  file: string | undefined;
  overrides: ConfigOverrides;
}

/**
 * A configuration reload (SIGHUP, `systemctl reload`): re-reads the file `run`
 * was started with, command-line overrides applied again, validates it and
 * applies what can change live. Never throws: an invalid file is logged at
 * ERROR naming the file, line and key, `oneiric_healthd_config_last_reload_successful`
 * goes to 0, and the daemon keeps running on its previous configuration.
 * Returns one line saying what happened (systemd's STATUS=).
 */
async function reloadFromFile(
  daemon: RunningDaemon,
  source: ConfigSource,
  logger: Logger,
): Promise<string> {
  try {
    const { needsRestart } = daemon.reload(loadConfig(source.file, source.overrides));
    return needsRestart.length > 0
      ? `configuration reloaded; needs a restart to apply ${needsRestart.join(", ")}`
      : "configuration reloaded";
  } catch (error) {
    daemon.reloadRejected();
    const message = error instanceof Error ? error.message : String(error);
    const where =
      error instanceof ConfigError
        ? { file: error.file, line: error.line, key: error.key || undefined }
        : { file: source.file, err: error };
    // ERROR, not WARN: the daemon cannot fix a bad file; a person has to.
    logger.error(
      where,
      `configuration reload failed, still running the previous configuration: ${message}`,
    );
    return `configuration reload failed, running the previous one: ${message}`;
  }
}

/**
 * Arms the shutdown guards once a stop signal arrived: a second SIGTERM or
 * SIGINT exits at once (code 1), SIGHUP is ignored (its default action would
 * kill the process mid-commit), and a stop taking longer than `deadlineMs`
 * exits with code 1 and an ERROR, so a stuck client or probe cannot keep a
 * stopping daemon alive. Returns the disarm function.
 */
function guardStop(logger: Logger, deadlineMs: number): () => void {
  const exitAtOnce = (signal: NodeJS.Signals) => {
    logger.error({ signal }, `${signal} while stopping: exiting at once`);
    process.exit(EXIT_FAILURE);
  };
  const ignoreHangup = () => logger.warn("SIGHUP ignored: the daemon is stopping");
  const watchdog = setTimeout(() => {
    logger.error(`stopping took longer than ${deadlineMs / 1000} s: exiting without finishing`);
    process.exit(EXIT_FAILURE);
  }, deadlineMs);
  process.on("SIGTERM", exitAtOnce);
  process.on("SIGINT", exitAtOnce);
  process.on("SIGHUP", ignoreHangup);
  return () => {
    clearTimeout(watchdog);
    process.off("SIGTERM", exitAtOnce);
    process.off("SIGINT", exitAtOnce);
    process.off("SIGHUP", ignoreHangup);
  };
}

/**
 * Brackets a configuration reload with systemd's RELOADING=1 and READY=1, so
 * `systemctl reload` and `systemctl status` show it. `reload` returns the
 * STATUS= line sent with READY=1. A reload that throws leaves the daemon on its
 * previous configuration: READY=1 is still sent, with a STATUS= saying so, and
 * the error is rethrown for the caller to log.
 */
export async function reloadUnderSystemd(
  notifier: SystemdNotifier,
  reload: () => Promise<string>,
): Promise<void> {
  notifier.reloading();
  notifier.status("reloading the configuration");
  let outcome: string;
  try {
    outcome = await reload();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    notifier.ready(`configuration reload failed, running the previous one: ${reason}`);
    throw error;
  }
  notifier.ready(outcome);
}

const NOTHING_TO_RELOAD = "SIGHUP ignored: this command has no configuration to reload";

/**
 * Resolves on SIGTERM or SIGINT. SIGHUP calls `onHangup` (`run` reloads its
 * config); other long-running commands say there is nothing to reload.
 */
function untilSignal(
  warn: (message: string) => void,
  onHangup: () => void = () => warn(NOTHING_TO_RELOAD),
): Promise<void> {
  return new Promise((resolve) => {
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
    "watch-interval-ms": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "tls-client-ca": { type: "string" },
    "jwt-secret-env": { type: "string" },
    "jwt-project": { type: "string" },
  });
  if (!values.scenario) throw new UsageError("simulate needs --scenario FILE");
  const watchIntervalMs =
    values["watch-interval-ms"] === undefined ? undefined : Number(values["watch-interval-ms"]);
  if (watchIntervalMs !== undefined && !(Number.isInteger(watchIntervalMs) && watchIntervalMs > 0))
    throw new UsageError("--watch-interval-ms must be a positive whole number of milliseconds");
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
    ...(watchIntervalMs === undefined ? {} : { watchIntervalMs }),
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

/** Where the query commands get their answers: see chooseBackend. */
const SOURCE_OPTIONS = {
  url: { type: "string" },
  db: { type: "string" },
  config: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

async function openBackend(values: {
  url?: string | undefined;
  db?: string | undefined;
  config?: string | undefined;
}): Promise<ClientBackend> {
  if (values.url !== undefined && values.db !== undefined) {
    throw new UsageError("pass --url or --db, not both");
  }
  const config = values.config === undefined ? undefined : loadConfig(values.config, {});
  return usageOnBadParameter(() =>
    chooseBackend({
      url: values.url,
      db: values.db,
      config,
      // From the environment, never a flag: a token on the command line shows in `ps`.
      http: { token: process.env.ONEIRIC_HEALTHD_TOKEN },
      notice: (message) => process.stderr.write(`oneiric-healthd: ${message}\n`),
    }),
  );
}

/** A parameter the backend refuses came from the command line: that is a usage error. */
async function usageOnBadParameter<T>(action: () => Promise<T> | T): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (
      error instanceof ApiError &&
      (error.code === "INVALID_PARAMETER" || error.code === "UNKNOWN_PARAMETER")
    ) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

async function resolveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...SOURCE_OPTIONS,
      project: { type: "string" },
      panic: { type: "boolean" },
      json: { type: "boolean" },
    },
    3,
  );
  const [domain, category, provider] = positionals;
  if (domain === undefined || category === undefined) {
    throw new UsageError("resolve needs DOMAIN and CATEGORY (and optionally PROVIDER)");
  }
  const requirement = {
    domain,
    category,
    ...(provider === undefined ? {} : { provider }),
    ...(values.project === undefined ? {} : { project: values.project }),
    // Without --panic the daemon's configured default (resolution.panic) applies.
    ...(values.panic ? { panic: true } : {}),
  };
  const backend = await openBackend(values);
  try {
    const answer = await usageOnBadParameter(() => backend.resolve(requirement));
    process.stdout.write(
      values.json
        ? `${JSON.stringify(answer, null, 2)}\n`
        : formatResolution(answer, backend.description),
    );
    if (answer.choice !== null && !answer.panic) return 0;
    // The reason already names the requirement and why each candidate is out.
    process.stderr.write(`oneiric-healthd: ${answer.reason}\n`);
    return EXIT_FAILURE;
  } finally {
    backend.close();
  }
}

async function eventsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    ...SOURCE_OPTIONS,
    since: { type: "string" },
    limit: { type: "string" },
    follow: { type: "boolean" },
    json: { type: "boolean" },
  });
  const page = await usageOnBadParameter(() =>
    parseParameters(
      eventsPageSchema,
      {
        ...(values.since === undefined ? {} : { since: values.since }),
        ...(values.limit === undefined ? {} : { limit: values.limit }),
      },
      "option",
    ),
  );
  const print = (event: CloudEvent) =>
    process.stdout.write(`${values.json ? JSON.stringify(event) : formatCloudEvent(event)}\n`);
  const backend = await openBackend(values);
  try {
    if (values.follow) {
      const stop = new AbortController();
      const abort = () => stop.abort();
      process.once("SIGINT", abort);
      process.once("SIGTERM", abort);
      try {
        // Without --since: only what happens from now on, as tail -f with no history.
        await backend.followEvents(
          values.since === undefined ? undefined : page.since,
          print,
          stop.signal,
          (message) => process.stderr.write(`oneiric-healthd: ${message}\n`),
        );
      } finally {
        process.off("SIGINT", abort);
        process.off("SIGTERM", abort);
      }
      return 0;
    }
    let answer: Awaited<ReturnType<ClientBackend["events"]>>;
    try {
      answer = await backend.events(page);
    } catch (error) {
      const oldest = error instanceof ApiError ? error.extra.oldest_seq : undefined;
      if (
        !(error instanceof ApiError) ||
        error.code !== "CURSOR_EXPIRED" ||
        values.since !== undefined
      ) {
        throw error;
      }
      // No --since asked for "from the start": that is the oldest event still kept.
      answer = await backend.events({ ...page, since: Math.max(0, Number(oldest) - 1) });
    }
    for (const event of answer.events) print(event);
    if (answer.events.length === page.limit) {
      process.stderr.write(
        `oneiric-healthd: ${page.limit} events shown; there may be more: --since ${answer.next_since}\n`,
      );
    } else if (answer.events.length === 0 && !values.json) {
      process.stderr.write(`oneiric-healthd: no events after seq ${answer.next_since}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof ApiError && error.code === "CURSOR_EXPIRED") {
      process.stderr.write(`oneiric-healthd: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  } finally {
    backend.close();
  }
}

async function workflowCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== "check") {
    throw new UsageError(
      subcommand === undefined
        ? "workflow needs a subcommand: workflow check FILE"
        : `unknown workflow subcommand ${JSON.stringify(subcommand)} (try: workflow check FILE)`,
    );
  }
  const { values, positionals } = parse(rest, { ...SOURCE_OPTIONS, json: { type: "boolean" } }, 1);
  const file = positionals[0];
  if (file === undefined) throw new UsageError("workflow check needs a FILE");
  // The file is checked before anything is asked: a broken file is broken whoever answers.
  let definitions: WorkflowFile;
  try {
    definitions = loadWorkflowFile(file);
  } catch (error) {
    if (!(error instanceof WorkflowFileError)) throw error;
    process.stderr.write(`oneiric-healthd: invalid workflow file: ${error.message}\n`);
    return EXIT_INVALID_WORKFLOW;
  }
  for (const warning of definitions.warnings) {
    process.stderr.write(`oneiric-healthd: warning: ${warning}\n`);
  }
  const backend = await openBackend(values);
  try {
    const report = await checkWorkflows(definitions, backend);
    process.stdout.write(
      values.json ? `${JSON.stringify(report, null, 2)}\n` : formatWorkflowReport(report),
    );
    if (report.met) return 0;
    const unmet = report.workflows.flatMap((workflow) =>
      workflow.requirements
        .filter((check) => !check.met)
        .map(
          (check) =>
            `${workflow.name}: ${describeRequirement(check.requirement)} (${file}:${check.line})`,
        ),
    );
    process.stderr.write(`oneiric-healthd: requirements not met: ${unmet.join("; ")}\n`);
    return EXIT_FAILURE;
  } finally {
    backend.close();
  }
}

async function mcpCommand(args: string[]): Promise<number> {
  const { values } = parse(args, SOURCE_OPTIONS);
  const backend = await openBackend(values);
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    // Loaded only here: no other command needs the MCP SDK.
    const { runMcpStdio } = await import("./api/mcp/mcp-stdio.js");
    // Ends when the client closes stdin, or on SIGINT/SIGTERM.
    await runMcpStdio(backend, { version: packageVersion(), signal: stop.signal });
    return 0;
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
    backend.close();
  }
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
