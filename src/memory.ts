import { randomUUID } from "node:crypto";
import { chunkText, joinChunks, type TextChunk } from "./chunking.js";
import {
  byCodeUnit,
  DuplicateMatrix,
  documentVector,
  mergedMetadataChanges,
  stableSample,
} from "./curation.js";
import { type Embedder, type ModelRecord, ModelUnavailableError } from "./embeddings/embedder.js";
import { type ModelSpec, specFromRecord, specId } from "./embeddings/model-spec.js";
import type { EmbedderRegistry } from "./embeddings/registry.js";
import { MemoryError, throwIfCancelled, unknownCollectionError } from "./errors.js";
import { type Filter, parseWhere } from "./filter.js";
import { KeyedQueue } from "./keyed-queue.js";
import { LIMITS } from "./limits.js";
import type { Logger } from "./logger.js";
import { describeModel } from "./model-record.js";
import {
  bestChunkPerDocument,
  type Candidate,
  finalPage,
  type GroupBy,
  rankChunks,
  type SearchMode,
  type SearchResult,
  weightByRecency,
} from "./search-ranking.js";
import type {
  BackupEntry,
  ChunkToWrite,
  CollectionIndexes,
  CollectionInfo,
  CollectionStats,
  CollectionVersion,
  DeleteResult,
  DocumentTimes,
  FetchedChunk,
  Metadata,
  MetadataValue,
  RestorePlan,
  StoredChunk,
  StoredText,
  VectorStore,
} from "./store/vector-store.js";

export interface NewDocument {
  id?: string | undefined;
  text: string;
  metadata?: Metadata | undefined;
  /** Times to keep as they are (an import carries them); otherwise the store sets them. */
  times?: DocumentTimes | undefined;
}

/** How add_documents looks for stored documents that a new one repeats. */
export interface DuplicateCheck {
  /** Cosine at or above which a stored document counts as a near-duplicate. */
  threshold: number;
  /** "add" stores the document anyway and reports it; "skip" leaves it out. */
  onDuplicate: "add" | "skip";
}

export interface Duplicate {
  /** The new document. */
  id: string;
  /** The stored document it repeats: the closest one. */
  duplicateOf: string;
  /** Their cosine similarity (1 for an exact repeat). */
  score: number;
  /** Same text exactly, found by text alone. */
  exact: boolean;
}

export interface AddResult {
  collection: string;
  ids: string[];
  /** Chunks each document was stored as, in the order of `ids`: more than 1 for a text longer than the model's window. */
  chunks: number[];
  added: number;
  replaced: number;
  created: boolean;
  model: ModelRecord;
  /** New documents that repeat a stored one (with a duplicate check), in the order of `ids`. */
  duplicates: Duplicate[];
  /** Documents not stored because they repeat a stored one (on_duplicate "skip"). */
  skipped: string[];
}

export type { GroupBy, MatchKind, SearchMode, SearchResult } from "./search-ranking.js";

export interface SearchOptions {
  limit: number;
  mode: SearchMode;
  where?: Record<string, unknown> | undefined;
  /** Drop results whose cosine score is below this. */
  minScore?: number | undefined;
  /** 0-1: trade relevance for variety among the results (maximal marginal relevance). */
  diversity?: number | undefined;
  /** Default "document". */
  groupBy?: GroupBy | undefined;
  /** Weight each result by its age (from updated_at): halved every this many days. Off when undefined. */
  recencyHalfLifeDays?: number | undefined;
  onProgress?: Progress | undefined;
}

export interface SearchResponse {
  results: SearchResult[];
  /**
   * The query is longer than the model's window: its meaning was read from the window's worth of it
   * (keyword search used all of it). Only queries are ever cut; stored texts are split instead.
   */
  queryTruncated: boolean;
}

export type DeleteRequest = { ids: string[] } | { where: Record<string, unknown> } | { dropCollection: true };

export interface DeleteOutcome extends DeleteResult {
  droppedCollection: boolean;
  dryRun: boolean;
  /** On a dry run: the ids that would be deleted (at most DRY_RUN_IDS of them). */
  ids?: string[];
}

/** How a listing is ordered: by id, or newest first by a time (unknown times last, ties by id). */
export type DocumentOrder = "id" | "created_at" | "updated_at";

export type GetRequest =
  | { ids: string[] }
  | {
      where?: Record<string, unknown> | undefined;
      limit: number;
      cursor?: string | undefined;
      orderBy?: DocumentOrder | undefined;
    };

export interface WholeDocument extends StoredText, DocumentTimes {
  /** Chunks the document is stored as: more than 1 for a text longer than the model's window. */
  chunks: number;
}

export interface GetResult {
  documents: WholeDocument[];
  /** Requested ids that do not exist (ids requests only). */
  notFound: string[];
  /** Pass back as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
  /** How many documents match in all. */
  total: number;
}

export interface DocumentUpdate {
  id: string;
  text?: string | undefined;
  /** Merged into the stored metadata; a key set to null is removed. */
  metadata?: Record<string, MetadataValue | null> | undefined;
}

export interface UpdateResult {
  collection: string;
  updated: string[];
  reembedded: number;
  notFound: string[];
}

export interface DocumentWithVector extends StoredText {
  chunks: number;
  vector: Float32Array;
}

export interface DuplicatePair {
  /** Cosine similarity of the two documents' closest chunks. */
  score: number;
  a: StoredText;
  b: StoredText;
}

/** Nearest chunks each document is compared with when looking for duplicates. */
/** Sorted id lists VectorMemory keeps (see sortedIds). */
const ID_LISTS_KEPT = 8;

/** How many ids a dry run lists; the count is always exact. */
export const DRY_RUN_IDS = 1000;

export interface ProgressUpdate {
  progress: number;
  total: number;
  message: string;
}

export type Progress = (update: ProgressUpdate) => void;

/**
 * Progress on one scale for a whole call: 0-1 while the model loads (file bytes), then 1 + documents
 * embedded. MCP requires progress to increase with each notification, so smaller values are dropped.
 */
class ProgressReporter {
  private last = -1;

  constructor(
    private readonly sink: Progress | undefined,
    private total: number,
  ) {}

  /** Once texts are split into chunks, the work is counted in chunks. */
  setTotal(total: number): void {
    this.total = total;
  }

  report(progress: number, message: string): void {
    if (!this.sink || progress <= this.last) return;
    this.last = progress;
    this.sink({ progress, total: this.total, message });
  }
}

export interface VectorMemoryDeps {
  store: VectorStore;
  embedders: EmbedderRegistry;
  /** The model new collections are made with. */
  defaultModel: ModelSpec;
  logger: Logger;
  /** The clock recency weighs ages against, in ms (default Date.now). */
  now?: () => number;
}

/** Texts (chunks) embedded per step of a large add: the unit of progress reporting and cancellation. */
export const EMBED_STEP = 64;

/** Rows a search reads at most while collecting enough distinct documents from their chunks. */
const MAX_SEARCH_POOL = 2000;

/** Stored documents per new text that may hold it exactly (see exactTextCandidates). */
const EXACT_CANDIDATES = 20;

/** Above this cosine a near-duplicate's text is compared with the new one's, to report it exact. */
const EXACT_COSINE = 0.999;

/** A long document is compared with stored ones by its first chunks only. */
const DUPLICATE_CHUNKS = 2;

/** Closest chunks by meaning that a keyword search looks through for a text equal to the query. */
const EXACT_PROBE = 10;

/**
 * The memory itself: text in, vectors through the collection's own model, rows into the store.
 * Tools and the CLI are thin shells around this; all behaviour lives here or below.
 */
export class VectorMemory {
  private readonly collectionListeners = new Set<() => void>();
  /** Adds with on_duplicate "skip" check and write one at a time per collection (see addDocuments). */
  private readonly skipQueue = new KeyedQueue();

  /** Sorted id lists by collection and filter, each valid for one store revision (see sortedIds). */
  private readonly idLists = new Map<string, { revision: string; ids: Promise<string[]> }>();
  /** The last collection's duplicate matrix, valid for one store revision (see nearDuplicates). */
  private duplicateMatrix:
    | { collection: string; revision: string; matrix: Promise<DuplicateMatrix> }
    | undefined;

  constructor(private readonly deps: VectorMemoryDeps) {}

  /**
   * The ids of the documents matching `where`, sorted (byCodeUnit). Kept per store revision, so
   * paging through a collection lists and sorts its ids once per commit, not once per page. The
   * array is shared: callers must not change it.
   */
  private async sortedIds(collection: string, where: Filter | undefined): Promise<string[]> {
    const revision = await this.deps.store.revision(collection);
    const key = JSON.stringify([collection, where ?? null]);
    const kept = this.idLists.get(key);
    if (kept?.revision === revision) return kept.ids;
    const ids = this.deps.store.listIds(collection, where).then(sortIds);
    this.idLists.delete(key);
    this.idLists.set(key, { revision, ids });
    ids.catch(() => {
      if (this.idLists.get(key)?.ids === ids) this.idLists.delete(key);
    });
    // A few lists (the unfiltered one and the filters last paged through); the oldest go first.
    while (this.idLists.size > ID_LISTS_KEPT) this.idLists.delete(this.idLists.keys().next().value as string);
    return ids;
  }

  /** Called when a collection is created, dropped or re-embedded (for resource list notifications). */
  onCollectionsChanged(listener: () => void): () => void {
    this.collectionListeners.add(listener);
    return () => this.collectionListeners.delete(listener);
  }

  private collectionsChanged(): void {
    for (const listener of this.collectionListeners) listener();
  }

  get defaultModel(): ModelSpec {
    return this.deps.defaultModel;
  }

  async addDocuments(
    collection: string,
    documents: NewDocument[],
    options: {
      onProgress?: Progress;
      signal?: AbortSignal;
      model?: ModelSpec;
      /** Look for stored documents each new one repeats (see DuplicateCheck); none when absent. */
      duplicates?: DuplicateCheck;
    } = {},
  ): Promise<AddResult> {
    const ids = documents.map((doc) => doc.id ?? randomUUID());
    assertUniqueIds(ids);
    const progress = new ProgressReporter(options.onProgress, documents.length + 1);
    const existing = await this.deps.store.collectionModel(collection);
    const { embedder, record } = await this.embedderFor(collection, existing, progress, options.model);
    const check = existing ? options.duplicates : undefined;
    const incoming = documents.map((doc, i) => ({
      id: ids[i] as string,
      text: doc.text,
      metadata: doc.metadata ?? {},
    }));
    // Exact repeats first, by text alone (no model involved); with "skip" they are never embedded.
    const skip = check?.onDuplicate === "skip";
    const writing = new Set(ids);
    const exactFirst = check ? await this.exactDuplicates(collection, incoming, writing) : new Map();
    const toEmbed = skip ? incoming.filter((doc) => !exactFirst.has(doc.id)) : incoming;

    const embedded = await this.embedChunked(embedder, toEmbed, progress, options.signal);
    throwIfCancelled(options.signal);
    // With "skip", the checks and the write run one call at a time per collection in this process
    // (the shared daemon makes that every local client), checked again once the call's turn comes:
    // two calls adding one text at once must not both store it.
    const write = async (): Promise<AddResult> => {
      const exact = skip
        ? new Map([...exactFirst, ...(await this.exactDuplicates(collection, toEmbed, writing))])
        : exactFirst;
      const found: Duplicate[] = [...exact.values()];
      if (check) {
        const near = await this.closestStored(collection, embedded, exact, writing, check);
        found.push(...(await this.markExact(collection, near, incoming)));
      }
      const skipped = new Set(skip ? found.map((d) => d.id) : []);
      const given = new Map(
        documents.flatMap((doc, i) => (doc.times ? [[ids[i] as string, doc.times]] : [])),
      );
      const rows = embedded
        .filter((row) => !skipped.has(row.id))
        .map((row) => (given.has(row.id) ? { ...row, times: given.get(row.id) } : row));

      // One upsert, one commit: a call is stored whole or not at all, and repeating it changes nothing.
      const { inserted, updated, created } = await this.deps.store.upsert(collection, record, rows);
      // The list this server's clients saw changed, whoever made the collection.
      if (existing === undefined) this.collectionsChanged();
      const chunks = new Map<string, number>();
      for (const row of rows) chunks.set(row.id, (chunks.get(row.id) ?? 0) + 1);
      const order = new Map(ids.map((id, i) => [id, i]));
      return {
        collection,
        ids,
        chunks: ids.map((id) => chunks.get(id) ?? 0),
        added: inserted,
        replaced: updated,
        created,
        model: record,
        duplicates: found.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)),
        skipped: ids.filter((id) => skipped.has(id)),
      };
    };
    return skip ? this.skipQueue.run(collection, write) : write();
  }

  /** New documents whose text a stored document (not one this call writes) has exactly, found without the model. */
  private async exactDuplicates(
    collection: string,
    documents: StoredText[],
    writing: ReadonlySet<string>,
  ): Promise<Map<string, Duplicate>> {
    const candidates = await this.deps.store.exactTextCandidates(
      collection,
      documents.map((doc) => doc.text),
      EXACT_CANDIDATES,
    );
    const others = [...new Set(candidates.flat())].filter((id) => !writing.has(id));
    const stored = wholeDocuments(others.length > 0 ? await this.deps.store.fetch(collection, others) : []);
    const found = new Map<string, Duplicate>();
    documents.forEach((doc, i) => {
      const same = (candidates[i] ?? []).filter((id) => stored.get(id)?.text === doc.text).sort()[0];
      if (same !== undefined) found.set(doc.id, { id: doc.id, duplicateOf: same, score: 1, exact: true });
    });
    return found;
  }

  /**
   * Near-duplicates whose stored document has exactly the new text become exact ones (score 1):
   * the texts the text scan cannot look for (a NUL in them).
   */
  private async markExact(
    collection: string,
    near: Duplicate[],
    incoming: StoredText[],
  ): Promise<Duplicate[]> {
    const same = near.filter((d) => d.score > EXACT_COSINE);
    if (same.length === 0) return near;
    const stored = wholeDocuments(
      await this.deps.store.fetch(collection, [...new Set(same.map((d) => d.duplicateOf))]),
    );
    const texts = new Map(incoming.map((doc) => [doc.id, doc.text]));
    return near.map((d) =>
      d.score > EXACT_COSINE && stored.get(d.duplicateOf)?.text === texts.get(d.id)
        ? { ...d, score: 1, exact: true }
        : d,
    );
  }

  /**
   * For each embedded document not already an exact repeat, the closest stored document (not one
   * this call writes) when its cosine reaches the threshold: the best over the document's first
   * chunks, each searched against every stored chunk.
   */
  private async closestStored(
    collection: string,
    rows: ChunkToWrite[],
    exact: ReadonlyMap<string, Duplicate>,
    writing: ReadonlySet<string>,
    check: DuplicateCheck,
  ): Promise<Duplicate[]> {
    const best = new Map<string, Duplicate>();
    const asked = rows.filter((row) => !exact.has(row.id) && (row.chunk ?? 0) < DUPLICATE_CHUNKS);
    // All at once: past the vector cache (LanceDB searching), the searches overlap.
    const found = await Promise.all(asked.map((row) => this.closestOther(collection, row.vector, writing)));
    for (const [i, row] of asked.entries()) {
      const hit = found[i];
      if (!hit) continue;
      const score = 1 - hit.distance;
      const seen = best.get(row.id);
      if (score >= check.threshold && (!seen || score > seen.score))
        best.set(row.id, { id: row.id, duplicateOf: hit.id, score, exact: false });
    }
    return [...best.values()];
  }

  /**
   * The stored chunk closest to `vector` that belongs to no document this call writes. Hits are
   * chunks: a long document being rewritten can fill any fixed number of them, so the search reads
   * deeper until a hit outside `writing` appears or the collection has no more.
   */
  private async closestOther(
    collection: string,
    vector: Float32Array,
    writing: ReadonlySet<string>,
  ): Promise<{ id: string; distance: number } | undefined> {
    for (let limit = Math.min(writing.size + 1, 20); ; limit = Math.min(limit * 4, MAX_SEARCH_POOL)) {
      const hits = await this.deps.store.nearest(collection, vector, { limit });
      const hit = hits.find((h) => !writing.has(h.id));
      if (hit || hits.length < limit || limit >= MAX_SEARCH_POOL) return hit;
    }
  }

  async search(collection: string, query: string, options: SearchOptions): Promise<SearchResponse> {
    const where = options.where ? parseWhere(options.where) : undefined;
    // The model only: getCollection would count the documents (a scan) on every search.
    const model = await this.deps.store.collectionModel(collection);
    if (!model) throw await this.unknownCollection(collection);
    const { embedder } = await this.embedderFor(
      collection,
      model,
      new ProgressReporter(options.onProgress, 1),
    );
    const vector = await embedder.embedQuery(query);
    const window = await embedder.tokenWindow();
    const queryTruncated = window.countTokens(query) > window.maxTokens;
    const diversity = options.diversity ?? 0;
    const byDocument = (options.groupBy ?? "document") === "document";
    // Fusion and diversity re-ranking need a deeper pool than the final page.
    // Fusion, diversity and recency re-ranking need a deeper pool than the final page.
    let pool =
      options.mode === "semantic" && diversity === 0 && options.recencyHalfLifeDays === undefined
        ? options.limit
        : Math.max(options.limit * 4, 20);
    for (;;) {
      const { ranked, exhausted } = await this.rankChunks(collection, query, vector, pool, where, options);
      // A document's chunks can fill the pool; read deeper until there are enough distinct documents.
      const results = byDocument ? bestChunkPerDocument(ranked) : ranked;
      if (results.length >= options.limit || exhausted || pool >= MAX_SEARCH_POOL) {
        return { results: finalPage(results, options.limit, diversity), queryTruncated };
      }
      pool = Math.min(pool * 4, MAX_SEARCH_POOL);
    }
  }

  /** The `pool` best chunks by the mode's ranking, above minScore; `exhausted` when no search has more. */
  private async rankChunks(
    collection: string,
    query: string,
    vector: Float32Array,
    pool: number,
    where: ReturnType<typeof parseWhere>,
    options: SearchOptions,
  ): Promise<{ ranked: Candidate[]; exhausted: boolean }> {
    const withVectors = (options.diversity ?? 0) > 0;
    const filter = where ? { where } : {};
    // Both sides at once: the keyword search runs in LanceDB's threads while the vector cache scans
    // on this one (hybrid at 100k rows: measured in bench/RESULTS.md, "Search paths").
    // A stored text asked for exactly is found in keyword mode too, even one with no indexed word
    // ("the", "!!!") or one that BM25 ranks below a longer text: the store compares texts, or
    // reads the few closest by meaning, which hold it (its vector is the query's). Semantic and
    // hybrid searches hold it in their own hits.
    const semanticLimit = options.mode === "keyword" ? EXACT_PROBE : pool;
    // Settled both before either's error is thrown: a side still running (the keyword side may be
    // building the text index) must not outlive the call, or a close right after races it.
    const [semanticHits, keyword] = await settledBoth(
      options.mode === "keyword"
        ? this.deps.store.textMatches(collection, query, vector, {
            limit: semanticLimit,
            withVectors,
            ...filter,
          })
        : this.deps.store.search(collection, vector, { limit: semanticLimit, withVectors, ...filter }),
      options.mode === "semantic"
        ? Promise.resolve([])
        : this.deps.store.keywordSearch(collection, query, { limit: pool, ...filter }),
    );
    const semantic = options.mode === "keyword" ? [] : semanticHits;
    const exact = options.mode === "keyword" ? semanticHits : [];
    // Semantic hits come best first: once the last one is below min_score, reading deeper finds nothing.
    const lastScore = 1 - (semantic.at(-1)?.distance ?? 2);
    const exhausted =
      (semantic.length < pool && keyword.length < pool) ||
      (options.mode === "semantic" && options.minScore !== undefined && lastScore < options.minScore);
    const ranked = rankChunks({
      mode: options.mode,
      query,
      queryVector: vector,
      semantic,
      keyword,
      exact,
      minScore: options.minScore,
    });
    if (options.recencyHalfLifeDays === undefined) return { ranked, exhausted };
    const now = (this.deps.now ?? Date.now)();
    return { ranked: weightByRecency(ranked, options.mode, options.recencyHalfLifeDays, now), exhausted };
  }

  async delete(
    collection: string,
    request: DeleteRequest,
    options: { dryRun?: boolean } = {},
  ): Promise<DeleteOutcome> {
    const where = "where" in request ? parseWhere(request.where) : undefined;
    if ("where" in request && !where) {
      throw new MemoryError(
        "invalid_filter",
        (say) =>
          `An empty where filter would delete every document. To empty the collection, use ${say.dropCollection}.`,
      );
    }
    if (options.dryRun) return this.deleteDryRun(collection, request, where);
    if ("dropCollection" in request) {
      const count = await this.deps.store.dropCollection(collection);
      if (count === undefined) throw await this.unknownCollection(collection);
      this.collectionsChanged();
      return { deleted: count, notFound: [], droppedCollection: true, dryRun: false };
    }
    const selector = where ? { where } : { ids: "ids" in request ? request.ids : [] };
    return {
      ...(await this.deps.store.delete(collection, selector)),
      droppedCollection: false,
      dryRun: false,
    };
  }

  private async deleteDryRun(
    collection: string,
    request: DeleteRequest,
    where: ReturnType<typeof parseWhere>,
  ): Promise<DeleteOutcome> {
    if ("ids" in request) {
      const requested = [...new Set(request.ids)];
      const found = new Set((await this.deps.store.fetch(collection, requested)).map((doc) => doc.id));
      const ids = requested.filter((id) => found.has(id));
      return {
        deleted: ids.length,
        notFound: requested.filter((id) => !found.has(id)),
        droppedCollection: false,
        dryRun: true,
        ids,
      };
    }
    const ids = await this.sortedIds(collection, where);
    return {
      deleted: ids.length,
      notFound: [],
      droppedCollection: "dropCollection" in request,
      dryRun: true,
      ids: ids.slice(0, DRY_RUN_IDS),
    };
  }

  /** Exact fetch by id, or a page of the documents matching `where`, ordered by id; no embedding. */
  async getDocuments(collection: string, request: GetRequest): Promise<GetResult> {
    if ("ids" in request) {
      const requested = [...new Set(request.ids)];
      const byId = wholeDocuments(await this.deps.store.fetch(collection, requested));
      return {
        documents: requested.flatMap((id) => byId.get(id) ?? []),
        notFound: requested.filter((id) => !byId.has(id)),
        nextCursor: null,
        total: byId.size,
      };
    }
    const where = request.where ? parseWhere(request.where) : undefined;
    const order = request.orderBy ?? "id";
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, order);
    // Keyset paging: each page starts after the last key returned, not at an offset, so pages stay
    // correct while documents are added, changed or removed between calls.
    if (order === "id") return this.pageById(collection, where, after?.id, request.limit);
    const keys = (await this.deps.store.listTimes(collection, where))
      .map((doc) => ({
        id: doc.id,
        at: timeMs(order === "created_at" ? doc.createdAt : doc.updatedAt),
      }))
      .sort(newestFirst);
    const rest = after === undefined ? keys : keys.filter((key) => newestFirst(key, after) > 0);
    const page = rest.slice(0, request.limit);
    return { ...(await this.pageOf(collection, page, rest.length > page.length, order)), total: keys.length };
  }

  /** A page of documents in id order after `after`: a binary search in the kept sorted ids. */
  private async pageById(
    collection: string,
    where: Filter | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<GetResult> {
    const ids = await this.sortedIds(collection, where);
    const start = after === undefined ? 0 : firstAfter(ids, after);
    const page = ids.slice(start, start + limit).map((id) => ({ id, at: null }));
    return { ...(await this.pageOf(collection, page, start + limit < ids.length, "id")), total: ids.length };
  }

  private async pageOf(
    collection: string,
    page: ListKey[],
    more: boolean,
    order: DocumentOrder,
  ): Promise<Omit<GetResult, "total">> {
    const byId = wholeDocuments(
      await this.deps.store.fetch(
        collection,
        page.map((key) => key.id),
      ),
    );
    const last = page.at(-1);
    return {
      documents: page.flatMap((key) => byId.get(key.id) ?? []),
      notFound: [],
      nextCursor: more && last !== undefined ? encodeCursor(order, last) : null,
    };
  }

  /**
   * Changes stored documents in place: metadata is merged without re-embedding; a changed text is
   * re-embedded with the collection's model. All updates land in one commit.
   */
  async updateDocuments(
    collection: string,
    updates: DocumentUpdate[],
    options: { onProgress?: Progress; signal?: AbortSignal } = {},
  ): Promise<UpdateResult> {
    assertUniqueIds(updates.map((u) => u.id));
    const model = await this.deps.store.collectionModel(collection);
    if (!model) throw await this.unknownCollection(collection);
    const stored = await this.deps.store.fetch(
      collection,
      updates.map((u) => u.id),
      { vectors: true },
    );
    const existing = chunksById(stored);
    const rows: ChunkToWrite[] = [];
    const changed: StoredText[] = [];
    for (const update of updates) {
      const chunks = existing.get(update.id);
      if (!chunks?.every((chunk) => chunk.vector)) continue;
      const oldText = joinChunks(chunks);
      const text = update.text ?? oldText;
      const metadata = mergeMetadata(update.id, chunks[0]?.metadata ?? {}, update.metadata);
      // Same text: every chunk keeps its vector and position and takes the new metadata.
      if (text === oldText) rows.push(...chunks.map((chunk) => ({ ...chunk, metadata }) as ChunkToWrite));
      else changed.push({ id: update.id, text, metadata });
    }
    if (changed.length > 0) {
      const progress = new ProgressReporter(options.onProgress, changed.length + 1);
      const { embedder } = await this.embedderFor(collection, model, progress);
      rows.push(...(await this.embedChunked(embedder, changed, progress, options.signal)));
    }
    throwIfCancelled(options.signal);
    // Each document's new chunks replace all its old ones (a shorter text leaves none behind).
    await this.deps.store.upsert(collection, model, rows);
    return {
      collection,
      updated: updates.map((u) => u.id).filter((id) => existing.has(id)),
      reembedded: changed.length,
      notFound: updates.filter((u) => !existing.has(u.id)).map((u) => u.id),
    };
  }

  /**
   * Each document's vector (its chunks' mean, unit length) with its text and metadata, for the
   * UI's map. Above `max` documents, a stable sample of `max` (see `stableSample`); `total` says how
   * many matched.
   */
  async documentVectors(
    collection: string,
    options: { where?: Record<string, unknown> | undefined; max: number },
  ): Promise<{ total: number; documents: DocumentWithVector[] }> {
    const where = options.where ? parseWhere(options.where) : undefined;
    if (!(await this.deps.store.getCollection(collection))) throw await this.unknownCollection(collection);
    // Unfiltered, one read of the whole table beats fetching the sample by lists of ids (each list
    // is a scan of its own); filtered, the matching ids are listed first.
    let ids: string[];
    let byId: Map<string, FetchedChunk[]>;
    if (where) {
      ids = await this.deps.store.listIds(collection, where);
      byId = chunksById(
        await this.deps.store.fetch(collection, stableSample(ids, options.max), { vectors: true }),
      );
    } else {
      byId = chunksById(await this.deps.store.scan(collection, { vectors: true }));
      ids = [...byId.keys()];
    }
    const picked = stableSample(ids, options.max);
    const documents = picked.flatMap((id) => {
      const chunks = byId.get(id);
      return chunks ? [withVector(id, chunks)] : [];
    });
    return { total: ids.length, documents };
  }

  /** The documents nearest to a stored one by meaning (by their closest chunks), itself left out. */
  async similarTo(
    collection: string,
    id: string,
    options: { limit: number; where?: Record<string, unknown> | undefined },
  ): Promise<{ results: Array<StoredText & { score: number; chunk: number }>; found: boolean }> {
    const where = options.where ? parseWhere(options.where) : undefined;
    if (!(await this.deps.store.getCollection(collection))) throw await this.unknownCollection(collection);
    const chunks = chunksById(await this.deps.store.fetch(collection, [id], { vectors: true })).get(id);
    if (!chunks) return { results: [], found: false };
    const source = withVector(id, chunks);
    let pool = Math.max(options.limit * 3, 20);
    for (;;) {
      const hits = await this.deps.store.search(collection, source.vector, { limit: pool, where });
      const best = bestChunkPerDocument(hits.filter((hit) => hit.id !== id));
      if (best.length >= options.limit || hits.length < pool || pool >= MAX_SEARCH_POOL) {
        return {
          found: true,
          results: best.slice(0, options.limit).map((hit) => ({
            id: hit.id,
            text: hit.text,
            metadata: hit.metadata,
            chunk: hit.chunk,
            score: 1 - hit.distance,
          })),
        };
      }
      pool = Math.min(pool * 4, MAX_SEARCH_POOL);
    }
  }

  /**
   * Pairs of documents whose closest chunks have cosine >= minScore (the earlier document's vector,
   * its chunks' mean, against each chunk of the later one, in id order), each pair once. Documents
   * are checked in id order from after `cursor`, each against every later document, until `limit`
   * pairs are found or `budgetMs` has passed; `nextCursor` continues. The vectors are read in one
   * scan of the collection and kept while it does not change (one collection at a time).
   */
  async nearDuplicates(
    collection: string,
    options: { minScore: number; limit: number; cursor?: string | undefined; budgetMs?: number },
  ): Promise<{ pairs: DuplicatePair[]; checked: number; total: number; nextCursor: string | null }> {
    if (!(await this.deps.store.getCollection(collection))) throw await this.unknownCollection(collection);
    const started = Date.now();
    const matrix = await this.matrixOf(collection);
    const { ids } = matrix;
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, "id").id;
    const found: Array<{ a: string; b: string; score: number }> = [];
    let doc = matrix.after(after);
    let nextCursor: string | null = null;
    while (doc < ids.length) {
      const block = matrix.laterNeighboursOf(doc, DuplicateMatrix.BLOCK, options.minScore);
      block.forEach((near, b) => {
        for (const n of near)
          found.push({ a: ids[doc + b] as string, b: ids[n.doc] as string, score: n.score });
      });
      doc += block.length;
      if (
        doc < ids.length &&
        (found.length >= options.limit || Date.now() - started > (options.budgetMs ?? 2000))
      ) {
        nextCursor = encodeCursor("id", { id: ids[doc - 1] as string, at: null });
        break;
      }
    }
    const byId = wholeDocuments(
      await this.deps.store.fetch(collection, [...new Set(found.flatMap((p) => [p.a, p.b]))]),
    );
    const pairs = found.flatMap(({ a, b, score }) => {
      const da = byId.get(a);
      const db = byId.get(b);
      if (!da || !db) return [];
      return [
        {
          score,
          a: { id: a, text: da.text, metadata: da.metadata },
          b: { id: b, text: db.text, metadata: db.metadata },
        },
      ];
    });
    return { pairs, checked: doc, total: ids.length, nextCursor };
  }

  /** The collection's duplicate matrix at its current revision (made from one scan when it changed). */
  private async matrixOf(collection: string): Promise<DuplicateMatrix> {
    const revision = await this.deps.store.revision(collection);
    const kept = this.duplicateMatrix;
    if (kept?.collection === collection && kept.revision === revision) return kept.matrix;
    this.duplicateMatrix = undefined;
    const matrix = this.deps.store.scan(collection, { vectors: true }).then((rows) => {
      const byId = new Map<string, Float32Array[]>();
      for (const [id, chunks] of chunksById(rows)) {
        const vectors = chunks.flatMap((c) => (c.vector ? [c.vector] : []));
        if (vectors.length > 0) byId.set(id, vectors);
      }
      return new DuplicateMatrix(byId);
    });
    this.duplicateMatrix = { collection, revision, matrix };
    matrix.catch(() => {
      if (this.duplicateMatrix?.matrix === matrix) this.duplicateMatrix = undefined;
    });
    return matrix;
  }

  /**
   * Merges one document into another: `keep` gains the metadata of `drop` that it lacks (the rule
   * is in `mergedMetadataChanges`), through updateDocuments, then `drop` is deleted. Two commits:
   * if the delete fails, both documents are still there and nothing is lost.
   */
  async mergeDocuments(
    collection: string,
    keep: string,
    drop: string,
  ): Promise<{ kept: string; deleted: number; addedKeys: string[] }> {
    if (keep === drop)
      throw new MemoryError(
        "invalid_input",
        "A document cannot be merged into itself: pick two different ids.",
      );
    const { documents, notFound } = await this.getDocuments(collection, { ids: [keep, drop] });
    if (notFound.length > 0)
      throw new MemoryError(
        "invalid_input",
        `No document ${notFound.map((id) => JSON.stringify(id)).join(" or ")} in "${collection}"; reload the pair.`,
      );
    const [kept, dropped] = [documents[0] as WholeDocument, documents[1] as WholeDocument];
    const changes = mergedMetadataChanges(kept.metadata, dropped.metadata);
    if (Object.keys(changes).length > 0)
      await this.updateDocuments(collection, [{ id: keep, metadata: changes }]);
    const { deleted } = await this.delete(collection, { ids: [drop] });
    return { kept: keep, deleted, addedKeys: Object.keys(changes) };
  }

  /** Where each chunk of a document starts in its text, and how long it is. */
  async chunkLayout(
    collection: string,
    id: string,
  ): Promise<Array<{ chunk: number; start: number; length: number }>> {
    if (!(await this.deps.store.getCollection(collection))) throw await this.unknownCollection(collection);
    const chunks = chunksById(await this.deps.store.fetch(collection, [id])).get(id) ?? [];
    return chunks.map((c) => ({ chunk: c.chunk, start: c.start, length: c.text.length }));
  }

  listCollections(): Promise<CollectionInfo[]> {
    return this.deps.store.listCollections();
  }

  /** A consistent copy of every collection into a new database directory, while writers write. */
  backup(dir: string): Promise<BackupEntry[]> {
    return this.deps.store.backup(dir);
  }

  /** Every collection of a backup, copied into this store (none of them may exist here). */
  async restoreBackup(dir: string): Promise<BackupEntry[]> {
    const restored = await this.deps.store.restoreBackup(dir);
    this.collectionsChanged();
    return restored;
  }

  /** The collection's kept versions, oldest first (see compaction.ts for how long they are kept). */
  history(collection: string): Promise<CollectionVersion[]> {
    return this.deps.store.history(collection);
  }

  /** Brings the collection back to a kept version as a new version; a dry run says what would change. */
  async restore(
    collection: string,
    target: { version: number } | { at: number },
    options: { dryRun: boolean },
  ): Promise<RestorePlan> {
    const plan = await this.deps.store.restore(collection, target, options);
    if (!options.dryRun) this.collectionsChanged();
    return plan;
  }

  /** Which indexes the collection has and how many of its rows they cover. */
  indexes(collection: string): Promise<CollectionIndexes> {
    return this.deps.store.indexes(collection);
  }

  async stats(collection: string): Promise<CollectionInfo & CollectionStats> {
    const info = await this.deps.store.getCollection(collection);
    if (!info) throw await this.unknownCollection(collection);
    return { ...info, ...(await this.deps.store.stats(collection)) };
  }

  /**
   * Moves a collection to another model: every text is embedded again and the new vectors replace
   * the old ones atomically once all are done. Until then the collection stays readable as it was.
   */
  async reembed(
    collection: string,
    target: ModelSpec,
    options: { onProgress?: Progress } = {},
  ): Promise<{
    collection: string;
    from: ModelRecord;
    to: ModelRecord;
    documents: number;
    changed: boolean;
  }> {
    const info = await this.deps.store.getCollection(collection);
    if (!info) throw await this.unknownCollection(collection);
    const progress = new ProgressReporter(options.onProgress, info.count + 1);
    const embedder = await this.loadEmbedder(target, progress, `The target model could not be loaded: `);
    const to: ModelRecord = { model: target.name, dtype: target.dtype, dimensions: embedder.dimensions };
    if (
      to.model === info.model.model &&
      to.dtype === info.model.dtype &&
      to.dimensions === info.model.dimensions
    ) {
      return { collection, from: info.model, to, documents: info.count, changed: false };
    }
    // Documents are put back together and chunked anew: the new model's window may differ.
    const documents = await this.deps.store.rebuildCollection(collection, to, async (rows) =>
      this.embedChunked(embedder, [...wholeDocuments(rows).values()], progress),
    );
    this.collectionsChanged();
    return { collection, from: info.model, to, documents, changed: true };
  }

  /**
   * Splits each document that is longer than the model's window into chunks (sized with the model's
   * own tokenizer, so nothing is cut off unseen) and embeds every chunk. One row per chunk, all with
   * the document's id and metadata.
   */
  private async embedChunked(
    embedder: Embedder,
    documents: StoredText[],
    progress: ProgressReporter,
    signal?: AbortSignal,
  ): Promise<ChunkToWrite[]> {
    const window = await embedder.tokenWindow();
    const chunked = documents.map((doc): [StoredText, TextChunk[]] => [doc, chunkText(doc.text, window)]);
    const pending = chunked.flatMap(([doc, chunks]) =>
      chunks.map((chunk, n) => ({
        id: doc.id,
        text: chunk.text,
        metadata: doc.metadata,
        chunk: n,
        start: chunk.start,
      })),
    );
    progress.setTotal(pending.length + 1);
    const rows: ChunkToWrite[] = [];
    for (let start = 0; start < pending.length; start += EMBED_STEP) {
      throwIfCancelled(signal);
      const batch = pending.slice(start, start + EMBED_STEP);
      const vectors = await embedder.embedDocuments(batch.map((row) => row.text));
      batch.forEach((row, i) => {
        rows.push({ ...row, vector: vectors[i] as Float32Array });
      });
      const what =
        pending.length === documents.length ? "documents" : `chunks of ${documents.length} documents`;
      progress.report(1 + rows.length, `embedded ${rows.length} of ${pending.length} ${what}`);
    }
    return rows;
  }

  private async unknownCollection(collection: string): Promise<MemoryError> {
    return unknownCollectionError(
      collection,
      (await this.listCollections()).map((c) => c.name),
    );
  }

  /**
   * Loads a model; a call that arrives while it loads waits for it (reporting the load) rather
   * than failing. An unavailable model becomes an error that starts with `whose`.
   */
  private async loadEmbedder(spec: ModelSpec, progress: ProgressReporter, whose: string): Promise<Embedder> {
    const waiting = !this.deps.embedders.isReady(spec);
    if (waiting) progress.report(0, `loading embedding model ${specId(spec)}`);
    try {
      const embedder = await this.deps.embedders.get(spec, (event) => {
        const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
        progress.report(
          Math.min(0.99, event.loaded / event.total),
          `loading ${specId(spec)}: ${event.file} ${mb(event.loaded)} of ${mb(event.total)} MB`,
        );
      });
      if (waiting) progress.report(1, `model ${specId(spec)} ready`);
      return embedder;
    } catch (error) {
      if (!(error instanceof ModelUnavailableError)) throw error;
      throw new MemoryError("model_unavailable", whose + error.message);
    }
  }

  /** The collection's own model (or the default for a new collection), loaded and checked. */
  private async embedderFor(
    collection: string,
    existing: ModelRecord | undefined,
    progress: ProgressReporter,
    /** The model for a new collection, instead of the default. */
    modelForNew?: ModelSpec,
  ): Promise<{ embedder: Embedder; record: ModelRecord }> {
    const spec = existing ? specFromRecord(existing) : (modelForNew ?? this.deps.defaultModel);
    const whose = existing
      ? `Collection "${collection}" was made with ${describeModel(existing)}, and every search and add in it must use that model. It could not be loaded: `
      : "The default embedding model could not be loaded: ";
    const embedder = await this.loadEmbedder(spec, progress, whose);
    const record: ModelRecord = { model: spec.name, dtype: spec.dtype, dimensions: embedder.dimensions };
    if (existing && existing.dimensions !== embedder.dimensions) {
      throw new MemoryError(
        "model_mismatch",
        `Collection "${collection}" holds ${existing.dimensions}-dimensional vectors, but ${spec.name} now gives ${embedder.dimensions}. The model files changed since the collection was made; restore them or re-create the collection.`,
      );
    }
    return { embedder, record };
  }
}

function assertUniqueIds(ids: string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) {
      throw new MemoryError(
        "invalid_input",
        (say) =>
          `The id ${JSON.stringify(id)} appears more than once in this call; ids must be unique within ${say.oneAdd}.`,
      );
    }
    seen.add(id);
  }
}

/** Ids in one fixed order (UTF-16 code units), the order cursors are defined over. */
function sortIds(ids: string[]): string[] {
  return ids.sort(byCodeUnit);
}

/** Index of the first of the sorted `ids` after `id`. */
function firstAfter(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function withVector(id: string, chunks: FetchedChunk[]): DocumentWithVector {
  return {
    id,
    text: joinChunks(chunks),
    metadata: chunks[0]?.metadata ?? {},
    chunks: chunks.length,
    vector: documentVector(chunks.flatMap((c) => (c.vector ? [c.vector] : []))),
  };
}

/** Where a listing stands: the last document returned and its time in the listing's order (null: unknown). */
interface ListKey {
  id: string;
  at: number | null;
}

function timeMs(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso);
}

/** Newest first, unknown times last, ties (and the id order, where every time is null) by id. */
function newestFirst(a: ListKey, b: ListKey): number {
  if (a.at !== b.at) {
    if (a.at === null) return 1;
    if (b.at === null) return -1;
    return b.at - a.at;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function encodeCursor(order: DocumentOrder, last: ListKey): string {
  const state = order === "id" ? { after: last.id } : { order, at: last.at, after: last.id };
  return Buffer.from(JSON.stringify(state), "utf8").toString("base64url");
}

function decodeCursor(cursor: string, order: DocumentOrder): ListKey {
  let parsed: { after?: unknown; order?: unknown; at?: unknown } | undefined;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as typeof parsed;
  } catch {
    // Not base64url JSON: reported below.
  }
  const cursorOrder = parsed?.order ?? "id";
  if (parsed && typeof parsed.after === "string" && cursorOrder !== order) {
    throw new MemoryError(
      "invalid_input",
      `The cursor continues a listing ordered by ${String(cursorOrder)}, not ${order}; pass the same order_by as the first page, or omit the cursor to start over.`,
    );
  }
  const at = parsed?.at ?? null;
  if (parsed && typeof parsed.after === "string" && (at === null || Number.isSafeInteger(at))) {
    return { id: parsed.after, at: at as number | null };
  }
  throw new MemoryError(
    "invalid_input",
    "The cursor is not one this server returned; pass next_cursor from the previous page unchanged, or omit it to start over.",
  );
}

function mergeMetadata(
  id: string,
  old: Metadata,
  changes: Record<string, MetadataValue | null> | undefined,
): Metadata {
  if (!changes) return old;
  const merged: Metadata = { ...old };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  if (Object.keys(merged).length > LIMITS.metadataKeysPerDocument) {
    throw new MemoryError(
      "limit_exceeded",
      `Document ${JSON.stringify(id)} would have more than ${LIMITS.metadataKeysPerDocument} metadata keys after this update; remove some by setting them to null.`,
    );
  }
  return merged;
}

/** Rows grouped by document id, each document's chunks in order. */
function chunksById<T extends StoredChunk>(rows: T[]): Map<string, T[]> {
  const byId = new Map<string, T[]>();
  for (const row of rows) {
    const chunks = byId.get(row.id);
    if (chunks) chunks.push(row);
    else byId.set(row.id, [row]);
  }
  for (const chunks of byId.values()) chunks.sort((a, b) => a.chunk - b.chunk);
  return byId;
}

/** Documents put back together from their chunks: the text exactly as it was given. */
function wholeDocuments(rows: Array<StoredChunk | FetchedChunk>): Map<string, WholeDocument> {
  const documents = new Map<string, WholeDocument>();
  for (const [id, chunks] of chunksById(rows)) {
    documents.set(id, {
      id,
      text: joinChunks(chunks),
      metadata: chunks[0]?.metadata ?? {},
      chunks: chunks.length,
      createdAt: chunks[0]?.createdAt ?? null,
      updatedAt: chunks[0]?.updatedAt ?? null,
    });
  }
  return documents;
}

/** Both results once both have settled; the first failure (in argument order) is thrown then. */
async function settledBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "rejected") throw first.reason;
  if (second.status === "rejected") throw second.reason;
  return [first.value, second.value];
}
