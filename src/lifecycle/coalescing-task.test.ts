import { describe, expect, it } from "vitest";
import { coalescing } from "./coalescing-task.js";

/** A task the test finishes by hand, one run at a time. */
function manualTask() {
  const finishers: (() => void)[] = [];
  let runs = 0;
  const task = () => {
    runs++;
    return new Promise<void>((resolve) => finishers.push(resolve));
  };
  const finish = async () => {
    finishers.shift()?.();
    // Let the loop start its next run, if one was asked for.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { task, finish, runs: () => runs };
}

describe("coalescing", () => {
  it("runs once more after the current run, however many calls came in meanwhile", async () => {
    const { task, finish, runs } = manualTask();
    const serial = coalescing(task, () => undefined);
    const first = serial.run();
    void serial.run();
    void serial.run();
    expect(runs()).toBe(1);
    await finish();
    expect(runs()).toBe(2);
    let done = false;
    void first.then(() => {
      done = true;
    });
    await finish();
    await first;
    expect(done).toBe(true);
    expect(runs()).toBe(2);
  });

  it("reports a failed run and still runs the one asked for after it", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const serial = coalescing(
      async () => {
        calls++;
        if (calls === 1) {
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error("boom");
        }
      },
      (error) => errors.push(error),
    );
    const first = serial.run();
    void serial.run();
    await first;
    expect(calls).toBe(2);
    expect(errors).toEqual([new Error("boom")]);
  });

  it("is idle when nothing runs, and after the last run", async () => {
    const { task, finish } = manualTask();
    const serial = coalescing(task, () => undefined);
    await serial.idle();
    void serial.run();
    let idle = false;
    void serial.idle().then(() => {
      idle = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    await finish();
    expect(idle).toBe(true);
  });
});
