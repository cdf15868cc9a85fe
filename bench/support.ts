/** Small helpers the benchmarks share. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer, connect as netConnect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import type { BreakerSnapshot } from "../src/domain/health.js";

/** The CLI as a checkout runs it. */
export const CLI = fileURLToPath(new URL("../bin/oneiric-healthd.js", import.meta.url));

/**
 * Starts `oneiric-healthd ARGS` as a child (added to `children`, for the bench to stop at
 * exit) and resolves once its stdout has said `readyText`; rejects if it exits first.
 */
export function startCli(
  args: string[],
  readyText: string,
  children: ChildProcess[],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyText)) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

/** Clock ticks per second, the unit of /proc's CPU times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in seconds, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number | "self"): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself hold spaces and parentheses: fields 14
  // (utime) and 15 (stime) of proc(5) are fields[11] and fields[12] here.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * The whole machine's busy CPU, in seconds summed over cores, from /proc/stat: user, nice,
 * system, irq and softirq (guest time is inside user; steal is the hypervisor's, not
 * another process's).
 */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq) / CLK_TCK;
}

/** A process's resident set (VmRSS), MiB. */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** A TCP port free on 127.0.0.1 a moment ago, for a child process to listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The 50th and 99th percentiles (nearest rank) of `samples`, which are left unsorted. */
export function percentiles(samples: readonly number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
  return { p50: at(50), p99: at(99) };
}

/** Milliseconds as µs below 1 ms, else as ms. */
export function formatMs(ms: number, microDigits = 0): string {
  return ms < 1 ? `${(ms * 1000).toFixed(microDigits)} µs` : `${ms.toFixed(2)} ms`;
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time, parsing no more
 * than the status line and Content-Length (the daemon's JSON answers carry one).
 */
export class LeanHttpClient {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((response: { status: number; body: Buffer }) => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      const headerEnd = this.buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const head = this.buffer.toString("latin1", 0, headerEnd);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!length) throw new Error(`response without Content-Length: ${head}`);
      const end = headerEnd + 4 + Number(length[1]);
      if (this.buffer.length < end) return;
      const body = this.buffer.subarray(headerEnd + 4, end);
      this.buffer = this.buffer.subarray(end);
      const done = this.waiting;
      this.waiting = null;
      done?.({ status: Number(head.slice(9, 12)), body });
    });
  }

  static async connect(port: number): Promise<LeanHttpClient> {
    const socket = netConnect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new LeanHttpClient(socket);
  }

  async get(path: string): Promise<Buffer> {
    const response = await new Promise<{ status: number; body: Buffer }>((resolve) => {
      this.waiting = resolve;
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}`);
    return response.body;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Real breaker snapshots (cockatiel's toJSON) for the three shapes a database holds:
 * at rest, counting failures, and open since `openedAgoMs` before `at`.
 */
export async function breakerSnapshots(
  at: number,
  openedAgoMs: number,
): Promise<Record<"resting" | "counting" | "open", BreakerSnapshot>> {
  const make = () =>
    circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) });
  const fail = async (policy: ReturnType<typeof make>, times: number) => {
    for (let i = 0; i < times; i++) {
      await policy
        .execute(() => {
          throw new Error("down");
        })
        .catch(() => undefined);
    }
  };
  const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
  const counting = make();
  await fail(counting, 2);
  const open = make();
  await fail(open, 5);
  const openSnapshot = plain(open.toJSON()) as { ownState: { openedAt: number } };
  openSnapshot.ownState.openedAt = at - openedAgoMs;
  return {
    resting: { state: "closed", snapshot: plain(make().toJSON()) },
    counting: { state: "closed", snapshot: plain(counting.toJSON()) },
    open: { state: "open", snapshot: openSnapshot },
  };
}

/** A figure measured while other processes used more than this (% of one core) is marked disturbed. */
export const DISTURBED_PCT = 10;

/**
 * The parts of a bench to run: all of `names`, or those the environment variable
 * `variable` lists, comma-separated (a run by hand can take one at a time). An
 * unknown part is an error naming the variable and the parts there are.
 */
export function selectedParts<const Part extends string>(
  variable: string,
  names: readonly Part[],
): ReadonlySet<Part> {
  const listed = (process.env[variable] ?? names.join(",")).split(",").filter(Boolean);
  for (const part of listed) {
    if (!(names as readonly string[]).includes(part)) {
      throw new Error(`${variable}: unknown part "${part}" (parts: ${names.join(", ")})`);
    }
  }
  return new Set(listed as Part[]);
}
