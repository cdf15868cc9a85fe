import { existsSync } from "node:fs";
import type { DaemonConfig } from "../../config/load.js";
import { ApiError } from "../api-error.js";
import type { QueryBackend } from "../query-backend.js";
// A daemon serving HTTPS is reached over HTTPS (trust its CA with NODE_EXTRA_CA_CERTS).
import { daemonUrlFor } from "./daemon-url.js";
import { DatabaseQueryBackend } from "./database-query-backend.js";
import {
  DEFAULT_DAEMON_URL,
  type EventFollower,
  HttpQueryBackend,
  type HttpQueryBackendOptions,
} from "./http-query-client.js";

/** The database path the daemon uses when its config does not name one. */
export const DEFAULT_DB_PATH = "oneiric-healthd.db";
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

/**
 * Picks who answers: `--url` a daemon over HTTP, `--db` the file. With neither,
 * the daemon at the configured (or default) address if it answers `/healthz`
 * quickly, else the configured (or default) database file, read-only. The
 * automatic choice is announced, as the two can give different answers.
 */
export async function chooseBackend(options: BackendChoiceOptions): Promise<ClientBackend> {
  if (options.url !== undefined && options.db !== undefined) {
    throw new ApiError("INVALID_PARAMETER", "pass --url or --db, not both", {
      parameter: "url",
    });
  }
  if (options.url !== undefined) return httpBackend(options.url, options.http);
  if (options.db !== undefined) return databaseBackend(options.db, options.config);
  const url = options.config ? daemonUrlFor(options.config) : DEFAULT_DAEMON_URL;
  const daemon = httpBackend(url, options.http);
  if (await daemon.isUp(options.probeTimeoutMs ?? PROBE_TIMEOUT_MS)) {
    options.notice?.(`answering from the ${daemon.description}`);
    return daemon;
  }
  const path = options.config?.storage.path ?? DEFAULT_DB_PATH;
  if (!existsSync(path)) {
    throw new ApiError(
      "NOT_READY",
      `no daemon answering at ${daemon.baseUrl} and no database at ${path}: start the daemon, or pass --url URL or --db PATH`,
    );
  }
  const file = databaseBackend(path, options.config);
  options.notice?.(
    `no daemon answering at ${daemon.baseUrl}; answering from the ${file.description}: last-known state`,
  );
  return file;
}

function httpBackend(url: string, options: HttpQueryBackendOptions | undefined): HttpQueryBackend {
  return new HttpQueryBackend(url, options);
}

function databaseBackend(path: string, config: DaemonConfig | undefined): DatabaseQueryBackend {
  return new DatabaseQueryBackend({ path, config });
}
