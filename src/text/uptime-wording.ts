/**
 * Uptime as people read it, the same in the CLI's table and the MCP tool's
 * text: worst first, percentages never rounded up, times in two units at most.
 */

/** What ranking an adapter's uptime needs (an entry of `GET /v1/uptime`'s answer has it). */
export interface RankedUptime {
  adapter_id: string;
  uptime_percent: number | null;
  down_s: number;
}

/**
 * Adapters worst first: lowest uptime, then most time down; those with no
 * up or down time at all (nothing to rank) last; ties by id.
 */
export function worstFirst<T extends RankedUptime>(adapters: readonly T[]): T[] {
  return [...adapters].sort((a, b) => {
    if (a.uptime_percent !== b.uptime_percent) {
      if (a.uptime_percent === null) return 1;
      if (b.uptime_percent === null) return -1;
      return a.uptime_percent - b.uptime_percent;
    }
    return b.down_s - a.down_s || a.adapter_id.localeCompare(b.adapter_id);
  });
}

/**
 * "99.95%", never rounded up: 99.999 reads 99.99%, so only a window without a
 * second down reads 100%. "-" when there is nothing to divide by.
 */
export function formatPercent(percent: number | null): string {
  if (percent === null) return "-";
  if (percent >= 100) return "100%";
  return `${(Math.floor(percent * 100) / 100).toFixed(2)}%`;
}

/** "0s", "45s", "12m 5s", "3h 20m", "2d 4h": two units at most. */
export function formatSeconds(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const units: [number, string][] = [
    [86_400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  const first = units.findIndex(([size]) => whole >= size);
  const [bigSize, bigName] = units[first] as [number, string];
  const [smallSize, smallName] = units[first + 1] as [number, string];
  const big = Math.floor(whole / bigSize);
  const small = Math.floor((whole - big * bigSize) / smallSize);
  return small === 0 ? `${big}${bigName}` : `${big}${bigName} ${small}${smallName}`;
}
