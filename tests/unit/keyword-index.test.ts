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

  it("ranks as BM25 scored row by row, for rare and for common words, with removals, ties and a filter", () => {
    // Rare words take the path that lists the documents they touch; common ones, the one that
    // looks at every document's score (see search). Each text is written in order, some twice (ties).
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const common = ["alpha", "bravo", "charlie", "delta"];
    const written: Array<{ key: string; text: string }> = [];
    const index = new KeywordIndex();
    for (let i = 0; i < 3000; i++) {
      const words = Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        random() < 0.8
          ? (common[Math.floor(random() * common.length)] as string)
          : `rare${Math.floor(random() * 400)}`,
      );
      const text = i % 10 === 9 ? (written[i - 5] as { text: string }).text : words.join(" ");
      written.push({ key: `k${i}`, text });
      index.set(`k${i}`, text);
    }
    // Removed, and some written again (a new, later place in the order).
    for (let i = 0; i < 3000; i += 7) index.remove(`k${i}`);
    for (let i = 0; i < 3000; i += 21) {
      const again = written[i] as { key: string; text: string };
      written.push(again);
      index.set(again.key, again.text);
    }
    const live = new Map<string, string>();
    for (const { key, text } of written) {
      live.delete(key);
      live.set(key, text);
    }
    for (let i = 0; i < 3000; i += 7) if (i % 21 !== 0) live.delete(`k${i}`);
    const docs = [...live].map(([key, text]) => ({ key, tokens: terms(text) }));
    const mean = docs.reduce((sum, d) => sum + d.tokens.length, 0) / docs.length;
    const reference = (query: string, limit: number, admits?: (key: string) => boolean) => {
      const scored = docs.map(({ key, tokens }, at) => {
        let score = 0;
        for (const term of terms(query)) {
          const holding = docs.filter((d) => d.tokens.includes(term)).length;
          const count = tokens.filter((t) => t === term).length;
          if (count === 0) continue;
          const idf = Math.log(1 + (docs.length - holding + 0.5) / (holding + 0.5));
          score += (idf * 2.2 * count) / (count + 1.2 * (0.25 + (0.75 * tokens.length) / mean));
        }
        return { key, score, at };
      });
      return scored
        .filter((d) => d.score > 0 && (!admits || admits(d.key)))
        .sort((a, b) => b.score - a.score || a.at - b.at)
        .slice(0, limit);
    };
    const even = (key: string) => Number(key.slice(1)) % 2 === 0;
    for (const query of ["rare17", "rare3 rare250", "alpha", "bravo delta", "charlie rare9 charlie"]) {
      for (const admits of [undefined, even]) {
        const got = index.search(query, 5, admits);
        const want = reference(query, 5, admits);
        expect(
          got.map((h) => h.key),
          query,
        ).toEqual(want.map((h) => h.key));
        for (const [i, h] of got.entries()) {
          expect(h.score).toBeCloseTo((want[i] as { score: number }).score, 9);
        }
      }
    }
  });
});
