/**
 * Badges as Shields draws them: a label on grey beside a message on a colour,
 * rendered by badge-maker (Shields' own renderer), so widths come from its
 * Verdana 11 px character-width table and every text is XML-escaped.
 */
import { makeBadge } from "badge-maker";

/** The styles a badge may be drawn in: `flat` (rounded, gradient, shadowed text) or `flat-square`. */
export const BADGE_STYLES = ["flat", "flat-square"] as const;
export type BadgeStyle = (typeof BADGE_STYLES)[number];

/** The colours a badge's message is drawn on, as Shields names them. */
export const BADGE_COLORS = {
  green: "#4c1",
  yellowgreen: "#a4a61d",
  yellow: "#dfb317",
  red: "#e05d44",
  grey: "#9f9f9f",
  blue: "#007ec6",
} as const;
export type BadgeColor = (typeof BADGE_COLORS)[keyof typeof BADGE_COLORS];

/** What one badge says. */
export interface Badge {
  /** The left, grey part; empty for a message alone. */
  label: string;
  message: string;
  color: BadgeColor;
}

/**
 * The badge as an SVG document: `role="img"`, an `aria-label` and a `<title>`
 * reading "label: message", so screen readers and tooltips say what it shows.
 */
export function renderBadgeSvg(badge: Badge, style: BadgeStyle = "flat"): string {
  return makeBadge({ label: badge.label, message: badge.message, color: badge.color, style });
}
