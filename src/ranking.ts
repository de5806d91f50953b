/**
 * Pure ranking helpers for search: fusing scored lists and re-ranking for diversity.
 * Vectors are L2-normalised, so a dot product is the cosine similarity.
 */

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/**
 * The cosine's weight in hybrid search; the keyword side has the rest. Chosen on development tasks
 * of two kinds, where either side can be far stronger (STS-B dev paraphrase retrieval; LoCoMo dev
 * questions and observations against conversation turns; bench/quality.ts --all, bench/RESULTS.md
 * "Search quality"): weights 0.35-0.45 were never behind the better single mode by more than noise,
 * where equal-weight reciprocal rank fusion fell 0.16-0.24 behind keyword in recall@5.
 */
export const HYBRID_COSINE_WEIGHT = 0.4;

/**
 * Convex combination of normalised scores (Bruch, Gai, Ingber, "An Analysis of Fusion Functions
 * for Hybrid Retrieval", ACM TOIS 2023): weight * cosine + (1 - weight) * BM25 / the best BM25 in
 * the keyword list. Items of either list carry their cosine in `score` (keyword hits are scored by
 * their stored vectors); an item missing from the keyword list has no BM25 share.
 *
 * Unlike rank fusion, a side speaks with its confidence. The cosine is left on its own absolute
 * scale: a list of low, flat cosines (a model that cannot tell a question from its answer) moves
 * the order little, a clear paraphrase at 0.9 moves it much. BM25 has no such scale (it grows with
 * the query's length and rare words), so it is scaled to its best hit; a query of stop words finds
 * no keyword hits and leaves the order to meaning.
 *
 * Returns every item once, best first; ties keep the order of first appearance, semantic first.
 */
export function convexFusion<T extends { score: number; keywordScore?: number | undefined }>(
  semantic: T[],
  keyword: T[],
  key: (item: T) => string,
  weight = HYBRID_COSINE_WEIGHT,
): Array<{ item: T; fused: number; inBoth: boolean }> {
  const best = Math.max(0, ...keyword.map((k) => k.keywordScore ?? 0));
  const merged = new Map<string, { item: T; bm25: number; inBoth: boolean }>();
  for (const item of semantic) merged.set(key(item), { item, bm25: 0, inBoth: false });
  for (const item of keyword) {
    const seen = merged.get(key(item));
    const bm25 = best > 0 ? (item.keywordScore ?? 0) / best : 0;
    merged.set(
      key(item),
      seen ? { item: { ...seen.item, ...item }, bm25, inBoth: true } : { item, bm25, inBoth: false },
    );
  }
  return [...merged.values()]
    .map(({ item, bm25, inBoth }) => ({ item, fused: weight * item.score + (1 - weight) * bm25, inBoth }))
    .sort((a, b) => b.fused - a.fused);
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
