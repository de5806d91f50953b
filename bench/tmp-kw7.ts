import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { terms } from "../src/store/keyword-index.js";
const odd = (process.env.W ?? "").split(" ");
const db = await lancedb.connect(mkdtempSync(path.join(tmpdir(), "kw-")));
for (const [i, w] of odd.entries()) {
  const table = await db.createTable(`t${i}`, [{ id: "a", text: w }, { id: "b", text: "zzz" }]);
  await table.createIndex("text", { config: lancedb.Index.fts({ stem: true, lowercase: true, asciiFolding: true, removeStopWords: true, language: "English" }) });
  const [hit] = (await table.query().fullTextSearch(new lancedb.MatchQuery("zzz", "text")).select(["id", "_score"]).toArray()) as { _score: number }[];
  const idf = Math.log(1 + (2 - 1 + 0.5) / 1.5);
  // s = idf*2.2/(1.3 + 0.9*1/avg) -> avg = 0.9/(idf*2.2/s - 1.3); lance length of w = 2*avg - 1
  const avg = 0.9 / ((idf * 2.2) / (hit?._score ?? NaN) - 1.3);
  const ours = terms(w);
  const found: string[] = [];
  for (const t of ours) if ((await table.query().fullTextSearch(new lancedb.MatchQuery(t, "text")).select(["id"]).toArray()).length) found.push(t);
  const lanceLen = Math.round(2 * avg - 1);
  if (lanceLen !== ours.length || found.length !== ours.length) console.log(JSON.stringify(w), "lance length", (2 * avg - 1).toFixed(3), "ours", JSON.stringify(ours), "of ours found", JSON.stringify(found));
}
console.log("done");
