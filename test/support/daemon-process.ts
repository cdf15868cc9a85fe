import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";

const CLI = join(import.meta.dirname, "..", "..", "bin", "oneiric-healthd.js");

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface DaemonProcessOptions {
  /** Keep at most this many parsed log lines (oldest dropped); default all. */
  keepLines?: number;
}

/** `oneiric-healthd run` as a child process, its JSON log lines parsed as they come. */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  /** Exit code, or the signal's name when a signal ended it. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private pending = "";
  private stderr = "";
  private dropped = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    args: string[],
    private readonly options: DaemonProcessOptions = {},
  ) {
    this.child = spawn(process.execPath, [CLI, "run", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.pending += chunk.toString();
      const complete = this.pending.split("\n");
      this.pending = complete.pop() ?? "";
      for (const text of complete) {
        if (text.startsWith("{")) this.lines.push(JSON.parse(text) as LogLine);
      }
      const keep = this.options.keepLines;
      if (keep !== undefined && this.lines.length > keep) {
        const excess = this.lines.length - keep;
        this.lines.splice(0, excess);
        this.dropped += excess;
      }
      for (const wake of this.waiters) wake();
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error("the daemon process did not start");
    return pid;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  /** The first log line from index `from` on that matches, waiting for it up to `timeoutMs`. */
  async waitFor(
    match: (line: LogLine) => boolean,
    what: string,
    from = 0,
    timeoutMs = 20_000,
  ): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(Math.max(0, from - this.dropped)).find(match);
      if (found) return found;
      if (Date.now() > deadline || !this.running) {
        throw new Error(`no log line ${what}; got:\n${this.transcript()}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        setTimeout(wake, 200);
      });
    }
  }

  /** The HTTP port from the "listening" line. */
  async httpPort(timeoutMs = 20_000): Promise<number> {
    const line = await this.waitFor(
      (entry) => entry.msg === "listening",
      "listening",
      0,
      timeoutMs,
    );
    return Number(String(line.http).split(":").pop());
  }

  /** Resident set size in bytes, from /proc. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!match) throw new Error(`no VmRSS in /proc/${this.pid}/status`);
    return Number(match[1]) * 1024;
  }

  transcript(): string {
    return [...this.lines.map((line) => JSON.stringify(line)), this.stderr].join("\n");
  }
}
