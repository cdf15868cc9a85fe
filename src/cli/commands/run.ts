/** `oneiric-healthd run`: the daemon, until SIGTERM or SIGINT; SIGHUP reloads its configuration. */
import { format } from "node:util";
import { setLogger } from "@grpc/grpc-js";
import { AddressInUseError } from "../../lifecycle/address-in-use.js";
import { coalescing } from "../../lifecycle/coalescing-task.js";
import { limitHeapGrowth } from "../../lifecycle/heap-growth.js";
import { createSystemdNotifier } from "../../lifecycle/systemd-notifier.js";
import { createLogger, startDaemon } from "../../main.js";
import type { CommandLine } from "../command-spec.js";
import type { RUN_COMMAND } from "../command-specs.js";
import { reloadFromFile, reloadUnderSystemd } from "../config-reload.js";
import { type ConfigSource, loadConfig } from "../config-source.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { guardStop, untilStopSignal } from "../process-signals.js";
import { sayingWhereStorageIsSet } from "../storage-origin.js";

/** How long `run` lets the daemon stop (systemd's default TimeoutStopSec is 90 s; ours is tighter). */
const STOP_DEADLINE_MS = 10_000;

export async function runCommand({ values }: CommandLine<typeof RUN_COMMAND>): Promise<number> {
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
  // grpc-js writes its own lines to stderr ("E No address added …" when a bind fails); in the
  // daemon's log they are JSON lines like every other, with their component. Its errors are
  // WARN: what needs acting on (a bind that failed, a registry out of reach) the daemon reports
  // itself, and the rest (a connection refused, a proxy setting) the library retries or ignores.
  const grpcLibrary = logger.child({ component: "grpc-js" });
  setLogger({
    error: (message?: unknown, ...rest: unknown[]) => grpcLibrary.warn(format(message, ...rest)),
    info: (message?: unknown, ...rest: unknown[]) => grpcLibrary.info(format(message, ...rest)),
    debug: (message?: unknown, ...rest: unknown[]) => grpcLibrary.debug(format(message, ...rest)),
  });
  // Under systemd (Type=notify): STATUS= per start-up stage, READY=1, watchdog, STOPPING=1.
  const notifier = createSystemdNotifier(process.env, {
    logger: logger.child({ component: "systemd" }),
  });
  // The HTTP front's thread dying ends the daemon with code 1: systemd starts it afresh.
  let frontFailed: (error: Error) => void = () => undefined;
  const frontFailure = new Promise<Error>((resolve) => {
    frontFailed = resolve;
  });
  const daemon = await sayingWhereStorageIsSet(
    { db: source.overrides.dbPath, config: source.file },
    () =>
      startDaemon(config, {
        logger,
        status: (text) => notifier.status(text),
        frontFailed: (error) => frontFailed(error),
      }),
  ).catch((error: unknown) => {
    notifier.status(`start failed: ${error instanceof Error ? error.message : String(error)}`);
    notifier.close();
    throw error instanceof AddressInUseError ? error.withHint(listenAdvice(error)) : error;
  });
  // Only once ready: restoring 100,000 adapters grows the heap from nothing, and a factor of 1.2
  // would collect it in full a dozen times on the way (about 0.5 s of the start at 100,000).
  limitHeapGrowth(process.execArgv);
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
  const failed = await Promise.race([
    untilStopSignal(logger.warn.bind(logger), () => void reloads.run()).then(() => undefined),
    frontFailure,
  ]);
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
  return failed === undefined ? 0 : EXIT_FAILURE;
}

/** Where `run`'s listen addresses come from, so the advice names both. */
function listenAdvice(error: AddressInUseError): string {
  return error.surface === "gRPC"
    ? "pass --grpc-listen HOST:PORT or change healthd.grpc.listen in the config"
    : "pass --http-listen HOST:PORT or change healthd.http.listen in the config";
}
