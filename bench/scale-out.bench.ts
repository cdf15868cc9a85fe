/**
 * What a cluster of members (docs/configuration.md "Cluster", issue 14) costs and how fast
 * it is, against a real `nats-server -js` (Debian's package) on loopback:
 *
 * 1. **publish**: throughput of the journal to JetStream. The daemon's own SqliteStore,
 *    EventHub and JournalPublisher in this process, as src/main.ts wires them: 20,000
 *    `adapter.health_changed` events committed in batches of 100 (`store.commit`, then the
 *    hub, as the engine does), timed from the first commit until the publisher's cursor
 *    reaches the newest seq (`caughtUp`); median of 3 runs. Once with the publisher
 *    following (live), once with the events committed while it was stopped (the backlog an
 *    outage leaves), timed from `start()`.
 * 2. **fleet**: two members (`oneiric-healthd run`, each its own process) over a simulator
 *    process whose adapters flap; an SSE client on member b's `/v1/events`. For each
 *    `adapter.health_changed` whose `origin` is member a: latency = receipt − the event's
 *    `time` (its decision time, same clock: the check's end). It includes a's commit batch
 *    (≤ 20 ms), the stream, b's mirror commit (≤ 20 ms) and b's SSE, so it is an upper bound
 *    of commit → SSE. Meanwhile the bench listens to the verdict exchange, the stream and the
 *    members' KV bucket for what one verdict, one stream event and one lease weigh; then it
 *    times `HealthEngine.adoptVerdicts` on a real SqliteStore (commits included) over those
 *    verdicts, as a receiving member runs it.
 * 3. **rebalance**: three members over 3,000 (and 10,000) adapters; SIGKILL one, time until
 *    no adapter on a survivor's `GET /v1/adapters` names it as owner; then restart it and
 *    time until its share is shown under it again, before the next kill.
 *
 * Run: npm run bench:scale-out   (prints figures; asserts nothing; --quick for a smoke run;
 * --report <file> for the suite, see bench/report.ts; BENCH_SCALE_OUT_PARTS=publish,fleet,rebalance
 * for some parts only). Needs `nats-server` on PATH: without it the bench says so and exits 1.
 * Every child process (members, simulators, nats-server) is killed when the bench exits.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { MsgHdrs } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { ensureEventStream, JournalPublisher } from "../src/cluster/journal-publisher.js";
import { membersBucketName } from "../src/cluster/membership.js";
import { verdictSubject } from "../src/cluster/verdict-exchange.js";
import { parseConfigText } from "../src/config/load.js";
import type { AdapterEntry } from "../src/domain/adapter.js";
import { toJournalEvent } from "../src/domain/decide.js";
import {
  type AdapterKind,
  encodeStreamEvent,
  eventStreamName,
  eventSubject,
} from "../src/domain/event-subjects.js";
import type { NewEvent } from "../src/domain/events.js";
import { type HealthState, initialHealth } from "../src/domain/health.js";
import { EventHub } from "../src/events/event-hub.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { benchOptions } from "./report.js";
import {
  CLI,
  DISTURBED_PCT,
  freePort,
  machineBusySeconds,
  processCpuSeconds,
  selectedParts,
} from "./support.js";
import { wiredEngine } from "./wired-engine.js";

const { quick, reporter } = benchOptions("scale-out");

const PARTS = selectedParts("BENCH_SCALE_OUT_PARTS", ["publish", "fleet", "rebalance"]);

/** The daemon's defaults: an empty config file. */
const DEFAULTS = parseConfigText("", "defaults.yaml", {});
/** The stream's max age as src/main.ts gives it (buildCluster). */
const STREAM_MAX_AGE_MS = Math.max(DEFAULTS.journal.maxAgeMs, 10 * 60_000);
const DEFAULT_INTERVAL_SEC = DEFAULTS.adapters.defaults.probes.intervalMs / 1000;
/** healthd.cluster.lease_ttl_sec's default: a cluster section that sets only what it must. */
const DEFAULT_LEASE_TTL_SEC =
  (parseConfigText(
    'healthd: { cluster: { name: defaults, nats: { servers: ["nats://127.0.0.1:4222"] } } }\n',
    "defaults.yaml",
    {},
  ).cluster?.leaseTtlMs ?? Number.NaN) / 1000;

// 1. publish
const PUBLISH_EVENTS = quick ? 2_000 : 20_000;
/** Events per commit: what the engine's 20 ms batch holds at about 5,000 events/s. */
const PUBLISH_BATCH = 100;
const PUBLISH_RUNS = quick ? 1 : 3;
const PUBLISH_MEMBER = "bench-member";

// 2. fleet
const FLEET_ADAPTERS = quick ? 300 : 1_000;
const FLEET_WINDOW_SEC = quick ? 15 : 60;
const FLAP_PERIOD_SEC = 4;
const FLAPPING_SHARE = 0.05;
/**
 * The members' settings (under healthd): health changes every few seconds. Flap detection
 * and breakers would silence a flapping adapter's changes after a few: kept out of the way.
 */
const FLEET_SETTINGS: readonly (readonly [string, string])[] = [
  ["probes", "{ interval_sec: 1, rise: 1, fall: 1, registry_check: false }"],
  ["breaker", "{ threshold: 1000 }"],
  ["flap", "{ transitions: 1000 }"],
];
/** adoptVerdicts: the receiving member's catalog, rounds of every adapter, verdicts per message. */
const ADOPT_ADAPTERS = quick ? 1_000 : 10_000;
const ADOPT_ROUNDS = quick ? 2 : 4;
const ADOPT_BATCHES = [20, 1_000] as const;

// 3. rebalance
interface RebalanceCase {
  adapters: number;
  /** probes.interval_sec, or undefined for the default (the "defaults" row). */
  intervalSec: number | undefined;
  runs: number;
}
const REBALANCE_CASES: readonly RebalanceCase[] = quick
  ? [{ adapters: 1_000, intervalSec: 5, runs: 1 }]
  : [
      { adapters: 3_000, intervalSec: 5, runs: 5 },
      { adapters: 3_000, intervalSec: undefined, runs: 5 },
      { adapters: 10_000, intervalSec: undefined, runs: 3 },
    ];
/** How long the bench waits between two GET /v1/adapters of the survivor while it waits for the takeover. */
const OWNER_POLL_MS = 250;

const CATEGORIES = ["storage", "cache", "queue", "database", "orchestration", "secrets", "search"];

const count = (n: number) => n.toLocaleString("en-US");
const seconds = (ms: number) => ms / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `p`th percentile (nearest rank) of ascending `sorted`. */
function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

// ---------------------------------------------------------------------------------------------
// Child processes, killed at exit whatever happens

const children = new Set<ChildProcess>();
const dirs: string[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(130));
}

function tempDir(what: string): string {
  const dir = mkdtempSync(join(tmpdir(), `oneiric-healthd-bench-scale-out-${what}-`));
  dirs.push(dir);
  return dir;
}

/** A child process whose output is watched for a line saying it is ready, and kept (the tail) for errors. */
class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  /** Output lines that held `keepLinesWith`, as written. */
  readonly kept: string[] = [];
  private output = "";
  private partial = "";
  private ready = false;

  private constructor(
    command: string,
    args: readonly string[],
    readyText: string,
    keepLinesWith: string | undefined,
  ) {
    this.process = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.add(this.process);
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      // The tail is enough for an error message.
      this.output = (this.output + text).slice(-20_000);
      const lines = (this.partial + text).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.includes(readyText)) this.ready = true;
        if (keepLinesWith !== undefined && line.includes(keepLinesWith)) this.kept.push(line);
      }
    };
    this.process.stdout?.on("data", take);
    this.process.stderr?.on("data", take);
    this.exited = new Promise((resolve) => this.process.once("exit", () => resolve()));
    void this.exited.then(() => children.delete(this.process));
  }

  /**
   * Starts `command` and resolves once a line of its output holds `readyText`; rejects if it
   * exits first or takes longer than `timeoutMs`.
   */
  static async start(
    command: string,
    args: readonly string[],
    readyText: string,
    what: string,
    options: { timeoutMs?: number; keepLinesWith?: string } = {},
  ): Promise<Child> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const child = new Child(command, args, readyText, options.keepLinesWith);
    const deadline = Date.now() + timeoutMs;
    while (!child.ready) {
      if (!child.running) {
        throw new Error(`${what} exited before it was ready:\n${child.tail()}`);
      }
      if (Date.now() > deadline) {
        await child.kill();
        throw new Error(`${what} not ready within ${timeoutMs} ms:\n${child.tail()}`);
      }
      await sleep(20);
    }
    return child;
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** SIGKILL, and the exit awaited. */
  async kill(): Promise<void> {
    if (this.running) this.process.kill("SIGKILL");
    await this.exited;
  }

  tail(): string {
    return this.output.slice(-3_000);
  }
}

/** utime + stime of `pid` in seconds, or NaN once it is gone. */
function cpuOf(pid: number): number {
  try {
    return processCpuSeconds(pid);
  } catch {
    return Number.NaN;
  }
}

/**
 * How much CPU processes other than the bench's own (this one and the children it names)
 * used since it was made, as a percentage of one core. A process that ends meanwhile counts
 * up to its last reading; read them just before a SIGKILL.
 */
class OthersMeter {
  private readonly machine0 = machineBusySeconds();
  private readonly t0 = performance.now();
  private readonly own0 = new Map<number, number>();
  /** Last readings of processes about to end (see `note`). */
  private readonly last = new Map<number, number>();

  constructor(private readonly pids: () => readonly number[]) {
    for (const pid of [process.pid, ...pids()]) this.own0.set(pid, cpuOf(pid));
  }

  /** Takes a reading of `pid` now: a process about to be killed, whose /proc entry will be gone. */
  note(pid: number): void {
    this.last.set(pid, cpuOf(pid));
  }

  othersPct(): number {
    const elapsed = (performance.now() - this.t0) / 1000;
    let own = 0;
    for (const [pid, before] of this.own0) {
      const after = this.last.get(pid) ?? cpuOf(pid);
      if (Number.isFinite(after) && Number.isFinite(before)) own += after - before;
    }
    // Processes started after the meter (a restarted member) count from their start.
    for (const pid of this.pids()) {
      if (!this.own0.has(pid)) own += Number.isFinite(cpuOf(pid)) ? cpuOf(pid) : 0;
    }
    return Math.max(0, ((machineBusySeconds() - this.machine0 - own) / elapsed) * 100);
  }
}

/** A note for figures measured while other processes were busy, or nothing. */
function disturbance(othersPct: readonly number[]): string | undefined {
  const worst = Math.max(...othersPct);
  return worst > DISTURBED_PCT
    ? `disturbed: other processes used up to ${worst.toFixed(0)} % of a core`
    : undefined;
}

function notes(...parts: (string | undefined)[]): { note?: string } {
  const text = parts.filter(Boolean).join("; ");
  return text ? { note: text } : {};
}

// ---------------------------------------------------------------------------------------------
// nats-server, simulators and members

/** Why nats-server cannot run here, or nothing. */
function natsServerProblem(): string | undefined {
  const run = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  if (run.error) {
    return `nats-server is not on PATH (apt-get install nats-server): the cluster's figures need a real JetStream server (${run.error.message})`;
  }
  if (run.status !== 0) return `nats-server --version failed (exit ${run.status})`;
  return undefined;
}

async function startNatsServer(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const dir = tempDir("nats");
  const child = await Child.start(
    "nats-server",
    ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    "Server is ready",
    "nats-server",
    { timeoutMs: 15_000 },
  );
  return { child, url: `nats://127.0.0.1:${port}` };
}

async function startSimulator(
  dir: string,
  scenarioYaml: string,
): Promise<{ child: Child; port: number }> {
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(scenario, scenarioYaml);
  const port = await freePort();
  const child = await Child.start(
    process.execPath,
    [CLI, "simulate", "--scenario", scenario, "--listen", `127.0.0.1:${port}`],
    "simulating",
    "the simulator",
  );
  return { child, port };
}

/** What a member logs (INFO) when its view of the live members changed and it reassigned the adapters. */
const MEMBERS_CHANGED = "cluster members changed; adapters reassigned";

/** One adapter as GET /v1/adapters lists it, as far as this bench reads it. */
interface ListedAdapter {
  adapter_id: string;
  owner?: string;
}

/** A cluster member: `oneiric-healthd run --config`, its own process, database and HTTP port. */
class Member {
  child: Child | undefined;

  constructor(
    readonly id: string,
    readonly configPath: string,
    readonly httpPort: number,
  ) {}

  static async write(
    dir: string,
    id: string,
    options: { registryPort: number; natsUrl: string; cluster: string; extra: string },
  ): Promise<Member> {
    const httpPort = await freePort();
    const configPath = join(dir, `${id}.yaml`);
    // Only what a member must be told (where the registry, its database, its listeners and its
    // cluster are) plus `extra`: the rest is at its defaults.
    writeFileSync(
      configPath,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${options.registryPort} }
healthd:
  http: { listen: "127.0.0.1:${httpPort}" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir, `${id}.db`))} }
  cluster: { name: ${options.cluster}, instance: ${id}, nats: { servers: ["${options.natsUrl}"] } }
${options.extra}`,
    );
    return new Member(id, configPath, httpPort);
  }

  /** Starts it and waits for "ready"; resolves with when it was ready (ms). */
  async start(): Promise<number> {
    this.child = await Child.start(
      process.execPath,
      [CLI, "run", "--config", this.configPath],
      '"msg":"ready"',
      `member ${this.id}`,
      { timeoutMs: 120_000, keepLinesWith: MEMBERS_CHANGED },
    );
    return Date.now();
  }

  /** When this member first logged that the members changed at or after `sinceMs` (its log's ms), if it did. */
  membersChangedAt(sinceMs: number): number | undefined {
    for (const line of this.child?.kept ?? []) {
      const time = (JSON.parse(line) as { time?: number }).time;
      if (typeof time === "number" && time >= sinceMs) return time;
    }
    return undefined;
  }

  /** Verdicts this member refused so far (a sender it does not take for the owner), from /metrics. */
  async refusedVerdicts(): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
    const text = await response.text();
    const match =
      /^oneiric_healthd_cluster_verdicts_received_total\{result="refused"\} (\d+)/m.exec(text);
    return match ? Number(match[1]) : Number.NaN;
  }

  get pid(): number {
    return this.child?.running ? this.child.pid : -1;
  }

  async kill(): Promise<void> {
    await this.child?.kill();
  }

  async adapters(): Promise<ListedAdapter[]> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/v1/adapters`);
    if (!response.ok)
      throw new Error(`member ${this.id}: GET /v1/adapters: HTTP ${response.status}`);
    return ((await response.json()) as { adapters: ListedAdapter[] }).adapters;
  }
}

function ownerCounts(adapters: readonly ListedAdapter[]): Map<string, number> {
  const owners = new Map<string, number>();
  for (const adapter of adapters) {
    const owner = adapter.owner ?? "(none)";
    owners.set(owner, (owners.get(owner) ?? 0) + 1);
  }
  return owners;
}

const describeOwners = (owners: Map<string, number>) =>
  [...owners]
    .sort()
    .map(([owner, n]) => `${owner} ${n}`)
    .join(", ");

/**
 * Polls `observer` until every one of `adapters` is listed with an owner among `members`,
 * each member owns at least 70 % of an even share, and the split stayed the same for three
 * polls a second apart: the first round is done and the assignment settled.
 */
async function settledSplit(
  observer: Member,
  adapters: number,
  members: readonly string[],
  timeoutMs: number,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let previous = "";
  let same = 0;
  let last = new Map<string, number>();
  while (Date.now() < deadline) {
    const listed = await observer.adapters().catch(() => []);
    last = ownerCounts(listed);
    const settled =
      listed.length === adapters &&
      [...last.keys()].every((owner) => members.includes(owner)) &&
      members.every((member) => (last.get(member) ?? 0) >= (0.7 * adapters) / members.length);
    const split = describeOwners(last);
    same = settled && split === previous ? same + 1 : settled ? 1 : 0;
    previous = split;
    if (same >= 3) return last;
    await sleep(1_000);
  }
  throw new Error(
    `member ${observer.id} did not show a settled split of ${count(adapters)} adapters among ${members.join(", ")} within ${timeoutMs / 1000} s; last: ${describeOwners(last)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// 1. publish

function catalog(size: number, at: number): AdapterEntry[] {
  return Array.from({ length: size }, (_, index) => {
    const category = CATEGORIES[index % CATEGORIES.length] ?? "storage";
    const provider = `p${Math.floor(index / CATEGORIES.length)}`;
    const adapterId = `bench.adapter.${category}.${provider}`;
    return {
      adapterId,
      project: "bench",
      domain: "adapter",
      category,
      provider,
      capabilities: ["read", "write"],
      factoryPath: `bench.adapters.${category}.${provider}:Adapter${index + 1}`,
      healthCheckUrl: `http://127.0.0.1:8690/health/${adapterId}`,
      metadata: {},
      registeredAt: Math.floor(at / 1000) - 3600,
      lastHeartbeat: Math.floor(at / 1000),
      registryStatus: "healthy",
    };
  });
}

/** `n` health changes as the engine journals them (toJournalEvent), alternating down and up. */
function healthChanges(entries: readonly AdapterEntry[], n: number, from: number): NewEvent[] {
  return Array.from({ length: n }, (_, index) => {
    const entry = entries[(from + index) % entries.length] as AdapterEntry;
    const down = (from + index) % 2 === 0;
    const at = Date.now();
    const state: HealthState = {
      ...initialHealth(entry.adapterId, "healthy", at),
      status: down ? "unhealthy" : "healthy",
      lastChecked: at,
      latencyMs: down ? null : 1.8,
      source: "probe",
      reason: down ? "HTTP 503 (3 consecutive failures)" : "HTTP 200",
      consecutiveFailures: down ? 3 : 0,
      consecutiveSuccesses: down ? 0 : 2,
      owner: PUBLISH_MEMBER,
    };
    const event = toJournalEvent(
      entry.adapterId,
      {
        type: "adapter.health_changed",
        from: down ? "healthy" : "unhealthy",
        to: state.status,
        reason: state.reason,
        at,
      },
      state,
      false,
    );
    return { ...event, origin: PUBLISH_MEMBER };
  });
}

/** The stream body of one of those events (encodeStreamEvent), as the publisher sends it. */
function sampleBodyBytes(): number {
  const [event] = healthChanges(catalog(1, Date.now()), 1, 0);
  if (!event) return Number.NaN;
  return encodeStreamEvent({ ...event, seq: 1, id: randomUUID() }, PUBLISH_MEMBER).length;
}

interface PublishRun {
  /** From the first commit (live) or start() (backlog) until the cursor reached the newest seq. */
  ms: number;
  eventsPerSec: number;
  /** This process's CPU (commits included, live) per event, µs. */
  benchCpuUs: number;
  natsCpuUs: number;
  /** Wall time of the commits themselves (store.commit and the hub), ms. */
  commitMs: number;
  othersPct: number;
}

async function publishRun(
  nc: NatsConnection,
  nats: Child,
  backlog: boolean,
  run: number,
): Promise<PublishRun> {
  const dir = tempDir("publish");
  const store = new SqliteStore({
    path: join(dir, "member.db"),
    synchronous: DEFAULTS.storage.synchronous,
  });
  const hub = new EventHub(store);
  const cluster = `publish_${backlog ? "backlog" : "live"}_${run}`;
  const jsm = await jetstreamManager(nc);
  // Made beforehand, so the figure is the publishing, not the stream's creation.
  await ensureEventStream(jsm, cluster, STREAM_MAX_AGE_MS);
  const entries = catalog(1_000, Date.now());
  const kinds = new Map<string, AdapterKind>(entries.map((entry) => [entry.adapterId, entry]));
  const publisher = new JournalPublisher({
    connection: () => nc,
    cluster,
    instanceId: PUBLISH_MEMBER,
    journal: store,
    feed: hub,
    shouldPublish: () => true,
    subjectOf: (event) => eventSubject(cluster, event, (id) => kinds.get(id), PUBLISH_MEMBER),
    logger: pino({ level: "silent" }),
    streamMaxAgeMs: STREAM_MAX_AGE_MS,
  });
  try {
    let committedAll = 0;
    const commit = (events: readonly NewEvent[]) => {
      const journalled = store.commit({ events }, Date.now());
      hub.publish(journalled);
      committedAll += journalled.length;
    };
    // Made before the clock starts: building them is the bench's work, not the daemon's.
    const batches: NewEvent[][] = [];
    for (let from = 0; from < PUBLISH_EVENTS; from += PUBLISH_BATCH) {
      batches.push(healthChanges(entries, PUBLISH_BATCH, from));
    }
    let commitMs = 0;
    const commitAll = async (yieldBetween: boolean) => {
      for (const batch of batches) {
        const commitBegan = performance.now();
        commit(batch);
        commitMs += performance.now() - commitBegan;
        // The engine's commits come from timers: the publisher runs between them.
        if (yieldBetween) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    if (backlog) {
      await commitAll(false);
    } else {
      publisher.start();
      // One batch first: the session and the live feed are up before the clock starts.
      commit(healthChanges(entries, PUBLISH_BATCH, 0));
      if (!(await publisher.caughtUp(hub.newestSeq(), 30_000))) {
        throw new Error("the publisher did not publish its first batch within 30 s");
      }
    }
    const others = new OthersMeter(() => [nats.pid]);
    const cpu0 = process.cpuUsage();
    const nats0 = cpuOf(nats.pid);
    const started = performance.now();
    if (backlog) publisher.start();
    else await commitAll(true);
    const newest = hub.newestSeq();
    if (!(await publisher.caughtUp(newest, 300_000))) {
      throw new Error(`the publisher's cursor did not reach ${newest} within 300 s`);
    }
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const natsCpu = cpuOf(nats.pid) - nats0;
    const status = publisher.status();
    const { state } = await jsm.streams.info(eventStreamName(cluster));
    if (
      status.published !== committedAll ||
      status.duplicates !== 0 ||
      state.messages !== committedAll
    ) {
      reporter.problem(
        `publish run ${run} (${backlog ? "backlog" : "live"}): ${committedAll} committed, ${status.published} acked (${status.duplicates} duplicates), ${state.messages} on the stream`,
      );
    }
    await jsm.streams.delete(eventStreamName(cluster));
    return {
      ms,
      eventsPerSec: PUBLISH_EVENTS / seconds(ms),
      benchCpuUs: (cpu.user + cpu.system) / PUBLISH_EVENTS,
      natsCpuUs: (natsCpu * 1e6) / PUBLISH_EVENTS,
      commitMs,
      othersPct: others.othersPct(),
    };
  } finally {
    await publisher.stop(1_000);
    hub.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measurePublish(nats: { child: Child; url: string }): Promise<void> {
  const nc = await connect({ servers: nats.url });
  try {
    for (const backlog of [false, true]) {
      const runs: PublishRun[] = [];
      for (let run = 1; run <= PUBLISH_RUNS; run++) {
        const result = await publishRun(nc, nats.child, backlog, run);
        runs.push(result);
        console.log(
          `1. publish, ${backlog ? "backlog" : "live"} run ${run}: ${count(PUBLISH_EVENTS)} events in ${result.ms.toFixed(0)} ms = ${count(Math.round(result.eventsPerSec))}/s; this process ${result.benchCpuUs.toFixed(1)} µs CPU/event (${backlog ? "committed beforehand in" : "its commits took"} ${result.commitMs.toFixed(0)} ms of wall time), nats-server ${result.natsCpuUs.toFixed(1)} µs/event; others ${result.othersPct.toFixed(0)} % of a core`,
        );
      }
      const how = backlog
        ? `committed while the publisher was stopped (a backlog, read back in journal pages of 500), timed from start() until its cursor reached the newest seq`
        : `committed while the publisher follows the live feed, a setImmediate between commits (the engine commits from timers), timed from the first commit until the cursor reached the newest seq: commits included`;
      const settings = `the daemon's SqliteStore (synchronous ${DEFAULTS.storage.synchronous}), EventHub and JournalPublisher in one process (its defaults: 256 publishes in flight, msg id = event id) against nats-server -js on loopback (file storage, a fresh stream per run, made beforehand); ${count(PUBLISH_EVENTS)} adapter.health_changed events (toJournalEvent; about ${count(sampleBodyBytes())} B each as the stream's CloudEvent JSON), ${PUBLISH_BATCH} per store.commit, ${how}; median of ${runs.length} run${runs.length === 1 ? "" : "s"}${quick ? "; quick run" : ""}`;
      const disturbed = disturbance(runs.map((r) => r.othersPct));
      const label = backlog ? "backlog" : "live";
      reporter.row({
        name: `publish throughput, ${label}`,
        settings,
        value: median(runs.map((r) => r.eventsPerSec)),
        unit: "events/s",
        ...notes(
          `runs: ${runs.map((r) => count(Math.round(r.eventsPerSec))).join(", ")}`,
          disturbed,
        ),
      });
      reporter.row({
        name: `publish, ${label}: CPU per event, this process${backlog ? "" : " (commits included)"}`,
        settings,
        value: median(runs.map((r) => r.benchCpuUs)),
        unit: "µs",
        ...notes(disturbed),
      });
      reporter.row({
        name: `publish, ${label}: CPU per event, nats-server`,
        settings,
        value: median(runs.map((r) => r.natsCpuUs)),
        unit: "µs",
        ...notes(disturbed),
      });
    }
  } finally {
    await nc.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. fleet: latency member a → SSE on member b, and the wire sizes

/** An SSE client on one raw HTTP/1.1 request: each message with its receipt time (Date.now()). */
class EventStreamClient {
  private readonly request: ReturnType<typeof httpRequest>;
  status = 0;

  constructor(
    port: number,
    onMessage: (event: string, data: string, receivedAtMs: number) => void,
  ) {
    this.request = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/events",
        headers: { accept: "text/event-stream" },
      },
      (response) => {
        this.status = response.statusCode ?? 0;
        response.setEncoding("utf8");
        let buffer = "";
        response.on("data", (chunk: string) => {
          const at = Date.now();
          buffer += chunk;
          let boundary = buffer.indexOf("\n\n");
          while (boundary >= 0) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            boundary = buffer.indexOf("\n\n");
            let event = "";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) onMessage(event, data, at);
          }
        });
      },
    );
    this.request.on("error", () => undefined);
    this.request.end();
  }

  close(): void {
    this.request.destroy();
  }
}

/** The bytes of a NATS message's header block as it travels: `NATS/1.0␍␊`, `K: v␍␊` each, `␍␊`. */
function headerBytes(headers: MsgHdrs | undefined): number {
  if (!headers) return 0;
  let bytes = "NATS/1.0\r\n\r\n".length;
  for (const key of headers.keys()) {
    for (const value of headers.values(key)) bytes += Buffer.byteLength(`${key}: ${value}\r\n`);
  }
  return bytes;
}

interface Latencies {
  /** origin a (mirrored into b's journal from the stream) → b's SSE. */
  remote: number[];
  /** origin b (b's own commits) → b's SSE, for comparison. */
  local: number[];
}

function latencyRows(samples: number[], from: string, settings: string, disturbed?: string) {
  const sorted = [...samples].sort((a, b) => a - b);
  const remote = from === "remote";
  const prefix = remote
    ? "commit on a → SSE on b"
    : "commit on b → SSE on b (same member, for comparison)";
  const countNote = `${count(sorted.length)} health changes`;
  reporter.row({ name: `${prefix}: samples`, settings, value: sorted.length, unit: "events" });
  for (const p of remote ? [50, 95, 99] : [50, 99]) {
    reporter.row({
      name: `${prefix}: p${p}`,
      settings,
      value: sorted.length > 0 ? quantile(sorted, p) : null,
      unit: "ms",
      ...(remote && p === 99 ? { goal: "scale-out-sse-p99" } : {}),
      ...notes(countNote, disturbed, sorted.length === 0 ? "no sample" : undefined),
    });
  }
  reporter.row({
    name: `${prefix}: max`,
    settings,
    value: sorted.length > 0 ? (sorted.at(-1) ?? null) : null,
    unit: "ms",
    ...notes(countNote, disturbed),
  });
}

async function measureFleet(nats: { child: Child; url: string }): Promise<void> {
  const dir = tempDir("fleet");
  const cluster = "fleet";
  const simulator = await startSimulator(
    dir,
    `generate: { count: ${FLEET_ADAPTERS}, endpoint: http, flap_period_sec: ${FLAP_PERIOD_SEC}, behaviour_mix: { healthy: ${1 - FLAPPING_SHARE}, flapping: ${FLAPPING_SHARE} } }\n`,
  );
  const memberExtra = FLEET_SETTINGS.map(([key, value]) => `  ${key}: ${value}\n`).join("");
  const [a, b] = (await Promise.all(
    ["a", "b"].map((id) =>
      Member.write(dir, id, {
        registryPort: simulator.port,
        natsUrl: nats.url,
        cluster,
        extra: memberExtra,
      }),
    ),
  )) as [Member, Member];
  const nc = await connect({ servers: nats.url });
  try {
    await Promise.all([a.start(), b.start()]);
    const split = await settledSplit(b, FLEET_ADAPTERS, ["a", "b"], 120_000);
    console.log(`2. fleet: ${count(FLEET_ADAPTERS)} adapters split ${describeOwners(split)}`);

    // What crosses NATS in the window: verdict messages, stream messages.
    const verdicts: { bytes: number; entries: number[]; states: HealthState[] }[] = [];
    const verdictSub = nc.subscribe(verdictSubject(cluster, "*"), {
      callback: (error, message) => {
        if (error) return;
        const parsed = JSON.parse(new TextDecoder().decode(message.data)) as {
          states: HealthState[];
        };
        verdicts.push({
          bytes: message.data.length,
          entries: parsed.states.map((state) => Buffer.byteLength(JSON.stringify(state))),
          states: parsed.states,
        });
      },
    });
    const js = jetstream(nc);
    const streamName = eventStreamName(cluster);
    const jsm = await jetstreamManager(nc);
    const streamStart = (await jsm.streams.info(streamName)).state.last_seq + 1;
    const streamed: { type: string; body: number; headers: number; subject: number }[] = [];
    const consumer = await js.consumers.get(streamName, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: streamStart,
    });
    const streamMessages = await consumer.consume({
      callback: (message: JsMsg) => {
        const body = message.json<{ type: string }>();
        streamed.push({
          type: body.type.replace("io.oneiric.healthd.", ""),
          body: message.data.length,
          headers: headerBytes(message.headers),
          subject: Buffer.byteLength(message.subject),
        });
      },
    });

    const latencies: Latencies = { remote: [], local: [] };
    let otherEvents = 0;
    const others = new OthersMeter(() => [nats.child.pid, simulator.child.pid, a.pid, b.pid]);
    const sse = new EventStreamClient(b.httpPort, (event, data, receivedAtMs) => {
      if (event !== "adapter.health_changed") {
        otherEvents++;
        return;
      }
      const cloudEvent = JSON.parse(data) as { time: string; origin?: string };
      const latency = receivedAtMs - Date.parse(cloudEvent.time);
      if (cloudEvent.origin === "a") latencies.remote.push(latency);
      else if (cloudEvent.origin === "b") latencies.local.push(latency);
    });
    await sleep(FLEET_WINDOW_SEC * 1000);
    sse.close();
    const othersPct = others.othersPct();
    await streamMessages.close();
    verdictSub.unsubscribe();
    if (sse.status !== 200) reporter.problem(`SSE on member b answered HTTP ${sse.status}`);

    // Leases as the KV bucket holds them, and the stream's own bytes per message.
    const kv = await new Kvm(js).open(membersBucketName(cluster));
    const leases: { key: number; value: number }[] = [];
    for (const id of ["a", "b"]) {
      const entry = await kv.get(id);
      if (entry) leases.push({ key: Buffer.byteLength(id), value: entry.value.length });
    }
    const kvState = (await jsm.streams.info(`KV_${membersBucketName(cluster)}`)).state;
    const streamState = (await jsm.streams.info(streamName)).state;

    const disturbed = disturbance([othersPct]);
    const settings = `2 members (oneiric-healthd run, own processes) over a simulator process: ${count(FLEET_ADAPTERS)} HTTP adapters, ${FLAPPING_SHARE * 100} % flapping (flap_period_sec ${FLAP_PERIOD_SEC}: all flip together every ${FLAP_PERIOD_SEC / 2} s); members: ${FLEET_SETTINGS.map(([key, value]) => `${key}: ${value}`).join(", ")}, lease TTL and the rest at their defaults; nats-server -js on loopback; one SSE client (raw node:http) on b's GET /v1/events for ${FLEET_WINDOW_SEC} s after the split settled; latency = receipt − the CloudEvent's time (the check's decision time, one machine clock), so it includes both commit batches (≤ 20 ms each), the stream and the SSE${quick ? "; quick run" : ""}`;
    latencyRows(latencies.remote, "remote", settings, disturbed);
    latencyRows(latencies.local, "local", settings, disturbed);
    const remoteSorted = [...latencies.remote].sort((x, y) => x - y);
    console.log(
      `2. fleet: ${latencies.remote.length} of a's health changes on b's SSE, p50 ${quantile(remoteSorted, 50)} ms, p99 ${quantile(remoteSorted, 99)} ms, max ${remoteSorted.at(-1)} ms; ${latencies.local.length} of b's own; ${otherEvents} other events; others ${othersPct.toFixed(0)} % of a core`,
    );
    if (latencies.remote.length === 0) {
      reporter.problem(
        `no health change of member a reached member b's SSE in ${FLEET_WINDOW_SEC} s`,
      );
    }

    // (a) verdicts, (c) stream events, (d) leases
    const sizeSettings = `measured over the ${FLEET_WINDOW_SEC} s window of the latency run above (${count(FLEET_ADAPTERS)} adapters, 1 s interval, 2 members)`;
    const entryBytes = verdicts.flatMap((message) => message.entries);
    const messageBytes = verdicts.reduce((sum, message) => sum + message.bytes, 0);
    reporter.row({
      name: "verdict entry: JSON of one HealthState as the exchange sends it",
      settings: `${sizeSettings}; every state in every message on ${verdictSubject(cluster, "*")}, mean`,
      value: mean(entryBytes),
      unit: "B",
      ...notes(
        `${count(entryBytes.length)} verdicts in ${count(verdicts.length)} messages; p50 ${quantile(
          [...entryBytes].sort((x, y) => x - y),
          50,
        )} B, max ${Math.max(...entryBytes)} B`,
      ),
    });
    reporter.row({
      name: "verdict message bytes per verdict (its envelope shared)",
      settings: `${sizeSettings}; message payload bytes ÷ verdicts, core NATS (no headers; the subject adds ${Buffer.byteLength(verdictSubject(cluster, "a"))} B per message here)`,
      value: messageBytes / entryBytes.length,
      unit: "B",
      ...notes(
        `${(entryBytes.length / verdicts.length).toFixed(1)} verdicts per message on average`,
      ),
    });
    const changes = streamed.filter((message) => message.type === "adapter.health_changed");
    reporter.row({
      name: "stream event: CloudEvent JSON (origin set), adapter.health_changed",
      settings: `${sizeSettings}; message bodies on ${streamName}, mean`,
      value: mean(changes.map((message) => message.body)),
      unit: "B",
      ...notes(
        `${count(changes.length)} messages; headers (Nats-Msg-Id, Healthd-Origin, Healthd-Seq) ${mean(changes.map((m) => m.headers)).toFixed(0)} B and subject ${mean(changes.map((m) => m.subject)).toFixed(0)} B more each`,
      ),
    });
    reporter.row({
      name: "stream event: CloudEvent JSON (origin set), every type",
      settings: `${sizeSettings}; message bodies on ${streamName}, mean`,
      value: mean(streamed.map((message) => message.body)),
      unit: "B",
      ...notes(
        `${count(streamed.length)} messages: ${[...new Set(streamed.map((m) => m.type))].map((type) => `${type} ${streamed.filter((m) => m.type === type).length}`).join(", ")}`,
      ),
    });
    reporter.row({
      name: "stream: bytes stored per message (JetStream's count)",
      settings: `${streamName} after the run: state.bytes ÷ state.messages (file storage: subject, headers, body and JetStream's per-message overhead)`,
      value: streamState.bytes / streamState.messages,
      unit: "B",
      ...notes(`${count(streamState.messages)} messages, ${count(streamState.bytes)} B`),
    });
    reporter.row({
      name: "KV: lease value (JSON) per member",
      settings: `${membersBucketName(cluster)}: kv.get(member).value, mean over ${leases.length} members`,
      value: mean(leases.map((lease) => lease.value)),
      unit: "B",
    });
    reporter.row({
      name: "KV: bytes stored per member lease (JetStream's count)",
      settings: `KV_${membersBucketName(cluster)} (history 1): state.bytes ÷ state.messages`,
      value: kvState.bytes / kvState.messages,
      unit: "B",
      ...notes(
        `${kvState.messages} messages, ${kvState.bytes} B; key $KV.${membersBucketName(cluster)}.<member>`,
      ),
    });

    await Promise.all([a.kill(), b.kill(), simulator.child.kill()]);
    // (b) adoptVerdicts on a receiving member, over the verdicts seen
    const templates = verdicts.flatMap((message) => message.states);
    if (templates.length === 0) {
      reporter.problem("no verdict crossed the exchange in the window: no adoptVerdicts figure");
    } else {
      for (const batch of ADOPT_BATCHES) measureAdoption(templates, batch);
    }
  } finally {
    await nc.close();
    await Promise.all([a.kill(), b.kill(), simulator.child.kill()]);
  }
}

/** The engine as main.ts wires it for member "b", over a fresh SqliteStore file, with `entries` committed. */
function receivingEngine(path: string, entries: readonly AdapterEntry[]) {
  const now = Date.now;
  const store = new SqliteStore({ path, synchronous: DEFAULTS.storage.synchronous, now });
  const { engine, failedCommits } = wiredEngine({
    store,
    config: DEFAULTS,
    now,
    monotonic: () => performance.now(),
    history: true,
    member: "b",
  });
  engine.commitCatalog({ added: entries, updated: [], removed: [], events: [], at: now() });
  return { store, engine, failed: failedCommits };
}

/**
 * CPU of `HealthEngine.adoptVerdicts` at a receiving member, its commits included: every
 * adapter of a catalog of ADOPT_ADAPTERS gets a verdict from member "a" each round, cast
 * from the real verdicts seen on the exchange (their status, reason, breaker, transitions),
 * `batch` to a message, each message adopted and committed (`flush`, as the engine's
 * 20 ms timer would) before the next.
 */
function measureAdoption(templates: readonly HealthState[], batch: number): void {
  const dir = tempDir("adopt");
  const entries = catalog(ADOPT_ADAPTERS, Date.now());
  const { store, engine, failed } = receivingEngine(join(dir, "b.db"), entries);
  try {
    const cpuPerVerdict: number[] = [];
    const others: number[] = [];
    let adopted = 0;
    // Round 0 warms up (each adapter's first verdict also writes its history rows anew).
    for (let round = 0; round <= ADOPT_ROUNDS; round++) {
      const meter = new OthersMeter(() => []);
      const cpu0 = process.cpuUsage();
      let roundAdopted = 0;
      for (let start = 0; start < entries.length; start += batch) {
        const at = Date.now();
        const states = entries.slice(start, start + batch).map((entry, index): HealthState => {
          const template = templates[(start + index) % templates.length] as HealthState;
          return {
            ...template,
            adapterId: entry.adapterId,
            owner: "a",
            lastChecked: at,
            since: Math.min(template.since, at),
            recentTransitions: template.recentTransitions.filter((time) => time <= at),
          };
        });
        roundAdopted += engine.adoptVerdicts(states);
        engine.flush();
      }
      const cpu = process.cpuUsage(cpu0);
      if (round > 0) {
        cpuPerVerdict.push((cpu.user + cpu.system) / roundAdopted);
        others.push(meter.othersPct());
        adopted += roundAdopted;
      }
    }
    if (failed.count > 0)
      reporter.problem(`${failed.count} commits failed while adopting verdicts`);
    if (adopted !== ADOPT_ROUNDS * entries.length) {
      reporter.problem(
        `adoptVerdicts took ${adopted} of ${ADOPT_ROUNDS * entries.length} verdicts`,
      );
    }
    const us = median(cpuPerVerdict);
    console.log(
      `4b. adoptVerdicts, ${batch} a message: ${us.toFixed(1)} µs CPU per verdict (${count(Math.round(1e6 / us))}/s on one core); rounds ${cpuPerVerdict.map((v) => v.toFixed(1)).join(", ")}`,
    );
    const settings = `HealthEngine.adoptVerdicts on member b, wired as src/main.ts wires it (SqliteStore file at synchronous ${DEFAULTS.storage.synchronous}, history on, defaults), ${count(ADOPT_ADAPTERS)} adapters in its catalog; each round every adapter gets a verdict from member a cast from the ${count(templates.length)} real verdicts of the fleet run (status, reason, breaker, transitions kept, lastChecked now), ${count(batch)} to a message, each message adopted and committed (engine.flush) before the next; CPU (process.cpuUsage) per verdict, median of ${ADOPT_ROUNDS} rounds after one warm-up round${quick ? "; quick run" : ""}`;
    const disturbed = disturbance(others);
    reporter.row({
      name: `adoptVerdicts, ${count(batch)} a message: CPU per verdict (commits included)`,
      size: ADOPT_ADAPTERS,
      settings,
      value: us,
      unit: "µs",
      ...notes(`rounds: ${cpuPerVerdict.map((v) => v.toFixed(1)).join(", ")} µs`, disturbed),
    });
    reporter.row({
      name: `adoptVerdicts, ${count(batch)} a message: verdicts per second, one core`,
      size: ADOPT_ADAPTERS,
      settings,
      value: 1e6 / us,
      unit: "/s",
      ...notes(disturbed),
    });
  } finally {
    engine.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 3. rebalance after a SIGKILL

interface RebalanceRun {
  victim: string;
  observer: string;
  /** SIGKILL → no adapter on the observer's list names the victim as owner (ms). */
  takeoverMs: number | null;
  /** The restarted victim's "ready" → its share shown under it again on the observer (ms). */
  rejoinMs: number | null;
  victimShare: number;
  /** SIGKILL → the first poll that showed fewer of the victim's adapters under it (ms). */
  firstMovedMs: number | null;
  /** SIGKILL → each survivor's log line that the members changed (ms). */
  lapseSeenMs: Map<string, number | undefined>;
  /** Verdicts the observer refused meanwhile (their sender was not yet the owner in its view). */
  refused: number;
  othersPct: number;
}

/** What a run's note says of it. */
function describeRun(run: RebalanceRun): string {
  const s = (ms: number | null | undefined) => (ms == null ? "n/a" : seconds(ms).toFixed(1));
  const seen = [...run.lapseSeenMs].map(([id, ms]) => `${id} ${s(ms)} s`).join(", ");
  return `${run.victim} (${run.victimShare}) ${s(run.takeoverMs)} s [lapse logged by ${seen}; first adapter moved on ${run.observer} ${s(run.firstMovedMs)} s; ${run.observer} refused ${run.refused} verdicts]`;
}

async function rebalanceCase(
  nats: { child: Child; url: string },
  spec: RebalanceCase,
  caseNumber: number,
): Promise<void> {
  const dir = tempDir("rebalance");
  const cluster = `rebalance${caseNumber}`;
  const interval = spec.intervalSec ?? DEFAULT_INTERVAL_SEC;
  const simulator = await startSimulator(
    dir,
    `generate: { count: ${spec.adapters}, endpoint: http }\n`,
  );
  const ids = ["a", "b", "c"];
  const extra =
    spec.intervalSec === undefined ? "" : `  probes: { interval_sec: ${spec.intervalSec} }\n`;
  const members = await Promise.all(
    ids.map((id) =>
      Member.write(dir, id, { registryPort: simulator.port, natsUrl: nats.url, cluster, extra }),
    ),
  );
  const pids = () =>
    [nats.child.pid, simulator.child.pid, ...members.map((m) => m.pid)].filter((p) => p > 0);
  const label = spec.intervalSec === undefined ? "defaults" : `interval ${spec.intervalSec} s`;
  const runs: RebalanceRun[] = [];
  try {
    await Promise.all(members.map((member) => member.start()));
    const waitMs = (DEFAULT_LEASE_TTL_SEC + 4 * interval) * 1000 + 60_000;
    let split = await settledSplit(members[0] as Member, spec.adapters, ids, waitMs + 60_000);
    console.log(
      `3. rebalance, ${count(spec.adapters)} adapters, ${label}: split ${describeOwners(split)}`,
    );
    for (let run = 0; run < spec.runs; run++) {
      const victim = members[run % 3] as Member;
      const observer = members[(run + 1) % 3] as Member;
      const survivors = [observer, members[(run + 2) % 3] as Member];
      const victimShare = split.get(victim.id) ?? 0;
      const refusedBefore = await observer.refusedVerdicts();
      const meter = new OthersMeter(pids);
      meter.note(victim.pid);
      const killedAt = Date.now();
      const killed = victim.kill();
      let takeoverMs: number | null = null;
      let firstMovedMs: number | null = null;
      let left = victimShare;
      const deadline = killedAt + waitMs;
      while (Date.now() < deadline) {
        const listed = await observer.adapters().catch(() => undefined);
        if (!listed) {
          await sleep(OWNER_POLL_MS);
          continue;
        }
        left = listed.filter((adapter) => adapter.owner === victim.id).length;
        if (left < victimShare) firstMovedMs ??= Date.now() - killedAt;
        if (listed.length === spec.adapters && left === 0) {
          takeoverMs = Date.now() - killedAt;
          break;
        }
        await sleep(OWNER_POLL_MS);
      }
      await killed;
      const othersPct = meter.othersPct();
      const refused = (await observer.refusedVerdicts()) - refusedBefore;
      const lapseSeenMs = new Map(
        survivors.map((member) => {
          const at = member.membersChangedAt(killedAt);
          return [member.id, at === undefined ? undefined : at - killedAt] as const;
        }),
      );
      if (takeoverMs === null) {
        reporter.problem(
          `rebalance (${count(spec.adapters)}, ${label}, run ${run + 1}): ${left} adapters still owned by the killed member ${victim.id} on ${observer.id} after ${waitMs / 1000} s`,
        );
      }
      // Back again: it rejoins under the same id, and its share comes back to it.
      const readyAt = await victim.start();
      let rejoinMs: number | null = null;
      const rejoinDeadline = readyAt + waitMs;
      while (Date.now() < rejoinDeadline) {
        const listed = await observer.adapters().catch(() => []);
        const owners = ownerCounts(listed);
        if ((owners.get(victim.id) ?? 0) >= victimShare && listed.length === spec.adapters) {
          rejoinMs = Date.now() - readyAt;
          break;
        }
        await sleep(OWNER_POLL_MS);
      }
      if (rejoinMs === null) {
        reporter.problem(
          `rebalance (${count(spec.adapters)}, ${label}, run ${run + 1}): ${victim.id}'s share (${victimShare}) not back under it on ${observer.id} within ${waitMs / 1000} s of its restart`,
        );
      }
      runs.push({
        victim: victim.id,
        observer: observer.id,
        takeoverMs,
        rejoinMs,
        victimShare,
        firstMovedMs,
        lapseSeenMs,
        refused,
        othersPct,
      });
      console.log(
        `3. rebalance, ${count(spec.adapters)}, ${label}, run ${run + 1}: SIGKILL ${describeRun(runs.at(-1) as RebalanceRun)}; restarted, its share back after ${rejoinMs ?? "n/a"} ms from ready; others ${othersPct.toFixed(0)} % of a core`,
      );
      if (run + 1 < spec.runs) {
        split = await settledSplit(observer, spec.adapters, ids, waitMs + 60_000);
      }
    }
  } finally {
    await Promise.all([...members.map((member) => member.kill()), simulator.child.kill()]);
  }
  const settings = `3 members (oneiric-healthd run, own processes) over a simulator process with ${count(spec.adapters)} healthy HTTP adapters; ${spec.intervalSec === undefined ? `every member at its defaults (probes.interval_sec ${DEFAULT_INTERVAL_SEC}, lease_ttl_sec ${DEFAULT_LEASE_TTL_SEC}) but for its listeners, database and cluster name/instance/NATS server` : `probes.interval_sec ${spec.intervalSec}, lease_ttl_sec ${DEFAULT_LEASE_TTL_SEC} (default), the rest at its defaults`}; nats-server -js on loopback; SIGKILL one member (a, b, c in turn) once the split settled, then GET /v1/adapters on the next member every ${OWNER_POLL_MS} ms (after each answer) until no adapter names the killed one as owner (figures up to one poll late); then it is restarted and timed from its "ready" until its whole share is listed under it again; ${runs.length} run${runs.length === 1 ? "" : "s"}${quick ? "; quick run" : ""}`;
  const takeovers = runs.map((r) => r.takeoverMs).filter((ms): ms is number => ms !== null);
  const rejoins = runs.map((r) => r.rejoinMs).filter((ms): ms is number => ms !== null);
  const disturbed = disturbance(runs.map((r) => r.othersPct));
  const perRun = `runs: ${runs.map(describeRun).join("; ")}`;
  // The later of the two survivors to see the lease lapse: the takeover cannot be complete before.
  const lapses = runs.map((r) =>
    Math.max(...[...r.lapseSeenMs.values()].map((ms) => ms ?? Number.NaN)),
  );
  const goal =
    spec.intervalSec === undefined
      ? "rebalance-defaults"
      : spec.intervalSec === 5
        ? "rebalance-5s"
        : undefined;
  reporter.row({
    name: `${label}: SIGKILL → its adapters taken over, median`,
    size: spec.adapters,
    settings,
    value: takeovers.length === runs.length ? seconds(median(takeovers)) : null,
    unit: "s",
    ...notes(perRun, disturbed),
  });
  reporter.row({
    name: `${label}: SIGKILL → its adapters taken over, slowest run`,
    size: spec.adapters,
    settings,
    value: takeovers.length === runs.length ? seconds(Math.max(...takeovers)) : null,
    unit: "s",
    ...(goal ? { goal } : {}),
    ...notes(disturbed),
  });
  reporter.row({
    name: `${label}: SIGKILL → the later survivor logs the members changed, median`,
    size: spec.adapters,
    settings,
    value: lapses.every(Number.isFinite) ? seconds(median(lapses)) : null,
    unit: "s",
    ...notes(
      `from each survivor's INFO line "${MEMBERS_CHANGED}" (its log time, the same clock); runs: ${lapses.map((ms) => seconds(ms).toFixed(2)).join(", ")} s`,
    ),
  });
  reporter.row({
    name: `${label}: restarted member ready → its share back, median`,
    size: spec.adapters,
    settings,
    value: rejoins.length === runs.length ? seconds(median(rejoins)) : null,
    unit: "s",
    ...notes(
      `runs: ${runs.map((r) => (r.rejoinMs === null ? "n/a" : seconds(r.rejoinMs).toFixed(2))).join(", ")} s`,
    ),
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(
    `scale-out benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${new Date().toISOString()}${quick ? " (quick)" : ""}`,
  );
  const problem = natsServerProblem();
  if (problem !== undefined) {
    reporter.problem(problem);
    return;
  }
  const version = spawnSync("nats-server", ["--version"], { encoding: "utf8" }).stdout.trim();
  reporter.fact("nats-server", version);
  console.log(version);
  const nats = await startNatsServer();
  try {
    if (PARTS.has("publish")) await measurePublish(nats);
    if (PARTS.has("fleet")) await measureFleet(nats);
    if (PARTS.has("rebalance")) {
      let caseNumber = 0;
      for (const spec of REBALANCE_CASES) await rebalanceCase(nats, spec, ++caseNumber);
    }
  } finally {
    await nats.child.kill();
  }
}

try {
  await main();
} catch (error) {
  reporter.problem(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
reporter.finish();
process.exit(reporter.problems > 0 ? 1 : 0);
