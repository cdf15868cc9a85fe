import { spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { unusedPort } from "./ports.js";

/** A nats-server started with flags of the test's choosing. */
export interface CustomNatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  stop(): Promise<void>;
}

/**
 * A nats-server on a free loopback port with the given flags (TLS, or no
 * JetStream), for the cases NatsServerProcess (always `-js`, plain TCP) does not
 * cover. Resolves once the server says it is ready.
 */
export async function startNatsServerWith(flags: string[]): Promise<CustomNatsServer> {
  const port = await unusedPort();
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const deadline = Date.now() + 10_000;
  while (!output.includes("Server is ready")) {
    if (child.exitCode !== null)
      throw new Error(`nats-server exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nats-server did not start within 10 s:\n${output}`);
    }
    await delay(25);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
