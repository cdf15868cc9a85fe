import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { ManualClock, startTestSimulator, tempDir } from "./support/stack.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe("command line", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  const write = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };

  it("prints usage with --help and rejects an unknown command with exit 64", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}run {2,}Run the daemon/m);
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it("refuses a simulator Watch interval that is not a positive whole number, naming the flag", async () => {
    const scenario = write("one.yaml", "adapters:\n  - { category: cache, provider: redis }\n");
    for (const value of ["0", "-5", "fast", "1.5"]) {
      const result = await cli([
        "simulate",
        "--scenario",
        scenario,
        `--watch-interval-ms=${value}`,
      ]);
      expect(result.code).toBe(64);
      expect(result.stderr).toContain("--watch-interval-ms must be a positive whole number");
    }
  });

  it.each([
    [
      "an unknown key",
      "oneiric_mcp:\n  grpc_host: localhost\n  grpc_prot: 8679\n",
      "bad.yaml:3: oneiric_mcp.grpc_prot: unknown key",
    ],
    [
      "a wrong type",
      "healthd:\n  probes:\n    interval_sec: often\n",
      "bad.yaml:3: healthd.probes.interval_sec: expected number, received string",
    ],
    [
      "an unset variable",
      "oneiric_mcp:\n  jwt_enabled: true\n  jwt_secret: ${HEALTHD_TEST_UNSET}\n",
      "bad.yaml:3: oneiric_mcp.jwt_secret: environment variable HEALTHD_TEST_UNSET is not set",
    ],
    ["an unknown section", "oneiric:\n  grpc_host: x\n", "bad.yaml:1: oneiric: unknown key"],
  ])("exits 78 on %s, naming the file, line and key", async (_name, text, expected) => {
    const path = write("bad.yaml", text);
    const result = await cli(["run", "--config", path, "--db", join(dir.path, "x.db")]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: configuration error: ${join(dir.path, expected)}`,
    );
  });

  it("exits 78 for a missing config file and validates with check-config", async () => {
    const missing = await cli(["check-config", join(dir.path, "absent.yaml")]);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain("absent.yaml: file not found");
    const good = write(
      "good.yaml",
      "oneiric_mcp:\n  grpc_host: localhost\n  grpc_port: 8679\n  timeout_sec: 30\n  cache_ttl_sec: 300\n",
    );
    const valid = await cli(["check-config", good]);
    expect(valid).toMatchObject({ code: 0, stdout: `${good}: valid\n` });
  });

  it("says so when status has no database to read", async () => {
    const result = await cli(["status", "--db", join(dir.path, "none.db")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no database at");
  });
});

describe("the daemon as a process", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startTestSimulator(
      "adapters:\n  - { category: storage, provider: s3 }\n  - { category: cache, provider: redis, behaviour: down }\n",
      new ManualClock(Date.now()),
    );
  });
  afterEach(async () => {
    await simulator.stop();
    dir.remove();
  });

  it("starts, becomes ready, checks adapters, and exits 0 on SIGTERM", async () => {
    const config = join(dir.path, "healthd.yaml");
    const dbPath = join(dir.path, "healthd.db");
    writeFileSync(
      config,
      `oneiric_mcp:\n  grpc_host: 127.0.0.1\n  grpc_port: ${simulator.registryPort}\nhealthd:\n  probes: { interval_sec: 0.2, rise: 1, fall: 1 }\n`,
    );
    const child = spawn(
      process.execPath,
      [
        CLI,
        "run",
        "--config",
        config,
        "--db",
        dbPath,
        "--http-listen",
        "127.0.0.1:0",
        "--grpc-listen",
        "127.0.0.1:0",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );

    // The log line that announces readiness carries the listening HTTP port.
    const httpPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`daemon never listened:\n${output}`)),
        20_000,
      );
      child.stdout.on("data", () => {
        const match = /"http":"127\.0\.0\.1:(\d+)"/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    let adapters: { adapter_id: string; status: string }[] = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      const body = (await (await fetch(`http://127.0.0.1:${httpPort}/v1/adapters`)).json()) as {
        adapters: typeof adapters;
      };
      adapters = body.adapters;
      if (adapters.every((adapter) => adapter.status !== "unknown") && adapters.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(
      Object.fromEntries(adapters.map((adapter) => [adapter.adapter_id, adapter.status])),
    ).toEqual({
      "mahavishnu.adapter.storage.s3": "healthy",
      "mahavishnu.adapter.cache.redis": "unhealthy",
    });

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
    const status = await cli(["status", "--json", "--db", dbPath]);
    expect(JSON.parse(status.stdout).adapters).toHaveLength(2);
  });
});
