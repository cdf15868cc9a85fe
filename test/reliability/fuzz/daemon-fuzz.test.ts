import { type ChildProcessByStdio, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { credentials, Metadata } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthClient } from "../../../src/gen/grpc/health/v1/health.js";
import { parseScenario } from "../../../src/simulator/scenario.js";
import { type RunningSimulator, startSimulator } from "../../../src/simulator/simulator.js";
import { tempDir } from "../../support/stack.js";

/**
 * A real daemon (`oneiric-healthd run`, a child process) is sent, for
 * FUZZ_MS, random and mutated HTTP requests and bodies, malformed raw HTTP/1.1,
 * raw bytes and broken HTTP/2 frames on its gRPC port, and well-framed HTTP/2
 * carrying garbage gRPC messages to each of its gRPC methods; meanwhile
 * `/healthz` is asked every 100 ms on a connection of its own.
 */

const CLI = join(import.meta.dirname, "..", "..", "..", "bin", "oneiric-healthd.js");
const FUZZ_MS = 30_000;
const HEALTHZ_EVERY_MS = 100;
const HEALTHZ_WITHIN_MS = 1_000;
const ADAPTERS = 20;
/** Printed, and part of every failure message, so a run can be repeated. */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

const GRPC_METHODS = [
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/oneiric.healthd.v1.Healthd/ListAdapters",
  "/oneiric.healthd.v1.Healthd/GetAdapter",
  "/oneiric.healthd.v1.Healthd/Resolve",
  "/oneiric.healthd.v1.Healthd/WatchEvents",
  "/oneiric.registry.v1.AdapterRegistry/ListAdapters",
  "/oneiric.registry.v1.AdapterRegistry/GetAdapter",
  "/oneiric.registry.v1.AdapterRegistry/HealthCheck",
  "/oneiric.registry.v1.AdapterRegistry/Heartbeat",
  "/oneiric.registry.v1.AdapterRegistry/RegisterAdapter",
  "/oneiric.registry.v1.AdapterRegistry/UnregisterAdapter",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  "/no.such.Service/Method",
];

/** `oneiric-healthd run` as a child process, its ports read from the "listening" line. */
class DaemonProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private output = "";
  readonly ports: Promise<{ http: number; grpc: number }>;

  constructor(configPath: string) {
    this.child = spawn(process.execPath, [CLI, "run", "--config", configPath], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.ports = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never listening:\n${this.output}`)), 30_000);
      this.child.stdout.on("data", (chunk: Buffer) => {
        this.output = (this.output + chunk.toString()).slice(-20_000);
        const line = this.output.split("\n").find((text) => text.includes('"msg":"listening"'));
        if (line) {
          clearTimeout(timer);
          const parsed = JSON.parse(line) as { http: string; grpc: string };
          resolve({
            http: Number(parsed.http.split(":").pop()),
            grpc: Number(parsed.grpc.split(":").pop()),
          });
        }
      });
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => resolve({ code, signal })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get lastOutput(): string {
    return this.output.slice(-4_000);
  }

  stop(): void {
    if (this.running) this.child.kill("SIGTERM");
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------- inputs

const ADAPTER_IDS = Array.from({ length: ADAPTERS }, (_, i) => `f.adapter.cache.p${i}`);

const VALID_BODIES = [
  '{"until":"2099-01-01T00:00:00Z","reason":"upgrade"}',
  '{"requirements":[{"domain":"adapter","category":"cache"}]}',
  '{"requirements":[{"domain":"adapter","category":"cache","provider":"p1","panic":true,"limit":3}]}',
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}',
  '{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"resolve_adapter","arguments":{"domain":"adapter","category":"cache"}}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
];

/** A string with some of its bytes flipped, cut short, or with a piece of another put in. */
const mutated = (texts: readonly string[]) =>
  fc
    .tuple(
      fc.constantFrom(...texts),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.option(fc.tuple(fc.nat(), fc.constantFrom(...texts, "\u0000", "\uffff", '"', "{", "]")), {
        nil: undefined,
      }),
    )
    .map(([text, flips, cut, insert]) => {
      const bytes = Buffer.from(text);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      let result = bytes.toString("latin1");
      if (insert) {
        const at = insert[0] % (result.length + 1);
        result = `${result.slice(0, at)}${insert[1]}${result.slice(at)}`;
      }
      return cut === undefined ? result : result.slice(0, cut % (result.length + 1));
    });

const bodyArbitrary: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 4, arbitrary: mutated(VALID_BODIES) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "null", "[]", "{}", "1e999", '"x"', "{".repeat(5_000)),
  },
  // Over the 64 KiB body limit.
  { weight: 1, arbitrary: fc.integer({ min: 65_537, max: 200_000 }).map((n) => "a".repeat(n)) },
);

const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ...ADAPTER_IDS.slice(0, 3).map((id) => `/v1/adapters/${id}/maintenance`),
    "/v1/adapters/nope/maintenance",
    "/v1/resolve",
    "/v1/cache/invalidate",
    "/mcp",
    "/v1/adapters",
    "/v1/events",
    "/healthz",
    "/",
  ),
  mutated(["/v1/adapters/f.adapter.cache.p1/maintenance", "/v1/resolve?domain=adapter", "/mcp"]),
);

interface HttpInput {
  method: string;
  path: string;
  body: string | Buffer;
  headers: Record<string, string>;
}

const httpInputArbitrary: fc.Arbitrary<HttpInput> = fc.record({
  method: fc.constantFrom("POST", "PUT", "DELETE", "GET", "PATCH", "OPTIONS", "HEAD"),
  path: pathArbitrary,
  body: bodyArbitrary,
  headers: fc.dictionary(
    fc.constantFrom(
      "content-type",
      "accept",
      "mcp-session-id",
      "last-event-id",
      "authorization",
      "x-random",
      "mcp-protocol-version",
    ),
    fc.oneof(
      fc.constantFrom(
        "application/json",
        "text/event-stream",
        "application/json, text/event-stream",
        "text/plain",
        "Bearer x",
        "",
      ),
      fc.string({ maxLength: 40 }).map((text) => text.replace(/[^\t\x20-\x7e]/g, "")),
    ),
    { maxKeys: 4 },
  ),
});

const VALID_RAW_REQUEST =
  'PUT /v1/adapters/f.adapter.cache.p0/maintenance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"reason":"r"}';

/** Malformed HTTP/1.1: broken request lines and headers, lying lengths, bad chunking. */
const rawHttpArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  mutated([
    VALID_RAW_REQUEST,
    'POST /v1/resolve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n0\r\n\r\n',
    "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}",
    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n",
    "GET /v1/adapters HTTP/9.9\r\n\r\n",
    "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
  ]).map((text) => Buffer.from(text, "latin1")),
  fc.uint8Array({ maxLength: 1_000 }).map((bytes) => Buffer.from(bytes)),
);

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** An HTTP/2 frame header (9 bytes) and payload, any of its fields possibly wrong. */
const frameArbitrary: fc.Arbitrary<Buffer> = fc
  .record({
    type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 255 })),
    flags: fc.integer({ min: 0, max: 255 }),
    stream: fc.oneof(fc.constantFrom(0, 1, 3), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
    payload: fc.uint8Array({ maxLength: 300 }),
    lie: fc.option(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { nil: undefined }),
  })
  .map(({ type, flags, stream, payload, lie }) => {
    const header = Buffer.alloc(9);
    header.writeUIntBE(lie ?? payload.length, 0, 3);
    header.writeUInt8(type, 3);
    header.writeUInt8(flags, 4);
    header.writeUInt32BE(stream, 5);
    return Buffer.concat([header, Buffer.from(payload)]);
  });

const rawGrpcArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 1_000 }).map((bytes) => Buffer.from(bytes)),
  fc
    .array(frameArbitrary, { minLength: 1, maxLength: 6 })
    .map((frames) => Buffer.concat([HTTP2_PREFACE, ...frames])),
  mutated([HTTP2_PREFACE.toString("latin1")]).map((text) => Buffer.from(text, "latin1")),
);

interface GrpcInput {
  path: string;
  headers: Record<string, string>;
  /** The gRPC message frames: compressed flag, declared length and bytes, any of them wrong. */
  body: Buffer;
}

const grpcMessageArbitrary: fc.Arbitrary<Buffer> = fc
  .record({
    compressed: fc.constantFrom(0, 0, 0, 1, 2, 255),
    payload: fc.uint8Array({ maxLength: 400 }),
    lie: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
  })
  .map(({ compressed, payload, lie }) => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(compressed, 0);
    prefix.writeUInt32BE(lie ?? payload.length, 1);
    return Buffer.concat([prefix, Buffer.from(payload)]);
  });

const grpcInputArbitrary: fc.Arbitrary<GrpcInput> = fc.record({
  path: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...GRPC_METHODS) },
    { weight: 1, arbitrary: mutated(GRPC_METHODS) },
  ),
  headers: fc.record(
    {
      "content-type": fc.constantFrom(
        "application/grpc",
        "application/grpc+proto",
        "text/plain",
        "application/grpc; x",
      ),
      "grpc-timeout": fc.constantFrom("1S", "100m", "99999999H", "x", "-1n", "0m"),
      "grpc-encoding": fc.constantFrom("identity", "gzip", "deflate", "zstd", "x"),
      authorization: fc.constantFrom("Bearer nope", "", "Basic x"),
    },
    { requiredKeys: ["content-type"] },
  ),
  body: fc.array(grpcMessageArbitrary, { maxLength: 3 }).chain((messages) =>
    fc.option(fc.nat(), { nil: undefined }).map((cut) => {
      const all = Buffer.concat(messages);
      return cut === undefined ? all : all.subarray(0, cut % (all.length + 1));
    }),
  ),
});

// ---------------------------------------------------------------- senders

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes bytes on a fresh connection, reads what comes back for a moment, then closes. */
function sendRaw(port: number, bytes: Buffer, lingerMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on("error", done);
    socket.on("close", done);
    socket.on("data", () => undefined);
    socket.on("connect", () => {
      socket.write(bytes, () => undefined);
      setTimeout(done, lingerMs);
    });
  });
}

/** One gRPC call over a shared HTTP/2 session: headers, garbage frames, end; closed after a moment. */
function sendGrpc(session: ClientHttp2Session, input: GrpcInput): Promise<void> {
  return new Promise((resolve) => {
    let stream: ReturnType<ClientHttp2Session["request"]>;
    try {
      stream = session.request({
        ":method": "POST",
        ":path": input.path,
        te: "trailers",
        ...input.headers,
      });
    } catch {
      resolve();
      return;
    }
    const timer = setTimeout(() => stream.close(), 300);
    stream.on("error", () => undefined);
    stream.on("data", () => undefined);
    stream.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    stream.end(input.body);
  });
}

/** Runs `loop` until the deadline, each round with the next input from `arbitrary`. */
async function fuzzLoop<T>(
  arbitrary: fc.Arbitrary<T>,
  seed: number,
  until: number,
  send: (input: T) => Promise<void>,
): Promise<number> {
  let sent = 0;
  for (let batch = 0; Date.now() < until; batch++) {
    for (const input of fc.sample(arbitrary, { numRuns: 50, seed: seed + batch })) {
      if (Date.now() >= until) break;
      await send(input);
      sent++;
    }
  }
  return sent;
}

// ---------------------------------------------------------------- the run

describe("a daemon under a stream of random and mutated input", () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: RunningSimulator;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    dir = tempDir();
    simulator = await startSimulator({
      scenario: parseScenario(
        `project: f\nadapters:\n${ADAPTER_IDS.map((_, i) => `  - { category: cache, provider: p${i} }`).join("\n")}\n`,
        "fuzz.yaml",
      ),
      listen: "127.0.0.1:0",
    });
    const config = join(dir.path, "healthd.yaml");
    writeFileSync(
      config,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${simulator.registryPort}, timeout_sec: 2 }
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, "healthd.db"))} }
  probes: { interval_sec: 1, timeout_sec: 1 }
  log: { level: info }
`,
    );
    daemon = new DaemonProcess(config);
  }, 60_000);

  afterAll(async () => {
    daemon?.stop();
    const stopped = await Promise.race([daemon?.exited, pause(10_000).then(() => undefined)]);
    if (!stopped) daemon?.kill();
    await simulator?.stop();
    dir?.remove();
  }, 30_000);

  it(
    `keeps /healthz answering, never exits and still answers queries afterwards (seed ${SEED})`,
    async () => {
      const { http, grpc } = await daemon.ports;
      const base = `http://127.0.0.1:${http}`;
      // Ready (the catalog synced) before the fuzzing starts.
      await expect
        .poll(async () => (await fetch(`${base}/readyz`)).status, {
          timeout: 30_000,
          interval: 200,
        })
        .toBe(200);

      const until = Date.now() + FUZZ_MS;
      const healthzFailures: string[] = [];
      const serverErrors: string[] = [];
      let healthzAnswers = 0;

      const probeHealthz = async () => {
        while (Date.now() < until) {
          const started = Date.now();
          const outcome = await new Promise<string | undefined>((resolve) => {
            // A connection of its own: the fuzzers' broken connections are not its problem.
            const request = httpGet(`${base}/healthz`, { agent: false }, (response) => {
              response.resume();
              response.on("end", () =>
                resolve(response.statusCode === 200 ? undefined : `status ${response.statusCode}`),
              );
            });
            request.setTimeout(HEALTHZ_WITHIN_MS, () => {
              request.destroy();
              resolve(`no answer within ${HEALTHZ_WITHIN_MS} ms`);
            });
            request.on("error", (error) => resolve(error.message));
          });
          if (outcome) healthzFailures.push(`${new Date(started).toISOString()}: ${outcome}`);
          else healthzAnswers++;
          await pause(Math.max(0, HEALTHZ_EVERY_MS - (Date.now() - started)));
        }
      };

      const fuzzHttp = (seed: number) =>
        fuzzLoop(httpInputArbitrary, seed, until, async (input) => {
          try {
            const response = await fetch(
              `${base}${input.path.startsWith("/") ? input.path : `/${input.path}`}`,
              {
                method: input.method,
                headers: input.headers,
                ...(input.method === "GET" || input.method === "HEAD" ? {} : { body: input.body }),
                signal: AbortSignal.timeout(5_000),
              },
            );
            await response.arrayBuffer().catch(() => undefined);
            // 503 NOT_READY (event streams full) is an answer; any other 5xx is a bug.
            if (response.status >= 500 && response.status !== 503) {
              serverErrors.push(`${input.method} ${input.path} -> ${response.status}`);
            }
          } catch {
            // Refused by the client library (an invalid header or URL), or reset: both fine.
          }
        });

      const fuzzRawHttp = (seed: number) =>
        fuzzLoop(rawHttpArbitrary, seed, until, (bytes) => sendRaw(http, bytes, 100));

      const fuzzRawGrpc = (seed: number) =>
        fuzzLoop(rawGrpcArbitrary, seed, until, (bytes) => sendRaw(grpc, bytes, 100));

      const fuzzGrpcMessages = async (seed: number) => {
        let session: ClientHttp2Session | undefined;
        const sent = await fuzzLoop(grpcInputArbitrary, seed, until, async (input) => {
          if (!session || session.closed || session.destroyed) {
            session = http2Connect(`http://127.0.0.1:${grpc}`);
            session.on("error", () => undefined);
          }
          await sendGrpc(session, input);
        });
        session?.destroy();
        return sent;
      };

      const sent = await Promise.all([
        probeHealthz(),
        fuzzHttp(SEED),
        fuzzHttp(SEED + 1_000_003),
        fuzzRawHttp(SEED + 2_000_003),
        fuzzRawGrpc(SEED + 3_000_017),
        fuzzGrpcMessages(SEED + 4_000_037),
      ]);
      const context = `seed ${SEED}; inputs sent ${JSON.stringify(sent.slice(1))}; daemon said:\n${daemon.lastOutput}`;

      console.info(
        `fuzz seed ${SEED}: ${FUZZ_MS / 1000} s; HTTP requests ${sent[1] + sent[2]}, raw HTTP ${sent[3]}, raw gRPC ${sent[4]}, gRPC calls ${sent[5]}; /healthz answered ${healthzAnswers}, failed ${healthzFailures.length}`,
      );
      expect(daemon.running, context).toBe(true);
      expect(healthzFailures, context).toEqual([]);
      // Every 100 ms for FUZZ_MS, minus what a slow answer delays.
      expect(healthzAnswers, context).toBeGreaterThan(FUZZ_MS / HEALTHZ_EVERY_MS / 4);
      expect(serverErrors, context).toEqual([]);

      // Normal queries still answer, correctly, on both surfaces.
      const list = (await (await fetch(`${base}/v1/adapters`)).json()) as {
        adapters: { adapter_id: string }[];
      };
      expect(list.adapters.map((adapter) => adapter.adapter_id).sort(), context).toEqual(
        [...ADAPTER_IDS].sort(),
      );
      // Probes that timed out while the daemon was busy may have marked adapters
      // unhealthy; once the input stops they recover, and resolution names one again.
      await expect
        .poll(
          async () => {
            const answer = (await (
              await fetch(`${base}/v1/resolve?domain=adapter&category=cache`)
            ).json()) as { choice: { adapter_id: string } | null };
            return ADAPTER_IDS.includes(answer.choice?.adapter_id ?? "");
          },
          { timeout: 30_000, interval: 500, message: context },
        )
        .toBe(true);
      const client = new HealthClient(`127.0.0.1:${grpc}`, credentials.createInsecure());
      try {
        const status = await new Promise<number>((resolve, reject) =>
          client.check(
            { service: "" },
            new Metadata(),
            { deadline: Date.now() + 10_000 },
            (error, answer) => (error ? reject(error) : resolve(answer.status)),
          ),
        );
        expect(status, context).toBe(1); // SERVING
      } finally {
        client.close();
      }
    },
    FUZZ_MS + 90_000,
  );
});
