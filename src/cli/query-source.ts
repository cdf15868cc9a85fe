/** Where the query commands (resolve, events, workflow check, mcp) get their answers. */
import { type ClientBackend, chooseBackend } from "../api/clients/choose-backend.js";
import { loadConfig } from "./config-source.js";
import { printNotice } from "./output.js";
import { UsageError, usageOnBadParameter } from "./usage-error.js";

/** SOURCE in the usage text (SOURCE_FLAGS in command-specs.ts): see chooseBackend. */
export interface SourceValues {
  url?: string | undefined;
  db?: string | undefined;
  config?: string | undefined;
}

export async function openBackend(values: SourceValues): Promise<ClientBackend> {
  if (values.url !== undefined && values.db !== undefined) {
    throw new UsageError("pass --url or --db, not both");
  }
  const config = values.config === undefined ? undefined : loadConfig(values.config, {});
  return usageOnBadParameter(() =>
    chooseBackend({
      url: values.url,
      db: values.db,
      config,
      // From the environment, never a flag: a token on the command line shows in `ps`.
      http: { token: process.env.ONEIRIC_HEALTHD_TOKEN },
      notice: printNotice,
    }),
  );
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
