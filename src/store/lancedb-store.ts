import * as lancedb from "@lancedb/lancedb";
import { MemoryError, unknownCollectionError } from "../errors.js";
import type { Filter } from "../filter.js";
import type { Logger } from "../logger.js";
import { describeModel, type ModelRecord, sameModel } from "../model-record.js";
import {
  CHECK_EVERY,
  cleanupCutoff,
  compactionDue,
  IDLE_MS,
  MAX_BUSY_MS,
  OVERDUE_FACTOR,
} from "./compaction.js";
import {
  guardStorage,
  isAlreadyExists,
  isCommitConflict,
  isNotFound,
  isStorageError,
} from "./lance/errors.js";
import {
  assertCollectionName,
  collectionsIn,
  generationsOf,
  liveGeneration,
  tableName,
} from "./lance/generations.js";
import { countDocuments, ensureChunkColumns, positionColumns } from "./lance/legacy-chunks.js";
import {
  deleteFromTable,
  fetchChunks,
  idsMatching,
  readAll,
  searchTable,
  storedChunksOf,
} from "./lance/queries.js";
import {
  arrowRows,
  columnKinds,
  ensureColumns,
  metadataKinds,
  positionOf,
  readModelRecord,
  tableSchema,
} from "./lance/schema.js";
import { createTextIndex, fullTextScan, fullTextSearch } from "./lance/text-index.js";
import { ANN_MIN_ROWS, VectorIndexer } from "./lance/vector-index.js";
import { withProcessLock } from "./process-lock.js";
import { type ColumnKind, compileFilter, idInList } from "./sql.js";
import { DEFAULT_VECTOR_CACHE_BYTES, VectorCache } from "./vector-cache.js";
import type {
  ChunkToWrite,
  CollectionInfo,
  CollectionStats,
  DeleteResult,
  DeleteSelector,
  FetchedChunk,
  Hit,
  KeywordHit,
  Metadata,
  SearchOptions,
  StoredChunk,
  VectorStore,
} from "./vector-store.js";

export interface LanceStoreOptions {
  dbPath: string;
  logger: Logger;
  /** Look at a collection's fragments after this many writes to it (default CHECK_EVERY), compacting when overdue. */
  compactEvery?: number;
  /** A due compaction waits for this many ms without writes (default IDLE_MS). */
  compactIdleMs?: number;
  /** ...but no longer than this many ms of writes without such a pause (default MAX_BUSY_MS). */
  compactMaxBusyMs?: number;
  /** Memory for cached vectors, all collections together (default DEFAULT_VECTOR_CACHE_BYTES; 0 disables). */
  vectorCacheBytes?: number;
  /** Build a vector index (in the background, at compaction) from this many rows (default ANN_MIN_ROWS). */
  vectorIndexMinRows?: number;
}

/**
 * Every write is a LanceDB commit and a new small fragment; agents write one memory at a time, so
 * without compaction LanceDB's search slows down steadily (measured: 300 one-row adds took vector
 * search from 2 to 32 ms p50; one optimize() brought it back). So compaction runs automatically,
 * when due by the policy in compaction.ts.
 */
export const COMPACT_EVERY = CHECK_EVERY;

interface TableState {
  table: lancedb.Table;
  model: ModelRecord;
  /** Which table holds the collection: `name` (0) or `name.g<N>` after N re-embeddings. */
  generation: number;
  /** Settles once the full-text index on `text` exists. */
  textIndex?: Promise<void> | undefined;
  /** True once the table is known to have the chunk position columns (tables made before chunking lack them). */
  chunked?: boolean;
}

/**
 * One LanceDB table per collection: `id`, `text`, `vector`, `metadata` (the JSON the caller gave,
 * returned exactly), plus one typed column `m_<key>` per metadata key so filters run in the database.
 * A row is one chunk of a document: rows with the same `id` are its chunks, told apart by `chunk`
 * (and placed by `chunk_start`); (id, chunk) is the row's identity.
 */
export class LanceStore implements VectorStore {
  private connection: Promise<lancedb.Connection> | undefined;
  private readonly tables = new Map<string, TableState>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly writesSinceCompaction = new Map<string, number>();
  private readonly compactions = new Map<string, Promise<void>>();
  private readonly idleTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** When the current run of writes without an idle pause began, per collection. */
  private readonly busySince = new Map<string, number>();
  /** Unfiltered searches run on an in-memory copy of the vectors; LanceDB stays the source of truth. */
  private readonly vectors: VectorCache | undefined;
  private readonly indexer: VectorIndexer;

  constructor(private readonly options: LanceStoreOptions) {
    const budget = options.vectorCacheBytes ?? DEFAULT_VECTOR_CACHE_BYTES;
    this.vectors = budget > 0 ? new VectorCache(budget) : undefined;
    this.indexer = new VectorIndexer(options.logger, options.vectorIndexMinRows ?? ANN_MIN_ROWS);
  }

  private db(): Promise<lancedb.Connection> {
    // readConsistencyInterval 0: every read checks for commits made by other processes on the same directory.
    this.connection ??= lancedb
      .connect(this.options.dbPath, { readConsistencyInterval: 0 })
      .catch((error: unknown) => {
        // Not memoised: once the directory is fixed (remounted, space freed), the next call connects.
        this.connection = undefined;
        throw error;
      });
    return this.connection;
  }

  private guard<T>(operation: () => Promise<T>): Promise<T> {
    return guardStorage(this.options.dbPath, this.options.logger, operation);
  }

  /** Serialises writes to one collection within this process (schema changes and merges must not interleave). */
  private async exclusive<T>(collection: string, work: () => Promise<T>): Promise<T> {
    // The name becomes a lock file's name: validate it before anything touches the disk.
    assertCollectionName(collection);
    const previous = this.locks.get(collection) ?? Promise.resolve();
    // In this process, writes queue here; across processes, the collection's lock file orders them.
    const locked = () =>
      this.guard(() => withProcessLock(this.options.dbPath, collection, this.options.logger, work));
    const run = previous.then(locked, locked);
    const settled = run.catch(() => undefined);
    this.locks.set(collection, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(collection) === settled) this.locks.delete(collection);
    }
  }

  private async open(collection: string): Promise<TableState | undefined> {
    assertCollectionName(collection);
    const cached = this.tables.get(collection);
    if (cached) return cached;
    const db = await this.db();
    const generation = liveGeneration(collection, await db.tableNames());
    if (generation === undefined) return undefined;
    const name = tableName(collection, generation);
    let table: lancedb.Table;
    try {
      table = await db.openTable(name);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const model = readModelRecord(await table.schema());
    if (!model) {
      table.close();
      return undefined;
    }
    const state = { table, model, generation };
    this.tables.set(collection, state);
    return state;
  }

  /**
   * Runs `work` on the collection's live table. A cached handle can go stale when another process
   * re-embeds (a new generation) or drops the collection: on "not found" the handle is forgotten
   * and the live table looked up again, once. A commit conflict with another process is retried
   * with backoff. `missing` answers when there is no such collection.
   */
  private async withTable<T>(
    collection: string,
    work: (state: TableState) => Promise<T>,
    missing: () => Promise<T>,
  ): Promise<T> {
    return this.guard(() => this.retrying(collection, work, missing));
  }

  private async retrying<T>(
    collection: string,
    work: (state: TableState) => Promise<T>,
    missing: () => Promise<T>,
  ): Promise<T> {
    let reopened = false;
    for (let conflicts = 0; ; ) {
      const state = await this.open(collection);
      if (!state) return missing();
      try {
        return await work(state);
      } catch (error) {
        if (isCommitConflict(error) && conflicts < MAX_CONFLICT_RETRIES) {
          // Another process committed first. Every write here is safe to repeat (merge-insert by
          // id, delete by predicate, add missing columns, create a missing index, optimize).
          conflicts += 1;
          await sleep(backoffMs(conflicts));
          continue;
        }
        if (reopened || !isNotFound(error)) throw error;
        reopened = true;
        this.forget(collection);
      }
    }
  }

  /** Like withTable, but a missing collection is the caller's error, listing the known ones. */
  private withExisting<T>(collection: string, work: (state: TableState) => Promise<T>): Promise<T> {
    return this.withTable(collection, work, async () => {
      throw unknownCollectionError(
        collection,
        (await this.listCollections()).map((c) => c.name),
      );
    });
  }

  getCollection(name: string): Promise<CollectionInfo | undefined> {
    return this.withTable<CollectionInfo | undefined>(
      name,
      async (state) => ({ name, count: await countDocuments(state), model: state.model }),
      async () => undefined,
    );
  }

  async upsert(
    collection: string,
    model: ModelRecord,
    rows: ChunkToWrite[],
  ): Promise<{ inserted: number; updated: number }> {
    if (rows.length === 0) return { inserted: 0, updated: 0 };
    for (const row of rows) {
      if (row.vector.length !== model.dimensions) {
        throw new Error(`bug: vector of ${row.vector.length} dimensions for a ${model.dimensions}-d model`);
      }
    }
    const kinds = metadataKinds(rows);
    const write = async (state: TableState) => {
      if (!sameModel(state.model, model)) {
        throw new MemoryError(
          "model_mismatch",
          `Collection "${collection}" holds vectors of ${describeModel(state.model)}; refusing to add vectors of ${describeModel(model)}.`,
        );
      }
      const before = this.vectors ? await state.table.version() : undefined;
      await ensureChunkColumns(state);
      const columns = await ensureColumns(collection, state.table, kinds);
      const records = arrowRows(tableSchema(model, columns), rows, columns);
      const version = this.vectors ? await state.table.version() : undefined;
      if (before !== undefined && version !== undefined && version !== before) {
        // New metadata columns: a commit that changes no vector.
        this.vectors?.afterSchemaChange(collection, state.generation, before, version);
      }
      const ids = [...new Set(rows.map((row) => row.id))];
      // Documents the cache proves new are appended: a merge-insert joins against every stored id.
      if (version !== undefined && this.vectors?.absent(collection, state.generation, version, ids)) {
        const added = await state.table.add(records);
        this.vectors.afterUpsert(collection, state.generation, added.version, rows);
        return { inserted: ids.length, updated: 0 };
      }
      const { existing, stale } = await storedChunksOf(state.table, rows);
      let merge = state.table.mergeInsert(["id", "chunk"]).whenMatchedUpdateAll().whenNotMatchedInsertAll();
      // Chunks a shorter new version no longer has go in the same commit. Only then: deleting
      // unmatched rows makes the merge a full outer join over the table.
      if (stale.length > 0) merge = merge.whenNotMatchedBySourceDelete({ where: idInList(stale) });
      const result = await merge.execute(records);
      this.vectors?.afterUpsert(collection, state.generation, result.version, rows);
      return { inserted: ids.length - existing, updated: existing };
    };
    const result = await this.exclusive(collection, () =>
      this.withTable(collection, write, () => this.create(collection, model, kinds, rows, write)),
    );
    this.noteWrite(collection);
    return result;
  }

  /** Storage figures for a collection: documents, rows, fragments (and how many are small), bytes on disk. */
  stats(collection: string): Promise<CollectionStats> {
    return this.withExisting(collection, async (state) => {
      const stats = await state.table.stats();
      return {
        documents: await countDocuments(state),
        chunks: stats.numRows,
        fragments: stats.fragmentStats.numFragments,
        smallFragments: stats.fragmentStats.numSmallFragments,
        bytes: stats.totalBytes,
      };
    });
  }

  /**
   * Counts a write. Once the collection has been idle for `compactIdleMs`, compacts it in the
   * background if due; every `compactEvery` writes, compacts it at once if overdue, or if due
   * when writes have not paused for MAX_BUSY_MS.
   */
  private noteWrite(collection: string): void {
    const pending = this.idleTimers.get(collection);
    if (pending === undefined) this.busySince.set(collection, Date.now());
    clearTimeout(pending);
    const timer = setTimeout(() => {
      this.idleTimers.delete(collection);
      this.busySince.delete(collection);
      this.startCompaction(collection, 1);
    }, this.options.compactIdleMs ?? IDLE_MS);
    // A pending compaction never keeps the process alive.
    timer.unref();
    this.idleTimers.set(collection, timer);
    const writes = (this.writesSinceCompaction.get(collection) ?? 0) + 1;
    if (writes < (this.options.compactEvery ?? COMPACT_EVERY)) {
      this.writesSinceCompaction.set(collection, writes);
      return;
    }
    this.writesSinceCompaction.set(collection, 0);
    const busy = Date.now() - (this.busySince.get(collection) ?? Date.now());
    const maxBusy = this.options.compactMaxBusyMs ?? MAX_BUSY_MS;
    this.startCompaction(collection, busy >= maxBusy ? 1 : OVERDUE_FACTOR);
  }

  /** Compacts in the background if the fragments are `factor` times due (compactionDue). */
  private startCompaction(collection: string, factor: number): void {
    if (this.compactions.has(collection)) return;
    const run = this.compact(collection, { onlyIfDue: factor })
      .catch((error: unknown) =>
        this.options.logger.warn(`compaction of "${collection}" failed (retried later): ${String(error)}`),
      )
      .finally(() => this.compactions.delete(collection));
    this.compactions.set(collection, run);
  }

  /**
   * Merges small fragments, folds new rows into the indexes and removes the versions older than
   * this compaction (see cleanupCutoff). Runs under the collection's write lock: this process's
   * writes wait for it, and LanceDB's commit protocol orders it against other processes.
   * `onlyIfDue`: only when the fragments are that many times due (compactionDue).
   */
  async compact(collection: string, { onlyIfDue }: { onlyIfDue?: number } = {}): Promise<void> {
    await this.exclusive(collection, () =>
      this.withTable(
        collection,
        async (state) => {
          if (onlyIfDue !== undefined) {
            const { numRows, fragmentStats } = await state.table.stats();
            const stats = { rows: numRows, smallFragments: fragmentStats.numSmallFragments };
            if (!compactionDue(stats, onlyIfDue)) return;
          }
          const started = Date.now();
          const before = await state.table.version();
          const stats = await state.table.optimize({ cleanupOlderThan: cleanupCutoff(started) });
          await this.vectors?.afterCompaction(collection, state.generation, before, state.table);
          // The index's commit changes no row: the cache follows it instead of reloading.
          this.indexer.maybeBuild(collection, state.table, (before, after) =>
            this.vectors?.afterSchemaChange(collection, state.generation, before, after),
          );
          this.options.logger.debug(
            `compacted "${collection}" in ${Date.now() - started} ms: ${stats.compaction.fragmentsRemoved} fragments merged, ${stats.prune.oldVersionsRemoved} old versions removed`,
          );
        },
        async () => undefined,
      ),
    );
  }

  /**
   * Creates the collection holding its first rows, in one commit: a call that fails (a full disk)
   * leaves no empty collection behind. If another process created it first, `write` adds to theirs.
   */
  private async create(
    collection: string,
    model: ModelRecord,
    kinds: Map<string, ColumnKind>,
    rows: ChunkToWrite[],
    write: (state: TableState) => Promise<{ inserted: number; updated: number }>,
  ): Promise<{ inserted: number; updated: number }> {
    const db = await this.db();
    let table: lancedb.Table;
    try {
      // The model record travels in the rows' schema metadata: created with the rows, in one commit.
      table = await db.createTable(collection, arrowRows(tableSchema(model, kinds), rows, kinds), {
        mode: "create",
      });
    } catch (error) {
      // Another process created it first: add to theirs (the model check follows in `write`).
      if (!isAlreadyExists(error)) throw error;
      const existing = await this.open(collection);
      if (!existing) throw error;
      return write(existing);
    }
    this.tables.set(collection, { table, model, generation: 0 });
    this.vectors?.track(collection, 0, await table.version(), model.dimensions, rows);
    this.options.logger.info(`created collection "${collection}" (${describeModel(model)})`);
    // Documents, not rows: a long text is several rows (chunks) with one id.
    return { inserted: new Set(rows.map((row) => row.id)).size, updated: 0 };
  }

  search(collection: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]> {
    return this.withExisting(collection, async (state) => {
      const positions = await positionColumns(state);
      // Filtered searches stay in LanceDB: it prefilters on its typed columns.
      const cached = options.where
        ? undefined
        : await this.vectors?.search(collection, state.generation, state.table, vector, options, positions);
      return cached ?? searchTable(state.table, vector, options, positions);
    });
  }

  keywordSearch(collection: string, query: string, options: SearchOptions): Promise<KeywordHit[]> {
    return this.withExisting(collection, async (state) => {
      const indexed = await this.ensureTextIndex(state).then(
        () => true,
        (error: unknown) => {
          // A full or read-only disk cannot take the index: scan instead (unstemmed, slower), so
          // keyword and hybrid search keep working there. The next search tries the index again.
          if (!isStorageError(error)) throw error;
          this.options.logger.warn(
            `full-text index on "${collection}" not written, keyword search scans instead: ${String(error).split(/\s+Caused by:/)[0]}`,
          );
          return false;
        },
      );
      const where = options.where
        ? compileFilter(options.where, columnKinds(await state.table.schema()))
        : undefined;
      const positions = await positionColumns(state);
      const rows = indexed
        ? await fullTextSearch(
            state.table,
            query,
            where,
            ["id", "text", "metadata", "vector", ...positions],
            options.limit,
          )
        : await fullTextScan(state.table, query, where, options.limit, positions);
      return rows.map((row) => ({
        id: row.id,
        text: row.text,
        metadata: JSON.parse(row.metadata) as Metadata,
        ...positionOf(row),
        keywordScore: row._score,
        vector: Float32Array.from(row.vector),
      }));
    });
  }

  /**
   * The full-text index is made on first keyword search (not at creation: a collection that is
   * only searched by meaning never pays for it). Rows added later are still found: LanceDB scans
   * what the index does not cover yet.
   */
  private ensureTextIndex(state: TableState): Promise<void> {
    // One creation per table, shared by concurrent first keyword searches.
    state.textIndex ??= createTextIndex(state.table).catch((error: unknown) => {
      state.textIndex = undefined;
      throw error;
    });
    return state.textIndex;
  }

  async delete(collection: string, selector: DeleteSelector): Promise<DeleteResult> {
    const result = await this.exclusive(collection, () =>
      this.withExisting(collection, async (state) => {
        const { version, removed, ...result } = await deleteFromTable(state.table, selector);
        this.vectors?.afterDelete(collection, state.generation, version, removed);
        return result;
      }),
    );
    if (result.deleted > 0) this.noteWrite(collection);
    return result;
  }

  async dropCollection(collection: string): Promise<number | undefined> {
    return this.exclusive(collection, () =>
      this.guard(async () => {
        const info = await this.getCollection(collection);
        if (!info) return undefined;
        this.forget(collection);
        const db = await this.db();
        const generations = generationsOf(collection, await db.tableNames());
        if (generations.length === 0) return undefined;
        await this.dropGenerations(collection, generations);
        this.options.logger.info(`dropped collection "${collection}" (${info.count} documents)`);
        return info.count;
      }),
    );
  }

  listIds(collection: string, where?: Filter): Promise<string[]> {
    return this.withExisting(collection, async (state) =>
      idsMatching(
        state.table,
        where ? compileFilter(where, columnKinds(await state.table.schema())) : undefined,
      ),
    );
  }

  fetch(collection: string, ids: string[], options: { vectors?: boolean } = {}): Promise<FetchedChunk[]> {
    return this.withExisting(collection, async (state) =>
      fetchChunks(state.table, ids, [
        "id",
        "text",
        "metadata",
        ...(await positionColumns(state)),
        ...(options.vectors ? ["vector"] : []),
      ]),
    );
  }

  scan(collection: string): Promise<StoredChunk[]> {
    return this.withExisting(collection, (state) => readAll(state.table));
  }

  async rebuildCollection(
    collection: string,
    model: ModelRecord,
    rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
  ): Promise<number> {
    return this.exclusive(collection, () =>
      this.guard(async () => {
        const current = await this.withExisting(collection, async (state) => state);
        const rows = await rebuild(await readAll(current.table));
        const kinds = columnKinds(await current.table.schema());
        const generation = current.generation + 1;
        const db = await this.db();
        // One createTable commit: the new generation exists only once it holds every row, so readers
        // (and a process restarted after a crash) see either the old collection or the complete new one.
        const schema = tableSchema(model, kinds);
        const table = await db.createTable(
          tableName(collection, generation),
          arrowRows(schema, rows, kinds),
          {
            schema,
            mode: "create",
          },
        );
        this.forget(collection);
        this.tables.set(collection, { table, model, generation });
        const older = generationsOf(collection, await db.tableNames()).filter((g) => g < generation);
        await this.dropGenerations(collection, older);
        const documents = new Set(rows.map((row) => row.id)).size;
        this.options.logger.info(
          `re-embedded collection "${collection}" (${documents} documents, ${rows.length} chunks) with ${describeModel(model)}`,
        );
        return documents;
      }),
    );
  }

  private async dropGenerations(collection: string, generations: number[]): Promise<void> {
    const db = await this.db();
    for (const generation of generations) {
      try {
        await db.dropTable(tableName(collection, generation));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const names = await this.guard(async () => (await this.db()).tableNames());
    const infos: CollectionInfo[] = [];
    for (const name of collectionsIn(names)) {
      const info = await this.getCollection(name);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Settles when a background vector-index build for the collection (if any) has (for benchmarks). */
  vectorIndexSettled(collection: string): Promise<void> {
    return this.indexer.settled(collection);
  }

  async close(): Promise<void> {
    // A compaction in flight finishes (it is one commit); closing under it would fail it midway.
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all(this.compactions.values());
    for (const { table } of this.tables.values()) table.close();
    this.tables.clear();
    this.vectors?.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) (await connection).close();
  }

  private forget(collection: string): void {
    const state = this.tables.get(collection);
    state?.table.close();
    this.tables.delete(collection);
    this.vectors?.drop(collection);
  }
}

const MAX_CONFLICT_RETRIES = 8;

/** Exponential with full jitter: 10, 20, 40 ... ms caps, so competing processes spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 10 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
