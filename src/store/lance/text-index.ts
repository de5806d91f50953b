import * as lancedb from "@lancedb/lancedb";
import { idInList } from "../sql.js";
import { chunkKey } from "../vector-store.js";
import { isAlreadyExists } from "./errors.js";
import type { RawRow } from "./schema.js";

/**
 * The full-text index on `text` and the queries on it. The store makes the index on the first
 * keyword search (see LanceStore.keywordSearch) and scans without it when it cannot be written.
 */

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

/** Makes the table's full-text index unless it has one; true when this call committed it. */
export async function createTextIndex(table: lancedb.Table): Promise<boolean> {
  if (await textIndexOf(table)) return false;
  try {
    await table.createIndex("text", { config: textIndexConfig(), replace: false });
    return true;
  } catch (error) {
    // Another process made it first: that is the index we wanted.
    if (!isAlreadyExists(error)) throw error;
    return false;
  }
}

/**
 * LanceDB (0.37) misses rows in a full-text search once its index covers no live row, for example
 * after every document of a collection was written again (measured: a query for a word of any
 * replaced row found none of them; with one indexed row left, all were found). Such an index is
 * built anew; rows written since an index that still covers some live rows are found as usual.
 * True when this call committed a new index.
 */
export async function rebuildOrphanedTextIndex(table: lancedb.Table): Promise<boolean> {
  const index = await textIndexOf(table);
  if (!index) return false;
  const stats = await table.indexStats(index.name);
  if (!stats || stats.numIndexedRows > 0 || stats.numUnindexedRows === 0) return false;
  await table.createIndex("text", { config: textIndexConfig(), replace: true });
  return true;
}

export type ScoredRow = RawRow & { vector: Iterable<number>; _score: number };

export async function fullTextSearch(
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
export async function fullTextScan(
  table: lancedb.Table,
  query: string,
  where: string | undefined,
  limit: number,
  positionColumns: string[],
  timeColumns: readonly string[] = [],
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
    .select(["id", "text", "metadata", "vector", ...positionColumns, ...timeColumns])
    .toArray()) as ScoredRow[];
  // Rows are chunks: (id, chunk) tells them apart.
  const byKey = new Map(rows.map((row) => [chunkKey(row.id, row.chunk ?? 0), row]));
  return best.flatMap((row) => {
    const found = byKey.get(chunkKey(row.id, row.chunk ?? 0));
    return found ? [{ ...found, _score: row._score }] : [];
  });
}
