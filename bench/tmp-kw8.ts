import { readFileSync } from "node:fs";
import { KeywordIndex } from "../src/store/keyword-index.js";
const lines = readFileSync("../shared/data/stsbenchmark/sts-dev.csv", "utf8").split("\n").filter(Boolean);
const texts = [...new Set(lines.flatMap((l) => l.split("\t").slice(5, 7)))];
const loco = JSON.parse(readFileSync("../shared/data/locomo/locomo-dev.json", "utf8"));
const extra: string[] = [];
JSON.stringify(loco, (k, v) => { if ((k === "text" || k === "question") && typeof v === "string") extra.push(v); return v; });
const base = [...texts, ...extra];
const all = Array.from({ length: 100_000 }, (_, i) => `${base[i % base.length]} note ${i}`);
for (let round = 0; round < 3; round++) {
  const s = performance.now();
  const index = new KeywordIndex();
  all.forEach((t, i) => index.set(`r${i}`, t));
  const built = performance.now() - s;
  const qs = base.filter((_, i) => i % 97 === 0).slice(0, 100);
  const times: number[] = [];
  for (const q of qs) { const t = performance.now(); index.search(q, 40); times.push(performance.now() - t); }
  times.sort((a, b) => a - b);
  console.log({ rows: all.length, chars: base.reduce((s, t) => s + t.length, 0) / base.length, buildMs: built.toFixed(0), searchP50: times[50]?.toFixed(2), p95: times[95]?.toFixed(2), mb: (index.bytes / 1e6).toFixed(1), heapMb: (process.memoryUsage().heapUsed / 1e6).toFixed(0) });
}
{
  const { terms } = await import("../src/store/keyword-index.js");
  for (let r = 0; r < 3; r++) { const s = performance.now(); let n = 0; for (const t of all) n += terms(t).length; console.log("tokenise only", (performance.now() - s).toFixed(0), "ms", n); }
}
