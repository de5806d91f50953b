/**
 * What the near-duplicate check costs an add_documents call: the same adds of 10 new documents
 * into a collection of N documents, with the check (as the tool always runs it) and without.
 *
 *   npx tsx bench/duplicate-check-cost.ts [documents=20000]
 *
 * Uses the tests' hashing embedder (64-d, no model), so the figures are the store's work only:
 * the exact-text scan (one LanceDB query per 50 new texts) and one vector search per new text.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createApp } from "../src/app.js";
import { silentLogger } from "../src/logger.js";
import { hashFactory } from "../tests/support/hash-embedder.js";

const documents = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(path.join(tmpdir(), "vmm-dupcost-"));
const app = createApp(
  {
    dbPath: path.join(dir, "db"),
    model: "test/hash-64",
    dtype: "fp32",
    modelCache: path.join(dir, "cache"),
    offline: true,
  },
  silentLogger,
  hashFactory(),
);
const text = (i: number) =>
  `memory number ${i}: the team decided to move the weekly sync to thursday afternoons`;
try {
  for (let start = 0; start < documents; start += 1000) {
    await app.memory.addDocuments(
      "c",
      Array.from({ length: Math.min(1000, documents - start) }, (_, i) => ({
        id: `d${start + i}`,
        text: text(start + i),
      })),
    );
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const time = async (check: boolean, round: number) => {
    const docs = Array.from({ length: 10 }, (_, i) => ({
      id: `n${round}-${i}`,
      text: `${text(i)} (round ${round})`,
    }));
    const started = performance.now();
    await app.memory.addDocuments(
      "c",
      docs,
      check ? { duplicates: { threshold: 0.855, onDuplicate: "add" } } : {},
    );
    return performance.now() - started;
  };
  const withCheck: number[] = [];
  const without: number[] = [];
  for (let round = 0; round < 10; round++) {
    without.push(await time(false, 2 * round));
    withCheck.push(await time(true, 2 * round + 1));
  }
  console.log(
    `add_documents of 10 new documents into ${documents}: median ${median(without).toFixed(1)} ms without the duplicate check, ${median(withCheck).toFixed(1)} ms with it (10 rounds each)`,
  );
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
