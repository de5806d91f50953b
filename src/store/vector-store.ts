import type { ModelRecord } from "../embeddings/embedder.js";
import type { Filter } from "../filter.js";

export type MetadataValue = string | number | boolean | string[];
export type Metadata = Record<string, MetadataValue>;

export interface StoredText {
  id: string;
  text: string;
  metadata: Metadata;
}

export interface StoredDocument extends StoredText {
  vector: Float32Array;
}

export interface FetchedDocument extends StoredText {
  vector?: Float32Array;
}

export interface Hit {
  id: string;
  text: string;
  metadata: Metadata;
  /** Cosine distance, 1 - cosine similarity (0 = same direction, 2 = opposite). */
  distance: number;
  /** The stored vector, when asked for. */
  vector?: Float32Array;
}

export interface KeywordHit {
  id: string;
  text: string;
  metadata: Metadata;
  /** BM25 relevance from the full-text index (higher is better; not comparable across queries). */
  keywordScore: number;
  vector: Float32Array;
}

export interface CollectionInfo {
  name: string;
  count: number;
  model: ModelRecord;
}

export interface CollectionStats {
  documents: number;
  /** Data fragments; many small ones mean compaction is due. */
  fragments: number;
  smallFragments: number;
  /** Bytes of data and index files. */
  bytes: number;
}

export interface SearchOptions {
  limit: number;
  where?: Filter;
  /** Return each hit's stored vector too (for re-ranking). */
  withVectors?: boolean;
}

export type DeleteSelector = { ids: string[] } | { where: Filter };

export interface DeleteResult {
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
   * Inserts rows, replacing rows with the same id, in one commit. Creates the collection
   * (recording `model`) if it does not exist; refuses to mix vectors of another model.
   */
  upsert(
    collection: string,
    model: ModelRecord,
    rows: StoredDocument[],
  ): Promise<{ inserted: number; updated: number }>;
  search(collection: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]>;
  /** Full-text (BM25) search over the documents' text, best first, with their vectors. */
  keywordSearch(collection: string, query: string, options: SearchOptions): Promise<KeywordHit[]>;
  delete(collection: string, selector: DeleteSelector): Promise<DeleteResult>;
  /** Removes the whole collection; returns how many rows it held, or undefined if it did not exist. */
  dropCollection(collection: string): Promise<number | undefined>;
  listCollections(): Promise<CollectionInfo[]>;
  /** The ids of every document matching `where` (all documents without it), in no particular order. */
  listIds(collection: string, where?: Filter): Promise<string[]>;
  /** The documents with these ids that exist (any order), with vectors when asked. */
  fetch(collection: string, ids: string[], options?: { vectors?: boolean }): Promise<FetchedDocument[]>;
  /** Storage figures for one collection. */
  stats(collection: string): Promise<CollectionStats>;
  /** Every document of a collection, without vectors. */
  scan(collection: string): Promise<StoredText[]>;
  /**
   * Re-embeds a whole collection under `model`: `embed` gets every document and returns their
   * vectors; the new version replaces the old one atomically once complete. Writes to the
   * collection from this process wait until it is done. Returns the number of documents.
   */
  rebuildCollection(
    collection: string,
    model: ModelRecord,
    embed: (documents: StoredText[]) => Promise<Float32Array[]>,
  ): Promise<number>;
  close(): Promise<void>;
}
