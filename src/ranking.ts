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
 * The cosine's weight in hybrid search (the keyword side has the rest) when meaning has no clear
 * answer. Chosen on development tasks of two kinds, where either side can be far stronger (STS-B dev
 * paraphrase retrieval; LoCoMo dev questions and observations against conversation turns;
 * bench/fusion-study.ts, bench/RESULTS.md "Search quality").
 */
export const HYBRID_COSINE_WEIGHT = 0.4;
/** The cosine's weight once the semantic side has a near-paraphrase (see hybridCosineWeight). */
export const HYBRID_CONFIDENT_COSINE_WEIGHT = 0.9;
/** Best cosines from which, and up to which, the semantic side's weight grows. */
export const CONFIDENT_COSINE: readonly [number, number] = [0.7, 0.9];

/**
 * How much the cosine weighs in one query's fusion: HYBRID_COSINE_WEIGHT while the best cosine
 * (of a text other than the query itself, which comes first anyway) is below 0.7, growing to
 * HYBRID_CONFIDENT_COSINE_WEIGHT at 0.9 and above. A side should speak when it has signal: BM25
 * scaled to its best hit always gives its first hit full marks, so without this a paraphrase that
 * shares no rare word with the query (cosine 0.9) would sink below every text that shares one.
 * Measured: with the keyword side made weaker than on STS-B dev (its scores jittered, or the answer
 * taken out of its list for 10% of the queries), a fixed 0.4 fell up to 0.05 behind semantic in
 * MRR@10, this within about 0.01; on the real dev tasks both hold (bench/RESULTS.md).
 */
export function hybridCosineWeight(bestCosine: number): number {
  const [from, to] = CONFIDENT_COSINE;
  const t = Math.min(1, Math.max(0, (bestCosine - from) / (to - from)));
  return HYBRID_COSINE_WEIGHT + (HYBRID_CONFIDENT_COSINE_WEIGHT - HYBRID_COSINE_WEIGHT) * t;
}

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
