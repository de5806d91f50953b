/**
 * How long one-row writes wait while a compaction runs (issue 17), store level, for one or more
 * source trees, compaction on and off.
 *
 *   npx tsx bench/write-stalls.ts
 *   BENCH_TREES=before=/tmp/base,after=. npx tsx bench/write-stalls.ts
 *
 *   BENCH_ROWS    100000   rows in the collection before the writes (in batches of 5,000)
 *   BENCH_WRITES  400      one-row upserts, back to back, of new ids...
 *   BENCH_UPDATES 0        ...except every Nth replaces a stored row (0: none), an update that
 *                          rewrites a fragment the compaction may be merging
 *   BENCH_ROUNDS  1        runs of each (tree, compaction on/off), in turns
 *
 * "on": after the 50th write, a compaction of the collection is started in the background
 * (`LanceStore.compact`, the call the scheduler makes) while the writes go on; "off": none. The
 * scheduler's own compactions are turned off in both, so the one compaction is the same for all.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "../tests/support/harness.js";
import { quantile } from "./lib/timing.js";
import { Rng } from "./lib/vectors.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 0);
const DIM = 384;
const TREES = (process.env.BENCH_TREES ?? "this=.").split(",").map((entry) => {
  const [name, dir] = entry.split("=");
  return { name: name as string, dir: path.resolve(dir as string) };
});
const model = { model: "random", dtype: "fp32", dimensions: DIM };

interface Row {
  id: string;
  text: string;
  metadata: Record<string, number>;
  vector: Float32Array;
}
interface StoreLike {
  upsert(collection: string, m: typeof model, rows: Row[]): Promise<unknown>;
  compact(collection: string): Promise<void>;
  search(collection: string, v: Float32Array, o: { limit: number }): Promise<unknown[]>;
  close(): Promise<void>;
}

const rng = new Rng(9);
const row = (id: string): Row => ({
  id,
  text: `note ${id}`,
  metadata: { n: rng.int(100) },
  vector: Float32Array.from({ length: DIM }, () => rng.next() - 0.5),
});

async function run(treeDir: string, compaction: boolean, dbPath: string) {
  const { LanceStore } = await import(pathToFileURL(path.join(treeDir, "src/store/lancedb-store.ts")).href);
  const { silentLogger } = await import(pathToFileURL(path.join(treeDir, "src/logger.ts")).href);
  const store: StoreLike = new LanceStore({
    dbPath,
    logger: silentLogger,
    compactEvery: 1_000_000_000,
    compactIdleMs: 3_600_000,
  });
  for (let start = 0; start < ROWS; start += 5000) {
    await store.upsert(
      "c",
      model,
      Array.from({ length: Math.min(5000, ROWS - start) }, (_, i) => row(`r${start + i}`)),
    );
  }
  // The cache loaded, as in a server that searches: writes then keep it in step.
  await store.search("c", row("q").vector, { limit: 10 });
  const times: number[] = [];
  let compactMs = 0;
  let during = 0;
  let compacting: Promise<void> | undefined;
  let running = false;
  for (let i = 0; i < WRITES; i++) {
    if (compaction && i === 50) {
      const started = performance.now();
      running = true;
      compacting = store.compact("c").then(
        () => {
          compactMs = performance.now() - started;
          running = false;
        },
        (error: unknown) => {
          console.log(`compaction failed: ${String(error).slice(0, 200)}`);
          compactMs = performance.now() - started;
          running = false;
        },
      );
    }
    const id = UPDATES > 0 && i % UPDATES === UPDATES - 1 ? `r${rng.int(ROWS)}` : `w${i}`;
    const started = performance.now();
    await store.upsert("c", model, [row(id)]);
    times.push(performance.now() - started);
    if (running) during++;
  }
  await compacting;
  await store.close();
  return { times, compactMs, during };
}

async function main(): Promise<void> {
  console.log(
    `write-stalls: ${ROWS} rows, ${WRITES} one-row writes${UPDATES > 0 ? `, every ${UPDATES}th an update` : ""}, ${ROUNDS} round(s)`,
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const compaction of [true, false]) {
      for (const tree of TREES) {
        const { dir, cleanup } = tempDir("vmm-bench-stalls-");
        try {
          const { times, compactMs, during } = await run(tree.dir, compaction, path.join(dir, "db"));
          const sorted = [...times].sort((a, b) => a - b);
          console.log(
            `${tree.name.padEnd(8)} compaction ${compaction ? "on " : "off"}: one-row write p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms` +
              (compaction
                ? `; compaction ${compactMs.toFixed(0)} ms, ${during} writes finished during it`
                : ""),
          );
        } finally {
          cleanup();
        }
      }
    }
  }
}

await main();
