/** Where the query commands (status, resolve, events, workflow check, mcp) get their answers. */
import {
  type BackendChoiceOptions,
  type ChosenSource,
  type ClientBackend,
  chooseBackend,
  chooseSource,
} from "../api/clients/choose-backend.js";
import type { DaemonConfig } from "../config/load.js";
import { printNotice } from "./output.js";
import { sayingWhereStorageIsSet } from "./storage-origin.js";
import { UsageError, usageOnBadParameter } from "./usage-error.js";

/** SOURCE in the usage text (SOURCE_FLAGS in command-specs.ts): see chooseSource. */
export interface SourceValues {
  url?: string | undefined;
  db?: string | undefined;
  config?: string | undefined;
}

/** The config `--config` names, if any (the parser is loaded only then). */
export async function sourceConfig(values: SourceValues): Promise<DaemonConfig | undefined> {
  if (values.config === undefined) return undefined;
  const { loadConfig } = await import("./config-source.js");
  return loadConfig(values.config, {});
}

/**
 * Who answers for `values` (see chooseSource): a daemon, or a database file
 * whose StorageErrors say where its path was set.
 */
export async function chooseQuerySource(
  values: SourceValues,
  config: DaemonConfig | undefined,
): Promise<ChosenSource> {
  return sayingWhereStorageIsSet(values, () =>
    usageOnBadParameter(() => chooseSource(choiceOptions(values, config))),
  );
}

export async function openBackend(values: SourceValues): Promise<ClientBackend> {
  const config = await sourceConfig(values);
  return sayingWhereStorageIsSet(values, () =>
    usageOnBadParameter(() => chooseBackend(choiceOptions(values, config))),
  );
}

function choiceOptions(
  values: SourceValues,
  config: DaemonConfig | undefined,
): BackendChoiceOptions {
  if (values.url !== undefined && values.db !== undefined) {
    throw new UsageError("pass --url or --db, not both");
  }
  return {
    url: values.url,
    db: values.db,
    config,
    // From the environment, never a flag: a token on the command line shows in `ps`.
    http: { token: process.env.ONEIRIC_HEALTHD_TOKEN },
    notice: printNotice,
  };
}

/** Opens the backend `values` name, runs `work` with it and closes it, whatever happens. */
export async function withBackend<T>(
  values: SourceValues,
  work: (backend: ClientBackend) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(values);
  try {
    return await work(backend);
  } finally {
    backend.close();
  }
}
