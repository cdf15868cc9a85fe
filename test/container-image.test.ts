import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeRegistry } from "./support/fake-registry.js";
import { unusedPort } from "./support/ports.js";
import { tempDir } from "./support/stack.js";

/**
 * The image cannot be built on the project's machines (no Docker engine), so
 * this runs the Dockerfile's own command lines outside a container: its
 * ENTRYPOINT + CMD (the daemon) and its HEALTHCHECK, with the runtime stage's
 * ENV, the files where its COPY lines put them (mapped back to the checkout),
 * and its .dockerignore applied to what the demo needs.
 */
const ROOT = join(import.meta.dirname, "..");
const DOCKERFILE = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const run = promisify(execFile);

interface RuntimeStage {
  env: Record<string, string>;
  /** Container path → checkout path, from the COPY lines that copy from the build context. */
  copies: Map<string, string>;
  workdir: string;
  healthcheck: string[];
  entrypoint: string[];
  cmd: string[];
}

/** The last stage of the Dockerfile, its continuation lines joined. */
function runtimeStage(): RuntimeStage {
  const lines = DOCKERFILE.replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const last = lines.map((line) => line.startsWith("FROM ")).lastIndexOf(true);
  const stage: RuntimeStage = {
    env: {},
    copies: new Map(),
    workdir: "/",
    healthcheck: [],
    entrypoint: [],
    cmd: [],
  };
  for (const line of lines.slice(last + 1)) {
    const [instruction = "", ...words] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    switch (instruction) {
      case "ENV":
        for (const pair of words) {
          const [name = "", value = ""] = pair.split("=");
          stage.env[name] = value;
        }
        break;
      case "WORKDIR":
        stage.workdir = rest;
        break;
      case "COPY":
        if (!rest.startsWith("--from")) {
          const [source = "", target = ""] = words;
          const absolute = target.startsWith("/") ? target : join(stage.workdir, target);
          stage.copies.set(absolute, join(ROOT, source));
        }
        break;
      case "HEALTHCHECK":
        stage.healthcheck = JSON.parse(rest.slice(rest.indexOf("CMD ") + 4)) as string[];
        break;
      case "ENTRYPOINT":
        stage.entrypoint = JSON.parse(rest) as string[];
        break;
      case "CMD":
        stage.cmd = JSON.parse(rest) as string[];
        break;
    }
  }
  return stage;
}

/** A container path as the checkout has it: through the COPY that put it there. */
function hostPath(stage: RuntimeStage, containerPath: string): string {
  for (const [target, source] of stage.copies) {
    if (containerPath === target) return source;
    if (containerPath.startsWith(`${target}/`))
      return join(source, containerPath.slice(target.length));
  }
  return containerPath;
}

/** A command line of the image run here: `node` is this node, paths the checkout's. */
function localCommand(stage: RuntimeStage, words: string[]): string[] {
  const [program, ...args] = words;
  expect(program).toBe("node");
  return args.map((word) => (word.startsWith("/") ? hostPath(stage, word) : word));
}

/** Whether .dockerignore leaves `path` (relative to the context) in the build context. */
function inBuildContext(path: string): boolean {
  const patterns = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = negated ? pattern.slice(1) : pattern;
    const regex = new RegExp(
      `^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`,
    );
    if (regex.test(path)) included = negated;
  }
  return included;
}

describe("the container image's command lines, run outside a container", () => {
  const stage = runtimeStage();
  let dir: ReturnType<typeof tempDir>;
  let registry: FakeRegistry;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = tempDir();
    registry = await new FakeRegistry().start();
    registry.entries = [FakeRegistry.entry({})];
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
    }
    registry.stop();
    dir.remove();
  });

  /** The image's ENV, with its ports free here and the checkout's sources (no dist/ is built). */
  async function imageEnvironment(change: Record<string, string>) {
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...stage.env,
      ONEIRIC_HEALTHD_HTTP_LISTEN: `0.0.0.0:${await unusedPort()}`,
      ONEIRIC_HEALTHD_GRPC_LISTEN: `0.0.0.0:${await unusedPort()}`,
      ...change,
    };
    delete env.ONEIRIC_HEALTHD_COMPILED;
    delete env.ONEIRIC_HEALTHD_TOKEN;
    return env;
  }

  /** ENTRYPOINT + `args`, with the database in the test's directory (the image's is a volume). */
  function startImage(args: string[], env: Record<string, string | undefined>): ChildProcess {
    const child = spawn(process.execPath, localCommand(stage, [...stage.entrypoint, ...args]), {
      env,
      stdio: "ignore",
    });
    children.push(child);
    return child;
  }

  async function runHealthcheck(env: Record<string, string | undefined>) {
    const daemon = children.at(-1);
    // A daemon that exited (a config the image could not start with) fails the test at once.
    if (daemon && daemon.exitCode !== null) throw new Error(`exited ${daemon.exitCode}`);
    try {
      const { stdout } = await run(process.execPath, localCommand(stage, stage.healthcheck), {
        env,
      });
      return { code: 0, output: stdout };
    } catch (error) {
      const failure = error as { code: number; stdout: string; stderr: string };
      return { code: failure.code, output: failure.stdout + failure.stderr };
    }
  }

  it("reads the registry and the listen addresses from the environment, and HEALTHCHECK follows them", async () => {
    expect(stage.env.ONEIRIC_REGISTRY_HOST).not.toBe("localhost");
    expect(stage.cmd).toEqual(["run", "--config", "/etc/oneiric-healthd/healthd.yaml"]);
    expect(existsSync(hostPath(stage, "/etc/oneiric-healthd/healthd.yaml"))).toBe(true);
    const env = await imageEnvironment({
      ONEIRIC_REGISTRY_HOST: "127.0.0.1",
      ONEIRIC_REGISTRY_PORT: String(registry.port),
    });
    startImage([...stage.cmd, "--db", join(dir.path, "healthd.db")], env);
    const port = (env.ONEIRIC_HEALTHD_HTTP_LISTEN ?? "").split(":")[1];
    await vi.waitFor(
      async () => {
        const answer = await runHealthcheck(env);
        expect(answer).toEqual({
          code: 0,
          output: `ready: http://127.0.0.1:${port}/readyz answered 200\n`,
        });
      },
      { timeout: 45_000, interval: 500 },
    );
  }, 60_000);

  it("reports a container whose registry never answers as unhealthy, with the reason", async () => {
    const env = await imageEnvironment({
      ONEIRIC_REGISTRY_HOST: "127.0.0.1",
      ONEIRIC_REGISTRY_PORT: String(await unusedPort()),
    });
    startImage([...stage.cmd, "--db", join(dir.path, "healthd.db")], env);
    await vi.waitFor(
      async () => {
        const answer = await runHealthcheck(env);
        expect(answer.code).toBe(1);
        expect(answer.output).toContain("answered 503: no catalog yet");
      },
      { timeout: 45_000, interval: 500 },
    );
  }, 60_000);

  it("runs the demo from the image's files on --http-listen 0.0.0.0, healthy by the HEALTHCHECK", async () => {
    const demo = join(stage.workdir, "examples/scenarios/demo.yaml");
    expect(inBuildContext(relative(ROOT, hostPath(stage, demo)))).toBe(true);
    expect(existsSync(hostPath(stage, demo))).toBe(true);
    const env = await imageEnvironment({});
    startImage(
      ["demo", "--http-listen", env.ONEIRIC_HEALTHD_HTTP_LISTEN ?? "", "--duration", "60"],
      env,
    );
    await vi.waitFor(async () => expect((await runHealthcheck(env)).code).toBe(0), {
      timeout: 45_000,
      interval: 500,
    });
  }, 60_000);
});
