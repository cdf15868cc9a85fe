/** Exit code for configuration errors (EX_CONFIG from sysexits.h). */
export const EXIT_CONFIG = 78;

/** A configuration problem, naming the file, the key and (where known) the line. */
export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(
    readonly file: string,
    readonly key: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(key === "" ? `${where}: ${problem}` : `${where}: ${key}: ${problem}`);
    this.name = "ConfigError";
  }
}
