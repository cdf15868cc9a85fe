/**
 * Real filesystems that stop taking writes while the daemon runs on them: a small
 * tmpfs that a filler file makes full, and a FUSE mirror that can be switched
 * read-only (Linux refuses to remount a filesystem read-only while a file on it
 * is open for writing, as the daemon's database always is). Both need root.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

function mustBeRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (mount); run the reliability suite as root`);
  }
}

/** A tmpfs of `sizeMiB` mounted at `mountpoint`, and a filler file that takes all its space. */
export class SmallTmpfs {
  private readonly filler: string;

  constructor(
    readonly mountpoint: string,
    sizeMiB: number,
  ) {
    mustBeRoot("a size-limited tmpfs");
    mkdirSync(mountpoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", mountpoint]);
    this.filler = join(mountpoint, "filler");
  }

  /** Writes the filler until the filesystem says ENOSPC; returns the bytes it took. */
  fill(): number {
    const fd = openSync(this.filler, "a");
    const chunk = Buffer.alloc(64 * 1024, 0xaa);
    let written = 0;
    try {
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
      // The last pages: smaller writes until not even one byte fits.
      for (let size = 32 * 1024; size >= 1; size = Math.floor(size / 2)) {
        try {
          for (;;) written += writeSync(fd, chunk, 0, size);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
    return written;
  }

  /** Gives the space back. */
  free(): void {
    rmSync(this.filler, { force: true });
  }

  unmount(): void {
    execFileSync("umount", ["-l", this.mountpoint]);
  }
}

const SWITCHABLE_FS = join(import.meta.dirname, "switchable-fs.py");

/** A FUSE mirror of `source` at `mountpoint` that is switched read-only and back. */
export class SwitchableFilesystem {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly answers: string[] = [];
  private wake: (() => void) | undefined;
  private output = "";
  private readonly exited: Promise<unknown>;

  private constructor(
    readonly source: string,
    readonly mountpoint: string,
  ) {
    mkdirSync(source, { recursive: true });
    mkdirSync(mountpoint, { recursive: true });
    // Debian's python3-fusepy, installed by .ci/run.
    this.child = spawn("/usr/bin/python3", [SWITCHABLE_FS, source, mountpoint], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.on("exit", resolve));
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.answers.push(
        ...chunk
          .toString()
          .split("\n")
          .filter((line) => line !== ""),
      );
      this.wake?.();
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    void this.exited.then(() => this.wake?.());
  }

  static async mount(source: string, mountpoint: string): Promise<SwitchableFilesystem> {
    mustBeRoot("a FUSE mount");
    const fs = new SwitchableFilesystem(source, mountpoint);
    await fs.expect("mounted");
    return fs;
  }

  readOnly(): Promise<void> {
    this.child.stdin.write("ro\n");
    return this.expect("ok ro");
  }

  readWrite(): Promise<void> {
    this.child.stdin.write("rw\n");
    return this.expect("ok rw");
  }

  async unmount(): Promise<void> {
    this.child.stdin.end();
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    try {
      execFileSync("umount", ["-l", this.mountpoint], { stdio: "ignore" });
    } catch {
      // Already unmounted by the filesystem process as it ended.
    }
    this.child.kill("SIGKILL");
  }

  private async expect(line: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = this.answers.shift();
      if (answer === line) return;
      if (answer !== undefined) throw new Error(`switchable filesystem answered ${answer}`);
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `switchable filesystem: no "${line}" (python3-fusepy installed?):\n${this.output}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }
}
