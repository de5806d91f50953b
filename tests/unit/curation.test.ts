import { describe, expect, it } from "vitest";
import { DuplicateMatrix, documentVector, mergedMetadataChanges, stableSample } from "../../src/curation.js";

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

  it("finds each pair above the threshold once, from its earlier document, as a plain loop does", () => {
    // 600 documents of 20 dimensions (more rows than a tile) in 4 tight clusters, some split into two chunks.
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const centres = Array.from({ length: 4 }, () => Array.from({ length: 20 }, rand));
    const docs = new Map<string, Float32Array[]>();
    for (let i = 0; i < 600; i++) {
      const centre = centres[i % 4] as number[];
      const chunk = () => Float32Array.from(centre, (x) => x + rand() * 0.1);
      docs.set(`d${String(i).padStart(3, "0")}`, i % 5 === 0 ? [chunk(), chunk()] : [chunk()]);
    }
    const matrix = new DuplicateMatrix(docs);
    const unit = (v: Float32Array) => {
      const n = Math.hypot(...v);
      return Array.from(v, (x) => x / n);
    };
    const expected: string[] = [];
    const ids = [...docs.keys()].sort();
    ids.forEach((a, i) => {
      const q = documentVector((docs.get(a) ?? []).map((v) => Float32Array.from(unit(v))));
      for (const b of ids.slice(i + 1)) {
        const best = Math.max(
          ...(docs.get(b) ?? []).map((v) => unit(v).reduce((s, x, k) => s + x * (q[k] as number), 0)),
        );
        if (best >= 0.97) expected.push(`${a} ${b}`);
      }
    });
    const found = ids.flatMap((a, i) =>
      matrix.laterNeighbours(i, 0.97).map((n) => `${a} ${matrix.ids[n.doc] as string}`),
    );
    expect(expected.length).toBeGreaterThan(20);
    expect(found.sort()).toEqual(expected.sort());
    // Scored in blocks (several documents against each tile of rows), the same pairs and scores.
    for (let first = 0; first < 600; first += DuplicateMatrix.BLOCK) {
      matrix.laterNeighboursOf(first, DuplicateMatrix.BLOCK, 0.97).forEach((near, b) => {
        expect(near).toEqual(matrix.laterNeighbours(first + b, 0.97));
      });
    }
    expect(matrix.after(undefined)).toBe(0);
    expect(matrix.after("d010")).toBe(11);
    expect(matrix.after("d010x")).toBe(11);
    expect(matrix.laterNeighbours(599, 0)).toEqual([]);
  });
});
