import type * as lancedb from "@lancedb/lancedb";
import { isAlreadyExists } from "./errors.js";
import { hasChunkColumns, POSITION_COLUMNS } from "./schema.js";

/**
 * Tables made before chunking have no `chunk` / `chunk_start` columns: every row is a whole
 * document, read as chunk 0 at 0. They get the columns on their first write.
 */
export interface ChunkedState {
  table: lancedb.Table;
  /** True once the table is known to have the chunk position columns. */
  chunked?: boolean;
}

/** The chunk position columns to select: none in a table made before chunking (all its rows are whole documents). */
export async function positionColumns(state: ChunkedState): Promise<string[]> {
  state.chunked ||= hasChunkColumns(await state.table.schema());
  return state.chunked ? [...POSITION_COLUMNS] : [];
}

/**
 * A table made before chunking gets the position columns on its first write, filled with chunk 0
 * at 0 (every existing row is a whole document), in one commit of its own. True when it committed
 * (or tried to).
 */
export async function ensureChunkColumns(state: ChunkedState): Promise<boolean> {
  if ((await positionColumns(state)).length > 0) return false;
  try {
    await state.table.addColumns(POSITION_COLUMNS.map((name) => ({ name, valueSql: "CAST(0 AS INT)" })));
  } catch (error) {
    // Another process added them first.
    if (!isAlreadyExists(error)) throw error;
  }
  state.chunked = true;
  return true;
}

/** Documents, not rows: each document has exactly one chunk 0. */
export async function countDocuments(state: ChunkedState): Promise<number> {
  return (await positionColumns(state)).length > 0
    ? state.table.countRows("chunk = 0")
    : state.table.countRows();
}
