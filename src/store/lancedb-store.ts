import * as lancedb from "@lancedb/lancedb";
import type { Field, Schema } from "apache-arrow";
import type { ModelRecord } from "../embeddings/embedder.js";
import { MemoryError, unknownCollectionError } from "../errors.js";
import type { Filter } from "../filter.js";
import { COLLECTION_NAME_PATTERN, LIMITS } from "../limits.js";
import type { Logger } from "../logger.js";
import { arrow } from "./arrow.js";
import { rowsToArrow } from "./arrow-batch.js";
import {
  CHECK_EVERY,
  cleanupCutoff,
  compactionDue,
  IDLE_MS,
  MAX_BUSY_MS,
  OVERDUE_FACTOR,
} from "./compaction.js";
import { withProcessLock } from "./process-lock.js";
import { type ColumnKind, compileFilter, idInList, metadataColumn, quoteIdentifier } from "./sql.js";
import { DEFAULT_VECTOR_CACHE_BYTES, VectorCache } from "./vector-cache.js";
import { ANN_EF, ANN_MIN_ROWS, ANN_NPROBES, ANN_REFINE, VectorIndexer } from "./vector-index.js";
import type {
  CollectionInfo,
  CollectionStats,
  DeleteResult,
  DeleteSelector,
  FetchedDocument,
  Hit,
  KeywordHit,
  Metadata,
  MetadataValue,
  SearchOptions,
  StoredChunk,
  StoredDocument,
  VectorStore,
} from "./vector-store.js";
import { chunkKey } from "./vector-store.js";

/** Schema-metadata key under which each table records the model its vectors came from. */
const MODEL_KEY = "vector_memory.model";
const METADATA_PREFIX = "m_";
const FETCH_CHUNK = 500;

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
  /** The table version whose full-text index was last checked for covering no live row (see rebuildOrphanedTextIndex). */
  textIndexChecked?: { version: number; check: Promise<void> } | undefined;
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

  /** Storage failures (read-only disk, no space, not a directory) become an error that names the fix. */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof MemoryError || !isStorageError(error)) throw error;
      const reason = String(error)
        .replace(/^Error: /, "")
        .split(/\s+Caused by:/)[0]
        ?.replace(/,?\s*\/\S+\.rs:\d+:\d+/g, "")
        .slice(0, 300);
      this.options.logger.error(`storage error on ${this.options.dbPath}: ${String(error)}`);
      throw new MemoryError(
        "storage_unavailable",
        `The memory database at ${this.options.dbPath} cannot be used: ${reason}. Nothing was written. ${storageAdvice(error)}`,
      );
    }
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
      async (state) => ({ name, count: await this.countDocuments(state), model: state.model }),
      async () => undefined,
    );
  }

  async upsert(
    collection: string,
    model: ModelRecord,
    rows: StoredDocument[],
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
      await this.ensureChunkColumns(state);
      const columns = await this.ensureColumns(collection, state.table, kinds);
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
        documents: await this.countDocuments(state),
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
    rows: StoredDocument[],
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
      if (!/already exists/i.test(String(error))) throw error;
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

  /** Adds columns for new metadata keys; refuses a key whose values change type (before anything is written). */
  private async ensureColumns(
    collection: string,
    table: lancedb.Table,
    kinds: Map<string, ColumnKind>,
  ): Promise<Map<string, ColumnKind>> {
    const existing = columnKinds(await table.schema());
    const added: Field[] = [];
    for (const [key, kind] of kinds) {
      const current = existing.get(key);
      if (current === undefined) {
        added.push(metadataField(key, kind));
      } else if (current !== kind) {
        throw new MemoryError(
          "metadata_type_conflict",
          `Metadata key "${key}" holds ${plural(current)} in collection "${collection}", but a document gives it ${plural(kind)}. Use the same type for a key in one collection, or another key name.`,
        );
      }
    }
    if (added.length === 0) return existing;
    if (existing.size + added.length > LIMITS.metadataKeysPerCollection) {
      throw new MemoryError(
        "limit_exceeded",
        `Collection "${collection}" would have more than ${LIMITS.metadataKeysPerCollection} distinct metadata keys; reuse existing keys (known: ${[...existing.keys()].slice(0, 20).join(", ")}).`,
      );
    }
    try {
      await table.addColumns(added);
    } catch (error) {
      // Another process (one without our lock, e.g. an older version) added it first: use theirs.
      if (!/already exists/i.test(String(error))) throw error;
      return this.ensureColumns(collection, table, kinds);
    }
    for (const field of added)
      existing.set(field.name.slice(METADATA_PREFIX.length), kindOfField(field) as ColumnKind);
    return existing;
  }

  search(collection: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]> {
    return this.withExisting(collection, async (state) => {
      const positions = await this.positionColumns(state);
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
      const positions = await this.positionColumns(state);
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
  private async ensureTextIndex(state: TableState): Promise<void> {
    // One creation per table, shared by concurrent first keyword searches.
    state.textIndex ??= createTextIndex(state.table).catch((error: unknown) => {
      state.textIndex = undefined;
      throw error;
    });
    await state.textIndex;
    // Looked at once per table version: writes are what can leave the index covering no live row.
    const version = await state.table.version();
    if (state.textIndexChecked?.version !== version) {
      const check = rebuildOrphanedTextIndex(state.table).catch((error: unknown) => {
        if (state.textIndexChecked?.check === check) state.textIndexChecked = undefined;
        throw error;
      });
      state.textIndexChecked = { version, check };
    }
    await state.textIndexChecked.check;
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
    return this.withExisting(collection, async (state) => {
      let query = state.table.query().select(["id"]);
      if (where) query = query.where(compileFilter(where, columnKinds(await state.table.schema())));
      // A document split into chunks has one row per chunk.
      return [...new Set(((await query.toArray()) as Array<{ id: string }>).map((row) => row.id))];
    });
  }

  fetch(collection: string, ids: string[], options: { vectors?: boolean } = {}): Promise<FetchedDocument[]> {
    return this.withExisting(collection, async (state) => {
      const found: FetchedDocument[] = [];
      const columns = [
        "id",
        "text",
        "metadata",
        ...(await this.positionColumns(state)),
        ...(options.vectors ? ["vector"] : []),
      ];
      // Chunked so a long id list never becomes one enormous SQL predicate.
      for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
        const chunk = ids.slice(start, start + FETCH_CHUNK);
        const rows = (await state.table.query().where(idInList(chunk)).select(columns).toArray()) as Array<
          RawRow & { vector?: Iterable<number> }
        >;
        for (const row of rows) {
          found.push({
            id: row.id,
            text: row.text,
            metadata: JSON.parse(row.metadata) as Metadata,
            ...positionOf(row),
            ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
          });
        }
      }
      return found;
    });
  }

  scan(collection: string): Promise<StoredChunk[]> {
    return this.withExisting(collection, (state) => readAll(state.table));
  }

  async rebuildCollection(
    collection: string,
    model: ModelRecord,
    rebuild: (rows: StoredChunk[]) => Promise<StoredDocument[]>,
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
    // Tables we did not make (other tools sharing the directory) are not collections.
    const collections = new Set(
      names.map((name) => parseTableName(name)?.collection).filter((c) => c !== undefined),
    );
    const infos: CollectionInfo[] = [];
    for (const name of collections) {
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

  /** Documents, not rows: each document has exactly one chunk 0. */
  private async countDocuments(state: TableState): Promise<number> {
    return (await this.positionColumns(state)).length > 0
      ? state.table.countRows("chunk = 0")
      : state.table.countRows();
  }

  /** The chunk position columns to select: none in a table made before chunking (all its rows are whole documents). */
  private async positionColumns(state: TableState): Promise<string[]> {
    state.chunked ||= (await state.table.schema()).fields.some((field) => field.name === "chunk");
    return state.chunked ? [...POSITION_COLUMNS] : [];
  }

  /**
   * A table made before chunking gets the position columns on its first write, filled with chunk 0
   * at 0 (every existing row is a whole document), in one commit of its own.
   */
  private async ensureChunkColumns(state: TableState): Promise<void> {
    if ((await this.positionColumns(state)).length > 0) return;
    try {
      await state.table.addColumns(POSITION_COLUMNS.map((name) => ({ name, valueSql: "CAST(0 AS INT)" })));
    } catch (error) {
      // Another process added them first.
      if (!/already exists/i.test(String(error))) throw error;
    }
    state.chunked = true;
  }

  private forget(collection: string): void {
    const state = this.tables.get(collection);
    state?.table.close();
    this.tables.delete(collection);
    this.vectors?.drop(collection);
  }
}

export function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME_PATTERN.test(name))
    throw new Error(`bug: unvalidated collection name reached the store: ${name}`);
}

const textIndexConfig = () =>
  lancedb.Index.fts({
    stem: true,
    lowercase: true,
    asciiFolding: true,
    removeStopWords: true,
    language: "English",
  });

async function textIndexOf(table: lancedb.Table): Promise<lancedb.IndexConfig | undefined> {
  const indices = await table.listIndices();
  return indices.find((index) => index.columns.includes("text") && index.indexType === "FTS");
}

async function createTextIndex(table: lancedb.Table): Promise<void> {
  if (await textIndexOf(table)) return;
  try {
    await table.createIndex("text", { config: textIndexConfig(), replace: false });
  } catch (error) {
    // Another process made it first: that is the index we wanted.
    if (!/already exists/i.test(String(error))) throw error;
  }
}

/**
 * LanceDB (0.37) misses rows in a full-text search once its index covers no live row, for example
 * after every document of a collection was written again (measured: a query for a word of any
 * replaced row found none of them; with one indexed row left, all were found). Such an index is
 * built anew; rows written since an index that still covers some live rows are found as usual.
 */
async function rebuildOrphanedTextIndex(table: lancedb.Table): Promise<void> {
  const index = await textIndexOf(table);
  if (!index) return;
  const stats = await table.indexStats(index.name);
  if (stats && stats.numIndexedRows === 0 && stats.numUnindexedRows > 0)
    await table.createIndex("text", { config: textIndexConfig(), replace: true });
}

interface RawRow {
  id: string;
  text: string;
  metadata: string;
  /** Absent in tables made before chunking. */
  chunk?: number;
  chunk_start?: number;
}

type ScoredRow = RawRow & { vector: Iterable<number>; _score: number };

async function fullTextSearch(
  table: lancedb.Table,
  query: string,
  where: string | undefined,
  columns: string[],
  limit: number,
): Promise<ScoredRow[]> {
  // A MatchQuery reads the query as plain text: tokenised like the stored texts, any term may match.
  // A bare string would be parsed, and its quotes made a phrase query, which needs positions the
  // index does not keep. Quotes, AND/OR/NOT, *, ~, ^, field: and brackets are all just characters.
  let search = table
    .query()
    .fullTextSearch(new lancedb.MatchQuery(query, "text"))
    .select([...columns, "_score"])
    .limit(limit);
  if (where) search = search.where(where);
  return (await search.toArray()) as ScoredRow[];
}

/**
 * Full-text search without an index. LanceDB (0.37) then scores every row but cuts to the limit
 * before ranking, so: score them all (ids only), rank here, then read the best rows.
 */
async function fullTextScan(
  table: lancedb.Table,
  query: string,
  where: string | undefined,
  limit: number,
  positionColumns: string[],
): Promise<ScoredRow[]> {
  const scored = await fullTextSearch(
    table,
    query,
    where,
    ["id", ...positionColumns.slice(0, 1)],
    Math.max(1, await table.countRows()),
  );
  const best = scored.sort((a, b) => b._score - a._score).slice(0, limit);
  if (best.length === 0) return [];
  const rows = (await table
    .query()
    .where(idInList([...new Set(best.map((row) => row.id))]))
    .select(["id", "text", "metadata", "vector", ...positionColumns])
    .toArray()) as ScoredRow[];
  // Rows are chunks: (id, chunk) tells them apart.
  const byKey = new Map(rows.map((row) => [chunkKey(row.id, row.chunk ?? 0), row]));
  return best.flatMap((row) => {
    const found = byKey.get(chunkKey(row.id, row.chunk ?? 0));
    return found ? [{ ...found, _score: row._score }] : [];
  });
}

async function searchTable(
  table: lancedb.Table,
  vector: Float32Array,
  options: SearchOptions,
  positionColumns: string[],
): Promise<Hit[]> {
  let query = table
    .vectorSearch(vector)
    .column("vector")
    .distanceType("cosine")
    .select([
      "id",
      "text",
      "metadata",
      "_distance",
      ...positionColumns,
      ...(options.withVectors ? ["vector"] : []),
    ])
    // Used only when the table has a vector index (see vector-index.ts); flat search ignores them.
    .nprobes(ANN_NPROBES)
    .ef(ANN_EF)
    .refineFactor(ANN_REFINE)
    .limit(options.limit);
  if (options.where) query = query.where(compileFilter(options.where, columnKinds(await table.schema())));
  const rows = (await query.toArray()) as Array<RawRow & { _distance: number; vector?: Iterable<number> }>;
  return rows.map((row) => ({
    id: row.id,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Metadata,
    ...positionOf(row),
    distance: row._distance,
    ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
  }));
}

/** The result, the version the delete committed, and the removed ids when the selector named them. */
async function deleteFromTable(
  table: lancedb.Table,
  selector: DeleteSelector,
): Promise<DeleteResult & { version: number; removed?: string[] }> {
  if ("ids" in selector) {
    const requested = [...new Set(selector.ids)];
    if (requested.length === 0)
      return { deleted: 0, notFound: [], version: await table.version(), removed: [] };
    const predicate = idInList(requested);
    const found = await idsWhere(table, predicate);
    const result = await table.delete(predicate);
    return {
      deleted: found.size,
      notFound: requested.filter((id) => !found.has(id)),
      version: result.version,
      removed: [...found],
    };
  }
  // Every chunk of a document carries its metadata, so a filter takes all of a document's rows or none.
  const predicate = compileFilter(selector.where, columnKinds(await table.schema()));
  const found = await idsWhere(table, predicate);
  if (found.size === 0) return { deleted: 0, notFound: [], version: await table.version(), removed: [] };
  const result = await table.delete(predicate);
  return { deleted: found.size, notFound: [], version: result.version, removed: [...found] };
}

/** `name` for generation 0, `name.g<N>` after N re-embeddings; the dot cannot occur in a collection name. */
function tableName(collection: string, generation: number): string {
  return generation === 0 ? collection : `${collection}.g${generation}`;
}

function parseTableName(name: string): { collection: string; generation: number } | undefined {
  const match = /^(.+?)(?:\.g([1-9][0-9]*))?$/.exec(name);
  if (!match?.[1] || !COLLECTION_NAME_PATTERN.test(match[1])) return undefined;
  return { collection: match[1], generation: match[2] ? Number(match[2]) : 0 };
}

function generationsOf(collection: string, names: string[]): number[] {
  return names
    .map(parseTableName)
    .filter((parsed) => parsed?.collection === collection)
    .map((parsed) => parsed?.generation as number)
    .sort((a, b) => a - b);
}

/** The newest generation is the live one: it was created complete, in one commit. */
function liveGeneration(collection: string, names: string[]): number | undefined {
  return generationsOf(collection, names).at(-1);
}

function tableSchema(model: ModelRecord, kinds: Map<string, ColumnKind>): Schema {
  const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = arrow;
  const fields = [
    new Field("id", new Utf8(), false),
    new Field("text", new Utf8(), false),
    new Field("vector", new FixedSizeList(model.dimensions, new Field("item", new Float32(), true)), false),
    new Field("metadata", new Utf8(), false),
    new Field("chunk", new Int32(), false),
    new Field("chunk_start", new Int32(), false),
    ...[...kinds].map(([key, kind]) => metadataField(key, kind)),
  ];
  return new Schema(fields, new Map([[MODEL_KEY, JSON.stringify(model)]]));
}

async function readAll(table: lancedb.Table): Promise<StoredChunk[]> {
  const chunked = (await table.schema()).fields.some((field) => field.name === "chunk");
  const rows = (await table
    .query()
    .select(["id", "text", "metadata", ...(chunked ? POSITION_COLUMNS : [])])
    .toArray()) as RawRow[];
  return rows.map((row) => ({
    id: row.id,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Metadata,
    ...positionOf(row),
  }));
}

const MAX_CONFLICT_RETRIES = 8;

/** ENOSPC, EDQUOT, EFBIG: as Node words them, and as LanceDB (Rust) reports them ("os error 28"). */
const DISK_FULL = /No space left|Disk quota exceeded|File too large|os error (?:28|122|27)\b/i;
/** EROFS, EACCES. */
const NOT_WRITABLE = /Read-only file system|Permission denied|os error (?:30|13)\b/i;

/** An operating-system level failure of the database directory (from LanceDB or from Node's fs). */
function isStorageError(error: unknown): boolean {
  const message = String(error);
  return (
    DISK_FULL.test(message) ||
    NOT_WRITABLE.test(message) ||
    /os error \d+|Failed to connect to namespace|Unable to create/i.test(message)
  );
}

/** What to do about a storage error, by its cause: the agent relays this to the user. */
function storageAdvice(error: unknown): string {
  const where = "--db-path / VECTOR_MEMORY_DB_PATH";
  if (DISK_FULL.test(String(error)))
    return `The disk is full: free space on it (or move the database with ${where}), then retry the same call; the documents stored before are intact.`;
  if (NOT_WRITABLE.test(String(error)))
    return `The directory is not writable (read-only, or no permission): make it writable for this server's user (or use another directory with ${where}), then retry.`;
  return `Check that it is a writable directory on a disk with free space (${where}), then retry.`;
}

function isCommitConflict(error: unknown): boolean {
  return /commit conflict|preempted by concurrent transaction|retryable/i.test(String(error));
}

/** Exponential with full jitter: 10, 20, 40 ... ms caps, so competing processes spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 10 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isNotFound(error: unknown): boolean {
  return /not found|does not exist/i.test(String(error));
}

function readModelRecord(schema: Schema): ModelRecord | undefined {
  const raw = schema.metadata.get(MODEL_KEY);
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as Partial<ModelRecord>;
  if (
    typeof parsed.model !== "string" ||
    typeof parsed.dtype !== "string" ||
    typeof parsed.dimensions !== "number"
  ) {
    return undefined;
  }
  return { model: parsed.model, dtype: parsed.dtype, dimensions: parsed.dimensions };
}

function sameModel(a: ModelRecord, b: ModelRecord): boolean {
  return a.model === b.model && a.dtype === b.dtype && a.dimensions === b.dimensions;
}

export function describeModel(model: ModelRecord): string {
  return `model ${model.model} (${model.dtype}, ${model.dimensions} dimensions)`;
}

function plural(kind: ColumnKind): string {
  return kind === "string[]" ? "lists of strings" : `${kind}s`;
}

function kindOfValue(value: MetadataValue): ColumnKind {
  if (Array.isArray(value)) return "string[]";
  return typeof value as "string" | "number" | "boolean";
}

/** The column kind each metadata key needs for these rows; conflicting rows in one batch are refused. */
function metadataKinds(rows: StoredDocument[]): Map<string, ColumnKind> {
  const kinds = new Map<string, ColumnKind>();
  for (const row of rows) {
    for (const [key, value] of Object.entries(row.metadata)) {
      const kind = kindOfValue(value);
      const seen = kinds.get(key);
      if (seen !== undefined && seen !== kind) {
        throw new MemoryError(
          "metadata_type_conflict",
          `Metadata key "${key}" is given both ${plural(seen)} and ${plural(kind)} in one call. Use one type per key.`,
        );
      }
      kinds.set(key, kind);
    }
  }
  return kinds;
}

function metadataField(key: string, kind: ColumnKind): Field {
  const { Field, Float64, Int8, List, Utf8 } = arrow;
  const name = metadataColumn(key);
  quoteIdentifier(name);
  switch (kind) {
    case "string":
      return new Field(name, new Utf8(), true);
    case "number":
      return new Field(name, new Float64(), true);
    case "boolean":
      // Int8 0/1, not Bool: arrow-js writes an all-null Bool column with an empty data buffer,
      // which LanceDB (arrow-rs) rejects, so a batch where no document has the key would fail.
      return new Field(name, new Int8(), true);
    case "string[]":
      return new Field(name, new List(new Field("item", new Utf8(), true)), true);
  }
}

function kindOfField(field: Field): ColumnKind | undefined {
  const { Type } = arrow;
  switch (field.type.typeId) {
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Float:
      return "number";
    case Type.Int:
      return field.type.bitWidth === 8 ? "boolean" : "number";
    case Type.Bool:
      return "boolean";
    case Type.List:
      return "string[]";
    default:
      return undefined;
  }
}

function columnKinds(schema: Schema): Map<string, ColumnKind> {
  const kinds = new Map<string, ColumnKind>();
  for (const field of schema.fields) {
    if (!field.name.startsWith(METADATA_PREFIX)) continue;
    const kind = kindOfField(field);
    if (kind) kinds.set(field.name.slice(METADATA_PREFIX.length), kind);
  }
  return kinds;
}

/** The rows as one Arrow table of the table's schema (see rowsToArrow). */
function arrowRows(schema: Schema, rows: StoredDocument[], columns: Map<string, ColumnKind>) {
  return rowsToArrow(schema, rows, (row) => scalarColumns(row, columns));
}

/** Every metadata column is written, null where the document lacks the key, so a replaced row keeps no stale values. */
function scalarColumns(
  row: Omit<StoredDocument, "vector">,
  columns: Map<string, ColumnKind>,
): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: row.id,
    text: row.text,
    metadata: JSON.stringify(row.metadata),
    chunk: row.chunk ?? 0,
    chunk_start: row.start ?? 0,
  };
  for (const key of columns.keys()) {
    // Own keys only: a document without `constructor` must not get Object.prototype's one.
    const value = Object.hasOwn(row.metadata, key) ? row.metadata[key] : undefined;
    // -0 becomes 0: Arrow orders -0.0 below 0.0, so {n: 0} would not match it (and JSON returns 0).
    record[metadataColumn(key)] =
      typeof value === "boolean" ? Number(value) : typeof value === "number" ? value + 0 : (value ?? null);
  }
  return record;
}

// Chunks: a document longer than the model's window is stored as several rows with its id.

/** Where each row sits in its document; tables made before chunking lack them (chunk 0 at 0). */
const POSITION_COLUMNS = ["chunk", "chunk_start"] as const;

function positionOf(row: RawRow): { chunk: number; start: number } {
  return { chunk: row.chunk ?? 0, start: row.chunk_start ?? 0 };
}

async function idsWhere(table: lancedb.Table, predicate: string): Promise<Set<string>> {
  const rows = (await table.query().where(predicate).select(["id"]).toArray()) as Array<{ id: string }>;
  return new Set(rows.map((row) => row.id));
}

/**
 * What an upsert of `rows` finds already stored: how many of their documents exist, and which of
 * them have chunks the new rows do not replace (the new version has fewer chunks).
 */
async function storedChunksOf(
  table: lancedb.Table,
  rows: StoredDocument[],
): Promise<{ existing: number; stale: string[] }> {
  const incoming = new Set(rows.map((row) => chunkKey(row.id, row.chunk ?? 0)));
  const ids = [...new Set(rows.map((row) => row.id))];
  const existing = new Set<string>();
  const stale = new Set<string>();
  for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
    const stored = (await table
      .query()
      .where(idInList(ids.slice(start, start + FETCH_CHUNK)))
      .select(["id", "chunk"])
      .toArray()) as Array<{ id: string; chunk: number }>;
    for (const row of stored) {
      existing.add(row.id);
      if (!incoming.has(chunkKey(row.id, row.chunk))) stale.add(row.id);
    }
  }
  return { existing: existing.size, stale: [...stale] };
}
