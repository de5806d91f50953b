import type * as lancedb from "@lancedb/lancedb";
import type { Hit, SearchOptions } from "../vector-store.js";
import { FilterSubsets } from "./filter-subsets.js";
import { compileWhere, searchTable } from "./queries.js";
import { hasVectorIndex } from "./vector-index.js";

/**
 * A filtered search that LanceDB answers, on a table with a vector index: a postfilter first,
 * LanceDB's prefilter when the filter is narrow.
 *
 * LanceDB's prefilter evaluates the filter over the whole table before the index search: at 1M
 * rows, with a BTREE on the column, 26–40 ms for a 10% and a 1% filter whatever the ef, against
 * 6–8 ms unfiltered (bench/RESULTS.md, "Filtered search at 1M: postfilter first"). Asking the
 * index for the 400 nearest rows unfiltered (ef 512) and filtering those took 14.7–19.5 ms at
 * recall@10 0.992 for the 10% filter, but leaves too few rows for the 1% one (58 of 60 short).
 *
 * When the nearest POSTFILTER_CANDIDATES rows hold at least k matches, the true filtered top k are
 * among those candidates (any other match is farther away), so the postfilter's answer is as good
 * as the index's at that depth. It is kept only when twice k pass, so the k-th match sits well
 * inside the candidates and not at their edge, where the index's approximation is worst. Else the
 * search is made again with the prefilter, and the filter is remembered as narrow for a while: its
 * next searches go to the prefilter at once.
 */
export const POSTFILTER_CANDIDATES = 400;
const POSTFILTER_EF = 512;
/** Searches wanting more than this many hits go to the prefilter at once. */
const POSTFILTER_MAX_LIMIT = POSTFILTER_CANDIDATES / 40;
/** How long a filter found narrow goes straight to the prefilter (data changes; so may it). */
const NARROW_MS = 10 * 60_000;
/** Narrow filters remembered per table at most (the oldest are forgotten first). */
const NARROW_KEEP = 1000;

export interface IndexedTable {
  table: lancedb.Table;
  /** Whether the table had a vector index at `version` (see indexedNow). */
  vectorIndexed?: { version: number; present: boolean } | undefined;
}

/** Whether the table has a vector index now; LanceDB's index list is read once per version. */
async function indexedNow(state: IndexedTable): Promise<boolean> {
  const version = await state.table.version();
  if (state.vectorIndexed?.version !== version)
    state.vectorIndexed = { version, present: await hasVectorIndex(state.table) };
  return state.vectorIndexed.present;
}

export class FilteredSearch {
  /**
   * Filters found narrow (by their JSON) and when, per table handle: a collection dropped and made
   * again, or re-embedded into a new table, starts with none.
   */
  private readonly narrow = new WeakMap<lancedb.Table, Map<string, number>>();
  private readonly subsets = new FilterSubsets();

  /** LanceDB's answer to a search. */
  async search(
    state: IndexedTable,
    vector: Float32Array,
    options: SearchOptions,
    rowColumns: string[],
  ): Promise<Hit[]> {
    if (!options.where || options.limit > POSTFILTER_MAX_LIMIT) {
      return searchTable(state.table, vector, options, rowColumns);
    }
    let narrow = this.narrow.get(state.table);
    if (!narrow) {
      narrow = new Map();
      this.narrow.set(state.table, narrow);
    }
    const filterKey = JSON.stringify(options.where);
    const since = narrow.get(filterKey);
    if (since !== undefined && Date.now() - since < NARROW_MS) {
      return this.narrowSearch(state, filterKey, vector, options, rowColumns);
    }
    if (await indexedNow(state)) {
      const hits = await searchTable(state.table, vector, options, rowColumns, {
        candidates: POSTFILTER_CANDIDATES,
        ef: POSTFILTER_EF,
      });
      if (hits.length >= 2 * options.limit) {
        narrow.delete(filterKey);
        return hits.slice(0, options.limit);
      }
      noteNarrow(narrow, filterKey);
      return this.narrowSearch(state, filterKey, vector, options, rowColumns);
    }
    return searchTable(state.table, vector, options, rowColumns);
  }

  /** Settles once the narrow filters' reads under way are done (for tests and benchmarks). */
  settled(): Promise<void> {
    return this.subsets.settled();
  }

  /** A narrow filter: its rows from memory at this version (see filter-subsets.ts), or LanceDB's prefilter. */
  private async narrowSearch(
    state: IndexedTable,
    filterKey: string,
    vector: Float32Array,
    options: SearchOptions,
    rowColumns: string[],
  ): Promise<Hit[]> {
    if (!options.where) return searchTable(state.table, vector, options, rowColumns);
    const [version, schema] = await Promise.all([state.table.version(), state.table.schema()]);
    const select = ["id", "text", "metadata", ...rowColumns, ...(options.withVectors ? ["vector"] : [])];
    const sql = compileWhere(options.where, schema);
    const hits = await this.subsets.search(
      state.table,
      version,
      filterKey,
      sql,
      vector,
      options.limit,
      select,
    );
    return hits ?? searchTable(state.table, vector, options, rowColumns);
  }
}

function noteNarrow(narrow: Map<string, number>, filterKey: string): void {
  narrow.delete(filterKey);
  narrow.set(filterKey, Date.now());
  if (narrow.size > NARROW_KEEP) {
    const oldest = narrow.keys().next().value;
    if (oldest !== undefined) narrow.delete(oldest);
  }
}
