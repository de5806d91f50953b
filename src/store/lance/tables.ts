import * as lancedb from "@lancedb/lancedb";
import type { ModelRecord } from "../../model-record.js";
import { isRemoteUri, type ObjectStoreOptions } from "../../storage-uri.js";
import type { CommitFeed } from "../commits.js";
import { assertCollectionName } from "../vector-store.js";
import { isCommitConflict, isNotFound } from "./errors.js";
import { liveGeneration, tableName } from "./generations.js";
import type { KeyedState } from "./primary-key.js";
import { readModelRecord } from "./schema.js";

/** A collection's open table; `keyed` and `keySet` are its `row_key` migration on object storage (primary-key.ts). */
export interface TableState extends KeyedState {
  model: ModelRecord;
  /** Which table holds the collection: `name` (0) or `name.g<N>` after N re-embeddings. */
  generation: number;
  /** Settles once the full-text index on `text` exists. */
  textIndex?: Promise<void> | undefined;
  /** The table version whose full-text index was last checked for covering no live row (see rebuildOrphanedTextIndex). */
  textIndexChecked?: { version: number; check: Promise<void> } | undefined;
  /** True once the table is known to have the chunk position columns (tables made before chunking lack them). */
  chunked?: boolean;
  /** Whether the table had a vector index at that version (filtered-search.ts). */
  vectorIndexed?: { version: number; present: boolean } | undefined;
}

const MAX_CONFLICT_RETRIES = 8;

/**
 * LanceDB's storage options (object_store's snake_case keys) for the options the user gave; keys
 * left out let LanceDB read its own `AWS_*` environment variables, so those keep working.
 */
export function storageOptions(
  dbPath: string,
  options: ObjectStoreOptions,
  env: Record<string, string | undefined>,
): Record<string, string> {
  if (!isRemoteUri(dbPath)) return {};
  // An S3-compatible endpoint with no region anywhere: us-east-1, as the commit probe signs with,
  // rather than LanceDB asking the EC2 metadata service (a warning and a delay off AWS).
  const region =
    options.region ??
    (options.endpoint && !env.AWS_REGION && !env.AWS_DEFAULT_REGION ? "us-east-1" : undefined);
  const entries: [string, string | undefined][] = [
    ["aws_endpoint", options.endpoint],
    ["aws_region", region],
    ["aws_access_key_id", options.accessKeyId],
    ["aws_secret_access_key", options.secretAccessKey],
    ["aws_session_token", options.sessionToken],
    ["allow_http", options.allowHttp === undefined ? undefined : String(options.allowHttp)],
  ];
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * The connection and each collection's open live table. Handles are kept between calls; one that
 * went stale under another process (a re-embedding, a drop) is forgotten and looked up again.
 */
export class LanceTables {
  private connection: Promise<lancedb.Connection> | undefined;
  private readonly open = new Map<string, TableState>();

  constructor(
    private readonly dbPath: string,
    private readonly commits: CommitFeed,
    private readonly objectStore: ObjectStoreOptions = {},
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  db(): Promise<lancedb.Connection> {
    // readConsistencyInterval 0: every read checks for commits made by other processes on the same directory.
    this.connection ??= lancedb
      .connect(this.dbPath, {
        readConsistencyInterval: 0,
        storageOptions: storageOptions(this.dbPath, this.objectStore, this.env),
      })
      .catch((error: unknown) => {
        // Not memoised: once the directory is fixed (remounted, space freed), the next call connects.
        this.connection = undefined;
        throw error;
      });
    return this.connection;
  }

  async names(): Promise<string[]> {
    return (await this.db()).tableNames();
  }

  /** The collection's live table, or undefined when there is no such collection. */
  async get(collection: string): Promise<TableState | undefined> {
    assertCollectionName(collection);
    const cached = this.open.get(collection);
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
    this.open.set(collection, state);
    return state;
  }

  /**
   * Runs `work` on the collection's live table. A cached handle can go stale when another process
   * re-embeds (a new generation) or drops the collection: on "not found" the handle is forgotten
   * and the live table looked up again, once. A commit conflict with another process is retried
   * with backoff. `missing` answers when there is no such collection.
   */
  async retrying<T>(
    collection: string,
    work: (state: TableState) => Promise<T>,
    missing: () => Promise<T>,
  ): Promise<T> {
    let reopened = false;
    for (let conflicts = 0; ; ) {
      const state = await this.get(collection);
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
        await this.forget(collection, "vanished");
      }
    }
  }

  /** Makes `state` the collection's live table (one this store just created), closing the one it replaces. */
  adopt(collection: string, state: TableState): void {
    this.open.get(collection)?.table.close();
    this.open.set(collection, state);
  }

  /** Closes the collection's handle and tells subscribers that what they hold of it is stale. */
  async forget(collection: string, reason: "dropped" | "vanished"): Promise<void> {
    this.open.get(collection)?.table.close();
    this.open.delete(collection);
    await this.commits.publish({ kind: "forget", collection, reason });
  }

  async dropGenerations(collection: string, generations: number[]): Promise<void> {
    const db = await this.db();
    for (const generation of generations) {
      try {
        await db.dropTable(tableName(collection, generation));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async close(): Promise<void> {
    for (const { table } of this.open.values()) table.close();
    this.open.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) (await connection).close();
  }
}

/** Exponential with full jitter: 10, 20, 40 ... ms caps, so competing processes spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 10 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
