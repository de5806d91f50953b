import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { KeywordIndex } from "../src/store/keyword-index.js";
const words = ["cat", "dog", "fish", "bird", "tree", "house", "car", "road", "sky", "blue", "green", "red"];
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
for (const n of [10, 100, 500, 1000, 3000]) {
  const docs = Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => words[Math.floor(rnd() * words.length)]).join(" "));
  const db = await lancedb.connect(mkdtempSync(path.join(tmpdir(), "kw-")));
  const table = await db.createTable("t", docs.map((text, i) => ({ id: `r${i}`, text })));
  await table.createIndex("text", { config: lancedb.Index.fts({ stem: true, lowercase: true, asciiFolding: true, removeStopWords: true, language: "English" }) });
  const index = new KeywordIndex();
  docs.forEach((t, i) => index.set(`r${i}`, t));
  for (const q of ["cat", "cat dog"]) {
    const theirs = (await table.query().fullTextSearch(new lancedb.MatchQuery(q, "text")).select(["id", "_score", "text"]).limit(3).toArray()) as { id: string; _score: number; text: string }[];
    const ours = index.search(q, 3);
    console.log(n, q, "lance", theirs.map((r) => `${r.id}:${r._score.toFixed(4)}`).join(" "), "| ours", ours.map((r) => `${r.key}:${r.score.toFixed(4)}`).join(" "));
  }
}
