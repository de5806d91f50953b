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

import { setTimeout as sleep } from "node:timers/promises";

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
 * Old versions are history: `history` lists them and `restore` brings one back. A compaction
 * removes those older than HISTORY_MS before its start, unless the collection's files on disk
 * already exceed HISTORY_CAP_BYTES: then every version older than the compaction goes (as before
 * history was kept: a 2-minute grace kept dozens of copies), so retention never costs more than
 * the cap. A reader in another process still on a removed version gets "not found" and the store
 * reopens the table and retries (LanceStore.retrying); versions made while the compaction ran are
 * kept.
 */
export const HISTORY_MS = 3 * 86_400_000;
/** Per collection: its table's files (live data, indexes and the old versions' data). */
export const HISTORY_CAP_BYTES = 1024 ** 3;

export function cleanupCutoff(compactionStarted: number, keepMs = 0, overCap = false): Date {
  return new Date(overCap ? compactionStarted : compactionStarted - keepMs);
}

export interface CompactionTiming {
  /** Look at a collection's fragments after this many writes to it, compacting when overdue. */
  every: number;
  /** A due compaction waits for this many ms without writes. */
  idleMs: number;
  /** ...but no longer than this many ms of writes without such a pause. */
  maxBusyMs: number;
}

/**
 * When, by the policy above, to compact each collection. Every write is a commit and a new small
 * fragment; agents write one memory at a time, so without compaction LanceDB's search slows down
 * steadily (measured: 300 one-row adds took vector search from 2 to 32 ms p50; one optimize()
 * brought it back). `compact(collection, factor)` compacts if the fragments are `factor` times due.
 */
export class CompactionScheduler {
  private readonly writesSinceCompaction = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly idleTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** When the current run of writes without an idle pause began, per collection. */
  private readonly busySince = new Map<string, number>();
  /** When each collection was last written (by this process). */
  private readonly lastWrite = new Map<string, number>();

  constructor(
    private readonly compact: (collection: string, factor: number) => Promise<void>,
    private readonly timing: CompactionTiming,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Counts a write. Once the collection has been idle for `idleMs`, compacts it in the background
   * if due; every `every` writes, compacts it at once if overdue, or if due when writes have not
   * paused for `maxBusyMs`.
   */
  noteWrite(collection: string): void {
    this.lastWrite.set(collection, Date.now());
    const pending = this.idleTimers.get(collection);
    if (pending === undefined) this.busySince.set(collection, Date.now());
    clearTimeout(pending);
    const timer = setTimeout(() => {
      this.idleTimers.delete(collection);
      this.busySince.delete(collection);
      this.start(collection, 1);
    }, this.timing.idleMs);
    // A pending compaction never keeps the process alive.
    timer.unref();
    this.idleTimers.set(collection, timer);
    const writes = (this.writesSinceCompaction.get(collection) ?? 0) + 1;
    if (writes < this.timing.every) {
      this.writesSinceCompaction.set(collection, writes);
      return;
    }
    this.writesSinceCompaction.set(collection, 0);
    const busy = Date.now() - (this.busySince.get(collection) ?? Date.now());
    this.start(collection, busy >= this.timing.maxBusyMs ? 1 : OVERDUE_FACTOR);
  }

  /**
   * Settles once the collection has had no write for `idleMs`, or after `maxMs` in any case: for
   * background work that would slow the writes (a vector index build). Keeps no process alive;
   * rejects (AbortError) once `signal` aborts.
   */
  async quiet(collection: string, idleMs: number, maxMs: number, signal?: AbortSignal): Promise<void> {
    const started = Date.now();
    for (;;) {
      const now = Date.now();
      const idle = now - (this.lastWrite.get(collection) ?? 0);
      const left = maxMs - (now - started);
      if (idle >= idleMs || left <= 0) return;
      signal?.throwIfAborted();
      await sleep(Math.min(idleMs - idle, left), undefined, { ref: false, ...(signal ? { signal } : {}) });
    }
  }

  /** Cancels pending compactions and waits for those in flight (each is one commit; closing under it would fail it midway). */
  async close(): Promise<void> {
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all(this.running.values());
  }

  private start(collection: string, factor: number): void {
    if (this.running.has(collection)) return;
    const run = this.compact(collection, factor)
      .catch((error: unknown) =>
        this.warn(`compaction of "${collection}" failed (retried later): ${String(error)}`),
      )
      .finally(() => this.running.delete(collection));
    this.running.set(collection, run);
  }
}
