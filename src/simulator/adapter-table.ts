import type { AdapterEntry, ListRequest } from "../gen/oneiric/registry/v1/registry.js";
import {
  type AdapterScript,
  assertValidScript,
  type BehaviourSample,
  behaviourAt,
  type EndpointKind,
  type RegistryStatus,
  registryStatusAt,
  type ScenarioAdapter,
} from "./scenario.js";

/**
 * A live replacement for an adapter's scripted behaviour: `"healthy"` or `"down"` as a
 * shorthand, or a whole script. It replaces the scenario's script entirely (outage and fixed
 * registry status included); times in it still count from the simulator's start.
 */
export type BehaviourOverride = "healthy" | "down" | AdapterScript;

export interface AdapterTableOptions {
  adapters: readonly ScenarioAdapter[];
  /** Milliseconds since the epoch; the simulator's start is the first reading. */
  now: () => number;
  /** Values in [0, 1), for intermittent adapters. */
  random: () => number;
  /**
   * The health_check_url advertised for a scenario adapter; called on every read, so it may
   * depend on ports bound after the table was built.
   */
  healthCheckUrl: (adapterId: string, endpoint: EndpointKind) => string;
}

export interface RegisterResult {
  success: boolean;
  message: string;
}

interface AdapterRecord {
  /** Everything that does not change; URL, status and heartbeat are filled in on read. */
  entry: AdapterEntry;
  /** The simulator's endpoint for a scenario adapter; undefined keeps `entry.healthCheckUrl`. */
  endpoint: EndpointKind | undefined;
  /** The scenario's script, restored when an override is cleared. */
  script: AdapterScript;
  override: AdapterScript | undefined;
  lastHeartbeatSec: number;
}

/**
 * The simulator's in-memory registry: the scenario's adapters plus those registered over
 * RPC, each answering from the time model at the current clock reading.
 */
export class AdapterTable {
  readonly startedAtMs: number;
  readonly random: () => number;
  private readonly now: () => number;
  private readonly healthCheckUrl: (adapterId: string, endpoint: EndpointKind) => string;
  private readonly records = new Map<string, AdapterRecord>();
  /** Adapters registered, removed or given a new behaviour since `takeChanged()` last ran. */
  private changed = new Set<string>();

  constructor(options: AdapterTableOptions) {
    this.now = options.now;
    this.random = options.random;
    this.healthCheckUrl = options.healthCheckUrl;
    this.startedAtMs = options.now();
    const startSec = Math.floor(this.startedAtMs / 1000);
    for (const adapter of options.adapters) {
      this.records.set(adapter.id, {
        entry: {
          adapterId: adapter.id,
          project: adapter.project,
          domain: adapter.domain,
          category: adapter.category,
          provider: adapter.provider,
          capabilities: [...adapter.capabilities],
          factoryPath: adapter.factoryPath,
          healthCheckUrl: "",
          metadata: { ...adapter.metadata },
          registeredAt: startSec,
          lastHeartbeat: startSec,
          healthStatus: "",
        },
        endpoint: adapter.endpoint,
        script: scriptOf(adapter),
        override: undefined,
        lastHeartbeatSec: startSec,
      });
    }
  }

  elapsedMs(): number {
    return this.now() - this.startedAtMs;
  }

  has(adapterId: string): boolean {
    return this.records.has(adapterId);
  }

  get size(): number {
    return this.records.size;
  }

  /** The entry as the registry serves it now; a copy, safe to keep or change. */
  entry(adapterId: string): AdapterEntry | undefined {
    const record = this.records.get(adapterId);
    return record === undefined ? undefined : this.snapshot(record, this.elapsedMs());
  }

  /** Entries matching the filter (empty strings match anything), in registration order. */
  list(filter: Partial<ListRequest> = {}): AdapterEntry[] {
    const elapsed = this.elapsedMs();
    const out: AdapterEntry[] = [];
    for (const record of this.records.values()) {
      const e = record.entry;
      if (filter.project && e.project !== filter.project) continue;
      if (filter.domain && e.domain !== filter.domain) continue;
      if (filter.category && e.category !== filter.category) continue;
      const entry = this.snapshot(record, elapsed);
      if (filter.healthyOnly && entry.healthStatus !== "healthy") continue;
      out.push(entry);
    }
    return out;
  }

  registryStatus(adapterId: string): RegistryStatus | undefined {
    const record = this.records.get(adapterId);
    return record === undefined
      ? undefined
      : registryStatusAt(activeScript(record), this.elapsedMs());
  }

  /** One check of the adapter's own endpoint, as of now. */
  sample(adapterId: string, random: () => number = this.random): BehaviourSample | undefined {
    const record = this.records.get(adapterId);
    return record === undefined
      ? undefined
      : behaviourAt(activeScript(record), this.elapsedMs(), random);
  }

  /**
   * Whether the adapter's endpoint answers the same way at every moment until its behaviour
   * is changed (healthy, down or slow, no scripted outage): a Watch stream on it need not be
   * re-read on a timer. Unknown adapters are steady too (unknown until registered).
   */
  isSteady(adapterId: string): boolean {
    const record = this.records.get(adapterId);
    if (record === undefined) return true;
    const script = activeScript(record);
    const kind = script.behaviour.kind;
    return (
      script.outage === undefined && (kind === "healthy" || kind === "down" || kind === "slow")
    );
  }

  /** The adapters registered, removed or given a new behaviour since the last call. */
  takeChanged(): Set<string> {
    const changed = this.changed;
    this.changed = new Set();
    return changed;
  }

  /** Records a heartbeat; false when the id is not registered. */
  heartbeat(adapterId: string): boolean {
    const record = this.records.get(adapterId);
    if (record === undefined) return false;
    record.lastHeartbeatSec = Math.floor(this.now() / 1000);
    return true;
  }

  /**
   * Adds or replaces an adapter. It is healthy from now on and the simulator serves no
   * endpoint of its own for it, so the health_check_url the client sent is kept as sent.
   */
  register(entry: AdapterEntry): RegisterResult {
    const derivable = [entry.project, entry.domain, entry.category, entry.provider];
    const adapterId =
      entry.adapterId !== ""
        ? entry.adapterId
        : derivable.every((part) => part !== "")
          ? derivable.join(".")
          : "";
    if (adapterId === "") {
      return {
        success: false,
        message: "adapter_id is required (or project, domain, category and provider to derive it)",
      };
    }
    const nowSec = Math.floor(this.now() / 1000);
    const existed = this.records.delete(adapterId);
    this.changed.add(adapterId);
    this.records.set(adapterId, {
      entry: {
        ...entry,
        adapterId,
        capabilities: [...entry.capabilities],
        metadata: { ...entry.metadata },
        registeredAt: nowSec,
        lastHeartbeat: nowSec,
        healthStatus: "",
      },
      endpoint: undefined,
      script: { behaviour: { kind: "healthy" } },
      override: undefined,
      lastHeartbeatSec: nowSec,
    });
    return { success: true, message: `${existed ? "re-registered" : "registered"} ${adapterId}` };
  }

  unregister(adapterId: string): boolean {
    this.changed.add(adapterId);
    return this.records.delete(adapterId);
  }

  /** Replaces the adapter's behaviour from now on; `null` restores the scenario's script. */
  setBehaviour(adapterId: string, override: BehaviourOverride | null): void {
    const record = this.records.get(adapterId);
    if (record === undefined) throw new RangeError(`unknown adapter id "${adapterId}"`);
    this.changed.add(adapterId);
    if (override === null) {
      record.override = undefined;
      return;
    }
    const script: AdapterScript =
      typeof override === "string" ? { behaviour: { kind: override } } : override;
    assertValidScript(script);
    record.override = script;
  }

  private snapshot(record: AdapterRecord, elapsedMs: number): AdapterEntry {
    return {
      ...record.entry,
      capabilities: [...record.entry.capabilities],
      metadata: { ...record.entry.metadata },
      healthCheckUrl:
        record.endpoint === undefined
          ? record.entry.healthCheckUrl
          : this.healthCheckUrl(record.entry.adapterId, record.endpoint),
      lastHeartbeat: record.lastHeartbeatSec,
      healthStatus: registryStatusAt(activeScript(record), elapsedMs),
    };
  }
}

function activeScript(record: AdapterRecord): AdapterScript {
  return record.override ?? record.script;
}

function scriptOf(adapter: ScenarioAdapter): AdapterScript {
  const script: AdapterScript = { behaviour: adapter.behaviour };
  if (adapter.outage !== undefined) script.outage = adapter.outage;
  if (adapter.registryStatus !== undefined) script.registryStatus = adapter.registryStatus;
  return script;
}
