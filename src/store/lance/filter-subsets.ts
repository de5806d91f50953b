import type * as lancedb from "@lancedb/lancedb";
import { chunkKey, type Hit } from "../vector-store.js";
import { type RawRow, storedChunk } from "./schema.js";

/**
 * A narrow filter's rows at one table version, in memory: their vectors (normalised) and where
 * they are, so that a search with that filter is an exact scan of those rows and a read of the k
 * best by row id, instead of LanceDB's prefilter over the whole table.
 *
 * Measured at 1M rows with a BTREE on the column (bench/RESULTS.md, "A narrow filter's rows in
 * memory"): LanceDB's prefiltered search of a 1% filter took 33–43 ms per call; reading that
 * filter's 10,000 rows (ids and vectors) took 113–150 ms once; a read of 10 rows by row id ~3 ms.
 * The read is made beside the searches (no call waits for it) and is good until the table's
 * version changes; it is made again after the next search at the new version. At most
 * SUBSETS_KEPT filters and SUBSETS_BYTES of vectors are kept, all tables together, apart from the
 * vector cache's budget (whose collections never come here: the cache answers their filters).
 */

/** Rows a kept filter may admit at most (20k rows of 384 floats: 31 MB). */
export const SUBSET_MAX_ROWS = 20_000;
/**
 * How long a filter found to admit more than SUBSET_MAX_ROWS is not read again, whatever the
 * version: else every write would cost the next search's read of 20,001 rows for nothing.
 */
const TOO_BIG_MS = 10 * 60_000;
/** Filters kept, all tables together, and the bytes of their vectors (the least recently used go first). */
const SUBSETS_KEPT = 16;
const SUBSETS_BYTES = 128 * 1024 * 1024;

interface Subset {
  version: number;
  ids: string[];
  chunks: number[];
  rowIds: bigint[];
  dim: number;
  /** Row i's normalised vector at [i * dim, (i + 1) * dim). */
  vectors: Float32Array;
}

/** A filter's rows, a note of when they were found too many, or their read under way. */
type Slot = Subset | { tooBigSince: number } | Promise<void>;

function isSubset(slot: Slot): slot is Subset {
  return !(slot instanceof Promise) && "vectors" in slot;
}

export class FilterSubsets {
  /** @param maxRows rows a kept filter may admit at most (a test's smaller figure). */
  constructor(private readonly maxRows = SUBSET_MAX_ROWS) {}

  /** A number per table handle, for the keys of `kept`. */
  private readonly tableIds = new WeakMap<lancedb.Table, number>();
  private nextTableId = 0;
  /** By table and filter, least recently used first. */
  private readonly kept = new Map<string, { version: number; slot: Slot }>();
  private readonly reads = new Set<Promise<void>>();

  /**
   * The filter's nearest rows from memory when its rows at `version` are read already, else
   * undefined (and, unless a read is under way or the filter admits too many rows, a read starts).
   * Undefined too when the table moved on meanwhile.
   */
  async search(
    table: lancedb.Table,
    version: number,
    filterKey: string,
    sql: string,
    vector: Float32Array,
    limit: number,
    select: string[],
  ): Promise<Hit[] | undefined> {
    let tableId = this.tableIds.get(table);
    if (tableId === undefined) {
      tableId = this.nextTableId++;
      this.tableIds.set(table, tableId);
    }
    const key = `${tableId}\u0000${filterKey}`;
    const kept = this.kept;
    const entry = kept.get(key);
    if (entry?.version === version && isSubset(entry.slot)) {
      // Most recently used last.
      kept.delete(key);
      kept.set(key, entry);
      return this.answer(table, version, entry.slot, vector, limit, select);
    }
    if (entry?.version === version) return undefined;
    const slot = entry?.slot;
    if (
      slot &&
      !(slot instanceof Promise) &&
      "tooBigSince" in slot &&
      Date.now() - slot.tooBigSince < TOO_BIG_MS
    )
      return undefined;
    const read = readSubset(table, version, sql, this.maxRows).then(
      (subset) => {
        if (kept.get(key)?.slot !== read) return;
        if (subset === undefined) kept.delete(key);
        else kept.set(key, { version, slot: subset === "too-big" ? { tooBigSince: Date.now() } : subset });
        this.evict();
      },
      () => {
        if (kept.get(key)?.slot === read) kept.delete(key);
      },
    );
    this.reads.add(read);
    void read.finally(() => this.reads.delete(read));
    kept.delete(key);
    kept.set(key, { version, slot: read });
    this.evict();
    return undefined;
  }

  /** Forgets the least recently used filters past SUBSETS_KEPT or SUBSETS_BYTES. */
  private evict(): void {
    const bytesOf = (slot: Slot) => (isSubset(slot) ? slot.vectors.byteLength : 0);
    let bytes = 0;
    for (const { slot } of this.kept.values()) bytes += bytesOf(slot);
    for (const [key, { slot }] of this.kept) {
      if (this.kept.size <= SUBSETS_KEPT && bytes <= SUBSETS_BYTES) break;
      this.kept.delete(key);
      bytes -= bytesOf(slot);
    }
  }

  /** Settles once every read under way is done (for tests and benchmarks). */
  async settled(): Promise<void> {
    while (this.reads.size > 0) await Promise.allSettled([...this.reads]);
  }

  private async answer(
    table: lancedb.Table,
    version: number,
    subset: Subset,
    vector: Float32Array,
    limit: number,
    select: string[],
  ): Promise<Hit[] | undefined> {
    if (vector.length !== subset.dim) return undefined;
    const picks = nearest(subset, vector, limit);
    if (!picks) return undefined;
    if (picks.length === 0) return [];
    const rows = (await table
      .takeRowIds(picks.map((p) => subset.rowIds[p.at] as bigint))
      .select(select)
      .toArray()) as Array<RawRow & { vector?: Iterable<number> }>;
    // Row ids are of `version`: rows read after another commit may be other rows, or gone.
    if ((await table.version()) !== version || rows.length !== picks.length) return undefined;
    const byKey = new Map(rows.map((row) => [chunkKey(row.id, row.chunk ?? 0), row]));
    const hits: Hit[] = [];
    for (const p of picks) {
      const row = byKey.get(chunkKey(subset.ids[p.at] as string, subset.chunks[p.at] as number));
      if (!row) return undefined;
      hits.push({
        ...storedChunk(row),
        distance: p.distance,
        ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
      });
    }
    return hits;
  }
}

/** The filter's rows at `version`; "too-big" past `maxRows`; undefined when the table moved on. */
async function readSubset(
  table: lancedb.Table,
  version: number,
  sql: string,
  maxRows: number,
): Promise<Subset | "too-big" | undefined> {
  const schema = await table.schema();
  const chunked = schema.fields.some((field) => field.name === "chunk");
  const read = await table
    .query()
    .where(sql)
    .select(["id", ...(chunked ? ["chunk"] : []), "vector"])
    .withRowId()
    .limit(maxRows + 1)
    .toArrow();
  if ((await table.version()) !== version) return undefined;
  if (read.numRows > maxRows) return "too-big";
  const ids = read.getChild("id");
  const chunks = chunked ? read.getChild("chunk") : null;
  const rowIds = read.getChild("_rowid");
  const vectors = read.getChild("vector");
  if (!ids || !rowIds || !vectors) throw new Error("bug: unexpected shape of a filter's rows");
  const n = read.numRows;
  // Each row's vector is an Arrow vector of floats: read as an array.
  const vectorAt = (i: number) => (vectors.get(i) as { toArray(): ArrayLike<number> }).toArray();
  const dim = n > 0 ? vectorAt(0).length : 0;
  const subset: Subset = {
    version,
    ids: new Array<string>(n),
    chunks: new Array<number>(n),
    rowIds: new Array<bigint>(n),
    dim,
    vectors: new Float32Array(n * dim),
  };
  for (let i = 0; i < n; i++) {
    subset.ids[i] = ids.get(i) as string;
    subset.chunks[i] = (chunks?.get(i) as number | null) ?? 0;
    subset.rowIds[i] = BigInt(rowIds.get(i) as bigint | number);
    const v = vectorAt(i);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (v[d] as number) ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) subset.vectors[i * dim + d] = (v[d] as number) * scale;
  }
  return subset;
}

/** Exact top `limit` by cosine distance (LanceDB's: 1 − cosine similarity), nearest first; undefined for a zero query. */
function nearest(
  subset: Subset,
  query: Float32Array,
  limit: number,
): { at: number; distance: number }[] | undefined {
  const { dim, vectors } = subset;
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += (query[d] as number) ** 2;
  if (norm === 0) return undefined;
  const scale = 1 / Math.sqrt(norm);
  const best: { at: number; distance: number }[] = [];
  for (let i = 0; i < subset.ids.length; i++) {
    let dot = 0;
    const base = i * dim;
    for (let d = 0; d < dim; d++) dot += (vectors[base + d] as number) * (query[d] as number);
    const distance = 1 - dot * scale;
    if (best.length < limit) best.push({ at: i, distance });
    else if (distance < (best[limit - 1] as { distance: number }).distance)
      best[limit - 1] = { at: i, distance };
    else continue;
    // The new row sinks to its place (ties keep the earlier row first).
    for (let j = best.length - 1; j > 0 && (best[j - 1] as { distance: number }).distance > distance; j--) {
      [best[j - 1], best[j]] = [
        best[j] as { at: number; distance: number },
        best[j - 1] as { at: number; distance: number },
      ];
    }
  }
  return best;
}
