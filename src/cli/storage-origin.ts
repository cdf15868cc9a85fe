import { StorageError } from "../storage/storage-error.js";

/** Where a command's database path came from: `--db`, the config file, or neither. */
export interface StoragePathSource {
  db?: string | undefined;
  config?: string | undefined;
}

/** Where the database path was set, in the words a storage error ends with. */
export function storagePathOrigin(source: StoragePathSource): string {
  if (source.db !== undefined) return "--db";
  if (source.config !== undefined) return `healthd.storage.path in ${source.config}`;
  return "the default healthd.storage.path; pass --db PATH or --config FILE";
}

/** Runs `work`; a StorageError out of it says where its path was set. */
export async function sayingWhereStorageIsSet<T>(
  source: StoragePathSource,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageError) throw error.setBy(storagePathOrigin(source));
    throw error;
  }
}
