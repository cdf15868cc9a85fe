/**
 * `oneiric-healthd uptime [--window W]`: each adapter's uptime over the window,
 * as `GET /v1/uptime` answers it, worst first, from the source the query
 * commands use (a running daemon, else the history its database file holds).
 */
import { ApiError } from "../../api/api-error.js";
import { UPTIME_WINDOW_NAMES } from "../../api/history-queries.js";
import { parseParameters, uptimeQuerySchema } from "../../api/query-service.js";
import { closestName } from "../../text/closest-name.js";
import type { CommandLine } from "../command-spec.js";
import type { UPTIME_COMMAND } from "../command-specs.js";
import { listFilterOf } from "../list-filter.js";
import { jsonText } from "../output.js";
import { withBackend } from "../query-source.js";
import { formatUptimeTable } from "../uptime-format.js";
import { usageOnBadParameter } from "../usage-error.js";

export async function uptimeCommand({
  values,
}: CommandLine<typeof UPTIME_COMMAND>): Promise<number> {
  const query = {
    ...listFilterOf(values),
    ...(values.window === undefined ? {} : { window: values.window }),
  };
  // Checked before any source is chosen: a bad flag is the same mistake whether or not a daemon runs.
  await usageOnBadParameter(() => checkQuery(query));
  return withBackend(values, async (backend) => {
    let answer: Awaited<ReturnType<typeof backend.uptime>>;
    try {
      answer = await backend.uptime(query);
    } catch (error) {
      if (error instanceof ApiError && error.code === "NOT_FOUND" && backend.kind === "daemon") {
        throw new Error(
          `${backend.description} does not answer GET /v1/uptime (${error.message}); it may be older than this oneiric-healthd`,
        );
      }
      throw error;
    }
    process.stdout.write(values.json ? jsonText(answer) : formatUptimeTable(answer));
    return 0;
  });
}

/**
 * Validates the flags as the daemon validates its parameters; a bad --window
 * also names the window it was closest to (`--window 30`: did you mean 30d?).
 */
function checkQuery(query: { window?: string }): void {
  try {
    parseParameters(uptimeQuerySchema, query, "option");
  } catch (error) {
    if (!(error instanceof ApiError) || error.extra.parameter !== "window") throw error;
    const meant = closestName(query.window ?? "", UPTIME_WINDOW_NAMES);
    if (meant === undefined) throw error;
    throw new ApiError(
      error.code,
      `${error.message}; did you mean --window ${meant}?`,
      error.extra,
    );
  }
}
