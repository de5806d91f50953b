import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type * as lancedb from "@lancedb/lancedb";
import { MemoryError } from "../../errors.js";
import type { CollectionVersion, RestorePlan } from "../vector-store.js";
import { hasChunkColumns } from "./schema.js";
import { hasTimeColumns, TIME_COLUMNS, timesOf } from "./timestamps.js";

/**
 * A collection's history: the versions LanceDB keeps of its live table (every commit makes one;
 * compaction removes the old ones past the retention window, see compaction.ts), and restoring
 * one as a new version.
 */

/** Bytes of a local table's directory (data, indexes, old versions); undefined for object storage. */
export async function tableBytes(dbPath: string, table: string): Promise<number | undefined> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dbPath)) return undefined;
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else total += (await stat(full).catch(() => ({ size: 0 }))).size;
    }
  };
  await walk(path.join(dbPath, `${table}.lance`));
  return total;
}

/** Every kept version, oldest first, with what LanceDB's statistics say changed (rows are chunks). */
export async function listVersions(table: lancedb.Table): Promise<CollectionVersion[]> {
  const versions = await table.listVersions();
  let previous: { rows: number; fragments: number } | undefined;
  return versions.map((v) => {
    const rows = Number(v.metadata.total_rows ?? Number.NaN);
    const fragments = Number(v.metadata.total_fragments ?? Number.NaN);
    const change = previous === undefined ? rows : rows - previous.rows;
    const operation =
      previous === undefined
        ? "create"
        : change > 0
          ? "add"
          : change < 0
            ? "delete"
            : fragments < previous.fragments
              ? "compact"
              : "update";
    previous = { rows, fragments };
    return {
      version: v.version,
      time: v.timestamp.toISOString(),
      operation,
      rows,
      rowsChanged: change,
      bytes: Number(v.metadata.total_files_size ?? 0),
    };
  });
}

/** The newest kept version at or before `at` (ms), or the version asked for, checked to be kept. */
export function pickVersion(
  versions: CollectionVersion[],
  target: { version: number } | { at: number },
): number {
  const known = versions.map((v) => v.version);
  if ("version" in target) {
    if (!known.includes(target.version)) {
      throw new MemoryError(
        "invalid_input",
        `Version ${target.version} is not kept (kept: ${known.length > 0 ? `${known[0]}-${known.at(-1)}` : "none"}); run \`history\` to see them. Old versions are removed at compaction once past the retention window.`,
      );
    }
    return target.version;
  }
  const before = versions.filter((v) => Date.parse(v.time) <= target.at).at(-1);
  if (!before) {
    throw new MemoryError(
      "invalid_input",
      `No kept version is as old as ${new Date(target.at).toISOString()}; the oldest is ${versions[0]?.time ?? "none"}.`,
    );
  }
  return before.version;
}

/** Each document's id -> its text fingerprint and updated_at, at the table's checked-out version. */
async function snapshot(table: lancedb.Table): Promise<Map<string, string>> {
  const schema = await table.schema();
  const columns = ["id", "text", "metadata", ...(hasChunkColumns(schema) ? ["chunk"] : [])];
  if (hasTimeColumns(schema)) columns.push(...TIME_COLUMNS);
  const docs = new Map<string, string[]>();
  for (const row of (await table.query().select(columns).toArray()) as Array<{
    id: string;
    text: string;
    metadata: string;
    chunk?: number;
    created_at?: number | null;
    updated_at?: number | null;
  }>) {
    const parts = docs.get(row.id) ?? [];
    parts.push(JSON.stringify([row.chunk ?? 0, row.text, row.metadata, timesOf(row).updatedAt]));
    docs.set(row.id, parts);
  }
  return new Map([...docs].map(([id, parts]) => [id, parts.sort().join("\n")]));
}

/** What restoring `version` would change, compared with the latest version (read on another handle). */
export async function planRestore(
  db: lancedb.Connection,
  name: string,
  version: number,
): Promise<RestorePlan> {
  const [latest, old] = await Promise.all([db.openTable(name), db.openTable(name)]);
  try {
    await old.checkout(version);
    const [now, then] = await Promise.all([snapshot(latest), snapshot(old)]);
    const back = [...then.keys()].filter((id) => !now.has(id)).sort();
    const gone = [...now.keys()].filter((id) => !then.has(id)).sort();
    const changed = [...then.keys()].filter((id) => now.has(id) && now.get(id) !== then.get(id)).sort();
    return { version, from: await latest.version(), documents: then.size, back, gone, changed };
  } finally {
    latest.close();
    old.close();
  }
}

/** Makes `version` the latest again, as a new version (LanceDB restore: one commit, itself undoable). */
export async function restoreVersion(db: lancedb.Connection, name: string, version: number): Promise<number> {
  const handle = await db.openTable(name);
  try {
    await handle.checkout(version);
    await handle.restore();
    return await handle.version();
  } finally {
    handle.close();
  }
}
