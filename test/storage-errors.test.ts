import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readMigrations } from "../src/storage/migrator.js";
import { MIGRATIONS_DIRECTORY, SqliteStore } from "../src/storage/sqlite-store.js";
import { tempDir } from "./support/stack.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");
const KNOWN_VERSION = readMigrations(MIGRATIONS_DIRECTORY).length;
/** `run` never gets as far as listening in these tests; if it did, not on a fixed port. */
const LISTEN = ["--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"];
/** nobody:nogroup, for the permission checks root would pass. */
const UNPRIVILEGED = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/** The CLI as a child process; as `unprivileged`, under a user whom file modes apply to. */
async function cli(args: string[], options: { unprivileged?: boolean } = {}) {
  // Root may write a 0444 file or a 0555 directory: the CLI runs as nobody (setpriv, util-linux) then.
  const asRoot = options.unprivileged === true && process.getuid?.() === 0;
  const [command, commandArgs] = asRoot
    ? ["setpriv", [...UNPRIVILEGED, process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  try {
    const { stdout, stderr } = await run(command, commandArgs as string[], {
      env: { ...process.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe("storage errors name the path, the cause and where the path was set, and exit 78", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
    // Reachable for the unprivileged runs below.
    chmodSync(dir.path, 0o755);
  });
  afterEach(() => {
    chmodSync(dir.path, 0o755);
    dir.remove();
  });

  const daemonDatabase = (name: string) => {
    const path = join(dir.path, name);
    new SqliteStore({ path }).close();
    return path;
  };

  it.each([
    ["run", ["run", ...LISTEN]],
    ["status", ["status"]],
    ["resolve", ["resolve", "adapter", "cache"]],
  ])("%s --db DIRECTORY", async (_command, args) => {
    const result = await cli([...args, "--db", dir.path]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dir.path}: is a directory, not a database file (--db)`,
    );
  });

  it("run with healthd.storage.path in a directory that does not exist, naming the config file", async () => {
    const dbPath = join(dir.path, "missing", "healthd.db");
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(config, `healthd:\n  storage: { path: ${JSON.stringify(dbPath)} }\n`);
    const result = await cli(["run", "--config", config, ...LISTEN]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: directory ${join(dir.path, "missing")} does not exist; create it, or point the path elsewhere (healthd.storage.path in ${config})`,
    );
  });

  it.each([
    ["run", ["run", ...LISTEN]],
    ["status", ["status"]],
  ])("%s --db CONFIG.yaml says it is not a database and points at --config", async (_c, args) => {
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(config, "oneiric_mcp:\n  grpc_host: localhost\n");
    const result = await cli([...args, "--db", config]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${config}: is not a SQLite database; it looks like YAML: did you mean --config? (--db)`,
    );
  });

  it.each([
    ["run", ["run", ...LISTEN]],
    ["status", ["status"]],
  ])("%s on a database from a newer version names both versions", async (_c, args) => {
    const dbPath = daemonDatabase("healthd.db");
    const db = new BetterSqlite3(dbPath);
    db.prepare(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, 'future', 'x', 1)",
    ).run(KNOWN_VERSION + 1);
    db.close();
    const result = await cli([...args, "--db", dbPath]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: has schema version ${KNOWN_VERSION + 1}, newer than this oneiric-healthd's ${KNOWN_VERSION}: it was written by a newer oneiric-healthd; upgrade, or use another database (--db)`,
    );
  });

  it("run on a read-only database file: not writable, permission denied", async () => {
    const dbPath = daemonDatabase("healthd.db");
    chmodSync(dbPath, 0o444);
    chmodSync(dir.path, 0o777);
    const result = await cli(["run", "--db", dbPath, ...LISTEN], { unprivileged: true });
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: is not writable: permission denied (--db)`,
    );
  });

  it("run on a database in a read-only directory: SQLite could not create its WAL there", async () => {
    const place = join(dir.path, "state");
    mkdirSync(place);
    const dbPath = join(place, "healthd.db");
    new SqliteStore({ path: dbPath }).close();
    chmodSync(dbPath, 0o666);
    chmodSync(place, 0o555);
    const result = await cli(["run", "--db", dbPath, ...LISTEN], { unprivileged: true });
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: directory ${place} is not writable: permission denied; SQLite creates healthd.db-wal and healthd.db-shm beside the file (--db)`,
    );
  });

  it("run creating a database in a read-only directory", async () => {
    const place = join(dir.path, "state");
    mkdirSync(place, { mode: 0o555 });
    chmodSync(place, 0o555);
    const dbPath = join(place, "healthd.db");
    const result = await cli(["run", "--db", dbPath, ...LISTEN], { unprivileged: true });
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: cannot be created: directory ${place} is not writable: permission denied (--db)`,
    );
  });

  it("status on a database in a read-only directory: SQLite could not create its shared memory file", async () => {
    const place = join(dir.path, "state");
    mkdirSync(place);
    const dbPath = join(place, "healthd.db");
    new SqliteStore({ path: dbPath }).close();
    chmodSync(place, 0o555);
    const result = await cli(["status", "--db", dbPath], { unprivileged: true });
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: directory ${place} is not writable: permission denied; SQLite creates healthd.db-shm beside the file to read it (--db)`,
    );
  });

  it("status on a file it may not read: not readable, permission denied", async () => {
    const dbPath = daemonDatabase("healthd.db");
    chmodSync(dbPath, 0o000);
    const result = await cli(["status", "--db", dbPath], { unprivileged: true });
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: storage: ${dbPath}: is not readable: permission denied (--db)`,
    );
  });

  it("status --config, with no daemon answering, reads its file and names healthd.storage.path", async () => {
    writeFileSync(join(dir.path, "oneiric-healthd.db"), "not: a database\n");
    const config = join(dir.path, "healthd.yaml");
    // A closed daemon address, so the file is read.
    writeFileSync(
      config,
      `healthd:\n  http: { listen: "127.0.0.1:9" }\n  storage: { path: ${JSON.stringify(join(dir.path, "oneiric-healthd.db"))} }\n`,
    );
    const result = await cli(["status", "--config", config]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(
      `storage: ${join(dir.path, "oneiric-healthd.db")}: is not a SQLite database; it looks like YAML: did you mean --config? (healthd.storage.path in ${config})`,
    );
  });
});
