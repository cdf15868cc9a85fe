import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LoopStallMonitor } from "./loop-stall-monitor.js";

describe("LoopStallMonitor", () => {
  let clock = 0;
  const monitor = () => new LoopStallMonitor({ tickMs: 10, noiseMs: 2, monotonic: () => clock });

  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1_000;
  });
  afterEach(() => vi.useRealTimers());

  it("reports no stall while the sentinel runs on time, and none before it starts", () => {
    const stalls = monitor();
    expect(stalls.stallNowMs()).toBe(0);
    stalls.start();
    for (let i = 0; i < 5; i++) {
      clock += 11;
      stalls.tick();
    }
    expect(stalls.stallNowMs()).toBe(0);
    stalls.stop();
  });

  it("reports a stall that just ended, as long as the next tick is not yet due", () => {
    const stalls = monitor();
    stalls.start();
    clock += 260;
    stalls.tick();
    expect(stalls.stallNowMs()).toBe(250);
    clock += 9;
    expect(stalls.stallNowMs()).toBe(250);
    clock += 2;
    stalls.tick();
    clock += 1;
    expect(stalls.stallNowMs()).toBe(0);
    stalls.stop();
  });

  it("reports a stall still going on when an answer runs before the sentinel", () => {
    const stalls = monitor();
    stalls.start();
    clock += 130;
    expect(stalls.stallNowMs()).toBe(120);
    stalls.stop();
    expect(stalls.stallNowMs()).toBe(0);
  });
});
