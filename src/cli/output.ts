/** What every command writes besides its formatted answers. */

/** A message on stderr, prefixed with the program's name as every one of them is. */
export function printNotice(message: string): void {
  process.stderr.write(`oneiric-healthd: ${message}\n`);
}

/** `--json` output: indented, one trailing newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
