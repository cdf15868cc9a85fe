/**
 * `oneiric-healthd status [ID]`: every adapter's status as `GET /v1/adapters`
 * lists it, from the source the query commands use: a running daemon when one
 * answers (or `--url`), else its database file, last-known state (or `--db`).
 * `--watch` keeps it current (src/cli/watch/).
 */
import { existsSync } from "node:fs";
import {
  readStatusListing,
  type StatusListing,
  type StatusSnapshot,
  snapshotOf,
} from "../../offline-view.js";
import type { CommandLine } from "../command-spec.js";
import type { STATUS_COMMAND } from "../command-specs.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { formatStatusDetail, formatStatusTable } from "../format.js";
import { listFilterOf } from "../list-filter.js";
import { jsonText, printNotice, writeListingJson } from "../output.js";
import { chooseQuerySource, sourceConfig } from "../query-source.js";
import { sayingWhereStorageIsSet } from "../storage-origin.js";
import { UsageError, usageOnBadParameter } from "../usage-error.js";

export async function statusCommand(line: CommandLine<typeof STATUS_COMMAND>): Promise<number> {
  const { values } = line;
  const id = line.arguments.ID;
  if (values.watch && id !== undefined) {
    throw new UsageError("--watch follows the whole table: pass a filter (--category, …), not ID");
  }
  const filter = listFilterOf(values);
  const filtered = Object.keys(filter).length > 0;
  // Validated before anything is asked; the schemas are loaded only when a filter is given.
  const matches = filtered ? await listFilterMatcher(filter) : undefined;
  const config = await sourceConfig(values);
  const source = await chooseQuerySource(values, config);
  if (source.kind === "database" && !existsSync(source.path)) {
    // Only --db can name a missing file: the automatic choice found none and said so.
    printNotice(
      `no database at ${source.path}; pass --db PATH, --url URL or --config FILE, or start the daemon first`,
    );
    return EXIT_FAILURE;
  }
  if (values.watch) {
    const { watchStatusCommand } = await import("../watch/status-watch-command.js");
    return watchStatusCommand(values, source, config, filter);
  }
  // A daemon's answer is printed as it came; a file's listing is made a page at a time.
  let listing: StatusListing | { snapshot: StatusSnapshot };
  let where: string;
  if (source.kind === "daemon") {
    listing = { snapshot: await source.daemon.listAdapters(filter) };
    where = source.daemon.description;
  } else {
    // The daemon's own view over the file; --config adds its fixed maintenance windows.
    const path = source.path;
    const all = await sayingWhereStorageIsSet(values, async () =>
      readStatusListing(path, Date.now(), config),
    );
    listing = matches ? { snapshot: keepMatching(snapshotOf(all), matches) } : all;
    where = source.path;
  }
  if (values.json && id === undefined) {
    if ("snapshot" in listing) process.stdout.write(jsonText(listing.snapshot));
    else writeListingJson((text) => process.stdout.write(text), listing);
    return 0;
  }
  const snapshot = "snapshot" in listing ? listing.snapshot : snapshotOf(listing);
  if (id !== undefined) {
    const adapter = snapshot.adapters.find((candidate) => candidate.adapter_id === id);
    if (!adapter) {
      printNotice(`no adapter ${JSON.stringify(id)} in ${where}`);
      return EXIT_FAILURE;
    }
    process.stdout.write(values.json ? jsonText(adapter) : formatStatusDetail(adapter));
    return 0;
  }
  process.stdout.write(formatStatusTable(snapshot, Date.now()));
  return 0;
}

type ViewMatcher = (view: StatusSnapshot["adapters"][number]) => boolean;

/** Whether a view passes `filter`, by the daemon's rule (matchesListFilter), once it is valid. */
async function listFilterMatcher(filter: Record<string, unknown>): Promise<ViewMatcher> {
  const { listFilterSchema, matchesListFilter, parseParameters } = await import(
    "../../api/query-service.js"
  );
  const valid = await usageOnBadParameter(() =>
    parseParameters(listFilterSchema, filter, "option"),
  );
  return (view) => matchesListFilter(view, valid);
}

function keepMatching(snapshot: StatusSnapshot, matches: ViewMatcher): StatusSnapshot {
  return { ...snapshot, adapters: snapshot.adapters.filter(matches) };
}
