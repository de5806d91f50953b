import type { ComparisonOp, Filter, Scalar } from "../filter.js";
import type { ColumnKind } from "./sql.js";
import type { Metadata, MetadataValue } from "./vector-store.js";

/**
 * A filter evaluated in memory, against one row's typed metadata columns, with exactly the meaning
 * `compileFilter` (sql.ts) gives it in LanceDB, so the vector cache can answer filtered searches:
 *
 * - a condition on a key with no column matches nothing (`FALSE`);
 * - a row without the key holds NULL there, and a comparison with NULL is not true, `$ne` and
 *   `$nin` included; the SQL never negates a compound expression, so NULL can be taken as false;
 * - strings compare as LanceDB's UTF-8 bytes do, by code point (not JS's UTF-16 units);
 * - a list of strings: `$eq`/`$ne` are contains / does not contain, `$in`/`$nin` any / none of.
 *
 * Type mismatches are not checked here: the store compiles the filter first, which refuses them.
 * A row is given as its column values by key, null ones left out (see `filterFields`).
 */
export function compileMatcher(filter: Filter, kinds: ReadonlyMap<string, ColumnKind>): RowMatcher {
  switch (filter.kind) {
    case "and": {
      const parts = filter.filters.map((f) => compileMatcher(f, kinds));
      return (fields) => parts.every((part) => part(fields));
    }
    case "or": {
      const parts = filter.filters.map((f) => compileMatcher(f, kinds));
      return (fields) => parts.some((part) => part(fields));
    }
    case "compare": {
      const { key, op, value: literal } = filter;
      if (!kinds.has(key)) return () => false;
      if (kinds.get(key) === "string[]") {
        if (op !== "$eq" && op !== "$ne") return () => false;
        const want = op === "$eq";
        return (fields) => {
          const value = fields[key];
          return Array.isArray(value) && value.includes(literal as string) === want;
        };
      }
      const test = ORDER_TESTS[op];
      return (fields) => {
        const value = fields[key];
        return value !== undefined && !Array.isArray(value) && test(compare(value, literal));
      };
    }
    case "time":
      throw new Error("bug: a time condition reached the in-memory matcher (see needsTimes)");
    case "set": {
      const { key, op, values } = filter;
      if (!kinds.has(key)) return () => false;
      const want = op === "$in";
      if (kinds.get(key) === "string[]") {
        return (fields) => {
          const value = fields[key];
          return Array.isArray(value) && value.some((item) => values.includes(item)) === want;
        };
      }
      return (fields) => {
        const value = fields[key];
        if (value === undefined || Array.isArray(value)) return false;
        return values.some((candidate) => compare(value, candidate) === 0) === want;
      };
    }
  }
}

export type RowMatcher = (fields: Metadata) => boolean;

/** Whether the filter has a condition on created_at / updated_at, which the cached rows do not hold. */
export function needsTimes(filter: Filter): boolean {
  if (filter.kind === "time") return true;
  return filter.kind === "and" || filter.kind === "or" ? filter.filters.some(needsTimes) : false;
}

const ORDER_TESTS: Record<ComparisonOp, (order: number) => boolean> = {
  $eq: (order) => order === 0,
  $ne: (order) => order !== 0,
  $gt: (order) => order > 0,
  $gte: (order) => order >= 0,
  $lt: (order) => order < 0,
  $lte: (order) => order <= 0,
};

/**
 * A row's values as its typed metadata columns hold them (see lance/schema.ts): own keys only,
 * booleans as they are (the column's 0/1 compares alike), -0 as 0.
 */
export function filterFields(metadata: Metadata): Metadata {
  const fields: Metadata = {};
  for (const key of Object.keys(metadata)) {
    const value = metadata[key] as MetadataValue;
    fields[key] = typeof value === "number" ? value + 0 : value;
  }
  return fields;
}

function compare(stored: Scalar, literal: Scalar): number {
  if (typeof stored === "string" && typeof literal === "string") return compareCodePoints(stored, literal);
  // Numbers with numbers, booleans with booleans (the store refused other pairs).
  const a = Number(stored);
  const b = Number(literal);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** String order by Unicode code point, as UTF-8 byte order is; JS's `<` orders UTF-16 code units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after 0xE000-0xFFFF.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
