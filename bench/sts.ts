/**
 * STS Benchmark (dev split) with the bundled use-lite model: Spearman's rank correlation between the
 * cosine similarity of each sentence pair and its human similarity score (0-5).
 *
 *   npx tsx bench/sts.ts
 *
 * Reads ../shared/data/stsbenchmark/sts-dev.csv relative to the repository root, or the file named
 * by STS_DEV_CSV.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createUseLiteEmbedder } from "../src/embeddings/use-lite.js";
import { cosine, spearman } from "./lib/stats.js";

interface StsPair {
  score: number;
  first: string;
  second: string;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataFile = process.env.STS_DEV_CSV ?? path.resolve(repoRoot, "../shared/data/stsbenchmark/sts-dev.csv");

/**
 * Tab-separated: genre, file, year, id, score, sentence1, sentence2. Some lines carry extra fields
 * after the sentences, and sentences contain unbalanced quotes, so no quote-aware CSV parsing: split
 * on tabs and take fields 4 to 6.
 */
function parseSts(text: string): StsPair[] {
  const pairs: StsPair[] = [];
  for (const line of text.split(/\r?\n/)) {
    const [, , , , score, first, second] = line.split("\t");
    if (score === undefined || first === undefined || second === undefined) continue;
    const value = Number.parseFloat(score);
    if (Number.isFinite(value)) pairs.push({ score: value, first, second });
  }
  return pairs;
}

async function main(): Promise<void> {
  if (!existsSync(dataFile)) {
    process.stderr.write(`STS data not found at ${dataFile}; set STS_DEV_CSV to the sts-dev.csv file.\n`);
    process.exitCode = 1;
    return;
  }
  const pairs = parseSts(readFileSync(dataFile, "utf8"));
  const sentences = [...new Set(pairs.flatMap((pair) => [pair.first, pair.second]))];
  const embedder = createUseLiteEmbedder();

  const started = performance.now();
  await embedder.embedQuery("load the model");
  const loaded = performance.now();
  const vectors = await embedder.embedDocuments(sentences);
  const embedded = performance.now();
  await embedder.dispose();

  const byText = new Map(sentences.map((sentence, i) => [sentence, vectors[i]]));
  const vectorOf = (sentence: string): Float32Array => {
    const vector = byText.get(sentence);
    if (!vector) throw new Error(`bug: no vector for ${JSON.stringify(sentence)}`);
    return vector;
  };
  const similarities = pairs.map((pair) => cosine(vectorOf(pair.first), vectorOf(pair.second)));
  const rho = spearman(
    similarities,
    pairs.map((pair) => pair.score),
  );

  const embedSeconds = (embedded - loaded) / 1000;
  console.log(`STS Benchmark dev, model ${embedder.id} (${dataFile})`);
  console.log(`pairs: ${pairs.length}, unique sentences: ${sentences.length}`);
  console.log(`Spearman (cosine vs human score): ${rho.toFixed(4)}`);
  console.log(`model load: ${((loaded - started) / 1000).toFixed(2)} s`);
  console.log(
    `embedding: ${embedSeconds.toFixed(2)} s (${(sentences.length / embedSeconds).toFixed(0)} sentences/s)`,
  );
  console.log(`total: ${((embedded - started) / 1000).toFixed(2)} s`);
}

await main();
