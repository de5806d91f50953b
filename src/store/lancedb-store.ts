import type * as lancedb from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import { MemoryError, unknownCollectionError } from "../errors.js";
import type { Filter } from "../filter.js";
import { KeyedQueue } from "../keyed-queue.js";
import type { Logger } from "../logger.js";
import { describeModel, type ModelRecord, sameModel } from "../model-record.js";
import { isRemoteUri, type ObjectStoreOptions } from "../storage-uri.js";
import { CollectionLocks, type CrossProcessLock } from "./collection-locks.js";
import { type Commit, CommitFeed, type CommitListener } from "./commits.js";
import {
  CHECK_EVERY,
  CompactionScheduler,
  cleanupCutoff,
  compactionDue,
  HISTORY_CAP_BYTES,
  HISTORY_MS,
  IDLE_MS,
  MAX_BUSY_MS,
} from "./compaction.js";
import { type CompactionLease, compactionLease, remoteCleanupCutoff } from "./compaction-lease.js";
import { needsTimes } from "./filter-match.js";
import { copyTable, openDatabase } from "./lance/backup.js";
import { cacheSource } from "./lance/cache-source.js";
import { rowsOverwrittenByCreate } from "./lance/create-race.js";
import { guardStorage, isAlreadyExists, isCommitConflict, isStorageError } from "./lance/errors.js";
import { FilteredSearch } from "./lance/filtered-search.js";
import { collectionsIn, generationsOf, liveGeneration, tableName } from "./lance/generations.js";
import { listVersions, pickVersion, planRestore, restoreVersion, tableBytes } from "./lance/history.js";
import { indexStates } from "./lance/index-state.js";
import { countDocuments, ensureChunkColumns, positionColumns } from "./lance/legacy-chunks.js";
import { ensurePrimaryKey, KEY_COLUMN, withKeyColumn } from "./lance/primary-key.js";
import {
  compileWhere,
  deleteFromTable,
  fetchChunks,
  idsMatching,
  mergeInsertOf,
  readAll,
  searchTable,
  storedChunksOf,
  timesMatching,
} from "./lance/queries.js";
import { ScalarIndexer } from "./lance/scalar-index.js";
import {
  arrowRows,
  columnKinds,
  ensureColumns,
  metadataKinds,
  storedChunk,
  tableSchema,
  writtenChunk,
} from "./lance/schema.js";
import { LanceTables, type TableState } from "./lance/tables.js";
import {
  createTextIndex,
  fullTextScan,
  fullTextSearch,
  rebuildOrphanedTextIndex,
  type ScoredRow,
} from "./lance/text-index.js";
import { ensureTimeColumns, resolveTimes, type StoredVersion, timeColumns } from "./lance/timestamps.js";
import { ANN_MIN_ROWS, INDEX_IDLE_MS, INDEX_MAX_WAIT_MS, VectorIndexer } from "./lance/vector-index.js";
import { withProcessLock } from "./process-lock.js";
import { remoteCommitLock } from "./remote-lock.js";
import type { ColumnKind } from "./sql.js";
import { idInList, textIsPrefixOf } from "./sql.js";
import {
  type CacheFilter,
  DEFAULT_VECTOR_CACHE_BYTES,
  type TooBigReport,
  VectorCache,
} from "./vector-cache.js";
import type {
  BackupEntry,
  ChunkToWrite,
  CollectionIndexes,
  CollectionInfo,
  CollectionStats,
  CollectionVersion,
  DeleteResult,
  DeleteSelector,
  DocumentTimes,
  FetchedChunk,
  Hit,
  KeywordHit,
  NearestChunk,
  RestorePlan,
  SearchOptions,
  StoredChunk,
  VectorStore,
} from "./vector-store.js";
import { chunkKey } from "./vector-store.js";

export interface LanceStoreOptions {
  /** A local directory, or an object-storage URI (`s3://bucket/prefix`, `s3+ddb://...`, `gs://...`). */
  dbPath: string;
  logger: Logger;
  /** S3 options for an `s3://` database (endpoint, keys, ...); unset ones leave LanceDB's `AWS_*` env in charge. */
  objectStore?: ObjectStoreOptions;
  /** Environment the commit probe reads `AWS_*` from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Look at a collection's fragments after this many writes to it (default CHECK_EVERY), compacting when overdue. */
  compactEvery?: number;
  /** A due compaction waits for this many ms without writes (default IDLE_MS). */
  compactIdleMs?: number;
  /** ...but no longer than this many ms of writes without such a pause (default MAX_BUSY_MS). */
  compactMaxBusyMs?: number;
  /** Memory for cached vectors, all collections together (default DEFAULT_VECTOR_CACHE_BYTES; 0 disables). */
  vectorCacheBytes?: number;
  /**
   * Answer filtered searches from the vector cache too (the filter evaluated in memory, see
   * filter-match.ts); on by default, `false` sends them to LanceDB. (It was off while
   * tests/e2e/multiprocess.test.ts failed with it: a cache load begun before a search's version
   * check answered that search; see VectorCache.current.)
   */
  cacheFilteredSearches?: boolean;
  /**
   * The vector cache also keeps every row's text and metadata (counted in its budget, and let go
   * before any collection's vectors are), so a search reads nothing back but the table's version.
   * On by default: on object storage reading ten hits back is ~20 ranged GETs, and on a local disk
   * it was half of an exact search at 100k rows (5 of 9 ms, bench/RESULTS.md); `false` reads hits
   * back by row id.
   */
  cacheRows?: boolean;
  /** Build a vector index (in the background, at compaction) from this many rows (default ANN_MIN_ROWS). */
  vectorIndexMinRows?: number;
  /** Old versions are kept this long for history and restore (default HISTORY_MS; 0 keeps none past a compaction). */
  historyMs?: number;
  /** ...unless a collection's files exceed this many bytes (default HISTORY_CAP_BYTES). */
  historyCapBytes?: number;
  /** The clock documents' `created_at` / `updated_at` are read from, in ms (default Date.now; tests set it). */
  now?: () => number;
}

/** Looks at the old generation after a re-embedding (see carryOver) before its last writes are given up on. */
const CARRY_OVER_ROUNDS = 5;

/**
 * Compactions beside writes that a conflicting write may preempt before one queues with the writes.
 * Each preempted one is a wasted rewrite, but a queued one holds every write back for its rewrite
 * (~100 ms at the HTTP load's size): with 8 HTTP clients, 2 gave add p99 188–292 ms (median of 6
 * runs 234) against 239–417 (295) with 1, at the same p50 (bench/RESULTS.md).
 */
const BESIDE_ATTEMPTS = 2;

/** Texts per query when looking for exact repeats (exactTextCandidates). */
const EXACT_GROUP = 50;

/** What an upsert did; `created` only when this call's commit made the collection. */
type Upserted = { inserted: number; updated: number; created: boolean };
/** What one commit found: the documents already stored, and whether it made the collection. */
type Written = { existing: ReadonlySet<string>; created: boolean };

/** An upsert call waiting for its group's commit (see LanceStore.upsert). */
interface PendingUpsert {
  model: ModelRecord;
  rows: ChunkToWrite[];
  resolve(result: Upserted): void;
  reject(error: unknown): void;
}

/** A delete-by-ids call waiting for its group's commit (see LanceStore.delete). */
interface PendingDelete {
  ids: string[];
  resolve(result: DeleteResult): void;
  reject(error: unknown): void;
}

/** A call's counts from its commit's: documents, not rows (a long text is several rows, one id). */
function countsOf(rows: readonly ChunkToWrite[], existing: ReadonlySet<string>, created: boolean): Upserted {
  const ids = new Set(rows.map((row) => row.id));
  let updated = 0;
  for (const id of ids) if (existing.has(id)) updated++;
  return { inserted: ids.size - updated, updated, created };
}

/** Whether upsert calls can share one commit: one model, no id in two calls, one type per metadata key. */
function canJoin(group: readonly PendingUpsert[]): boolean {
  const first = group[0] as PendingUpsert;
  const seen = new Set<string>();
  for (const call of group) {
    if (!sameModel(call.model, first.model)) return false;
    for (const id of new Set(call.rows.map((row) => row.id))) {
      if (seen.has(id)) return false;
      seen.add(id);
    }
  }
  try {
    metadataKinds(group.flatMap((call) => call.rows));
    return true;
  } catch {
    return false;
  }
}

/**
 * The VectorStore on LanceDB: one table per collection (see lance/schema.ts for its columns, and
 * lance/generations.ts for which table is live). A row is one chunk of a document: rows with the
 * same `id` are its chunks, told apart by `chunk`; (id, chunk) is the row's identity.
 *
 * Writes to a collection run one at a time under its lock; each commit is published on `commits`,
 * which the vector cache (semantic searches, in memory) follows. LanceDB stays the source of truth.
 */
export class LanceStore implements VectorStore {
  /** Commits between LanceDB and their publication, by collection (see inFlight). */
  private readonly committing = new Map<string, Promise<void>>();
  private readonly commits = new CommitFeed();
  private readonly tables: LanceTables;
  private readonly locks: CollectionLocks;
  private readonly compactions: CompactionScheduler;
  private readonly vectors: VectorCache | undefined;
  private readonly indexer: VectorIndexer;
  /**
   * Compactions and vector index builds of a collection, one at a time: a compaction that commits
   * during a build (minutes at 1M rows) preempts the build's commit, which LanceDB then refuses
   * (measured: a bulk ingest of 1M, then a compaction, left the collection without its index).
   */
  private readonly housekeeping = new KeyedQueue();
  /** Indexes on the columns filtered searches of large collections read (lance/scalar-index.ts). */
  private readonly scalars: ScalarIndexer;
  /** LanceDB's searches, with a filter: post- or prefiltered (lance/filtered-search.ts). */
  private readonly filtered = new FilteredSearch();
  /** Per collection, the upsert calls waiting for the write lock, to be committed together. */
  private readonly pendingUpserts = new Map<string, PendingUpsert[]>();
  private readonly pendingDeletes = new Map<string, PendingDelete[]>();
  /**
   * On object storage no lock file orders writers across machines: tables there carry `row_key`
   * as their primary key, so LanceDB itself refuses a second insert of an (id, chunk).
   */
  private readonly remote: boolean;
  /** On S3: at most one machine compacts a collection at a time (compaction-lease.ts). */
  private readonly lease: CompactionLease | undefined;
  private readonly remoteLock: CrossProcessLock | undefined;

  constructor(private readonly options: LanceStoreOptions) {
    const { dbPath, logger } = options;
    const objectStore = options.objectStore ?? {};
    const env = options.env ?? process.env;
    this.remote = isRemoteUri(dbPath);
    this.lease = this.remote ? compactionLease(dbPath, objectStore, env) : undefined;
    this.tables = new LanceTables(dbPath, this.commits, objectStore, env);
    // In this process, writes queue in `locks`; across processes, the collection's lock file orders
    // them on a local disk. On object storage there is no shared file: LanceDB's conditional
    // commits order them, once the probe has shown that the store honours them.
    this.remoteLock = isRemoteUri(dbPath) ? remoteCommitLock(dbPath, objectStore, env, logger) : undefined;
    const crossProcess: CrossProcessLock =
      this.remoteLock ?? ((collection, work) => withProcessLock(dbPath, collection, logger, work));
    this.locks = new CollectionLocks((collection, work) => this.guard(() => crossProcess(collection, work)));
    this.compactions = new CompactionScheduler(
      // Not while a vector index is built (minutes at 1M rows): the compaction would wait for it in
      // `housekeeping`, and so would close(). It is due again with the next writes.
      async (collection, factor) => {
        if (!this.indexer.building(collection)) await this.compact(collection, { onlyIfDue: factor });
      },
      {
        every: options.compactEvery ?? CHECK_EVERY,
        idleMs: options.compactIdleMs ?? IDLE_MS,
        maxBusyMs: options.compactMaxBusyMs ?? MAX_BUSY_MS,
      },
      (message) => logger.warn(message),
    );
    const budget = options.vectorCacheBytes ?? DEFAULT_VECTOR_CACHE_BYTES;
    this.vectors =
      budget > 0
        ? new VectorCache(
            budget,
            (report) => logger.warn(tooBigMessage(report)),
            options.cacheRows === false ? undefined : writtenChunk,
          )
        : undefined;
    const cache = this.vectors;
    if (cache) this.commits.subscribe((commit) => cache.onCommit(commit));
    this.indexer = new VectorIndexer(
      logger,
      options.vectorIndexMinRows ?? ANN_MIN_ROWS,
      (collection, signal) => this.compactions.quiet(collection, INDEX_IDLE_MS, INDEX_MAX_WAIT_MS, signal),
      (collection, build) => this.housekeeping.run(collection, build),
    );
    this.scalars = new ScalarIndexer(
      logger,
      options.vectorIndexMinRows ?? ANN_MIN_ROWS,
      (collection, build) => this.housekeeping.run(collection, build),
    );
  }

  /**
   * On object storage, runs now the check the first write would (commit-probe.ts: the store
   * answers, the credentials work, it refuses overwrites), so a server can report a wrong secret
   * at startup; its result is kept for the writes. Locally there is nothing to check.
   */
  async checkStore(): Promise<void> {
    if (this.remoteLock) await this.remoteLock("", async () => undefined);
  }

  getCollection(name: string): Promise<CollectionInfo | undefined> {
    return this.withTable<CollectionInfo | undefined>(
      name,
      async (state) => ({ name, count: await countDocuments(state), model: state.model }),
      async () => undefined,
    );
  }

  collectionModel(name: string): Promise<ModelRecord | undefined> {
    return this.withTable<ModelRecord | undefined>(
      name,
      async (state) => state.model,
      async () => undefined,
    );
  }

  /**
   * Calls that arrive while the collection's previous write holds its lock are written together,
   * in one commit (group commit), when they can be: the same model, no document in two of them,
   * one type per metadata key. Each call's result is its own (as if it had run alone, in arrival
   * order); if the joint write fails, each call is written alone, so one call's bad input fails
   * only that call.
   */
  async upsert(collection: string, model: ModelRecord, rows: ChunkToWrite[]): Promise<Upserted> {
    if (rows.length === 0) return { inserted: 0, updated: 0, created: false };
    for (const row of rows) {
      if (row.vector.length !== model.dimensions) {
        throw new Error(`bug: vector of ${row.vector.length} dimensions for a ${model.dimensions}-d model`);
      }
    }
    // Refused before it joins a group: conflicting types within the call itself.
    metadataKinds(rows);
    const result = await new Promise<Upserted>((resolve, reject) =>
      this.joinGroup(
        collection,
        this.pendingUpserts,
        this.pendingDeletes,
        { model, rows, resolve, reject },
        (group) => this.writeGroup(collection, group),
      ),
    );
    this.compactions.noteWrite(collection);
    return result;
  }

  /**
   * Adds `call` to the collection's group waiting in `pending`, or starts a group that `write`s
   * under the collection's lock once the writes queued before it are done. The group of the other
   * kind waiting now (`closes`) takes no later calls: they would commit ahead of this one, against
   * arrival order. If the group's write throws, every call in it fails with that error.
   */
  private joinGroup<Call extends { reject(error: unknown): void }>(
    collection: string,
    pending: Map<string, Call[]>,
    closes: Map<string, unknown>,
    call: Call,
    write: (group: Call[]) => Promise<void>,
  ): void {
    const waiting = pending.get(collection);
    if (waiting) {
      waiting.push(call);
      return;
    }
    const group = [call];
    pending.set(collection, group);
    closes.delete(collection);
    this.locks
      .run(collection, () => {
        // From here on, new calls start the next group (which queues behind this one).
        if (pending.get(collection) === group) pending.delete(collection);
        return write(group);
      })
      .catch((error: unknown) => {
        for (const each of group) each.reject(error);
      });
  }

  /**
   * Runs `work` in the collection's write queue, after every call queued so far: upsert calls that
   * arrive later start a new group instead of joining one queued before `work` (which would commit
   * them ahead of it).
   */
  private exclusive<T>(collection: string, work: () => Promise<T>): Promise<T> {
    this.pendingUpserts.delete(collection);
    this.pendingDeletes.delete(collection);
    return this.locks.run(collection, work);
  }

  /** Writes a group of upsert calls under the collection's lock: together if it can, else one by one. */
  private async writeGroup(collection: string, group: PendingUpsert[]): Promise<void> {
    const alone = async (call: PendingUpsert) => {
      try {
        const written = await this.writeRows(collection, call.model, call.rows);
        call.resolve(countsOf(call.rows, written.existing, written.created));
      } catch (error) {
        call.reject(error);
      }
    };
    const first = group[0] as PendingUpsert;
    if (group.length === 1 || !canJoin(group)) {
      for (const call of group) await alone(call);
      return;
    }
    let written: Written;
    try {
      written = await this.writeRows(
        collection,
        first.model,
        group.flatMap((call) => call.rows),
      );
    } catch {
      for (const call of group) await alone(call);
      return;
    }
    // As if in turn: the first call made the collection, if this commit did; none saw another's ids.
    group.forEach((call, i) => {
      call.resolve(countsOf(call.rows, written.existing, written.created && i === 0));
    });
  }

  /** One commit of `rows` (every chunk of each document they name), creating the collection if need be. */
  private writeRows(collection: string, model: ModelRecord, rows: ChunkToWrite[]): Promise<Written> {
    const kinds = metadataKinds(rows);
    const writeRows =
      (rows: ChunkToWrite[]) =>
      async (state: TableState): Promise<Set<string>> => {
        const kinds = metadataKinds(rows);
        if (!sameModel(state.model, model)) {
          throw new MemoryError(
            "model_mismatch",
            `Collection "${collection}" holds vectors of ${describeModel(state.model)}; refusing to add vectors of ${describeModel(model)}.`,
          );
        }
        const [before, stored] = await Promise.all([state.table.version(), state.table.schema()]);
        // Each step commits only when the table lacks what it adds. The version is read again only
        // then, or on object storage (other machines commit there at any time): on a local disk this
        // store holds the collection's lock, so no one else commits meanwhile, and every LanceDB call
        // waited ~13 ms with 8 agents at work (bench/add-breakdown.ts).
        let changed = await ensureChunkColumns(state);
        changed = (await ensureTimeColumns(state, stored)) || changed;
        if (this.remote) {
          // The key migration may commit, until it is known done on this handle.
          changed = !state.keySet || changed;
          await ensurePrimaryKey(state);
        }
        const ensured = await ensureColumns(collection, state.table, kinds, stored);
        const columns = ensured.columns;
        const schema = this.schemaOf(model, columns);
        // On object storage another machine may commit at any time, but a version read now is no
        // fresher for the merge than `before` is (it could commit right after it too): the merge
        // on row_key is what keeps their writes apart. One request less per add on s3://.
        const version = changed || ensured.added ? await state.table.version() : before;
        if (version !== before) await this.publish(state, collection, { kind: "schema", before, version });
        const ids = [...new Set(rows.map((row) => row.id))];
        // Documents the cache proves new are appended: a merge-insert joins against every stored id.
        // Not on object storage: a plain append records no keys, so another machine's insert of the
        // same id would not conflict with it.
        let absent = this.vectors?.absent(collection, state.generation, version, ids) === true;
        if (!absent && !this.remote && this.vectors) {
          // A collection too big for the cache: its ids, read once under this lock, prove new
          // documents from now on (at 1M rows a merge of one document took ~160 ms).
          const source = async () => this.cacheSourceOf(collection, state, await positionColumns(state));
          if (await this.vectors.readIds(collection, state.generation, version, source))
            absent = this.vectors.absent(collection, state.generation, version, ids);
        }
        if (!this.remote && absent) {
          const timed = this.stamp(rows, new Map());
          await this.inFlight(collection, async () => {
            const added = await state.table.add(arrowRows(schema, timed, columns));
            await this.publish(state, collection, { kind: "add", version: added.version, rows: timed });
          });
          return new Set();
        }
        // On object storage the merge on row_key stays (it is what refuses another machine's insert
        // of the same chunk), but documents the cache proves new at this version have no stored
        // chunks to look up: that query (a scan of the id column, several GETs) is skipped.
        const { existing, stale, versions } = absent
          ? { existing: new Set<string>(), stale: [], versions: new Map<string, StoredVersion>() }
          : await storedChunksOf(state.table, rows, await timeColumns(state));
        const timed = this.stamp(rows, versions);
        let merge = this.mergeOnKey(state.table, schema);
        // Chunks a shorter new version no longer has go in the same commit. Only then: deleting
        // unmatched rows makes the merge a full outer join over the table.
        if (stale.length > 0) merge = merge.whenNotMatchedBySourceDelete({ where: idInList(stale) });
        await this.inFlight(collection, async () => {
          const result = await merge.execute(arrowRows(schema, timed, columns));
          await this.publish(state, collection, { kind: "merge", version: result.version, rows: timed });
        });
        return existing;
      };
    const write = writeRows(rows);
    return this.withTable(
      collection,
      async (state): Promise<Written> => ({ existing: await write(state), created: false }),
      () => this.create(collection, model, kinds, rows, writeRows),
    );
  }

  /** The rows with the times to store (see resolveTimes), one clock reading for the whole call. */
  private stamp(rows: ChunkToWrite[], stored: ReadonlyMap<string, StoredVersion>): ChunkToWrite[] {
    const times = resolveTimes(rows, stored, (this.options.now ?? Date.now)());
    return rows.map((row) => ({ ...row, times: times.get(row.id) }));
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
    writeRows: (rows: ChunkToWrite[]) => (state: TableState) => Promise<Set<string>>,
  ): Promise<Written> {
    const db = await this.tables.db();
    let table: lancedb.Table;
    const timed = this.stamp(rows, new Map());
    try {
      // The model record travels in the rows' schema metadata: created with the rows, in one commit.
      table = await db.createTable(collection, arrowRows(this.schemaOf(model, kinds), timed, kinds), {
        mode: "create",
      });
    } catch (error) {
      // Another process created it first: add to theirs (the model check follows in `write`). On
      // object storage a creation racing two others can also lose as a commit conflict.
      if (!isAlreadyExists(error) && !isCommitConflict(error)) throw error;
      const existing = await this.tables.retrying(collection, writeRows(rows), async () => {
        throw error;
      });
      return { existing, created: false };
    }
    const state = { table, model, generation: 0 };
    this.tables.adopt(collection, state);
    const version = await table.version();
    await this.publish(state, collection, {
      kind: "create",
      version,
      dimensions: model.dimensions,
      rows: timed,
    });
    await this.keyNew(state, collection, version);
    if (this.remote && (await table.version()) > 1) {
      // Another machine may have created it first, and LanceDB then made ours an overwrite of theirs.
      const lost = await rowsOverwrittenByCreate(db, collection, rows);
      if (lost.length > 0) {
        this.options.logger.warn(
          `collection "${collection}" was created by another machine at the same time; writing back its ${lost.length} rows that this creation replaced`,
        );
        await this.tables.retrying(collection, writeRows(lost), async () => {
          throw new Error(`bug: collection "${collection}" vanished after creating it`);
        });
        return { existing: new Set(), created: false };
      }
    }
    this.options.logger.info(`created collection "${collection}" (${describeModel(model)})`);
    return { existing: new Set(), created: true };
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

  indexes(collection: string): Promise<CollectionIndexes> {
    return this.withExisting(collection, (state) => indexStates(state.table));
  }

  /**
   * Merges small fragments, folds new rows into the indexes and removes the versions older than
   * this compaction (see cleanupCutoff). `onlyIfDue`: only when the fragments are that many times
   * due (compactionDue).
   *
   * On a local disk it runs beside this process's writes, not in their queue: on a table handle of
   * its own (LanceDB holds a handle's dataset for a whole optimize), holding the collection's
   * cross-process lock, so no other process commits meanwhile and every commit this process did
   * not publish while it runs is the compaction's (the vector cache follows writes across them).
   * LanceDB orders the concurrent commits; a conflict (an update rewrote a fragment being merged)
   * is retried. On object storage, where no lock keeps other writers out, it queues with writes.
   */
  compact(collection: string, options: { onlyIfDue?: number } = {}): Promise<void> {
    return this.housekeeping.run(collection, () => this.compactNow(collection, options));
  }

  private async compactNow(collection: string, { onlyIfDue }: { onlyIfDue?: number }): Promise<void> {
    const queued = (state: TableState) => this.optimize(collection, state, state.table, onlyIfDue, false);
    const run = (work: (state: TableState) => Promise<unknown>) =>
      this.withTable(collection, work, async () => undefined);
    if (isRemoteUri(this.options.dbPath)) {
      await this.exclusive(collection, () => run(queued));
      return;
    }
    const cache = this.vectors;
    try {
      for (let attempt = 1; attempt <= BESIDE_ATTEMPTS; attempt++) {
        const done = await this.locks.beside(collection, () =>
          run(async (state) => {
            const own = await (await this.tables.db()).openTable(tableName(collection, state.generation));
            // Only now, holding the cross-process lock: commits up to this version may be other
            // processes', those after it are this process's or the compaction's.
            cache?.compacting(collection, await own.version());
            try {
              return await this.optimize(collection, state, own, onlyIfDue, true);
            } catch (error) {
              // Preempted by a write that changed rows in a fragment being merged: try again, then queue.
              if (isCommitConflict(error)) return false;
              throw error;
            } finally {
              // Past this attempt the lock may pass to another process: no skipped version is ours.
              cache?.compacting(collection, undefined);
              own.close();
            }
          }),
        );
        if (done !== false) return;
      }
      // Updates keep rewriting the fragments it merges: this once, the writes wait for it.
      this.options.logger.debug(
        `compaction of "${collection}" preempted ${BESIDE_ATTEMPTS} times; queued with writes`,
      );
      await this.exclusive(collection, () => run(queued));
    } finally {
      cache?.compacting(collection, undefined);
    }
  }

  /** One compaction of `table` (the live one, or a handle of its own beside writes); see compact. */
  private async optimize(
    collection: string,
    state: TableState,
    table: lancedb.Table,
    onlyIfDue: number | undefined,
    beside: boolean,
  ): Promise<true> {
    if (onlyIfDue !== undefined) {
      const { numRows, fragmentStats } = await table.stats();
      const stats = { rows: numRows, smallFragments: fragmentStats.numSmallFragments };
      if (!compactionDue(stats, onlyIfDue)) return true;
    }
    const rewrite = async () => {
      const started = Date.now();
      const before = await table.version();
      const bytes = await tableBytes(this.options.dbPath, tableName(collection, state.generation));
      const overCap = bytes !== undefined && bytes > (this.options.historyCapBytes ?? HISTORY_CAP_BYTES);
      const kept = cleanupCutoff(started, this.options.historyMs ?? HISTORY_MS, overCap);
      const stats = await table.optimize({
        // On object storage, readers on other machines keep their version's files for a while:
        // whichever of that grace and the history window reaches further back.
        cleanupOlderThan: this.remote
          ? new Date(Math.min(kept.getTime(), remoteCleanupCutoff(started).getTime()))
          : kept,
      });
      const compacted = await table.version();
      const announce = async () => {
        // In the write queue (beside writes): every commit up to this version is published or the
        // compaction's (the live handle may not have read the compaction's last commit yet).
        const version = Math.max(compacted, await state.table.version());
        // Nothing to merge commits nothing: the rows stay where they were.
        if (version !== before) await this.publish(state, collection, { kind: "optimize", before, version });
      };
      await (beside ? this.exclusive(collection, announce) : announce());
      this.indexer.maybeBuild(collection, state.table, (before, version) =>
        this.publish(state, collection, { kind: "index", column: "vector", before, version }),
      );
      this.options.logger.debug(
        `compacted "${collection}" in ${Date.now() - started} ms: ${stats.compaction.fragmentsRemoved} fragments merged, ${stats.prune.oldVersionsRemoved} old versions removed`,
      );
    };
    // On object storage, at most one machine compacts a collection at a time (compaction-lease.ts).
    if (!this.lease) {
      await rewrite();
      return true;
    }
    const done = await this.lease(collection, async () => {
      await rewrite();
      return true;
    });
    if (!done) this.options.logger.debug(`compaction of "${collection}" left to another machine`);
    return true;
  }

  search(collection: string, vector: Float32Array, options: SearchOptions): Promise<Hit[]> {
    return this.withExisting(collection, async (state) =>
      this.searchIn(
        collection,
        state,
        vector,
        options,
        (await this.cacheFilterOf(state, options.where)).filter,
      ),
    );
  }

  /** `search` in the collection's table, with the filter as the cache evaluates it (see cacheFilterOf). */
  private async searchIn(
    collection: string,
    state: TableState,
    vector: Float32Array,
    options: SearchOptions,
    filtered: CacheFilter | undefined | false,
  ): Promise<Hit[]> {
    const positions = await positionColumns(state);
    const cached =
      filtered === false
        ? undefined
        : await this.vectors?.search(
            collection,
            state.generation,
            this.cacheSourceOf(collection, state, positions),
            vector,
            { limit: options.limit, withVectors: options.withVectors, where: filtered },
          );
    if (cached) return cached;
    const hits = await this.filtered.search(state, vector, options, [
      ...positions,
      ...(await timeColumns(state)),
    ]);
    // LanceDB answered a filtered search: a large collection's filter columns get an index.
    if (options.where)
      this.scalars.maybeBuild(collection, state.table, options.where, (before, version, column) =>
        this.publish(state, collection, { kind: "index", column, before, version }),
      );
    return hits;
  }

  /**
   * A search's filter as the vector cache evaluates it: undefined for none, false when the cache
   * cannot (a filter on the documents' times, or filtered searches off the cache); and the table's
   * schema when it was read for that (a LanceDB call, a request on object storage).
   */
  private async cacheFilterOf(
    state: TableState,
    where: Filter | undefined,
  ): Promise<{ filter: CacheFilter | undefined | false; schema?: Schema }> {
    if (!where) return { filter: undefined };
    if (this.options.cacheFilteredSearches === false || needsTimes(where)) return { filter: false };
    const schema = await state.table.schema();
    // Compiled first, also for the cache: it refuses a value of the wrong type.
    compileWhere(where, schema);
    return { filter: { filter: where, kinds: columnKinds(schema) }, schema };
  }

  nearest(collection: string, vector: Float32Array, options: { limit: number }): Promise<NearestChunk[]> {
    return this.withExisting(collection, async (state) => {
      const positions = await positionColumns(state);
      const cached = await this.vectors?.nearest(
        collection,
        state.generation,
        this.cacheSourceOf(collection, state, positions),
        vector,
        options.limit,
      );
      if (cached) return cached;
      const hits = await searchTable(state.table, vector, options, positions);
      return hits.map(({ id, chunk, distance }) => ({ id, chunk, distance }));
    });
  }

  textMatches(
    collection: string,
    text: string,
    vector: Float32Array,
    options: SearchOptions,
  ): Promise<Hit[]> {
    return this.withExisting(collection, async (state) => {
      const { filter } = this.vectors
        ? await this.cacheFilterOf(state, options.where)
        : { filter: false as const };
      // The cache compares its kept texts (100k rows: 1.5 ms, its vector scan 2.8-7 ms); else the nearest rows.
      const own =
        filter === false
          ? undefined
          : await this.vectors?.textMatches(
              collection,
              state.generation,
              this.cacheSourceOf(collection, state, await positionColumns(state)),
              text,
              vector,
              { limit: options.limit, withVectors: options.withVectors, where: filter },
            );
      return own ?? this.searchIn(collection, state, vector, options, filter);
    });
  }

  keywordSearch(collection: string, query: string, options: SearchOptions): Promise<KeywordHit[]> {
    return this.withExisting(collection, async (state) => {
      // The cache's own BM25 index, when it holds the collection's rows and texts (no LanceDB call
      // but the version check); else LanceDB's full-text index.
      const { filter: filtered, schema } = this.vectors
        ? await this.cacheFilterOf(state, options.where)
        : { filter: false as const, schema: undefined };
      const own =
        filtered === false
          ? undefined
          : await this.vectors?.keywordSearch(
              collection,
              state.generation,
              this.cacheSourceOf(collection, state, await positionColumns(state)),
              query,
              { limit: options.limit, where: filtered },
            );
      if (own) return own;
      // The version the index was checked at, or undefined when it could not be written.
      const indexedAt = await this.ensureTextIndex(collection, state).then(
        (version) => version,
        (error: unknown) => {
          // A full or read-only disk cannot take the index: scan instead (unstemmed, slower), so
          // keyword and hybrid search keep working there. The next search tries the index again.
          if (!isStorageError(error)) throw error;
          this.options.logger.warn(
            `full-text index on "${collection}" not written, keyword search scans instead: ${String(error).split(/\s+Caused by:/)[0]}`,
          );
          return undefined;
        },
      );
      const indexed = indexedAt !== undefined;
      // The schema read for the cache's filter, if any, serves here too (building the text index adds no column).
      const where = options.where
        ? compileWhere(options.where, schema ?? (await state.table.schema()))
        : undefined;
      const positions = await positionColumns(state);
      const times = await timeColumns(state);
      const columns = ["id", "text", "metadata", ...positions, ...times];
      if (indexed) {
        const cached = await this.keywordHitsFromCache(
          collection,
          state,
          query,
          where,
          indexedAt,
          columns,
          options,
        );
        if (cached) return cached;
      }
      const rows = indexed
        ? await fullTextSearch(state.table, query, where, [...columns, "vector"], options.limit)
        : await fullTextScan(state.table, query, where, options.limit, positions, times);
      return rows.map((row) => ({
        ...storedChunk(row),
        keywordScore: row._score,
        vector: Float32Array.from(row.vector as Iterable<number>),
      }));
    });
  }

  /**
   * A keyword search that asks LanceDB only for ids and scores, when the vector cache holds the
   * table at the version the index check read (`indexedAt`) and still does after the search: the
   * vectors and the rows it keeps come from the cache, rows it does not keep are read by id.
   * Measured at 100k (bench/RESULTS.md, "The keyword side"): LanceDB's search took 6.6 ms for the
   * hits' text, metadata, positions and times, 4.4–4.8 for ids and scores. Undefined otherwise.
   */
  private async keywordHitsFromCache(
    collection: string,
    state: TableState,
    query: string,
    where: string | undefined,
    indexedAt: number,
    columns: string[],
    options: SearchOptions,
  ): Promise<KeywordHit[] | undefined> {
    const cache = this.vectors;
    if (!cache || cache.loadedVersion(collection, state.generation) !== indexedAt) return undefined;
    const keyColumns = columns.includes("chunk") ? ["id", "chunk"] : ["id"];
    const scored = await fullTextSearch(state.table, query, where, keyColumns, options.limit);
    if ((await state.table.version()) !== indexedAt) return undefined;
    const keys = scored.map((row) => ({ id: row.id, chunk: row.chunk ?? 0 }));
    const kept = cache.keptAt(collection, state.generation, indexedAt, keys);
    if (!kept) return undefined;
    const missing = keys.filter((_, i) => kept[i]?.row === undefined);
    const read = new Map<string, StoredChunk>();
    if (missing.length > 0) {
      const ids = [...new Set(missing.map((key) => key.id))];
      for (const row of await fetchChunks(state.table, ids, columns))
        read.set(chunkKey(row.id, row.chunk), row);
    }
    const hits: KeywordHit[] = [];
    for (const [i, key] of keys.entries()) {
      const found = kept[i] as { row: StoredChunk | undefined; vector: Float32Array };
      const row = found.row ?? read.get(chunkKey(key.id, key.chunk));
      // Deleted since the search: the cache's copy is stale, LanceDB answers.
      if (!row) return undefined;
      hits.push({ ...row, keywordScore: (scored[i] as ScoredRow)._score, vector: found.vector });
    }
    return hits;
  }

  /**
   * The full-text index is made on first keyword search (not at creation: a collection that is
   * only searched by meaning never pays for it). Rows added later are still found: LanceDB scans
   * what the index does not cover yet.
   */
  /** Returns the table version the index was checked at (read after the call began). */
  private async ensureTextIndex(collection: string, state: TableState): Promise<number> {
    // One creation per table, shared by concurrent first keyword searches.
    state.textIndex ??= this.buildTextIndex(collection, state, () => createTextIndex(state.table)).catch(
      (error: unknown) => {
        state.textIndex = undefined;
        throw error;
      },
    );
    await state.textIndex;
    // Looked at once per table version: writes are what can leave the index covering no live row.
    const version = await state.table.version();
    if (state.textIndexChecked?.version !== version) {
      const check = this.buildTextIndex(
        collection,
        state,
        () => rebuildOrphanedTextIndex(state.table),
        version,
      ).catch((error: unknown) => {
        if (state.textIndexChecked?.check === check) state.textIndexChecked = undefined;
        throw error;
      });
      state.textIndexChecked = { version, check };
    }
    await state.textIndexChecked.check;
    return version;
  }

  /**
   * Runs `build` (a full-text index creation, if one is needed: true when it committed one) and
   * publishes the commit when the table moved. It runs outside the write lock: when it committed,
   * `before` is the version read before it, and a subscriber that finds the index's commit right
   * after that version knows nothing else came between (the vector cache then keeps its rows, and
   * the keyword index it may be building); when it did not, another process moved the table and
   * what changed is not known.
   */
  private async buildTextIndex(
    collection: string,
    state: TableState,
    build: () => Promise<boolean>,
    before?: number,
  ): Promise<void> {
    const from = before ?? (await state.table.version());
    const committed = await build();
    const version = await state.table.version();
    if (version !== from) {
      await this.publish(state, collection, {
        kind: "index",
        column: "text",
        before: committed ? from : undefined,
        version,
      });
    }
  }

  /**
   * Deletes by ids that arrive while the collection's previous write holds its lock are committed
   * together, as upserts are (group commit); each call's result is its own, as if the calls had run
   * in arrival order (an id two of them name is deleted by the first, not found by the second).
   * Upserts and deletes keep their arrival order: a delete never joins a group queued before an
   * upsert that arrived ahead of it.
   */
  async delete(collection: string, selector: DeleteSelector): Promise<DeleteResult> {
    const result =
      "ids" in selector
        ? await this.deleteIds(collection, selector.ids)
        : await this.exclusive(collection, async () => (await this.deleteRows(collection, selector)).result);
    if (result.deleted > 0) this.compactions.noteWrite(collection);
    return result;
  }

  private deleteIds(collection: string, ids: string[]): Promise<DeleteResult> {
    return new Promise<DeleteResult>((resolve, reject) =>
      this.joinGroup(
        collection,
        this.pendingDeletes,
        this.pendingUpserts,
        { ids, resolve, reject },
        (group) => this.deleteGroup(collection, group),
      ),
    );
  }

  /** One commit for a group of deletes by ids; each call gets the ids it was first to name. */
  private async deleteGroup(collection: string, group: PendingDelete[]): Promise<void> {
    const { removed } = await this.deleteRows(collection, { ids: group.flatMap((call) => call.ids) });
    const gone = new Set(removed);
    for (const call of group) {
      const requested = [...new Set(call.ids)];
      const mine = new Set(requested.filter((id) => gone.has(id)));
      for (const id of mine) gone.delete(id);
      call.resolve({ deleted: mine.size, notFound: requested.filter((id) => !mine.has(id)) });
    }
  }

  /** One delete commit, published; run in the collection's write queue. */
  private deleteRows(
    collection: string,
    selector: DeleteSelector,
  ): Promise<{ result: DeleteResult; removed: string[] }> {
    return this.withExisting(collection, async (state) => {
      return this.inFlight(collection, async () => {
        const { version, removed, ...result } = await deleteFromTable(state.table, selector);
        // Nothing removed: no commit to publish (the version may be another process's).
        if (removed.length > 0) await this.publish(state, collection, { kind: "delete", version, removed });
        return { result, removed };
      });
    });
  }

  async dropCollection(collection: string): Promise<number | undefined> {
    return this.exclusive(collection, () =>
      this.guard(async () => {
        const info = await this.getCollection(collection);
        if (!info) return undefined;
        await this.tables.forget(collection, "dropped");
        const generations = generationsOf(collection, await this.tables.names());
        if (generations.length === 0) return undefined;
        await this.tables.dropGenerations(collection, generations);
        this.options.logger.info(`dropped collection "${collection}" (${info.count} documents)`);
        return info.count;
      }),
    );
  }

  revision(collection: string): Promise<string> {
    // The row count too: a collection dropped and made again by another process starts its
    // versions over, and the count tells most such tables apart from the one seen before.
    return this.withExisting(
      collection,
      async (state) => `${state.generation}:${await state.table.version()}:${await state.table.countRows()}`,
    );
  }

  listIds(collection: string, where?: Filter): Promise<string[]> {
    return this.withExisting(collection, async (state) =>
      idsMatching(state.table, where ? compileWhere(where, await state.table.schema()) : undefined),
    );
  }

  exactTextCandidates(collection: string, texts: string[], limit: number): Promise<string[][]> {
    return this.withExisting(collection, async (state) => {
      // From the vector cache's hashed first chunks when it holds the collection: a scan of every
      // stored text per add otherwise (bench/RESULTS.md, "Where an add's time goes").
      const positions = await positionColumns(state);
      const cached = await this.vectors?.textCandidates(
        collection,
        state.generation,
        this.cacheSourceOf(collection, state, positions),
        texts,
        limit,
      );
      if (cached) return cached;
      const first = positions.length > 0 ? "chunk = 0 AND " : "";
      const found: string[][] = texts.map(() => []);
      // A NUL cannot be written in a SQL literal: such a text is left to the near-duplicate check.
      const asked = texts.map((text, i) => ({ text, i })).filter(({ text }) => !text.includes("\u0000"));
      // One scan per group of texts, not one per text.
      for (let start = 0; start < asked.length; start += EXACT_GROUP) {
        const group = asked.slice(start, start + EXACT_GROUP);
        const rows = (await state.table
          .query()
          .where(`${first}(${group.map(({ text }) => textIsPrefixOf(text)).join(" OR ")})`)
          .select(["id", "text"])
          .limit(limit * group.length)
          .toArray()) as Array<{ id: string; text: string }>;
        for (const { text, i } of group) {
          found[i] = rows
            .filter((row) => text.startsWith(row.text))
            .map((row) => row.id)
            .slice(0, limit);
        }
      }
      return found;
    });
  }

  listTimes(collection: string, where?: Filter): Promise<Array<{ id: string } & DocumentTimes>> {
    return this.withExisting(collection, async (state) =>
      timesMatching(
        state.table,
        where ? compileWhere(where, await state.table.schema()) : undefined,
        await timeColumns(state),
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
        ...(await timeColumns(state)),
        ...(options.vectors ? ["vector"] : []),
      ]),
    );
  }

  scan(collection: string, options: { vectors?: boolean } = {}): Promise<FetchedChunk[]> {
    return this.withExisting(collection, (state) => readAll(state.table, options.vectors ?? false));
  }

  async rebuildCollection(
    collection: string,
    model: ModelRecord,
    rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
  ): Promise<number> {
    return this.exclusive(collection, () =>
      this.guard(async () => {
        const current = await this.withExisting(collection, async (state) => state);
        const readAt = await current.table.version();
        const old = await readAll(current.table);
        const rows = await rebuildKeepingTimes(old, rebuild);
        const kinds = columnKinds(await current.table.schema());
        const generation = current.generation + 1;
        const db = await this.tables.db();
        // One createTable commit: the new generation exists only once it holds every row, so readers
        // (and a process restarted after a crash) see either the old collection or the complete new one.
        const schema = this.schemaOf(model, kinds);
        const table = await db.createTable(
          tableName(collection, generation),
          arrowRows(schema, rows, kinds),
          {
            schema,
            mode: "create",
          },
        );
        const state = { table, model, generation };
        this.tables.adopt(collection, state);
        const version = await table.version();
        await this.publish(state, collection, { kind: "rebuild", version, rows });
        await this.keyNew(state, collection, version);
        await this.carryOver(collection, current.generation, state, { version: readAt, rows: old }, rebuild);
        const older = generationsOf(collection, await db.tableNames()).filter((g) => g < generation);
        await this.tables.dropGenerations(collection, older);
        const documents = new Set(rows.map((row) => row.id)).size;
        this.options.logger.info(
          `re-embedded collection "${collection}" (${documents} documents, ${rows.length} chunks) with ${describeModel(model)}`,
        );
        return documents;
      }),
    );
  }

  /**
   * On object storage no lock keeps other machines from writing the old generation while it is
   * re-embedded (minutes, for a large collection). Their writes since `read` are carried over to
   * the new generation before the old one goes: documents changed or added there are re-embedded
   * and merged, those removed are deleted, until the old table holds still between two looks (a
   * few rounds at most). What another machine writes between the last look and the drop is still
   * lost (README says so); its next write finds the new generation. On a local disk the lock holds
   * every other writer back, so the first look finds nothing.
   */
  private async carryOver(
    collection: string,
    fromGeneration: number,
    to: TableState,
    read: { version: number; rows: StoredChunk[] },
    rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
  ): Promise<void> {
    // A handle of its own: the live one went with the switch to the new generation.
    const from = await (await this.tables.db()).openTable(tableName(collection, fromGeneration));
    try {
      await this.carryOverFrom(collection, from, to, read, rebuild);
    } finally {
      from.close();
    }
  }

  private async carryOverFrom(
    collection: string,
    from: lancedb.Table,
    to: TableState,
    read: { version: number; rows: StoredChunk[] },
    rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
  ): Promise<void> {
    let seen = read;
    for (let round = 0; round < CARRY_OVER_ROUNDS; round++) {
      const version = await from.version();
      if (version === seen.version) return;
      const now = { version, rows: await readAll(from) };
      const { changed, removed } = documentChanges(seen.rows, now.rows);
      seen = now;
      if (changed.size === 0 && removed.length === 0) continue;
      this.options.logger.info(
        `re-embedding "${collection}": ${changed.size} documents written and ${removed.length} removed meanwhile, carried over`,
      );
      const rows = await rebuildKeepingTimes(
        now.rows.filter((row) => changed.has(row.id)),
        rebuild,
      );
      const gone = [...changed, ...removed];
      if (rows.length === 0) {
        await to.table.delete(idInList(gone));
      } else {
        const ensured = await ensureColumns(
          collection,
          to.table,
          metadataKinds(rows),
          await to.table.schema(),
        );
        const schema = this.schemaOf(to.model, ensured.columns);
        await this.mergeOnKey(to.table, schema)
          .whenNotMatchedBySourceDelete({ where: idInList(gone) })
          .execute(arrowRows(schema, rows, ensured.columns));
      }
      // Not applied in place (columns, a merge that also deletes): the cache reads the table afresh.
      await this.commits.publish({ kind: "forget", collection, reason: "vanished" });
    }
  }

  history(collection: string): Promise<CollectionVersion[]> {
    return this.withExisting(collection, (state) => listVersions(state.table));
  }

  async restore(
    collection: string,
    target: { version: number } | { at: number },
    options: { dryRun: boolean },
  ): Promise<RestorePlan> {
    return this.locks.run(collection, () =>
      this.withExisting(collection, async (state) => {
        const version = pickVersion(await listVersions(state.table), target);
        const name = tableName(collection, state.generation);
        const db = await this.tables.db();
        const plan = await planRestore(db, name, version);
        if (options.dryRun) return plan;
        const restoredAs = await restoreVersion(db, name, version);
        // The table moved under every handle and cache of this process: start them afresh.
        await this.tables.forget(collection, "vanished");
        this.options.logger.info(
          `restored collection "${collection}" to version ${version} as version ${restoredAs}`,
        );
        return { ...plan, restoredAs };
      }),
    );
  }

  async backup(dir: string): Promise<BackupEntry[]> {
    return this.guard(async () => {
      const db = await this.tables.db();
      // Every collection's version first, all at nearly one moment; then the copies, at those versions.
      const pinned: Array<{ collection: string; name: string; version: number }> = [];
      for (const collection of collectionsIn(await this.tables.names())) {
        const state = await this.tables.get(collection);
        if (!state) continue;
        pinned.push({
          collection,
          name: tableName(collection, state.generation),
          version: await state.table.version(),
        });
      }
      const target = await openDatabase(dir);
      try {
        const existing = new Set(await target.tableNames());
        const clash = pinned.filter((p) => existing.has(p.collection)).map((p) => p.collection);
        if (clash.length > 0) {
          throw new MemoryError(
            "invalid_input",
            `The backup directory ${dir} already holds ${clash.join(", ")}; back up into a new or empty directory.`,
          );
        }
        const copied: BackupEntry[] = [];
        for (const { collection, name, version } of pinned) {
          const rows = await copyTable(db, name, version, target, collection);
          copied.push({ collection, version, rows });
        }
        return copied;
      } finally {
        target.close();
      }
    });
  }

  async restoreBackup(dir: string): Promise<BackupEntry[]> {
    return this.guard(async () => {
      const source = await openDatabase(dir);
      try {
        const names = await source.tableNames();
        const collections = [...collectionsIn(names)];
        if (collections.length === 0)
          throw new MemoryError(
            "invalid_input",
            `${dir} holds no collections; name a directory made by \`backup\`.`,
          );
        const present: string[] = [];
        for (const collection of collections)
          if (await this.getCollection(collection)) present.push(collection);
        if (present.length > 0) {
          throw new MemoryError(
            "invalid_input",
            `Collections ${present.join(", ")} exist here already; restore the backup into another --db-path, or drop them first (delete <collection> --drop). Nothing was restored.`,
          );
        }
        const db = await this.tables.db();
        const restored: BackupEntry[] = [];
        for (const collection of collections) {
          const generation = liveGeneration(collection, names) ?? 0;
          const from = await source.openTable(tableName(collection, generation));
          const version = await from.version();
          from.close();
          await this.locks.run(collection, async () => {
            const rows = await copyTable(source, tableName(collection, generation), version, db, collection);
            restored.push({ collection, version, rows });
          });
        }
        return restored;
      } finally {
        source.close();
      }
    });
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const names = await this.guard(() => this.tables.names());
    const infos: CollectionInfo[] = [];
    for (const name of collectionsIn(names)) {
      const info = await this.getCollection(name);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Hears every commit this store makes (see commits.ts); returns the function that stops it. */
  onCommit(listener: CommitListener): () => void {
    return this.commits.subscribe(listener);
  }

  /** Settles when a background vector-index build for the collection (if any) has (for benchmarks). */
  vectorIndexSettled(collection: string): Promise<void> {
    return this.indexer.settled(collection);
  }

  /** Settles when the vector cache's keyword index of the collection being built, if any, is done (for tests and benchmarks). */
  keywordIndexSettled(collection: string): Promise<void> {
    return this.vectors?.keywordsSettled(collection) ?? Promise.resolve();
  }

  /** Settles when the narrow filters' rows being read into memory (filter-subsets.ts) are in (for tests and benchmarks). */
  filteredSearchSettled(): Promise<void> {
    return this.filtered.settled();
  }

  async close(): Promise<void> {
    this.indexer.close();
    this.scalars.close();
    await this.compactions.close();
    this.vectors?.clear();
    await this.tables.close();
  }

  /**
   * The table as the vector cache reads it. The row count beside the version check only on a
   * local disk: on object storage it is one more GET per search (measured, bench/RESULTS.md).
   */
  private cacheSourceOf(collection: string, state: TableState, positions: readonly string[]) {
    return cacheSource(state.table, positions, {
      rows: this.options.cacheRows ?? true,
      countRows: !this.remote,
      publishing: () => this.committing.get(collection),
    });
  }

  /**
   * Runs `commit` (one LanceDB commit of rows, then its publication) marked as in flight, so that a
   * search reading the new version before it is published waits for it instead of reloading the
   * cache (see CacheSource.publishing). The collection's lock keeps it to one at a time.
   */
  private async inFlight<T>(collection: string, commit: () => Promise<T>): Promise<T> {
    const work = commit();
    const published = work.then(
      () => undefined,
      () => undefined,
    );
    this.committing.set(collection, published);
    try {
      return await work;
    } finally {
      if (this.committing.get(collection) === published) this.committing.delete(collection);
    }
  }

  /**
   * An upsert by the rows' identity: `row_key` on object storage (see `remote`), (id, chunk) on a
   * local disk. Never LanceDB's indexed merge, should anyone index the key: it records no inserted
   * keys, so on object storage racing inserts of one key both land (measured: 3 merges of the same
   * 10 new ids left 30 rows). The store itself makes no index on these columns. The rows are of
   * `schema`, which spares LanceDB a read of the table's (see mergeInsertOf).
   */
  private mergeOnKey(table: lancedb.Table, schema: Schema): lancedb.MergeInsertBuilder {
    return mergeInsertOf(table, this.remote ? [KEY_COLUMN] : ["id", "chunk"], schema)
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .useIndex(false);
  }

  /** A table's schema for these metadata columns; on object storage with `row_key` (see `remote`). */
  private schemaOf(model: ModelRecord, kinds: Map<string, ColumnKind>) {
    const schema = tableSchema(model, kinds);
    return this.remote ? withKeyColumn(schema) : schema;
  }

  /**
   * On object storage, a table this store just created gets its primary key, in a commit of its
   * own (LanceDB takes it only on an existing table). Until then no writer of this version writes
   * to it: each sets the key first (ensurePrimaryKey), whoever comes first.
   */
  private async keyNew(state: TableState, collection: string, before: number): Promise<void> {
    if (!this.remote) return;
    try {
      await ensurePrimaryKey(state);
    } catch (error) {
      // Another machine wrote first (it set the key, as every writer does before writing).
      if (!isCommitConflict(error)) throw error;
    }
    const version = await state.table.version();
    if (version !== before) await this.publish(state, collection, { kind: "schema", before, version });
  }

  /** Tells subscribers about a commit to the collection's table `state`. */
  private publish(
    state: TableState,
    collection: string,
    commit: DistributiveOmit<Exclude<Commit, { kind: "forget" }>, "collection" | "generation">,
  ): Promise<void> {
    return this.commits.publish({ ...commit, collection, generation: state.generation } as Commit);
  }

  private guard<T>(operation: () => Promise<T>): Promise<T> {
    return guardStorage(this.options.dbPath, this.options.logger, operation);
  }

  /** Runs `work` on the collection's live table (see LanceTables.retrying); `missing` answers when there is none. */
  private withTable<T>(
    collection: string,
    work: (state: TableState) => Promise<T>,
    missing: () => Promise<T>,
  ): Promise<T> {
    return this.guard(() => this.tables.retrying(collection, work, missing));
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
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** `rebuild` of these rows (re-embedded), each document keeping its times: a re-embedding changes vectors only. */
async function rebuildKeepingTimes(
  rows: StoredChunk[],
  rebuild: (rows: StoredChunk[]) => Promise<ChunkToWrite[]>,
): Promise<ChunkToWrite[]> {
  const timesById = new Map(
    rows.map((row) => [row.id, { createdAt: row.createdAt, updatedAt: row.updatedAt }]),
  );
  return (await rebuild(rows)).map((row) => ({ ...row, times: row.times ?? timesById.get(row.id) }));
}

/** Documents (by id) whose chunks differ between two reads of a table or that only the second has; and those it lacks. */
function documentChanges(
  before: readonly StoredChunk[],
  after: readonly StoredChunk[],
): { changed: Set<string>; removed: string[] } {
  const signatures = (rows: readonly StoredChunk[]) => {
    const chunks = new Map<string, StoredChunk[]>();
    for (const row of rows) chunks.set(row.id, [...(chunks.get(row.id) ?? []), row]);
    return new Map(
      [...chunks].map(([id, list]) => [
        id,
        JSON.stringify(
          list
            .sort((a, b) => a.chunk - b.chunk)
            .map((c) => [c.chunk, c.start, c.text, c.metadata, c.createdAt, c.updatedAt]),
        ),
      ]),
    );
  };
  const was = signatures(before);
  const is = signatures(after);
  const changed = new Set([...is].filter(([id, signature]) => was.get(id) !== signature).map(([id]) => id));
  return { changed, removed: [...was.keys()].filter((id) => !is.has(id)) };
}

const MIB = 1024 * 1024;

/** The log line for a collection that does not fit in the vector cache (searched by LanceDB). */
export function tooBigMessage(report: TooBigReport): string {
  const mib = (bytes: number) => (bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0);
  const others = report.budgetBytes - report.availableBytes;
  return (
    `vector cache: collection "${report.collection}" (${report.rows} rows x ${report.dimensions} dims) ` +
    `needs ${mib(report.neededBytes)} MiB but the cache has ${mib(report.availableBytes)} MiB free ` +
    `of ${mib(report.budgetBytes)} MiB` +
    (others > 0 ? ` (other collections hold ${mib(others)} MiB)` : "") +
    "; its searches go to LanceDB instead (slower). " +
    "Raise --vector-cache-mb / VECTOR_MEMORY_VECTOR_CACHE_MB to keep it in memory."
  );
}
