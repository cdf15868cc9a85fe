/**
 * The candidate a mistyped name most likely meant, for "did you mean …?".
 * A candidate is close when it is at most one edit away per three letters
 * (at least one edit; swapping two neighbouring letters is one edit), or when
 * it is the only candidate that starts with what was typed.
 */
export function closestName(typed: string, candidates: readonly string[]): string | undefined {
  const allowed = Math.max(1, Math.floor(typed.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    if (distance <= allowed && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  if (best) return best.name;
  const extending = typed.length >= 2 ? candidates.filter((name) => name.startsWith(typed)) : [];
  return extending.length === 1 ? extending[0] : undefined;
}

/**
 * Levenshtein distance that also counts a swap of two neighbouring letters as
 * one edit (optimal string alignment): `jsno` is one edit from `json`.
 */
export function editDistance(from: string, to: string): number {
  // rows[i][j]: the distance between the first i letters of `from` and the first j of `to`.
  const rows: number[][] = Array.from({ length: from.length + 1 }, (_, i) =>
    Array.from({ length: to.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= from.length; i++) {
    const row = rows[i] as number[];
    for (let j = 1; j <= to.length; j++) {
      const substitution = from[i - 1] === to[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + substitution);
      if (i > 1 && j > 1 && from[i - 1] === to[j - 2] && from[i - 2] === to[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      row[j] = distance;
    }
  }
  return at(from.length, to.length);
}
