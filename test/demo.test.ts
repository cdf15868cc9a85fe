import { type ChildProcessByStdio, spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { credentials } from "@grpc/grpc-js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from "../src/gen/grpc/health/v1/health.js";
import { unusedPort } from "./support/ports.js";
import { tempDir } from "./support/stack.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin", "oneiric-healthd.js");

/** A command line as a child process, its output collected; `exited` gives the code. */
class Command {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  static cli(args: string[]): Command {
    return new Command(process.execPath, [CLI, ...args]);
  }

  /** A line as a person would paste it into a shell (exec: signals reach the command itself). */
  static shell(line: string): Command {
    return new Command("/bin/sh", ["-c", `exec ${line}`]);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async untilStdout(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (Date.now() > deadline || !this.running)
        throw new Error(`no ${pattern} in:\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const started: Command[] = [];
const held: Server[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const command of started.splice(0)) {
    if (command.running) command.signal("SIGKILL");
    await command.exited;
  }
  for (const cleanup of cleanups.splice(0)) cleanup();
  await Promise.all(
    held.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

function track(command: Command): Command {
  started.push(command);
  return command;
}

/** A loopback port another process holds, for the duration of the test. */
async function heldPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

/** Whether `port` can be bound on loopback now (it is free), releasing it again. */
async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("demo and run when an address is taken", () => {
  it.each([
    ["HTTP", "--http-listen"],
    ["gRPC", "--grpc-listen"],
    ["simulated registry", "--simulator-listen"],
  ])(
    "demo: a taken %s address stops everything it started and exits 69, naming it",
    async (surface, flag) => {
      const taken = await heldPort();
      const ours = {
        http: await unusedPort(),
        grpc: await unusedPort(),
        simulator: await unusedPort(),
      };
      const addresses = {
        "--http-listen": `127.0.0.1:${ours.http}`,
        "--grpc-listen": `127.0.0.1:${ours.grpc}`,
        "--simulator-listen": `127.0.0.1:${ours.simulator}`,
        [flag]: `127.0.0.1:${taken}`,
      };
      const startedAt = Date.now();
      const demo = track(Command.cli(["demo", ...Object.entries(addresses).flat()]));
      expect(await demo.exited).toBe(69);
      // Start-up of the CLI itself takes a few seconds on a loaded machine; hanging takes forever.
      expect(Date.now() - startedAt).toBeLessThan(20_000);
      expect(demo.stderr).toBe(
        `oneiric-healthd: ${surface} address 127.0.0.1:${taken} is in use (another ${surface === "simulated registry" ? "simulator" : "oneiric-healthd"}?); pass ${flag} 127.0.0.1:0 or --free-ports\n`,
      );
      // Whatever had bound before the clash is free again: nothing of the demo lives on.
      for (const port of Object.values(ours)) expect(await canListen(port)).toBe(true);
    },
  );

  it.each([
    ["HTTP", "--http-listen", "healthd.http.listen"],
    ["gRPC", "--grpc-listen", "healthd.grpc.listen"],
  ])(
    "run: a taken %s address exits 69 with the flag and key that move it",
    async (surface, flag, key) => {
      const taken = await heldPort();
      const other = flag === "--http-listen" ? "--grpc-listen" : "--http-listen";
      const dir = tempDir();
      cleanups.push(dir.remove);
      const run = track(
        Command.cli([
          "run",
          "--db",
          join(dir.path, "healthd.db"),
          flag,
          `127.0.0.1:${taken}`,
          other,
          "127.0.0.1:0",
        ]),
      );
      expect(await run.exited).toBe(69);
      // One line on stderr: grpc-js's own complaint goes to the JSON log on stdout.
      expect(run.stderr).toBe(
        `oneiric-healthd: ${surface} address 127.0.0.1:${taken} is in use (another oneiric-healthd?); pass ${flag} HOST:PORT or change ${key} in the config\n`,
      );
    },
  );

  it("simulate: a taken registry address exits 69, naming --listen", async () => {
    const taken = await heldPort();
    const simulate = track(
      Command.cli([
        "simulate",
        "--scenario",
        join(ROOT, "examples", "scenarios", "demo.yaml"),
        "--listen",
        `127.0.0.1:${taken}`,
      ]),
    );
    expect(await simulate.exited).toBe(69);
    expect(simulate.stderr).toContain(
      `oneiric-healthd: simulated registry address 127.0.0.1:${taken} is in use (another simulator?); pass --listen HOST:PORT (port 0 picks a free one)\n`,
    );
  });
});

describe("demo on free ports", () => {
  it("prints where to look once ready, every address answers, the printed commands work, and breaker retries stay quiet", async () => {
    const demo = track(Command.cli(["demo", "--free-ports", "--duration", "26"]));
    await demo.untilStdout(/Ctrl-C stops the demo\.\n/, 25_000);
    const block = demo.stdout;
    const base = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/adapters\n/.exec(block)?.[1];
    expect(base, block).toBeDefined();
    expect(base).not.toBe("http://127.0.0.1:8681");
    const line = (label: string) => new RegExp(`^ {2}${label} +(.+)$`, "m").exec(block)?.[1];
    expect(line("status page")).toBe(`${base}/`);
    expect(line("live table")).toBe(`node bin/oneiric-healthd.js status --watch --url ${base}`);
    expect(line("OpenAPI")).toBe(`${base}/openapi.json`);
    expect(line("metrics")).toBe(`${base}/metrics`);
    expect(line("liveness, readiness")).toBe(`${base}/healthz  ${base}/readyz`);
    expect(line("events \\(SSE\\)")).toBe(
      `curl -N -H 'Accept: text/event-stream' ${base}/v1/events`,
    );
    const grpc = /^ {2}gRPC +(127\.0\.0\.1:\d+) \(reflection on/m.exec(block)?.[1];
    expect(grpc, block).toBeDefined();
    expect(line("MCP")).toBe(
      `${base}/mcp (streamable HTTP), or on stdio: node bin/oneiric-healthd.js mcp --url ${base}`,
    );
    expect(line("simulated registry")).toMatch(/^127\.0\.0\.1:\d+$/);

    // Every HTTP surface answers at the printed address.
    for (const path of ["/", "/v1/adapters", "/openapi.json", "/metrics", "/healthz", "/readyz"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(200);
      await response.arrayBuffer();
    }
    const stream = new AbortController();
    const events = await fetch(`${base}/v1/events`, {
      headers: { accept: "text/event-stream" },
      signal: stream.signal,
    });
    expect(events.headers.get("content-type")).toContain("text/event-stream");
    stream.abort();
    const mcp = new Client({ name: "demo-test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    expect((await mcp.listTools()).tools.map((tool) => tool.name)).toContain(
      "oneiric_resolve_adapter",
    );
    await mcp.close();
    const health = new HealthClient(grpc as string, credentials.createInsecure());
    const answer = await new Promise<HealthCheckResponse>((resolve, reject) =>
      health.check(HealthCheckRequest.fromPartial({ service: "" }), (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
    health.close();
    expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    // The commands under "Try:" run as printed, from where the demo was started.
    const tried = /^Try:\n((?: {2}.+\n)+)/m.exec(block)?.[1]?.trim().split(/\n\s*/) ?? [];
    expect(tried.map((command) => command.split(" ").slice(0, 4).join(" "))).toEqual([
      "node bin/oneiric-healthd.js status --url",
      "node bin/oneiric-healthd.js resolve adapter",
      "node bin/oneiric-healthd.js events --follow",
      "node bin/oneiric-healthd.js workflow check",
      "node bin/oneiric-healthd.js uptime --window",
    ]);
    const [status, resolve, follow, workflow, uptime] = tried.map((command) =>
      track(Command.shell(command)),
    );
    // From now on: the next event of the scenario (one comes every few seconds).
    await follow?.untilStdout(/^ *\d+ {2}\d\d:\d\d:\d\d {2}/m, 20_000);
    follow?.signal("SIGINT");
    expect(await follow?.exited).toBe(0);
    expect(await status?.exited).toBe(0);
    expect(status?.stdout).toContain("mahavishnu.adapter.storage.s3");
    expect(await resolve?.exited).toBe(0);
    expect(resolve?.stdout).toContain(`answered by: daemon at ${base}`);
    // 0 all met, 1 some not: either way the file was read and the daemon answered.
    expect([0, 1]).toContain(await workflow?.exited);
    expect(workflow?.stdout).toContain(`answered by the daemon at ${base}`);
    expect(await uptime?.exited).toBe(0);
    expect(uptime?.stdout).toMatch(/^uptime over 1h: /);

    expect(await demo.exited).toBe(0);
    // A dead adapter's breaker: its OPEN once, no half-open/OPEN pair per retry.
    const breakerLines = demo.stdout.split("\n").filter((text) => text.includes(": breaker "));
    const sqlite = breakerLines.filter((text) => text.includes("storage.sqlite"));
    expect(sqlite, demo.stdout).toEqual([expect.stringMatching(/breaker OPEN \(HTTP 503\)$/)]);
    expect(breakerLines.filter((text) => text.includes("half-open"))).toEqual([]);
    const perAdapter = new Map<string, number>();
    for (const text of breakerLines) {
      const adapter = /^\S+ {2}(\S+): breaker/.exec(text)?.[1] ?? text;
      perAdapter.set(adapter, (perAdapter.get(adapter) ?? 0) + 1);
    }
    // At most: OPEN, closed, OPEN again for the one that flaps every 15 s.
    expect(Math.max(...perAdapter.values())).toBeLessThanOrEqual(3);
    const stoppedLine = /demo stopped; state kept in (\S+healthd\.db), read it with: (.+)\n$/.exec(
      demo.stdout,
    );
    expect(stoppedLine?.[2]).toBe(`node bin/oneiric-healthd.js status --db ${stoppedLine?.[1]}`);
    // With the daemon gone, the printed command reads the file it left.
    const offline = track(Command.shell(stoppedLine?.[2] ?? "false"));
    expect(await offline.exited).toBe(0);
    expect(offline.stdout).toContain("mahavishnu.adapter.storage.s3");
  }, 90_000);
});
