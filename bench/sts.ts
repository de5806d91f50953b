/**
 * STS Benchmark (dev split) with the bundled use-lite model: Spearman's rank correlation between the
 * cosine similarity of each sentence pair and its human similarity score (0-5).
 *
 *   npx tsx bench/sts.ts
 *
 * Reads ../shared/data/stsbenchmark/sts-dev.csv relative to the repository root, or the file named
 * by STS_DEV_CSV.
 */
import { createUseLiteEmbedder } from "../src/embeddings/use-lite.js";
import { cosine, spearman } from "./lib/stats.js";
import { readStsPairs, stsDevFile, uniqueSentences } from "./lib/sts-data.js";

async function main(): Promise<void> {
  const pairs = readStsPairs();
  if (!pairs) {
    process.exitCode = 1;
    return;
  }
  const sentences = uniqueSentences(pairs);
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
  console.log(`STS Benchmark dev, model ${embedder.id} (${stsDevFile})`);
  console.log(`pairs: ${pairs.length}, unique sentences: ${sentences.length}`);
  console.log(`Spearman (cosine vs human score): ${rho.toFixed(4)}`);
  console.log(`model load: ${((loaded - started) / 1000).toFixed(2)} s`);
  console.log(
    `embedding: ${embedSeconds.toFixed(2)} s (${(sentences.length / embedSeconds).toFixed(0)} sentences/s)`,
  );
  console.log(`total: ${((embedded - started) / 1000).toFixed(2)} s`);
}

await main();
