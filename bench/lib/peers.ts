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

export interface KnnSystem {
  readonly name: string;
  /** Parameters that decide its speed and recall, as printed. */
  readonly params: string;
  /** Loads rows [0, count) of `data`; returns what it wants reported about the build. */
  load(data: Float32Array, count: number, dimensions: number): Promise<Record<string, number>>;
  /** Ids (row numbers) of the k nearest rows, best first. */
  search(query: Float32Array, k: number): Promise<ArrayLike<number>>;
  diskBytes(): number | undefined;
  close(): Promise<void>;
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
    let at = k - 1;
    while (at > 0 && (scores[at - 1] as number) < score) {
      scores[at] = scores[at - 1] as number;
      ids[at] = ids[at - 1] as number;
      at--;
    }
    scores[at] = score;
    ids[at] = i;
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
    const schema = new Schema([new Field("id", new Int32(), false), new Field("vector", vectorType, false)]);
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
      const struct = makeData({
        type: new Struct(schema.fields),
        length: n,
        nullCount: 0,
        children: [idData, vectors],
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
    let q = this.requireTable()
      .vectorSearch(query)
      .distanceType("cosine")
      .select(["id", "_distance"])
      .limit(k);
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
    db.exec(`CREATE VIRTUAL TABLE vec USING vec0(embedding float[${d}] distance_metric=cosine)`);
    const insert = db.prepare("INSERT INTO vec(rowid, embedding) VALUES (?, ?)");
    const insertMany = db.transaction((start: number, n: number) => {
      for (let i = start; i < start + n; i++) {
        // vec0 wants an integer rowid; better-sqlite3 binds JS numbers as REAL, BigInt as INTEGER.
        insert.run(BigInt(i), Buffer.from(data.buffer, data.byteOffset + i * d * 4, d * 4));
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
    return { ingestSeconds: (performance.now() - started) / 1000 };
  }

  async search(query: Float32Array, k: number): Promise<Int32Array> {
    if (!this.knn) throw new Error("SqliteVec: load first");
    const rows = this.knn.all(Buffer.from(query.buffer, query.byteOffset, query.byteLength), k) as Array<{
      rowid: number;
    }>;
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
  searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] };
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
 * Exact scan with a WebAssembly SIMD kernel (f32x4, four accumulators): not one of the issue's
 * peers but the "SIMD/WASM kernel" option measured, to show what an in-process exact scan can do.
 * The module is assembled here byte by byte (no toolchain needed); it computes every row's dot
 * product with the query into an output array, and the top k is picked in JS.
 *
 *   scan(q, data, n, rowBytes, out): for each row, out[i] = sum over lanes of the accumulators
 */
function scanModule(): Uint8Array {
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const simd = (op: number) => [0xfd, ...leb(op)];
  const [Q, DATA, N, ROW_BYTES, OUT, I, J, ROW] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ACC = [8, 9, 10, 11];
  const zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
  const multiplyAdd = (acc: number, offset: number) => [
    ...get(acc),
    ...get(Q),
    ...get(J),
    0x6a, // i32.add
    ...simd(0x00), // v128.load
    2,
    ...leb(offset),
    ...get(ROW),
    ...get(J),
    0x6a,
    ...simd(0x00),
    2,
    ...leb(offset),
    ...simd(230), // f32x4.mul
    ...simd(228), // f32x4.add
    ...set(acc),
  ];
  const lane = (acc: number, l: number) => [...get(acc), ...simd(0x1f), l]; // f32x4.extract_lane
  const body = [
    2,
    3,
    0x7f, // 3 locals i32: i, j, row (indices 5-7)
    4,
    0x7b, // 4 locals v128: the accumulators (8-11)
    ...get(DATA),
    ...set(ROW),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop over rows
    ...get(I),
    ...get(N),
    0x4f, // i32.ge_u
    0x0d,
    1, // br_if out of the block
    ...ACC.flatMap((acc) => [...zero, ...set(acc)]),
    0x41,
    0, // i32.const 0
    ...set(J),
    0x03,
    0x40, // loop over 16-float chunks of the row
    ...ACC.flatMap((acc, k) => multiplyAdd(acc, k * 16)),
    ...get(J),
    0x41,
    0xc0,
    0x00, // i32.const 64 (signed LEB128)
    0x6a,
    0x22,
    J, // local.tee j
    ...get(ROW_BYTES),
    0x49, // i32.lt_u
    0x0d,
    0, // br_if to the chunk loop
    0x0b, // end chunk loop
    ...get(ACC[0] as number),
    ...get(ACC[1] as number),
    ...simd(228),
    ...get(ACC[2] as number),
    ...get(ACC[3] as number),
    ...simd(228),
    ...simd(228),
    ...set(ACC[0] as number),
    ...get(OUT),
    ...get(I),
    0x41,
    2,
    0x74, // i32.shl: i * 4
    0x6a,
    ...lane(ACC[0] as number, 0),
    ...lane(ACC[0] as number, 1),
    0x92, // f32.add
    ...lane(ACC[0] as number, 2),
    0x92,
    ...lane(ACC[0] as number, 3),
    0x92,
    0x38,
    2,
    0, // f32.store
    ...get(ROW),
    ...get(ROW_BYTES),
    0x6a,
    ...set(ROW),
    ...get(I),
    0x41,
    1,
    0x6a,
    ...set(I),
    0x0c,
    0, // br to the row loop
    0x0b, // end row loop
    0x0b, // end block
    0x0b, // end function
  ];
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const name = (s: string) => [s.length, ...Buffer.from(s, "ascii")];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(2, [1, ...name("env"), ...name("mem"), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("scan"), 0x00, 0]),
    ...section(10, [1, ...leb(body.length), ...body]),
  ]);
}

function leb(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0);
  return bytes;
}

/** The WebAssembly API, typed here: the project's lib settings (ES2023, no DOM) do not declare it. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number }) => WasmMemory;
      instantiate(
        bytes: Uint8Array,
        imports: Record<string, Record<string, unknown>>,
      ): Promise<{ instance: { exports: Record<string, unknown> } }>;
    };
  }
).WebAssembly;

export class WasmSimdScan implements KnnSystem {
  readonly name = "WASM SIMD exact scan (experiment)";
  readonly params = "f32x4, 4 accumulators, one thread, top-k in JS";
  private memory: WasmMemory | undefined;
  private scan: ((q: number, data: number, n: number, rowBytes: number, out: number) => void) | undefined;
  private count = 0;
  private d = 0;

  async load(data: Float32Array, count: number, d: number): Promise<Record<string, number>> {
    if (d % 16 !== 0) throw new Error("WasmSimdScan: dimensions must be a multiple of 16");
    const bytes = (count * d + d + count) * 4;
    const memory = new wasm.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
    const { instance } = await wasm.instantiate(scanModule(), { env: { mem: memory } });
    this.scan = instance.exports.scan as typeof this.scan;
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
    return topK(new Float32Array(this.memory.buffer, outAt, count), k);
  }

  diskBytes(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.memory = undefined;
    this.scan = undefined;
  }
}

/** Indices of the k largest scores, best first. */
function topK(scores: Float32Array, k: number): Int32Array {
  const ids = new Int32Array(k).fill(-1);
  const best = new Float64Array(k).fill(Number.NEGATIVE_INFINITY);
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i] as number;
    if (score <= worst) continue;
    let at = k - 1;
    while (at > 0 && (best[at - 1] as number) < score) {
      best[at] = best[at - 1] as number;
      ids[at] = ids[at - 1] as number;
      at--;
    }
    best[at] = score;
    ids[at] = i;
    worst = best[k - 1] as number;
  }
  return ids;
}
