/** What SIGHUP (`systemctl reload`) does in `run`: read the configuration again and apply it. */
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.js";
import type { SystemdNotifier } from "../lifecycle/systemd-notifier.js";
import type { RunningDaemon } from "../main.js";
import { type ConfigSource, loadConfig } from "./config-source.js";

/**
 * A configuration reload (SIGHUP, `systemctl reload`): re-reads the file `run`
 * was started with, command-line overrides applied again, validates it and
 * applies what can change live. Never throws: an invalid file is logged at
 * ERROR naming the file, line and key, `oneiric_healthd_config_last_reload_successful`
 * goes to 0, and the daemon keeps running on its previous configuration.
 * Returns one line saying what happened (systemd's STATUS=).
 */
export async function reloadFromFile(
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
