import type { Filter } from "../filter.js";
import type { Commit, RowLocations } from "./commits.js";
import { compileMatcher, filterFields } from "./filter-match.js";
import { KeywordIndex } from "./keyword-index.js";
import {
  createScanner,
  type ScanFunction,
  SIMD_LANES,
  SIMD_LANES_I8,
  topK,
  WASM_PAGE,
  type WasmMemory,
} from "./simd-scan.js";
import type { ColumnKind } from "./sql.js";
import {
  type ChunkToWrite,
  chunkKey,
  type FetchedChunk,
  type Hit,
  type KeywordHit,
  type Metadata,
  type StoredChunk,
} from "./vector-store.js";

/**
 * Default memory for cached vectors, all collections together: 1 GiB holds about 690k rows of
 * 384 floats. A collection that does not fit is searched by LanceDB (its vector index, if built).
 */
export const DEFAULT_VECTOR_CACHE_BYTES = 1024 * 1024 * 1024;

/** Marks a row whose LanceDB row id is not known (written since the last load): fetched by id. */
const UNKNOWN_ROW = 0xffff_ffff_ffff_ffffn;

interface Loaded {
  kind: "loaded";
  generation: number;
  /** The table version these rows are; searches compare it with the table's latest. */
  version: number;
  dim: number;
  /** Floats per row in memory: dim rounded up to the kernel's 16 lanes, zero padded. */
  stride: number;
  count: number;
  capacity: number;
  /** Per slot: the document id and the chunk of it the row holds (a long text is several rows). */
  ids: string[];
  chunks: number[];
  /** Per slot: the row's typed metadata columns, null ones left out, for filters (see filter-match.ts). */
  fields: Metadata[];
  rowIds: BigUint64Array;
  /** Slots whose row id is UNKNOWN_ROW (written here since the last load or compaction). */
  unknown: number;
  /** Slot of each row, by chunkKey(id, chunk). */
  index: Map<string, number>;
  /** How many chunks each document has (chunks 0..n-1: an upsert always replaces all of them). */
  chunkCounts: Map<string, number>;
  memory: WasmMemory;
  scan: ScanFunction;
  /** The same rows quantised to int8 (one scale per row), scanned first; see pick. */
  stride8: number;
  memory8: WasmMemory;
  scan8: ScanFunction;
  scales: Float32Array;
  /** The largest row scale ever written (it bounds the quantisation error; never lowered). */
  maxScale: number;
  /** Bumped whenever a slot changes; filter masks are valid for one epoch. */
  epoch: number;
  /** The last filters' row masks (by the filter's JSON), for this epoch only. */
  masks: Map<string, Mask>;
  /**
   * Per slot: the row as a search returns it (text, metadata, position, times; no vector), when
   * known: read with the vectors from a source that offers them (the store's default: reading a
   * hit back costs several GETs on an object store, half a search's time on a local disk), kept as
   * this store wrote it (writtenRow), or kept from an earlier search's read. A search whose
   * hits all have one makes no read but the version check. Undefined where not kept.
   */
  details: (FetchedChunk | undefined)[];
  /** Estimated bytes of `details`, counted in the budget. */
  detailBytes: number;
  /** The documents' first-chunk texts, hashed, once an exact-repeat check asked (see textCandidates). */
  texts?: FirstTexts;
  /**
   * The rows' texts as a BM25 index (keyword-index.ts), for keyword searches, once one asked and
   * while every row's text is kept; counted in the budget.
   */
  keywords?: KeywordIndex;
  /** While `keywords` is being built: the texts set (or removed: undefined) since its rows were listed. */
  keywordChanges?: [string, string | undefined][];
  /** The index did not fit in the budget: not built again for this entry. */
  keywordsRefused?: boolean;
  /** The read of `texts` in flight. */
  textsLoading?: Promise<boolean>;
}

/**
 * Each document's first chunk's text as a hash of it and its length (a key), so that the stored
 * documents whose first chunk begins a new text are found by hashing the new text's prefixes at
 * the stored lengths: no scan of the stored texts per add. A hash can collide; the caller compares
 * whole texts.
 */
interface FirstTexts {
  keyOf: Map<string, number>;
  idsOf: Map<number, string[]>;
  /** How many documents' first chunks have each length. */
  lengths: Map<number, number>;
  /** The longest first chunk ever kept (not lowered when it goes: only bounds the prefixes hashed). */
  longest: number;
  /** Estimated bytes, counted in the budget. */
  bytes: number;
}

/** Which slots a filter admits (1) and how many. */
interface Mask {
  epoch: number;
  admits: Uint8Array;
  matched: number;
}

/** Masks kept per collection: agents repeat a few filters (a project, a tag) many times. */
const MASKS_KEPT = 8;

/** A `where` filter, with the kinds of the collection's metadata columns that it was compiled against. */
export interface CacheFilter {
  filter: Filter;
  kinds: ReadonlyMap<string, ColumnKind>;
}

/** The collection at this version is larger than the memory left for caching: LanceDB searches it. */
interface TooBig {
  kind: "too-big";
  generation: number;
  version: number;
}

/**
 * A collection past the memory budget, with only its ids: this store wrote it past the budget, or
 * read its ids for a write (see readIds). New rows can then still be appended instead of merged (a
 * merge-insert joins against every stored id: 19k rows/s at 1M where an append does 60k). About 60
 * bytes per id, not counted in the budget. Lost when another process writes.
 */
interface IdsOnly {
  kind: "ids";
  generation: number;
  version: number;
  ids: Set<string>;
}

type Entry = Loaded | TooBig | IdsOnly;

/** A collection that does not fit in the vector cache's budget (see VectorCache's onTooBig). */
export interface TooBigReport {
  collection: string;
  rows: number;
  dimensions: number;
  /** What its vectors would take in the cache. */
  neededBytes: number;
  /** What the budget had left for it (other collections hold the rest). */
  availableBytes: number;
  budgetBytes: number;
}

export interface CachedPick {
  id: string;
  chunk: number;
  rowId: bigint;
  distance: number;
}

/** Rows with their vectors, a batch at a time; `vector(i)` may be a view, valid while the batch is. */
export interface VectorBatch extends RowLocations {
  vector(i: number): Float32Array;
  /** The row's typed metadata columns by key, null ones left out (as filterFields makes them). */
  fields(i: number): Metadata;
  /** The row as a search returns it, without its vector, when the source reads it with the vectors. */
  row?(i: number): FetchedChunk;
}

/**
 * What the cache reads of the table it mirrors, always at the table's latest version; LanceDB's is
 * lance/cache-source.ts. The cache knows no more of the backend than this.
 */
export interface CacheSource {
  version(): Promise<number>;
  /** Rows in the table at its latest version (a check beside the version, see current), where cheap. */
  rowCount?(): Promise<number>;
  /**
   * While a commit of this process is between LanceDB and its publication (see LanceStore.committing):
   * settles once it is published. A version read in that window is one the entry is about to reach.
   */
  publishing?(): Promise<void> | undefined;
  /** Rows, and the vectors' dimensions (0 when the table has no vector column). */
  shape(): Promise<{ rows: number; dim: number }>;
  vectors(): AsyncIterable<VectorBatch>;
  /** The rows at these row ids; throws when the ids are from a version whose files are gone. */
  rowsAt(rowIds: bigint[], withVectors: boolean): Promise<FetchedChunk[]>;
  /** Every row (chunk) of these documents. */
  rowsOf(ids: string[], withVectors: boolean): Promise<FetchedChunk[]>;
  /** Where every row is now (its row id), batch by batch. */
  locations(): AsyncIterable<RowLocations>;
  /** Every document's first chunk's text, batch by batch. */
  firstTexts(): AsyncIterable<{ size: number; id(i: number): string; text(i: number): string }>;
  /** Every row's document id (a document of several chunks once per chunk), batch by batch. */
  ids?(): AsyncIterable<{ size: number; id(i: number): string }>;
}

/** Bytes an id costs in an ids-only entry, about (a short string and its place in a Set). */
const ID_BYTES = 60;
/**
 * A collection's ids are read for a write (readIds) at most once in this long: when another
 * process writes it too, each of its commits makes the ids stale, and a read of 1M ids is ~0.5 s.
 */
const IDS_READ_EVERY_MS = 10 * 60_000;

/**
 * Rows written here since the last load or compaction have no known row id: their hits are read by
 * id (`id IN (...)`, a scan of the id column: ~5 ms at 100k rows, per search). From this many such
 * rows, a search that picks one reads every row's id once instead (~30 ms at 100k) and takes rows
 * by row id from then on.
 */
const RELOCATE_FROM_UNKNOWN = 256;

/** Rows tokenised between two yields while a keyword index is built (~20 ms of work). */
const KEYWORD_SLICE = 1_000;

/**
 * Each collection's vectors in memory, L2-normalised, for exact cosine search with the SIMD kernel.
 * LanceDB stays the source of truth: an entry is the table at one version. A search first asks
 * LanceDB for the latest version (opened with readConsistencyInterval 0, so other processes'
 * commits are seen; ~0.07 ms); on any difference it reloads. Writes by this store are applied in
 * place when their commit is the very next version after the entry's; otherwise the entry is
 * dropped and reloaded on the next search.
 */
export class VectorCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** Keyword indexes being built, by collection (see buildKeywords). */
  private readonly keywordBuilds = new Map<string, Promise<void>>();
  /**
   * This store's commits published while the collection's entry loads. The load drops the old entry
   * first, so before they were dropped with it, and the entry came in at a version behind the
   * table: with 8 agents writing, one reload led to the next (bench/add-breakdown.ts). Applied in
   * order once the entry is in: each replaces or removes whole rows by id, so one the load already
   * read comes to the same, and one that does not follow the entry's version drops it as before.
   */
  private readonly held = new Map<string, Commit[]>();
  /** Collections a compaction by this store is running on, beside its writes (see compacting). */
  private readonly compactions = new Map<string, number>();

  /** Collections already reported as not fitting (reported again only after one fitted). */
  private readonly reportedTooBig = new Set<string>();
  /** When each collection's ids were last read for a write (see readIds). */
  private readonly idsReadAt = new Map<string, number>();

  /**
   * `onTooBig` hears, once per collection until it fits again, that a collection does not fit in
   * the budget, with the bytes it needs and what the budget had left, so its searches go to LanceDB.
   */
  constructor(
    private readonly budgetBytes: number = DEFAULT_VECTOR_CACHE_BYTES,
    private readonly onTooBig?: (report: TooBigReport) => void,
    /**
     * How a row this store writes reads back from the table: given, such rows are kept as searches
     * return them (see details), as a load with rows keeps what it reads; absent, they are read back.
     */
    private readonly writtenRow?: (row: ChunkToWrite) => FetchedChunk,
  ) {}

  /**
   * Follows this store's commits (see commits.ts): applied in place where it can, dropped otherwise.
   * While the collection loads, they wait and are applied once it is in (see held).
   */
  onCommit(commit: Commit): void {
    const held = this.held.get(commit.collection);
    if (held) held.push(commit);
    else this.apply(commit);
  }

  private apply(commit: Commit): void {
    switch (commit.kind) {
      case "create":
        this.track(commit.collection, commit.generation, commit.version, commit.dimensions, commit.rows);
        break;
      case "add":
      case "merge":
        this.afterUpsert(commit.collection, commit.generation, commit.version, commit.rows);
        break;
      case "delete":
        this.afterDelete(commit.collection, commit.generation, commit.version, [...commit.removed]);
        break;
      case "schema":
        this.afterSchemaChange(commit.collection, commit.generation, commit.before, commit.version);
        break;
      case "index":
        if (commit.before !== undefined)
          this.afterSchemaChange(commit.collection, commit.generation, commit.before, commit.version);
        // Unknown what committed since the entry's version: keep it only if nothing did.
        else if (this.entries.get(commit.collection)?.version !== commit.version)
          this.drop(commit.collection);
        break;
      case "optimize":
        this.afterCompaction(commit.collection, commit.generation, commit.before, commit.version);
        break;
      case "rebuild":
      case "forget":
        this.drop(commit.collection);
        break;
    }
  }

  /**
   * Exact top-k of a cosine search with rows' text and metadata from LanceDB, or undefined when
   * the cache cannot answer (too big, zero query, a row vanished meanwhile): the caller then
   * searches LanceDB itself. `where`: only rows the filter admits (evaluated in memory on the
   * rows' metadata columns, with LanceDB's meaning), then the same exact scan over those.
   */
  async search(
    collection: string,
    generation: number,
    source: CacheSource,
    query: Float32Array,
    options: { limit: number; withVectors?: boolean | undefined; where?: CacheFilter | undefined },
  ): Promise<Hit[] | undefined> {
    const entry = await this.current(collection, generation, source);
    if (entry.kind !== "loaded") return undefined;
    const picks = pick(entry, query, options.limit, options.where && maskOf(entry, options.where));
    if (!picks) return undefined;
    if (entry.unknown >= RELOCATE_FROM_UNKNOWN && picks.some((p) => p.rowId === UNKNOWN_ROW)) {
      // Rows read at the latest version: valid only if that is still the entry's.
      const version = entry.version;
      const current = async () => (await source.version()) === version;
      if (await this.relocate(collection, entry, version, () => source.locations(), current)) {
        for (const p of picks)
          p.rowId = entry.rowIds[entry.index.get(chunkKey(p.id, p.chunk)) as number] as bigint;
      }
    }
    const withVectors = options.withVectors === true;
    const epoch = entry.epoch;
    const hits = await details(source, picks, withVectors, withVectors ? undefined : entry);
    // A row missing now was deleted after the version check: this entry is stale.
    if (!hits) {
      this.drop(collection);
      return hits;
    }
    // Rows read by their row id are the rows of the entry's slots (a row id is never reused for
    // other content): kept for the next search, unless the entry changed meanwhile.
    if (this.entries.get(collection) === entry && entry.epoch === epoch) {
      hits.forEach((hit, i) => {
        const p = picks[i] as CachedPick;
        const at = entry.index.get(chunkKey(p.id, p.chunk));
        if (p.rowId === UNKNOWN_ROW || at === undefined || entry.details[at]) return;
        const { distance: _, vector: __, ...row } = hit;
        const bytes = detailBytes(row);
        if (this.bytes() + bytes > this.budgetBytes) return;
        entry.details[at] = row;
        entry.detailBytes += bytes;
      });
    }
    return hits;
  }

  /**
   * The nearest rows, as search picks them, without reading any back: undefined when the cache
   * does not hold the collection.
   */
  async nearest(
    collection: string,
    generation: number,
    source: CacheSource,
    query: Float32Array,
    limit: number,
  ): Promise<{ id: string; chunk: number; distance: number }[] | undefined> {
    const entry = await this.current(collection, generation, source);
    if (entry.kind !== "loaded") return undefined;
    return pick(entry, query, limit)?.map(({ id, chunk, distance }) => ({ id, chunk, distance }));
  }

  /**
   * The `limit` rows best matching `query` by BM25, as LanceDB's full-text index ranks them
   * (keyword-index.ts), with their rows and vectors: undefined when the cache does not hold the
   * collection, or holds it without every row's text, or its keyword index is not built yet (the
   * first call starts the build, beside the searches: ~2 s of tokenising at 100k rows). `where`:
   * only the rows the filter admits, as in search.
   */
  async keywordSearch(
    collection: string,
    generation: number,
    source: CacheSource,
    query: string,
    options: { limit: number; where?: CacheFilter | undefined },
  ): Promise<KeywordHit[] | undefined> {
    const entry = await this.current(collection, generation, source);
    if (entry.kind !== "loaded") return undefined;
    const index = entry.keywords;
    if (!index) {
      this.buildKeywords(collection, entry);
      return undefined;
    }
    const mask = options.where && maskOf(entry, options.where);
    const admits = mask ? (key: string) => mask.admits[entry.index.get(key) as number] === 1 : undefined;
    const scored = index.search(query, options.limit, admits);
    // Slots move on later writes: picks and vectors are taken now.
    const picks: CachedPick[] = [];
    const vectors: Float32Array[] = [];
    for (const { key, score } of scored) {
      const at = entry.index.get(key) as number;
      picks.push({
        id: entry.ids[at] as string,
        chunk: entry.chunks[at] as number,
        rowId: entry.rowIds[at] as bigint,
        distance: score,
      });
      vectors.push(vectorAt(entry, at));
    }
    const rows = await details(source, picks, false, entry);
    if (!rows) {
      this.drop(collection);
      return undefined;
    }
    return rows.map(({ distance, vector: _, ...row }, i) => ({
      ...row,
      keywordScore: distance,
      vector: vectors[i] as Float32Array,
    }));
  }

  /**
   * Up to `limit` rows whose text is exactly `text` (among those `where` admits), in slot order,
   * each with its cosine distance to `query` (and its vector, with `withVectors`): a comparison of
   * the kept texts, no vector scan.
   * Undefined when the cache cannot tell (not loaded, a zero query, or some row's text not kept).
   */
  async textMatches(
    collection: string,
    generation: number,
    source: CacheSource,
    text: string,
    query: Float32Array,
    options: { limit: number; withVectors?: boolean | undefined; where?: CacheFilter | undefined },
  ): Promise<Hit[] | undefined> {
    const entry = await this.current(collection, generation, source);
    if (entry.kind !== "loaded") return undefined;
    let sum = 0;
    for (let i = 0; i < entry.dim; i++) sum += (query[i] as number) ** 2;
    if (!(sum > 0)) return undefined;
    const norm = Math.sqrt(sum);
    const unit = Float32Array.from(query.subarray(0, entry.dim), (x) => x / norm);
    const mask = options.where && maskOf(entry, options.where);
    const picks: CachedPick[] = [];
    const vectors: Float32Array[] = [];
    for (let at = 0; at < entry.count && picks.length < options.limit; at++) {
      const row = entry.details[at];
      if (!row) return undefined;
      if (row.text !== text || (mask && mask.admits[at] !== 1)) continue;
      const vector = vectorAt(entry, at);
      if (options.withVectors) vectors.push(vector);
      // The kept vectors are unit vectors: the cosine is the dot product with the unit query.
      let score = 0;
      for (let i = 0; i < entry.dim; i++) score += (vector[i] as number) * (unit[i] as number);
      picks.push({
        id: entry.ids[at] as string,
        chunk: entry.chunks[at] as number,
        rowId: entry.rowIds[at] as bigint,
        distance: 1 - score,
      });
    }
    const hits = await details(source, picks, false, entry);
    if (!hits) {
      this.drop(collection);
      return undefined;
    }
    return options.withVectors
      ? hits.map((hit, i) => ({ ...hit, vector: vectors[i] as Float32Array }))
      : hits;
  }

  /** Settles once the keyword index being built for the collection, if any, is done (for tests and benchmarks). */
  async keywordsSettled(collection: string): Promise<void> {
    await this.keywordBuilds.get(collection);
  }

  /**
   * Builds the entry's keyword index from the rows' kept texts, a slice at a time so that other
   * calls go on meanwhile; the texts written or removed during the build are applied at its end.
   * Not built when some row's text is not kept, or the index does not fit in the budget.
   */
  private buildKeywords(collection: string, entry: Loaded): void {
    if (entry.keywordChanges || entry.keywordsRefused) return;
    const keys: string[] = [];
    const texts: string[] = [];
    for (let at = 0; at < entry.count; at++) {
      const row = entry.details[at];
      if (!row) return;
      keys.push(chunkKey(row.id, row.chunk));
      texts.push(row.text);
    }
    const changes: [string, string | undefined][] = [];
    entry.keywordChanges = changes;
    const build = (async () => {
      const index = new KeywordIndex();
      for (let i = 0; i < keys.length; i++) {
        index.set(keys[i] as string, texts[i] as string);
        if (i % KEYWORD_SLICE === KEYWORD_SLICE - 1) await new Promise((resolve) => setImmediate(resolve));
        if (this.entries.get(collection) !== entry) return;
      }
      for (const [key, text] of changes) {
        if (text === undefined) index.remove(key);
        else index.set(key, text);
      }
      entry.keywordChanges = undefined;
      if (this.bytes() + index.bytes > this.budgetBytes) {
        entry.keywordsRefused = true;
        return;
      }
      entry.keywords = index;
    })().finally(() => {
      if (this.keywordBuilds.get(collection) === build) this.keywordBuilds.delete(collection);
    });
    this.keywordBuilds.set(collection, build);
  }

  /**
   * For each text, up to `limit` documents whose first chunk's text may begin it (see FirstTexts),
   * at the table's latest version; undefined when the cache does not hold the collection or its
   * texts do not fit. The texts are read once per entry, on the first call, and then follow this
   * store's writes.
   */
  async textCandidates(
    collection: string,
    generation: number,
    source: CacheSource,
    texts: readonly string[],
    limit: number,
  ): Promise<string[][] | undefined> {
    const entry = await this.current(collection, generation, source);
    if (entry.kind !== "loaded") return undefined;
    if (!entry.texts) {
      entry.textsLoading ??= this.readTexts(collection, entry, source).finally(() => {
        entry.textsLoading = undefined;
      });
      if (!(await entry.textsLoading)) return undefined;
    }
    const kept = entry.texts;
    return kept ? texts.map((text) => prefixMatches(kept, text, limit)) : undefined;
  }

  /** Reads every first chunk's text into the entry; false when it changed meanwhile or they do not fit. */
  private async readTexts(collection: string, entry: Loaded, source: CacheSource): Promise<boolean> {
    const { version, epoch } = entry;
    const texts = emptyTexts();
    for await (const batch of source.firstTexts()) {
      for (let i = 0; i < batch.size; i++) setFirstText(texts, batch.id(i), batch.text(i));
      if (this.bytes() + texts.bytes > this.budgetBytes) return false;
    }
    if ((await source.version()) !== version) return false;
    if (this.entries.get(collection) !== entry || entry.epoch !== epoch || entry.version !== version)
      return false;
    entry.texts = texts;
    return true;
  }

  /**
   * Starts an entry for a table this store just created at `version` holding `rows`, so that the
   * rows written next are cached as they go (and known to be new, see absent) instead of reloaded.
   */
  track(
    collection: string,
    generation: number,
    version: number,
    dim: number,
    rows: readonly ChunkToWrite[],
  ): void {
    const capacity = Math.max(1024, rows.length);
    if (dim === 0 || this.bytes() + rowBytes(dim) * capacity > this.budgetBytes) return;
    // A new table: its first texts are the rows' own, kept as they are written.
    this.entries.set(collection, {
      ...emptyEntry(generation, version - 1, dim, capacity),
      texts: emptyTexts(),
    });
    this.afterUpsert(collection, generation, version, rows);
  }

  /**
   * True when the cache proves that none of these ids is in the table at `version` (the latest,
   * read under the write lock) and they are distinct: they can be appended rather than merged.
   */
  absent(collection: string, generation: number, version: number, ids: readonly string[]): boolean {
    const entry = this.entries.get(collection);
    if (!entry || entry.kind === "too-big" || entry.generation !== generation || entry.version !== version)
      return false;
    if (new Set(ids).size !== ids.length) return false;
    const known = entry.kind === "loaded" ? entry.chunkCounts : entry.ids;
    return ids.every((id) => !known.has(id));
  }

  /**
   * For a write about to merge rows into a collection the cache holds no vectors of (too big, and
   * current at `version`): reads the collection's ids, so that this write and the next ones can
   * append the documents `absent` then proves new. True when the entry now holds the ids at
   * `version`. The caller holds the collection's lock, so no write of this store's commits during
   * the read; another process's would change the version, and the ids are then not kept. Read at
   * most once per collection in IDS_READ_EVERY_MS, and only when they would fit in the budget.
   */
  async readIds(
    collection: string,
    generation: number,
    version: number,
    sourceOf: () => Promise<CacheSource>,
  ): Promise<boolean> {
    const entry = this.entries.get(collection);
    if (entry?.kind !== "too-big" || entry.generation !== generation || entry.version !== version)
      return false;
    const last = this.idsReadAt.get(collection);
    if (last !== undefined && Date.now() - last < IDS_READ_EVERY_MS) return false;
    const source = await sourceOf();
    if (!source.ids) return false;
    const { rows } = await source.shape();
    if (rows * ID_BYTES > this.budgetBytes) return false;
    this.idsReadAt.set(collection, Date.now());
    const ids = new Set<string>();
    for await (const batch of source.ids()) {
      for (let i = 0; i < batch.size; i++) ids.add(batch.id(i));
    }
    if (this.entries.get(collection) !== entry || (await source.version()) !== version) return false;
    this.entries.set(collection, { kind: "ids", generation, version, ids });
    return true;
  }

  /**
   * After this store's merge-insert (or append) committed `version`: apply it, or forget the entry.
   * `rows` hold every chunk of each document they name: its chunks beyond them are gone.
   */
  afterUpsert(collection: string, generation: number, version: number, rows: readonly ChunkToWrite[]): void {
    const idsOnly = this.nextIds(collection, generation, version);
    if (idsOnly) {
      for (const row of rows) idsOnly.ids.add(row.id);
      idsOnly.version = version;
      return;
    }
    const entry = this.next(collection, generation, version);
    if (!entry) return;
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.id, (counts.get(row.id) ?? 0) + 1);
    for (const [id, count] of counts) {
      // A shorter new version of a document: its chunks past the new count were deleted.
      for (let chunk = count; chunk < (entry.chunkCounts.get(id) ?? 0); chunk++) removeRow(entry, id, chunk);
      entry.chunkCounts.set(id, count);
    }
    for (const row of rows) {
      const chunk = row.chunk ?? 0;
      let at = entry.index.get(chunkKey(row.id, chunk));
      if (at === undefined) {
        if (!this.reserve(entry, entry.count + 1)) {
          // Past the budget: keep only the ids (the vectors go; LanceDB searches this collection).
          // What it holds and the room it asked for, against what the others leave it.
          const available = this.budgetBytes - (this.bytes() - entryBytes(entry));
          const grown = grownCapacity(entry.capacity, entry.count + 1) - entry.capacity;
          const needed = entryBytes(entry) + rowBytes(entry.dim) * grown;
          const ids = new Set(entry.chunkCounts.keys());
          this.entries.set(collection, { kind: "ids", generation, version, ids });
          this.reportTooBig(collection, entry.count + 1, entry.dim, available, needed);
          return;
        }
        at = entry.count++;
        entry.ids[at] = row.id;
        entry.chunks[at] = chunk;
        entry.index.set(chunkKey(row.id, chunk), at);
        entry.unknown++;
      } else if (entry.rowIds[at] !== UNKNOWN_ROW) {
        entry.unknown++;
      }
      if (chunk === 0 && entry.texts) setFirstText(entry.texts, row.id, row.text);
      noteText(entry, chunkKey(row.id, chunk), row.text);
      entry.fields[at] = filterFields(row.metadata);
      // The row as LanceDB will return it (the commit's rows carry the times it stored), when
      // kept; otherwise read back on the next search that picks it.
      const written = this.writtenRow?.(row);
      setDetail(entry, at, undefined);
      if (written && this.bytes() + detailBytes(written) <= this.budgetBytes) setDetail(entry, at, written);
      // An updated row is a new physical row in LanceDB: its row id is no longer the cached one.
      entry.rowIds[at] = UNKNOWN_ROW;
      writeRow(entry, at, row.vector);
    }
    entry.version = version;
    entry.epoch++;
  }

  /**
   * After a commit by this store that changed no row (columns added, a vector index), moving the
   * table from `before` to `after`: followed only when nothing else committed in between.
   */
  afterSchemaChange(collection: string, generation: number, before: number, after: number): void {
    const entry = this.entries.get(collection);
    if (
      entry &&
      entry.kind !== "too-big" &&
      entry.generation === generation &&
      entry.version === before &&
      after === before + 1
    ) {
      entry.version = after;
      return;
    }
    this.drop(collection);
  }

  /** After this store's delete committed `version`; `ids` are the rows it removed, when known. */
  afterDelete(collection: string, generation: number, version: number, ids: string[] | undefined): void {
    const current = this.entries.get(collection);
    if (current?.version === version) return; // nothing was committed
    const idsOnly = ids ? this.nextIds(collection, generation, version) : undefined;
    if (idsOnly && ids) {
      for (const id of ids) idsOnly.ids.delete(id);
      idsOnly.version = version;
      return;
    }
    const entry = ids ? this.next(collection, generation, version) : undefined;
    if (!entry || !ids) {
      this.drop(collection);
      return;
    }
    for (const id of ids) {
      for (let chunk = 0; chunk < (entry.chunkCounts.get(id) ?? 0); chunk++) removeRow(entry, id, chunk);
      entry.chunkCounts.delete(id);
      if (entry.texts) removeFirstText(entry.texts, id);
    }
    entry.version = version;
  }

  /**
   * While a compaction by this store runs beside its writes (LanceStore.compact), holding the
   * cross-process lock since the table was at version `from`, no other process commits to the
   * collection: a commit of this store's that is not the next version after the entry's, an entry
   * at `from` or later, skips only the compaction's commits (rows moved, none changed). The entry
   * follows it and forgets its row ids (re-read when a search needs them, see relocate).
   * `from` undefined: the compaction is over.
   */
  compacting(collection: string, from: number | undefined): void {
    if (from === undefined) this.compactions.delete(collection);
    else this.compactions.set(collection, from);
  }

  /**
   * After a compaction by this store, which read the table at `versionBefore` and whose commits
   * (fragments merged, indexes updated) reach up to `version` with this store's commits among them,
   * all published: rows moved but none changed. The entry keeps its vectors and forgets its row ids.
   */
  afterCompaction(collection: string, generation: number, versionBefore: number, version: number): void {
    const entry = this.entries.get(collection);
    // An entry older than the compaction's start missed commits it cannot tell.
    if (
      !entry ||
      entry.kind === "too-big" ||
      entry.generation !== generation ||
      entry.version < versionBefore
    ) {
      this.drop(collection);
      return;
    }
    if (entry.kind === "loaded") forgetRowIds(entry);
    entry.version = Math.max(entry.version, version);
  }

  /**
   * Re-reads every row's row id from `locations` into the entry, which then stands for `version`;
   * false (nothing changed) when the rows do not match the entry's, a write changed the entry
   * meanwhile, or `valid` says the rows read are not of `version`.
   */
  private async relocate(
    collection: string,
    entry: Loaded,
    version: number,
    locations: () => AsyncIterable<RowLocations>,
    valid: () => Promise<boolean> = async () => true,
  ): Promise<boolean> {
    const { epoch, version: before } = entry;
    let seen = 0;
    const rowIds = new BigUint64Array(entry.capacity).fill(UNKNOWN_ROW);
    for await (const batch of locations()) {
      for (let i = 0; i < batch.size; i++) {
        const at = entry.index.get(chunkKey(batch.id(i), batch.chunk(i)));
        if (at === undefined) return false;
        rowIds[at] = batch.rowId(i);
        seen++;
      }
    }
    if (seen !== entry.count || !(await valid())) return false;
    if (this.entries.get(collection) !== entry || entry.epoch !== epoch || entry.version !== before)
      return false;
    entry.rowIds = rowIds;
    entry.unknown = 0;
    entry.version = version;
    return true;
  }

  /**
   * These chunks' vectors and, where kept, their rows (text, metadata, position, times; a copy
   * each), when the entry holds the table at `version` and every chunk; undefined otherwise.
   */
  keptAt(
    collection: string,
    generation: number,
    version: number,
    rows: readonly { id: string; chunk: number }[],
  ): { row: StoredChunk | undefined; vector: Float32Array }[] | undefined {
    const entry = this.entries.get(collection);
    if (entry?.kind !== "loaded" || entry.generation !== generation || entry.version !== version)
      return undefined;
    const found: { row: StoredChunk | undefined; vector: Float32Array }[] = [];
    for (const { id, chunk } of rows) {
      const at = entry.index.get(chunkKey(id, chunk));
      if (at === undefined) return undefined;
      const kept = entry.details[at];
      found.push({
        row: kept && copyOf(kept),
        vector: vectorAt(entry, at),
      });
    }
    return found;
  }

  /** The version of the table the collection's entry holds in memory, if it holds its vectors. */
  loadedVersion(collection: string, generation: number): number | undefined {
    const entry = this.entries.get(collection);
    return entry?.kind === "loaded" && entry.generation === generation ? entry.version : undefined;
  }

  drop(collection: string): void {
    this.entries.delete(collection);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Bytes of vectors held now, all collections (for stats and tests). */
  bytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) if (entry.kind === "loaded") total += entryBytes(entry);
    return total;
  }

  /**
   * The entry, if it holds the table's latest version; and the version read. The row count too,
   * where the source offers it: a table dropped and made again by another process starts its
   * versions over, and an entry that reads no row back (kept rows, nearest) would answer from the
   * old one. Both read at once: each is a LanceDB call, and with 8 agents at work each waited
   * ~13 ms for LanceDB's threads (bench/add-breakdown.ts). Both begin after this call did, so
   * whichever versions they see, an entry they both match is current enough.
   */
  private async check(
    collection: string,
    generation: number,
    source: CacheSource,
  ): Promise<{ entry: Entry | undefined; version: number }> {
    const seen = this.entries.get(collection);
    const [version, count] = await Promise.all([
      source.version(),
      seen?.kind === "loaded" && seen.generation === generation ? source.rowCount?.() : undefined,
    ]);
    let entry = this.entries.get(collection);
    let counted = count;
    const publishing = entry && entry.version < version ? source.publishing?.() : undefined;
    if (publishing) {
      // This process's own commit, not yet applied here: waiting for it beats a reload (with 8
      // agents writing, a third of the reloads were this; each read the whole table).
      await publishing.catch(() => undefined);
      entry = this.entries.get(collection);
      counted = undefined;
    }
    if (entry && entry.generation === generation && entry.version === version) {
      if (entry.kind !== "loaded" || !source.rowCount) return { entry, version };
      // Loaded, or moved on, while the version was read: its count is read now.
      if ((counted ?? (await source.rowCount())) === entry.count) return { entry, version };
    }
    if (
      entry?.kind === "loaded" &&
      entry.generation === generation &&
      this.duringCompaction(collection, entry, version)
    ) {
      // Row ids may point into merged fragments: hits not kept are read by id until relocated.
      if (entry.unknown < entry.count) forgetRowIds(entry);
      return { entry, version };
    }
    return { entry: undefined, version };
  }

  /** The entry for the table's latest version, loading it when missing or stale. */
  private async current(collection: string, generation: number, source: CacheSource): Promise<Entry> {
    let { entry, version } = await this.check(collection, generation, source);
    // Not matched, but loaded: this store's commit may have landed between the two reads, or been
    // published meanwhile (with 8 agents writing, most of the remaining reloads). Both are read once
    // more before the whole table is.
    if (entry === undefined && this.entries.get(collection)?.kind === "loaded")
      ({ entry, version } = await this.check(collection, generation, source));
    if (entry) return entry;
    const pending = this.loading.get(collection);
    if (pending) {
      // A load begun before this search read `version` may hold none of that commit's rows (another
      // process's write this search must see): it answers only if it read that version or a later one.
      const loaded = await pending;
      if (loaded.generation === generation && loaded.version >= version) return loaded;
    }
    let load = this.loading.get(collection);
    if (!load) {
      this.held.set(collection, []);
      load = this.load(collection, generation, source)
        .then(
          (loaded) => {
            this.release(collection);
            return this.entries.get(collection) ?? loaded;
          },
          (error: unknown) => {
            this.held.delete(collection);
            throw error;
          },
        )
        .finally(() => this.loading.delete(collection));
      this.loading.set(collection, load);
    }
    return load;
  }

  /**
   * Applies the commits held back during a load, in order (see held), but for those the load read
   * already: committed before it read the version, published after it began.
   */
  private release(collection: string): void {
    const held = this.held.get(collection) ?? [];
    this.held.delete(collection);
    for (const commit of held) {
      const entry = this.entries.get(collection);
      const read =
        entry !== undefined &&
        commit.kind !== "forget" &&
        commit.kind !== "rebuild" &&
        commit.kind !== "create" &&
        commit.generation === entry.generation &&
        commit.version <= entry.version;
      if (!read) this.apply(commit);
    }
  }

  private async load(collection: string, generation: number, source: CacheSource): Promise<Entry> {
    this.entries.delete(collection);
    const version = await source.version();
    const { rows, dim } = await source.shape();
    this.makeRoom(rowBytes(dim) * rows);
    const available = this.budgetBytes - this.bytes();
    if (dim === 0 || rowBytes(dim) * rows > available) {
      const tooBig: TooBig = { kind: "too-big", generation, version };
      this.entries.set(collection, tooBig);
      if (dim > 0) this.reportTooBig(collection, rows, dim, available);
      return tooBig;
    }
    const entry = emptyEntry(generation, version, dim, Math.max(rows, 16));
    let keepDetails = true;
    // Rows read whole: their first texts come with them (see FirstTexts).
    const texts = emptyTexts();
    // Streamed batch by batch, so the rows never sit in memory twice.
    for await (const batch of source.vectors()) {
      if (!this.reserve(entry, entry.count + batch.size) || entryBytes(entry) > available) {
        const tooBig: TooBig = { kind: "too-big", generation, version };
        this.entries.set(collection, tooBig);
        this.reportTooBig(collection, Math.max(rows, entry.count + batch.size), dim, available);
        return tooBig;
      }
      for (let i = 0; i < batch.size; i++) {
        const at = entry.count++;
        const id = batch.id(i);
        const chunk = batch.chunk(i);
        entry.ids[at] = id;
        entry.chunks[at] = chunk;
        entry.fields[at] = batch.fields(i);
        entry.index.set(chunkKey(id, chunk), at);
        entry.chunkCounts.set(id, Math.max(entry.chunkCounts.get(id) ?? 0, chunk + 1));
        entry.rowIds[at] = batch.rowId(i);
        writeRow(entry, at, batch.vector(i));
        if (batch.row) {
          const row = batch.row(i);
          if (keepDetails) setDetail(entry, at, row);
          if (chunk === 0) setFirstText(texts, id, row.text);
        }
      }
      if (entry.detailBytes > 0 && entryBytes(entry) > available) {
        // The vectors fit, their rows' text does not: hits are read back from the table.
        keepDetails = false;
        entry.details = [];
        entry.detailBytes = 0;
      }
    }
    if (texts.keyOf.size > 0 && entryBytes(entry) + texts.bytes <= available) entry.texts = texts;
    this.entries.set(collection, entry);
    this.reportedTooBig.delete(collection);
    return entry;
  }

  /** `needed`: the bytes asked for, by default the vectors of `rows` rows. */
  private reportTooBig(
    collection: string,
    rows: number,
    dim: number,
    available: number,
    needed = rowBytes(dim) * rows,
  ): void {
    if (this.reportedTooBig.has(collection)) return;
    this.reportedTooBig.add(collection);
    this.onTooBig?.({
      collection,
      rows,
      dimensions: dim,
      neededBytes: needed,
      availableBytes: Math.max(0, available),
      budgetBytes: this.budgetBytes,
    });
  }

  /** The ids-only entry if `version` is the commit right after it (nothing is dropped here). */
  private nextIds(collection: string, generation: number, version: number): IdsOnly | undefined {
    const entry = this.entries.get(collection);
    return entry?.kind === "ids" &&
      entry.generation === generation &&
      this.follows(collection, entry, version)
      ? entry
      : undefined;
  }

  /**
   * While this store compacts the collection beside its writes (see compacting), the versions past
   * the entry's are the compaction's (rows moved, none changed) or this store's own writes, which
   * current() has waited to see published: the entry still holds the table's rows. Searches had
   * reloaded it there instead, on the 2 cores the compaction was using (with 8 agents writing, the
   * slowest adds were those that waited for such loads).
   */
  private duringCompaction(collection: string, entry: Loaded, version: number): boolean {
    const from = this.compactions.get(collection);
    return from !== undefined && entry.version >= from && entry.version < version;
  }

  /** Whether `version` comes right after the entry's, or after the compaction's commits only (see compacting). */
  private follows(collection: string, entry: Loaded | IdsOnly, version: number): boolean {
    if (entry.version === version - 1) return true;
    const from = this.compactions.get(collection);
    return from !== undefined && entry.version >= from && entry.version < version - 1;
  }

  /** The loaded entry if `version` is the commit right after it; otherwise the entry is dropped. */
  private next(collection: string, generation: number, version: number): Loaded | undefined {
    const entry = this.entries.get(collection);
    if (
      entry?.kind === "loaded" &&
      entry.generation === generation &&
      this.follows(collection, entry, version)
    ) {
      // Skipped versions are the compaction's: the rows moved.
      if (entry.version !== version - 1) forgetRowIds(entry);
      return entry;
    }
    this.drop(collection);
    return undefined;
  }

  /**
   * Vectors come before kept rows: other collections' kept rows (and first texts) are let go,
   * largest first, until `bytes` more fit in the budget. Their searches read hits back again.
   */
  private makeRoom(bytes: number): void {
    const kept = [...this.entries.values()]
      .filter((entry): entry is Loaded => entry.kind === "loaded")
      .sort((a, b) => b.detailBytes + (b.texts?.bytes ?? 0) - (a.detailBytes + (a.texts?.bytes ?? 0)));
    for (const entry of kept) {
      if (this.bytes() + bytes <= this.budgetBytes) return;
      entry.details = [];
      entry.detailBytes = 0;
      entry.texts = undefined;
    }
  }

  /** Grows the entry's memory to hold `rows` rows; false when that would pass the budget. */
  private reserve(entry: Loaded, rows: number): boolean {
    if (rows <= entry.capacity) return true;
    const capacity = grownCapacity(entry.capacity, rows);
    const extra = rowBytes(entry.dim) * (capacity - entry.capacity);
    this.makeRoom(extra);
    if (this.bytes() + extra > this.budgetBytes) return false;
    growTo(entry.memory, layoutBytes(capacity, entry.stride));
    growTo(entry.memory8, layoutBytes8(capacity, entry.stride8));
    const rowIds = new BigUint64Array(capacity);
    rowIds.set(entry.rowIds);
    entry.rowIds = rowIds;
    const scales = new Float32Array(capacity);
    scales.set(entry.scales);
    entry.scales = scales;
    entry.capacity = capacity;
    return true;
  }
}

/** The capacity an entry grows to for `rows` rows: half as much again, so appends copy rarely. */
function grownCapacity(capacity: number, rows: number): number {
  return Math.max(rows, Math.ceil(capacity * 1.5));
}

function emptyEntry(generation: number, version: number, dim: number, capacity: number): Loaded {
  const stride = Math.ceil(dim / SIMD_LANES) * SIMD_LANES;
  const stride8 = Math.ceil(dim / SIMD_LANES_I8) * SIMD_LANES_I8;
  const { memory, scan } = createScanner(layoutBytes(capacity, stride));
  const { memory: memory8, scan8 } = createScanner(layoutBytes8(capacity, stride8));
  return {
    kind: "loaded",
    generation,
    version,
    dim,
    stride,
    count: 0,
    capacity,
    ids: [],
    chunks: [],
    fields: [],
    rowIds: new BigUint64Array(capacity),
    unknown: 0,
    index: new Map(),
    chunkCounts: new Map(),
    memory,
    scan,
    stride8,
    memory8,
    scan8,
    scales: new Float32Array(capacity),
    maxScale: 0,
    epoch: 0,
    masks: new Map(),
    details: [],
    detailBytes: 0,
  };
}

/** Memory per cached row, about: float32 and int8 copies, a score, a scale, a row id (ids apart). */
function rowBytes(dim: number): number {
  return dim * 5 + 16;
}

function growTo(memory: WasmMemory, bytes: number): void {
  const pages = Math.ceil(bytes / WASM_PAGE) - memory.buffer.byteLength / WASM_PAGE;
  if (pages > 0) memory.grow(pages);
}

/** float32 rows first (from byte 0), then the query, then one score per row. */
function layoutBytes(capacity: number, stride: number): number {
  return (capacity * stride + stride + capacity) * 4;
}

/** int8 rows first (from byte 0), then the int16 query (16-byte aligned), then one score per row. */
function layoutBytes8(capacity: number, stride8: number): number {
  return capacity * stride8 + stride8 * 2 + capacity * 4;
}

function entryBytes(entry: Loaded): number {
  return (
    entry.memory.buffer.byteLength +
    entry.memory8.buffer.byteLength +
    entry.scales.byteLength +
    entry.detailBytes +
    (entry.texts?.bytes ?? 0) +
    (entry.keywords?.bytes ?? 0)
  );
}

/** A row's text set (or, undefined, removed) in the entry's keyword index, or noted for the one being built. */
function noteText(entry: Loaded, key: string, text: string | undefined): void {
  if (entry.keywords) {
    if (text === undefined) entry.keywords.remove(key);
    else entry.keywords.set(key, text);
  } else entry.keywordChanges?.push([key, text]);
}

function emptyTexts(): FirstTexts {
  return { keyOf: new Map(), idsOf: new Map(), lengths: new Map(), longest: 0, bytes: 0 };
}

/** FNV-1a over UTF-16 code units: a text's hash is hashStep applied from HASH_START, unit by unit. */
const HASH_START = 0x811c9dc5;
function hashStep(hash: number, unit: number): number {
  return Math.imul(hash ^ unit, 0x01000193);
}

/** A text's (or a prefix's) key: its length and its hash together. */
function lengthKey(length: number, hash: number): number {
  return length * 0x1_0000_0000 + (hash >>> 0);
}

function textKey(text: string): number {
  let hash = HASH_START;
  for (let i = 0; i < text.length; i++) hash = hashStep(hash, text.charCodeAt(i));
  return lengthKey(text.length, hash);
}

/** Map entries, the id string, an array: about what a kept first text costs. */
function firstTextBytes(id: string): number {
  return 2 * id.length + 120;
}

function setFirstText(texts: FirstTexts, id: string, text: string): void {
  const key = textKey(text);
  const old = texts.keyOf.get(id);
  if (old === key) return;
  if (old !== undefined) removeFirstText(texts, id);
  texts.keyOf.set(id, key);
  const ids = texts.idsOf.get(key);
  if (ids) ids.push(id);
  else texts.idsOf.set(key, [id]);
  texts.lengths.set(text.length, (texts.lengths.get(text.length) ?? 0) + 1);
  texts.longest = Math.max(texts.longest, text.length);
  texts.bytes += firstTextBytes(id);
}

function removeFirstText(texts: FirstTexts, id: string): void {
  const key = texts.keyOf.get(id);
  if (key === undefined) return;
  texts.keyOf.delete(id);
  const ids = texts.idsOf.get(key) ?? [];
  const rest = ids.filter((other) => other !== id);
  if (rest.length > 0) texts.idsOf.set(key, rest);
  else texts.idsOf.delete(key);
  const length = Math.floor(key / 0x1_0000_0000);
  const count = (texts.lengths.get(length) ?? 1) - 1;
  if (count > 0) texts.lengths.set(length, count);
  else texts.lengths.delete(length);
  texts.bytes -= firstTextBytes(id);
}

/** Documents whose first text's key equals that of a prefix of `text` (the whole text included). */
function prefixMatches(texts: FirstTexts, text: string, limit: number): string[] {
  const found: string[] = [];
  const end = Math.min(text.length, texts.longest);
  let hash = HASH_START;
  for (let length = 1; length <= end && found.length < limit; length++) {
    hash = hashStep(hash, text.charCodeAt(length - 1));
    if (!texts.lengths.has(length)) continue;
    for (const id of texts.idsOf.get(lengthKey(length, hash)) ?? []) {
      if (found.length < limit) found.push(id);
    }
  }
  return found;
}

/** About what a kept row costs: UTF-16 strings, the metadata as objects, the object itself. */
function detailBytes(row: FetchedChunk): number {
  return 2 * (row.id.length + row.text.length + JSON.stringify(row.metadata).length) + 160;
}

/** A kept row as a caller gets it: a copy, since the caller may change what it gets. */
function copyOf(row: FetchedChunk): FetchedChunk {
  return { ...row, metadata: structuredClone(row.metadata) };
}

function setDetail(entry: Loaded, at: number, row: FetchedChunk | undefined): void {
  const old = entry.details[at];
  if (old) entry.detailBytes -= detailBytes(old);
  if (row) entry.detailBytes += detailBytes(row);
  entry.details[at] = row;
}

/** A copy of the row's kept (unit) vector, without the padding. */
function vectorAt(entry: Loaded, at: number): Float32Array {
  return new Float32Array(entry.memory.buffer, at * entry.stride * 4, entry.dim).slice();
}

/** Writes a row normalised to length 1 (zeros stay zeros), padding included. */
function writeRow(entry: Loaded, at: number, vector: Float32Array): void {
  // Locals, not entry's fields, in the loops: this runs for every row of a batched ingest.
  const dim = entry.dim;
  const row = new Float32Array(entry.memory.buffer, at * entry.stride * 4, entry.stride);
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const value = vector[i] as number;
    sum += value * value;
  }
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  let max = 0;
  for (let i = 0; i < dim; i++) {
    const value = Math.fround((vector[i] as number) * scale);
    row[i] = value;
    if (Math.abs(value) > max) max = Math.abs(value);
  }
  row.fill(0, dim);
  const row8 = new Int8Array(entry.memory8.buffer, at * entry.stride8, entry.stride8);
  const step = max / 127;
  if (step > 0) for (let i = 0; i < dim; i++) row8[i] = Math.round((row[i] as number) / step);
  row8.fill(0, step > 0 ? dim : 0);
  entry.scales[at] = step;
  entry.maxScale = Math.max(entry.maxScale, step);
}

/** After rows moved (a compaction): every row id is unknown until read again (see relocate). */
function forgetRowIds(entry: Loaded): void {
  entry.rowIds.fill(UNKNOWN_ROW);
  entry.unknown = entry.count;
  entry.epoch++;
}

/** Moves the last row into the removed one's place. */
function removeRow(entry: Loaded, id: string, chunk: number): void {
  const at = entry.index.get(chunkKey(id, chunk));
  if (at === undefined) return;
  const last = entry.count - 1;
  entry.index.delete(chunkKey(id, chunk));
  noteText(entry, chunkKey(id, chunk), undefined);
  if (entry.rowIds[at] === UNKNOWN_ROW) entry.unknown--;
  if (at !== last) {
    const lastId = entry.ids[last] as string;
    const lastChunk = entry.chunks[last] as number;
    const floats = new Float32Array(entry.memory.buffer, 0, entry.capacity * entry.stride);
    floats.copyWithin(at * entry.stride, last * entry.stride, (last + 1) * entry.stride);
    const bytes = new Int8Array(entry.memory8.buffer, 0, entry.capacity * entry.stride8);
    bytes.copyWithin(at * entry.stride8, last * entry.stride8, (last + 1) * entry.stride8);
    entry.scales[at] = entry.scales[last] as number;
    entry.ids[at] = lastId;
    entry.chunks[at] = lastChunk;
    entry.fields[at] = entry.fields[last] as Metadata;
    // Moved, not copied: the last slot's bytes leave the count as they join `at`'s.
    const moved = entry.details[last];
    setDetail(entry, last, undefined);
    setDetail(entry, at, moved);
    entry.rowIds[at] = entry.rowIds[last] as bigint;
    entry.index.set(chunkKey(lastId, lastChunk), at);
  }
  entry.ids.length = last;
  entry.chunks.length = last;
  entry.fields.length = last;
  if (at === last) setDetail(entry, at, undefined);
  entry.details.length = Math.min(entry.details.length, last);
  entry.count = last;
  entry.epoch++;
}

/** Below this many rows the float32 scan alone is fast enough (and simplest). */
const QUANTISED_FROM_ROWS = 4096;
/** The int16 query's range: keeps scan8's int32 sums from overflowing up to 4096 dimensions. */
const QUERY_LEVELS = 4095;

/**
 * The slots `where` admits, evaluated once per filter and epoch (the entry's rows unchanged).
 * About 1-3 ms per 100k rows for a filter on one or two keys (bench/search-paths.ts).
 */
function maskOf(entry: Loaded, where: CacheFilter): Mask {
  const key = JSON.stringify(where.filter);
  const kept = entry.masks.get(key);
  if (kept && kept.epoch === entry.epoch) return kept;
  const matches = compileMatcher(where.filter, where.kinds);
  const admits = new Uint8Array(entry.count);
  let matched = 0;
  const fields = entry.fields;
  for (let i = 0; i < entry.count; i++) {
    if (matches(fields[i] as Metadata)) {
      admits[i] = 1;
      matched++;
    }
  }
  const mask = { epoch: entry.epoch, admits, matched };
  entry.masks.delete(key);
  entry.masks.set(key, mask);
  // Oldest first in a Map: forget the least recently used past MASKS_KEPT (and any stale ones).
  for (const [old, value] of entry.masks) {
    if (entry.masks.size <= MASKS_KEPT && value.epoch === entry.epoch) break;
    entry.masks.delete(old);
  }
  return mask;
}

/**
 * Below this share of the rows admitted, a filtered search scores only those rows (a JS loop over
 * their float32 copies) instead of scanning all of them with the kernel and masking the scores.
 */
const SUBSET_SHARE = 1 / 16;

/**
 * The k nearest rows by cosine distance (among those `mask` admits), or undefined for a zero query
 * (LanceDB decides those).
 */
function pick(entry: Loaded, query: Float32Array, k: number, mask?: Mask): CachedPick[] | undefined {
  let sum = 0;
  for (let i = 0; i < entry.dim; i++) sum += (query[i] as number) ** 2;
  const candidates = mask ? mask.matched : entry.count;
  if (!(sum > 0) || candidates === 0) return candidates === 0 ? [] : undefined;
  const norm = Math.sqrt(sum);
  if (mask && candidates <= entry.count * SUBSET_SHARE) return pickSubset(entry, query, norm, k, mask);
  const quantised =
    entry.count >= QUANTISED_FROM_ROWS && k * 8 <= candidates
      ? pickQuantised(entry, query, norm, k, mask)
      : undefined;
  return quantised ?? pickExact(entry, query, norm, k, mask);
}

/** Exact scores of only the rows the mask admits, from their float32 copies. */
function pickSubset(entry: Loaded, query: Float32Array, norm: number, k: number, mask: Mask): CachedPick[] {
  const { dim, stride } = entry;
  const unit = new Float32Array(dim);
  for (let i = 0; i < dim; i++) unit[i] = (query[i] as number) / norm;
  const rows = new Float32Array(entry.memory.buffer, 0, entry.count * stride);
  const slots = new Int32Array(mask.matched);
  const scores = new Float32Array(mask.matched);
  let n = 0;
  for (let at = 0; at < entry.count; at++) {
    if (mask.admits[at] !== 1) continue;
    let score = 0;
    const base = at * stride;
    for (let i = 0; i < dim; i++) score += (rows[base + i] as number) * (unit[i] as number);
    slots[n] = at;
    scores[n++] = score;
  }
  return Array.from(topK(scores, n, k), (j) => {
    const at = slots[j] as number;
    return {
      id: entry.ids[at] as string,
      chunk: entry.chunks[at] as number,
      rowId: entry.rowIds[at] as bigint,
      distance: 1 - (scores[j] as number),
    };
  });
}

/** The float32 scan of every row (rows the mask refuses scored -Infinity). */
function pickExact(entry: Loaded, query: Float32Array, norm: number, k: number, mask?: Mask): CachedPick[] {
  const queryAt = entry.capacity * entry.stride * 4;
  const scoresAt = queryAt + entry.stride * 4;
  const q = new Float32Array(entry.memory.buffer, queryAt, entry.stride);
  q.set(query.subarray(0, entry.dim));
  q.fill(0, entry.dim);
  entry.scan(queryAt, 0, entry.count, entry.stride * 4, scoresAt);
  const scores = new Float32Array(entry.memory.buffer, scoresAt, entry.count);
  if (mask) refuse(scores, mask);
  // Ids are read now, synchronously: a write applied while details are fetched may move rows.
  return Array.from(topK(scores, entry.count, Math.min(k, mask?.matched ?? k)), (at) => ({
    id: entry.ids[at] as string,
    chunk: entry.chunks[at] as number,
    rowId: entry.rowIds[at] as bigint,
    distance: 1 - (scores[at] as number) / norm,
  }));
}

/**
 * Exact top k from the int8 copy, a quarter of the bytes: scan8 gives every row an approximate
 * score with a proven error bound; the best candidates are re-scored exactly from the float32
 * rows, and so is every other row whose approximate score plus the bound could still reach the
 * k-th exact score. The answer is the exact top k, as from pickExact. Undefined when too many rows
 * are that close (then the float32 scan is cheaper).
 *
 * Bound: a row r (unit length) is s_r (c + d) with int8 codes c and |d_i| <= 1/2, the normalised
 * query s_q (e + f) likewise with int16 codes e; |r.q - s_r s_q c.e| <= s_r s_q (|c.f| + |d.e| + |d.f|)
 * <= s_q sqrt(dim)/2 + s_r s_q (dim/2 + |e|_1/2), using |c|_1 <= sqrt(dim) (1/s_r + sqrt(dim)/2).
 */
function pickQuantised(
  entry: Loaded,
  query: Float32Array,
  norm: number,
  k: number,
  mask?: Mask,
): CachedPick[] | undefined {
  const { dim, count, stride, stride8 } = entry;
  const unit = new Float64Array(dim);
  let max = 0;
  for (let i = 0; i < dim; i++) {
    unit[i] = (query[i] as number) / norm;
    max = Math.max(max, Math.abs(unit[i] as number));
  }
  const step = max / QUERY_LEVELS;
  const queryAt = entry.capacity * stride8;
  const outAt = queryAt + stride8 * 2;
  const q16 = new Int16Array(entry.memory8.buffer, queryAt, stride8);
  let l1 = 0;
  for (let i = 0; i < dim; i++) {
    q16[i] = Math.round((unit[i] as number) / step);
    l1 += Math.abs(q16[i] as number);
  }
  q16.fill(0, dim);
  entry.scan8(queryAt, 0, count, stride8, outAt);
  const approx = new Float32Array(entry.memory8.buffer, outAt, count);
  const scales = entry.scales;
  for (let i = 0; i < count; i++) approx[i] = (approx[i] as number) * (scales[i] as number) * step;
  if (mask) refuse(approx, mask);
  // 1e-5 more for float32 rounding in the scores themselves.
  const bound = (step * Math.sqrt(dim)) / 2 + entry.maxScale * step * (dim / 2 + l1 / 2) + 1e-5;

  const rows = new Float32Array(entry.memory.buffer, 0, count * stride);
  const exact = (at: number) => {
    let score = 0;
    const base = at * stride;
    for (let i = 0; i < dim; i++) score += (rows[base + i] as number) * (unit[i] as number);
    return { at, score };
  };
  const top = topK(approx, count, Math.min(mask?.matched ?? count, Math.max(4 * k, 64)));
  let scored = Array.from(top, exact).sort((a, b) => b.score - a.score);
  const threshold = (scored[k - 1] as { score: number }).score;
  if ((approx[top[top.length - 1] as number] as number) + bound >= threshold) {
    const seen = new Set(top);
    const more: number[] = [];
    for (let i = 0; i < count; i++) {
      if ((approx[i] as number) + bound < threshold || seen.has(i)) continue;
      more.push(i);
      if (more.length > count / 8) return undefined;
    }
    scored = scored.concat(more.map(exact)).sort((a, b) => b.score - a.score);
  }
  return scored.slice(0, k).map(({ at, score }) => ({
    id: entry.ids[at] as string,
    chunk: entry.chunks[at] as number,
    rowId: entry.rowIds[at] as bigint,
    distance: 1 - score,
  }));
}

/** Scores of the rows the mask does not admit become -Infinity: no admitted row ranks below them. */
function refuse(scores: Float32Array, mask: Mask): void {
  const admits = mask.admits;
  for (let i = 0; i < admits.length; i++) if (admits[i] !== 1) scores[i] = Number.NEGATIVE_INFINITY;
}

/**
 * The picked rows' text and metadata (and vectors), by row id where known, by id otherwise.
 * Undefined when a row is gone: the cache was stale.
 */
async function details(
  source: CacheSource,
  picks: CachedPick[],
  withVectors: boolean,
  cached?: Loaded,
): Promise<Hit[] | undefined> {
  if (picks.length === 0) return [];
  const byKey = new Map<string, FetchedChunk>();
  const keep = (rows: FetchedChunk[]) => {
    for (const row of rows) byKey.set(chunkKey(row.id, row.chunk), row);
  };
  const keyOf = (p: CachedPick) => chunkKey(p.id, p.chunk);
  if (cached) {
    for (const p of picks) {
      const at = cached.index.get(keyOf(p));
      const row = at === undefined ? undefined : cached.details[at];
      if (row) byKey.set(keyOf(p), copyOf(row));
    }
  }
  const known = picks.filter((p) => p.rowId !== UNKNOWN_ROW && !byKey.has(keyOf(p)));
  if (known.length > 0) {
    try {
      keep(
        await source.rowsAt(
          known.map((p) => p.rowId),
          withVectors,
        ),
      );
    } catch {
      // Row ids from a version whose files were compacted away: look those rows up by id below.
    }
  }
  // A row whose known row id no longer holds it was deleted or rewritten since: stale.
  if (known.some((p) => !byKey.has(keyOf(p)))) return undefined;
  const unknown = [...new Set(picks.filter((p) => !byKey.has(keyOf(p))).map((p) => p.id))];
  if (unknown.length > 0) {
    // Every chunk of those documents comes back; the picked ones are matched by key.
    keep(await source.rowsOf(unknown, withVectors));
  }
  const hits: Hit[] = [];
  for (const p of picks) {
    const row = byKey.get(keyOf(p));
    if (!row) return undefined;
    hits.push({ ...row, distance: p.distance });
  }
  return hits;
}
