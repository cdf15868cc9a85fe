/**
 * A duration in milliseconds rounded to the microsecond (three decimals), as
 * every answer and log line gives it: a clock reading of 2.3122419999999693 ms
 * is float noise past the first few digits, and the noise only makes answers
 * longer and harder to read.
 */
export function roundToMicroseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
