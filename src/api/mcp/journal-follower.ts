/**
 * Following the daemon's journal for resource update notifications: live from
 * the event hub inside the daemon, by polling `backend.events()` outside it.
 */
import type { Logger } from "pino";
import type { EventHub, Subscription } from "../../events/event-hub.js";
import { ApiError } from "../api-error.js";
import type { QueryBackend } from "../query-backend.js";
import { errorCode, errorMessage } from "./mcp-errors.js";

const DEFAULT_POLL_INTERVAL_MS = 500;
const EVENTS_PAGE = 500;
const MAX_PAGES_PER_POLL = 20;

/** What the server needs of a journal event: which adapter (or endpoint) it is about. */
export interface JournalMark {
  subject: string;
}

/** New events, or "gap": events were pruned unread, so anything may have changed. */
export type JournalDelivery = (events: readonly JournalMark[] | "gap") => void;

export interface JournalFollower {
  /** Settles once the follower knows where "now" is in the journal (or failed to learn it). */
  readonly ready: Promise<void>;
  close(): void;
}

export interface JournalFollowing {
  /** Inside the daemon: its event hub, followed live. */
  hub?: EventHub | undefined;
  /** Without a hub: the polling period (default 500 ms). */
  pollIntervalMs?: number | undefined;
  /** Where polling reports trouble; must not write to stdout under stdio. */
  logger?: Logger | undefined;
}

/** Follows the journal from now on: the hub's when there is one, else `backend`'s by polling. */
export function followJournal(
  backend: QueryBackend,
  how: JournalFollowing,
  deliver: JournalDelivery,
): JournalFollower {
  return how.hub
    ? followHub(how.hub, deliver)
    : followByPolling(backend, how.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, deliver, how.logger);
}

/** Inside the daemon: committed events, live, from the hub. */
function followHub(hub: EventHub, deliver: (events: readonly JournalMark[]) => void) {
  let subscription: Subscription | undefined = hub.subscribe(hub.newestSeq(), deliver);
  return {
    ready: Promise.resolve(),
    close: () => {
      subscription?.close();
      subscription = undefined;
    },
  } satisfies JournalFollower;
}

/**
 * Outside the daemon: polls `backend.events({since, limit})`. Starts from the
 * journal's newest seq (`healthCheck().journal.newest_seq`); an expired cursor
 * (CURSOR_EXPIRED) restarts from the oldest kept event and reports a gap.
 */
function followByPolling(
  backend: QueryBackend,
  intervalMs: number,
  deliver: JournalDelivery,
  logger: Logger | undefined,
): JournalFollower {
  let since: number | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastProblem = "";

  const report = (error: unknown) => {
    const problem = `${errorCode(error)}: ${errorMessage(error)}`;
    if (problem !== lastProblem) {
      logger?.warn({ problem, backend: backend.description }, "cannot follow the daemon's events");
    }
    lastProblem = problem;
  };

  const poll = async (): Promise<void> => {
    try {
      if (since === undefined) {
        since = (await backend.healthCheck()).journal.newest_seq ?? 0;
        return;
      }
      for (let pages = 0; pages < MAX_PAGES_PER_POLL && !closed; pages++) {
        const page = await backend.events({ since, limit: EVENTS_PAGE });
        if (closed) return;
        since = Math.max(since, page.next_since);
        if (page.events.length > 0) deliver(page.events);
        if (page.events.length < EVENTS_PAGE) break;
      }
      lastProblem = "";
    } catch (error) {
      if (errorCode(error) === "CURSOR_EXPIRED") {
        // Events were pruned before we read them: resume from the oldest kept (or from now).
        const oldest = error instanceof ApiError ? error.extra.oldest_seq : undefined;
        since = typeof oldest === "number" ? Math.max(0, oldest - 1) : undefined;
        if (!closed) deliver("gap");
        return;
      }
      report(error);
    }
  };

  const loop = () => {
    timer = setTimeout(async () => {
      await poll();
      if (!closed) loop();
    }, intervalMs);
    timer.unref();
  };

  const ready = poll().then(() => {
    if (!closed) loop();
  });
  return {
    ready,
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
  };
}
