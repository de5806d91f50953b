import { describe, expect, it } from "vitest";
import {
  HYBRID_CONFIDENT_COSINE_WEIGHT,
  HYBRID_COSINE_WEIGHT,
  hybridCosineWeight,
} from "../../src/ranking.js";
import {
  bestChunkPerDocument,
  finalPage,
  type RankRequest,
  rankChunks,
  weightByRecency,
} from "../../src/search-ranking.js";
import type { Hit, KeywordHit } from "../../src/store/vector-store.js";

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const query = unit(1, 0, 0);

/** A hit whose stored vector has cosine `cos` with the query. */
function hit(id: string, cos: number, text = `text of ${id}`, chunk = 0): Hit & { vector: Float32Array } {
  return {
    id,
    text,
    chunk,
    start: 0,
    metadata: {},
    createdAt: null,
    updatedAt: null,
    distance: 1 - cos,
    vector: unit(cos, Math.sqrt(Math.max(0, 1 - cos * cos)), 0),
  };
}
function keywordHit(id: string, cos: number, bm25: number, text?: string, chunk = 0): KeywordHit {
  const { distance: _distance, ...rest } = hit(id, cos, text, chunk);
  return { ...rest, keywordScore: bm25 };
}
const rank = (request: Partial<RankRequest>) =>
  rankChunks({ mode: "hybrid", query: "q", queryVector: query, semantic: [], keyword: [], ...request });
const ids = (results: Array<{ id: string }>) => results.map((r) => r.id);

describe("rankChunks", () => {
  const semantic = [hit("a", 0.9), hit("b", 0.6)];
  const keyword = [keywordHit("c", 0.3, 8), keywordHit("b", 0.6, 4)];

  it("keeps each single mode's own order and scores keyword hits by cosine", () => {
    expect(ids(rank({ mode: "semantic", semantic }))).toEqual(["a", "b"]);
    const byWords = rank({ mode: "keyword", keyword });
    expect(ids(byWords)).toEqual(["c", "b"]);
    expect(byWords[0]?.score).toBeCloseTo(0.3, 6);
    expect(byWords[0]?.keywordScore).toBe(8);
    expect(byWords[0]?.matchedBy).toEqual(["keyword"]);
  });

  it("fuses both lists in hybrid mode and says which found each chunk", () => {
    const fused = rank({ semantic, keyword });
    const w = hybridCosineWeight(0.9);
    const expected = { a: w * 0.9, b: w * 0.6 + (1 - w) * 0.5, c: w * 0.3 + (1 - w) * 1 };
    const order = Object.entries(expected)
      .sort((x, y) => y[1] - x[1])
      .map(([id]) => id);
    expect(ids(fused)).toEqual(order);
    for (const r of fused) expect(r.fusedScore).toBeCloseTo(expected[r.id as keyof typeof expected], 6);
    expect(fused.find((r) => r.id === "b")?.matchedBy).toEqual(["semantic", "keyword"]);
    expect(fused.find((r) => r.id === "a")?.matchedBy).toEqual(["semantic"]);
    // The score stays the cosine whatever the fused order.
    expect(fused.find((r) => r.id === "c")?.score).toBeCloseTo(0.3, 6);
  });

  it("weighs meaning by its confidence: a near-paraphrase beats the best word match, flat cosines do not", () => {
    expect(hybridCosineWeight(0.5)).toBe(HYBRID_COSINE_WEIGHT);
    expect(hybridCosineWeight(0.95)).toBe(HYBRID_CONFIDENT_COSINE_WEIGHT);
    expect(hybridCosineWeight(0.8)).toBeCloseTo(
      (HYBRID_COSINE_WEIGHT + HYBRID_CONFIDENT_COSINE_WEIGHT) / 2,
      9,
    );
    // A paraphrase that shares no indexed word with the query (so no BM25) at cosine 0.92.
    const paraphrase = rank({
      semantic: [hit("paraphrase", 0.92), hit("other", 0.6)],
      keyword: [keywordHit("shares-a-word", 0.55, 6), keywordHit("other", 0.6, 2)],
    });
    expect(ids(paraphrase)[0]).toBe("paraphrase");
    // Low, flat cosines (a question against statements): the best word match leads.
    const flat = rank({
      semantic: [hit("s1", 0.55), hit("s2", 0.54)],
      keyword: [keywordHit("answer", 0.45, 6), keywordHit("s2", 0.54, 1)],
    });
    expect(ids(flat)[0]).toBe("answer");
    // The query's own stored text does not count as confidence.
    const selfOnly = rank({
      query: "the same words",
      semantic: [hit("self", 1, "the same words"), hit("s1", 0.55)],
      keyword: [keywordHit("answer", 0.45, 6)],
    });
    expect(ids(selfOnly)).toEqual(["self", "answer", "s1"]);
  });

  it("fuses chunks, not documents: two chunks of one document stay apart", () => {
    const fused = rank({
      semantic: [hit("doc", 0.8, "first part", 0), hit("doc", 0.7, "second part", 1)],
      keyword: [keywordHit("doc", 0.7, 5, "second part", 1)],
    });
    expect(fused.map((r) => [r.id, r.chunk])).toEqual([
      ["doc", 1],
      ["doc", 0],
    ]);
  });

  it("puts a chunk whose text is the query first, in every mode", () => {
    const exactText = "the deploy key";
    const exact = hit("exact", 0.99, exactText);
    const longer = keywordHit("longer", 0.8, 9, "the deploy key, the deploy key and the vault");
    const exactByWords = keywordHit("exact", 0.99, 3, exactText);
    const q = { query: exactText };
    expect(ids(rank({ ...q, mode: "semantic", semantic: [hit("tie", 0.99), exact] }))[0]).toBe("exact");
    expect(ids(rank({ ...q, mode: "keyword", keyword: [longer, exactByWords] }))).toEqual([
      "exact",
      "longer",
    ]);
    expect(ids(rank({ ...q, semantic: [hit("tie", 0.99), exact], keyword: [longer, exactByWords] }))[0]).toBe(
      "exact",
    );
    // Found apart from the keyword search (a text of stop words has no indexed word): still first, once.
    const probed = rank({ ...q, mode: "keyword", keyword: [longer], exact: [exact, hit("near", 0.9)] });
    expect(ids(probed)).toEqual(["exact", "longer"]);
    expect(probed[0]?.matchedBy).toEqual(["keyword"]);
    // A text that only differs in case is not the query.
    expect(ids(rank({ query: "The Deploy Key", mode: "keyword", keyword: [longer, exactByWords] }))).toEqual([
      "longer",
      "exact",
    ]);
  });

  it("drops chunks below min_score by their cosine in every mode", () => {
    expect(ids(rank({ semantic, keyword, minScore: 0.5 })).sort()).toEqual(["a", "b"]);
    expect(ids(rank({ mode: "keyword", keyword, minScore: 0.5 }))).toEqual(["b"]);
  });
});

describe("bestChunkPerDocument", () => {
  it("keeps each document once, at its best chunk's place", () => {
    const ranked = [
      { id: "x", chunk: 2 },
      { id: "y", chunk: 0 },
      { id: "x", chunk: 0 },
    ];
    expect(bestChunkPerDocument(ranked)).toEqual([
      { id: "x", chunk: 2 },
      { id: "y", chunk: 0 },
    ]);
  });
});

describe("finalPage", () => {
  it("cuts to the limit, and with diversity spreads near-duplicates apart", () => {
    const ranked = rank({
      mode: "semantic",
      semantic: [
        { ...hit("near1", 0.95), vector: unit(1, 0, 0) },
        { ...hit("near2", 0.94), vector: unit(1, 0.01, 0) },
        { ...hit("other", 0.7), vector: unit(0, 1, 0) },
      ],
    });
    expect(ids(finalPage(ranked, 2, 0))).toEqual(["near1", "near2"]);
    expect(ids(finalPage(ranked, 2, 0.5))).toEqual(["near1", "other"]);
    expect(finalPage(ranked, 1, 0)[0]).not.toHaveProperty("vector");
  });
});

describe("weightByRecency", () => {
  const now = Date.parse("2026-11-30T00:00:00Z");
  const daysAgo = (d: number) => new Date(now - d * 86_400_000).toISOString();
  const dated = (id: string, cos: number, updatedAt: string | null) => ({ ...hit(id, cos), updatedAt });

  it("halves the weight every half-life and orders by the weighted score, keeping the cosine", () => {
    const ranked = rankChunks({
      mode: "semantic",
      query: "q",
      queryVector: query,
      semantic: [dated("old", 0.9, daysAgo(20)), dated("new", 0.6, daysAgo(0))],
      keyword: [],
    });
    const weighted = weightByRecency(ranked, "semantic", 10, now);
    expect(weighted.map((c) => c.id)).toEqual(["new", "old"]);
    expect(weighted[1]?.score).toBeCloseTo(0.9, 5);
    expect(weighted[1]?.weightedScore).toBeCloseTo(0.9 * 0.25, 5);
    expect(weighted[0]?.weightedScore).toBeCloseTo(0.6, 5);
  });

  it("weighs a document of unknown time as the oldest dated one; with none dated, not at all", () => {
    const ranked = rankChunks({
      mode: "semantic",
      query: "q",
      queryVector: query,
      semantic: [dated("legacy", 0.8, null), dated("a", 0.7, daysAgo(10)), dated("b", 0.5, daysAgo(0))],
      keyword: [],
    });
    const weighted = weightByRecency(ranked, "semantic", 10, now);
    expect(weighted.find((c) => c.id === "legacy")?.weightedScore).toBeCloseTo(0.8 * 0.5, 5);
    const undated = weightByRecency(
      rankChunks({
        mode: "semantic",
        query: "q",
        queryVector: query,
        semantic: [dated("x", 0.8, null)],
        keyword: [],
      }),
      "semantic",
      10,
      now,
    );
    expect(undated[0]?.weightedScore).toBeCloseTo(0.8, 5);
  });
});
