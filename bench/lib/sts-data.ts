/**
 * The STS Benchmark dev split, shared by the benchmarks that read real sentences from it.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface StsPair {
  score: number;
  first: string;
  second: string;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** `../shared/data/stsbenchmark/sts-dev.csv` beside the repository, or the file named by STS_DEV_CSV. */
export const stsDevFile: string =
  process.env.STS_DEV_CSV ?? path.resolve(repoRoot, "../shared/data/stsbenchmark/sts-dev.csv");

/**
 * Tab-separated: genre, file, year, id, score, sentence1, sentence2. Some lines carry extra fields
 * after the sentences, and sentences contain unbalanced quotes, so no quote-aware CSV parsing: split
 * on tabs and take fields 4 to 6.
 */
export function parseSts(text: string): StsPair[] {
  const pairs: StsPair[] = [];
  for (const line of text.split(/\r?\n/)) {
    const [, , , , score, first, second] = line.split("\t");
    if (score === undefined || first === undefined || second === undefined) continue;
    const value = Number.parseFloat(score);
    if (Number.isFinite(value)) pairs.push({ score: value, first, second });
  }
  return pairs;
}

/** The pairs of the dev split, or undefined (with a message on stderr) when the file is missing. */
export function readStsPairs(file: string = stsDevFile): StsPair[] | undefined {
  if (!existsSync(file)) {
    process.stderr.write(`STS data not found at ${file}; set STS_DEV_CSV to the sts-dev.csv file.\n`);
    return undefined;
  }
  return parseSts(readFileSync(file, "utf8"));
}

/** Every distinct sentence, in file order (first sentence of a pair before the second). */
export function uniqueSentences(pairs: readonly StsPair[]): string[] {
  return [...new Set(pairs.flatMap((pair) => [pair.first, pair.second]))];
}
