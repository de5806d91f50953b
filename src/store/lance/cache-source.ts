import type * as lancedb from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import { idInList, metadataColumn } from "../sql.js";
import type { CacheSource, VectorBatch } from "../vector-cache.js";
import type { FetchedChunk, Metadata } from "../vector-store.js";
import { rowLocations } from "./queries.js";
import { columnKinds, hasChunkColumns, type RawRow, storedChunk } from "./schema.js";
import { hasTimeColumns, TIME_COLUMNS } from "./timestamps.js";

/**
 * A LanceDB table as the vector cache reads it, for one search. `positionColumns`: the table's
 * chunk-position columns (none in a table made before chunking); its time columns are read when
 * it has them. `countRows`: offer the row count for the cache's version check. `publishing`: see
 * CacheSource.publishing. `rows`: the cache load reads every row's text, metadata, position and times with
 * the vectors, so that searches need not read hits back (on object storage each read back is
 * several ranged GETs).
 */
export function cacheSource(
  table: lancedb.Table,
  positionColumns: readonly string[],
  options: { rows?: boolean; countRows?: boolean; publishing?: () => Promise<void> | undefined } = {},
): CacheSource {
  let schema: Promise<Schema> | undefined;
  const schemaOnce = () => {
    schema ??= table.schema();
    return schema;
  };
  const columns = async (withVectors: boolean) => [
    "id",
    "text",
    "metadata",
    ...positionColumns,
    ...(hasTimeColumns(await schemaOnce()) ? TIME_COLUMNS : []),
    ...(withVectors ? ["vector"] : []),
  ];
  return {
    version: () => table.version(),
    ...(options.countRows ? { rowCount: () => table.countRows() } : {}),
    ...(options.publishing ? { publishing: options.publishing } : {}),
    async shape() {
      const rows = await table.countRows();
      return { rows, dim: vectorDimensions(await schemaOnce()) };
    },
    vectors: async function* () {
      const dim = vectorDimensions(await schemaOnce());
      // The typed metadata columns too: filters are evaluated on them, as LanceDB would.
      const keys = [...columnKinds(await schemaOnce())].map(([key, kind]) => ({
        key,
        kind,
        column: metadataColumn(key),
      }));
      const rowColumns = options.rows
        ? (await columns(false)).filter((c) => c !== "id" && c !== "chunk")
        : [];
      const select = [
        ...(hasChunkColumns(await schemaOnce()) ? ["id", "chunk", "vector"] : ["id", "vector"]),
        ...keys.map((k) => k.column),
        ...rowColumns,
      ];
      for await (const batch of table.query().select(select).withRowId()) {
        const ids = batch.getChild("id");
        const chunks = batch.getChild("chunk");
        const rowIds = batch.getChild("_rowid");
        const data = batch.getChild("vector")?.data[0];
        const child = data?.children[0];
        const values = child?.values as Float32Array | undefined;
        if (!ids || !rowIds || !data || !child || !values) throw new Error("bug: unexpected batch shape");
        const metadataColumns = keys.map(({ key, kind }) => {
          const column = batch.getChild(metadataColumn(key));
          if (!column) throw new Error("bug: unexpected batch shape");
          return { key, kind, column };
        });
        const rowValues = rowColumns.map((name) => {
          const column = batch.getChild(name);
          if (!column) throw new Error("bug: unexpected batch shape");
          return { name, column };
        });
        const rows: VectorBatch = {
          size: batch.numRows,
          id: (i) => ids.get(i) as string,
          chunk: (i) => (chunks?.get(i) as number | null) ?? 0,
          rowId: (i) => rowIds.get(i) as bigint,
          vector: (i) => {
            const start = child.offset + (data.offset + i) * dim;
            return values.subarray(start, start + dim);
          },
          fields: (i) => {
            const fields: Metadata = {};
            for (const { key, kind, column } of metadataColumns) {
              const value: unknown = column.get(i);
              if (value === null || value === undefined) continue;
              if (kind === "string[]") fields[key] = Array.from(value as Iterable<string>);
              else if (kind === "boolean") fields[key] = Number(value) === 1;
              else if (kind === "number") fields[key] = Number(value);
              else fields[key] = String(value);
            }
            return fields;
          },
          ...(options.rows
            ? {
                row: (i: number) => {
                  const raw: Record<string, unknown> = { id: ids.get(i), chunk: chunks?.get(i) ?? undefined };
                  for (const { name, column } of rowValues) raw[name] = column.get(i);
                  return storedChunk(raw as unknown as RawRow);
                },
              }
            : {}),
        };
        yield rows;
      }
    },
    async rowsAt(rowIds, withVectors) {
      return fetched(
        await table
          .takeRowIds(rowIds)
          .select(await columns(withVectors))
          .toArray(),
      );
    },
    locations: () => rowLocations(table),
    firstTexts: async function* () {
      const chunked = hasChunkColumns(await schemaOnce());
      const query = table.query().select(["id", "text"]);
      for await (const batch of chunked ? query.where("chunk = 0") : query) {
        const ids = batch.getChild("id");
        const texts = batch.getChild("text");
        if (!ids || !texts) throw new Error("bug: unexpected batch shape");
        yield { size: batch.numRows, id: (i) => ids.get(i) as string, text: (i) => texts.get(i) as string };
      }
    },
    ids: async function* () {
      for await (const batch of table.query().select(["id"])) {
        const ids = batch.getChild("id");
        if (!ids) throw new Error("bug: unexpected batch shape");
        yield { size: batch.numRows, id: (i) => ids.get(i) as string };
      }
    },
    async rowsOf(ids, withVectors) {
      return fetched(
        await table
          .query()
          .where(idInList(ids))
          .select(await columns(withVectors))
          .toArray(),
      );
    },
  };
}

function vectorDimensions(schema: Schema): number {
  const field = schema.fields.find((f) => f.name === "vector");
  const listSize = (field?.type as { listSize?: number } | undefined)?.listSize;
  return typeof listSize === "number" ? listSize : 0;
}

/** Rows as the store hands them out (storedChunk), with their vectors when selected. */
function fetched(rows: unknown[]): FetchedChunk[] {
  return (rows as Array<RawRow & { vector?: Iterable<number> | null }>).map((row) => ({
    ...storedChunk(row),
    ...(row.vector ? { vector: Float32Array.from(row.vector) } : {}),
  }));
}
