/**
 * Status and uptime badges for one adapter or a whole category, as READMEs and
 * dashboards embed them. The answers are read from the live view (status) and
 * from the health history (uptime) through the two interfaces below; drawing is
 * badge-svg.ts's.
 */
import { z } from "zod";
import type { HealthStatus } from "../../domain/adapter.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import { ApiError } from "../api-error.js";
import { adapterIdSchema, categoryName, domainName, parseParameters } from "../query-service.js";
import {
  BADGE_COLORS,
  BADGE_STYLES,
  type Badge,
  type BadgeColor,
  renderBadgeSvg,
} from "./badge-svg.js";

/** The windows an uptime badge may cover (the history's uptime windows). */
export const UPTIME_WINDOWS = ["1h", "24h", "7d", "30d", "90d"] as const;
export type UptimeWindow = (typeof UPTIME_WINDOWS)[number];
export const DEFAULT_UPTIME_WINDOW: UptimeWindow = "24h";

/** Seconds up (healthy + degraded) and down (unhealthy) over a window. */
export interface UptimeSeconds {
  up_s: number;
  down_s: number;
}

/**
 * The health history as uptime badges read it. For the window ending now, the
 * seconds the given adapters spent up (healthy + degraded) and down (unhealthy),
 * summed over all of them; maintenance and unknown time (the daemon stopped, no
 * verdict yet, a verdict gone stale) are neither. An adapter without history
 * adds nothing, so `{ up_s: 0, down_s: 0 }` means there is no data.
 */
export interface UptimeLookup {
  uptime(
    adapterIds: readonly string[],
    window: UptimeWindow,
  ): UptimeSeconds | Promise<UptimeSeconds>;
}

/** The live view as badges read it (the daemon's HealthView is one). */
export interface LiveStatuses {
  /** One adapter's last-known status, or undefined when the catalog has no such adapter. */
  get(adapterId: string): AdapterStatusView | undefined;
  /** Every adapter with its last-known status. */
  list(): readonly AdapterStatusView[];
}

export interface BadgeParts {
  statuses: LiveStatuses;
  uptime: UptimeLookup;
}

/** A badge to send: 200 with what it shows, or 404 saying `not found` (still an image). */
export interface BadgeAnswer {
  status: 200 | 404;
  svg: string;
}

/** The most characters a `label` may have: a badge is a line of a README, not a paragraph. */
export const MAX_LABEL_LENGTH = 64;

const badgeQuerySchema = z.strictObject({
  kind: z.enum(["status", "uptime"]).default("status"),
  window: z.enum(UPTIME_WINDOWS).optional(),
  label: z.string().max(MAX_LABEL_LENGTH).optional(),
  style: z.enum(BADGE_STYLES).default("flat"),
});
const categoryBadgeQuerySchema = badgeQuerySchema.extend({ domain: domainName.optional() });
type BadgeQuery = z.output<typeof badgeQuerySchema>;

/** What one adapter's badge says of it: its status, or maintenance whatever the status. */
type BadgeState = HealthStatus | "maintenance";

const STATE_COLORS: Record<BadgeState, BadgeColor> = {
  healthy: BADGE_COLORS.green,
  degraded: BADGE_COLORS.yellow,
  unhealthy: BADGE_COLORS.red,
  unknown: BADGE_COLORS.grey,
  maintenance: BADGE_COLORS.blue,
};

/**
 * Least to most worrying: a category's badge takes the colour of its worst
 * adapter. Unknown is worse than maintenance and healthy: an adapter nobody
 * has a verdict on may be down, while maintenance is declared.
 */
const SEVERITY: readonly BadgeState[] = [
  "healthy",
  "maintenance",
  "unknown",
  "degraded",
  "unhealthy",
];

function badgeState(view: AdapterStatusView): BadgeState {
  return view.maintenance !== null ? "maintenance" : view.status;
}

/** The status message: `healthy`, or `healthy (stale)` when the verdict is older than it should be. */
function statusMessage(view: AdapterStatusView): string {
  const state = badgeState(view);
  // A stale unknown says nothing more than unknown; maintenance is declared, not a verdict.
  const marked = view.stale && state !== "unknown" && state !== "maintenance";
  return marked ? `${state} (stale)` : state;
}

/**
 * `99.95%`: cut (never rounded up) to two decimals, so that a window with any
 * downtime never reads 100%.
 */
export function formatUptimePercent(percent: number): string {
  const cut = Math.floor(percent * 100 + 1e-9) / 100;
  return `${Math.min(cut, 100)}%`;
}

/** Shields' bands: ≥ 99.9 green, ≥ 99 yellow-green, ≥ 95 yellow, else red. */
export function uptimeColor(percent: number): BadgeColor {
  if (percent >= 99.9) return BADGE_COLORS.green;
  if (percent >= 99) return BADGE_COLORS.yellowgreen;
  if (percent >= 95) return BADGE_COLORS.yellow;
  return BADGE_COLORS.red;
}

/** The uptime part of a badge: `99.95%` on its band's colour, or grey `no data`. */
export function uptimeMessage(seconds: UptimeSeconds): { message: string; color: BadgeColor } {
  const measured = seconds.up_s + seconds.down_s;
  if (measured <= 0) return { message: "no data", color: BADGE_COLORS.grey };
  const percent = (100 * seconds.up_s) / measured;
  return { message: formatUptimePercent(percent), color: uptimeColor(percent) };
}

/** Badges for one adapter (`/v1/badges/{id}.svg`) and for a category (`/v1/badges/category/{category}.svg`). */
export class BadgeService {
  constructor(private readonly parts: BadgeParts) {}

  /** One adapter's status or uptime badge; `query` is the request's parameters, unvalidated. */
  async adapterBadge(adapterId: string, query: Record<string, string>): Promise<BadgeAnswer> {
    parseParameters(adapterIdSchema, adapterId, "adapter_id");
    const options = parseBadgeQuery(badgeQuerySchema, query);
    const view = this.parts.statuses.get(adapterId);
    if (view === undefined) return notFound(options.label ?? adapterId, options);
    if (options.kind === "status") {
      return found(
        {
          label: options.label ?? adapterId,
          message: statusMessage(view),
          color: STATE_COLORS[badgeState(view)],
        },
        options,
      );
    }
    return this.uptimeBadge([adapterId], adapterId, options);
  }

  /**
   * A category's badge: every adapter of the category, of any project and
   * domain, or of `domain` alone. Status: `5/6 healthy` on the colour of the
   * worst of them; uptime: their up and down time summed.
   */
  async categoryBadge(category: string, query: Record<string, string>): Promise<BadgeAnswer> {
    parseParameters(categoryName, category, "category");
    const options = parseBadgeQuery(categoryBadgeQuerySchema, query);
    const { domain } = options;
    const members = this.parts.statuses
      .list()
      .filter(
        (view) => view.category === category && (domain === undefined || view.domain === domain),
      );
    const subject = domain === undefined ? category : `${domain}/${category}`;
    if (members.length === 0) return notFound(options.label ?? subject, options);
    if (options.kind === "status") {
      const states = members.map(badgeState);
      const healthy = states.filter((state) => state === "healthy").length;
      const worst = states.reduce((worstYet, state) =>
        SEVERITY.indexOf(state) > SEVERITY.indexOf(worstYet) ? state : worstYet,
      );
      return found(
        {
          label: options.label ?? subject,
          message: `${healthy}/${members.length} healthy`,
          color: STATE_COLORS[worst],
        },
        options,
      );
    }
    return this.uptimeBadge(
      members.map((view) => view.adapter_id),
      subject,
      options,
    );
  }

  private async uptimeBadge(
    adapterIds: readonly string[],
    subject: string,
    options: BadgeQuery,
  ): Promise<BadgeAnswer> {
    const window = options.window ?? DEFAULT_UPTIME_WINDOW;
    const seconds = await this.parts.uptime.uptime(adapterIds, window);
    return found(
      { label: options.label ?? `${subject} uptime ${window}`, ...uptimeMessage(seconds) },
      options,
    );
  }
}

/** Validates a badge's query; `window` belongs to uptime badges, and is refused on a status one. */
function parseBadgeQuery<T extends typeof badgeQuerySchema>(
  schema: T,
  query: Record<string, string>,
): z.output<T> {
  const options: z.output<T> = parseParameters(schema, query, "parameter");
  if (options.kind === "status" && options.window !== undefined) {
    throw new ApiError(
      "INVALID_PARAMETER",
      `window applies to uptime badges only (kind=uptime); got window=${JSON.stringify(options.window)} with kind=status`,
      { parameter: "window" },
    );
  }
  return options;
}

function found(badge: Badge, options: BadgeQuery): BadgeAnswer {
  return { status: 200, svg: renderBadgeSvg(badge, options.style) };
}

function notFound(label: string, options: BadgeQuery): BadgeAnswer {
  return {
    status: 404,
    svg: renderBadgeSvg({ label, message: "not found", color: BADGE_COLORS.grey }, options.style),
  };
}
