/**
 * `GET /v1/uptime`: what it is asked and what it answers, as the history and
 * uptime contract (docs/http-api.md once the daemon serves it) lays them out.
 * Clients validate a question here before it is sent, so a bad window is
 * refused the same way whether or not a daemon is up.
 */
import { z } from "zod";
import { listFilterSchema } from "./query-service.js";

/** The windows uptime is answered for, shortest first. */
export const UPTIME_WINDOWS = ["1h", "24h", "7d", "30d", "90d"] as const;
export type UptimeWindow = (typeof UPTIME_WINDOWS)[number];

export const DEFAULT_UPTIME_WINDOW: UptimeWindow = "24h";

/** `?window=…` and the list filters of `GET /v1/adapters`. */
export const uptimeQuerySchema = listFilterSchema.extend({
  window: z.enum(UPTIME_WINDOWS).default(DEFAULT_UPTIME_WINDOW),
});
export type UptimeQuery = z.input<typeof uptimeQuerySchema>;

/** One adapter's time over the window, in seconds; the percentages null when nothing was seen. */
export interface AdapterUptime {
  adapter_id: string;
  domain: string;
  category: string;
  provider: string;
  /** 100 × up / (up + down); null when up + down is 0. */
  uptime_percent: number | null;
  /** Healthy and degraded seconds. */
  up_s: number;
  /** Unhealthy seconds. */
  down_s: number;
  maintenance_s: number;
  /** Seconds no verdict covered: the daemon stopped, before the first check, a stale verdict. */
  unknown_s: number;
  /** 100 × (up + down) / (window − maintenance). */
  coverage_percent: number | null;
}

export interface UptimeAnswer {
  window: UptimeWindow;
  /** ISO times the window spans. */
  from: string;
  until: string;
  adapters: AdapterUptime[];
}
