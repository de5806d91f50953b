import * as lancedb from "@lancedb/lancedb";
import type { RecordBatch, Schema } from "apache-arrow";
import { arrow } from "../arrow.js";

/**
 * Copies one table, as of `version`, into `target` under `name`, in one commit: the copy exists
 * only once it holds every row, so a backup (or a restore from one) interrupted midway leaves no
 * half table. The source is read at its pinned version, so writers may go on meanwhile; the
 * schema (with the model record in its metadata) comes along.
 */
export async function copyTable(
  source: lancedb.Connection,
  sourceName: string,
  version: number | undefined,
  target: lancedb.Connection,
  name: string,
): Promise<number> {
  const handle = await source.openTable(sourceName);
  try {
    if (version !== undefined) await handle.checkout(version);
    const schema = (await handle.schema()) as Schema;
    const batches: RecordBatch[] = [];
    const columns = schema.fields.map((field) => field.name);
    for await (const batch of handle.query().select(columns)) {
      batches.push(new arrow.RecordBatch(schema, batch.data));
    }
    const table =
      batches.length > 0 ? new arrow.Table(batches) : new arrow.Table(schema, new arrow.RecordBatch(schema));
    const created = await target.createTable(name, table, { mode: "create", schema });
    const rows = await created.countRows();
    created.close();
    return rows;
  } finally {
    handle.close();
  }
}

/** A database directory to back up into or restore from (local; made if missing). */
export function openDatabase(dir: string): Promise<lancedb.Connection> {
  return lancedb.connect(dir);
}
