import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { unusedPort } from "./ports.js";

/**
 * A real `nats-server -js` on a free loopback port, its JetStream files in a temp
 * directory. `stop()` and `start()` again keep the port and the files, so a test can
 * cut every instance off NATS (a partition) and bring the same server back.
 */
export class NatsServerProcess {
  private child: ChildProcess | undefined;
  private output = "";

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServerProcess> {
    const server = new NatsServerProcess(
      await unusedPort(),
      mkdtempSync(join(tmpdir(), "healthd-nats-")),
    );
    await server.start();
    return server;
  }

  /** Starts (again) on the same port with the same JetStream files; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) return;
    this.output = "";
    const child = spawn(
      "nats-server",
      ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.storeDir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    child.stdout?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`nats-server exited with ${child.exitCode}:\n${this.output}`);
      }
      if (this.output.includes("Server is ready") && (await accepts(this.port))) return;
      await delay(25);
    }
    throw new Error(`nats-server did not start within 10 s:\n${this.output}`);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s); the files stay for a later start(). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  }

  /** Stops the server and removes its files. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  /** What the server wrote, for a failing test's message. */
  log(): string {
    return this.output;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
