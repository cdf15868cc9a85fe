/** Small helpers the benchmarks share. */
import { type AddressInfo, createServer } from "node:net";

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
