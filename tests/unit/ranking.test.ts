import { describe, expect, it } from "vitest";
import { dot, maximalMarginalRelevance, RRF_K, reciprocalRankFusion } from "../../src/ranking.js";

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe("reciprocalRankFusion", () => {
  it("rewards ids that both lists rank well", () => {
    const fused = reciprocalRankFusion([
      ["a", "b", "c"],
      ["b", "c", "d"],
    ]);
    expect(fused.map((f) => f.id)).toEqual(["b", "c", "a", "d"]);
    expect(fused[0]?.score).toBeCloseTo(1 / (RRF_K + 2) + 1 / (RRF_K + 1), 12);
    expect(fused.find((f) => f.id === "a")?.score).toBeCloseTo(1 / (RRF_K + 1), 12);
  });

  it("returns one list's order when the other is empty", () => {
    expect(reciprocalRankFusion([["x", "y"], []]).map((f) => f.id)).toEqual(["x", "y"]);
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
