/**
 * `oneiric-healthd uptime [--window W]`: each adapter's uptime over the window,
 * as a running daemon's `GET /v1/uptime` answers it, worst first.
 */
import { ApiError } from "../../api/api-error.js";
import { daemonUrlFor } from "../../api/clients/daemon-url.js";
import { HttpQueryBackend } from "../../api/clients/http-query-client.js";
import { DEFAULT_DAEMON_URL } from "../../api/clients/source-defaults.js";
import { parseParameters } from "../../api/query-service.js";
import {
  DEFAULT_UPTIME_WINDOW,
  UPTIME_WINDOWS,
  type UptimeAnswer,
  uptimeQuerySchema,
} from "../../api/uptime-query.js";
import { closestName } from "../../text/closest-name.js";
import type { CommandLine } from "../command-spec.js";
import type { UPTIME_COMMAND } from "../command-specs.js";
import { listFilterOf } from "../list-filter.js";
import { jsonText } from "../output.js";
import { sourceConfig } from "../query-source.js";
import { formatUptimeTable } from "../uptime-format.js";
import { usageOnBadParameter } from "../usage-error.js";

export async function uptimeCommand({
  values,
}: CommandLine<typeof UPTIME_COMMAND>): Promise<number> {
  const query = { ...listFilterOf(values), window: values.window ?? DEFAULT_UPTIME_WINDOW };
  // Checked before any daemon is asked: a bad flag is the same mistake whether or not one runs.
  await usageOnBadParameter(() => checkQuery(query));
  const config = await sourceConfig(values);
  const daemon = await usageOnBadParameter(
    () =>
      new HttpQueryBackend(values.url ?? (config ? daemonUrlFor(config) : DEFAULT_DAEMON_URL), {
        // From the environment, never a flag: a token on the command line shows in `ps`.
        token: process.env.ONEIRIC_HEALTHD_TOKEN,
      }),
  );
  let answer: UptimeAnswer;
  try {
    answer = await daemon.uptime(query);
  } catch (error) {
    if (error instanceof ApiError && error.code === "NOT_FOUND") {
      throw new Error(
        `${daemon.description} does not answer GET /v1/uptime (${error.message}); it may be older than this oneiric-healthd`,
      );
    }
    throw error;
  }
  process.stdout.write(values.json ? jsonText(answer) : formatUptimeTable(answer));
  return 0;
}

/**
 * Validates the flags as the daemon would their parameters; a bad --window
 * also names the window it was closest to (`--window 7`: did you mean 7d?).
 */
function checkQuery(query: { window: string }): void {
  try {
    parseParameters(uptimeQuerySchema, query, "option");
  } catch (error) {
    if (!(error instanceof ApiError) || error.extra.parameter !== "window") throw error;
    const meant = closestName(query.window, UPTIME_WINDOWS);
    if (meant === undefined) throw error;
    throw new ApiError(
      error.code,
      `${error.message}; did you mean --window ${meant}?`,
      error.extra,
    );
  }
}
