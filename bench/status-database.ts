/**
 * Writes the database `bench/cli-start-up.sh` times `status --json` on, unless the file
 * already exists: N adapters (default 10,000) as a sync would store them, written through
 * the daemon's own store (`SqliteStore.commit`, batches of 5,000), a verdict each (90 %
 * healthy with the breaker at rest, 8 % healthy with failures counted, 2 % unhealthy with
 * the breaker open), their journal events and the registry link.
 *
 * The catalog is that of `simulate` with `generate: {count: N, endpoint: grpc}` (three
 * categories, their providers and capabilities, `generated`/`index` metadata); the verdicts
 * are those the daemon commits after its first round (source `probe`).
 *
 * Run: npx tsx bench/status-database.ts FILE [--adapters N]
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AdapterEntry } from "../src/domain/adapter.js";
import type { NewEvent } from "../src/domain/events.js";
import type { HealthState } from "../src/domain/health.js";
import { SqliteStore } from "../src/storage/sqlite-store.js";
import { breakerSnapshots } from "./support.js";

const KINDS = [
  { category: "storage", providers: ["s3", "gcs", "azure-blob"], capabilities: ["read", "write"] },
  { category: "cache", providers: ["redis", "memcached"], capabilities: ["get", "set", "ttl"] },
  { category: "orchestration", providers: ["temporal", "prefect"], capabilities: ["schedule"] },
] as const;

/** The probe interval the daemon records at defaults. */
const CHECK_INTERVAL_MS = 15_000;

function catalog(count: number, at: number): AdapterEntry[] {
  return Array.from({ length: count }, (_, index) => {
    const kind = KINDS[index % KINDS.length] as (typeof KINDS)[number];
    const provider = kind.providers[index % kind.providers.length] as string;
    const module = provider.replaceAll("-", "_");
    const adapterId = `mahavishnu.adapter.${kind.category}.${provider}-${index + 1}`;
    return {
      adapterId,
      project: "mahavishnu",
      domain: "adapter",
      category: kind.category,
      provider,
      capabilities: [...kind.capabilities],
      factoryPath: `mahavishnu.adapters.${kind.category}.${module}:Adapter${index + 1}`,
      healthCheckUrl: `grpc://127.0.0.1:8690/${adapterId}`,
      metadata: { generated: "true", index: String(index + 1) },
      registeredAt: Math.floor(at / 1000) - 3600,
      lastHeartbeat: Math.floor(at / 1000),
      registryStatus: "healthy",
    };
  });
}

async function writeDatabase(path: string, count: number): Promise<void> {
  const at = Date.now() - 60_000;
  const breakers = await breakerSnapshots(at, 60_000);
  const entries = catalog(count, at);
  const store = new SqliteStore({ path });
  const batch = 5_000;
  try {
    for (let start = 0; start < entries.length; start += batch) {
      const slice = entries.slice(start, start + batch);
      const states: HealthState[] = [];
      const events: NewEvent[] = [];
      slice.forEach((entry, offset) => {
        const index = start + offset;
        const isOpen = index % 50 === 7;
        const breaker = isOpen
          ? breakers.open
          : index % 12 === 3
            ? breakers.counting
            : breakers.resting;
        const status = isOpen ? "unhealthy" : "healthy";
        const reason = isOpen ? "connection refused" : "SERVING";
        events.push(
          {
            type: "adapter.discovered",
            subject: entry.adapterId,
            time: at - 1_000,
            data: { adapter_id: entry.adapterId },
          },
          {
            type: "adapter.health_changed",
            subject: entry.adapterId,
            time: at,
            data: { from: "unknown", to: status, reason },
          },
        );
        states.push({
          adapterId: entry.adapterId,
          status,
          since: at,
          lastChecked: at,
          latencyMs: 2,
          source: "probe",
          reason,
          consecutiveSuccesses: isOpen ? 0 : 5,
          consecutiveFailures: isOpen ? 5 : 0,
          registryStatus: entry.registryStatus,
          flapping: false,
          recentTransitions: [at],
          breaker,
          checkIntervalMs: CHECK_INTERVAL_MS,
        });
      });
      store.commit({ upserted: slice, states, events }, at);
    }
    store.commit(
      {
        registry: {
          endpoint: "127.0.0.1:8679",
          reachable: true,
          lastSync: at,
          lastAttempt: at,
          lastError: null,
        },
        events: [],
      },
      at,
    );
  } finally {
    store.close();
  }
}

const { values, positionals } = parseArgs({
  options: { adapters: { type: "string", default: "10000" } },
  allowPositionals: true,
});
const path = positionals[0];
const count = Number(values.adapters);
if (path === undefined || !Number.isInteger(count) || count < 1) {
  process.stderr.write("usage: npx tsx bench/status-database.ts FILE [--adapters N]\n");
  process.exit(64);
}
if (existsSync(path)) {
  process.stdout.write(`${path}: exists, kept\n`);
} else {
  await writeDatabase(path, count);
  process.stdout.write(`${path}: ${count} adapters written\n`);
}
