import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type JsMsg, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Database from "better-sqlite3";
import { parseScenario } from "../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../src/simulator/simulator.js";
import { DaemonProcess } from "./daemon-process.js";
import { NatsServerProcess } from "./nats-server.js";
import { unusedPort } from "./ports.js";
import { tempDir } from "./stack.js";

/** One adapter as GET /v1/adapters lists it, as far as these tests read it. */
export interface ListedAdapter {
  adapter_id: string;
  status: string;
  stale: boolean;
  flapping: boolean;
  breaker: string;
  owner?: string;
  age_ms?: number | null;
}

/** A cluster member run as `oneiric-healthd run`: its config, database and ports. */
export class MemberProcess {
  process: DaemonProcess | undefined;

  constructor(
    readonly id: string,
    readonly configPath: string,
    readonly dbPath: string,
    readonly httpPort: number,
  ) {}

  /** Starts it and waits for "ready". */
  async start(): Promise<void> {
    this.process = new DaemonProcess(["--config", this.configPath], { keepLines: 2_000 });
    await this.process.waitFor(
      (line) => line.msg === "ready",
      `"ready" from ${this.id}`,
      0,
      60_000,
    );
  }

  async adapters(): Promise<ListedAdapter[]> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/v1/adapters`);
    const body = (await response.json()) as { adapters: ListedAdapter[] };
    return body.adapters;
  }

  async json(path: string): Promise<unknown> {
    return (await fetch(`http://127.0.0.1:${this.httpPort}${path}`)).json();
  }

  /** SIGKILL: no lease deleted, nothing flushed. */
  async kill(): Promise<void> {
    this.process?.kill();
    await this.process?.exited;
  }

  /** SIGTERM and the exit code. */
  async stop(): Promise<number | NodeJS.Signals | null | undefined> {
    if (!this.process?.running) return this.process ? this.process.exited : undefined;
    this.process.signal("SIGTERM");
    return this.process.exited;
  }

  /** The staleness rule the daemon keeps in its database for readers of the file. */
  staleRule(): { graceMs: number; fallbackAfterMs: number } {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT value FROM daemon_meta WHERE key = 'stale_rule'").get() as
        | { value: string }
        | undefined;
      if (!row) throw new Error(`${this.dbPath} keeps no stale_rule`);
      return JSON.parse(row.value) as { graceMs: number; fallbackAfterMs: number };
    } finally {
      db.close();
    }
  }

  /** Other members' events of a type that this member mirrored into its journal. */
  mirroredIds(type: string): string[] {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare("SELECT id FROM events WHERE type = ? AND origin IS NOT NULL AND origin != ?")
        .all(type, this.id) as { id: string }[];
      return rows.map((row) => row.id);
    } finally {
      db.close();
    }
  }

  /** This member's own events of a type, as its journal holds them (read beside the daemon). */
  journalIds(type: string): string[] {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare("SELECT id FROM events WHERE type = ? AND origin = ? ORDER BY seq")
        .all(type, this.id) as { id: string }[];
      return rows.map((row) => row.id);
    } finally {
      db.close();
    }
  }
}

export interface ClusterStack {
  nats: NatsServerProcess;
  simulator: RunningSimulator;
  members: MemberProcess[];
  dir: ReturnType<typeof tempDir>;
}

export interface ClusterStackOptions {
  cluster: string;
  adapters: number;
  memberIds: string[];
  intervalSec: number;
  /** Extra keys under healthd.cluster (YAML flow mapping entries), e.g. "lease_ttl_sec: 5". */
  clusterExtra?: string;
  behaviourMix?: string;
}

/** A real nats-server, a simulator with generated HTTP adapters, and member configs (not started). */
export async function clusterStack(options: ClusterStackOptions): Promise<ClusterStack> {
  const dir = tempDir();
  const nats = await NatsServerProcess.start();
  const simulator = await startSimulator({
    scenario: parseScenario(
      `generate:\n  count: ${options.adapters}\n  endpoint: http\n  flap_period_sec: 20\n  behaviour_mix: ${options.behaviourMix ?? "{ healthy: 0.95, flapping: 0.05 }"}\n`,
      "cluster-scenario.yaml",
    ),
    listen: "127.0.0.1:0",
  });
  const members: MemberProcess[] = [];
  for (const id of options.memberIds) {
    const httpPort = await unusedPort();
    const configPath = join(dir.path, `${id}.yaml`);
    const dbPath = join(dir.path, `${id}.db`);
    writeFileSync(
      configPath,
      `oneiric_mcp:
  grpc_host: 127.0.0.1
  grpc_port: ${simulator.registryPort}
  timeout_sec: 5
healthd:
  http: { listen: "127.0.0.1:${httpPort}" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(dbPath)} }
  sync: { interval_sec: 3600 }
  probes: { interval_sec: ${options.intervalSec}, timeout_sec: 2, registry_check: false }
  log: { level: info }
  cluster: { name: ${options.cluster}, instance: ${id}, nats: { servers: ["${nats.url}"] }${options.clusterExtra ? `, ${options.clusterExtra}` : ""} }
`,
    );
    members.push(new MemberProcess(id, configPath, dbPath, httpPort));
  }
  return { nats, simulator, members, dir };
}

export async function stopClusterStack(stack: ClusterStack | undefined): Promise<void> {
  if (!stack) return;
  for (const member of stack.members) member.process?.kill();
  await Promise.all(stack.members.map((member) => member.process?.exited));
  await stack.simulator.stop();
  await stack.nats.dispose();
  stack.dir.remove();
}

/** Polls `condition` every 250 ms until it holds, up to `timeoutMs`; the last value for the message. */
export async function until<T>(
  read: () => Promise<T>,
  holds: (value: T) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (holds(last)) return last;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 500)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** For each adapter, who probed it between two snapshots of the simulator's probe counts. */
export function probersBetween(
  before: Map<string, Map<string, number>>,
  after: Map<string, Map<string, number>>,
): Map<string, string[]> {
  const probers = new Map<string, string[]>();
  for (const [adapterId, byAgent] of after) {
    const earlier = before.get(adapterId);
    const who: string[] = [];
    for (const [agent, count] of byAgent) {
      if (count > (earlier?.get(agent) ?? 0)) who.push(memberOfAgent(agent));
    }
    probers.set(adapterId, who.sort());
  }
  return probers;
}

function memberOfAgent(agent: string): string {
  return /\(member (.+)\)$/.exec(agent)?.[1] ?? agent;
}

/** Every message on a cluster's event stream now, read afresh from its first. */
export async function readStream(
  url: string,
  cluster: string,
): Promise<{ seq: number; id: string; type: string; origin: string }[]> {
  const connection = await connect({ servers: url });
  try {
    const js = jetstream(connection);
    const stream = `healthd_${cluster}_events`;
    const last = (await (await js.jetstreamManager()).streams.info(stream)).state.last_seq;
    const consumer = await js.consumers.get(stream, { opt_start_seq: 1 });
    const read: { seq: number; id: string; type: string; origin: string }[] = [];
    while (read.length === 0 || (read.at(-1)?.seq ?? 0) < last) {
      const message = await consumer.next({ expires: 5_000 });
      if (!message) throw new Error(`the stream ended at ${read.at(-1)?.seq ?? 0} of ${last}`);
      const body = message.json<{ id: string; type: string; origin: string }>();
      read.push({
        seq: message.seq,
        id: body.id,
        type: body.type.replace("io.oneiric.healthd.", ""),
        origin: body.origin,
      });
    }
    return read;
  } finally {
    await connection.close();
  }
}

/** Everything on a cluster's event stream from its first message, as it arrives. */
export class StreamRecorder {
  /** By stream sequence: a consumer recreated after an outage cannot list one message twice. */
  private readonly bySeq = new Map<
    number,
    { seq: number; id: string; type: string; origin: string }
  >();

  get messages(): { seq: number; id: string; type: string; origin: string }[] {
    return [...this.bySeq.values()].sort((x, y) => x.seq - y.seq);
  }
  private close: (() => Promise<unknown>) | undefined;
  private connection: NatsConnection | undefined;

  async start(url: string, cluster: string): Promise<void> {
    // Reconnecting for as long as it takes, as a real consumer would (nats.js gives up after 10 tries).
    this.connection = await connect({
      servers: url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    const js = jetstream(this.connection);
    const consumer = await js.consumers.get(`healthd_${cluster}_events`, { opt_start_seq: 1 });
    const messages = await consumer.consume({
      callback: (message: JsMsg) => {
        const body = message.json<{ id: string; type: string; origin: string }>();
        this.bySeq.set(message.seq, {
          seq: message.seq,
          id: body.id,
          type: body.type.replace("io.oneiric.healthd.", ""),
          origin: body.origin,
        });
      },
    });
    this.close = () => messages.close();
  }

  async stop(): Promise<void> {
    await this.close?.();
    await this.connection?.close();
  }
}
