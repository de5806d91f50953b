/**
 * When to compact a collection, and which old versions to remove.
 *
 * LanceDB's compaction (`optimize()`) rewrites every fragment under 1M rows, so below 1M rows each
 * compaction rewrites the whole table: its cost grows with the table, its benefit with the number
 * of small fragments (each adds ~0.2 ms to a LanceDB search; unfiltered searches run on the vector
 * cache and do not care). Compacting every 50 writes rewrote the whole table every 50 one-row
 * writes (measured: 57x the live data on disk at 10k rows, and write stalls of 1.4 s at 10k, 7.8 s
 * at 1M). So compaction waits until the small fragments are many relative to the rows: at most one
 * rewrite of the table per ROWS_PER_FRAGMENT rows' worth of fragments, and never before
 * MIN_SMALL_FRAGMENTS.
 */

/** How often (in writes to a collection) the store looks at its fragments. */
export const CHECK_EVERY = 16;
/**
 * A due compaction waits for this long without writes to the collection, so batched ingest and
 * bursts of tool calls are not stalled behind table rewrites (measured at 100k rows: batched ingest
 * 19k rows/s without compactions in between, 12k with them)...
 */
export const IDLE_MS = 1000;
/** ...unless the small fragments pile up to this many times the due count: then it runs at once... */
export const OVERDUE_FACTOR = 4;
/**
 * ...or writes have not paused for this long: then it runs once due. Agents sharing one server
 * write without pause, and keyword and filtered searches (LanceDB's, not the vector cache's) slow
 * with every small fragment: measured with 8 HTTP clients for 60 s (bench/http-load.ts), waiting
 * for 4x due gave a search p50 of 201 ms and 629 writes, compacting once due 80 ms and 1,131.
 * Batched ingest still runs its first seconds without a compaction in between.
 */
export const MAX_BUSY_MS = 5000;
/** Small fragments below which a collection is never compacted automatically. */
export const MIN_SMALL_FRAGMENTS = 32;
/** Above MIN_SMALL_FRAGMENTS, one small fragment more is allowed per this many rows. */
export const ROWS_PER_FRAGMENT = 2000;

export function compactionDue(stats: { rows: number; smallFragments: number }, factor = 1): boolean {
  return (
    stats.smallFragments >= factor * Math.max(MIN_SMALL_FRAGMENTS, Math.ceil(stats.rows / ROWS_PER_FRAGMENT))
  );
}

/**
 * Versions older than the compaction's start are removed with it, so the table's previous copy goes
 * at once instead of after a grace period (a 2-minute grace kept dozens of copies). A reader in
 * another process still on such a version gets "not found" and the store reopens the table and
 * retries (LanceStore.retrying); versions made while the compaction ran are kept.
 */
export function cleanupCutoff(compactionStarted: number): Date {
  return new Date(compactionStarted);
}
