import { MemoryError } from "./errors.js";
import { LIMITS, METADATA_KEY_PATTERN } from "./limits.js";
import { parseTime, TIME_FORMS } from "./time.js";

/**
 * The metadata filter language (Chroma's `where`): `{key: value}`, `{key: {$op: value}}`,
 * `{$and: [...]}`, `{$or: [...]}`. Parsed once into this tree; the store compiles it to SQL.
 */
export type Scalar = string | number | boolean;
export type ComparisonOp = "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte";
export type SetOp = "$in" | "$nin";

/** The documents' own times, filtered like metadata keys; no metadata key may take these names. */
export const TIME_KEYS = ["created_at", "updated_at"] as const;
export type TimeKey = (typeof TIME_KEYS)[number];

export function isTimeKey(key: string): key is TimeKey {
  return (TIME_KEYS as readonly string[]).includes(key);
}

export type Filter =
  | { kind: "compare"; key: string; op: ComparisonOp; value: Scalar }
  /** On a document's time; `at` in ms since the epoch. Documents of unknown time never match. */
  | { kind: "time"; key: TimeKey; op: ComparisonOp; at: number }
  | { kind: "set"; key: string; op: SetOp; values: Scalar[] }
  | { kind: "and" | "or"; filters: Filter[] };

const COMPARISON_OPS = new Set<string>(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]);
const SET_OPS = new Set<string>(["$in", "$nin"]);
const ORDER_OPS = new Set<string>(["$gt", "$gte", "$lt", "$lte"]);

export const FILTER_HELP =
  'Examples: {"topic": "billing"}, {"year": {"$gte": 2020}}, {"tags": {"$in": ["a", "b"]}}, ' +
  '{"$or": [{"source": "email"}, {"priority": {"$gt": 2}}]}, {"updated_at": {"$gte": "2026-11-01T00:00:00Z"}}. ' +
  "Operators: $eq $ne $gt $gte $lt $lte $in $nin $and $or. created_at and updated_at are the documents' own times (ISO 8601; $eq $ne $gt $gte $lt $lte).";

function invalid(message: string): MemoryError {
  return new MemoryError("invalid_filter", `Invalid where filter: ${message}. ${FILTER_HELP}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** Returns undefined for an empty filter (`{}`), which matches everything. */
export function parseWhere(where: Record<string, unknown>): Filter | undefined {
  const counter = { conditions: 0 };
  const keys = Object.keys(where);
  if (keys.length === 0) return undefined;
  return parseObject(where, 1, counter);
}

function parseObject(obj: Record<string, unknown>, depth: number, counter: { conditions: number }): Filter {
  if (depth > LIMITS.filterDepth) throw invalid(`nesting deeper than ${LIMITS.filterDepth} levels`);
  const entries = Object.entries(obj);
  if (entries.length === 0)
    throw invalid("an empty object inside $and/$or matches nothing useful; remove it");
  const parts = entries.map(([key, value]) => parseEntry(key, value, depth, counter));
  return parts.length === 1 ? (parts[0] as Filter) : { kind: "and", filters: parts };
}

function parseEntry(key: string, value: unknown, depth: number, counter: { conditions: number }): Filter {
  if (key === "$and" || key === "$or") {
    if (!Array.isArray(value) || value.length === 0)
      throw invalid(`${key} takes a non-empty array of filters`);
    const filters = value.map((item) => {
      if (!isPlainObject(item)) throw invalid(`${key} items must be objects, got ${describe(item)}`);
      return parseObject(item, depth + 1, counter);
    });
    return filters.length === 1 ? (filters[0] as Filter) : { kind: key === "$and" ? "and" : "or", filters };
  }
  if (key.startsWith("$"))
    throw invalid(`unknown operator ${JSON.stringify(key.slice(0, 40))} at the top level`);
  if (!METADATA_KEY_PATTERN.test(key)) {
    throw invalid(
      `metadata key ${JSON.stringify(key.slice(0, 80))} is not valid (letters, digits and _, starting with a letter or _, at most 64)`,
    );
  }
  if (isPlainObject(value)) {
    const ops = Object.entries(value);
    if (ops.length === 0) throw invalid(`the condition on "${key}" is empty`);
    const conditions = ops.map(([op, operand]) => parseCondition(key, op, operand, counter));
    return conditions.length === 1 ? (conditions[0] as Filter) : { kind: "and", filters: conditions };
  }
  return parseCondition(key, "$eq", value, counter);
}

function parseCondition(key: string, op: string, operand: unknown, counter: { conditions: number }): Filter {
  counter.conditions += 1;
  if (counter.conditions > LIMITS.filterConditions) {
    throw invalid(`more than ${LIMITS.filterConditions} conditions`);
  }
  if (isTimeKey(key)) return parseTimeCondition(key, op, operand);
  if (COMPARISON_OPS.has(op)) {
    const value = parseScalar(key, op, operand);
    if (ORDER_OPS.has(op) && typeof value === "boolean") {
      throw invalid(`${op} on "${key}" needs a number or a string, not a boolean`);
    }
    return { kind: "compare", key, op: op as ComparisonOp, value };
  }
  if (SET_OPS.has(op)) {
    if (!Array.isArray(operand) || operand.length === 0) {
      throw invalid(`${op} on "${key}" takes a non-empty array of values`);
    }
    if (operand.length > LIMITS.filterInValues) {
      throw invalid(`${op} on "${key}" has more than ${LIMITS.filterInValues} values`);
    }
    const values = operand.map((item) => parseScalar(key, op, item));
    const types = new Set(values.map((v) => typeof v));
    if (types.size > 1) throw invalid(`${op} on "${key}" mixes value types; use one type`);
    return { kind: "set", key, op: op as SetOp, values };
  }
  throw invalid(`unknown operator ${JSON.stringify(op.slice(0, 40))} on "${key}"`);
}

function parseScalar(key: string, op: string, value: unknown): Scalar {
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalid(`${op} on "${key}" needs a finite number`);
    return value;
  }
  throw invalid(`${op} on "${key}" needs a string, number or boolean, got ${describe(value)}`);
}

function parseTimeCondition(key: TimeKey, op: string, operand: unknown): Filter {
  if (!COMPARISON_OPS.has(op)) {
    throw invalid(
      `"${key}" is the documents' own time: compare it with $eq $ne $gt $gte $lt $lte, not ${JSON.stringify(op.slice(0, 40))}`,
    );
  }
  const at = typeof operand === "string" ? parseTime(operand) : undefined;
  if (at === undefined) {
    throw invalid(
      `${op} on "${key}" needs an ISO 8601 time: ${TIME_FORMS}; got ${typeof operand === "string" ? JSON.stringify(operand.slice(0, 40)) : describe(operand)}`,
    );
  }
  return { kind: "time", key, op: op as ComparisonOp, at };
}
