import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeywordIndex, terms } from "../../src/store/keyword-index.js";
import { createTextIndex } from "../../src/store/lance/text-index.js";
import { tempDir } from "../support/harness.js";

const texts = [
  "The cats are running after the dogs.",
  "A cat ran; cats run, and running cats win!",
  "Being there because of her: naïve Génoise café",
  "I have done it, haven't I?",
  "http://example.org/wiki/History_of_Delhi#Early_history",
  "abcdefghijabcdefghijabcdefghijabcdefghij is long, abcdefghij is not",
  "🎉 👍",
  "dogs dogs dogs",
  "Müller's straße in İstanbul, 1,000 km",
];
const queries = [
  "cat",
  "cat cat",
  "running dogs",
  "because",
  "her",
  "naive genoise",
  "history",
  "abcdefghij",
  "the",
  "müller strasse",
  "1 000",
];

let table: lancedb.Table;
let cleanup: () => void;
beforeEach(async () => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  const db = await lancedb.connect(path.join(dir, "db"));
  table = await db.createTable(
    "t",
    texts.map((text, i) => ({ id: `r${i}`, text })),
  );
  // The store's own full-text index, as keyword search makes it.
  await createTextIndex(table);
});
afterEach(() => cleanup());

describe("the cache's keyword index", () => {
  it("drops stop words after stemming, as LanceDB does", () => {
    expect(terms("Being there because of her running")).toEqual(["becaus", "run"]);
    expect(terms("🎉 the")).toEqual([]);
  });

  it("ranks and scores as LanceDB's full-text index on the same rows", async () => {
    const index = new KeywordIndex();
    texts.forEach((text, i) => {
      index.set(`r${i}`, text);
    });
    for (const query of queries) {
      const lance = (await table
        .query()
        .fullTextSearch(new lancedb.MatchQuery(query, "text"))
        .select(["id", "_score"])
        .limit(20)
        .toArray()) as { id: string; _score: number }[];
      const ours = index.search(query, 20);
      const byScore = <T>(rows: T[], score: (row: T) => number, id: (row: T) => string) =>
        rows
          .map((row) => ({ id: id(row), score: score(row) }))
          .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
      const want = byScore(
        lance,
        (row) => row._score,
        (row) => row.id,
      );
      const got = byScore(
        ours,
        (row) => row.score,
        (row) => row.key,
      );
      expect(
        got.map((row) => row.id),
        query,
      ).toEqual(want.map((row) => row.id));
      got.forEach((row, i) => {
        expect(row.score, query).toBeCloseTo(want[i]?.score as number, 5);
      });
    }
  });

  it("forgets removed rows and counts only rows with terms", () => {
    const index = new KeywordIndex();
    index.set("a", "cat");
    index.set("b", "the");
    index.set("c", "dog");
    expect(index.size).toBe(2);
    index.remove("a");
    expect(index.search("cat", 5)).toEqual([]);
    index.set("c", "cat dog");
    expect(index.search("cat", 5).map((hit) => hit.key)).toEqual(["c"]);
  });
});
