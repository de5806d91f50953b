/**
 * The store on s3:// (radosgw on loopback) next to the same store on a local directory: batched
 * ingest, cold start, search p50 and one-document add p50, and the object-store requests each
 * search and each add makes (counted by a relay in front of radosgw, tests/support/netns.ts).
 *
 *   set -a; . .radosgw/env; set +a; npx tsx bench/s3-bench.ts
 *
 * Settings: BENCH_ROWS (100000), BENCH_DIM (384), BENCH_QUERIES (100), BENCH_ADDS (50),
 * BENCH_ROUNDS (2: local and s3 alternate, so machine load hits both alike).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger.js";
import type { ModelRecord } from "../src/model-record.js";
import { LanceStore } from "../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../src/store/vector-store.js";
import { startRelay } from "../tests/support/netns.js";
import { findRadosgw } from "../tests/support/radosgw.js";
import { extraRows, generateDataset, generateQueries, row } from "./lib/vectors.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const DIM = Number(process.env.BENCH_DIM ?? 384);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 100);
const ADDS = Number(process.env.BENCH_ADDS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BATCH = 1000;
const model: ModelRecord = { model: "bench", dtype: "fp32", dimensions: DIM };

const radosgw = await findRadosgw();
if (!("bucket" in radosgw)) throw new Error(radosgw.reason);
const found = radosgw;
const relay = await startRelay("127.0.0.1", new URL(found.options.endpoint as string).host);
const objectStore = { ...found.options, endpoint: `http://127.0.0.1:${relay.port}` };
const dataset = generateDataset(ROWS, DIM, 42);
const queries = generateQueries(dataset, QUERIES + 10, 7);
const extra = extraRows(dataset, ADDS * ROUNDS * 2, 3);
const doc = (id: string, vector: Float32Array, i: number): ChunkToWrite => ({
  id,
  text: `memory number ${i} about topic ${i % 97}`,
  vector,
  metadata: { i, topic: `t${i % 97}` },
});

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const requestCount = () => [...relay.requests.values()].reduce((a, b) => a + b, 0);
const methods = () => Object.fromEntries(relay.requests);

interface Result {
  backend: string;
  ingestRowsPerS: number;
  coldFirstSearchMs: number;
  searchP50Ms: number;
  addP50Ms: number;
  requestsPerSearch?: number;
  requestsPerAdd?: number;
  addMethods?: Record<string, number>;
  searchMethods?: Record<string, number>;
}

const perCall = (counts: Record<string, number>, calls: number) =>
  Object.fromEntries(Object.entries(counts).map(([m, n]) => [m, Number((n / calls).toFixed(2))]));

async function run(backend: "local" | "s3", round: number): Promise<Result> {
  const dir = mkdtempSync(path.join(tmpdir(), "vmm-s3-bench-"));
  const dbPath = backend === "local" ? path.join(dir, "db") : `s3://${found.bucket}/bench-${Date.now()}`;
  const open = () => new LanceStore({ dbPath, logger: silentLogger, objectStore, compactEvery: 1e9 });
  const writer = open();
  const started = performance.now();
  for (let start = 0; start < ROWS; start += BATCH) {
    const rows: ChunkToWrite[] = [];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++)
      rows.push(doc(`d${i}`, row(dataset.data, i, DIM), i));
    await writer.upsert("bench", model, rows);
  }
  const ingestRowsPerS = ROWS / ((performance.now() - started) / 1000);
  // As a long-running server would have it: compacted once after the bulk load.
  await writer.compact("bench");
  await writer.close();

  // Cold start: a new process's store, first search (opens the table, loads the vector cache).
  const store = open();
  const cold = performance.now();
  await store.search("bench", row(queries, 0, DIM), { limit: 10 });
  const coldFirstSearchMs = performance.now() - cold;
  for (let q = 1; q < 10; q++) await store.search("bench", row(queries, q, DIM), { limit: 10 });

  const searches: number[] = [];
  relay.requests.clear();
  for (let q = 10; q < QUERIES + 10; q++) {
    const t = performance.now();
    await store.search("bench", row(queries, q, DIM), { limit: 10 });
    searches.push(performance.now() - t);
  }
  const searchRequests = requestCount();
  const searchMethods = methods();

  const adds: number[] = [];
  relay.requests.clear();
  for (let a = 0; a < ADDS; a++) {
    const i = (round * 2 + (backend === "s3" ? 1 : 0)) * ADDS + a;
    const t = performance.now();
    await store.upsert("bench", model, [doc(`new${i}`, row(extra, i, DIM), ROWS + i)]);
    adds.push(performance.now() - t);
  }
  const addRequests = requestCount();
  const addMethods = methods();
  await store.dropCollection("bench");
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    backend,
    ingestRowsPerS: Math.round(ingestRowsPerS),
    coldFirstSearchMs: Math.round(coldFirstSearchMs),
    searchP50Ms: Number(p50(searches).toFixed(2)),
    addP50Ms: Number(p50(adds).toFixed(1)),
    ...(backend === "s3"
      ? {
          requestsPerSearch: Number((searchRequests / QUERIES).toFixed(2)),
          searchMethods: perCall(searchMethods, QUERIES),
          requestsPerAdd: Number((addRequests / ADDS).toFixed(1)),
          addMethods: Object.fromEntries(
            Object.entries(addMethods).map(([m, n]) => [m, Number((n / ADDS).toFixed(1))]),
          ),
        }
      : {}),
  };
}

console.log(
  `rows ${ROWS} x ${DIM}, ${QUERIES} searches, ${ADDS} one-doc adds, load ${loadavg()[0]?.toFixed(1)}`,
);
for (let round = 0; round < ROUNDS; round++) {
  for (const backend of ["local", "s3"] as const) console.log(JSON.stringify(await run(backend, round)));
}
console.log(`load after ${loadavg()[0]?.toFixed(1)}`);
await relay.close();
