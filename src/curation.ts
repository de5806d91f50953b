/**
 * Pure pieces of curating a collection (the web UI's map, duplicate review and merge): no I/O, so
 * memory.ts keeps the reads and writes and these are tested on their own.
 */
import { LIMITS } from "./limits.js";
import { createScanner, type ScanFunction, SIMD_LANES, type WasmMemory } from "./store/simd-scan.js";
import type { Metadata, MetadataValue } from "./store/vector-store.js";

/** A document's one vector: the mean of its chunks' vectors, scaled to unit length. */
export function documentVector(chunks: Float32Array[]): Float32Array {
  const first = chunks[0];
  if (!first) throw new Error("documentVector needs at least one chunk vector");
  if (chunks.length === 1) return first;
  const sum = new Float32Array(first.length);
  for (const v of chunks) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (v[i] ?? 0);
  let norm = 0;
  for (const x of sum) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) / norm;
  return sum;
}

/** 32-bit FNV-1a of a string's UTF-16 units: a cheap, stable rank for sampling. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The ids to show when there are more than `max`: those with the smallest hash. The same ids are
 * picked on every call, and adding documents changes the sample only where a new id ranks in, so a
 * map does not jump about between reloads. Returned sorted.
 */
export function stableSample(ids: string[], max: number): string[] {
  if (ids.length <= max) return [...ids].sort(byCodeUnit);
  return ids
    .map((id) => ({ id, rank: fnv1a(id) }))
    .sort((a, b) => a.rank - b.rank || byCodeUnit(a.id, b.id))
    .slice(0, max)
    .map((x) => x.id)
    .sort(byCodeUnit);
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The metadata changes that merging `dropped` into `kept` makes to `kept`, as update_documents takes
 * them. The rule: `kept` keeps every value it has; a key only `dropped` has is added; where both hold
 * a list of strings, the kept list gains the dropped one's missing items (up to the per-list limit).
 * A key both have with different plain values keeps the kept document's value.
 */
export function mergedMetadataChanges(kept: Metadata, dropped: Metadata): Record<string, MetadataValue> {
  const changes: Record<string, MetadataValue> = {};
  for (const [key, value] of Object.entries(dropped)) {
    const mine = kept[key];
    if (mine === undefined) changes[key] = value;
    else if (Array.isArray(mine) && Array.isArray(value)) {
      const union = [...new Set([...mine, ...value])].slice(0, LIMITS.metadataArrayItems);
      if (union.length > mine.length) changes[key] = union;
    }
  }
  return changes;
}

/**
 * Every row (chunk) vector of a collection in one block of WebAssembly memory, rows grouped by
 * document in id order, for duplicate review: one SIMD scan per document over the documents after
 * it, instead of one store search per document (bench/RESULTS.md "Web UI" has the figures).
 */
export class DuplicateMatrix {
  /** Documents in id order, and where each one's rows start (rowStart[i]..rowStart[i + 1]). */
  readonly ids: string[];
  private readonly rowStart: Int32Array;
  private readonly rowOwner: Int32Array;
  private readonly stride: number;
  private readonly scan: ScanFunction;
  private readonly memory: WasmMemory;
  private readonly queryAt: number;
  private readonly outAt: number;

  constructor(documents: Map<string, Float32Array[]>) {
    this.ids = [...documents.keys()].sort(byCodeUnit);
    const rows = this.ids.reduce((n, id) => n + (documents.get(id)?.length ?? 0), 0);
    const dim = documents.get(this.ids[0] ?? "")?.[0]?.length ?? 0;
    this.stride = Math.max(SIMD_LANES, Math.ceil(dim / SIMD_LANES) * SIMD_LANES);
    const rowBytes = this.stride * 4;
    this.queryAt = rows * rowBytes;
    this.outAt = this.queryAt + DuplicateMatrix.BLOCK * rowBytes;
    const scanner = createScanner(this.outAt + DuplicateMatrix.TILE_ROWS * 4);
    this.memory = scanner.memory;
    this.scan = scanner.scan;
    this.rowStart = new Int32Array(this.ids.length + 1);
    this.rowOwner = new Int32Array(rows);
    const data = new Float32Array(this.memory.buffer, 0, rows * this.stride);
    let row = 0;
    this.ids.forEach((id, doc) => {
      this.rowStart[doc] = row;
      for (const vector of documents.get(id) ?? []) {
        // Unit length, so that a dot product is the cosine.
        let norm = 0;
        for (const x of vector) norm += x * x;
        norm = Math.sqrt(norm) || 1;
        const at = row * this.stride;
        for (let i = 0; i < vector.length; i++) data[at + i] = (vector[i] as number) / norm;
        this.rowOwner[row] = doc;
        row++;
      }
    });
    this.rowStart[this.ids.length] = row;
    new Float32Array(this.memory.buffer, this.queryAt, DuplicateMatrix.BLOCK * this.stride).fill(0);
  }

  /** Index of the first document whose id sorts after `id` (0 without one). */
  after(id: string | undefined): number {
    if (id === undefined) return 0;
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ids[mid] as string) <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The later documents (in id order) whose closest chunk has cosine >= minScore with document
   * `doc`'s vector (its chunks' mean, unit length), best first. Each pair is found once, from its
   * earlier document.
   */
  laterNeighbours(doc: number, minScore: number): Array<{ doc: number; score: number }> {
    return this.laterNeighboursOf(doc, 1, minScore)[0] ?? [];
  }

  /**
   * laterNeighbours for `count` documents from `first` at once: the rows are scanned in tiles small
   * enough to stay in the CPU cache while every document of the block is scored against them, so
   * the rows are read from memory once per block, not once per document.
   */
  laterNeighboursOf(
    first: number,
    count: number,
    minScore: number,
  ): Array<Array<{ doc: number; score: number }>> {
    const docs = Math.max(0, Math.min(count, this.ids.length - first, DuplicateMatrix.BLOCK));
    const total = this.rowStart[this.ids.length] as number;
    const rowBytes = this.stride * 4;
    const data = new Float32Array(this.memory.buffer, 0, total * this.stride);
    const best = Array.from({ length: docs }, () => new Map<number, number>());
    const starts: number[] = [];
    for (let b = 0; b < docs; b++) {
      const doc = first + b;
      const own: Float32Array[] = [];
      for (let r = this.rowStart[doc] as number; r < (this.rowStart[doc + 1] as number); r++)
        own.push(data.subarray(r * this.stride, (r + 1) * this.stride));
      new Float32Array(this.memory.buffer, this.queryAt + b * rowBytes, this.stride).set(documentVector(own));
      starts.push(this.rowStart[doc + 1] as number);
    }
    const from = starts[0] ?? total;
    for (let tile = from; tile < total; tile += DuplicateMatrix.TILE_ROWS) {
      const end = Math.min(total, tile + DuplicateMatrix.TILE_ROWS);
      for (let b = 0; b < docs; b++) {
        const start = Math.max(tile, starts[b] as number);
        if (start >= end) continue;
        this.scan(this.queryAt + b * rowBytes, start * rowBytes, end - start, rowBytes, this.outAt);
        const scores = new Float32Array(this.memory.buffer, this.outAt, end - start);
        const found = best[b] as Map<number, number>;
        for (let i = 0; i < scores.length; i++) {
          const score = scores[i] as number;
          if (!(score >= minScore)) continue;
          const owner = this.rowOwner[start + i] as number;
          if (!(score <= (found.get(owner) ?? Number.NEGATIVE_INFINITY))) found.set(owner, score);
        }
      }
    }
    return best.map((found) =>
      [...found].map(([d, score]) => ({ doc: d, score })).sort((a, b) => b.score - a.score),
    );
  }

  /** Documents scored together, and rows per tile (512 KB of 512-d float32 rows). */
  static readonly BLOCK = 16;
  static readonly TILE_ROWS = 256;
}
