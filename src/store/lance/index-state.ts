import type * as lancedb from "@lancedb/lancedb";
import type { CollectionIndexes, IndexState } from "../vector-store.js";

const ABSENT: IndexState = { present: false, indexedRows: 0, unindexedRows: 0 };

/** The table's vector index and full-text index on `text`, as LanceDB's index statistics count them. */
export async function indexStates(table: lancedb.Table): Promise<CollectionIndexes> {
  const indices = await table.listIndices();
  const state = async (index: lancedb.IndexConfig | undefined): Promise<IndexState> => {
    if (!index) return ABSENT;
    const stats = await table.indexStats(index.name);
    return {
      present: true,
      indexedRows: stats?.numIndexedRows ?? 0,
      unindexedRows: stats?.numUnindexedRows ?? 0,
    };
  };
  return {
    vector: await state(indices.find((index) => index.columns.includes("vector"))),
    text: await state(indices.find((index) => index.columns.includes("text") && index.indexType === "FTS")),
  };
}
