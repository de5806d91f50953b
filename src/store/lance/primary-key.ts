import type * as lancedb from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import { arrow } from "../arrow.js";
import { isAlreadyExists } from "./errors.js";

/**
 * A row's identity, (id, chunk), as one column LanceDB knows as the table's primary key.
 *
 * On object storage there is no lock file: writers on different machines order their commits by
 * LanceDB's conditional PUTs alone, and those only say that two commits do not overwrite each
 * other. Two merge-inserts that both find a new id absent would both insert it (measured here: 3
 * processes x the same 10 new ids gave 7 duplicate rows). A merge-insert on the table's
 * *unenforced primary key* records the keys it inserted in its transaction, and LanceDB refuses
 * (as a retryable conflict) a commit whose inserted keys another commit since its read inserted
 * too; the retry then finds them and updates instead. LanceDB takes a single-column key only, and
 * it must be non-nullable (a nullable one is accepted, then every query fails), so `row_key` is
 * `<chunk>:<id>`: unambiguous, as the chunk is digits and comes before the first colon. A scalar
 * index on `row_key` would take merges down LanceDB's indexed path, which records no inserted keys
 * (the store's merges say `useIndex(false)`; tests/integration/s3-race.test.ts makes one).
 *
 * Local tables keep their lock file (process-lock.ts) and are not migrated. A table on object
 * storage without the column (one written before it existed) gets it on its first write, in two
 * commits, each safe to repeat and to race: `addColumns` fills it from `id` and `chunk` (an
 * expression over non-null columns gives a non-null column), then the key is set. A second machine
 * migrating at once finds the column or the key already there and goes on; a writer that commits
 * between the two commits without the key is this code too, which migrates before every write.
 * A process of an older version cannot write to a migrated table (its rows lack the non-null
 * column) and fails rather than duplicating.
 */

export const KEY_COLUMN = "row_key";
/** The SQL that derives `row_key` from a row's other columns, for the migration. */
const KEY_SQL = "CAST(chunk AS STRING) || ':' || id";
/** How Lance marks the primary-key column in the schema (field metadata). */
const PRIMARY_KEY_METADATA = "lance-schema:unenforced-primary-key:position";

export function rowKey(id: string, chunk: number): string {
  return `${chunk}:${id}`;
}

/** `schema` with the `row_key` column (non-nullable), for tables on object storage. */
export function withKeyColumn(schema: Schema): Schema {
  const { Field, Schema: ArrowSchema, Utf8 } = arrow;
  if (hasKeyColumn(schema)) return schema;
  return new ArrowSchema([...schema.fields, new Field(KEY_COLUMN, new Utf8(), false)], schema.metadata);
}

export function hasKeyColumn(schema: Schema): boolean {
  return schema.fields.some((field) => field.name === KEY_COLUMN);
}

/** Whether `row_key` is the table's primary key, so merge-inserts on it refuse racing inserts. */
export function hasPrimaryKey(schema: Schema): boolean {
  return schema.fields.some((field) => field.name === KEY_COLUMN && field.metadata.has(PRIMARY_KEY_METADATA));
}

/** A table handle and its migration (see TableState.keyed): a reopened table is checked again, once. */
export interface KeyedState {
  table: lancedb.Table;
  keyed?: Promise<void> | undefined;
  /** True once `keyed` settled without error: later writes on this handle make no key commit. */
  keySet?: boolean;
}

/**
 * Makes `row_key` the table's primary key, adding the column first if the table lacks it (see
 * above). Needs the chunk columns (legacy-chunks.ts ensureChunkColumns) to be there. Concurrent
 * calls on one handle share one migration; a failed one is tried again on the next write.
 */
export function ensurePrimaryKey(state: KeyedState): Promise<void> {
  if (!state.keyed) {
    const done = migrate(state.table).then(
      () => {
        if (state.keyed === done) state.keySet = true;
      },
      (error: unknown) => {
        if (state.keyed === done) state.keyed = undefined;
        throw error;
      },
    );
    state.keyed = done;
  }
  return state.keyed;
}

async function migrate(table: lancedb.Table): Promise<void> {
  let schema = await table.schema();
  if (hasPrimaryKey(schema)) return;
  if (!hasKeyColumn(schema)) {
    try {
      await table.addColumns([{ name: KEY_COLUMN, valueSql: KEY_SQL }]);
    } catch (error) {
      // Another machine migrated it first ("already exists", or a conflict with its commit).
      if (!isAlreadyExists(error) && !hasKeyColumn(await table.schema())) throw error;
    }
    schema = await table.schema();
    const field = schema.fields.find((f) => f.name === KEY_COLUMN);
    // A nullable key would break every query once set: refuse to set it (a bug, not the user's).
    if (field?.nullable !== false) throw new Error(`bug: ${KEY_COLUMN} was added nullable`);
  }
  if (hasPrimaryKey(schema)) return;
  try {
    await table.setUnenforcedPrimaryKey(KEY_COLUMN);
  } catch (error) {
    // Another machine set it first: LanceDB says "already set", "cannot be changed once set", or
    // refuses ours as incompatible with theirs. Fine once the table has it. One CI run of two
    // servers creating one collection at once failed with "cannot be changed once set" (from where
    // is not known; 10 runs under load did not repeat it), so the latest version is read once more.
    if (hasPrimaryKey(await table.schema())) return;
    await table.checkoutLatest();
    if (!hasPrimaryKey(await table.schema())) throw error;
  }
}
