/**
 * Store benchmark: our LanceStore next to its peers on the same seeded data, same machine, same run.
 *
 *   npx tsx bench/store-bench.ts                 10k and 100k rows at 384 dimensions (~15 min on 2 cores)
 *   BENCH_1M=1 npx tsx bench/store-bench.ts      adds 1M rows (long; see bench/RESULTS.md)
 *
 * For each size: ingest (our upsert in batches of 1000, then one document per call), search p50/p95
 * at k=10, recall@10 against an exact scan, peak RSS and bytes on disk, for our store, a JS exact
 * scan, a WASM SIMD exact scan (an experiment: what an in-process kernel gives), raw LanceDB flat
 * and indexed, sqlite-vec and hnswlib. Then, once: 10,000 one-document
 * upserts into a fresh collection, searched as they leave it and after an explicit compaction; and,
 * at 10k, search_similar end to end through a real MCP client over stdio (dist/cli.js, use-lite).
 *
 * Each system runs in its own child process (this file with --worker), so peak RSS is its own; the
 * data is generated once (bench/lib/vectors.ts) and handed over in files. Settings (environment):
 *   BENCH_SIZES      10000,100000   rows per size         BENCH_1M        1 adds 1000000
 *   BENCH_DIM        384                                  BENCH_QUERIES   200 (timed, after 10 warm-up)
 *   BENCH_SEED       42                                   BENCH_SINGLE    1000 one-row upserts per size
 *   BENCH_ONE_DOC    10000 (0 skips)                      BENCH_E2E       1 (0 skips)
 *   BENCH_E2E_ROWS   10000                                BENCH_E2E_QUERIES 100
 *   BENCH_COMPARE    1 (0 skips the interleaved re-run of the exact searches)
 *   BENCH_PEERS      store,js,wasm,lance,sqlite-vec,hnsw  BENCH_HNSW      M,efConstruction (16,100)
 *   BENCH_PEERS_1M   the peers at 1M rows (default BENCH_PEERS)
 * Every row has metadata {g: i % 10}; each system with a filtered search also searches g = 3 (10%)
 * against the exact filtered top k ("10% filter" rows).
 *   BENCH_LANCE_INDEX ivf_hnsw_sq (or ivf_pq, or both; IVF_PQ took 450 s to build at 100k here)
 *   BENCH_JSON       write all results to this file too
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, freemem, loadavg, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { createUseLiteEmbedder } from "../src/embeddings/use-lite.js";
import { parseWhere } from "../src/filter.js";
import { silentLogger } from "../src/logger.js";
import { CHECK_EVERY, MIN_SMALL_FRAGMENTS, ROWS_PER_FRAGMENT } from "../src/store/compaction.js";
import { LanceStore } from "../src/store/lancedb-store.js";
import { DEFAULT_VECTOR_CACHE_BYTES } from "../src/store/vector-cache.js";
import { CLI, spawnServer } from "../tests/support/stdio.js";
import {
  directoryBytes,
  exactTopK,
  exactTopKInGroup,
  GROUPS,
  Hnsw,
  JsScan,
  type KnnSystem,
  type LanceIndexKind,
  type LanceIndexParams,
  RawLance,
  SqliteVec,
  WasmSimdScan,
} from "./lib/peers.js";
import { extraRows, generateDataset, generateQueries, syntheticTexts } from "./lib/vectors.js";

const K = 10;
const WARMUP = 10;
/** The filtered searches ask for the rows of this group (row i is in group i % GROUPS: 10% of them). */
const GROUP = 3;
const BATCH = 1000;
const MODEL = { model: "bench/synthetic", dtype: "fp32", dimensions: 0 };

interface Settings {
  sizes: number[];
  dim: number;
  queries: number;
  seed: number;
  single: number;
  oneDoc: number;
  e2e: boolean;
  e2eQueries: number;
  e2eRows: number;
  compare: boolean;
  peers: string[];
  /** Peers at 1M rows and more, when not all of `peers` (hnswlib builds 1M rows on one thread). */
  peers1M?: string[];
  lanceIndexes: LanceIndexKind[];
  hnsw: [number, number];
  json: string | undefined;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const list = (value: string | undefined, fallback: string) =>
    (value ?? fallback)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  const sizes = list(env.BENCH_SIZES, "10000,100000").map(Number);
  if (env.BENCH_1M === "1" && !sizes.includes(1_000_000)) sizes.push(1_000_000);
  const [m, efc] = list(env.BENCH_HNSW, "16,100").map(Number);
  return {
    sizes,
    dim: Number(env.BENCH_DIM ?? 384),
    queries: Number(env.BENCH_QUERIES ?? 200),
    seed: Number(env.BENCH_SEED ?? 42),
    single: Number(env.BENCH_SINGLE ?? 1000),
    oneDoc: Number(env.BENCH_ONE_DOC ?? 10_000),
    e2e: env.BENCH_E2E !== "0",
    e2eQueries: Number(env.BENCH_E2E_QUERIES ?? 100),
    e2eRows: Number(env.BENCH_E2E_ROWS ?? 10_000),
    compare: env.BENCH_COMPARE !== "0",
    peers: list(env.BENCH_PEERS, "store,js,wasm,lance,sqlite-vec,hnsw"),
    ...(env.BENCH_PEERS_1M ? { peers1M: list(env.BENCH_PEERS_1M, "") } : {}),
    lanceIndexes: list(env.BENCH_LANCE_INDEX, "ivf_hnsw_sq") as LanceIndexKind[],
    hnsw: [m ?? 16, efc ?? 100],
    json: env.BENCH_JSON,
  };
}

// ---------------------------------------------------------------- measurement helpers

interface Latency {
  queries: number;
  p50: number;
  p95: number;
  mean: number;
  /** CPU time of this process (all threads) per query: wall >> CPU on a single thread means contention. */
  cpuPerQuery: number;
}

interface SearchFigures extends Latency {
  recall: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[at] as number;
}

function summarise(times: number[], cpuMs: number): Latency {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    queries: times.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    cpuPerQuery: cpuMs / Math.max(1, times.length),
  };
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * Runs every variant on every input, in turns (the first of each turn rotating), after a warm-up
 * on the first inputs; so load from other processes, which comes and goes on a shared machine,
 * lands on all variants alike. Wall and CPU time are taken per call.
 */
async function interleaved<Name extends string, Input, Output>(
  variants: Record<Name, (input: Input) => Promise<Output>>,
  inputs: readonly Input[],
): Promise<Record<Name, { latency: Latency; outputs: Output[] }>> {
  const names = Object.keys(variants) as Name[];
  for (const input of inputs.slice(0, WARMUP)) for (const name of names) await variants[name](input);
  const wall = names.map(() => [] as number[]);
  const cpu = names.map(() => 0);
  const outputs = names.map(() => [] as Output[]);
  for (const [index, input] of inputs.entries()) {
    for (let turn = 0; turn < names.length; turn++) {
      const which = (index + turn) % names.length;
      const cpuStarted = process.cpuUsage();
      const started = performance.now();
      const output = await variants[names[which] as Name](input);
      wall[which]?.push(performance.now() - started);
      cpu[which] = (cpu[which] ?? 0) + cpuMs(cpuStarted);
      outputs[which]?.push(output);
    }
  }
  return Object.fromEntries(
    names.map((name, which) => [
      name,
      { latency: summarise(wall[which] ?? [], cpu[which] ?? 0), outputs: outputs[which] ?? [] },
    ]),
  ) as Record<Name, { latency: Latency; outputs: Output[] }>;
}

function queryList(queries: Float32Array, dim: number): Float32Array[] {
  return Array.from({ length: queries.length / dim }, (_, q) => queries.subarray(q * dim, (q + 1) * dim));
}

function recall(outputs: ArrayLike<number>[], truth: Int32Array): number {
  let hits = 0;
  for (const [q, ids] of outputs.entries()) hits += overlap(ids, truth.subarray(q * K, (q + 1) * K));
  return hits / (outputs.length * K);
}

/** Several searches over the same data, interleaved query by query; recall@k against the exact ids. */
async function compareSearches<Name extends string>(
  searches: Record<Name, (query: Float32Array) => Promise<ArrayLike<number>>>,
  queries: Float32Array,
  truth: Int32Array,
  dim: number,
): Promise<Record<Name, SearchFigures>> {
  const results = await interleaved(searches, queryList(queries, dim));
  const figures = {} as Record<Name, SearchFigures>;
  for (const name of Object.keys(results) as Name[]) {
    const { latency, outputs } = results[name];
    figures[name] = { ...latency, recall: recall(outputs, truth) };
  }
  return figures;
}

/** Warm-up on the first queries, then every query timed; recall@k against the exact ids. */
async function measureSearch(
  search: (query: Float32Array) => Promise<ArrayLike<number>>,
  queries: Float32Array,
  truth: Int32Array,
  dim: number,
): Promise<SearchFigures> {
  return (await compareSearches({ only: search }, queries, truth, dim)).only;
}

function overlap(found: ArrayLike<number>, truth: Int32Array): number {
  const want = new Set(truth);
  let hits = 0;
  for (let i = 0; i < Math.min(found.length, K); i++) if (want.has(found[i] as number)) hits++;
  return hits;
}

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

// ---------------------------------------------------------------- data files

interface Prepared {
  dir: string;
  rows: number;
  dim: number;
  clusters: number;
  queries: number;
  extra: number;
  /** Mean cosine of each query to its 1st and 10th exact neighbour, and of random pairs. */
  similarity: { top1: number; top10: number; randomPair: number };
  seconds: { generate: number; truth: number };
}

/** Reads straight into the array's own memory: no second copy to inflate the worker's baseline RSS. */
function readInto<T extends Float32Array | Int32Array>(file: string, make: (length: number) => T): T {
  const fd = openSync(file, "r");
  try {
    const array = make(fstatSync(fd).size / 4);
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let at = 0; at < bytes.length; ) at += readSync(fd, bytes, at, bytes.length - at, at);
    return array;
  } finally {
    closeSync(fd);
  }
}

function writeArray(file: string, array: Float32Array | Int32Array): void {
  writeFileSync(file, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
}

function prepare(root: string, rows: number, settings: Settings, extra: number): Prepared {
  const dir = path.join(root, `data-${rows}`);
  mkdirSync(dir, { recursive: true });
  const { dim, seed } = settings;
  let started = performance.now();
  const dataset = generateDataset(rows, dim, seed);
  const queries = generateQueries(dataset, settings.queries, seed);
  const more = extraRows(dataset, extra, 1);
  const generate = (performance.now() - started) / 1000;
  started = performance.now();
  const truth = new Int32Array(settings.queries * K);
  let top1 = 0;
  let top10 = 0;
  for (let q = 0; q < settings.queries; q++) {
    const exact = exactTopK(dataset.data, rows, dim, queries.subarray(q * dim, (q + 1) * dim), K);
    truth.set(exact.ids, q * K);
    top1 += exact.scores[0] as number;
    top10 += exact.scores[K - 1] as number;
  }
  const truthGroup = new Int32Array(settings.queries * K);
  for (let q = 0; q < settings.queries; q++)
    truthGroup.set(
      exactTopKInGroup(dataset.data, rows, dim, queries.subarray(q * dim, (q + 1) * dim), K, GROUP),
      q * K,
    );
  const truthSeconds = (performance.now() - started) / 1000;
  let randomPair = 0;
  for (let p = 0; p < 2000; p++) {
    const a = (p * 7919) % rows;
    const b = (p * 104_729 + 13) % rows;
    let dot = 0;
    for (let j = 0; j < dim; j++)
      dot += (dataset.data[a * dim + j] as number) * (dataset.data[b * dim + j] as number);
    randomPair += dot;
  }
  writeArray(path.join(dir, "data.f32"), dataset.data);
  writeArray(path.join(dir, "queries.f32"), queries);
  writeArray(path.join(dir, "truth.i32"), truth);
  writeArray(path.join(dir, "truth-group.i32"), truthGroup);
  writeArray(path.join(dir, "extra.f32"), more);
  return {
    dir,
    rows,
    dim,
    clusters: dataset.mixture.description.clusters,
    queries: settings.queries,
    extra,
    similarity: {
      top1: top1 / settings.queries,
      top10: top10 / settings.queries,
      randomPair: randomPair / 2000,
    },
    seconds: { generate, truth: truthSeconds },
  };
}

interface Loaded {
  data: Float32Array;
  queries: Float32Array;
  truth: Int32Array;
  /** The exact top k among the rows of GROUP (the 10% filter). */
  truthGroup: Int32Array;
  extra: Float32Array;
}

function load(dir: string): Loaded {
  return {
    data: readInto(path.join(dir, "data.f32"), (n) => new Float32Array(n)),
    queries: readInto(path.join(dir, "queries.f32"), (n) => new Float32Array(n)),
    truth: readInto(path.join(dir, "truth.i32"), (n) => new Int32Array(n)),
    truthGroup: readInto(path.join(dir, "truth-group.i32"), (n) => new Int32Array(n)),
    extra: readInto(path.join(dir, "extra.f32"), (n) => new Float32Array(n)),
  };
}

// ---------------------------------------------------------------- workers

interface Task {
  kind: "store" | "js" | "wasm" | "lance" | "sqlite-vec" | "hnsw" | "compare" | "onedoc" | "e2e";
  dataDir: string;
  workDir: string;
  rows: number;
  dim: number;
  settings: Settings;
}

interface SystemResult {
  system: string;
  params: string;
  ingest?: { rows: number; seconds: number; rowsPerSecond: number; what: string };
  build?: Record<string, number>;
  search?: SearchFigures;
  disk?: number;
}

interface WorkerResult {
  kind: Task["kind"];
  rows: number;
  systems: SystemResult[];
  extra?: Record<string, unknown>;
  rss: { baselineMb: number; peakMb: number };
  loadavg: { start: number; end: number };
  seconds: number;
}

async function runWorker(task: Task): Promise<WorkerResult> {
  const started = performance.now();
  const loadStart = loadavg()[0] as number;
  const log = (message: string) => process.stderr.write(`  [${task.kind} ${task.rows}] ${message}\n`);
  const data = task.kind === "e2e" ? undefined : load(task.dataDir);
  const baselineMb = rssMb();
  let systems: SystemResult[] = [];
  let extra: Record<string, unknown> | undefined;
  switch (task.kind) {
    case "store":
      ({ systems, extra } = await storeWorker(task, data as Loaded, log));
      break;
    case "onedoc":
      ({ systems, extra } = await oneDocWorker(task, data as Loaded, log));
      break;
    case "e2e":
      ({ systems, extra } = await e2eWorker(task, log));
      break;
    case "lance":
      systems = await lanceWorker(task, data as Loaded, log);
      break;
    case "js":
      systems = [await peerWorker(new JsScan(), task, data as Loaded, log)];
      break;
    case "wasm":
      systems = [await peerWorker(new WasmSimdScan(), task, data as Loaded, log)];
      break;
    case "compare":
      systems = await compareWorker(task, data as Loaded, log);
      break;
    case "sqlite-vec": {
      const sqlite = new SqliteVec(path.join(task.workDir, "vec.sqlite"));
      systems = [
        await peerWorker(sqlite, task, data as Loaded, log, true),
        ...(await filteredRow(sqlite, task, data as Loaded, log)),
      ];
      await sqlite.close();
      break;
    }
    case "hnsw":
      systems = await hnswWorker(task, data as Loaded, log);
      break;
  }
  return {
    kind: task.kind,
    rows: task.rows,
    systems,
    ...(extra ? { extra } : {}),
    rss: { baselineMb, peakMb: peakRssMb() },
    loadavg: { start: loadStart, end: loadavg()[0] as number },
    seconds: (performance.now() - started) / 1000,
  };
}

function documents(vectors: Float32Array, dim: number, from: number, count: number, prefix = "") {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${from + i}`,
    text: `document ${prefix}${from + i}`,
    // The group of the filtered searches (row i in group i % GROUPS); extra rows ("x") too.
    metadata: { g: (from + i) % GROUPS },
    vector: vectors.subarray((from + i) * dim, (from + i + 1) * dim),
  }));
}

/** Our store: batched ingest, search, then one-row upserts into the loaded collection. */
async function storeWorker(
  task: Task,
  loaded: Loaded,
  log: (m: string) => void,
): Promise<{ systems: SystemResult[]; extra: Record<string, unknown> }> {
  const { data, queries, truth, extra: more } = loaded;
  const dbPath = path.join(task.workDir, "store");
  const store = new LanceStore({ dbPath, logger: silentLogger });
  const model = { ...MODEL, dimensions: task.dim };
  const name = "bench";
  let started = performance.now();
  for (let start = 0; start < task.rows; start += BATCH) {
    await store.upsert(name, model, documents(data, task.dim, start, Math.min(BATCH, task.rows - start)));
  }
  const ingestSeconds = (performance.now() - started) / 1000;
  log(`ingest ${ingestSeconds.toFixed(1)} s`);
  const beforeCompaction = await store.stats(name);
  started = performance.now();
  // Waits for a background compaction in flight (same lock), then compacts what is left.
  await store.compact(name);
  const compactSeconds = (performance.now() - started) / 1000;
  // Above ANN_MIN_ROWS that compaction started a vector index build in the background.
  started = performance.now();
  await store.vectorIndexSettled(name);
  const indexSeconds = (performance.now() - started) / 1000;
  const cached = task.rows * Math.ceil(task.dim / 16) * 16 * 4 <= DEFAULT_VECTOR_CACHE_BYTES;
  log(`index wait ${indexSeconds.toFixed(1)} s; ${cached ? "vector cache" : "too big for the vector cache"}`);
  const search = await measureSearch(
    async (q) => (await store.search(name, q, { limit: K })).map((hit) => Number(hit.id)),
    queries,
    truth,
    task.dim,
  );
  log(`search p50 ${search.p50.toFixed(2)} ms`);
  const where = parseWhere({ g: GROUP });
  const filtered = await measureSearch(
    async (q) => (await store.search(name, q, { limit: K, where })).map((hit) => Number(hit.id)),
    queries,
    loaded.truthGroup,
    task.dim,
  );
  log(`filtered search p50 ${filtered.p50.toFixed(2)} ms, recall ${filtered.recall.toFixed(3)}`);
  const disk = directoryBytes(dbPath);
  const stats = await store.stats(name);

  const perCall: number[] = [];
  const singleCount = Math.min(task.settings.single, more.length / task.dim);
  started = performance.now();
  for (let i = 0; i < singleCount; i++) {
    const callStarted = performance.now();
    await store.upsert(name, model, documents(more, task.dim, i, 1, "x"));
    perCall.push(performance.now() - callStarted);
  }
  const singleSeconds = (performance.now() - started) / 1000;
  log(`${singleCount} single upserts ${singleSeconds.toFixed(1)} s`);
  await store.close();
  const single = summarise(perCall, 0);
  return {
    systems: [
      {
        system: "our LanceStore",
        params: `store.search, cosine, ${cached ? "exact (vector cache, WASM SIMD scan)" : `LanceDB IVF_HNSW_SQ built automatically (${indexSeconds.toFixed(0)} s after compact)`}, after compact() (${compactSeconds.toFixed(1)} s)`,
        ingest: {
          rows: task.rows,
          seconds: ingestSeconds,
          rowsPerSecond: task.rows / ingestSeconds,
          what: `upsert, ${BATCH} rows per call`,
        },
        search,
        disk,
      },
      {
        system: "our LanceStore, 10% filter",
        params: `store.search with where {g: ${GROUP}} (${cached ? "masked scan of the vector cache" : "LanceDB's prefiltered search on the index"}); recall against the exact filtered top k`,
        search: filtered,
      },
    ],
    extra: {
      compactSeconds,
      fragmentsBeforeCompaction: beforeCompaction.fragments,
      fragments: stats.fragments,
      liveBytes: stats.bytes,
      single: {
        rows: singleCount,
        seconds: singleSeconds,
        rowsPerSecond: singleCount > 0 ? singleCount / singleSeconds : 0,
        p50: single.p50,
        p95: single.p95,
        max: Math.max(...perCall),
      },
    },
  };
}

/** Loads and searches one system; `keepOpen` leaves it open for more runs by the caller. */
async function peerWorker(
  system: KnnSystem,
  task: Task,
  { data, queries, truth }: Loaded,
  log: (m: string) => void,
  keepOpen = false,
): Promise<SystemResult> {
  const started = performance.now();
  const build = await system.load(data, task.rows, task.dim);
  const loadSeconds = (performance.now() - started) / 1000;
  log(`loaded in ${loadSeconds.toFixed(1)} s`);
  const search = await measureSearch((q) => system.search(q, K), queries, truth, task.dim);
  log(`search p50 ${search.p50.toFixed(2)} ms, recall ${search.recall.toFixed(3)}`);
  const disk = system.diskBytes();
  if (!keepOpen) await system.close();
  const ingestSeconds = build.ingestSeconds;
  return {
    system: system.name,
    params: system.params,
    ...(ingestSeconds !== undefined
      ? {
          ingest: {
            rows: task.rows,
            seconds: ingestSeconds,
            rowsPerSecond: task.rows / ingestSeconds,
            what: `${BATCH} rows per batch`,
          },
        }
      : {}),
    build: { ...build, loadSeconds },
    search,
    ...(disk !== undefined ? { disk } : {}),
  };
}

/** The system's own filtered search for the rows of GROUP (10%), as a row of its own; none without one. */
async function filteredRow(
  system: KnnSystem,
  task: Task,
  loaded: Loaded,
  log: (m: string) => void,
): Promise<SystemResult[]> {
  const searchGroup = system.searchGroup?.bind(system);
  if (!searchGroup) return [];
  const search = await measureSearch(
    (q) => searchGroup(q, K, GROUP),
    loaded.queries,
    loaded.truthGroup,
    task.dim,
  );
  log(`${system.name} 10% filter: p50 ${search.p50.toFixed(2)} ms, recall ${search.recall.toFixed(3)}`);
  return [
    {
      system: `${system.name}, 10% filter`,
      params: `${system.params}; its filtered search, g = ${GROUP}`,
      search,
    },
  ];
}

function lanceIndexSettings(kind: LanceIndexKind, rows: number, dim: number): LanceIndexParams[] {
  if (kind === "ivf_pq") {
    const numPartitions = Math.max(1, Math.round(Math.sqrt(rows)));
    const base = { kind, numPartitions, numSubVectors: dim / 8 };
    return [
      { ...base, nprobes: 20, refineFactor: 10 },
      { ...base, nprobes: 50, refineFactor: 10 },
    ];
  }
  // hnswlib's build settings, so the two HNSW peers differ in implementation, not in parameters.
  const numPartitions = Math.max(1, Math.round(rows / 250_000));
  const base = { kind, numPartitions, m: 16, efConstruction: 100 };
  return [
    { ...base, nprobes: numPartitions, ef: 64 },
    { ...base, nprobes: numPartitions, ef: 128 },
  ];
}

/**
 * The exact searches again, all loaded in one process and run in turns query by query: the
 * separate workers above run one after another, and on a shared machine the load changes between
 * them; here every system sees the same load, so the ratios are fair (RSS is not separable here).
 */
async function compareWorker(task: Task, loaded: Loaded, log: (m: string) => void): Promise<SystemResult[]> {
  const store = new LanceStore({ dbPath: path.join(task.workDir, "store"), logger: silentLogger });
  const model = { ...MODEL, dimensions: task.dim };
  for (let start = 0; start < task.rows; start += BATCH) {
    await store.upsert(
      "bench",
      model,
      documents(loaded.data, task.dim, start, Math.min(BATCH, task.rows - start)),
    );
  }
  await store.compact("bench");
  const peers = {
    lance: new RawLance(path.join(task.workDir, "lance")),
    js: new JsScan(),
    wasm: new WasmSimdScan(),
    sqlite: new SqliteVec(path.join(task.workDir, "vec.sqlite")),
  };
  for (const peer of Object.values(peers)) await peer.load(loaded.data, task.rows, task.dim);
  log("loaded; searching in turns");
  const figures = await compareSearches(
    {
      store: async (q: Float32Array) =>
        (await store.search("bench", q, { limit: K })).map((hit) => Number(hit.id)),
      lance: (q: Float32Array) => peers.lance.search(q, K),
      js: (q: Float32Array) => peers.js.search(q, K),
      wasm: (q: Float32Array) => peers.wasm.search(q, K),
      sqlite: (q: Float32Array) => peers.sqlite.search(q, K),
    },
    loaded.queries,
    loaded.truth,
    task.dim,
  );
  await store.close();
  for (const peer of Object.values(peers)) await peer.close();
  return [
    { system: "our LanceStore", params: "store.search after compact()", search: figures.store },
    { system: peers.lance.name, params: peers.lance.params, search: figures.lance },
    { system: peers.js.name, params: peers.js.params, search: figures.js },
    { system: peers.wasm.name, params: peers.wasm.params, search: figures.wasm },
    { system: peers.sqlite.name, params: peers.sqlite.params, search: figures.sqlite },
  ];
}

/** Raw LanceDB: flat search on a compacted (id, vector) table, then each index kind with a small sweep. */
async function lanceWorker(task: Task, loaded: Loaded, log: (m: string) => void): Promise<SystemResult[]> {
  const lance = new RawLance(path.join(task.workDir, "lance"));
  const results = [await peerWorker(lance, task, loaded, log, true)];
  results.push(...(await filteredRow(lance, task, loaded, log)));
  for (const kind of task.settings.lanceIndexes) {
    const [first, ...rest] = lanceIndexSettings(kind, task.rows, task.dim);
    if (!first) continue;
    log(`building ${kind}`);
    const buildSeconds = await lance.buildIndex(first);
    log(`${kind} built in ${buildSeconds.toFixed(1)} s`);
    for (const params of [first, ...rest]) {
      lance.tune(params);
      const search = await measureSearch((q) => lance.search(q, K), loaded.queries, loaded.truth, task.dim);
      log(`${lance.params}: p50 ${search.p50.toFixed(2)} ms recall ${search.recall.toFixed(3)}`);
      results.push({
        system: lance.name,
        params: lance.params,
        build: { buildSeconds },
        search,
        disk: lance.diskBytes(),
      });
      results.push(...(await filteredRow(lance, task, loaded, log)));
    }
  }
  await lance.close();
  // Ingest only: the same Arrow batches written as upserts, to split our ingest cost into
  // LanceDB's mergeInsert and our own record building.
  const merged = new RawLance(path.join(task.workDir, "lance-merge"), BATCH, true);
  const mergeStarted = performance.now();
  const { ingestSeconds = Number.NaN } = await merged.load(loaded.data, task.rows, task.dim);
  log(`mergeInsert ingest ${ingestSeconds.toFixed(1)} s`);
  results.push({
    system: "LanceDB mergeInsert (raw), ingest only",
    params: `mergeInsert("id") of Arrow batches, ${BATCH} rows per call`,
    ingest: {
      rows: task.rows,
      seconds: ingestSeconds,
      rowsPerSecond: task.rows / ingestSeconds,
      what: `${BATCH} rows per batch`,
    },
    build: { loadSeconds: (performance.now() - mergeStarted) / 1000 },
  });
  await merged.close();
  return results;
}

async function hnswWorker(task: Task, loaded: Loaded, log: (m: string) => void): Promise<SystemResult[]> {
  const [m, efConstruction] = task.settings.hnsw;
  const hnsw = new Hnsw(path.join(task.workDir, "hnsw.bin"), m, efConstruction, 32);
  const results = [await peerWorker(hnsw, task, loaded, log, true)];
  for (const ef of [64, 128]) {
    hnsw.setEf(ef);
    const search = await measureSearch((q) => hnsw.search(q, K), loaded.queries, loaded.truth, task.dim);
    log(`${hnsw.params}: p50 ${search.p50.toFixed(3)} ms recall ${search.recall.toFixed(3)}`);
    results.push({
      system: hnsw.name,
      params: hnsw.params,
      build: results[0]?.build ?? {},
      search,
      disk: hnsw.diskBytes(),
    });
    results.push(...(await filteredRow(hnsw, task, loaded, log)));
  }
  return results;
}

/**
 * A fresh collection filled one document per call, as an agent fills its memory. The 10,000th write
 * triggers an automatic compaction, so after it has finished, 49 more one-document writes replace
 * existing documents with themselves: the least compacted state between two automatic compactions,
 * same rows. That directory is copied and the copy compacted explicitly; then both are searched,
 * query by query in turns.
 */
async function oneDocWorker(
  task: Task,
  { data, queries, truth }: Loaded,
  log: (m: string) => void,
): Promise<{ systems: SystemResult[]; extra: Record<string, unknown> }> {
  const leftPath = path.join(task.workDir, "onedoc");
  const model = { ...MODEL, dimensions: task.dim };
  const name = "onedoc";
  let store = new LanceStore({ dbPath: leftPath, logger: silentLogger });
  const perCall: number[] = [];
  const started = performance.now();
  for (let i = 0; i < task.rows; i++) {
    const callStarted = performance.now();
    await store.upsert(name, model, documents(data, task.dim, i, 1));
    perCall.push(performance.now() - callStarted);
    if ((i + 1) % 2000 === 0) log(`${i + 1} one-document upserts`);
  }
  const ingestSeconds = (performance.now() - started) / 1000;
  // close() waits for the compaction the last write may have started.
  await store.close();
  store = new LanceStore({ dbPath: leftPath, logger: silentLogger });
  // The most small fragments the policy lets pile up: one short of due, plus writes until the next check.
  const rewrites = Math.min(
    Math.max(MIN_SMALL_FRAGMENTS, Math.ceil(task.rows / ROWS_PER_FRAGMENT)) + CHECK_EVERY - 2,
    task.rows,
  );
  for (let i = 0; i < rewrites; i++) await store.upsert(name, model, documents(data, task.dim, i, 1));
  const statsAsLeft = await store.stats(name);
  const diskAsLeft = directoryBytes(leftPath);

  const compactedPath = path.join(task.workDir, "compacted");
  cpSync(leftPath, compactedPath, { recursive: true });
  const compactedStore = new LanceStore({ dbPath: compactedPath, logger: silentLogger });
  const compactStarted = performance.now();
  await compactedStore.compact(name);
  const compactSeconds = (performance.now() - compactStarted) / 1000;
  const statsCompacted = await compactedStore.stats(name);
  const diskCompacted = directoryBytes(compactedPath);

  const searchOf = (s: LanceStore) => (q: Float32Array) =>
    s.search(name, q, { limit: K }).then((hits) => hits.map((hit) => Number(hit.id)));
  const figures = await compareSearches(
    { asLeft: searchOf(store), compacted: searchOf(compactedStore) },
    queries,
    truth,
    task.dim,
  );
  log(`as left p50 ${figures.asLeft.p50.toFixed(2)} ms, compacted ${figures.compacted.p50.toFixed(2)} ms`);
  await store.close();
  await compactedStore.close();
  // The smallest this collection can be: old versions removed now, not after the store's grace period.
  const db = await lancedb.connect(compactedPath);
  const table = await db.openTable(name);
  await table.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
  table.close();
  db.close();
  const diskMinimal = directoryBytes(compactedPath);
  const calls = summarise(perCall, 0);
  return {
    systems: [
      {
        system: "our LanceStore, after one-document upserts",
        params: `${task.rows} adds + ${rewrites} rewrites, 1 row per call, automatic compaction when due (checked every ${CHECK_EVERY} writes)`,
        ingest: {
          rows: task.rows,
          seconds: ingestSeconds,
          rowsPerSecond: task.rows / ingestSeconds,
          what: "upsert, 1 row per call",
        },
        search: figures.asLeft,
        disk: diskAsLeft,
      },
      {
        system: "our LanceStore, same after compact()",
        params: "store.compact() on a copy",
        build: { compactSeconds },
        search: figures.compacted,
        disk: diskCompacted,
      },
    ],
    extra: {
      calls: { p50: calls.p50, p95: calls.p95, max: Math.max(...perCall) },
      rewrites,
      statsAsLeft,
      statsCompacted,
      diskMinimal,
    },
  };
}

/**
 * search_similar through a real MCP client over stdio, on a collection filled through add_documents
 * with short synthetic notes (use-lite, 512 dimensions). The query embedding is timed on its own
 * (same embedder, same queries, in this process after the server has exited), and so is the store
 * search on the same database with those vectors: total = embedding + store + the rest (MCP, tool).
 */
async function e2eWorker(
  task: Task,
  log: (m: string) => void,
): Promise<{ systems: SystemResult[]; extra: Record<string, unknown> }> {
  const dbPath = path.join(task.workDir, "e2e");
  const texts = syntheticTexts(task.rows, task.settings.seed);
  const queryTexts = syntheticTexts(task.settings.e2eQueries, task.settings.seed + 1).map((t) =>
    t.replace(/ \(note \d+\)$/, ""),
  );
  const server = await spawnServer(["--model", "use-lite", "--offline", "--db-path", dbPath]);
  const collection = "notes";
  const started = performance.now();
  for (let start = 0; start < texts.length; start += BATCH) {
    const result = await server.call("add_documents", {
      collection,
      documents: texts.slice(start, start + BATCH).map((text, i) => ({ id: `n${start + i}`, text })),
    });
    if (result.isError) throw new Error(`add_documents failed: ${JSON.stringify(result.content)}`);
  }
  const addSeconds = (performance.now() - started) / 1000;
  log(`added ${texts.length} texts in ${addSeconds.toFixed(1)} s`);
  // The embedder and a second store on the same directory run in this process, in turns with the
  // tool calls (never at the same time), so all four parts see the same background load.
  const embedder = createUseLiteEmbedder();
  const store = new LanceStore({ dbPath, logger: silentLogger });
  const vectors = new Map<string, Float32Array>();
  for (const query of queryTexts) vectors.set(query, await embedder.embedQuery(query));
  const tool = (mode: "semantic" | "hybrid") => async (query: string) => {
    const result = await server.call("search_similar", { collection, query, n_results: K, mode });
    if (result.isError) throw new Error(`search_similar failed: ${JSON.stringify(result.content)}`);
  };
  const parts = await interleaved<"semantic" | "hybrid" | "embed" | "store", string, unknown>(
    {
      semantic: tool("semantic"),
      hybrid: tool("hybrid"),
      embed: (query: string) => embedder.embedQuery(query),
      store: (query: string) => store.search(collection, vectors.get(query) as Float32Array, { limit: K }),
    },
    queryTexts,
  );
  await server.close();
  const stats = await store.stats(collection);
  await store.close();
  return {
    systems: [],
    extra: {
      addSeconds,
      semantic: parts.semantic.latency,
      hybrid: parts.hybrid.latency,
      embed: parts.embed.latency,
      store: parts.store.latency,
      fragments: stats.fragments,
      disk: directoryBytes(dbPath),
    },
  };
}

// ---------------------------------------------------------------- orchestration

const SELF = fileURLToPath(import.meta.url);

function spawnWorker(task: Task): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF, "--worker", JSON.stringify(task)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) reject(new Error(`worker ${task.kind} ${task.rows} exited ${code}`));
      else resolve(JSON.parse(line.slice("RESULT ".length)) as WorkerResult);
    });
  });
}

interface Bandwidth {
  bytes: number;
  sumPassGBs: number;
  memcmpGBs: number;
}

/**
 * Read bandwidth of this machine for the exact-search bound: one sequential pass summing a
 * Float32Array (the issue's measure; what a JS kernel can stream), and memcmp over two equal
 * buffers (Buffer.compare: glibc's SIMD loop, closer to what the memory system gives native code).
 * Best of five each.
 */
function measureBandwidth(rows: number, dim: number): Bandwidth {
  const floats = new Float32Array(rows * dim);
  for (let i = 0; i < floats.length; i++) floats[i] = (i % 1000) / 1000;
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let rep = 0; rep < 5; rep++) {
    const started = performance.now();
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let i = 0; i < floats.length; i += 4) {
      a0 += floats[i] as number;
      a1 += floats[i + 1] as number;
      a2 += floats[i + 2] as number;
      a3 += floats[i + 3] as number;
    }
    best = Math.min(best, performance.now() - started);
    sink += a0 + a1 + a2 + a3;
  }
  const a = Buffer.from(floats.buffer);
  const b = Buffer.from(a);
  let bestCmp = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 5; rep++) {
    const started = performance.now();
    sink += Buffer.compare(a, b);
    bestCmp = Math.min(bestCmp, performance.now() - started);
  }
  if (sink === Number.NEGATIVE_INFINITY) process.stderr.write("");
  return {
    bytes: floats.byteLength,
    sumPassGBs: floats.byteLength / (best / 1000) / 1e9,
    memcmpGBs: (2 * a.byteLength) / (bestCmp / 1000) / 1e9,
  };
}

const fmt = {
  ms: (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? "–" : v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1),
  rate: (v: number | undefined) => (v === undefined ? "–" : Math.round(v).toLocaleString("en-US")),
  mb: (bytes: number | undefined) => (bytes === undefined ? "–" : (bytes / 2 ** 20).toFixed(1)),
  s: (v: number | undefined) => (v === undefined ? "–" : v.toFixed(1)),
  x: (v: number) => (Number.isFinite(v) ? (v >= 10 ? v.toFixed(0) : v.toFixed(2)) : "–"),
};

function exactTable(result: WorkerResult, out: (line: string) => void): void {
  const [ours, lanceFlat, js] = result.systems.map((s) => s.search?.p50 ?? Number.NaN);
  out(
    "| System | p50 ms | p95 ms | CPU ms/q | Recall@10 | Speed vs ours | Speed vs LanceDB flat | Speed vs JS scan |",
  );
  out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const system of result.systems) {
    const search = system.search;
    if (!search) continue;
    out(
      `| ${system.system} | ${fmt.ms(search.p50)} | ${fmt.ms(search.p95)} | ${fmt.ms(search.cpuPerQuery)} | ${search.recall.toFixed(3)} | ${fmt.x((ours ?? Number.NaN) / search.p50)} | ${fmt.x((lanceFlat ?? Number.NaN) / search.p50)} | ${fmt.x((js ?? Number.NaN) / search.p50)} |`,
    );
  }
}

function sizeTable(results: WorkerResult[], out: (line: string) => void): void {
  const rows = results.flatMap((w) => w.systems.map((s) => ({ worker: w, system: s })));
  const ours = rows.find((r) => r.worker.kind === "store")?.system.search?.p50;
  const js = rows.find((r) => r.worker.kind === "js")?.system.search?.p50;
  out(
    "| System | Parameters | Ingest rows/s | Build s | p50 ms | p95 ms | CPU ms/q | Recall@10 | Speed vs ours | Speed vs JS scan | Peak RSS MB (data alone) | Disk MB |",
  );
  out("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const { worker, system } of rows) {
    const search = system.search;
    const build = system.build?.buildSeconds ?? system.build?.compactSeconds;
    out(
      `| ${system.system} | ${system.params} | ${fmt.rate(system.ingest?.rowsPerSecond)} | ${fmt.s(build)} | ${fmt.ms(search?.p50)} | ${fmt.ms(search?.p95)} | ${fmt.ms(search?.cpuPerQuery)} | ${search ? search.recall.toFixed(3) : "–"} | ${ours && search ? fmt.x(ours / search.p50) : "–"} | ${js && search ? fmt.x(js / search.p50) : "–"} | ${worker.rss.peakMb.toFixed(0)} (${worker.rss.baselineMb.toFixed(0)}) | ${fmt.mb(system.disk)} |`,
    );
  }
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const started = performance.now();
  const root = mkdtempSync(path.join(tmpdir(), "vmm-store-bench-"));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const all: Record<string, unknown> = { settings, date: new Date().toISOString() };
  try {
    out(`# Store benchmark, ${new Date().toISOString()}`);
    out(
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM (${(freemem() / 2 ** 30).toFixed(0)} free), Node ${process.version}, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
    const bw = measureBandwidth(100_000, settings.dim);
    const boundSum = (bw.bytes / (bw.sumPassGBs * 1e9)) * 1000;
    const boundCmp = (bw.bytes / (bw.memcmpGBs * 1e9)) * 1000;
    all.bandwidth = { ...bw, boundSumMs: boundSum, boundMemcmpMs: boundCmp };
    out("");
    out(
      `Exact-search bound at 100k x ${settings.dim} (${fmt.mb(bw.bytes)} MB of float32): sequential Float32Array sum pass ${bw.sumPassGBs.toFixed(2)} GB/s -> ${boundSum.toFixed(1)} ms; memcmp ${bw.memcmpGBs.toFixed(2)} GB/s -> ${boundCmp.toFixed(1)} ms. Goal (within 2x of the bound): ${(2 * boundSum).toFixed(1)} ms.`,
    );
    const prepared = new Map<number, Prepared>();
    const dataFor = (rows: number) => {
      let p = prepared.get(rows);
      if (!p) {
        process.stderr.write(`preparing ${rows} rows\n`);
        p = prepare(root, rows, settings, settings.single);
        prepared.set(rows, p);
      }
      return p;
    };
    const run = async (kind: Task["kind"], rows: number, dim = settings.dim) => {
      const workDir = mkdtempSync(path.join(root, `${kind}-${rows}-`));
      process.stderr.write(`worker ${kind} ${rows}\n`);
      const result = await spawnWorker({
        kind,
        dataDir: kind === "e2e" ? "" : dataFor(rows).dir,
        workDir,
        rows,
        dim,
        settings,
      });
      rmSync(workDir, { recursive: true, force: true });
      return result;
    };

    for (const rows of settings.sizes) {
      const sizeStarted = performance.now();
      const data = dataFor(rows);
      const results: WorkerResult[] = [];
      const peers = rows >= 1_000_000 && settings.peers1M ? settings.peers1M : settings.peers;
      for (const kind of ["store", "js", "wasm", "lance", "sqlite-vec", "hnsw"] as const) {
        if (peers.includes(kind)) results.push(await run(kind, rows));
      }
      const compared = settings.compare ? await run("compare", rows) : undefined;
      all[`size-${rows}`] = { data, results, compared };
      out("");
      out(`## ${rows.toLocaleString("en-US")} rows x ${settings.dim} dimensions`);
      out("");
      out(
        `Data: ${data.clusters} clusters, ${data.queries} queries (+${WARMUP} warm-up); mean cosine of a query to its exact 1st / 10th neighbour ${data.similarity.top1.toFixed(3)} / ${data.similarity.top10.toFixed(3)}, of random pairs ${data.similarity.randomPair.toFixed(3)}. Generated in ${data.seconds.generate.toFixed(1)} s, ground truth (JS exact scan) in ${data.seconds.truth.toFixed(1)} s.`,
      );
      out("");
      sizeTable(results, out);
      const store = results.find((r) => r.kind === "store");
      const single = store?.extra?.single as
        | { rows: number; seconds: number; rowsPerSecond: number; p50: number; p95: number; max: number }
        | undefined;
      if (single && single.rows > 0) {
        out("");
        out(
          `One document per call into this ${rows.toLocaleString("en-US")}-row collection: ${single.rows} upserts in ${single.seconds.toFixed(1)} s = ${fmt.rate(single.rowsPerSecond)} rows/s; per call p50 ${fmt.ms(single.p50)} ms, p95 ${fmt.ms(single.p95)} ms, max ${fmt.ms(single.max)} ms. Fragments after the batched ingest: ${String(store?.extra?.fragmentsBeforeCompaction)}. Live data after compact() (table stats): ${fmt.mb(store?.extra?.liveBytes as number)} MB; the du above also counts old versions still on disk.`,
        );
      }
      if (compared) {
        out("");
        out(
          `Exact searches again, loaded in one process and run in turns query by query (same load for all; ${compared.systems[0]?.search?.queries} queries):`,
        );
        out("");
        exactTable(compared, out);
      }
      out("");
      out(
        `Workers: ${[...results, ...(compared ? [compared] : [])].map((r) => `${r.kind} ${r.seconds.toFixed(0)} s (load ${r.loadavg.start.toFixed(1)}->${r.loadavg.end.toFixed(1)})`).join(", ")}; size total ${((performance.now() - sizeStarted) / 1000).toFixed(0)} s.`,
      );
    }

    if (settings.oneDoc > 0) {
      const result = await run("onedoc", settings.oneDoc);
      const x = result.extra as {
        calls: { p50: number; p95: number; max: number };
        rewrites: number;
        statsAsLeft: { fragments: number; smallFragments: number; bytes: number };
        statsCompacted: { fragments: number; smallFragments: number; bytes: number };
        diskMinimal: number;
      };
      all.onedoc = result;
      const [left, compacted] = result.systems;
      out("");
      out(`## ${settings.oneDoc.toLocaleString("en-US")} one-document upserts into a fresh collection`);
      out("");
      out(
        `After the adds (and the compaction the last one starts), ${String(x.rewrites)} more one-document upserts rewrite existing documents: the least compacted state between two automatic compactions. A copy of that directory is compacted with store.compact(); both are searched in turns, query by query.`,
      );
      out("");
      out("| State | p50 ms | p95 ms | Recall@10 | Fragments (small) | Disk MB (du) | Live data MB |");
      out("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
      for (const [label, system, stats] of [
        ["as the store leaves it", left, x.statsAsLeft],
        ["after store.compact()", compacted, x.statsCompacted],
      ] as const) {
        out(
          `| ${label} | ${fmt.ms(system?.search?.p50)} | ${fmt.ms(system?.search?.p95)} | ${system?.search?.recall.toFixed(3)} | ${stats.fragments} (${stats.smallFragments}) | ${fmt.mb(system?.disk)} | ${fmt.mb(stats.bytes)} |`,
        );
      }
      out("");
      out(
        `Ingest ${fmt.rate(left?.ingest?.rowsPerSecond)} rows/s (${fmt.s(left?.ingest?.seconds)} s); per call p50 ${fmt.ms(x.calls.p50)} ms, p95 ${fmt.ms(x.calls.p95)} ms, max ${fmt.ms(x.calls.max)} ms. compact() took ${fmt.s(compacted?.build?.compactSeconds)} s. On disk with every old version removed: ${fmt.mb(x.diskMinimal)} MB. Ratios: p50 ${fmt.x((left?.search?.p50 ?? 0) / (compacted?.search?.p50 ?? 1))}x, disk ${fmt.x((left?.disk ?? 0) / x.diskMinimal)}x the minimal size. Peak RSS ${result.rss.peakMb.toFixed(0)} MB.`,
      );
    }

    if (settings.e2e && !existsSync(CLI)) {
      out("");
      out(`End to end skipped: ${CLI} is missing (run npm run build first).`);
    } else if (settings.e2e) {
      const rows = settings.e2eRows;
      const result = await run("e2e", rows, 512);
      all.e2e = result;
      const x = result.extra as {
        addSeconds: number;
        semantic: Latency;
        hybrid: Latency;
        embed: Latency;
        store: Latency;
        fragments: number;
        disk: number;
      };
      out("");
      out(
        `## End to end: search_similar over MCP stdio, ${rows.toLocaleString("en-US")} short notes, use-lite (512 d)`,
      );
      out("");
      out("| Part | p50 ms | p95 ms |");
      out("| --- | ---: | ---: |");
      out(
        `| search_similar, mode semantic, n_results 10 | ${fmt.ms(x.semantic.p50)} | ${fmt.ms(x.semantic.p95)} |`,
      );
      out(`| search_similar, mode hybrid (default) | ${fmt.ms(x.hybrid.p50)} | ${fmt.ms(x.hybrid.p95)} |`);
      out(`| query embedding alone (embedQuery) | ${fmt.ms(x.embed.p50)} | ${fmt.ms(x.embed.p95)} |`);
      out(`| store.search alone, same db and vectors | ${fmt.ms(x.store.p50)} | ${fmt.ms(x.store.p95)} |`);
      out(
        `| semantic excluding query embedding (p50 total - p50 embedding) | ${fmt.ms(x.semantic.p50 - x.embed.p50)} | |`,
      );
      out(`| hybrid excluding query embedding | ${fmt.ms(x.hybrid.p50 - x.embed.p50)} | |`);
      out("");
      out(
        `Filled with add_documents (${Math.ceil(rows / BATCH)} calls of up to ${BATCH} texts, embedding included) in ${x.addSeconds.toFixed(1)} s = ${fmt.rate(rows / x.addSeconds)} docs/s; ${x.fragments} fragments, ${fmt.mb(x.disk)} MB on disk. ${x.semantic.queries} queries, the four parts in turns query by query (after ${WARMUP} warm-up queries each).`,
      );
    }
    out("");
    out(`Total ${((performance.now() - started) / 1000 / 60).toFixed(1)} min.`);
    if (settings.json) writeFileSync(settings.json, JSON.stringify(all, null, 2));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--worker") {
  const result = await runWorker(JSON.parse(process.argv[3] as string) as Task);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  // LanceDB's native threads can keep the event loop alive after close.
  process.exit(0);
} else {
  await main();
}
