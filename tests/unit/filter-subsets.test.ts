import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FilterSubsets } from "../../src/store/lance/filter-subsets.js";
import { tempDir } from "../support/harness.js";

const ROWS = 40;
const vectorOf = (i: number) => [Math.cos(i), Math.sin(i), 0.5];
const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return { id: `r${i}`, chunk: 0, text: `row ${i}`, metadata: "{}", group: i % 2, vector: vectorOf(i) };
  });

let table: lancedb.Table;
let cleanup: () => void;
beforeEach(async () => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  const db = await lancedb.connect(path.join(dir, "db"));
  table = await db.createTable("t", rows(0, ROWS));
});
afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
});

describe("a narrow filter's rows in memory", () => {
  it("answers exactly from memory at the version it read, and not at the next", async () => {
    const subsets = new FilterSubsets();
    const query = Float32Array.from(vectorOf(0.3));
    const ask = async () =>
      subsets.search(table, await table.version(), "even", "`group` = 0", query, 3, [
        "id",
        "text",
        "metadata",
      ]);
    expect(await ask()).toBeUndefined();
    await subsets.settled();
    const hits = await ask();
    expect(hits?.map((hit) => hit.id)).toEqual(expectedEven(query, 3));
    expect(hits?.[0]?.distance).toBeCloseTo(1 - cosine(vectorOf(38), query), 5);
    await table.add(rows(ROWS, ROWS + 2));
    expect(await ask()).toBeUndefined();
  });

  it("does not read a filter again after finding it admits too many rows, even when the table changes", async () => {
    const subsets = new FilterSubsets(10);
    const reads = vi.spyOn(table, "query");
    const ask = async () =>
      subsets.search(table, await table.version(), "even", "`group` = 0", Float32Array.from([1, 0, 0]), 3, [
        "id",
      ]);
    expect(await ask()).toBeUndefined();
    await subsets.settled();
    expect(reads).toHaveBeenCalledTimes(1);
    expect(await ask()).toBeUndefined();
    await table.add(rows(ROWS, ROWS + 2));
    expect(await ask()).toBeUndefined();
    await subsets.settled();
    expect(reads).toHaveBeenCalledTimes(1);
  });
});

/** The even rows nearest the query by cosine, nearest first. */
function expectedEven(query: Float32Array, k: number): string[] {
  return Array.from({ length: ROWS }, (_, i) => i)
    .filter((i) => i % 2 === 0)
    .sort((a, b) => cosine(vectorOf(b), query) - cosine(vectorOf(a), query))
    .slice(0, k)
    .map((i) => `r${i}`);
}

function cosine(v: number[], query: Float32Array): number {
  const dot = v.reduce((sum, x, d) => sum + x * (query[d] as number), 0);
  const norm = (u: ArrayLike<number>) => Math.hypot(...Array.from(u));
  return dot / (norm(v) * norm(query));
}
