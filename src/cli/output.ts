/** What every command writes besides its formatted answers. */

/** A message on stderr, prefixed with the program's name as every one of them is. */
export function printNotice(message: string): void {
  process.stderr.write(`oneiric-healthd: ${message}\n`);
}

/**
 * Resolves once all written to stdout so far has been handed on (to a pipe, a file or
 * a terminal); rejects when stdout is gone (a closed pipe).
 */
export function stdoutFlushed(): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write("", (error) => (error ? reject(error) : resolve()));
  });
}

/** `--json` output: indented, one trailing newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Adapters per page of writeListingJson: large enough that pages cost nothing each. */
const LISTING_PAGE = 1_000;

/** Where the adapters go in the text of a listing (see writeListingJson). */
const ADAPTERS_OPEN = '{\n  "adapters": [\n';
const PAGE_CLOSE = "\n  ]\n}";
const NO_ADAPTERS = '{\n  "adapters": []';

/** A `{ adapters, registry }` listing whose views are made a page at a time. */
export interface PagedListing {
  readonly count: number;
  readonly registry: unknown;
  views(from: number, to: number): unknown[];
}

/**
 * jsonText({ adapters, registry }) of `listing`, written a page of adapters at a time
 * as each page's views are made: a large listing's views and text are never all in
 * memory at once, and no one string outgrows what a string can hold. Each page is
 * JSON.stringify's own text of the adapters at the depth they have in the whole.
 */
export function writeListingJson(write: (text: string) => void, listing: PagedListing): void {
  const rest = JSON.stringify({ adapters: [], registry: listing.registry }, null, 2);
  if (listing.count === 0) {
    write(`${rest}\n`);
    return;
  }
  for (let from = 0; from < listing.count; from += LISTING_PAGE) {
    const text = JSON.stringify({ adapters: listing.views(from, from + LISTING_PAGE) }, null, 2);
    const items = text.slice(ADAPTERS_OPEN.length, text.length - PAGE_CLOSE.length);
    write(from === 0 ? `${ADAPTERS_OPEN}${items}` : `,\n${items}`);
  }
  write(`\n  ]${rest.slice(NO_ADAPTERS.length)}\n`);
}
