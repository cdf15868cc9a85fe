import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CommandSpec } from "../src/cli/command-spec.js";
import { COMMANDS } from "../src/cli/command-specs.js";
import type { RunningSimulator } from "../src/simulator/simulator.js";
import { CLI, runCli as cli } from "./support/cli-process.js";
import { ManualClock, startTestSimulator, tempDir } from "./support/stack.js";

/** `Run oneiric-healthd COMMAND --help for usage.`, as every usage error ends. */
const pointsAt = (command: string) =>
  `Run oneiric-healthd ${command === "" ? "" : `${command} `}--help for usage.`;

describe("help and usage errors", () => {
  const commands = COMMANDS.map((spec): [string, CommandSpec] => [spec.name, spec]);

  it("lists every command, help COMMAND and --version at the top level, and exits 0", async () => {
    const [help, short, helpCommand, helpHelp] = await Promise.all([
      cli(["--help"]),
      cli(["-h"]),
      cli(["help"]),
      cli(["help", "help"]),
    ]);
    expect(help.code).toBe(0);
    expect(short).toEqual(help);
    expect(helpCommand).toEqual(help);
    expect(helpHelp).toEqual(help);
    for (const spec of COMMANDS) {
      expect(help.stdout).toMatch(new RegExp(`^ {2}${spec.name}\\b`, "m"));
    }
    expect(help.stdout).toMatch(/^ {2}help COMMAND +\S/m);
    expect(help.stdout).toMatch(/^ {2}--version +Print the version/m);
    expect(help.stdout.split("\n").filter((line) => line.length > 80)).toEqual([]);
    const version = await cli(["--version"]);
    expect(version).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^oneiric-healthd \d+\.\d+\.\d+\n$/),
    });
  });

  it.each(commands)(
    "%s --help prints its usage on stdout, lists every flag it accepts, and exits 0",
    async (name, spec) => {
      const words = name.split(" ");
      const [help, helpCommand] = await Promise.all([
        cli([...words, "--help"]),
        cli(["help", ...words]),
      ]);
      expect(help).toMatchObject({ code: 0, stderr: "" });
      expect(helpCommand).toEqual(help);
      const text = help.stdout;
      // The summary first (wrapped to the terminal), then the synopsis.
      expect(text.split("\n\n")[0]?.replace(/\s+/g, " ")).toBe(spec.summary);
      expect(text).toContain(`Usage: oneiric-healthd ${name}`);
      for (const [flag, entry] of Object.entries(spec.flags)) {
        const label = entry.type === "boolean" ? `--${flag}` : `--${flag} ${entry.value}`;
        // In the option list: the flag with its value name, then its description.
        const listed = text
          .split("\n")
          .findIndex((line) => line.startsWith(`  ${label} `) || line === `  ${label}`);
        expect(listed, `${label} in ${name} --help`).toBeGreaterThan(-1);
        const entryText = text.split("\n").slice(listed).join(" ").replace(/\s+/g, " ");
        expect(entryText).toContain(entry.description.split(" ").slice(0, 3).join(" "));
        if (entry.type !== "boolean" && entry.default !== undefined) {
          expect(entryText).toContain(`Default: ${entry.default}.`);
        }
      }
      expect(text).toMatch(/^ {2}-h, --help +Show this help\./m);
      expect(text).toContain("Examples:");
      // It fits an 80-column terminal.
      expect(text.split("\n").filter((line) => line.length > 80)).toEqual([]);
      for (const example of spec.examples) expect(text).toContain(`  ${example.command}\n`);
    },
  );

  it("workflow --help lists its subcommands", async () => {
    const [help, helpCommand] = await Promise.all([
      cli(["workflow", "--help"]),
      cli(["help", "workflow"]),
    ]);
    expect(help.code).toBe(0);
    expect(helpCommand).toEqual(help);
    expect(help.stdout).toMatch(/^ {2}check FILE +Resolve every adapter requirement/m);
  });

  it.each([
    [["status", "--jsno"], "unknown option --jsno for status; did you mean --json?", "status"],
    [["stauts"], 'unknown command "stauts"; did you mean status?', ""],
    [["help", "evnets"], 'unknown command "evnets"; did you mean events?', ""],
    [["--verison"], "unknown option --verison; did you mean --version?", ""],
    [
      ["workflow", "chek", "f.yaml"],
      'unknown workflow subcommand "chek"; did you mean check?',
      "workflow",
    ],
    [["workflow"], "workflow needs a subcommand: workflow check", "workflow"],
    [["events", "--limit", "-1"], "--limit must be an integer from 1 to 1000; got -1", "events"],
    [
      ["events", "--limit"],
      "--limit needs a value (a number of events, e.g. --limit 50)",
      "events",
    ],
    [["status", "--json=yes"], "--json takes no value; got --json=yes", "status"],
    [["run", "now"], 'unexpected argument "now" for run (it takes no arguments)', "run"],
    [["check-config"], "check-config needs FILE", "check-config"],
    // A mistake the command finds itself points at its help too.
    [["demo", "--duration", "0"], "--duration must be a positive number of seconds", "demo"],
  ])("%j exits 64: %s", async (args, message, command) => {
    const result = await cli(args);
    expect(result).toEqual({
      code: 64,
      stdout: "",
      stderr: `oneiric-healthd: ${message}\n${pointsAt(command)}\n`,
    });
  });
});

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
      'bad.yaml:3: oneiric_mcp.grpc_prot: unknown key (did you mean "grpc_port"?)',
    ],
    [
      "a wrong type",
      "healthd:\n  probes:\n    interval_sec: often\n",
      'bad.yaml:3: healthd.probes.interval_sec: must be a number > 0 and ≤ 2147483; got "often"',
    ],
    [
      "an unset variable",
      "oneiric_mcp:\n  jwt_enabled: true\n  jwt_secret: ${HEALTHD_TEST_UNSET}\n",
      "bad.yaml:3: oneiric_mcp.jwt_secret: environment variable HEALTHD_TEST_UNSET is not set",
    ],
    [
      "an unknown section",
      "oneiric:\n  grpc_host: x\n",
      'bad.yaml:1: oneiric: unknown key (did you mean "oneiric_mcp"?)',
    ],
  ])("exits 78 on %s, naming the file, line and key", async (_name, text, expected) => {
    const path = write("bad.yaml", text);
    const database = join(dir.path, "x.db");
    const result = await cli(["run", "--config", path, "--db", database]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim()).toBe(
      `oneiric-healthd: configuration error: ${join(dir.path, expected)}`,
    );
    // Refused before anything was opened.
    expect(existsSync(database)).toBe(false);
  });

  it("check-config names the file and line of a self-referencing alias and of an alias bomb, exiting 78", async () => {
    const selfAlias = write("self-alias.yaml", "healthd:\n  probes:\n    jitter: &a [*a]\n");
    const selfResult = await cli(["check-config", selfAlias]);
    expect(selfResult.code).toBe(78);
    expect(selfResult.stdout).toBe("");
    expect(selfResult.stderr.trim()).toBe(
      `oneiric-healthd: configuration error: ${selfAlias}:3: healthd.probes.jitter[0]: refers to itself (a YAML alias inside its own anchor)`,
    );
    const laughs = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (const [index, name] of [..."bcdefghi"].entries()) {
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[index]}`).join(", ")}]`);
    }
    const bomb = write("laughs.yaml", `${laughs.join("\n")}\n`);
    const bombResult = await cli(["check-config", bomb]);
    expect(bombResult.code).toBe(78);
    expect(bombResult.stderr).toContain(
      `oneiric-healthd: configuration error: ${bomb}:5: e[0]: aliases of &d`,
    );
  });

  it("check-config prints every problem of a file, one line each, exiting 78", async () => {
    const path = write(
      "several.yaml",
      "oneiric_mcp:\n  grpc_hots: registry\nhealthd:\n  probes:\n    rise: 0\n  lgo: {}\n",
    );
    const result = await cli(["check-config", path]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([
      `oneiric-healthd: configuration error: ${path}:2: oneiric_mcp.grpc_hots: unknown key (did you mean "grpc_host"?)`,
      `oneiric-healthd: configuration error: ${path}:5: healthd.probes.rise: must be an integer from 1 to 100; got 0`,
      `oneiric-healthd: configuration error: ${path}:6: healthd.lgo: unknown key (did you mean "log"?)`,
    ]);
  });

  it("check-config exits 78 naming a cluster's NATS credentials and CA files it cannot read", async () => {
    const absent = join(dir.path, "absent.creds");
    const path = write(
      "cluster.yaml",
      `healthd:\n  cluster:\n    name: prod\n    nats:\n      servers: [nats://127.0.0.1:4222]\n      tls: { ca_path: ${dir.path} }\n      credentials: ${absent}\n`,
    );
    const result = await cli(["check-config", path]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([
      `oneiric-healthd: configuration error: ${path}:6: healthd.cluster.nats.tls.ca_path: ${dir.path} is not a regular file`,
      `oneiric-healthd: configuration error: ${path}:7: healthd.cluster.nats.credentials: file ${absent} does not exist`,
    ]);
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
