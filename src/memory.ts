import { randomUUID } from "node:crypto";
import { type Embedder, type ModelRecord, ModelUnavailableError } from "./embeddings/embedder.js";
import { type ModelSpec, specFromRecord, specId } from "./embeddings/model-spec.js";
import type { EmbedderRegistry } from "./embeddings/registry.js";
import { MemoryError, unknownCollectionError } from "./errors.js";
import { parseWhere } from "./filter.js";
import type { Logger } from "./logger.js";
import { describeModel } from "./store/lancedb-store.js";
import type { CollectionInfo, DeleteResult, Hit, Metadata, VectorStore } from "./store/vector-store.js";

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

export interface SearchResult {
  id: string;
  text: string;
  /** Cosine similarity, 1 = same meaning direction. */
  score: number;
  /** Cosine distance as Chroma reports it: 1 - score. */
  distance: number;
  metadata: Metadata;
}

export type DeleteRequest = { ids: string[] } | { where: Record<string, unknown> } | { dropCollection: true };

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
  constructor(private readonly deps: VectorMemoryDeps) {}

  get defaultModel(): ModelSpec {
    return this.deps.defaultModel;
  }

  async addDocuments(
    collection: string,
    documents: NewDocument[],
    options: { onProgress?: Progress; signal?: AbortSignal } = {},
  ): Promise<AddResult> {
    const ids = documents.map((doc) => doc.id ?? randomUUID());
    assertUniqueIds(ids);
    const progress = new ProgressReporter(options.onProgress, documents.length + 1);
    const existing = await this.deps.store.getCollection(collection);
    const { embedder, record } = await this.embedderFor(collection, existing, progress);

    const texts = documents.map((doc) => doc.text);
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += EMBED_STEP) {
      options.signal?.throwIfAborted();
      vectors.push(...(await embedder.embedDocuments(texts.slice(start, start + EMBED_STEP))));
      progress.report(1 + vectors.length, `embedded ${vectors.length} of ${texts.length} documents`);
    }
    options.signal?.throwIfAborted();

    const rows = documents.map((doc, i) => ({
      id: ids[i] as string,
      text: doc.text,
      vector: vectors[i] as Float32Array,
      metadata: doc.metadata ?? {},
    }));
    // One upsert, one commit: a call is stored whole or not at all, and repeating it changes nothing.
    const { inserted, updated } = await this.deps.store.upsert(collection, record, rows);
    return {
      collection,
      ids,
      added: inserted,
      replaced: updated,
      created: existing === undefined,
      model: record,
    };
  }

  async search(
    collection: string,
    query: string,
    options: {
      limit: number;
      where?: Record<string, unknown> | undefined;
      onProgress?: Progress | undefined;
    },
  ): Promise<SearchResult[]> {
    const where = options.where ? parseWhere(options.where) : undefined;
    const info = await this.deps.store.getCollection(collection);
    if (!info) throw await this.unknownCollection(collection);
    const { embedder } = await this.embedderFor(
      collection,
      info,
      new ProgressReporter(options.onProgress, 1),
    );
    const vector = await embedder.embedQuery(query);
    const hits = await this.deps.store.search(collection, vector, {
      limit: options.limit,
      ...(where ? { where } : {}),
    });
    return hits.map(toResult);
  }

  async delete(
    collection: string,
    request: DeleteRequest,
  ): Promise<DeleteResult & { droppedCollection: boolean }> {
    if ("dropCollection" in request) {
      const count = await this.deps.store.dropCollection(collection);
      if (count === undefined) throw await this.unknownCollection(collection);
      return { deleted: count ?? 0, notFound: [], droppedCollection: true };
    }
    if ("ids" in request) {
      return {
        ...(await this.deps.store.delete(collection, { ids: request.ids })),
        droppedCollection: false,
      };
    }
    const where = parseWhere(request.where);
    if (!where) {
      throw new MemoryError(
        "invalid_filter",
        "An empty where filter would delete every document. To empty the collection, use drop_collection: true.",
      );
    }
    return { ...(await this.deps.store.delete(collection, { where })), droppedCollection: false };
  }

  listCollections(): Promise<CollectionInfo[]> {
    return this.deps.store.listCollections();
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
  ): Promise<{ embedder: Embedder; record: ModelRecord }> {
    const spec = existing ? specFromRecord(existing.model) : this.deps.defaultModel;
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

function toResult(hit: Hit): SearchResult {
  return {
    id: hit.id,
    text: hit.text,
    metadata: hit.metadata,
    distance: hit.distance,
    score: 1 - hit.distance,
  };
}
