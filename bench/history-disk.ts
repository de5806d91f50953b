/**
 * The disk cost of keeping history (old versions for `history` / `restore`): the same writes into
 * two stores, one keeping no old versions past a compaction (as before), one with the default
 * retention (3 days, 1 GiB cap), and the bytes of each collection's directory afterwards.
 *
 *   npx tsx bench/history-disk.ts [rows=20000] [dim=384]
 *
 * Writes: `rows` new documents in batches of 100, then the same number of updates of existing
 * documents' metadata in batches of 100 (a metadata change rewrites the rows), compacting after
 * every 10 batches; random unit vectors (the size of text and vectors is what matters on disk).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger.js";
import { tableBytes } from "../src/store/lance/history.js";
import { LanceStore } from "../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../src/store/vector-store.js";

const rows = Number(process.argv[2] ?? 20_000);
const dim = Number(process.argv[3] ?? 384);
const model = { model: "bench", dtype: "fp32", dimensions: dim };

function vector(seed: number): Float32Array {
  let x = seed * 2654435761;
  const v = Float32Array.from({ length: dim }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31 - 0.5;
  });
  const n = Math.hypot(...v);
  return v.map((a) => a / n);
}

async function run(label: string, historyMs: number | undefined, historyCapBytes?: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "vmm-history-"));
  const dbPath = path.join(dir, "db");
  const store = new LanceStore({
    dbPath,
    logger: silentLogger,
    compactEvery: 1_000_000,
    ...(historyMs === undefined ? {} : { historyMs }),
    ...(historyCapBytes === undefined ? {} : { historyCapBytes }),
  });
  try {
    const batch = (start: number, round: number): ChunkToWrite[] =>
      Array.from({ length: 100 }, (_, i) => ({
        id: `d${start + i}`,
        text: `document ${start + i}: a memory of about a hundred characters, as agents tend to store them.`,
        metadata: { round },
        vector: vector(start + i),
      }));
    let batches = 0;
    for (const round of [0, 1]) {
      for (let start = 0; start < rows; start += 100) {
        await store.upsert("c", model, batch(start, round));
        if (++batches % 10 === 0) await store.compact("c");
      }
    }
    await store.compact("c");
    const stats = await store.stats("c");
    const bytes = (await tableBytes(dbPath, "c")) ?? 0;
    const versions = (await store.history("c")).length;
    console.log(
      `${label}: ${stats.chunks} rows, live data ${(stats.bytes / 1e6).toFixed(1)} MB, on disk ${(bytes / 1e6).toFixed(1)} MB (${(bytes / stats.bytes).toFixed(2)}x live), ${versions} versions kept`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`history disk cost: ${rows} documents x ${dim} dims, then ${rows} metadata updates`);
await run("no history (historyMs 0)", 0);
await run("default history (3 days, 1 GiB cap)", undefined);
await run("history with a 64 MB cap", undefined, 64 * 1024 * 1024);
