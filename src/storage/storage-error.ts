/**
 * The database file cannot be used as it is: a directory, a missing or
 * read-only place, another kind of file, a schema from another version. A
 * person must mend it, so the CLI exits 78 (EX_CONFIG) and systemd does not
 * restart into the same mistake. Trouble once the file is open (disk full, I/O
 * errors) is not this: the daemon reports it and carries on.
 */
export class StorageError extends Error {
  readonly code = "STORAGE_UNUSABLE";

  constructor(
    /** The database path as it was given. */
    readonly path: string,
    /** What is wrong with it, in words a person can act on. */
    readonly problem: string,
    /** Where the path was set (`--db`, `healthd.storage.path in FILE`), when known. */
    readonly origin?: string,
  ) {
    super(`storage: ${path}: ${problem}${origin === undefined ? "" : ` (${origin})`}`);
    this.name = "StorageError";
  }

  /** This error, saying where the path was set; one that already says so is kept. */
  setBy(origin: string): StorageError {
    return this.origin === undefined ? new StorageError(this.path, this.problem, origin) : this;
  }
}
