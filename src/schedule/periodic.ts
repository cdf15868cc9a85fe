import { createTask } from "node-cron";

/** A repeating task that never overlaps itself and can be stopped. */
export interface PeriodicTask {
  stop(): void;
}

/**
 * Runs `task` every `intervalMs`, measured from the end of the previous run, so a
 * slow run delays the next one rather than piling up behind it.
 */
export function runPeriodically(
  intervalMs: number,
  task: () => Promise<unknown>,
  firstDelayMs = intervalMs,
): PeriodicTask {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    task()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, firstDelayMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Runs `task` on a cron schedule (node-cron, seconds field optional). A run still
 * going when the next is due is skipped rather than overlapped.
 */
export function runOnCron(expression: string, task: () => Promise<unknown>): PeriodicTask {
  const scheduled = createTask(expression, () => task().catch(() => undefined), {
    noOverlap: true,
  });
  void scheduled.start();
  return {
    stop() {
      void scheduled.destroy();
    },
  };
}
