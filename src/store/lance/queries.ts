import * as lancedb from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import type { Filter } from "../../filter.js";
import type { RowLocations } from "../commits.js";
import { compileFilter, idInList } from "../sql.js";
import {
  type ChunkToWrite,
  chunkKey,
  type DeleteResult,
  type DeleteSelector,
  type DocumentTimes,
  type FetchedChunk,
  type Hit,
  type SearchOptions,
} from "../vector-store.js";
import { columnKinds, hasChunkColumns, POSITION_COLUMNS, type RawRow, storedChunk } from "./schema.js";
import { hasTimeColumns, type RawTimes, type StoredVersion, TIME_COLUMNS, timesOf } from "./timestamps.js";
import { ANN_EF, ANN_NPROBES, ANN_REFINE } from "./vector-index.js";

/** A filter as SQL against this table's metadata columns and, where it has them, its time columns. */
export function compileWhere(filter: Filter, schema: Schema): string {
  return compileFilter(filter, columnKinds(schema), hasTimeColumns(schema));
}

/**
 * `table.mergeInsert(on)` for rows of `schema`. LanceDB's own reads the table's schema first, to
 * convert rows given as plain objects; the store gives Arrow tables, for which it is unused (checked
 * in 0.37's merge.js and arrow.js), and on object storage that read is a request and ~5 ms of every
 * add. Built on LanceDB's native builder where its table handle exposes one, otherwise as LanceDB does.
 */
export function mergeInsertOf(
  table: lancedb.Table,
  on: string[],
  schema: Schema,
): lancedb.MergeInsertBuilder {
  const native = (table as unknown as { inner?: { mergeInsert?: (on: string[]) => unknown } }).inner;
  if (typeof native?.mergeInsert !== "function") return table.mergeInsert(on);
  return new lancedb.MergeInsertBuilder(
    native.mergeInsert(on) as ConstructorParameters<typeof lancedb.MergeInsertBuilder>[0],
    schema,
  );
}

/** Ids per query where a list of ids becomes a predicate, so it never becomes one enormous SQL string. */
const FETCH_CHUNK = 500;

/**
 * LanceDB's nearest rows. A `where` is a prefilter, unless `postfilter` says how many nearest rows
 * to filter (with what ef): then fewer than the limit may come back, up to `candidates` of them
 * (see filtered-search.ts).
 */
export async function searchTable(
  table: lancedb.Table,
  vector: Float32Array,
  options: SearchOptions,
  rowColumns: string[],
  postfilter?: { candidates: number; ef: number },
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
      ...rowColumns,
      ...(options.withVectors ? ["vector"] : []),
    ])
    // Used only when the table has a vector index (see vector-index.ts); flat search ignores them.
    .nprobes(ANN_NPROBES);
  query = postfilter
    ? query.ef(postfilter.ef).limit(postfilter.candidates)
    : query.ef(ANN_EF).refineFactor(ANN_REFINE).limit(options.limit);
  if (options.where) query = query.where(compileWhere(options.where, await table.schema()));
  if (postfilter) query = query.postfilter();
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

/** The documents matching `where` (SQL already compiled), each once, with its times (null where unknown). */
export async function timesMatching(
  table: lancedb.Table,
  where: string | undefined,
  timeColumns: readonly string[],
): Promise<Array<{ id: string } & DocumentTimes>> {
  let query = table.query().select(["id", ...timeColumns]);
  if (where) query = query.where(where);
  const byId = new Map<string, { id: string } & DocumentTimes>();
  // Every chunk of a document carries its times: one row per document is enough.
  for (const row of (await query.toArray()) as Array<{ id: string } & RawTimes>) {
    if (!byId.has(row.id)) byId.set(row.id, { id: row.id, ...timesOf(row) });
  }
  return [...byId.values()];
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
  const schema = await table.schema();
  const columns = [
    "id",
    "text",
    "metadata",
    ...(hasChunkColumns(schema) ? POSITION_COLUMNS : []),
    ...(hasTimeColumns(schema) ? TIME_COLUMNS : []),
  ];
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
  const predicate = compileWhere(selector.where, await table.schema());
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
 * What an upsert of `rows` finds already stored: which of their documents exist, which of them
 * have chunks the new rows do not replace (the new version has fewer chunks), and each stored
 * document's content and times (to keep `created_at`, and `updated_at` when nothing changed).
 * `timeColumns`: the table's time columns (none in a table made before times were kept).
 */
export async function storedChunksOf(
  table: lancedb.Table,
  rows: ChunkToWrite[],
  timeColumns: readonly string[],
): Promise<{ existing: Set<string>; stale: string[]; versions: Map<string, StoredVersion> }> {
  const incoming = new Set(rows.map((row) => chunkKey(row.id, row.chunk ?? 0)));
  const ids = [...new Set(rows.map((row) => row.id))];
  const versions = new Map<string, StoredVersion>();
  const stale = new Set<string>();
  for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
    const stored = (await table
      .query()
      .where(idInList(ids.slice(start, start + FETCH_CHUNK)))
      .select(["id", "chunk", "chunk_start", "text", "metadata", ...timeColumns])
      .toArray()) as Array<RawRow & { chunk: number; chunk_start: number }>;
    for (const row of stored) {
      let version = versions.get(row.id);
      if (!version) {
        version = { chunks: new Map(), times: timesOf(row) };
        versions.set(row.id, version);
      }
      version.chunks.set(row.chunk, { text: row.text, start: row.chunk_start, metadata: row.metadata });
      if (!incoming.has(chunkKey(row.id, row.chunk))) stale.add(row.id);
    }
  }
  return { existing: new Set(versions.keys()), stale: [...stale], versions };
}
