import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { KeywordIndex, terms } from "../src/store/keyword-index.js";
const docs = (process.env.DOCS ?? "cat|cat dog|dog dog fish|bird bird bird bird|fish cat bird").split("|");
const db = await lancedb.connect(mkdtempSync(path.join(tmpdir(), "kw-")));
const table = await db.createTable("t", docs.map((text, i) => ({ id: `r${i}`, text })));
await table.createIndex("text", { config: lancedb.Index.fts({ stem: true, lowercase: true, asciiFolding: true, removeStopWords: true, language: "English" }) });
const index = new KeywordIndex();
docs.forEach((t, i) => index.set(`r${i}`, t));
for (const q of (process.env.Q ?? "cat").split("|")) {
  const theirs = (await table.query().fullTextSearch(new lancedb.MatchQuery(q, "text")).select(["id", "_score"]).limit(10).toArray()) as { id: string; _score: number }[];
  console.log(q, "lance", theirs.map((r) => `${r.id}:${r._score.toFixed(4)}`).join(" "), "| ours", index.search(q, 10).map((r) => `${r.key}:${r.score.toFixed(4)}`).join(" "));
}
console.log(terms("What did Caroline do on 8 May 2023? running dogs"));
