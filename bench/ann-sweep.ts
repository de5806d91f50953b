/**
 * 1M rows through our store in batches of 1,000 (ingest rate, with the cache keeping ids past its
 * budget), then compact() and the automatic vector index, then LanceDB's search-time settings
 * (ef, refine factor) on that index and store.search itself, recall@10 against an exact scan; then
 * the same with a 10% filter (metadata g = 3 of 0..9), recall against the exact filtered top 10.
 *
 *   npx tsx bench/ann-sweep.ts            (N=200000 for a smaller table; ~8 min at 1M on 2 cores)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { parseWhere } from "../src/filter.js";
import { createLogger, silentLogger } from "../src/logger.js";
import { LanceStore } from "../src/store/lancedb-store.js";
import { exactTopK, exactTopKInGroup, GROUPS } from "./lib/peers.js";
import { generateDataset, generateQueries } from "./lib/vectors.js";

const N = Number(process.env.N ?? 1_000_000);
const D = 384;
const Q = 50;
const la = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const dataset = generateDataset(N, D, 42);
const data = dataset.data;
const queries = generateQueries(dataset, Q + 10, 42);
const truth = Array.from(
  { length: Q + 10 },
  (_, q) => exactTopK(data, N, D, queries.subarray(q * D, (q + 1) * D), 10).ids,
);
const GROUP = 3;
const filteredTruth = Array.from({ length: Q + 10 }, (_, q) =>
  exactTopKInGroup(data, N, D, queries.subarray(q * D, (q + 1) * D), 10, GROUP),
);
const dir = mkdtempSync(path.join(tmpdir(), "ingest1m-"));
const store = new LanceStore({
  dbPath: dir,
  logger: process.env.SWEEP_LOG ? createLogger("debug") : silentLogger,
});
const model = { model: "bench/synthetic", dtype: "fp32", dimensions: D };
console.log(`load average at start ${la()}`);
let started = performance.now();
let last = started;
for (let start = 0; start < N; start += 1000) {
  await store.upsert(
    "bench",
    model,
    Array.from({ length: 1000 }, (_, i) => ({
      id: String(start + i),
      text: `document ${start + i}`,
      metadata: { g: (start + i) % GROUPS },
      vector: data.subarray((start + i) * D, (start + i + 1) * D),
    })),
  );
  if ((start + 1000) % 200_000 === 0) {
    const now = performance.now();
    console.log(`${start + 1000} rows: last 200k at ${(200_000 / ((now - last) / 1000)).toFixed(0)} rows/s`);
    last = now;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `ingest ${N} rows in ${seconds.toFixed(1)} s = ${(N / seconds).toFixed(0)} rows/s; load average ${la()}`,
);
started = performance.now();
await store.compact("bench");
console.log(`compact ${((performance.now() - started) / 1000).toFixed(1)} s`);
started = performance.now();
// The build's wait for the writes to pause keeps no process alive (it is a background job): this does.
const alive = setInterval(() => {}, 1000);
await store.vectorIndexSettled("bench");
clearInterval(alive);
console.log(`index ${((performance.now() - started) / 1000).toFixed(1)} s; load ${la()}`);
// A handle of its own on the same table, for LanceDB's own searches.
const table = await (await lancedb.connect(dir)).openTable("bench");
/** Times `search` over the queries after 10 warm-up ones: p50, p95 (ms) and recall@10 against `wanted`. */
async function measure(
  search: (query: Float32Array) => Promise<Array<{ id: string }>>,
  wanted: Int32Array[],
) {
  const times: number[] = [];
  let hit = 0;
  for (let q = 0; q < Q + 10; q++) {
    const s = performance.now();
    const rows = await search(queries.subarray(q * D, (q + 1) * D));
    if (q >= 10) {
      times.push(performance.now() - s);
      const t = new Set(Array.from(wanted[q] as Int32Array));
      hit += rows.filter((r) => t.has(Number(r.id))).length;
    }
  }
  times.sort((a, b) => a - b);
  const ms = (x: number | undefined) => x?.toFixed(2);
  return {
    p50: ms(times[Q >> 1]),
    p95: ms(times[Math.floor(Q * 0.95)]),
    recall: (hit / (Q * 10)).toFixed(3),
  };
}

async function sweep(
  where: string | undefined,
  wanted: Int32Array[],
  configs: ReadonlyArray<readonly [number, number]>,
) {
  for (const [ef, refine] of configs) {
    const { p50, p95, recall } = await measure(async (vector) => {
      let query = table
        .vectorSearch(vector)
        .column("vector")
        .distanceType("cosine")
        .select(["id", "text", "metadata", "_distance"])
        .nprobes(16)
        .ef(ef)
        .limit(10);
      if (refine) query = query.refineFactor(refine);
      if (where) query = query.where(where);
      return (await query.toArray()) as Array<{ id: string }>;
    }, wanted);
    console.log(
      `${where ? `where ${where}, ` : ""}ef ${ef} refine ${refine}: p50 ${p50} ms p95 ${p95} recall ${recall} load ${la()}`,
    );
  }
}

async function storeSearch(where: Record<string, unknown> | undefined, wanted: Int32Array[]) {
  const filter = where ? parseWhere(where) : undefined;
  const { p50, recall } = await measure(
    (vector) => store.search("bench", vector, { limit: 10, ...(filter ? { where: filter } : {}) }),
    wanted,
  );
  console.log(
    `store.search${where ? ` where ${JSON.stringify(where)}` : ""}: p50 ${p50} ms recall ${recall}`,
  );
}

await sweep(undefined, truth, [
  [128, 0],
  [256, 0],
  [128, 2],
  [64, 4],
  [128, 4],
]);
await storeSearch(undefined, truth);
await sweep(`m_g = ${GROUP}`, filteredTruth, [
  [16, 0],
  [32, 0],
  [64, 0],
  [128, 0],
  [32, 2],
  [64, 2],
  [128, 2],
]);
await storeSearch({ g: GROUP }, filteredTruth);
if (process.env.SWEEP_SCALAR) {
  // A scalar index on the filtered column: LanceDB's prefilter reads it instead of the column.
  const kind = process.env.SWEEP_SCALAR;
  const s = performance.now();
  await table.createIndex("m_g", {
    config: kind === "btree" ? lancedb.Index.btree() : lancedb.Index.bitmap(),
  });
  console.log(`${kind} index on m_g built in ${((performance.now() - s) / 1000).toFixed(1)} s`);
  await sweep(`m_g = ${GROUP}`, filteredTruth, [
    [16, 0],
    [32, 0],
    [64, 2],
    [128, 2],
  ]);
  await table.checkoutLatest();
  await storeSearch({ g: GROUP }, filteredTruth);
}
await store.close();
rmSync(dir, { recursive: true, force: true });
