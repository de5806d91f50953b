import * as lancedb from "@lancedb/lancedb";
import type { Filter } from "../../filter.js";
import { METADATA_KEY_PATTERN } from "../../limits.js";
import type { Logger } from "../../logger.js";
import { arrow } from "../arrow.js";
import { metadataColumn } from "../sql.js";
import { isAlreadyExists } from "./errors.js";

/**
 * BTREE indexes on the metadata columns that filtered searches of a large collection read.
 *
 * LanceDB evaluates a search's `where` before the vector index (a prefilter), and without a
 * scalar index it reads the filtered column of every row on each search: at 1M rows with a 10%
 * filter that was most of the search (bench/RESULTS.md, "1M with the index": 60 ms p50; with a
 * BTREE on the column, 46 ms at the same settings, 29 ms at ef 16). Collections small enough for
 * the vector cache are filtered in memory and never need one. So the index is made, in the
 * background, the first time a filtered search of a collection of at least `minRows` rows reaches
 * LanceDB, one per column, and compaction keeps it up to date. A BITMAP would not do: metadata
 * numbers are float64, which LanceDB refuses for it. Lists of strings get none.
 *
 * Never on `row_key` or `(id, chunk)`: merges on an indexed key take LanceDB's indexed path, which
 * records no inserted keys (see primary-key.ts). Metadata columns are never merge keys.
 */

/** How long a collection found too small waits before its size is looked at again. */
const RECHECK_MS = 10 * 60_000;

/** The metadata keys a filter reads (document times have columns of their own, not indexed here). */
export function filterKeys(filter: Filter): string[] {
  switch (filter.kind) {
    case "compare":
    case "set":
      return [filter.key];
    case "time":
      return [];
    case "and":
    case "or":
      return [...new Set(filter.filters.flatMap(filterKeys))];
  }
}

export class ScalarIndexer {
  /**
   * Per table handle, the columns done or under way, and when a too-small look was made. A
   * collection dropped and made again, here or by another process, is a new handle: its columns
   * are looked at anew.
   */
  private readonly seen = new WeakMap<lancedb.Table, Map<string, number | "done">>();
  private closed = false;

  /** `apart` runs a build apart from the collection's compactions (LanceStore.housekeeping). */
  constructor(
    private readonly logger: Logger,
    private readonly minRows: number,
    private readonly apart: (collection: string, build: () => Promise<void>) => Promise<void>,
  ) {}

  /**
   * After a filtered search that LanceDB answered: starts the builds its filter calls for; returns
   * at once. `built` hears the versions before and after each, so a cache can follow the commit.
   */
  maybeBuild(
    collection: string,
    table: lancedb.Table,
    filter: Filter,
    built: (before: number, after: number, column: string) => Promise<void>,
  ): void {
    if (this.closed) return;
    const seen = this.seen.get(table) ?? new Map<string, number | "done">();
    this.seen.set(table, seen);
    // Keys that passed parseWhere; anything else is left alone rather than failing the search.
    const keys = filterKeys(filter).filter((key) => METADATA_KEY_PATTERN.test(key));
    for (const column of keys.map(metadataColumn)) {
      const state = seen.get(column);
      if (state === "done" || (state !== undefined && Date.now() - state < RECHECK_MS)) continue;
      seen.set(column, "done");
      this.apart(collection, async () => {
        if (this.closed) return;
        if ((await table.countRows()) < this.minRows) {
          seen.set(column, Date.now());
          return;
        }
        await this.build(table, column, built);
      }).catch((error: unknown) => {
        seen.set(column, Date.now());
        if (!this.closed)
          this.logger.warn(
            `index on "${column}" of "${collection}" not built (retried later): ${String(error)}`,
          );
      });
    }
  }

  close(): void {
    this.closed = true;
  }

  private async build(
    table: lancedb.Table,
    column: string,
    built: (before: number, after: number, column: string) => Promise<void>,
  ): Promise<void> {
    const [indices, schema] = await Promise.all([table.listIndices(), table.schema()]);
    const field = schema.fields.find((f) => f.name === column);
    // Lists of strings (tags) are filtered with array_has: a BTREE does not serve that.
    if (!field || arrow.DataType.isList(field.type)) return;
    if (indices.some((index) => index.columns.length === 1 && index.columns[0] === column)) return;
    const before = await table.version();
    try {
      await table.createIndex(column, { config: lancedb.Index.btree(), replace: false });
    } catch (error) {
      // Another process made it first: that is the index we wanted.
      if (!isAlreadyExists(error)) throw error;
    }
    await built(before, await table.version(), column);
    this.logger.debug(`made a BTREE index on "${column}"`);
  }
}
