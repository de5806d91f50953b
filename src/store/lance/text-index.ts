import * as lancedb from "@lancedb/lancedb";
import { idInList } from "../sql.js";
import { chunkKey } from "../vector-store.js";
import { isAlreadyExists } from "./errors.js";
import type { RawRow } from "./schema.js";

/**
 * The full-text index on `text` and the queries on it. The store makes the index on the first
 * keyword search (see LanceStore.keywordSearch) and scans without it when it cannot be written.
 */

export async function createTextIndex(table: lancedb.Table): Promise<void> {
  const indices = await table.listIndices();
  if (indices.some((index) => index.columns.includes("text") && index.indexType === "FTS")) return;
  try {
    await table.createIndex("text", {
      config: lancedb.Index.fts({
        stem: true,
        lowercase: true,
        asciiFolding: true,
        removeStopWords: true,
        language: "English",
      }),
      replace: false,
    });
  } catch (error) {
    // Another process made it first: that is the index we wanted.
    if (!isAlreadyExists(error)) throw error;
  }
}

export type ScoredRow = RawRow & { vector: Iterable<number>; _score: number };

export async function fullTextSearch(
  table: lancedb.Table,
  query: string,
  where: string | undefined,
  columns: string[],
  limit: number,
): Promise<ScoredRow[]> {
  let search = table
    .query()
    .fullTextSearch(query, { columns: ["text"] })
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
