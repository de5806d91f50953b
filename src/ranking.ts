/**
 * Pure ranking helpers for search: fusing ranked lists and re-ranking for diversity.
 * Vectors are L2-normalised, so a dot product is the cosine similarity.
 */

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/** The constant from Cormack et al. (2009); it damps the weight of the very top ranks. */
export const RRF_K = 60;

/**
 * Reciprocal rank fusion: each list contributes 1 / (k + rank) for every id it holds (rank from 1).
 * Returns ids best first with their fused scores. Ties keep the order of first appearance.
 */
export function reciprocalRankFusion(lists: string[][], k = RRF_K): Array<{ id: string; score: number }> {
  const scores = new Map<string, number>();
  for (const list of lists) {
    list.forEach((id, index) => {
      scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1));
    });
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

/**
 * Maximal marginal relevance (Carbonell & Goldstein, 1998): picks `limit` candidates greedily,
 * each maximising (1 - diversity) * relevance - diversity * (similarity to the closest one picked).
 * `diversity` 0 keeps the relevance order; 1 only spreads out.
 */
export function maximalMarginalRelevance<T extends { vector: Float32Array; relevance: number }>(
  candidates: T[],
  limit: number,
  diversity: number,
): T[] {
  const picked: T[] = [];
  const left = [...candidates];
  while (picked.length < limit && left.length > 0) {
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    left.forEach((candidate, index) => {
      const redundancy = picked.reduce((max, p) => Math.max(max, dot(candidate.vector, p.vector)), 0);
      const value = (1 - diversity) * candidate.relevance - diversity * redundancy;
      if (value > bestValue) {
        bestValue = value;
        best = index;
      }
    });
    picked.push(...left.splice(best, 1));
  }
  return picked;
}
