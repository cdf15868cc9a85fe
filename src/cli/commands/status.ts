/** `oneiric-healthd status [ID]`: last-known status, read from the database file. */
import { existsSync } from "node:fs";
import { readStatusSnapshot } from "../../offline-read-model.js";
import type { CommandLine } from "../command-spec.js";
import type { STATUS_COMMAND } from "../command-specs.js";
import { loadConfig } from "../config-source.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { formatStatusDetail, formatStatusTable } from "../format.js";
import { jsonText, printNotice } from "../output.js";

export async function statusCommand(line: CommandLine<typeof STATUS_COMMAND>): Promise<number> {
  const { values } = line;
  const config = loadConfig(values.config, {});
  const dbPath = values.db ?? config.storage.path;
  if (!existsSync(dbPath)) {
    printNotice(
      `no database at ${dbPath}; pass --db PATH or --config FILE, or start the daemon first`,
    );
    return EXIT_FAILURE;
  }
  // As the daemon's API would list them; --config adds its fixed maintenance windows.
  const snapshot = readStatusSnapshot(
    dbPath,
    Date.now(),
    values.config === undefined ? undefined : config,
  );
  const id = line.arguments.ID;
  if (id !== undefined) {
    const adapter = snapshot.adapters.find((candidate) => candidate.adapter_id === id);
    if (!adapter) {
      printNotice(`no adapter ${JSON.stringify(id)} in ${dbPath}`);
      return EXIT_FAILURE;
    }
    process.stdout.write(values.json ? jsonText(adapter) : formatStatusDetail(adapter));
    return 0;
  }
  process.stdout.write(values.json ? jsonText(snapshot) : formatStatusTable(snapshot, Date.now()));
  return 0;
}
