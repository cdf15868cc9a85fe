import BetterSqlite3 from "better-sqlite3";

/** What a stop or a crash must leave in the database file. */
export interface JournalSoundness {
  integrity: unknown;
  /** Events in the journal, and whether their seq runs without a gap. */
  events: number;
  contiguous: boolean;
  /** Adapters with a verdict (not unknown) whose last `health_changed` says otherwise, or is missing. */
  unmatched: string[];
  /** Verdicts other than unknown. */
  verdicts: number;
}

/** Reads the file (read-only) and reports integrity, journal gaps and unmatched verdicts. */
export function journalSoundness(dbPath: string): JournalSoundness {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    const bounds = db
      .prepare("SELECT MIN(seq) AS low, MAX(seq) AS high, COUNT(*) AS n FROM events")
      .get() as { low: number | null; high: number | null; n: number };
    const contiguous = bounds.n === 0 || bounds.n === (bounds.high ?? 0) - (bounds.low ?? 0) + 1;
    const lastChange = new Map(
      (
        db
          .prepare(
            `SELECT subject, json_extract(data, '$.to') AS status FROM events
             WHERE seq IN (SELECT MAX(seq) FROM events WHERE type = 'adapter.health_changed' GROUP BY subject)`,
          )
          .all() as { subject: string; status: string }[]
      ).map((row) => [row.subject, row.status]),
    );
    const states = db.prepare("SELECT adapter_id, status FROM adapter_health").all() as {
      adapter_id: string;
      status: string;
    }[];
    const unmatched: string[] = [];
    let verdicts = 0;
    for (const state of states) {
      if (state.status === "unknown") continue;
      verdicts++;
      if (lastChange.get(state.adapter_id) !== state.status) unmatched.push(state.adapter_id);
    }
    return { integrity, events: bounds.n, contiguous, unmatched, verdicts };
  } finally {
    db.close();
  }
}
