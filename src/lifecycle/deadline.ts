/**
 * Waits for `work` for at most `ms`. When the time is up it stops waiting (the
 * work is left to finish or not on its own), calls `onTimeout` and resolves
 * undefined, so one stage that hangs cannot hold up a shutdown. A rejection
 * before the deadline is passed on.
 */
export async function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => void,
): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
