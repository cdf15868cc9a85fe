import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "better-sqlite3";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class MigrationError extends Error {
  readonly code = "MIGRATION_FAILED";
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads `NNNN_name.sql` files in version order; gaps and duplicates are errors. */
export function readMigrations(directory: string): Migration[] {
  const migrations = readdirSync(directory)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) throw new MigrationError(`${file}: migration files are named NNNN_name.sql`);
      return {
        version: Number(match[1]),
        name: match[2] ?? "",
        sql: readFileSync(join(directory, file), "utf8"),
      };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new MigrationError(
        `migration ${String(index + 1).padStart(4, "0")} is missing or duplicated`,
      );
    }
  });
  return migrations;
}

function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

/**
 * Applies the migrations the database has not seen, each in its own transaction,
 * and records them. Refuses a database written by a newer daemon, and one whose
 * applied migrations were edited afterwards, since either would corrupt state.
 * Returns the versions applied now.
 */
export function migrate(
  db: Database,
  migrations: readonly Migration[],
  now: () => number,
): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = db
    .prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    .all() as { version: number; name: string; checksum: string }[];
  const known = new Map(migrations.map((migration) => [migration.version, migration]));
  for (const row of applied) {
    const migration = known.get(row.version);
    if (!migration) {
      throw new MigrationError(
        `database has migration ${row.version} (${row.name}), newer than this oneiric-healthd knows; upgrade oneiric-healthd or use another --db`,
      );
    }
    if (checksum(migration.sql) !== row.checksum) {
      throw new MigrationError(
        `migration ${row.version} (${row.name}) was changed after it was applied; landed migrations are append-only`,
      );
    }
  }
  const done = new Set(applied.map((row) => row.version));
  const record = db.prepare(
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
  );
  const appliedNow: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, checksum(migration.sql), now());
    })();
    appliedNow.push(migration.version);
  }
  return appliedNow;
}
