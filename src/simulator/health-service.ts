import { type ServerWritableStream, status } from "@grpc/grpc-js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/grpc/health/v1/health.js";
import type { AdapterTable } from "./adapter-table.js";

export interface HealthServiceOptions {
  /** How often open Watch streams re-read the time model. */
  watchIntervalMs: number;
}

export interface HealthServiceHandle {
  implementation: HealthServer;
  /** Ends every Watch stream cleanly and answers checks still waiting out a delay. */
  close(): void;
}

interface Watcher {
  call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
  last: ServingStatus;
  /** Its adapter answers the same until its behaviour changes: not re-read on the timer. */
  steady: boolean;
  /** The intermittent draw for the current second of elapsed time; see `watchStatus`. */
  drawSecond: number;
  draw: number;
}

/**
 * `grpc.health.v1.Health` over the simulator's table: the service name is an adapter id,
 * and "" is the simulator itself, which is serving while it runs.
 */
export function createHealthService(
  table: AdapterTable,
  options: HealthServiceOptions,
): HealthServiceHandle {
  const watchers = new Set<Watcher>();
  /** Watchers by service, to re-read those of an adapter whose behaviour changed. */
  const byService = new Map<string, Set<Watcher>>();
  /** Watchers re-read on every tick: their adapter's answer depends on the time. */
  const varying = new Set<Watcher>();
  const pending = new Set<{ timer: NodeJS.Timeout; answer: () => void }>();
  let ticker: NodeJS.Timeout | undefined;
  let closed = false;

  const watchStatus = (watcher: Watcher): ServingStatus => {
    const service = watcher.call.request.service;
    if (service === "") return ServingStatus.SERVING;
    // An intermittent adapter draws once per second of elapsed time for a stream: drawing on
    // every tick would flip its status ten times a second, which no real service does.
    const second = Math.floor(table.elapsedMs() / 1000);
    const random = () => {
      if (watcher.drawSecond !== second) {
        watcher.drawSecond = second;
        watcher.draw = table.random();
      }
      return watcher.draw;
    };
    const sample = table.sample(service, random);
    // For Watch the protocol says: an unknown service is reported, not failed, so the stream
    // can report it once it appears.
    if (sample === undefined) return ServingStatus.SERVICE_UNKNOWN;
    return sample.up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };

  const reread = (watcher: Watcher) => {
    const next = watchStatus(watcher);
    if (next !== watcher.last) {
      watcher.last = next;
      watcher.call.write({ status: next });
    }
  };

  const classify = (watcher: Watcher) => {
    watcher.steady = table.isSteady(watcher.call.request.service);
    if (watcher.steady) varying.delete(watcher);
    else varying.add(watcher);
  };

  // One shared timer for all streams rather than one per stream, and only streams whose
  // answer can change are re-read: tens of thousands of steady adapters cost nothing per tick.
  const tick = () => {
    for (const adapterId of table.takeChanged()) {
      for (const watcher of byService.get(adapterId) ?? []) {
        classify(watcher);
        reread(watcher);
      }
    }
    for (const watcher of varying) reread(watcher);
  };

  const removeWatcher = (watcher: Watcher) => {
    watchers.delete(watcher);
    varying.delete(watcher);
    const service = watcher.call.request.service;
    const same = byService.get(service);
    same?.delete(watcher);
    if (same?.size === 0) byService.delete(service);
    if (watchers.size === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };

  const implementation: HealthServer = {
    check(call, callback) {
      const service = call.request.service;
      if (service === "") {
        callback(null, { status: ServingStatus.SERVING });
        return;
      }
      const sample = table.sample(service);
      if (sample === undefined) {
        callback({ code: status.NOT_FOUND, details: `unknown service "${service}"` });
        return;
      }
      const response = { status: sample.up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING };
      if (sample.delayMs === 0) {
        callback(null, response);
        return;
      }
      const entry = {
        timer: setTimeout(() => {
          pending.delete(entry);
          callback(null, response);
        }, sample.delayMs),
        answer: () => callback({ code: status.UNAVAILABLE, details: "simulator is stopping" }),
      };
      pending.add(entry);
      call.on("cancelled", () => {
        clearTimeout(entry.timer);
        pending.delete(entry);
      });
    },

    watch(call) {
      if (closed) {
        call.end();
        return;
      }
      const watcher: Watcher = {
        call,
        last: ServingStatus.UNKNOWN,
        steady: true,
        drawSecond: -1,
        draw: 0,
      };
      watcher.last = watchStatus(watcher);
      call.write({ status: watcher.last });
      watchers.add(watcher);
      const service = call.request.service;
      let same = byService.get(service);
      if (!same) {
        same = new Set();
        byService.set(service, same);
      }
      same.add(watcher);
      classify(watcher);
      call.on("cancelled", () => removeWatcher(watcher));
      if (ticker === undefined) {
        ticker = setInterval(tick, options.watchIntervalMs);
        ticker.unref();
      }
    },
  };

  return {
    implementation,
    close() {
      closed = true;
      for (const watcher of [...watchers]) {
        removeWatcher(watcher);
        watcher.call.end();
      }
      for (const entry of pending) {
        clearTimeout(entry.timer);
        entry.answer();
      }
      pending.clear();
    },
  };
}
