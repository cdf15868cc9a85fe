import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type DaemonConfig, parseConfigText } from "../../src/config/load.js";
import { type RunningDaemon, startDaemon } from "../../src/main.js";
import { parseScenario } from "../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../src/simulator/simulator.js";

/**
 * A clock the test moves by hand, so scripted behaviour changes when the test says.
 * Held in shared memory, so the daemon's HTTP front thread reads the same time.
 */
export class ManualClock {
  readonly cell = new Float64Array(new SharedArrayBuffer(8));
  constructor(value = Date.parse("2026-11-26T12:00:00Z")) {
    this.value = value;
  }
  get value(): number {
    return this.cell[0] ?? 0;
  }
  set value(ms: number) {
    this.cell[0] = ms;
  }
  now = (): number => this.value;
  advance(ms: number): void {
    this.value += ms;
  }
}

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "oneiric-healthd-test-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startTestSimulator(
  scenarioYaml: string,
  clock: ManualClock,
): Promise<RunningSimulator> {
  return startSimulator({
    scenario: parseScenario(scenarioYaml, "test-scenario.yaml"),
    listen: "127.0.0.1:0",
    now: clock.now,
    random: () => 0.5,
    watchIntervalMs: 20,
  });
}

/** A config pointing at `registryPort`, with ports 0 and fast timeouts for tests. */
export function testConfig(registryPort: number, dbPath: string, extraYaml = ""): DaemonConfig {
  return parseConfigText(
    `
oneiric_mcp:
  grpc_host: 127.0.0.1
  grpc_port: ${registryPort}
  timeout_sec: 2
healthd:
  http: { listen: "127.0.0.1:0", sse_heartbeat_sec: 0.2 }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
  sync: { interval_sec: 3600 }
  probes: { interval_sec: 3600, timeout_sec: 1, rise: 2, fall: 2, degraded_latency_ms: 300 }
  log: { level: silent }
${extraYaml}`,
    "test-config.yaml",
    {},
  );
}

export function startTestDaemon(config: DaemonConfig, clock?: ManualClock): Promise<RunningDaemon> {
  return startDaemon(config, {
    logger: pino({ level: "silent" }),
    ...(clock ? { now: clock.now, sharedClock: clock.cell } : {}),
  });
}

/** Event streams the daemon serves now: its front's and its main thread's. */
export function eventStreams(daemon: RunningDaemon): number {
  return daemon.hub.subscriberCount + (daemon.front?.eventStreams ?? 0);
}

export async function getJson(
  daemon: RunningDaemon,
  path: string,
  // biome-ignore lint/suspicious/noExplicitAny: assertions inspect arbitrary JSON bodies structurally
): Promise<{ status: number; contentType: string; body: any }> {
  const response = await fetch(`http://127.0.0.1:${daemon.httpAddress.port}${path}`);
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    body: text.startsWith("{") ? JSON.parse(text) : text,
  };
}

/** A simulator and a daemon over it, with the daemon's file in a temp directory. */
export interface TestStack {
  dir: ReturnType<typeof tempDir>;
  simulator: RunningSimulator;
  daemon: RunningDaemon;
  /** The daemon's HTTP address, e.g. `http://127.0.0.1:PORT`. */
  base: string;
}

/**
 * Starts a simulator over `scenarioYaml` and a daemon over it (test settings plus
 * `extraYaml` under `healthd:`), both on a manual clock at the real time, and runs
 * `rounds` rounds of checks.
 */
export async function startTestStack(
  scenarioYaml: string,
  extraYaml = "",
  rounds = 1,
): Promise<TestStack> {
  const dir = tempDir();
  const clock = new ManualClock(Date.now());
  const simulator = await startTestSimulator(scenarioYaml, clock);
  const daemon = await startTestDaemon(
    testConfig(simulator.registryPort, join(dir.path, "healthd.db"), extraYaml),
    clock,
  );
  for (let round = 0; round < rounds; round++) await daemon.checkAllNow();
  return { dir, simulator, daemon, base: `http://127.0.0.1:${daemon.httpAddress.port}` };
}

export async function stopTestStack(stack: TestStack | undefined): Promise<void> {
  if (!stack) return;
  await stack.daemon.stop();
  await stack.simulator.stop();
  stack.dir.remove();
}
