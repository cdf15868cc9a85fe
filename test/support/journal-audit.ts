import BetterSqlite3 from "better-sqlite3";

/** What a daemon's database holds after a crash or an outage, checked against itself. */
export interface JournalAudit {
  integrity: string;
  /** Events in the journal, and its lowest and highest seq. */
  events: number;
  lowSeq: number;
  highSeq: number;
  /** Seq numbers missing between the lowest and the highest. */
  gaps: number;
  /** Adapters whose stored verdict is not the `to` of their last `adapter.health_changed`. */
  unmatchedStates: string[];
  /** Adapters whose stored breaker state is not what their last breaker event says. */
  unmatchedBreakers: string[];
  /** Adapters with a verdict other than `unknown` (each one matched by its last event). */
  judged: number;
  /** Adapters whose committed breaker is open. */
  openBreakers: string[];
}

const BREAKER_EVENT_STATE: Record<string, string> = {
  "breaker.opened": "open",
  "breaker.half_opened": "half-open",
  "breaker.closed": "closed",
};

/**
 * Reads the database at `dbPath` (read-only; the daemon may be stopped, killed or
 * running) and checks the journal against the states it explains.
 */
export function auditJournal(dbPath: string): JournalAudit {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = String(db.pragma("integrity_check", { simple: true }));
    const bounds = db
      .prepare("SELECT MIN(seq) AS low, MAX(seq) AS high, COUNT(*) AS n FROM events")
      .get() as { low: number | null; high: number | null; n: number };
    const lowSeq = bounds.low ?? 0;
    const highSeq = bounds.high ?? 0;
    const states = db
      .prepare("SELECT adapter_id, status, breaker_state FROM adapter_health")
      .all() as { adapter_id: string; status: string; breaker_state: string | null }[];
    const lastOfType = (types: string[]) =>
      new Map(
        (
          db
            .prepare(
              `SELECT subject, type, json_extract(data, '$.to') AS status FROM events
               WHERE seq IN (SELECT MAX(seq) FROM events WHERE type IN (${types.map(() => "?").join(", ")}) GROUP BY subject)`,
            )
            .all(...types) as { subject: string; type: string; status: string | null }[]
        ).map((row) => [row.subject, row]),
      );
    const lastHealth = lastOfType(["adapter.health_changed"]);
    const lastBreaker = lastOfType(Object.keys(BREAKER_EVENT_STATE));
    const unmatchedStates: string[] = [];
    const unmatchedBreakers: string[] = [];
    const openBreakers: string[] = [];
    let judged = 0;
    for (const state of states) {
      const change = lastHealth.get(state.adapter_id);
      if (
        state.status === "unknown"
          ? change !== undefined && change.status !== "unknown"
          : change?.status !== state.status
      ) {
        unmatchedStates.push(
          `${state.adapter_id}: stored ${state.status}, last event ${change?.status ?? "none"}`,
        );
      }
      if (state.status !== "unknown") judged++;
      const breaker = state.breaker_state ?? "closed";
      if (breaker === "open") openBreakers.push(state.adapter_id);
      const breakerEvent = lastBreaker.get(state.adapter_id);
      const told = breakerEvent ? BREAKER_EVENT_STATE[breakerEvent.type] : "closed";
      if (told !== breaker) {
        unmatchedBreakers.push(`${state.adapter_id}: stored ${breaker}, last event says ${told}`);
      }
    }
    return {
      integrity,
      events: bounds.n,
      lowSeq,
      highSeq,
      gaps: bounds.n === 0 ? 0 : highSeq - lowSeq + 1 - bounds.n,
      unmatchedStates,
      unmatchedBreakers,
      judged,
      openBreakers,
    };
  } finally {
    db.close();
  }
}
