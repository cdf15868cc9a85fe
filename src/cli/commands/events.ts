/** `oneiric-healthd events`: a page of the journal, or (--follow) the journal as it grows. */
import { ApiError } from "../../api/api-error.js";
import type { ClientBackend } from "../../api/clients/choose-backend.js";
import { eventsPageSchema, parseParameters } from "../../api/query-service.js";
import type { CloudEvent } from "../../domain/events.js";
import type { CommandLine } from "../command-spec.js";
import type { EVENTS_COMMAND } from "../command-specs.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { printNotice } from "../output.js";
import { abortingOnStopSignal } from "../process-signals.js";
import { formatCloudEvent } from "../query-format.js";
import { withBackend } from "../query-source.js";
import { usageOnBadParameter } from "../usage-error.js";

/** `--since` and `--limit`, validated (eventsPageSchema) and defaulted. */
interface EventsPage {
  since: number;
  limit: number;
}

export async function eventsCommand({
  values,
}: CommandLine<typeof EVENTS_COMMAND>): Promise<number> {
  // The parser has checked --since and --limit against the same bounds (command-specs.test.ts).
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
  return withBackend(values, async (backend) => {
    try {
      if (values.follow) {
        await abortingOnStopSignal((signal) =>
          // Without --since: only what happens from now on, as tail -f with no history.
          backend.followEvents(
            values.since === undefined ? undefined : page.since,
            print,
            signal,
            printNotice,
          ),
        );
        return 0;
      }
      const answer = await readPage(backend, page, values.since !== undefined);
      for (const event of answer.events) print(event);
      if (answer.events.length === page.limit) {
        printNotice(`${page.limit} events shown; there may be more: --since ${answer.next_since}`);
      } else if (answer.events.length === 0 && !values.json) {
        printNotice(`no events after seq ${answer.next_since}`);
      }
      return 0;
    } catch (error) {
      if (error instanceof ApiError && error.code === "CURSOR_EXPIRED") {
        printNotice(error.message);
        return EXIT_FAILURE;
      }
      throw error;
    }
  });
}

/** One page of events; an expired cursor is an error only when --since named it. */
async function readPage(backend: ClientBackend, page: EventsPage, sinceGiven: boolean) {
  try {
    return await backend.events(page);
  } catch (error) {
    const oldest = error instanceof ApiError ? error.extra.oldest_seq : undefined;
    if (!(error instanceof ApiError) || error.code !== "CURSOR_EXPIRED" || sinceGiven) {
      throw error;
    }
    // No --since asked for "from the start": that is the oldest event still kept.
    return backend.events({ ...page, since: Math.max(0, Number(oldest) - 1) });
  }
}
