/**
 * Soak: 20,000 adapters, 5 % of them flapping, for 3 minutes (30 with
 * `npm run test:reliability -- --soak`), the daemon's RSS sampled every 5 s. After
 * a one-minute warm-up its least-squares slope over the last two minutes must stay
 * under a quarter of what a leak of 1 KiB per check result would add at the
 * measured result rate (docs/reliability.md says why that bound).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DaemonProcess } from "../support/daemon-process.js";
import { tempDir } from "../support/stack.js";
import {
  eventually,
  httpGet,
  leastSquaresSlope,
  metricSum,
  SimulatorProcess,
  sleep,
  writeDaemonConfig,
} from "./support/harness.js";

const ADAPTERS = 20_000;
const MINUTES = Number(process.env.ONEIRIC_SOAK_MINUTES ?? "3");
const WARM_UP_MS = 60_000;
const SAMPLE_EVERY_MS = 5_000;
const SLOPE_WINDOW_MS = 120_000;
/** The leak the bound is made to catch by far: bytes kept per check result. */
const LEAK_PER_RESULT_BYTES = 1024;
/** The bound is this share of that leak's slope. */
const BOUND_SHARE = 0.25;
const MIB = 1024 * 1024;

if (!(Number.isFinite(MINUTES) && MINUTES >= 3)) {
  throw new Error(`ONEIRIC_SOAK_MINUTES must be a number of minutes >= 3, got ${MINUTES}`);
}

interface Sample {
  atMs: number;
  rssBytes: number;
  results: number;
}

describe(`a ${MINUTES}-minute soak at ${ADAPTERS} adapters with 5 % flapping`, () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: SimulatorProcess | undefined;
  let daemon: DaemonProcess | undefined;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    daemon?.kill();
    await daemon?.exited;
    await simulator?.stop();
    dir.remove();
  });

  it(
    "keeps RSS flat after the warm-up, answers /healthz throughout and never crashes",
    async () => {
      const scenario = join(dir.path, "soak.yaml");
      writeFileSync(
        scenario,
        `generate: { count: ${ADAPTERS}, behaviour_mix: { healthy: 0.95, flapping: 0.05 }, flap_period_sec: 20 }\n`,
      );
      simulator = new SimulatorProcess(scenario);
      const registryPort = await simulator.registryPort;
      const config = writeDaemonConfig(dir.path, {
        registryPort,
        dbPath: join(dir.path, "healthd.db"),
        // Defaults but the interval (15 s): at 5 s the daemon takes about 4,000 results
        // a second, so a leak per result shows within the two minutes measured.
        healthdYaml: "  probes: { interval_sec: 5 }\n",
      });
      daemon = new DaemonProcess(["--config", config], { keepLines: 1_000 });
      const running = daemon;
      const port = await running.httpPort(120_000);
      await eventually(
        "every adapter in the catalog",
        async () => (await httpGet(port, "/readyz")).status === 200,
        120_000,
        500,
      );

      const startedAt = Date.now();
      const endAt = startedAt + MINUTES * 60_000;
      const samples: Sample[] = [];
      let healthzFailures = 0;
      while (Date.now() < endAt) {
        expect(running.running, running.transcript()).toBe(true);
        const healthz = await httpGet(port, "/healthz").catch(() => undefined);
        if (healthz?.status !== 200) healthzFailures++;
        const metrics = await httpGet(port, "/metrics", 30_000);
        samples.push({
          atMs: Date.now() - startedAt,
          rssBytes: running.rssBytes(),
          results: metricSum(metrics.text, "oneiric_adapter_health_checks_total"),
        });
        await sleep(SAMPLE_EVERY_MS);
      }

      const afterWarmUp = samples.filter((sample) => sample.atMs >= WARM_UP_MS);
      const lastWindow = samples.filter(
        (sample) => sample.atMs >= (samples.at(-1)?.atMs ?? 0) - SLOPE_WINDOW_MS,
      );
      const first = afterWarmUp[0];
      const last = samples.at(-1);
      if (!first || !last) throw new Error("no samples after the warm-up");
      const resultsPerSecond = (last.results - first.results) / ((last.atMs - first.atMs) / 1000);
      const slope = (points: Sample[]) =>
        leastSquaresSlope(points.map((s) => ({ x: s.atMs / 60_000, y: s.rssBytes / MIB })));
      const windowSlope = slope(lastWindow);
      const wholeSlope = slope(afterWarmUp);
      const leakSlope = (LEAK_PER_RESULT_BYTES * resultsPerSecond * 60) / MIB;
      const bound = BOUND_SHARE * leakSlope;
      const figures = {
        minutes: MINUTES,
        adapters: ADAPTERS,
        samples: samples.length,
        rssAtWarmUpMiB: +(first.rssBytes / MIB).toFixed(1),
        rssAtEndMiB: +(last.rssBytes / MIB).toFixed(1),
        rssMaxMiB: +(Math.max(...samples.map((s) => s.rssBytes)) / MIB).toFixed(1),
        resultsPerSecond: +resultsPerSecond.toFixed(0),
        slopeLastTwoMinutesMiBPerMin: +windowSlope.toFixed(2),
        slopeAfterWarmUpMiBPerMin: +wholeSlope.toFixed(2),
        leakOf1KiBPerResultMiBPerMin: +leakSlope.toFixed(1),
        boundMiBPerMin: +bound.toFixed(2),
        healthzFailures,
      };
      console.log(`soak figures: ${JSON.stringify(figures)}`);
      console.log(
        `soak RSS samples (s, MiB): ${samples.map((s) => `${Math.round(s.atMs / 1000)}:${(s.rssBytes / MIB).toFixed(0)}`).join(" ")}`,
      );

      // The daemon kept up: a stalled daemon would have a flat RSS for the wrong reason.
      expect(resultsPerSecond).toBeGreaterThan(ADAPTERS / 5 / 4);
      expect(healthzFailures).toBe(0);
      expect(windowSlope).toBeLessThan(bound);
      // A long soak: the same bound over everything after the warm-up too.
      if (MINUTES > 3) expect(wholeSlope).toBeLessThan(bound);
    },
    (MINUTES * 60 + 300) * 1000,
  );
});
