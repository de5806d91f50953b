import { randomUUID } from "node:crypto";
import { type Embedder, type ModelRecord, ModelUnavailableError } from "./embeddings/embedder.js";
import { type ModelSpec, specFromRecord, specId } from "./embeddings/model-spec.js";
import type { EmbedderRegistry } from "./embeddings/registry.js";
import { MemoryError, throwIfCancelled, unknownCollectionError } from "./errors.js";
import { parseWhere } from "./filter.js";
import { LIMITS } from "./limits.js";
import type { Logger } from "./logger.js";
import { dot, maximalMarginalRelevance, reciprocalRankFusion } from "./ranking.js";
import { describeModel } from "./store/lancedb-store.js";
import type {
  CollectionInfo,
  CollectionStats,
  DeleteResult,
  Hit,
  Metadata,
  MetadataValue,
  StoredDocument,
  StoredText,
  VectorStore,
} from "./store/vector-store.js";

export interface NewDocument {
  id?: string | undefined;
  text: string;
  metadata?: Metadata | undefined;
}

export interface AddResult {
  collection: string;
  ids: string[];
  added: number;
  replaced: number;
  created: boolean;
  model: ModelRecord;
}

export type SearchMode = "semantic" | "keyword" | "hybrid";
export type MatchKind = "semantic" | "keyword";

export interface SearchOptions {
  limit: number;
  mode: SearchMode;
  where?: Record<string, unknown> | undefined;
  /** Drop results whose cosine score is below this. */
  minScore?: number | undefined;
  /** 0-1: trade relevance for variety among the results (maximal marginal relevance). */
  diversity?: number | undefined;
  onProgress?: Progress | undefined;
}

export interface SearchResult {
  id: string;
  text: string;
  /** Cosine similarity to the query, in every mode; 1 = same direction. */
  score: number;
  /** Cosine distance as Chroma reports it: 1 - score. */
  distance: number;
  metadata: Metadata;
  /** Which searches found this document. */
  matchedBy: MatchKind[];
  /** BM25 score, when the keyword search found it. */
  keywordScore?: number;
  /** Reciprocal-rank-fusion score, in hybrid mode. */
  fusedScore?: number;
}

interface Candidate extends SearchResult {
  vector?: Float32Array | undefined;
  relevance?: number;
}

export type DeleteRequest = { ids: string[] } | { where: Record<string, unknown> } | { dropCollection: true };

export interface DeleteOutcome extends DeleteResult {
  droppedCollection: boolean;
  dryRun: boolean;
  /** On a dry run: the ids that would be deleted (at most DRY_RUN_IDS of them). */
  ids?: string[];
}

export type GetRequest =
  | { ids: string[] }
  | { where?: Record<string, unknown> | undefined; limit: number; cursor?: string | undefined };

export interface GetResult {
  documents: StoredText[];
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
    private readonly total: number,
  ) {}

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
}

/** Documents embedded per step of a large add: the unit of progress reporting and cancellation. */
export const EMBED_STEP = 64;

/**
 * The memory itself: text in, vectors through the collection's own model, rows into the store.
 * Tools and the CLI are thin shells around this; all behaviour lives here or below.
 */
export class VectorMemory {
  private readonly collectionListeners = new Set<() => void>();

  constructor(private readonly deps: VectorMemoryDeps) {}

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
    options: { onProgress?: Progress; signal?: AbortSignal; model?: ModelSpec } = {},
  ): Promise<AddResult> {
    const ids = documents.map((doc) => doc.id ?? randomUUID());
    assertUniqueIds(ids);
    const progress = new ProgressReporter(options.onProgress, documents.length + 1);
    const existing = await this.deps.store.getCollection(collection);
    const { embedder, record } = await this.embedderFor(collection, existing, progress, options.model);

    const texts = documents.map((doc) => doc.text);
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += EMBED_STEP) {
      throwIfCancelled(options.signal);
      vectors.push(...(await embedder.embedDocuments(texts.slice(start, start + EMBED_STEP))));
      progress.report(1 + vectors.length, `embedded ${vectors.length} of ${texts.length} documents`);
    }
    throwIfCancelled(options.signal);

    const rows = documents.map((doc, i) => ({
      id: ids[i] as string,
      text: doc.text,
      vector: vectors[i] as Float32Array,
      metadata: doc.metadata ?? {},
    }));
    // One upsert, one commit: a call is stored whole or not at all, and repeating it changes nothing.
    const { inserted, updated } = await this.deps.store.upsert(collection, record, rows);
    if (existing === undefined) this.collectionsChanged();
    return {
      collection,
      ids,
      added: inserted,
      replaced: updated,
      created: existing === undefined,
      model: record,
    };
  }

  async search(collection: string, query: string, options: SearchOptions): Promise<SearchResult[]> {
    const where = options.where ? parseWhere(options.where) : undefined;
    const info = await this.deps.store.getCollection(collection);
    if (!info) throw await this.unknownCollection(collection);
    const { embedder } = await this.embedderFor(
      collection,
      info,
      new ProgressReporter(options.onProgress, 1),
    );
    const vector = await embedder.embedQuery(query);
    const diversity = options.diversity ?? 0;
    // Fusion and diversity re-ranking need a deeper pool than the final page.
    const pool =
      options.mode === "semantic" && diversity === 0 ? options.limit : Math.max(options.limit * 4, 20);
    const filter = where ? { where } : {};

    const semantic =
      options.mode === "keyword"
        ? []
        : (
            await this.deps.store.search(collection, vector, {
              limit: pool,
              withVectors: diversity > 0,
              ...filter,
            })
          ).map((hit): Candidate => ({ ...toResult(hit, ["semantic"]), vector: hit.vector }));
    const keyword =
      options.mode === "semantic"
        ? []
        : (await this.deps.store.keywordSearch(collection, query, { limit: pool, ...filter })).map(
            (hit): Candidate => {
              const score = dot(vector, hit.vector);
              return {
                id: hit.id,
                text: hit.text,
                metadata: hit.metadata,
                score,
                distance: 1 - score,
                matchedBy: ["keyword"],
                keywordScore: hit.keywordScore,
                vector: hit.vector,
              };
            },
          );

    let ranked: Candidate[];
    if (options.mode === "hybrid") {
      const byId = new Map<string, Candidate>();
      for (const c of [...semantic, ...keyword]) {
        const seen = byId.get(c.id);
        byId.set(c.id, seen ? { ...seen, ...c, matchedBy: ["semantic", "keyword"] } : c);
      }
      ranked = reciprocalRankFusion([semantic.map((c) => c.id), keyword.map((c) => c.id)]).map(
        ({ id, score }) => ({ ...(byId.get(id) as Candidate), fusedScore: score }),
      );
    } else {
      ranked = options.mode === "keyword" ? keyword : semantic;
    }
    if (options.minScore !== undefined)
      ranked = ranked.filter((c) => c.score >= (options.minScore as number));
    if (diversity > 0) {
      // MMR's relevance term is the cosine score in every mode, so diversity trades off against meaning.
      const withVectors = ranked.filter(
        (c): c is Candidate & { vector: Float32Array } => c.vector !== undefined,
      );
      ranked = maximalMarginalRelevance(
        withVectors.map((c) => ({ ...c, relevance: c.score })),
        options.limit,
        diversity,
      );
    }
    return ranked
      .slice(0, options.limit)
      .map(({ vector: _vector, relevance: _relevance, ...result }) => result);
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
        "An empty where filter would delete every document. To empty the collection, use drop_collection: true.",
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
    const ids = sortIds(await this.deps.store.listIds(collection, where));
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
      const byId = new Map((await this.deps.store.fetch(collection, requested)).map((doc) => [doc.id, doc]));
      return {
        documents: requested.flatMap((id) => byId.get(id) ?? []),
        notFound: requested.filter((id) => !byId.has(id)),
        nextCursor: null,
        total: byId.size,
      };
    }
    const where = request.where ? parseWhere(request.where) : undefined;
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor);
    // Keyset paging on id: pages stay correct while documents are added or removed between calls.
    const ids = sortIds(await this.deps.store.listIds(collection, where));
    const rest = after === undefined ? ids : ids.filter((id) => id > after);
    const page = rest.slice(0, request.limit);
    const byId = new Map((await this.deps.store.fetch(collection, page)).map((doc) => [doc.id, doc]));
    const last = page.at(-1);
    return {
      documents: page.flatMap((id) => byId.get(id) ?? []),
      notFound: [],
      nextCursor: rest.length > page.length && last !== undefined ? encodeCursor(last) : null,
      total: ids.length,
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
    const info = await this.deps.store.getCollection(collection);
    if (!info) throw await this.unknownCollection(collection);
    const stored = await this.deps.store.fetch(
      collection,
      updates.map((u) => u.id),
      { vectors: true },
    );
    const existing = new Map(stored.map((doc) => [doc.id, doc]));
    const rows: StoredDocument[] = [];
    const changed: StoredDocument[] = [];
    for (const update of updates) {
      const old = existing.get(update.id);
      if (!old?.vector) continue;
      const row = {
        id: update.id,
        text: update.text ?? old.text,
        metadata: mergeMetadata(update.id, old.metadata, update.metadata),
        vector: old.vector,
      };
      rows.push(row);
      if (row.text !== old.text) changed.push(row);
    }
    if (changed.length > 0) {
      const progress = new ProgressReporter(options.onProgress, changed.length + 1);
      const { embedder } = await this.embedderFor(collection, info, progress);
      for (let start = 0; start < changed.length; start += EMBED_STEP) {
        throwIfCancelled(options.signal);
        const batch = changed.slice(start, start + EMBED_STEP);
        const vectors = await embedder.embedDocuments(batch.map((row) => row.text));
        batch.forEach((row, i) => {
          row.vector = vectors[i] as Float32Array;
        });
        progress.report(
          1 + start + batch.length,
          `embedded ${start + batch.length} of ${changed.length} changed texts`,
        );
      }
    }
    throwIfCancelled(options.signal);
    await this.deps.store.upsert(collection, info.model, rows);
    return {
      collection,
      updated: rows.map((row) => row.id),
      reembedded: changed.length,
      notFound: updates.filter((u) => !existing.has(u.id)).map((u) => u.id),
    };
  }

  listCollections(): Promise<CollectionInfo[]> {
    return this.deps.store.listCollections();
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
    const documents = await this.deps.store.rebuildCollection(collection, to, async (docs) => {
      const vectors: Float32Array[] = [];
      for (let start = 0; start < docs.length; start += EMBED_STEP) {
        const texts = docs.slice(start, start + EMBED_STEP).map((doc) => doc.text);
        vectors.push(...(await embedder.embedDocuments(texts)));
        progress.report(1 + vectors.length, `re-embedded ${vectors.length} of ${docs.length} documents`);
      }
      return vectors;
    });
    this.collectionsChanged();
    return { collection, from: info.model, to, documents, changed: true };
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
    existing: CollectionInfo | undefined,
    progress: ProgressReporter,
    /** The model for a new collection, instead of the default. */
    modelForNew?: ModelSpec,
  ): Promise<{ embedder: Embedder; record: ModelRecord }> {
    const spec = existing ? specFromRecord(existing.model) : (modelForNew ?? this.deps.defaultModel);
    const whose = existing
      ? `Collection "${collection}" was made with ${describeModel(existing.model)}, and every search and add in it must use that model. It could not be loaded: `
      : "The default embedding model could not be loaded: ";
    const embedder = await this.loadEmbedder(spec, progress, whose);
    const record: ModelRecord = { model: spec.name, dtype: spec.dtype, dimensions: embedder.dimensions };
    if (existing && existing.model.dimensions !== embedder.dimensions) {
      throw new MemoryError(
        "model_mismatch",
        `Collection "${collection}" holds ${existing.model.dimensions}-dimensional vectors, but ${spec.name} now gives ${embedder.dimensions}. The model files changed since the collection was made; restore them or re-create the collection.`,
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
        `The id ${JSON.stringify(id)} appears more than once in this call; ids must be unique within one add_documents call.`,
      );
    }
    seen.add(id);
  }
}

/** Ids in one fixed order (UTF-16 code units), the order cursors are defined over. */
function sortIds(ids: string[]): string[] {
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId }), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof parsed.after === "string") return parsed.after;
  } catch {
    // Not base64url JSON: reported below.
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

function toResult(hit: Hit, matchedBy: MatchKind[]): SearchResult {
  return {
    id: hit.id,
    text: hit.text,
    metadata: hit.metadata,
    distance: hit.distance,
    score: 1 - hit.distance,
    matchedBy,
  };
}
