import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { KeywordIndex, terms } from "../src/store/keyword-index.js";

const lines = readFileSync("../shared/data/stsbenchmark/sts-dev.csv", "utf8").split("\n").filter(Boolean);
const texts = [...new Set(lines.flatMap((l) => l.split("\t").slice(5, 7)))];
const loco = JSON.parse(readFileSync("../shared/data/locomo/locomo-dev.json", "utf8"));
const extra: string[] = [];
JSON.stringify(loco, (k, v) => { if ((k === "text" || k === "question") && typeof v === "string") extra.push(v); return v; });
const all = process.env.ONLY === "sts" ? texts.slice(0, Number(process.env.N ?? 1e9)) : process.env.ONLY === "loco" ? extra.slice(0, 5000) : [...texts, ...extra.slice(0, 5000)];
console.log("rows", all.length);
const db = await lancedb.connect(mkdtempSync(path.join(tmpdir(), "kw-")));
const table = await db.createTable("t", all.map((text, i) => ({ id: `r${i}`, text })));
await table.createIndex("text", { config: lancedb.Index.fts({ stem: true, lowercase: true, asciiFolding: true, removeStopWords: true, language: "English" }) });
const index = new KeywordIndex();
all.forEach((text, i) => index.set(`r${i}`, text));
let same = 0, sameSet = 0, total = 0, maxRel = 0;
const queries = [...all.filter((_, i) => i % 37 === 0), "running dogs", "the", "café naïve", "Müller straße", "what did Caroline do on 8 May 2023?", "\"quoted\" AND OR NOT *"];
for (const q of queries) {
  const theirs = (await table.query().fullTextSearch(new lancedb.MatchQuery(q, "text")).select(["id", "_score"]).limit(10).toArray()) as { id: string; _score: number }[];
  const ours = index.search(q, 10);
  total++;
  const a = theirs.map((r) => r.id).join(), b = ours.map((r) => r.key).join();
  const sa = theirs.map((r) => r._score.toFixed(3)).join(), sb = ours.map((r) => r.score.toFixed(3)).join();
  if (sa !== sb) console.log("SCORESEQ", JSON.stringify(q).slice(0, 100), "\n  lance", sa, "\n  ours ", sb);
  if (a === b) same++;
  else if (new Set(theirs.map((r) => r.id)).size === new Set([...theirs.map((r) => r.id), ...ours.map((r) => r.key)]).size && theirs.length === ours.length) sameSet++;
  else if (process.env.DIFF) console.log("DIFF", JSON.stringify(q).slice(0, 80), "\n  lance", theirs.map((r) => `${r.id}:${r._score.toFixed(3)}`).join(" "), "\n  ours ", ours.map((r) => `${r.key}:${r.score.toFixed(3)}`).join(" "));
  const byId = new Map(ours.map((r) => [r.key, r.score]));
  for (const r of theirs) { const o = byId.get(r.id); if (o !== undefined) { const rel = Math.abs(o - r._score) / r._score; maxRel = Math.max(maxRel, rel); if (rel > 1e-5 && process.env.SHOW) console.log("SCORE", JSON.stringify(q), r.id, JSON.stringify(all[Number(r.id.slice(1))]), r._score, o); } }
}
console.log({ total, same, sameSetOtherOrder: sameSet, maxRelScoreDiff: maxRel });

{
  const q = "spitting";
  const theirs = (await table.query().fullTextSearch(new lancedb.MatchQuery(q, "text")).select(["id", "_score", "text"]).limit(50).toArray()) as { id: string; _score: number; text: string }[];
  const ours = index.search(q, 50);
  const n = all.length; const df = ours.length;
  const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  const t = theirs.find((r) => r.id === "r37")!;
  const L = terms(t.text).length;
  // s = idf*2.2/(1+1.2*(0.25+0.75*L/avg)) -> avg
  const avgOf = (s: number) => (0.9 * L) / (idf * 2.2 / s - 1 - 0.3);
  const total = all.reduce((sum, x) => sum + terms(x).length, 0);
  console.log({ df, lanceHits: theirs.length, L, lanceAvg: avgOf(t._score), oursAvg: avgOf(ours.find((r) => r.key === "r37")!.score), oursTotal: total, lanceTotal: avgOf(t._score) * n });
}
