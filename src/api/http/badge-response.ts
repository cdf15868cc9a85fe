import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BadgeAnswer } from "../badges/badges.js";

/** A strong validator: the same bytes, the same tag; any change in the badge, a new one. */
export function badgeEtag(svg: string): string {
  return `"${createHash("sha256").update(svg).digest("base64url").slice(0, 27)}"`;
}

/** Whether `If-None-Match` names this tag (`*` names any; compared weakly, as RFC 9110 §13.1.2 says). */
function matchesNoneOf(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag.replace(/^W\//, "") === etag;
  });
}

/**
 * Sends a badge. `Cache-Control: no-cache` lets a cache (a browser, an image
 * proxy in front of a README) keep the badge but makes it ask again every time:
 * a status badge served stale from a cache says an adapter is healthy after it
 * went down. The ETag keeps the asking cheap, a 304 without a body while the
 * badge reads the same. The SVG needs nothing from anywhere (its gradient and
 * filter are referenced inside it, its styling is plain attributes), so the CSP
 * allows nothing, should someone open it as a document.
 */
export function sendBadge(
  request: IncomingMessage,
  response: ServerResponse,
  answer: BadgeAnswer,
): void {
  const headers: Record<string, string> = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'",
  };
  // A 404 has no representation to revalidate: it is sent whole each time.
  if (answer.status === 200) {
    const etag = badgeEtag(answer.svg);
    headers.etag = etag;
    if (matchesNoneOf(request.headers["if-none-match"], etag)) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
  }
  response.writeHead(answer.status, {
    ...headers,
    "content-type": "image/svg+xml; charset=utf-8",
    "content-length": Buffer.byteLength(answer.svg),
  });
  response.end(answer.svg);
}
