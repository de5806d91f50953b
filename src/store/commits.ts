import type { ChunkToWrite } from "./vector-store.js";

/**
 * The seam every commit of the store passes through: after each commit it makes (rows written or
 * deleted, columns added, an index built, fragments merged) the store publishes what changed, and
 * whoever keeps something derived from the tables (the vector cache) subscribes instead of being
 * called from each write path. No LanceDB types cross it, so another backend can publish the same.
 *
 * Guarantees to subscribers: a write's commits are published before the collection's write lock is
 * released, so writes arrive in commit order; index builds run outside the lock and say what they
 * know of the version before (see `index`); a compaction on a local disk runs beside the writes
 * and is published once it is done, possibly after later writes (see `optimize`). A call that committed nothing publishes nothing.
 * Commits made by other processes (or machines, on shared object storage) are not published here:
 * a subscriber tells them by the table's version when it next reads, as the vector cache does.
 */

interface Committed {
  collection: string;
  /** Which of the collection's tables the commit went to (see lance/generations.ts). */
  generation: number;
  /** The table version the commit made (LanceDB's manifest version, on any storage). */
  version: number;
}

/** Where rows are physically in a table version, a batch at a time: a reader can fetch row i by `rowId(i)`. */
export interface RowLocations {
  size: number;
  id(i: number): string;
  chunk(i: number): number;
  rowId(i: number): bigint;
}

export type Commit =
  /** The collection's table was created holding its first rows. */
  | (Committed & { kind: "create"; dimensions: number; rows: readonly ChunkToWrite[] })
  /** Rows appended, none of whose ids was stored. */
  | (Committed & { kind: "add"; rows: readonly ChunkToWrite[] })
  /** Rows merged by (id, chunk): each id's rows replace every row stored under that id. */
  | (Committed & { kind: "merge"; rows: readonly ChunkToWrite[] })
  /** These documents were removed, each with all its chunks. */
  | (Committed & { kind: "delete"; removed: readonly string[] })
  /** Columns added; no row changed. The table went from `before` to `version` (one commit or more). */
  | (Committed & { kind: "schema"; before: number })
  /**
   * An index on `column` exists now (built here, or found built by another process); no row changed.
   * `before`: the version read before the build, or undefined when it was not read.
   */
  | (Committed & { kind: "index"; column: string; before: number | undefined })
  /**
   * Fragments merged, indexes updated and old versions removed: rows moved (new row ids), none
   * changed. The compaction read `before` and made commits up to `version`; it may run beside
   * this process's writes (see LanceStore.compact), so it can be published after commits of theirs
   * that came later, and the versions between are the compaction's and theirs.
   */
  | (Committed & { kind: "optimize"; before: number })
  /** Re-embedded: a new generation holding `rows` (all of them) replaced the collection's tables. */
  | (Committed & { kind: "rebuild"; rows: readonly ChunkToWrite[] })
  /**
   * Not a commit to a table, but the end of one: the collection was dropped, or its table vanished
   * under another process. Whatever a subscriber keeps of it is stale.
   */
  | { kind: "forget"; collection: string; reason: "dropped" | "vanished" };

export type CommitListener = (commit: Commit) => void | Promise<void>;

/** Publishes commits to its subscribers, one after another; a subscriber's failure fails the publishing call. */
export class CommitFeed {
  private readonly listeners = new Set<CommitListener>();

  /** Returns the function that unsubscribes. */
  subscribe(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(commit: Commit): Promise<void> {
    for (const listener of this.listeners) await listener(commit);
  }
}
