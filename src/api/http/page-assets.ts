/**
 * The status page's files (web/ at the package root), read once when the daemon
 * starts and answered from memory: `GET /` is web/index.html, `GET /ui/<name>`
 * any other file there. Every answer carries a strong ETag (a digest of the
 * bytes), `Cache-Control: no-cache` (the browser revalidates, a 304 costs
 * nothing) and the security headers a page served by the daemon needs.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EVENT_TYPES } from "../../domain/events.js";

/** web/ beside src/ and dist/: the path holds from src/api/http (tsx) and dist/api/http alike. */
export const WEB_DIRECTORY = fileURLToPath(new URL("../../../web/", import.meta.url));

/**
 * No inline script or style, nothing from elsewhere, no framing, no forms
 * posting anywhere but here: the page's own files and its own API only.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/** One file of the page, ready to send. */
export interface PageAsset {
  body: Buffer;
  contentType: string;
  /** A strong validator: the first 16 bytes of the SHA-256 of the body, quoted. */
  etag: string;
}

/** The headers every page answer carries, 200 and 304 alike. */
export function pageHeaders(asset: PageAsset): Record<string, string> {
  return {
    "content-type": asset.contentType,
    etag: asset.etag,
    "cache-control": "no-cache",
    "content-security-policy": PAGE_CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  };
}

export class PageAssets {
  private readonly files = new Map<string, PageAsset>();

  /**
   * Reads every file directly in `directory` with a known type. A missing
   * directory leaves the page unserved (404 naming it), not the daemon unstarted:
   * the API does not need the page.
   */
  constructor(readonly directory: string = WEB_DIRECTORY) {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      names = [];
    }
    for (const name of names) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType === undefined) continue;
      this.files.set(name, pageAsset(readFileSync(join(directory, name)), contentType));
    }
    if (this.installed) {
      // The page listens for each event type by name: it takes them from the daemon's one
      // list, so a type added there is on the page without a copy to keep in step.
      this.files.set(
        EVENT_TYPES_MODULE,
        pageAsset(
          Buffer.from(
            `// Made by the daemon from its event types (docs/events.md).\nexport const EVENT_TYPES = ${JSON.stringify(EVENT_TYPES)};\n`,
          ),
          CONTENT_TYPES[".js"] as string,
        ),
      );
    }
  }

  /** Whether the page's files were found (index.html at least). */
  get installed(): boolean {
    return this.files.has("index.html");
  }

  /** The file named (as in `/ui/<name>`), if the page has it: a name, never a path. */
  find(name: string): PageAsset | undefined {
    return this.files.get(name);
  }

  /** Answers a GET or HEAD with the file, or 304 when `If-None-Match` names its ETag. */
  send(request: IncomingMessage, response: ServerResponse, asset: PageAsset): void {
    const headers = pageHeaders(asset);
    if (matchesEtag(request.headers["if-none-match"], asset.etag)) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, { ...headers, "content-length": asset.body.length });
    response.end(request.method === "HEAD" ? undefined : asset.body);
  }
}

/** The page's module of event types, made from the domain's list (not a file in web/). */
export const EVENT_TYPES_MODULE = "event-types.js";

function pageAsset(body: Buffer, contentType: string): PageAsset {
  const digest = createHash("sha256").update(body).digest("base64url").slice(0, 22);
  return { body, contentType, etag: `"${digest}"` };
}

/** RFC 9110 §13.1.2: `*`, or a list of entity tags (weak comparison). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}
