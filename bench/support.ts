/** Small helpers the benchmarks share. */
import { type AddressInfo, createServer, connect as netConnect, type Socket } from "node:net";

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
