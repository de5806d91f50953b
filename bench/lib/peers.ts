/**
 * The systems the store benchmark compares ours against, behind one small interface: load rows
 * (row i gets id i), search by vector, report bytes on disk. Every vector is L2-normalised, so
 * cosine, inner product and L2 rank alike; each peer uses its own cosine mode where it has one.
 *
 * The native peers live in bench/peers (their own package.json and node_modules), not in the
 * project's dependencies, so they are loaded from there.
 */
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { arrow } from "../../src/store/arrow.js";
import { createScanner, type ScanFunction, topK, type WasmMemory } from "../../src/store/simd-scan.js";

export interface KnnSystem {
  readonly name: string;
  /** Parameters that decide its speed and recall, as printed. */
  readonly params: string;
  /** Loads rows [0, count) of `data`; returns what it wants reported about the build. */
  load(data: Float32Array, count: number, dimensions: number): Promise<Record<string, number>>;
  /** Ids (row numbers) of the k nearest rows, best first. */
  search(query: Float32Array, k: number): Promise<ArrayLike<number>>;
  /**
   * The same among the rows whose group is `group` only (row i is in group i % GROUPS: a 10%
   * filter), with the system's own filtered search; absent where it has none.
   */
  searchGroup?(query: Float32Array, k: number, group: number): Promise<ArrayLike<number>>;
  diskBytes(): number | undefined;
  close(): Promise<void>;
}

/** Rows are in GROUPS groups (row i in group i % GROUPS), for the filtered searches (searchGroup). */
export const GROUPS = 10;

/** exactTopK over the rows of one group only (row i is in group i % groups: the filtered ground truth). */
export function exactTopKInGroup(
  data: Float32Array,
  count: number,
  d: number,
  query: Float32Array,
  k: number,
  group: number,
  groups = GROUPS,
): Int32Array {
  const ids = new Int32Array(k).fill(-1);
  const scores = new Float64Array(k).fill(Number.NEGATIVE_INFINITY);
  for (let i = group; i < count; i += groups) {
    let score = 0;
    for (let j = 0, base = i * d; j < d; j++) score += (query[j] as number) * (data[base + j] as number);
    if (score > (scores[k - 1] as number)) insertSorted(ids, scores, i, score);
  }
  return ids;
}

/** Puts (id, score) in its place in the best-first top k, dropping the k-th; score beats the k-th. */
function insertSorted(ids: Int32Array, scores: Float64Array, id: number, score: number): void {
  let at = scores.length - 1;
  while (at > 0 && (scores[at - 1] as number) < score) {
    scores[at] = scores[at - 1] as number;
    ids[at] = ids[at - 1] as number;
    at--;
  }
  scores[at] = score;
  ids[at] = id;
}

const peerRequire = createRequire(path.resolve(import.meta.dirname, "../peers/package.json"));

/** Bytes of every file under `dir` (what `du --apparent-size` counts). */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

/**
 * Exact top-k by inner product over one contiguous row-major buffer: four independent
 * accumulators per row (so the adds do not wait on each other) and a sorted top-k that is only
 * touched when a score beats the current k-th. This is the JS exact-scan peer and the ground truth.
 */
export function exactTopK(
  data: Float32Array,
  count: number,
  d: number,
  query: Float32Array,
  k: number,
): { ids: Int32Array; scores: Float64Array } {
  const ids = new Int32Array(k).fill(-1);
  const scores = new Float64Array(k).fill(Number.NEGATIVE_INFINITY);
  let worst = Number.NEGATIVE_INFINITY;
  const tail = d - (d % 4);
  for (let i = 0, base = 0; i < count; i++, base += d) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < tail; j += 4) {
      s0 += (query[j] as number) * (data[base + j] as number);
      s1 += (query[j + 1] as number) * (data[base + j + 1] as number);
      s2 += (query[j + 2] as number) * (data[base + j + 2] as number);
      s3 += (query[j + 3] as number) * (data[base + j + 3] as number);
    }
    for (let j = tail; j < d; j++) s0 += (query[j] as number) * (data[base + j] as number);
    const score = s0 + s1 + s2 + s3;
    if (score <= worst) continue;
    insertSorted(ids, scores, i, score);
    worst = scores[k - 1] as number;
  }
  return { ids, scores };
}

export class JsScan implements KnnSystem {
  readonly name = "JS exact scan";
  readonly params = "Float32Array, 4 accumulators, one thread";
  private data = new Float32Array(0);
  private count = 0;
  private d = 0;

  async load(data: Float32Array, count: number, dimensions: number): Promise<Record<string, number>> {
    // A copy, as a real cache would hold its own buffer.
    this.data = data.slice(0, count * dimensions);
    this.count = count;
    this.d = dimensions;
    return {};
  }

  async search(query: Float32Array, k: number): Promise<Int32Array> {
    return exactTopK(this.data, this.count, this.d, query, k).ids;
  }

  diskBytes(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.data = new Float32Array(0);
  }
}

export type LanceIndexKind = "ivf_pq" | "ivf_hnsw_sq";

export interface LanceIndexParams {
  kind: LanceIndexKind;
  numPartitions: number;
  /** IVF_PQ: sub-vectors; IVF_HNSW_SQ: unused. */
  numSubVectors?: number;
  /** IVF_HNSW_SQ graph degree and build beam. */
  m?: number;
  efConstruction?: number;
  /** Search: partitions probed, IVF_PQ refine factor, HNSW ef. */
  nprobes: number;
  refineFactor?: number;
  ef?: number;
}

/**
 * LanceDB used directly: a table of just (id int32, vector), fed Arrow batches built straight from
 * the Float32Array, no text or metadata columns and no JSON. Searched flat until `buildIndex`.
 */
export class RawLance implements KnnSystem {
  name = "LanceDB flat (raw)";
  params = "vectorSearch, cosine, no index, compacted";
  private db: lancedb.Connection | undefined;
  private table: lancedb.Table | undefined;
  private index: LanceIndexParams | undefined;

  constructor(
    private readonly dir: string,
    private readonly batch = 1000,
    /** Write with mergeInsert on id (an upsert, as our store does) instead of add. */
    private readonly merge = false,
  ) {}

  async load(data: Float32Array, count: number, d: number): Promise<Record<string, number>> {
    const { Field, FixedSizeList, Float32, Int32, RecordBatch, Schema, Struct, Table, makeData } = arrow;
    const vectorType = new FixedSizeList(d, new Field("item", new Float32(), true));
    const schema = new Schema([
      new Field("id", new Int32(), false),
      new Field("g", new Int32(), false),
      new Field("vector", vectorType, false),
    ]);
    this.db = await lancedb.connect(this.dir);
    const table = await this.db.createEmptyTable("vectors", schema, { mode: "overwrite" });
    this.table = table;
    const started = performance.now();
    for (let start = 0; start < count; start += this.batch) {
      const n = Math.min(this.batch, count - start);
      const ids = Int32Array.from({ length: n }, (_, i) => start + i);
      const child = makeData({
        type: new Float32(),
        length: n * d,
        data: data.slice(start * d, (start + n) * d),
      });
      const vectors = makeData({ type: vectorType, length: n, nullCount: 0, child });
      const idData = makeData({ type: new Int32(), length: n, nullCount: 0, data: ids });
      const groups = makeData({
        type: new Int32(),
        length: n,
        nullCount: 0,
        data: ids.map((id) => id % GROUPS),
      });
      const struct = makeData({
        type: new Struct(schema.fields),
        length: n,
        nullCount: 0,
        children: [idData, groups, vectors],
      });
      const batch = new Table(schema, [new RecordBatch(schema, struct)]);
      if (this.merge)
        await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(batch);
      else await table.add(batch);
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    const compactStarted = performance.now();
    await table.optimize({ cleanupOlderThan: new Date() });
    return { ingestSeconds, compactSeconds: (performance.now() - compactStarted) / 1000 };
  }

  /** Builds a vector index; searches use it from then on. Returns build seconds. */
  async buildIndex(params: LanceIndexParams): Promise<number> {
    const table = this.requireTable();
    const started = performance.now();
    const config =
      params.kind === "ivf_pq"
        ? lancedb.Index.ivfPq({
            distanceType: "cosine",
            numPartitions: params.numPartitions,
            ...(params.numSubVectors ? { numSubVectors: params.numSubVectors } : {}),
          })
        : lancedb.Index.hnswSq({
            distanceType: "cosine",
            numPartitions: params.numPartitions,
            ...(params.m ? { m: params.m } : {}),
            ...(params.efConstruction ? { efConstruction: params.efConstruction } : {}),
          });
    await table.createIndex("vector", { config, replace: true });
    this.index = params;
    this.name = params.kind === "ivf_pq" ? "LanceDB IVF_PQ (raw)" : "LanceDB IVF_HNSW_SQ (raw)";
    this.params = describeLanceIndex(params);
    return (performance.now() - started) / 1000;
  }

  /** Changes search-time parameters of the built index (for a sweep). */
  tune(search: Pick<LanceIndexParams, "nprobes" | "refineFactor" | "ef">): void {
    if (!this.index) throw new Error("tune: no index built");
    this.index = { ...this.index, ...search };
    this.params = describeLanceIndex(this.index);
  }

  async search(query: Float32Array, k: number): Promise<Int32Array> {
    return this.searchWhere(query, k, undefined);
  }

  /** LanceDB's prefiltered vector search on the `g` column (no scalar index on it). */
  async searchGroup(query: Float32Array, k: number, group: number): Promise<Int32Array> {
    return this.searchWhere(query, k, `g = ${group}`);
  }

  private async searchWhere(query: Float32Array, k: number, where: string | undefined): Promise<Int32Array> {
    let q = this.requireTable()
      .vectorSearch(query)
      .distanceType("cosine")
      .select(["id", "_distance"])
      .limit(k);
    if (where) q = q.where(where);
    if (this.index) {
      q = q.nprobes(this.index.nprobes);
      if (this.index.refineFactor) q = q.refineFactor(this.index.refineFactor);
      if (this.index.ef) q = q.ef(this.index.ef);
    }
    const rows = (await q.toArray()) as Array<{ id: number }>;
    return Int32Array.from(rows, (r) => r.id);
  }

  diskBytes(): number {
    return directoryBytes(this.dir);
  }

  async close(): Promise<void> {
    this.table?.close();
    this.db?.close();
  }

  private requireTable(): lancedb.Table {
    if (!this.table) throw new Error("RawLance: load first");
    return this.table;
  }
}

export function describeLanceIndex(p: LanceIndexParams): string {
  return p.kind === "ivf_pq"
    ? `partitions=${p.numPartitions} sub_vectors=${p.numSubVectors ?? "default"} bits=8 nprobes=${p.nprobes} refine_factor=${p.refineFactor ?? "none"}`
    : `partitions=${p.numPartitions} m=${p.m ?? 20} ef_construction=${p.efConstruction ?? 300} nprobes=${p.nprobes} ef=${p.ef ?? "1.5k"}`;
}

interface SqliteStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

/** sqlite-vec's vec0 virtual table (brute-force KNN in C) through better-sqlite3, on a file. */
export class SqliteVec implements KnnSystem {
  readonly name = "sqlite-vec vec0";
  readonly params: string;
  private db: SqliteDatabase | undefined;
  private knn: SqliteStatement | undefined;
  private knnGroup: SqliteStatement | undefined;

  constructor(
    private readonly file: string,
    private readonly batch = 1000,
  ) {
    this.params = `float[d] distance_metric=cosine, ${batch} rows per transaction, default page cache`;
  }

  async load(data: Float32Array, count: number, d: number): Promise<Record<string, number>> {
    const Database = peerRequire("better-sqlite3") as new (file: string) => SqliteDatabase;
    const sqliteVec = peerRequire("sqlite-vec") as { load(db: SqliteDatabase): void };
    const db = new Database(this.file);
    sqliteVec.load(db);
    db.exec("PRAGMA journal_mode = WAL");
    // g: a metadata column (sqlite-vec >= 0.1.6), which its KNN query filters on.
    db.exec(`CREATE VIRTUAL TABLE vec USING vec0(embedding float[${d}] distance_metric=cosine, g integer)`);
    const insert = db.prepare("INSERT INTO vec(rowid, embedding, g) VALUES (?, ?, ?)");
    const insertMany = db.transaction((start: number, n: number) => {
      for (let i = start; i < start + n; i++) {
        // vec0 wants an integer rowid; better-sqlite3 binds JS numbers as REAL, BigInt as INTEGER.
        insert.run(
          BigInt(i),
          Buffer.from(data.buffer, data.byteOffset + i * d * 4, d * 4),
          BigInt(i % GROUPS),
        );
      }
    });
    const started = performance.now();
    for (let start = 0; start < count; start += this.batch)
      insertMany(start, Math.min(this.batch, count - start));
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.db = db;
    this.knn = db.prepare(
      "SELECT rowid, distance FROM vec WHERE embedding MATCH ? AND k = ? ORDER BY distance",
    );
    this.knnGroup = db.prepare(
      "SELECT rowid, distance FROM vec WHERE embedding MATCH ? AND k = ? AND g = ? ORDER BY distance",
    );
    return { ingestSeconds: (performance.now() - started) / 1000 };
  }

  async search(query: Float32Array, k: number): Promise<Int32Array> {
    if (!this.knn) throw new Error("SqliteVec: load first");
    const rows = this.knn.all(Buffer.from(query.buffer, query.byteOffset, query.byteLength), k) as Array<{
      rowid: number;
    }>;
    return Int32Array.from(rows, (r) => Number(r.rowid));
  }

  async searchGroup(query: Float32Array, k: number, group: number): Promise<Int32Array> {
    if (!this.knnGroup) throw new Error("SqliteVec: load first");
    const rows = this.knnGroup.all(
      Buffer.from(query.buffer, query.byteOffset, query.byteLength),
      k,
      BigInt(group),
    ) as Array<{ rowid: number }>;
    return Int32Array.from(rows, (r) => Number(r.rowid));
  }

  diskBytes(): number {
    return directoryBytes(path.dirname(this.file));
  }

  async close(): Promise<void> {
    this.db?.close();
  }
}

interface HnswIndex {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(
    query: number[],
    k: number,
    filter?: (label: number) => boolean,
  ): { neighbors: number[]; distances: number[] };
  writeIndexSync(file: string): void;
}

/** hnswlib's HNSW graph (in memory, one thread for build and search in this binding). */
export class Hnsw implements KnnSystem {
  readonly name = "hnswlib-node HNSW";
  params: string;
  private index: HnswIndex | undefined;

  constructor(
    private readonly file: string,
    private readonly m = 16,
    private readonly efConstruction = 100,
    private ef = 64,
  ) {
    this.params = this.describe();
  }

  async load(data: Float32Array, count: number, d: number): Promise<Record<string, number>> {
    const { HierarchicalNSW } = peerRequire("hnswlib-node") as {
      HierarchicalNSW: new (space: string, dimensions: number) => HnswIndex;
    };
    const index = new HierarchicalNSW("cosine", d);
    const started = performance.now();
    index.initIndex(count, this.m, this.efConstruction, 100);
    for (let i = 0; i < count; i++) index.addPoint(Array.from(data.subarray(i * d, (i + 1) * d)), i);
    const buildSeconds = (performance.now() - started) / 1000;
    index.setEf(this.ef);
    this.index = index;
    // Written only to report its size: hnswlib itself serves from memory.
    index.writeIndexSync(this.file);
    return { buildSeconds };
  }

  setEf(ef: number): void {
    this.ef = ef;
    this.index?.setEf(ef);
    this.params = this.describe();
  }

  async search(query: Float32Array, k: number): Promise<number[]> {
    if (!this.index) throw new Error("Hnsw: load first");
    return this.index.searchKnn(Array.from(query), k).neighbors;
  }

  /** hnswlib's filtered search: the graph walk skips labels the filter refuses. */
  async searchGroup(query: Float32Array, k: number, group: number): Promise<number[]> {
    if (!this.index) throw new Error("Hnsw: load first");
    return this.index.searchKnn(Array.from(query), k, (label) => label % GROUPS === group).neighbors;
  }

  diskBytes(): number {
    return statSync(this.file).size;
  }

  async close(): Promise<void> {
    this.index = undefined;
  }

  private describe(): string {
    return `M=${this.m} efConstruction=${this.efConstruction} efSearch=${this.ef}`;
  }
}

/**
 * Exact scan with the store's own WebAssembly SIMD kernel (src/store/simd-scan.ts: f32x4, four
 * accumulators) over plain float32 rows, without the store around it: not one of the issue's
 * peers but the kernel alone, to show what an in-process exact scan can do.
 */
export class WasmSimdScan implements KnnSystem {
  readonly name = "WASM SIMD exact scan (experiment)";
  readonly params = "f32x4, 4 accumulators, one thread, top-k in JS";
  private memory: WasmMemory | undefined;
  private scan: ScanFunction | undefined;
  private count = 0;
  private d = 0;

  async load(data: Float32Array, count: number, d: number): Promise<Record<string, number>> {
    if (d % 16 !== 0) throw new Error("WasmSimdScan: dimensions must be a multiple of 16");
    const bytes = (count * d + d + count) * 4;
    const { memory, scan } = createScanner(bytes);
    this.scan = scan;
    // Layout: rows at 0, the query after them, the scores after that; all 16-byte aligned.
    new Float32Array(memory.buffer, 0, count * d).set(data.subarray(0, count * d));
    this.memory = memory;
    this.count = count;
    this.d = d;
    return {};
  }

  async search(query: Float32Array, k: number): Promise<Int32Array> {
    if (!this.memory || !this.scan) throw new Error("WasmSimdScan: load first");
    const { count, d } = this;
    const queryAt = count * d * 4;
    const outAt = queryAt + d * 4;
    new Float32Array(this.memory.buffer, queryAt, d).set(query);
    this.scan(queryAt, 0, count, d * 4, outAt);
    return topK(new Float32Array(this.memory.buffer, outAt, count), count, k);
  }

  diskBytes(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.memory = undefined;
    this.scan = undefined;
  }
}
