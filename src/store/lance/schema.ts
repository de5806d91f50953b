import type * as lancedb from "@lancedb/lancedb";
import type { Field, Schema } from "apache-arrow";
import { MemoryError } from "../../errors.js";
import { LIMITS } from "../../limits.js";
import type { ModelRecord } from "../../model-record.js";
import { arrow } from "../arrow.js";
import { rowsToArrow } from "../arrow-batch.js";
import { type ColumnKind, metadataColumn, quoteIdentifier } from "../sql.js";
import type { ChunkToWrite, Metadata, MetadataValue, StoredChunk } from "../vector-store.js";
import { isAlreadyExists } from "./errors.js";
import { KEY_COLUMN, rowKey } from "./primary-key.js";
import { type RawTimes, timeFields, timeRecord, timesOf } from "./timestamps.js";

/**
 * A collection's table: `id`, `text`, `vector` (fixed-size float32), `metadata` (the JSON the
 * caller gave, returned exactly), `chunk` and `chunk_start`, plus one typed column `m_<key>` per
 * metadata key so filters run in the database. The model record lives in the schema's metadata.
 */

/** Schema-metadata key under which each table records the model its vectors came from. */
const MODEL_KEY = "vector_memory.model";
const METADATA_PREFIX = "m_";

export function tableSchema(model: ModelRecord, kinds: Map<string, ColumnKind>): Schema {
  const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = arrow;
  const fields = [
    new Field("id", new Utf8(), false),
    new Field("text", new Utf8(), false),
    new Field("vector", new FixedSizeList(model.dimensions, new Field("item", new Float32(), true)), false),
    new Field("metadata", new Utf8(), false),
    new Field("chunk", new Int32(), false),
    new Field("chunk_start", new Int32(), false),
    ...timeFields(),
    ...[...kinds].map(([key, kind]) => metadataField(key, kind)),
  ];
  return new Schema(fields, new Map([[MODEL_KEY, JSON.stringify(model)]]));
}

export function readModelRecord(schema: Schema): ModelRecord | undefined {
  const raw = schema.metadata.get(MODEL_KEY);
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as Partial<ModelRecord>;
  if (
    typeof parsed.model !== "string" ||
    typeof parsed.dtype !== "string" ||
    typeof parsed.dimensions !== "number"
  ) {
    return undefined;
  }
  return { model: parsed.model, dtype: parsed.dtype, dimensions: parsed.dimensions };
}

function plural(kind: ColumnKind): string {
  return kind === "string[]" ? "lists of strings" : `${kind}s`;
}

function kindOfValue(value: MetadataValue): ColumnKind {
  if (Array.isArray(value)) return "string[]";
  return typeof value as "string" | "number" | "boolean";
}

/** The column kind each metadata key needs for these rows; conflicting rows in one batch are refused. */
export function metadataKinds(rows: ChunkToWrite[]): Map<string, ColumnKind> {
  const kinds = new Map<string, ColumnKind>();
  for (const row of rows) {
    for (const [key, value] of Object.entries(row.metadata)) {
      const kind = kindOfValue(value);
      const seen = kinds.get(key);
      if (seen !== undefined && seen !== kind) {
        throw new MemoryError(
          "metadata_type_conflict",
          `Metadata key "${key}" is given both ${plural(seen)} and ${plural(kind)} in one call. Use one type per key.`,
        );
      }
      kinds.set(key, kind);
    }
  }
  return kinds;
}

function metadataField(key: string, kind: ColumnKind): Field {
  const { Field, Float64, Int8, List, Utf8 } = arrow;
  const name = metadataColumn(key);
  quoteIdentifier(name);
  switch (kind) {
    case "string":
      return new Field(name, new Utf8(), true);
    case "number":
      return new Field(name, new Float64(), true);
    case "boolean":
      // Int8 0/1, not Bool: arrow-js writes an all-null Bool column with an empty data buffer,
      // which LanceDB (arrow-rs) rejects, so a batch where no document has the key would fail.
      return new Field(name, new Int8(), true);
    case "string[]":
      return new Field(name, new List(new Field("item", new Utf8(), true)), true);
  }
}

function kindOfField(field: Field): ColumnKind | undefined {
  const { Type } = arrow;
  switch (field.type.typeId) {
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Float:
      return "number";
    case Type.Int:
      return field.type.bitWidth === 8 ? "boolean" : "number";
    case Type.Bool:
      return "boolean";
    case Type.List:
      return "string[]";
    default:
      return undefined;
  }
}

export function columnKinds(schema: Schema): Map<string, ColumnKind> {
  const kinds = new Map<string, ColumnKind>();
  for (const field of schema.fields) {
    if (!field.name.startsWith(METADATA_PREFIX)) continue;
    const kind = kindOfField(field);
    if (kind) kinds.set(field.name.slice(METADATA_PREFIX.length), kind);
  }
  return kinds;
}

/** The rows as one Arrow table of the table's schema (see rowsToArrow); each row's `times` are what is stored. */
export function arrowRows(schema: Schema, rows: ChunkToWrite[], columns: Map<string, ColumnKind>) {
  return rowsToArrow(schema, rows, (row) => scalarColumns(row, columns));
}

/** A row this store writes as LanceDB returns it afterwards: storedChunk of what scalarColumns writes. */
export function writtenChunk(row: Omit<ChunkToWrite, "vector">): StoredChunk {
  return storedChunk(scalarColumns(row, new Map()) as unknown as RawRow);
}

/** Every metadata column is written, null where the document lacks the key, so a replaced row keeps no stale values. */
function scalarColumns(
  row: Omit<ChunkToWrite, "vector">,
  columns: Map<string, ColumnKind>,
): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: row.id,
    text: row.text,
    metadata: JSON.stringify(row.metadata),
    chunk: row.chunk ?? 0,
    chunk_start: row.start ?? 0,
    ...timeRecord(row.times ?? { createdAt: null, updatedAt: null }),
    // Written only where the schema has the column (tables on object storage, primary-key.ts).
    [KEY_COLUMN]: rowKey(row.id, row.chunk ?? 0),
  };
  for (const key of columns.keys()) {
    // Own keys only: a document without `constructor` must not get Object.prototype's one.
    const value = Object.hasOwn(row.metadata, key) ? row.metadata[key] : undefined;
    // -0 becomes 0: Arrow orders -0.0 below 0.0, so {n: 0} would not match it (and JSON returns 0).
    record[metadataColumn(key)] =
      typeof value === "boolean" ? Number(value) : typeof value === "number" ? value + 0 : (value ?? null);
  }
  return record;
}

// Chunks: a document longer than the model's window is stored as several rows with its id.

/** Where each row sits in its document; tables made before chunking lack them (chunk 0 at 0). */
export const POSITION_COLUMNS = ["chunk", "chunk_start"] as const;

export function positionOf(row: RawRow): { chunk: number; start: number } {
  return { chunk: row.chunk ?? 0, start: row.chunk_start ?? 0 };
}

/** A row as the store hands it out: its metadata parsed back to what the caller gave, its position. */
export function storedChunk(row: RawRow): StoredChunk {
  return {
    id: row.id,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Metadata,
    ...positionOf(row),
    ...timesOf(row),
  };
}

/** A row as LanceDB returns it. */
export interface RawRow extends RawTimes {
  id: string;
  text: string;
  metadata: string;
  /** Absent in tables made before chunking. */
  chunk?: number;
  chunk_start?: number;
}

/** Whether the table has the chunk position columns (tables made before chunking lack them). */
export function hasChunkColumns(schema: Schema): boolean {
  return schema.fields.some((field) => field.name === "chunk");
}

/**
 * Adds columns for new metadata keys; refuses a key whose values change type (before anything is
 * written). `schema`: the table's, if just read. `added`: whether it committed (or tried to).
 */
export async function ensureColumns(
  collection: string,
  table: lancedb.Table,
  kinds: Map<string, ColumnKind>,
  schema?: Schema,
): Promise<{ columns: Map<string, ColumnKind>; added: boolean }> {
  const existing = columnKinds(schema ?? (await table.schema()));
  const added: Field[] = [];
  for (const [key, kind] of kinds) {
    const current = existing.get(key);
    if (current === undefined) {
      added.push(metadataField(key, kind));
    } else if (current !== kind) {
      throw new MemoryError(
        "metadata_type_conflict",
        `Metadata key "${key}" holds ${plural(current)} in collection "${collection}", but a document gives it ${plural(kind)}. Use the same type for a key in one collection, or another key name.`,
      );
    }
  }
  if (added.length === 0) return { columns: existing, added: false };
  if (existing.size + added.length > LIMITS.metadataKeysPerCollection) {
    throw new MemoryError(
      "limit_exceeded",
      `Collection "${collection}" would have more than ${LIMITS.metadataKeysPerCollection} distinct metadata keys; reuse existing keys (known: ${[...existing.keys()].slice(0, 20).join(", ")}).`,
    );
  }
  try {
    await table.addColumns(added);
  } catch (error) {
    // Another process (one without our lock, e.g. an older version) added it first: use theirs.
    if (!isAlreadyExists(error)) throw error;
    return { columns: (await ensureColumns(collection, table, kinds)).columns, added: true };
  }
  for (const field of added)
    existing.set(field.name.slice(METADATA_PREFIX.length), kindOfField(field) as ColumnKind);
  return { columns: existing, added: true };
}
