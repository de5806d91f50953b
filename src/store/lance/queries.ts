import type * as lancedb from "@lancedb/lancedb";
import type { RowLocations } from "../commits.js";
import { compileFilter, idInList } from "../sql.js";
import {
  type ChunkToWrite,
  chunkKey,
  type DeleteResult,
  type DeleteSelector,
  type FetchedChunk,
  type Hit,
  type SearchOptions,
} from "../vector-store.js";
import { columnKinds, hasChunkColumns, POSITION_COLUMNS, type RawRow, storedChunk } from "./schema.js";
import { ANN_EF, ANN_NPROBES, ANN_REFINE } from "./vector-index.js";

/** Ids per query where a list of ids becomes a predicate, so it never becomes one enormous SQL string. */
const FETCH_CHUNK = 500;

export async function searchTable(
  table: lancedb.Table,
  vector: Float32Array,
  options: SearchOptions,
  positionColumns: string[],
): Promise<Hit[]> {
  let query = table
    .vectorSearch(vector)
    .column("vector")
    .distanceType("cosine")
    .select([
      "id",
      "text",
      "metadata",
      "_distance",
      ...positionColumns,
      ...(options.withVectors ? ["vector"] : []),
    ])
    // Used only when the table has a vector index (see vector-index.ts); flat search ignores them.
    .nprobes(ANN_NPROBES)
    .ef(ANN_EF)
    .refineFactor(ANN_REFINE)
    .limit(options.limit);
  if (options.where) query = query.where(compileFilter(options.where, columnKinds(await table.schema())));
  const rows = (await query.toArray()) as Array<RawRow & { _distance: number; vector?: Iterable<number> }>;
  return rows.map((row) => ({
    ...storedChunk(row),
    distance: row._distance,
    ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
  }));
}

/** Every row of the documents with these ids, with the given columns (`vector` among them or not). */
export async function fetchChunks(
  table: lancedb.Table,
  ids: string[],
  columns: string[],
): Promise<FetchedChunk[]> {
  const found: FetchedChunk[] = [];
  for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
    const chunk = ids.slice(start, start + FETCH_CHUNK);
    const rows = (await table.query().where(idInList(chunk)).select(columns).toArray()) as Array<
      RawRow & { vector?: Iterable<number> }
    >;
    for (const row of rows) {
      found.push({
        ...storedChunk(row),
        ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
      });
    }
  }
  return found;
}

/** The ids of the documents matching `where` (SQL already compiled), each once. */
export async function idsMatching(table: lancedb.Table, where: string | undefined): Promise<string[]> {
  let query = table.query().select(["id"]);
  if (where) query = query.where(where);
  // A document split into chunks has one row per chunk.
  return [...new Set(((await query.toArray()) as Array<{ id: string }>).map((row) => row.id))];
}

/** Where each row sits in the table now (its LanceDB row id), batch by batch; for the optimize commit. */
export async function* rowLocations(table: lancedb.Table): AsyncIterable<RowLocations> {
  const columns = hasChunkColumns(await table.schema()) ? ["id", "chunk"] : ["id"];
  for await (const batch of table.query().select(columns).withRowId()) {
    const ids = batch.getChild("id");
    const chunks = batch.getChild("chunk");
    const rows = batch.getChild("_rowid");
    yield {
      size: batch.numRows,
      id: (i) => ids?.get(i) as string,
      chunk: (i) => (chunks?.get(i) as number | null) ?? 0,
      rowId: (i) => rows?.get(i) as bigint,
    };
  }
}

export async function readAll(table: lancedb.Table, vectors = false): Promise<FetchedChunk[]> {
  const chunked = hasChunkColumns(await table.schema());
  const columns = ["id", "text", "metadata", ...(chunked ? POSITION_COLUMNS : [])];
  if (!vectors)
    return ((await table.query().select(columns).toArray()) as RawRow[]).map((row) => storedChunk(row));
  // With vectors, batch by batch: each row's vector is copied straight out of the batch's float
  // buffer (as the vector cache reads it), not iterated value by value through Arrow.
  const out: FetchedChunk[] = [];
  for await (const batch of table.query().select([...columns, "vector"])) {
    const data = batch.getChild("vector")?.data[0];
    const child = data?.children[0];
    const values = child?.values as Float32Array | undefined;
    const dim = (data?.type as { listSize?: number } | undefined)?.listSize ?? 0;
    if (!data || !child || !values || dim === 0) throw new Error("bug: unexpected vector column shape");
    const rows = batch.toArray() as unknown as RawRow[];
    rows.forEach((row, i) => {
      const start = child.offset + (data.offset + i) * dim;
      out.push({ ...storedChunk(row), vector: values.slice(start, start + dim) });
    });
  }
  return out;
}

/** The result, the version the table is at afterwards, and the ids of the documents removed. */
export async function deleteFromTable(
  table: lancedb.Table,
  selector: DeleteSelector,
): Promise<DeleteResult & { version: number; removed: string[] }> {
  if ("ids" in selector) {
    const requested = [...new Set(selector.ids)];
    if (requested.length === 0)
      return { deleted: 0, notFound: [], version: await table.version(), removed: [] };
    const predicate = idInList(requested);
    const found = await idsWhere(table, predicate);
    const result = await table.delete(predicate);
    return {
      deleted: found.size,
      notFound: requested.filter((id) => !found.has(id)),
      version: result.version,
      removed: [...found],
    };
  }
  // Every chunk of a document carries its metadata, so a filter takes all of a document's rows or none.
  const predicate = compileFilter(selector.where, columnKinds(await table.schema()));
  const found = await idsWhere(table, predicate);
  if (found.size === 0) return { deleted: 0, notFound: [], version: await table.version(), removed: [] };
  const result = await table.delete(predicate);
  return { deleted: found.size, notFound: [], version: result.version, removed: [...found] };
}

async function idsWhere(table: lancedb.Table, predicate: string): Promise<Set<string>> {
  const rows = (await table.query().where(predicate).select(["id"]).toArray()) as Array<{ id: string }>;
  return new Set(rows.map((row) => row.id));
}

/**
 * What an upsert of `rows` finds already stored: how many of their documents exist, and which of
 * them have chunks the new rows do not replace (the new version has fewer chunks).
 */
export async function storedChunksOf(
  table: lancedb.Table,
  rows: ChunkToWrite[],
): Promise<{ existing: number; stale: string[] }> {
  const incoming = new Set(rows.map((row) => chunkKey(row.id, row.chunk ?? 0)));
  const ids = [...new Set(rows.map((row) => row.id))];
  const existing = new Set<string>();
  const stale = new Set<string>();
  for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
    const stored = (await table
      .query()
      .where(idInList(ids.slice(start, start + FETCH_CHUNK)))
      .select(["id", "chunk"])
      .toArray()) as Array<{ id: string; chunk: number }>;
    for (const row of stored) {
      existing.add(row.id);
      if (!incoming.has(chunkKey(row.id, row.chunk))) stale.add(row.id);
    }
  }
  return { existing: existing.size, stale: [...stale] };
}
