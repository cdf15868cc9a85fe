import { existsSync } from "node:fs";
import type { DaemonConfig } from "../../config/load.js";
import { ApiError } from "../api-error.js";
import type { QueryBackend } from "../query-backend.js";
import { daemonUrlFor } from "./daemon-url.js";
import type {
  EventFollower,
  HttpQueryBackend,
  HttpQueryBackendOptions,
} from "./http-query-client.js";
import { DEFAULT_DAEMON_URL, DEFAULT_DB_PATH, databaseDescription } from "./source-defaults.js";

export { DEFAULT_DB_PATH } from "./source-defaults.js";

/** How long the daemon gets to answer `/healthz` before the file is read instead. */
const PROBE_TIMEOUT_MS = 500;

/** A backend a command line client can ask, follow events on, and close. */
export type ClientBackend = QueryBackend &
  EventFollower & {
    readonly kind: "daemon" | "database";
    close(): void;
  };

export interface BackendChoiceOptions {
  /** `--url`: ask this daemon, and only it. */
  url?: string | undefined;
  /** `--db`: read this file, and only it. */
  db?: string | undefined;
  /** `--config`: where the daemon listens and keeps its file; its priorities and windows. */
  config?: DaemonConfig | undefined;
  /** Told which backend answers when the choice was automatic. */
  notice?: (message: string) => void;
  probeTimeoutMs?: number;
  http?: HttpQueryBackendOptions;
}

/** Who answers: a daemon (its client ready), or the database file at `path`. */
export type ChosenSource =
  | { kind: "daemon"; daemon: HttpQueryBackend }
  | { kind: "database"; path: string };

/**
 * Picks who answers: `--url` a daemon over HTTP, `--db` the file. With neither,
 * the daemon at the configured (or default) address if it answers `/healthz`
 * quickly, else the configured (or default) database file, read-only. The
 * automatic choice is announced, as the two can give different answers. Each
 * client's module is loaded only when it is the one chosen: `status --db`
 * starts without the HTTP client and the query service.
 */
export async function chooseSource(options: BackendChoiceOptions): Promise<ChosenSource> {
  if (options.url !== undefined && options.db !== undefined) {
    throw new ApiError("INVALID_PARAMETER", "pass --url or --db, not both", {
      parameter: "url",
    });
  }
  if (options.url !== undefined) {
    return { kind: "daemon", daemon: await httpBackend(options.url, options.http) };
  }
  if (options.db !== undefined) return { kind: "database", path: options.db };
  const daemon = await httpBackend(automaticDaemonUrl(options.config), options.http);
  if (await daemon.isUp(options.probeTimeoutMs ?? PROBE_TIMEOUT_MS)) {
    options.notice?.(`answering from the ${daemon.description}`);
    return { kind: "daemon", daemon };
  }
  const path = automaticDatabasePath(options.config);
  if (!existsSync(path)) {
    throw new ApiError(
      "NOT_READY",
      `no daemon answering at ${daemon.baseUrl} and no database at ${path}: start the daemon, or pass --url URL or --db PATH`,
    );
  }
  options.notice?.(
    `no daemon answering at ${daemon.baseUrl}; answering from the ${databaseDescription(path)}: last-known state`,
  );
  return { kind: "database", path };
}

/** The daemon asked first when neither --url nor --db is given. */
export function automaticDaemonUrl(config: DaemonConfig | undefined): string {
  return config ? daemonUrlFor(config) : DEFAULT_DAEMON_URL;
}

/** The database file read when neither --url nor --db is given and that daemon does not answer. */
export function automaticDatabasePath(config: DaemonConfig | undefined): string {
  return config?.storage.path ?? DEFAULT_DB_PATH;
}

/** The backend chooseSource picks; a database file that cannot serve is refused at once. */
export async function chooseBackend(options: BackendChoiceOptions): Promise<ClientBackend> {
  const source = await chooseSource(options);
  if (source.kind === "daemon") return source.daemon;
  const { DatabaseQueryBackend } = await import("./database-query-backend.js");
  const file = new DatabaseQueryBackend({ path: source.path, config: options.config });
  try {
    file.openFile();
  } catch (error) {
    file.close();
    throw error;
  }
  return file;
}

async function httpBackend(
  url: string,
  options: HttpQueryBackendOptions | undefined,
): Promise<HttpQueryBackend> {
  const { HttpQueryBackend } = await import("./http-query-client.js");
  return new HttpQueryBackend(url, options);
}
