import type { Filter } from "../filter.js";
import { COLLECTION_NAME_PATTERN } from "../limits.js";
import type { ModelRecord } from "../model-record.js";

export type MetadataValue = string | number | boolean | string[];
export type Metadata = Record<string, MetadataValue>;

export interface StoredText {
  id: string;
  text: string;
  metadata: Metadata;
}

/**
 * Where a row sits in its document. Rows that share an id are the chunks of one document (a text
 * longer than the model's window); a document that fits is one row, chunk 0 at 0.
 */
export interface ChunkPosition {
  /** 0 for a document's first (or only) chunk. */
  chunk: number;
  /** Offset of the row's text in the document's whole text. */
  start: number;
}

/**
 * When a document was first written and last changed (text or metadata), as the store set them:
 * ISO 8601 in UTC with milliseconds. Null: stored before times were kept (unknown, not "now").
 */
export interface DocumentTimes {
  createdAt: string | null;
  updatedAt: string | null;
}

/** A row to write: one chunk of a document; without a position it is the whole document (chunk 0 at 0). */
export interface ChunkToWrite extends StoredText, Partial<ChunkPosition> {
  vector: Float32Array;
  /**
   * Times to store as they are (an import or restore, which carries them). Without them the store
   * sets them: now for a new document; a stored one keeps `createdAt` and gets a new `updatedAt`
   * only when its text or metadata changed.
   */
  times?: DocumentTimes | undefined;
}

/** A stored row: one chunk of a document. */
export interface StoredChunk extends StoredText, ChunkPosition, DocumentTimes {}

/** A stored row (one chunk of a document) as fetch returns it, with its vector when asked for. */
export interface FetchedChunk extends StoredChunk {
  vector?: Float32Array;
}

export interface Hit extends ChunkPosition, DocumentTimes {
  id: string;
  text: string;
  metadata: Metadata;
  /** Cosine distance, 1 - cosine similarity (0 = same direction, 2 = opposite). */
  distance: number;
  /** The stored vector, when asked for. */
  vector?: Float32Array;
}

/** A row (chunk) by its key, and its cosine distance to a query (see VectorStore.nearest). */
export interface NearestChunk {
  id: string;
  chunk: number;
  distance: number;
}

export interface KeywordHit extends ChunkPosition, DocumentTimes {
  id: string;
  text: string;
  metadata: Metadata;
  /** BM25 relevance from the full-text index (higher is better; not comparable across queries). */
  keywordScore: number;
  vector: Float32Array;
}

export interface CollectionInfo {
  name: string;
  /** Documents (not chunks). */
  count: number;
  model: ModelRecord;
}

export interface CollectionStats {
  documents: number;
  /** Stored rows: one per chunk, so more than `documents` when long texts were split. */
  chunks: number;
  /** Data fragments; many small ones mean compaction is due. */
  fragments: number;
  smallFragments: number;
  /** Bytes of data and index files. */
  bytes: number;
}

/** One index of a collection: whether it exists and how many rows (chunks) it covers. */
export interface IndexState {
  present: boolean;
  /** Rows the index covers, and rows written since (searched without it); 0 when absent. */
  indexedRows: number;
  unindexedRows: number;
}

/**
 * A collection's indexes: the vector index (built in the background above a size, see
 * lance/vector-index.ts) and the full-text index on `text` (made on the first keyword search).
 */
export interface CollectionIndexes {
  vector: IndexState;
  text: IndexState;
}

export interface SearchOptions {
  limit: number;
  where?: Filter;
  /** Return each hit's stored vector too (for re-ranking). */
  withVectors?: boolean;
}

/** One kept version of a collection's table: every commit makes one. */
export interface CollectionVersion {
  version: number;
  /** When it was committed (ISO 8601, UTC). */
  time: string;
  /** What the commit did, as its row statistics show: create, add, delete, update (rows rewritten in place, schema or index changes), compact. */
  operation: "create" | "add" | "delete" | "update" | "compact";
  /** Rows (chunks) in the table at this version, and the change from the version before. */
  rows: number;
  rowsChanged: number;
  /** Bytes of the files this version reads. */
  bytes: number;
}

/** What restoring a version does (or, on a dry run, would do), by document id. */
export interface RestorePlan {
  /** The version restored, and the latest version it replaces. */
  version: number;
  from: number;
  /** Documents at the restored version. */
  documents: number;
  /** Documents that come back (deleted since), go (added since), and change back. */
  back: string[];
  gone: string[];
  changed: string[];
  /** The new version the restore made (not on a dry run). */
  restoredAs?: number;
}

export type DeleteSelector = { ids: string[] } | { where: Filter };

export interface DeleteResult {
  /** Documents deleted, each with all its chunks. */
  deleted: number;
  /** Requested ids that were not in the collection (only for an ids selector). */
  notFound: string[];
}

/**
 * Vectors and plain objects in and out; the database's own types never cross this line.
 * Collection names are validated by the caller; the store still refuses names that are not plain.
 */
export interface VectorStore {
  /** Undefined when the collection does not exist. */
  getCollection(name: string): Promise<CollectionInfo | undefined>;
  /**
   * The collection's model record, undefined when it does not exist: getCollection without the
   * document count, which costs a scan (searches and writes need only the model).
   */
  collectionModel(name: string): Promise<ModelRecord | undefined>;
  /**
   * Writes documents in one commit: each id's rows (its chunks) replace every row stored under that
   * id, so a document that shrinks leaves no stale chunks. Counts are of documents (ids). Creates the
   * collection (recording `model`) if it does not exist; refuses to mix vectors of another model.
   * `created` is true only when this call made the collection (not when another process, racing
   * it, did first).
   */
  upsert(
    collection: string,
    model: ModelRecord,
    rows: ChunkToWrite[],
  ): Promise<{ inserted: number; updated: number; created: boolean }>;
  /** Nearest rows (chunks) to `vector`, best first. */
  search(collection: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]>;
  /**
   * The same nearest rows as search (no filter), as ids and distances only: no row is read back,
   * so the vector cache answers it from memory (the near-duplicate check of every add).
   */
  nearest(collection: string, vector: Float32Array, options: { limit: number }): Promise<NearestChunk[]>;
  /**
   * Rows (chunks) whose text is exactly `text`, each with its distance to `vector` (the text's
   * query embedding): at most `limit`, and only those `where` admits. A store may answer with the
   * `limit` nearest rows to `vector` instead (they hold such a text, which embeds as the query
   * does); the caller keeps the hits whose text is `text`.
   */
  textMatches(collection: string, text: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]>;
  /** Full-text (BM25) search over the rows' (chunks') text, best first, with their vectors. */
  keywordSearch(collection: string, query: string, options: SearchOptions): Promise<KeywordHit[]>;
  delete(collection: string, selector: DeleteSelector): Promise<DeleteResult>;
  /** Removes the whole collection; returns how many documents it held, or undefined if it did not exist. */
  dropCollection(collection: string): Promise<number | undefined>;
  listCollections(): Promise<CollectionInfo[]>;
  /**
   * A token that changes with every commit to the collection (another process's too) and when it
   * is re-embedded: while it stays the same, so do the rows, so a caller may keep what it derived
   * from them (the UI keeps sorted id lists and document vectors by it).
   */
  revision(collection: string): Promise<string>;
  /** The ids of every document matching `where` (all documents without it), each once, in no particular order. */
  listIds(collection: string, where?: Filter): Promise<string[]>;
  /**
   * For each text, the ids of up to `limit` documents whose first chunk's text begins it: every
   * stored document whose whole text equals it is among them (the caller checks whole texts). No
   * model is involved, so exact duplicates are found by text alone.
   */
  exactTextCandidates(collection: string, texts: string[], limit: number): Promise<string[][]>;
  /** Like listIds, with each document's times (null where unknown). */
  listTimes(collection: string, where?: Filter): Promise<Array<{ id: string } & DocumentTimes>>;
  /** Every row (chunk) of the documents with these ids that exist (any order), with vectors when asked. */
  fetch(collection: string, ids: string[], options?: { vectors?: boolean }): Promise<FetchedChunk[]>;
  /** Storage figures for one collection. */
  stats(collection: string): Promise<CollectionStats>;
  /** Which indexes the collection has and how much of it they cover. */
  indexes(collection: string): Promise<CollectionIndexes>;
  /** Every row (chunk) of a collection, with vectors when asked (one read of the table). */
  scan(collection: string, options?: { vectors?: boolean }): Promise<FetchedChunk[]>;
  /**
   * Re-embeds a whole collection under `model`: `rebuild` gets every row (chunk) and returns the rows
   * of the new version (chunked anew for the new model's window, if need be); it replaces the old one
   * atomically once complete. Writes to the collection from this process wait until it is done.
   * Returns the number of documents.
   */
  rebuildCollection(
    collection: string,
    model: ModelRecord,
    rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
  ): Promise<number>;
  /** The collection's kept versions, oldest first. */
  history(collection: string): Promise<CollectionVersion[]>;
  /**
   * Brings the collection back to a kept version (by number, or the newest at or before a time in
   * ms) as a new version: one commit, undoable by restoring the version it replaced. A dry run
   * only says what would change.
   */
  restore(
    collection: string,
    target: { version: number } | { at: number },
    options: { dryRun: boolean },
  ): Promise<RestorePlan>;
  /**
   * Copies every collection, each at the version it had when the backup began, into a new
   * database directory `dir`; writers go on meanwhile. Returns what was copied.
   */
  backup(dir: string): Promise<BackupEntry[]>;
  /** Copies every collection of a backup directory into this store; refuses collections that exist here. */
  restoreBackup(dir: string): Promise<BackupEntry[]>;
  close(): Promise<void>;
}

export interface BackupEntry {
  collection: string;
  /** The version copied (of the source). */
  version: number;
  /** Rows (chunks) copied. */
  rows: number;
}

/** One string per row: a document's id and which of its chunks the row holds. */
export function chunkKey(id: string, chunk: number): string {
  return JSON.stringify([id, chunk]);
}

/** Collection names become table and lock file names: the store refuses any that were not validated. */
export function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME_PATTERN.test(name))
    throw new Error(`bug: unvalidated collection name reached the store: ${name}`);
}
