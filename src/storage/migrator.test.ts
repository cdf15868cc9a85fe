import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Migration, MigrationError, migrate, readMigrations } from "./migrator.js";
import { MIGRATIONS_DIRECTORY } from "./sqlite-store.js";

let directory: string;
const open: Database[] = [];

function openDb(name = "state.db"): Database {
  const db = new BetterSqlite3(join(directory, name));
  open.push(db);
  return db;
}

function writeMigrations(files: Record<string, string>): string {
  const migrations = join(directory, `migrations-${Object.keys(files).join("-")}`);
  mkdirSync(migrations);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(migrations, name), sql);
  return migrations;
}

/** The error `action` throws, which must be a MigrationError. */
function migrationError(action: () => unknown): MigrationError {
  try {
    action();
  } catch (error) {
    if (error instanceof MigrationError) return error;
    throw error;
  }
  throw new Error("expected a MigrationError");
}

const tables = (db: Database) =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((row) => row.name);

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "healthd-migrator-"));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("migrate with the project's migrations", () => {
  it("applies every migration once and records it", () => {
    const migrations = readMigrations(MIGRATIONS_DIRECTORY);
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations[0]).toMatchObject({ version: 1, name: "initial" });

    const db = openDb();
    const applied = migrate(db, migrations, () => 1234);
    expect(applied).toEqual(migrations.map((migration) => migration.version));
    expect(tables(db)).toEqual(
      expect.arrayContaining([
        "adapter_health",
        "adapters",
        "daemon_meta",
        "events",
        "registry_state",
        "schema_migrations",
      ]),
    );
    const recorded = db
      .prepare("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
      .all() as { version: number; name: string; checksum: string; applied_at: number }[];
    expect(
      recorded.map(({ version, name, applied_at }) => ({ version, name, applied_at })),
    ).toEqual(migrations.map(({ version, name }) => ({ version, name, applied_at: 1234 })));
    for (const row of recorded) expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("applies nothing on a second run, also from a fresh connection", () => {
    const migrations = readMigrations(MIGRATIONS_DIRECTORY);
    migrate(openDb(), migrations, () => 1);
    const again = openDb();
    expect(migrate(again, migrations, () => 2)).toEqual([]);
    const count = again.prepare("SELECT count(*) AS n FROM schema_migrations").get() as {
      n: number;
    };
    expect(count.n).toBe(migrations.length);
  });
});

describe("migrate refusals", () => {
  const first: Migration = { version: 1, name: "first", sql: "CREATE TABLE t1 (x INTEGER);" };
  const second: Migration = { version: 2, name: "second", sql: "CREATE TABLE t2 (y INTEGER);" };

  it("applies only the migrations the database has not seen", () => {
    const db = openDb();
    expect(migrate(db, [first], () => 1)).toEqual([1]);
    expect(migrate(db, [first, second], () => 2)).toEqual([2]);
    expect(tables(db)).toEqual(["schema_migrations", "t1", "t2"]);
  });

  it("refuses a database with a migration newer than it knows, naming it", () => {
    const db = openDb();
    migrate(db, [first, second], () => 1);
    const error = migrationError(() => migrate(db, [first], () => 2));
    expect(error.message).toBe(
      "database has migration 2 (second), newer than this oneiric-healthd knows; upgrade oneiric-healthd or use another --db",
    );
    expect(error.code).toBe("MIGRATION_FAILED");
  });

  it("refuses a database whose applied migration was edited afterwards", () => {
    const db = openDb();
    migrate(db, [first], () => 1);
    const edited = { ...first, sql: "CREATE TABLE t1 (x INTEGER, z TEXT);" };
    const error = migrationError(() => migrate(db, [edited, second], () => 2));
    expect(error.message).toBe(
      "migration 1 (first) was changed after it was applied; landed migrations are append-only",
    );
    // Nothing after the refusal was applied.
    expect(tables(db)).toEqual(["schema_migrations", "t1"]);
  });

  it("rolls back a migration that fails part-way and records nothing for it", () => {
    const db = openDb();
    const broken: Migration = {
      version: 2,
      name: "broken",
      sql: "CREATE TABLE t2 (y INTEGER); INSERT INTO missing_table VALUES (1);",
    };
    expect(() => migrate(db, [first, broken], () => 1)).toThrow(/no such table: missing_table/);
    expect(tables(db)).toEqual(["schema_migrations", "t1"]);
    const versions = db.prepare("SELECT version FROM schema_migrations").all();
    expect(versions).toEqual([{ version: 1 }]);
  });
});

describe("readMigrations", () => {
  it("reads NNNN_name.sql files in version order, ignoring other files", () => {
    const migrations = writeMigrations({
      "0002_second.sql": "SELECT 2;",
      "0001_first.sql": "SELECT 1;",
      "README.md": "not a migration",
    });
    expect(readMigrations(migrations)).toEqual([
      { version: 1, name: "first", sql: "SELECT 1;" },
      { version: 2, name: "second", sql: "SELECT 2;" },
    ]);
  });

  it("rejects a gap in the versions", () => {
    const migrations = writeMigrations({ "0001_first.sql": "", "0003_third.sql": "" });
    expect(migrationError(() => readMigrations(migrations)).message).toBe(
      "migration 0002 is missing or duplicated",
    );
  });

  it("rejects a set that does not start at 0001", () => {
    const migrations = writeMigrations({ "0002_second.sql": "" });
    expect(migrationError(() => readMigrations(migrations)).message).toBe(
      "migration 0001 is missing or duplicated",
    );
  });

  it("rejects a duplicated version", () => {
    const migrations = writeMigrations({
      "0001_first.sql": "",
      "0002_a.sql": "",
      "0002_b.sql": "",
    });
    expect(migrationError(() => readMigrations(migrations)).message).toBe(
      "migration 0003 is missing or duplicated",
    );
  });

  it.each(["1_first.sql", "0001-first.sql", "0001_First.sql", "0001_.sql", "00001_first.sql"])(
    "rejects the badly named file %s",
    (name) => {
      const migrations = writeMigrations({ [name]: "" });
      expect(migrationError(() => readMigrations(migrations)).message).toBe(
        `${name}: migration files are named NNNN_name.sql`,
      );
    },
  );
});
