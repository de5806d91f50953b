/**
 * Retrieval metrics over ranked id lists, and the two baselines that run outside the server:
 * plain BM25 and a brute-force dense search with the same embedding model.
 */
import type { Embedder } from "../../src/embeddings/embedder.js";
import type { TaskDocument, TaskQuery } from "./quality-tasks.js";

export interface Scores {
  r1: number;
  r5: number;
  r10: number;
  mrr10: number;
}

export const METRICS: Array<[keyof Scores, string]> = [
  ["r1", "recall@1"],
  ["r5", "recall@5"],
  ["r10", "recall@10"],
  ["mrr10", "MRR@10"],
];

/**
 * recall@k: the share of a query's relevant ids in its top k, averaged over queries (for one
 * relevant id, whether it is there); MRR@10: 1 / rank of the first relevant id in the top 10.
 * A query's `exclude` id is removed from its ranking first.
 */
export function score(queries: TaskQuery[], rankings: string[][]): Scores {
  const total: Scores = { r1: 0, r5: 0, r10: 0, mrr10: 0 };
  queries.forEach((query, i) => {
    const ranked = (rankings[i] ?? []).filter((id) => id !== query.exclude);
    const relevant = new Set(query.relevant);
    const recall = (k: number) => ranked.slice(0, k).filter((id) => relevant.has(id)).length / relevant.size;
    total.r1 += recall(1);
    total.r5 += recall(5);
    total.r10 += recall(10);
    const first = ranked.slice(0, 10).findIndex((id) => relevant.has(id));
    if (first >= 0) total.mrr10 += 1 / (first + 1);
  });
  const n = Math.max(1, queries.length);
  return { r1: total.r1 / n, r5: total.r5 / n, r10: total.r10 / n, mrr10: total.mrr10 / n };
}

const tokens = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** Okapi BM25 (k1 1.2, b 0.75) over lower-cased words: no stemming, no stop words. */
export function bm25Ranker(documents: TaskDocument[]): (query: string, k: number) => string[] {
  const K1 = 1.2;
  const B = 0.75;
  const docs = documents.map((d) => {
    const counts = new Map<string, number>();
    const words = tokens(d.text);
    for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { id: d.id, counts, length: words.length };
  });
  const avgLength = docs.reduce((sum, d) => sum + d.length, 0) / Math.max(1, docs.length);
  const df = new Map<string, number>();
  for (const d of docs) for (const w of d.counts.keys()) df.set(w, (df.get(w) ?? 0) + 1);
  const idf = (w: string) => {
    const n = df.get(w) ?? 0;
    return Math.log(1 + (docs.length - n + 0.5) / (n + 0.5));
  };
  return (query, k) => {
    const terms = [...new Set(tokens(query))];
    return docs
      .map((d) => {
        let s = 0;
        for (const t of terms) {
          const tf = d.counts.get(t) ?? 0;
          if (tf > 0) s += (idf(t) * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / avgLength));
        }
        return { id: d.id, s };
      })
      .filter((x) => x.s > 0)
      .sort((a, b) => b.s - a.s)
      .slice(0, k)
      .map((x) => x.id);
  };
}

/** Every document embedded once, every query ranked against all of them by cosine. */
export async function denseRanker(
  embedder: Embedder,
  documents: TaskDocument[],
): Promise<(query: string, k: number) => Promise<string[]>> {
  const vectors: Float32Array[] = [];
  for (let i = 0; i < documents.length; i += 64) {
    vectors.push(...(await embedder.embedDocuments(documents.slice(i, i + 64).map((d) => d.text))));
  }
  return async (query, k) => {
    const q = await embedder.embedQuery(query);
    return vectors
      .map((v, i) => {
        let s = 0;
        for (let j = 0; j < v.length; j++) s += (v[j] as number) * (q[j] as number);
        return { id: (documents[i] as TaskDocument).id, s };
      })
      .sort((a, b) => b.s - a.s)
      .slice(0, k)
      .map((x) => x.id);
  };
}
