import type * as lancedb from "@lancedb/lancedb";
import type { ChunkToWrite, Metadata } from "../vector-store.js";
import { KEY_COLUMN, rowKey } from "./primary-key.js";

/**
 * Two machines creating one collection on object storage at once. LanceDB (0.37) checks that a
 * table does not exist before it writes the first version, and commits a creation as an
 * *overwrite*: when two creations pass the check together, the second one's conditional PUT of
 * version 1 is refused, and LanceDB then commits it as version 2, replacing the first machine's
 * rows (measured here: 3 of 20 three-way races had two "created" answers and one machine's rows
 * gone). Both calls were acknowledged, so the machine whose creation is not version 1 puts back
 * what it replaced: the rows of the version just before its own that it did not write itself.
 * Rare (only when the table has more than one version right after creating it) and read-only
 * otherwise: one listing of the versions, and the rows of the versions it compares.
 */
export async function rowsOverwrittenByCreate(
  db: lancedb.Connection,
  name: string,
  ours: ChunkToWrite[],
): Promise<ChunkToWrite[]> {
  const table = await db.openTable(name);
  try {
    const versions = (await table.listVersions()).map((v) => v.version).sort((a, b) => a - b);
    if (versions.length < 2) return [];
    const mine = new Map(ours.map((row) => [rowKey(row.id, row.chunk ?? 0), row.text]));
    // Our creation is the first version holding exactly our rows; before it is what it replaced.
    for (let i = 0; i < versions.length; i++) {
      await table.checkout(versions[i] as number);
      const rows = (await table.query().select([KEY_COLUMN, "text"]).toArray()) as Array<{
        row_key: string;
        text: string;
      }>;
      const same = rows.length === mine.size && rows.every((row) => mine.get(row.row_key) === row.text);
      if (!same) continue;
      if (i === 0) return [];
      await table.checkout(versions[i - 1] as number);
      const ids = new Set(ours.map((row) => row.id));
      return ((await table.query().toArray()) as StoredRow[])
        .filter((row) => !ids.has(row.id))
        .map((row) => ({
          id: row.id,
          text: row.text,
          metadata: JSON.parse(row.metadata) as Metadata,
          chunk: row.chunk,
          start: row.chunk_start,
          vector: Float32Array.from(row.vector),
        }));
    }
    return [];
  } finally {
    table.close();
  }
}

interface StoredRow {
  id: string;
  text: string;
  metadata: string;
  chunk: number;
  chunk_start: number;
  vector: Iterable<number>;
}
