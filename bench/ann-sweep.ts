/**
 * 1M rows through our store in batches of 1,000 (ingest rate, with the cache keeping ids past its
 * budget), then compact() and the automatic vector index, then LanceDB's search-time settings
 * (ef, refine factor) on that index and store.search itself, recall@10 against an exact scan; then
 * the same with a 10% and a 1% filter (metadata g = 3 of 0..9, h = 7 of 0..99), recall against the
 * exact filtered top 10, before and after the store's BTREE indexes on the filtered columns.
 *
 *   npx tsx bench/ann-sweep.ts            (N=200000 for a smaller table; ~8 min at 1M on 2 cores)
 *   SWEEP_DIR=/tmp/sweep npx tsx bench/ann-sweep.ts
 *                                         (keeps the table there; a later run with the same N and
 *                                         SWEEP_DIR skips the ingest, compaction and index build)
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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
/** The 1% filter: h = i % 100. */
const NARROW = 7;
const narrowTruth = Array.from({ length: Q + 10 }, (_, q) =>
  exactTopKInGroup(data, N, D, queries.subarray(q * D, (q + 1) * D), 10, NARROW, 100),
);
const kept = process.env.SWEEP_DIR;
const dir = kept ?? mkdtempSync(path.join(tmpdir(), "ingest1m-"));
const reused = kept !== undefined && existsSync(path.join(dir, "bench.lance"));
const store = new LanceStore({
  dbPath: dir,
  logger: process.env.SWEEP_LOG ? createLogger("debug") : silentLogger,
});
const model = { model: "bench/synthetic", dtype: "fp32", dimensions: D };
console.log(`load average at start ${la()}`);
let started = performance.now();
if (reused) console.log(`reusing the table in ${dir}`);
else {
  let last = started;
  for (let start = 0; start < N; start += 1000) {
    await store.upsert(
      "bench",
      model,
      Array.from({ length: 1000 }, (_, i) => ({
        id: String(start + i),
        text: `document ${start + i}`,
        metadata: { g: (start + i) % GROUPS, h: (start + i) % 100 },
        vector: data.subarray((start + i) * D, (start + i + 1) * D),
      })),
    );
    if ((start + 1000) % 200_000 === 0) {
      const now = performance.now();
      console.log(
        `${start + 1000} rows: last 200k at ${(200_000 / ((now - last) / 1000)).toFixed(0)} rows/s`,
      );
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
}
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

/**
 * LanceDB's search at each [ef, refine] setting. With a third number, the filter is a postfilter:
 * LanceDB's nearest that many unfiltered, filtered, then the first 10 ("short" counts the queries
 * that got fewer than 10 that way). ef 0: no index, an exact scan of the rows the filter admits.
 */
async function sweep(
  where: string | undefined,
  wanted: Int32Array[],
  configs: ReadonlyArray<readonly [number, number, number?]>,
) {
  for (const [ef, refine, post] of configs) {
    let short = 0;
    const { p50, p95, recall } = await measure(async (vector) => {
      let query = table
        .vectorSearch(vector)
        .column("vector")
        .distanceType("cosine")
        .select(["id", "text", "metadata", "_distance"])
        .limit(post ?? 10);
      query = ef === 0 ? query.bypassVectorIndex() : query.nprobes(16).ef(ef);
      if (refine) query = query.refineFactor(refine);
      if (where) query = query.where(where);
      if (post) query = query.postfilter();
      const rows = ((await query.toArray()) as Array<{ id: string }>).slice(0, 10);
      if (rows.length < 10) short++;
      return rows;
    }, wanted);
    console.log(
      `${where ? `where ${where}, ` : ""}${ef ? `ef ${ef} refine ${refine}` : "exact"}${post ? ` postfilter of ${post}` : ""}: p50 ${p50} ms p95 ${p95} recall ${recall}${short ? ` short ${short}` : ""} load ${la()}`,
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
const filters = [
  { where: { g: GROUP }, sql: `m_g = ${GROUP}`, column: "m_g", wanted: filteredTruth },
  { where: { h: NARROW }, sql: `m_h = ${NARROW}`, column: "m_h", wanted: narrowTruth },
];
const indexed = async () => {
  await table.checkoutLatest();
  const columns = new Set((await table.listIndices()).flatMap((index) => index.columns));
  return filters.every((f) => columns.has(f.column));
};
if (!(await indexed())) {
  // Without a scalar index LanceDB's prefilter reads the column of every row; the store's first
  // filtered search of each column starts its BTREE (lance/scalar-index.ts).
  for (const f of filters) {
    await sweep(f.sql, f.wanted, [
      [16, 0],
      [128, 2],
    ]);
    await storeSearch(f.where, f.wanted);
  }
  started = performance.now();
  while (!(await indexed())) {
    if (performance.now() - started > 120_000) throw new Error("the store made no BTREE in 2 min");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log(`BTREEs on m_g and m_h after ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
for (const f of filters) {
  await sweep(f.sql, f.wanted, [
    [10, 0],
    [16, 0],
    [32, 0],
    [20, 2],
    [32, 2],
    [64, 2],
    [128, 2],
    [128, 0, 100],
    [256, 0, 200],
    [512, 0, 400],
  ]);
  await storeSearch(f.where, f.wanted);
}
await store.close();
if (!kept) rmSync(dir, { recursive: true, force: true });
