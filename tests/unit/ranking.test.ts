import { describe, expect, it } from "vitest";
import { convexFusion, dot, HYBRID_COSINE_WEIGHT, maximalMarginalRelevance } from "../../src/ranking.js";

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe("convexFusion", () => {
  type Item = { id: string; score: number; keywordScore?: number };
  const key = (item: Item) => item.id;
  const fuse = (semantic: Item[], keyword: Item[], weight?: number) =>
    convexFusion(semantic, keyword, key, weight).map(({ item, fused, inBoth }) => ({
      id: item.id,
      fused,
      inBoth,
    }));

  it("weighs the cosine as it is and BM25 against the best keyword hit", () => {
    const fused = fuse(
      [
        { id: "a", score: 0.9 },
        { id: "b", score: 0.5 },
      ],
      [
        { id: "b", score: 0.5, keywordScore: 10 },
        { id: "c", score: 0.2, keywordScore: 5 },
      ],
    );
    expect(fused.map((f) => f.id)).toEqual(["b", "c", "a"]);
    expect(fused[0]?.fused).toBeCloseTo(HYBRID_COSINE_WEIGHT * 0.5 + (1 - HYBRID_COSINE_WEIGHT) * 1, 12);
    expect(fused[1]?.fused).toBeCloseTo(HYBRID_COSINE_WEIGHT * 0.2 + (1 - HYBRID_COSINE_WEIGHT) * 0.5, 12);
    expect(fused[2]?.fused).toBeCloseTo(HYBRID_COSINE_WEIGHT * 0.9, 12);
    expect(fused.map((f) => f.inBoth)).toEqual([true, false, false]);
  });

  it("keeps the semantic order when no word matched (a query of stop words)", () => {
    const semantic = [
      { id: "x", score: 0.7 },
      { id: "y", score: 0.6 },
    ];
    expect(fuse(semantic, []).map((f) => f.id)).toEqual(["x", "y"]);
  });

  it("lets a clear paraphrase beat a weak word match, and a strong word match beat flat cosines", () => {
    // A paraphrase at 0.95 against a document that shares the query's one rare word.
    expect(
      fuse(
        [{ id: "paraphrase", score: 0.95 }],
        [
          { id: "shares-a-word", score: 0.3, keywordScore: 4 },
          { id: "shares-less", score: 0.3, keywordScore: 0.5 },
        ],
        0.8,
      )[0]?.id,
    ).toBe("paraphrase");
    // Cosines that barely differ (0.45 vs 0.40) cannot outvote the best keyword hit.
    expect(
      fuse(
        [
          { id: "flat1", score: 0.45 },
          { id: "flat2", score: 0.44 },
        ],
        [{ id: "words", score: 0.4, keywordScore: 7 }],
      )[0]?.id,
    ).toBe("words");
  });

  it("keeps the order of first appearance on ties, semantic first", () => {
    const fused = fuse(
      [
        { id: "s1", score: 0.5 },
        { id: "s2", score: 0.5 },
      ],
      [
        { id: "k1", score: 0.5, keywordScore: 3 },
        { id: "k2", score: 0.5, keywordScore: 3 },
      ],
      1,
    );
    expect(fused.map((f) => f.id)).toEqual(["s1", "s2", "k1", "k2"]);
  });
});

describe("maximalMarginalRelevance", () => {
  const near1 = { id: "near1", vector: unit(1, 0, 0), relevance: 0.99 };
  const near2 = { id: "near2", vector: unit(1, 0.01, 0), relevance: 0.98 };
  const other = { id: "other", vector: unit(0, 1, 0), relevance: 0.7 };

  it("keeps the relevance order at diversity 0", () => {
    expect(maximalMarginalRelevance([near1, near2, other], 2, 0).map((c) => c.id)).toEqual([
      "near1",
      "near2",
    ]);
  });

  it("skips a near-duplicate in favour of something new", () => {
    expect(maximalMarginalRelevance([near1, near2, other], 2, 0.5).map((c) => c.id)).toEqual([
      "near1",
      "other",
    ]);
  });

  it("never returns more than asked or more than it has", () => {
    expect(maximalMarginalRelevance([near1], 5, 0.3)).toHaveLength(1);
    expect(dot(unit(1, 1), unit(1, 1))).toBeCloseTo(1, 6);
  });
});
