import { describe, expect, it } from "vitest";
import { documentVector, mergedMetadataChanges, stableSample } from "../../src/curation.js";

describe("curation helpers", () => {
  it("makes a document's vector the unit-length mean of its chunks'", () => {
    const v = documentVector([Float32Array.of(1, 0), Float32Array.of(0, 1)]);
    expect(v[0]).toBeCloseTo(Math.SQRT1_2);
    expect(v[1]).toBeCloseTo(Math.SQRT1_2);
    const one = Float32Array.of(0.6, 0.8);
    expect(documentVector([one])).toBe(one);
    expect(() => documentVector([])).toThrow();
  });

  it("samples the same ids every time, and adding ids changes the sample only where they rank in", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `id-${i}`);
    const sample = stableSample(ids, 100);
    expect(sample).toHaveLength(100);
    expect(stableSample([...ids].reverse(), 100)).toEqual(sample);
    const grown = stableSample([...ids, ...Array.from({ length: 10 }, (_, i) => `new-${i}`)], 100);
    const kept = grown.filter((id) => sample.includes(id)).length;
    expect(kept).toBeGreaterThanOrEqual(90);
    expect(stableSample(["b", "a"], 5)).toEqual(["a", "b"]);
  });

  it("merges metadata: the kept values stay, missing keys come over, string lists are united", () => {
    expect(
      mergedMetadataChanges(
        { topic: "ops", tags: ["a", "b"], n: 1 },
        { topic: "office", tags: ["b", "c"], n: 2, source: "chat" },
      ),
    ).toEqual({ tags: ["a", "b", "c"], source: "chat" });
    expect(mergedMetadataChanges({ tags: ["a"] }, { tags: ["a"] })).toEqual({});
  });
});
