/** `status --watch`: picks the sources and the output, runs the watch until Ctrl-C or SIGTERM. */
import {
  automaticDaemonUrl,
  automaticDatabasePath,
  type ChosenSource,
} from "../../api/clients/choose-backend.js";
import { HttpQueryBackend } from "../../api/clients/http-query-client.js";
import { listFilterSchema, parseParameters } from "../../api/query-service.js";
import type { DaemonConfig } from "../../config/load.js";
import { printNotice } from "../output.js";
import { abortingOnStopSignal } from "../process-signals.js";
import type { SourceValues } from "../query-source.js";
import { sayingWhereStorageIsSet } from "../storage-origin.js";
import { usageOnBadParameter } from "../usage-error.js";
import { watchStatus } from "./status-watch.js";
import { jsonLinesOutput, lineOutput, terminalOutput, type WatchOutput } from "./watch-output.js";

/**
 * The same sources `status` reads, by the same rule (chooseSource): --url a
 * daemon only, --db the file only; neither, the daemon that rule asks and,
 * while it does not answer, the file that rule reads.
 */
export async function watchStatusCommand(
  values: SourceValues & { json: boolean },
  chosen: ChosenSource,
  config: DaemonConfig | undefined,
  filter: Record<string, unknown>,
): Promise<number> {
  const valid = await usageOnBadParameter(() =>
    parseParameters(listFilterSchema, filter, "option"),
  );
  const automatic = values.url === undefined && values.db === undefined;
  const daemon =
    chosen.kind === "daemon"
      ? chosen.daemon
      : automatic
        ? new HttpQueryBackend(automaticDaemonUrl(config), {
            token: process.env.ONEIRIC_HEALTHD_TOKEN,
          })
        : undefined;
  const databasePath =
    chosen.kind === "database"
      ? chosen.path
      : automatic
        ? automaticDatabasePath(config)
        : undefined;
  const write = (text: string) => process.stdout.write(text);
  const terminal = process.stdout.isTTY === true && !values.json;
  const output: WatchOutput = values.json
    ? jsonLinesOutput(write)
    : terminal
      ? terminalOutput(process.stdout)
      : lineOutput(write);
  try {
    await sayingWhereStorageIsSet(values, () =>
      abortingOnStopSignal((signal) =>
        watchStatus({
          daemon,
          databasePath,
          config,
          filter: valid,
          output,
          // On a terminal the header says who answers; notices would scribble over the frame.
          notice: terminal ? () => undefined : printNotice,
          signal,
        }),
      ),
    );
  } finally {
    output.close();
  }
  return 0;
}
