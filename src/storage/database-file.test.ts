import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "./sqlite-store.js";
import { StorageError } from "./storage-error.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "healthd-database-file-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const READ_ONLY = { readonly: true };
const TO_RUN_ON = { readonly: false };

/** The StorageError opening `path` as SqliteStore does throws (fails the test if none). */
function refusal(path: string, mode: { readonly: boolean }): StorageError {
  try {
    new SqliteStore({ path, ...mode }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(StorageError);
    return error as StorageError;
  }
  throw new Error(`${path} was opened`);
}

describe("opening the database file", () => {
  it.each([
    ["read-only", READ_ONLY],
    ["to run the daemon on", TO_RUN_ON],
  ])("refuses a directory, opened %s", (_how, mode) => {
    const path = join(dir, "healthd.db");
    mkdirSync(path);
    expect(refusal(path, mode).message).toBe(
      `storage: ${path}: is a directory, not a database file`,
    );
  });

  it("refuses a path whose directory does not exist, naming the directory", () => {
    const path = join(dir, "missing", "healthd.db");
    expect(refusal(path, TO_RUN_ON).message).toBe(
      `storage: ${path}: directory ${join(dir, "missing")} does not exist; create it, or point the path elsewhere`,
    );
  });

  it("refuses a path under a file", () => {
    writeFileSync(join(dir, "plain"), "x");
    const path = join(dir, "plain", "healthd.db");
    expect(refusal(path, TO_RUN_ON).message).toBe(
      `storage: ${path}: cannot be reached: a parent is not a directory`,
    );
  });

  it.each([
    ["read-only", READ_ONLY],
    ["to run the daemon on", TO_RUN_ON],
  ])("takes a YAML file for what it is, opened %s, and points at --config", (_how, mode) => {
    const path = join(dir, "healthd.yaml");
    writeFileSync(path, "# the daemon's settings\noneiric_mcp:\n  grpc_port: 8679\n");
    expect(refusal(path, mode).message).toBe(
      `storage: ${path}: is not a SQLite database; it looks like YAML: did you mean --config?`,
    );
  });

  it("says a file of another kind is not a SQLite database, without guessing", () => {
    const path = join(dir, "healthd.db");
    writeFileSync(path, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(refusal(path, TO_RUN_ON).message).toBe(`storage: ${path}: is not a SQLite database`);
  });

  it("creates a new file in a directory that takes one, and opens it read-only afterwards", () => {
    const path = join(dir, "healthd.db");
    new SqliteStore({ path }).close();
    const reader = new SqliteStore({ path, readonly: true });
    expect(reader.loadCatalog()).toEqual([]);
    reader.close();
  });

  it("names where the path was set once told", () => {
    const error = new StorageError("/x/h.db", "is a directory, not a database file");
    expect(error.setBy("healthd.storage.path in /etc/h.yaml").message).toBe(
      "storage: /x/h.db: is a directory, not a database file (healthd.storage.path in /etc/h.yaml)",
    );
    expect(error.setBy("--db").setBy("ignored").origin).toBe("--db");
  });
});
