/** A task whose runs never overlap; see `coalescing`. */
export interface CoalescingTask {
  /** Runs the task, or, while it runs, asks for one more run after it; resolves when that is done. */
  run(): Promise<void>;
  /** Resolves when no run is going or asked for. */
  idle(): Promise<void>;
}

/**
 * Wraps `task` so that runs never overlap: calls while a run is going are
 * coalesced into one more run after it, since that run reads the newest state
 * anyway (a second SIGHUP during a reload re-reads the file once more, however
 * many came). A failed run is handed to `onError` and does not stop the next.
 */
export function coalescing(
  task: () => Promise<void>,
  onError: (error: unknown) => void,
): CoalescingTask {
  let current: Promise<void> | undefined;
  let again = false;
  const loop = async () => {
    do {
      again = false;
      try {
        await task();
      } catch (error) {
        onError(error);
      }
    } while (again);
  };
  return {
    run() {
      if (current) {
        again = true;
        return current;
      }
      current = loop().finally(() => {
        current = undefined;
      });
      return current;
    },
    idle() {
      return current ?? Promise.resolve();
    },
  };
}
