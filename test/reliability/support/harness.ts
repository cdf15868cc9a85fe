/**
 * Parts the reliability tests share: a daemon config file, the simulator as its
 * own process, HTTP reads that never hang, and the seeded randomness.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";

const CLI = join(import.meta.dirname, "..", "..", "..", "bin", "oneiric-healthd.js");

/**
 * Writes a daemon config for `oneiric-healthd run`: the registry at `registryPort`,
 * the database at `dbPath`, ports 0, and `healthd` keys added from `healthdYaml`
 * (indented by two spaces). Everything else is at its default.
 */
export function writeDaemonConfig(
  dir: string,
  options: { registryPort: number; dbPath: string; healthdYaml?: string; mcpYaml?: string },
): string {
  const path = join(dir, "healthd.yaml");
  writeFileSync(
    path,
    `oneiric_mcp:
  grpc_host: 127.0.0.1
  grpc_port: ${options.registryPort}
${options.mcpYaml ?? ""}healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(options.dbPath)} }
${options.healthdYaml ?? ""}`,
  );
  return path;
}

/** `oneiric-healthd simulate` as a child process, so its load is not the test's. */
export class SimulatorProcess {
  readonly registryPort: Promise<number>;
  readonly exited: Promise<number | NodeJS.Signals | null>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private output = "";

  constructor(scenarioPath: string) {
    this.child = spawn(
      process.execPath,
      [CLI, "simulate", "--scenario", scenarioPath, "--listen", "127.0.0.1:0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    this.registryPort = new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const match = /registry on [^\s]+:(\d+)/.exec(this.output);
        if (match) resolve(Number(match[1]));
      };
      this.child.stdout.on("data", onData);
      this.child.stderr.on("data", (chunk: Buffer) => {
        this.output += chunk.toString();
      });
      void this.exited.then((how) =>
        reject(new Error(`the simulator ended (${how}) before listening:\n${this.output}`)),
      );
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await this.exited;
  }
}

export interface HttpAnswer {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: assertions inspect arbitrary JSON bodies structurally
  json: any;
}

/** GET on the daemon's HTTP port; a refused or hung request is an error, never a wait forever. */
export async function httpGet(port: number, path: string, timeoutMs = 10_000): Promise<HttpAnswer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

/** The sum of a metric's samples (every label set) in a /metrics page. */
export function metricSum(page: string, name: string): number {
  let sum = 0;
  let found = false;
  for (const line of page.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    found = true;
  }
  if (!found) throw new Error(`no ${name} in /metrics`);
  return sum;
}

/** Waits until `condition` holds, polling; throws with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${String(lastError)})` : ""}`,
      );
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A seeded generator (mulberry32): the same seed gives the same run. The seed comes
 * from ONEIRIC_RELIABILITY_SEED when set, so a failing run can be repeated.
 */
export function seededRandom(label: string): { seed: number; next: () => number } {
  const fromEnv = process.env.ONEIRIC_RELIABILITY_SEED;
  const seed = fromEnv === undefined ? (Date.now() ^ (process.pid << 8)) >>> 0 : Number(fromEnv);
  if (!Number.isInteger(seed)) {
    throw new Error(`ONEIRIC_RELIABILITY_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  }
  console.log(`${label}: seed ${seed} (repeat with ONEIRIC_RELIABILITY_SEED=${seed})`);
  let state = seed >>> 0;
  return {
    seed,
    next: () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Least-squares slope of y over x. */
export function leastSquaresSlope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) throw new Error(`a slope needs two points or more, got ${n}`);
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const p of points) {
    numerator += (p.x - meanX) * (p.y - meanY);
    denominator += (p.x - meanX) ** 2;
  }
  return numerator / denominator;
}
