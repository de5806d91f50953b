import { MemoryError } from "../errors.js";
import { FILTER_HELP, type Filter, type Scalar } from "../filter.js";
import { METADATA_KEY_PATTERN } from "../limits.js";

/**
 * The only place where SQL text is made. Values are always literals escaped here,
 * identifiers are always validated and quoted here; nothing else concatenates SQL.
 */

export type ColumnKind = "string" | "number" | "boolean" | "string[]";

export function sqlString(value: string): string {
  // DataFusion string literals: '' is the only escape; backslashes are literal.
  if (value.includes("\u0000"))
    throw new MemoryError("invalid_input", "Text values must not contain NUL characters.");
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlLiteral(value: Scalar): string {
  if (typeof value === "string") return sqlString(value);
  // Booleans are stored as Int8 0/1 (see the store's metadataField).
  if (typeof value === "boolean") return value ? "1" : "0";
  if (!Number.isFinite(value)) throw new MemoryError("invalid_input", "Numbers must be finite.");
  // Always a float literal, so integer-looking values compare against DOUBLE columns the same way.
  return Number.isInteger(value) && Math.abs(value) < 1e15 ? `${value}.0` : String(value);
}

export function metadataColumn(key: string): string {
  if (!METADATA_KEY_PATTERN.test(key)) throw new Error(`bug: unvalidated metadata key reached SQL: ${key}`);
  return `m_${key}`;
}

export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bug: unsafe identifier: ${name}`);
  return `\`${name}\``;
}

export function idInList(ids: string[]): string {
  return `${quoteIdentifier("id")} IN (${ids.map(sqlString).join(", ")})`;
}

/** Rows whose `text` is a prefix of `text` (a whole document's text begins with its first chunk's). */
export function textIsPrefixOf(text: string): string {
  return `starts_with(${sqlString(text)}, ${quoteIdentifier("text")})`;
}

const COMPARE_SQL = { $eq: "=", $ne: "<>", $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" } as const;

function kindOf(value: Scalar): ColumnKind {
  return typeof value as "string" | "number" | "boolean";
}

function mismatch(key: string, column: ColumnKind, value: Scalar): MemoryError {
  const what = column === "string[]" ? "lists of strings" : `${column}s`;
  return new MemoryError(
    "invalid_filter",
    `Invalid where filter: metadata key "${key}" holds ${what} in this collection, but the filter compares it with ${kindOf(value)} ${JSON.stringify(value)}. ${FILTER_HELP}`,
  );
}

/**
 * Compiles a filter against the collection's metadata columns. A condition on a key that no
 * document has matches nothing; a condition only matches documents that have the key.
 * `timed`: the table has the time columns; without them (a table made before times were kept,
 * not written since) every document's time is unknown, and a condition on it matches nothing.
 */
export function compileFilter(
  filter: Filter,
  columns: ReadonlyMap<string, ColumnKind>,
  timed: boolean,
): string {
  switch (filter.kind) {
    case "and":
    case "or": {
      const joiner = filter.kind === "and" ? " AND " : " OR ";
      return `(${filter.filters.map((f) => compileFilter(f, columns, timed)).join(joiner)})`;
    }
    case "time": {
      if (!timed) return "FALSE";
      if (!Number.isSafeInteger(filter.at)) throw new Error(`bug: unparsed time reached SQL: ${filter.at}`);
      // A NULL (unknown) time compares as NULL: never a match, whatever the operator.
      return `${quoteIdentifier(filter.key)} ${COMPARE_SQL[filter.op]} to_timestamp_millis(${filter.at})`;
    }
    case "compare": {
      const kind = columns.get(filter.key);
      if (kind === undefined) return "FALSE";
      const column = quoteIdentifier(metadataColumn(filter.key));
      if (kind === "string[]") {
        if (typeof filter.value !== "string") throw mismatch(filter.key, kind, filter.value);
        if (filter.op === "$eq") return `array_has(${column}, ${sqlString(filter.value)})`;
        if (filter.op === "$ne")
          return `(${column} IS NOT NULL AND NOT array_has(${column}, ${sqlString(filter.value)}))`;
        throw new MemoryError(
          "invalid_filter",
          `Invalid where filter: "${filter.key}" holds lists of strings; use $eq/$ne (contains / does not contain) or $in/$nin. ${FILTER_HELP}`,
        );
      }
      if (kindOf(filter.value) !== kind) throw mismatch(filter.key, kind, filter.value);
      return `${column} ${COMPARE_SQL[filter.op]} ${sqlLiteral(filter.value)}`;
    }
    case "set": {
      const kind = columns.get(filter.key);
      if (kind === undefined) return "FALSE";
      const column = quoteIdentifier(metadataColumn(filter.key));
      const first = filter.values[0] as Scalar;
      const expected = kind === "string[]" ? "string" : kind;
      if (kindOf(first) !== expected) throw mismatch(filter.key, kind, first);
      const literals = filter.values.map(sqlLiteral).join(", ");
      if (kind === "string[]") {
        const any = `array_has_any(${column}, make_array(${literals}))`;
        return filter.op === "$in" ? any : `(${column} IS NOT NULL AND NOT ${any})`;
      }
      return `${column} ${filter.op === "$in" ? "IN" : "NOT IN"} (${literals})`;
    }
  }
}
