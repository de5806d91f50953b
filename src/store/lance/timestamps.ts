import type * as lancedb from "@lancedb/lancedb";
import type { Field, Schema } from "apache-arrow";
import { arrow } from "../arrow.js";
import type { ChunkToWrite, DocumentTimes, Metadata } from "../vector-store.js";
import { isAlreadyExists } from "./errors.js";

/**
 * When each document was first written (`created_at`) and last changed (`updated_at`): nullable
 * timestamp columns (milliseconds, UTC) on every chunk row of the document. Tables made before
 * times were kept lack them: they are added on the next write as nullable columns, so the rows
 * already there read as unknown (null), never as "now", and no stored row is rewritten to add them.
 */
export const TIME_COLUMNS = ["created_at", "updated_at"] as const;

export function timeFields(): Field[] {
  const { Field, TimestampMillisecond } = arrow;
  return TIME_COLUMNS.map((name) => new Field(name, new TimestampMillisecond("UTC"), true));
}

export function hasTimeColumns(schema: Schema): boolean {
  return TIME_COLUMNS.every((name) => schema.fields.some((field) => field.name === name));
}

export interface TimedState {
  table: lancedb.Table;
}

/**
 * The time columns to select: none in a table made before times were kept. Read from the schema
 * every time, not remembered: a `restore` (here or in another process) can bring back a version
 * from before the columns were added.
 */
export async function timeColumns(state: TimedState): Promise<string[]> {
  return hasTimeColumns(await state.table.schema()) ? [...TIME_COLUMNS] : [];
}

/**
 * Adds the time columns to a table made before they existed, as nullable columns (every row
 * there reads as unknown time). One schema commit of its own; only the missing columns. `schema`:
 * the table's, if just read. True when it committed (or tried to).
 */
export async function ensureTimeColumns(state: TimedState, schema?: Schema): Promise<boolean> {
  const current = schema ?? (await state.table.schema());
  if (hasTimeColumns(current)) return false;
  const present = new Set(current.fields.map((field) => field.name));
  const missing = timeFields().filter((field) => !present.has(field.name));
  try {
    await state.table.addColumns(missing);
  } catch (error) {
    // Another process added them first.
    if (!isAlreadyExists(error)) throw error;
  }
  return true;
}

/** A stored row's time columns, as LanceDB returns them (milliseconds), or absent. */
export interface RawTimes {
  created_at?: number | null;
  updated_at?: number | null;
}

/**
 * The last time each conversion below made, for the next: the rows of one write share one clock
 * reading, and a batched ingest converts each row's times on the way in and again for the cache.
 */
const lastIso = { ms: Number.NaN, iso: "" };
const lastMs = { iso: "", ms: 0 };

function iso(ms: number | null | undefined): string | null {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return null;
  if (ms !== lastIso.ms) {
    lastIso.iso = new Date(ms).toISOString();
    lastIso.ms = ms;
  }
  return lastIso.iso;
}

export function timesOf(row: RawTimes): DocumentTimes {
  return { createdAt: iso(row.created_at), updatedAt: iso(row.updated_at) };
}

function ms(value: string | null): number | null {
  if (value === null) return null;
  if (value === lastMs.iso) return lastMs.ms;
  const parsed = Date.parse(value);
  if (!Number.isFinite(parsed)) throw new Error(`bug: unparsed time reached the store: ${value}`);
  lastMs.iso = value;
  lastMs.ms = parsed;
  return parsed;
}

/** The columns a row to write carries for its times. */
export function timeRecord(times: DocumentTimes): { created_at: number | null; updated_at: number | null } {
  return { created_at: ms(times.createdAt), updated_at: ms(times.updatedAt) };
}

/** What an upsert finds stored of one document: its chunks' content and its times. */
export interface StoredVersion {
  chunks: Map<number, { text: string; start: number; metadata: string }>;
  times: DocumentTimes;
}

/** JSON with keys in one order, so metadata given in another key order is the same metadata. */
export function canonicalMetadata(metadata: Metadata): string {
  return JSON.stringify(Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : 1))));
}

function canonicalStored(json: string): string {
  return canonicalMetadata(JSON.parse(json) as Metadata);
}

/** True when `rows` (one document's new chunks) hold exactly what is stored: text, positions and metadata. */
function sameContent(rows: ChunkToWrite[], stored: StoredVersion): boolean {
  if (rows.length !== stored.chunks.size) return false;
  return rows.every((row) => {
    const chunk = stored.chunks.get(row.chunk ?? 0);
    return (
      chunk !== undefined &&
      chunk.text === row.text &&
      chunk.start === (row.start ?? 0) &&
      canonicalStored(chunk.metadata) === canonicalMetadata(row.metadata)
    );
  });
}

/**
 * Each document's times after this write, by id: times given with the rows (an import) are kept
 * as they are; a new document is created and updated `now`; a stored one keeps its `created_at`
 * (unknown stays unknown) and gets `updated_at` = `now` only if its text or metadata changed.
 */
export function resolveTimes(
  rows: ChunkToWrite[],
  stored: ReadonlyMap<string, StoredVersion>,
  now: number,
): Map<string, DocumentTimes> {
  const byId = new Map<string, ChunkToWrite[]>();
  for (const row of rows) {
    const list = byId.get(row.id);
    if (list) list.push(row);
    else byId.set(row.id, [row]);
  }
  const stamp = new Date(now).toISOString();
  const times = new Map<string, DocumentTimes>();
  for (const [id, chunks] of byId) {
    const given = chunks[0]?.times;
    const before = stored.get(id);
    if (given) times.set(id, given);
    else if (!before) times.set(id, { createdAt: stamp, updatedAt: stamp });
    else
      times.set(id, {
        createdAt: before.times.createdAt,
        updatedAt: sameContent(chunks, before) ? before.times.updatedAt : stamp,
      });
  }
  return times;
}
