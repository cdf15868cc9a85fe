import { setTimeout as delay } from "node:timers/promises";
import type { DaemonConfig } from "../../config/load.js";
import type { CloudEvent } from "../../domain/events.js";
import type { AdapterStatusView, RegistryView } from "../../domain/status-view.js";
import { listFromFile, OfflineReadModel } from "../../offline-read-model.js";
import type { UptimeAnswer } from "../history-queries.js";
import type {
  CheckHealthAnswer,
  EventsPage,
  HealthCheckAnswer,
  QueryBackend,
} from "../query-backend.js";
import {
  type AdapterDetail,
  eventsPageSchema,
  parseParameters,
  type ResolutionAnswer,
} from "../query-service.js";
import type { EventFollower, NoticeListener } from "./http-query-client.js";
import { databaseDescription } from "./source-defaults.js";

export interface DatabaseQueryBackendOptions {
  path: string;
  /**
   * The daemon's config, when the user named it: its priorities and fixed
   * maintenance windows are not in the file, so without it they cannot apply.
   */
  config?: DaemonConfig | undefined;
  now?: () => number;
  /** How often `followEvents` looks at the file for new events. */
  pollMs?: number;
}

/** A resolution read from the file, saying what it could not take into account. */
export interface DatabaseResolutionAnswer extends ResolutionAnswer {
  note: string;
}

/**
 * QueryBackend over the daemon's SQLite file, opened read-only, so questions
 * are answered while the daemon is stopped. The answers are the daemon's own
 * QueryService's over the file's read model (see OfflineReadModel): the last
 * verdicts the daemon committed (they may be stale, and say so); what only a
 * running daemon knows (recent checks, the registry's opinion, recurring
 * maintenance windows) is left out or refused rather than guessed.
 */
export class DatabaseQueryBackend implements QueryBackend, EventFollower {
  readonly kind = "database";
  readonly description: string;
  private readonly pollMs: number;
  private readonly model: OfflineReadModel;

  constructor(private readonly options: DatabaseQueryBackendOptions) {
    this.description = databaseDescription(options.path);
    this.pollMs = options.pollMs ?? 500;
    this.model = new OfflineReadModel({
      path: options.path,
      config: options.config,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** What a resolution read from the file leaves out, in words. */
  get note(): string {
    const config = this.options.config;
    const base = `read from the database file ${this.options.path} without the daemon: the last verdicts it committed (check "stale"); maintenance declared through the API applies`;
    if (!config) {
      return `${base}; configured priorities and config maintenance windows are not in the file and are not applied (pass --config FILE to apply them)`;
    }
    const recurring = config.maintenance.filter((window) => window.cron !== undefined).length;
    return `${base}; priorities and fixed maintenance windows from ${config.source} apply${
      recurring > 0
        ? `; ${recurring} recurring (cron) maintenance window${recurring > 1 ? "s" : ""} cannot be known without the daemon and ${recurring > 1 ? "are" : "is"} not applied`
        : ""
    }`;
  }

  async listAdapters(
    filter?: unknown,
  ): Promise<{ adapters: AdapterStatusView[]; registry: RegistryView | null }> {
    return listFromFile(this.model.current(), filter ?? {});
  }

  async getAdapter(adapterId: string): Promise<AdapterDetail> {
    return this.model.current().queries.getAdapter(adapterId);
  }

  async checkHealth(adapterId: string): Promise<CheckHealthAnswer> {
    return this.model.current().queries.checkHealth(adapterId);
  }

  async resolve(requirement: unknown): Promise<DatabaseResolutionAnswer> {
    return { ...this.model.current().queries.resolve(requirement), note: this.note };
  }

  async resolveBatch(body: unknown): Promise<DatabaseResolutionAnswer[]> {
    const note = this.note;
    return this.model
      .current()
      .queries.resolveBatch(body)
      .map((answer) => ({ ...answer, note }));
  }

  async events(page: unknown): Promise<EventsPage> {
    // The journal is read from the file on every call: the model need not be reloaded for it.
    return this.model.latest().queries.events(page ?? {});
  }

  /** From the history buckets the daemon wrote; time after its last observation is unknown. */
  async uptime(query: unknown): Promise<UptimeAnswer> {
    return this.model.current().queries.uptime(query ?? {});
  }

  async invalidateCache(): Promise<{ invalidated: true }> {
    return this.model.latest().queries.invalidateCache();
  }

  async healthCheck(): Promise<HealthCheckAnswer> {
    return this.model.latest().queries.healthCheck();
  }

  /** Polls the file for new events until `signal` aborts (works with the daemon stopped). */
  async followEvents(
    since: number | undefined,
    onEvent: (event: CloudEvent) => void,
    signal: AbortSignal,
    _onNotice?: NoticeListener,
  ): Promise<void> {
    let cursor =
      since === undefined
        ? this.model.hub().newestSeq()
        : parseParameters(eventsPageSchema, { since }, "parameter").since;
    while (!signal.aborted) {
      const page = await this.events({ since: cursor, limit: 1000 });
      for (const event of page.events) onEvent(event);
      cursor = page.next_since;
      if (page.events.length < 1000)
        await delay(this.pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Opens the file now, so a file that cannot serve is refused before the first question. */
  openFile(): void {
    this.model.openFile();
  }

  close(): void {
    this.model.close();
  }
}
