import * as lancedb from "@lancedb/lancedb";
import type { Logger } from "../../logger.js";
import { isAlreadyExists } from "./errors.js";

/**
 * A vector index (IVF_HNSW_SQ) for large collections, built in the background.
 *
 * Measured here (bench/RESULTS.md, "Store performance", 2 shared cores): the exact SIMD scan of
 * the vector cache costs about 10 ms per 100k rows of 384 floats, so past ~200k rows it no
 * longer answers within 20 ms; LanceDB's IVF_HNSW_SQ (m 16, ef_construction 100, one partition
 * per 250k rows) answered in 2-3 ms at recall@10 0.97-0.99 at 1M, but took 28-80 s to build at
 * 100k and 257 s at 1M. So it is built above ANN_MIN_ROWS, without holding the collection's write
 * lock (LanceDB's commit protocol orders it against writes), and compaction (optimize) folds new
 * rows into it. Rows not yet indexed are still found: LanceDB searches them exhaustively.
 *
 * Which searches use it: filtered ones, and unfiltered ones on collections too large for the
 * vector cache's memory budget; the rest stay exact on the cache.
 */
export const ANN_MIN_ROWS = 200_000;
/**
 * A build waits for the collection's writes to pause this long (at most INDEX_MAX_WAIT_MS): the
 * build is minutes of both cores, and batched ingest would run beside it at a fraction of its speed.
 */
export const INDEX_IDLE_MS = 2000;
/** Writes that never pause (agents sharing one server) get their index after this long anyway. */
export const INDEX_MAX_WAIT_MS = 120_000;
const ROWS_PER_PARTITION = 250_000;
/** Probes every partition up to 4M rows (one per 250k). */
export const ANN_NPROBES = 16;
/** ef 128: recall@10 0.988 at 1M (0.972 with 64) for under 1 ms more. */
export const ANN_EF = 128;
/**
 * Re-rank 2k candidates with the full vectors. At 1M (bench/RESULTS.md, run E) ef 128 gave recall
 * 0.984 at 12.7 ms p50 and 0.992 with refine 2 at 14.7 ms; one build measured 0.934 without it.
 */
export const ANN_REFINE = 2;

export function vectorIndexConfig(rows: number): lancedb.Index {
  return lancedb.Index.hnswSq({
    distanceType: "cosine",
    numPartitions: Math.max(1, Math.round(rows / ROWS_PER_PARTITION)),
    m: 16,
    efConstruction: 100,
  });
}

export async function hasVectorIndex(table: lancedb.Table): Promise<boolean> {
  return (await table.listIndices()).some((index) => index.columns.includes("vector"));
}

/** One background build per collection at a time; failures are logged and retried at the next call. */
export class VectorIndexer {
  private readonly builds = new Map<string, Promise<void>>();
  /** Collections whose index is being built now (see building). */
  private readonly active = new Set<string>();
  /** Aborted by close: builds still waiting for a pause give up, none start. */
  private readonly closing = new AbortController();

  /**
   * `quiet`: settles when the collection's writes pause (see INDEX_IDLE_MS); a build started in
   * the middle of a batched ingest took the 2 cores from it (store-bench, 400k rows: 92.5 s of
   * ingest with it, 28.9 s waiting; 1M: 681 s and 50 s).
   */
  constructor(
    private readonly logger: Logger,
    private readonly minRows = ANN_MIN_ROWS,
    private readonly quiet: (collection: string, signal: AbortSignal) => Promise<void> = async () => {},
    /** Runs the build itself apart from the collection's compactions (see LanceStore.housekeeping). */
    private readonly apart: (collection: string, build: () => Promise<void>) => Promise<void> = (_, build) =>
      build(),
  ) {}

  /**
   * Starts a build when the table has enough rows and no vector index; returns at once. `built`
   * hears the versions before and after, so a cache can follow a commit that changed no row.
   */
  maybeBuild(
    collection: string,
    table: lancedb.Table,
    built?: (before: number, after: number) => void | Promise<void>,
  ): void {
    if (this.builds.has(collection) || this.closing.signal.aborted) return;
    const build = this.build(collection, table, built)
      .catch((error: unknown) => {
        // Closed under it: the table went with the store, and the next process builds it.
        if (this.closing.signal.aborted) return;
        this.logger.warn(`vector index for "${collection}" not built (retried later): ${String(error)}`);
      })
      .finally(() => this.builds.delete(collection));
    this.builds.set(collection, build);
  }

  /** Whether the collection's index is being built now (past the wait for the writes to pause). */
  building(collection: string): boolean {
    return this.active.has(collection);
  }

  /** Settles when the build in flight for this collection (if any) has. */
  async settled(collection: string): Promise<void> {
    await this.builds.get(collection);
  }

  /**
   * Builds waiting for the writes to pause are dropped; one already in LanceDB is not waited for
   * (at 1M rows it takes minutes; an index commits whole or not at all), only kept from logging.
   */
  close(): void {
    this.closing.abort();
  }

  private async build(
    collection: string,
    table: lancedb.Table,
    built?: (before: number, after: number) => void | Promise<void>,
  ): Promise<void> {
    if ((await table.countRows()) < this.minRows || (await hasVectorIndex(table))) return;
    try {
      await this.quiet(collection, this.closing.signal);
    } catch (error) {
      if (this.closing.signal.aborted) return;
      throw error;
    }
    await this.apart(collection, async () => {
      if (this.closing.signal.aborted) return;
      this.active.add(collection);
      try {
        await this.buildNow(collection, table, built);
      } finally {
        this.active.delete(collection);
      }
    });
  }

  private async buildNow(
    collection: string,
    table: lancedb.Table,
    built?: (before: number, after: number) => void | Promise<void>,
  ): Promise<void> {
    const rows = await table.countRows();
    if (await hasVectorIndex(table)) return;
    const started = Date.now();
    const before = await table.version();
    this.logger.info(`building a vector index for "${collection}" (${rows} rows) in the background`);
    try {
      await table.createIndex("vector", { config: vectorIndexConfig(rows), replace: false });
    } catch (error) {
      // Another process built it first: that is the index we wanted.
      if (!isAlreadyExists(error)) throw error;
    }
    await built?.(before, await table.version());
    this.logger.info(
      `vector index for "${collection}" built in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
}
