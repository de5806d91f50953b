import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { type Filter, parseWhere } from "../../src/filter.js";
import { silentLogger } from "../../src/logger.js";
import { POSTFILTER_CANDIDATES } from "../../src/store/lance/filtered-search.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { tempDir } from "../support/harness.js";

const model: ModelRecord = { model: "fixed", dtype: "fp32", dimensions: 3 };
const ROWS = 3 * POSTFILTER_CANDIDATES;
/** Row i on a Fibonacci lattice over the sphere (evenly spread, so HNSW's graph is well connected). */
const spread = (i: number) => {
  const z = 1 - (2 * (i + 0.5)) / ROWS;
  const angle = i * Math.PI * (3 - Math.sqrt(5));
  return Float32Array.from([
    Math.sqrt(1 - z * z) * Math.cos(angle),
    Math.sqrt(1 - z * z) * Math.sin(angle),
    z,
  ]);
};
/** The exact nearest k rows among those `keep` admits. */
const exact = (query: Float32Array, keep: (i: number) => boolean, k: number) =>
  Array.from({ length: ROWS }, (_, i) => i)
    .filter(keep)
    .map((i) => {
      const v = spread(i);
      return { id: `r${i}`, score: v.reduce((sum, x, d) => sum + x * (query[d] as number), 0) };
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((row) => row.id);

let indexed: LanceStore;
let cleanup: () => void;
beforeEach(async () => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  // No vector cache: every search is LanceDB's, on its index (as past the cache's budget).
  indexed = new LanceStore({
    dbPath: path.join(dir, "db"),
    logger: silentLogger,
    vectorCacheBytes: 0,
    vectorIndexMinRows: 300,
  });
  await indexed.upsert(
    "c",
    model,
    Array.from({ length: ROWS }, (_, i) => ({
      id: `r${i}`,
      text: `row ${i}`,
      vector: spread(i),
      metadata: { half: i % 2, narrow: i % 100 },
    })),
  );
  await indexed.compact("c");
  await indexed.vectorIndexSettled("c");
});
afterEach(async () => {
  vi.restoreAllMocks();
  await indexed.close();
  cleanup();
});

describe("a filtered search on the vector index", () => {
  const asked = [17, 203, 411, 598, 777, 1001, 1150];

  it("filters the index's nearest rows when enough pass, and finds the filtered nearest", async () => {
    const postfilter = vi.spyOn(lancedb.VectorQuery.prototype, "postfilter");
    const where = parseWhere({ half: 1 }) as Filter;
    let found = 0;
    for (const i of asked) {
      const hits = await indexed.search("c", spread(i), { limit: 5, where });
      expect(hits).toHaveLength(5);
      expect(hits.every((hit) => hit.metadata.half === 1)).toBe(true);
      const wanted = new Set(exact(spread(i), (r) => r % 2 === 1, 5));
      found += hits.filter((hit) => wanted.has(hit.id)).length;
    }
    // Approximate, as the index is: 90% of the exact filtered top 5.
    expect(found).toBeGreaterThanOrEqual(0.9 * 5 * asked.length);
    // One postfiltered query each: half the candidates pass, more than twice the hits wanted.
    expect(postfilter).toHaveBeenCalledTimes(asked.length);
  });

  it("searches again with the prefilter when too few pass, and then goes to it at once", async () => {
    const postfilter = vi.spyOn(lancedb.VectorQuery.prototype, "postfilter");
    const where = parseWhere({ narrow: 7 }) as Filter;
    for (const i of asked) {
      const hits = await indexed.search("c", spread(i), { limit: 5, where });
      // 12 rows match, ~4 of them among the nearest 400: the prefilter finds 5.
      expect(hits).toHaveLength(5);
      expect(hits.every((hit) => hit.metadata.narrow === 7)).toBe(true);
      expect(hits.map((hit) => hit.id)).toEqual(exact(spread(i), (r) => r % 100 === 7, 5));
    }
    // The first search tried the postfilter and found the filter narrow; the others did not try.
    expect(postfilter).toHaveBeenCalledTimes(1);
  });

  it("keeps a narrow filter's rows in memory and answers from them exactly, until the table changes", async () => {
    const where = parseWhere({ narrow: 7 }) as Filter;
    // Every vector search of the store's names its column; a read by row id is a TakeQuery.
    const vectorSearch = vi.spyOn(lancedb.VectorQuery.prototype, "column");
    const take = vi.spyOn(lancedb.TakeQuery.prototype, "select");
    // Found narrow, its rows are read beside the searches. The filter's first search also builds a
    // BTREE on its column (a commit: those rows are read again), so wait for a search from memory.
    await vi.waitFor(
      async () => {
        vectorSearch.mockClear();
        await indexed.search("c", spread(1), { limit: 5, where });
        await indexed.filteredSearchSettled();
        expect(vectorSearch).not.toHaveBeenCalled();
      },
      { timeout: 10_000, interval: 50 },
    );
    take.mockClear();
    for (const i of asked) {
      const hits = await indexed.search("c", spread(i), { limit: 5, where, withVectors: true });
      expect(hits.map((hit) => hit.id)).toEqual(exact(spread(i), (r) => r % 100 === 7, 5));
      expect(hits.every((hit) => hit.metadata.narrow === 7 && hit.text === `row ${hit.id.slice(1)}`)).toBe(
        true,
      );
      const first = hits[0];
      const v = spread(Number(first?.id.slice(1)));
      const dot = v.reduce((sum, x, d) => sum + x * (spread(i)[d] as number), 0);
      expect(first?.distance).toBeCloseTo(1 - dot, 5);
      expect([...(first?.vector ?? [])].map((x) => Number(x.toFixed(5)))).toEqual(
        [...v].map((x) => Number(x.toFixed(5))),
      );
    }
    expect(vectorSearch).not.toHaveBeenCalled();
    expect(take).toHaveBeenCalledTimes(asked.length);
    // A write moves the table on: LanceDB answers (with the new row) while the rows are read again.
    await indexed.upsert("c", model, [
      { id: "new", text: "new", vector: spread(17), metadata: { half: 0, narrow: 7 } },
    ]);
    const after = await indexed.search("c", spread(17), { limit: 5, where });
    expect(vectorSearch).toHaveBeenCalledTimes(1);
    expect(after.map((hit) => hit.id)).toContain("new");
    await indexed.filteredSearchSettled();
    const again = await indexed.search("c", spread(17), { limit: 5, where });
    expect(vectorSearch).toHaveBeenCalledTimes(1);
    expect(again.map((hit) => hit.id)).toEqual(after.map((hit) => hit.id));
  });

  it("goes to the prefilter for searches that want many hits", async () => {
    const postfilter = vi.spyOn(lancedb.VectorQuery.prototype, "postfilter");
    const where = parseWhere({ half: 0 }) as Filter;
    const hits = await indexed.search("c", spread(300), { limit: 50, where });
    expect(hits).toHaveLength(50);
    expect(hits.every((hit) => hit.metadata.half === 0)).toBe(true);
    expect(postfilter).not.toHaveBeenCalled();
  });
});
