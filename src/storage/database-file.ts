/**
 * Opening the database file, and saying plainly why it cannot be: SQLite's own
 * words ("unable to open database file", "disk I/O error") are the same for a
 * directory, a missing directory, a read-only mount and a missing permission.
 * The place is checked before SQLite is asked, and SQLite's refusals while the
 * file is being opened and migrated are explained with what the checks find.
 */
import { accessSync, closeSync, constants, openSync, readSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import BetterSqlite3, { type Database, SqliteError } from "better-sqlite3";
import { StorageError } from "./storage-error.js";

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = "SQLite format 3\u0000";

/** A mapping key or a document start on the first line that is not a comment: a YAML file. */
const LOOKS_LIKE_YAML = /^(?:\s*#[^\n]*\n)*\s*(?:---|[A-Za-z_][\w.-]*\s*:)/;

export interface DatabaseFileMode {
  /** Read only: the file must exist and nothing is created beside it. */
  readonly: boolean;
}

/**
 * The database at `path`, opened; a StorageError naming the path and the cause
 * when it is not a usable database file.
 */
export function openDatabaseFile(path: string, mode: DatabaseFileMode): Database {
  checkDatabasePlace(path, mode);
  try {
    return new BetterSqlite3(path, { readonly: mode.readonly, fileMustExist: mode.readonly });
  } catch (error) {
    throw explainOpenFailure(path, mode, error);
  }
}

/** What is wrong with `path` as a database file for `mode`, checked before SQLite opens it. */
export function checkDatabasePlace(path: string, mode: DatabaseFileMode): void {
  const directory = dirname(resolve(path));
  let size: number;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new StorageError(path, "is a directory, not a database file");
    if (!stats.isFile()) throw new StorageError(path, "is not a regular file");
    size = stats.size;
  } catch (error) {
    if (error instanceof StorageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw new StorageError(path, `cannot be reached: ${describeCode(code)}`);
    if (mode.readonly) throw new StorageError(path, "no such file");
    checkDirectoryForNewFile(path, directory);
    return;
  }
  const cause = accessProblem(path, constants.R_OK);
  if (cause !== undefined) throw new StorageError(path, `is not readable: ${cause}`);
  if (size > 0) checkHeader(path);
  if (mode.readonly) return;
  const fileCause = accessProblem(path, constants.W_OK);
  if (fileCause !== undefined) throw new StorageError(path, `is not writable: ${fileCause}`);
  // SQLite creates its -wal and -shm files beside the database unless both are there to write.
  const journalWritable = [`${path}-wal`, `${path}-shm`].every(
    (file) => accessProblem(file, constants.W_OK) === undefined,
  );
  const directoryCause = journalWritable ? undefined : accessProblem(directory, constants.W_OK);
  if (directoryCause !== undefined) {
    throw new StorageError(path, journalDirectoryProblem(path, directory, directoryCause, mode));
  }
}

/** The daemon creates a missing file: its directory must be there and take new files. */
function checkDirectoryForNewFile(path: string, directory: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(directory).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StorageError(
      path,
      code === "ENOENT"
        ? `directory ${directory} does not exist; create it, or point the path elsewhere`
        : `directory ${directory} cannot be reached: ${describeCode(code)}`,
    );
  }
  if (!isDirectory) throw new StorageError(path, `${directory} is not a directory`);
  const cause = accessProblem(directory, constants.W_OK);
  if (cause !== undefined) {
    throw new StorageError(
      path,
      `cannot be created: directory ${directory} is not writable: ${cause}`,
    );
  }
}

/** SQLite's WAL keeps files beside the database: a reader too needs the shared-memory one. */
function journalDirectoryProblem(
  path: string,
  directory: string,
  cause: string,
  mode: DatabaseFileMode,
): string {
  const name = basename(path);
  const needs = mode.readonly
    ? `SQLite creates ${name}-shm beside the file to read it`
    : `SQLite creates ${name}-wal and ${name}-shm beside the file`;
  return `directory ${directory} is not writable: ${cause}; ${needs}`;
}

/** Another kind of file at the path: SQLite would only say "file is not a database" later. */
function checkHeader(path: string): void {
  const head = Buffer.alloc(512);
  const descriptor = openSync(path, "r");
  let length: number;
  try {
    length = readSync(descriptor, head, 0, head.length, 0);
  } finally {
    closeSync(descriptor);
  }
  if (head.toString("latin1", 0, SQLITE_HEADER.length) === SQLITE_HEADER) return;
  throw new StorageError(path, notDatabaseProblem(head.toString("utf8", 0, length)));
}

function notDatabaseProblem(head: string): string {
  return LOOKS_LIKE_YAML.test(head)
    ? "is not a SQLite database; it looks like YAML: did you mean --config?"
    : "is not a SQLite database";
}

/**
 * A SQLite failure while opening and migrating the file, explained. Refusals
 * of the file or its place are StorageErrors; anything else (a full disk, an
 * I/O error) keeps SQLite's words with the path and is not a StorageError:
 * it may mend itself.
 */
export function explainOpenFailure(path: string, mode: DatabaseFileMode, error: unknown): Error {
  if (error instanceof StorageError) return error;
  if (!(error instanceof SqliteError)) return error as Error;
  const code = error.code;
  if (code === "SQLITE_NOTADB") return new StorageError(path, "is not a SQLite database");
  if (code === "SQLITE_CORRUPT") {
    return new StorageError(
      path,
      `is damaged: SQLite says "${error.message}"; restore it or move it aside`,
    );
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN")) {
    const directory = dirname(resolve(path));
    const fileCause = mode.readonly ? undefined : accessProblem(path, constants.W_OK);
    if (fileCause !== undefined) return new StorageError(path, `is not writable: ${fileCause}`);
    const directoryCause = accessProblem(directory, constants.W_OK);
    if (directoryCause !== undefined) {
      return new StorageError(path, journalDirectoryProblem(path, directory, directoryCause, mode));
    }
    return new StorageError(path, `cannot be opened: SQLite says "${error.message}"`);
  }
  return new Error(`storage: ${path}: ${error.message}`, { cause: error });
}

/** Why `access(path, mode)` fails, in words, or undefined when it does not. */
function accessProblem(path: string, mode: number): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (error) {
    return describeCode((error as NodeJS.ErrnoException).code);
  }
}

function describeCode(code: string | undefined): string {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOTDIR":
      return "a parent is not a directory";
    case "ENOENT":
      return "no such file or directory";
    case "ELOOP":
      return "too many symbolic links";
    default:
      return code ?? "unknown error";
  }
}
