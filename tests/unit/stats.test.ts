import { describe, expect, it } from "vitest";
import { averageRanks, cosine, pearson, spearman } from "../../bench/lib/stats.js";

// Expected values from scipy 1.17 (scipy.stats.rankdata and spearmanr).
describe("bench statistics", () => {
  it("gives tied values the average of their ranks", () => {
    expect(averageRanks([3, 1, 4, 1, 5, 9, 2, 6, 5])).toEqual([4, 1.5, 5, 1.5, 6.5, 9, 3, 8, 6.5]);
    expect(averageRanks([])).toEqual([]);
  });

  it("computes Spearman's rho with ties", () => {
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505139, 12);
  });

  it("is ±1 for any monotonic relation, which Pearson's is not", () => {
    const xs = [1, 2, 3, 4, 5];
    const cubes = xs.map((x) => x ** 3);
    expect(spearman(xs, cubes)).toBeCloseTo(1, 12);
    expect(spearman(xs, [...cubes].reverse())).toBeCloseTo(-1, 12);
    expect(pearson(xs, cubes)).toBeLessThan(0.99);
  });

  it("is undefined (NaN) against a constant", () => {
    expect(spearman([1, 2, 3], [7, 7, 7])).toBeNaN();
  });

  it("computes cosine similarity whatever the vectors' lengths", () => {
    expect(cosine(Float32Array.of(1, 0), Float32Array.of(3, 3))).toBeCloseTo(Math.SQRT1_2, 6);
    expect(() => cosine(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(/dimensions/);
  });
});
