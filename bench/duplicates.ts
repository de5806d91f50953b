/**
 * Near-duplicate threshold for add_documents, measured on the STS Benchmark dev split with the
 * bundled use-lite model: the cosine of pairs humans scored 5 (same meaning) against pairs scored
 * below 3 (related at most). Prints both distributions, the rates at each threshold, and the
 * threshold chosen by the rule below.
 *
 *   npx tsx bench/duplicates.ts
 *
 * Rule: the lowest threshold at which at most 5% of the below-3 pairs would be flagged, reported
 * beside the threshold that maximises Youden's J (recall on 5s minus false-positive rate on <3s).
 * Why 5%, not 1%: some below-3 pairs differ only in a number or a name ("... 12 people" / "... 15
 * people", cosine up to 0.995), so 1% needs 0.94 and flags a quarter of true paraphrases; Youden's
 * optimum (0.82) flags one in twelve related-but-different pairs, too noisy for a warning that an
 * agent reads on every add (and in practice each new text meets its *closest* stored text, which
 * is the high tail of this distribution).
 */
import { createUseLiteEmbedder } from "../src/embeddings/use-lite.js";
import { cosine } from "./lib/stats.js";
import { readStsPairs, stsDevFile, uniqueSentences } from "./lib/sts-data.js";

const MAX_FALSE_POSITIVE = 0.05;

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

async function main(): Promise<void> {
  const pairs = readStsPairs();
  if (!pairs) {
    process.exitCode = 1;
    return;
  }
  const same = pairs.filter((p) => p.score === 5);
  const different = pairs.filter((p) => p.score < 3);
  const used = [...same, ...different];
  const sentences = uniqueSentences(used);
  const embedder = createUseLiteEmbedder();
  const started = performance.now();
  const vectors = await embedder.embedDocuments(sentences);
  const seconds = (performance.now() - started) / 1000;
  await embedder.dispose();
  const byText = new Map(sentences.map((s, i) => [s, vectors[i] as Float32Array]));
  const cos = (p: { first: string; second: string }) =>
    cosine(byText.get(p.first) as Float32Array, byText.get(p.second) as Float32Array);
  const pos = same.map(cos).sort((a, b) => a - b);
  const neg = different.map(cos).sort((a, b) => a - b);
  const identical = same.filter((p) => p.first === p.second).length;

  console.log(`Near-duplicate threshold, model ${embedder.id}, ${stsDevFile}`);
  console.log(
    `pairs scored 5: ${pos.length} (${identical} with identical text); pairs below 3: ${neg.length}`,
  );
  console.log(`embedded ${sentences.length} sentences in ${seconds.toFixed(1)} s`);
  const q = (xs: number[]) =>
    [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1].map((p) => `${p * 100}%:${quantile(xs, p).toFixed(3)}`).join(" ");
  console.log(`cosine, scored 5:  ${q(pos)}`);
  console.log(`cosine, below 3:   ${q(neg)}`);

  const rate = (xs: number[], t: number) => xs.filter((x) => x >= t).length / xs.length;
  console.log("\nthreshold | flags scored-5 (recall) | flags below-3 (false positives)");
  for (let t = 0.6; t <= 0.951; t += 0.025) {
    console.log(
      `${t.toFixed(3)} | ${(rate(pos, t) * 100).toFixed(1)}% | ${(rate(neg, t) * 100).toFixed(1)}%`,
    );
  }
  let chosen = 1;
  let youden = { t: 1, j: -1 };
  for (let t = 0.5; t <= 1.0001; t += 0.005) {
    const tpr = rate(pos, t);
    const fpr = rate(neg, t);
    if (fpr <= MAX_FALSE_POSITIVE && t < chosen) chosen = t;
    if (tpr - fpr > youden.j) youden = { t, j: tpr - fpr };
  }
  console.log(
    `\nchosen (lowest with <= ${MAX_FALSE_POSITIVE * 100}% false positives): ${chosen.toFixed(3)}: recall ${(rate(pos, chosen) * 100).toFixed(1)}%, false positives ${(rate(neg, chosen) * 100).toFixed(1)}%`,
  );
  console.log(
    `max Youden J: ${youden.t.toFixed(3)}: recall ${(rate(pos, youden.t) * 100).toFixed(1)}%, false positives ${(rate(neg, youden.t) * 100).toFixed(1)}%`,
  );
}

await main();
