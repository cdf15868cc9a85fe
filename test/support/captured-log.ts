import pino, { type Logger } from "pino";

/** One JSON line pino wrote. */
export interface LoggedLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const WARN = 40;
const INFO = 30;

/** A real pino logger whose lines are kept in memory for a test to read. */
export class CapturedLog {
  readonly lines: LoggedLine[] = [];
  readonly logger: Logger;

  constructor(bindings: Record<string, unknown> = {}) {
    this.logger = pino(
      { level: "debug" },
      { write: (line: string) => void this.lines.push(JSON.parse(line) as LoggedLine) },
    ).child(bindings);
  }

  warnings(): LoggedLine[] {
    return this.lines.filter((line) => line.level === WARN);
  }

  infos(): LoggedLine[] {
    return this.lines.filter((line) => line.level === INFO);
  }

  /** The messages at WARN and above, for a failing assertion to show. */
  problems(): string[] {
    return this.lines.filter((line) => line.level >= WARN).map((line) => line.msg);
  }
}
