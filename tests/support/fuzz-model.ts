/**
 * The fuzzer's model: what every collection must hold, and an independent reference implementation
 * of the `where` filter language to check the server's answers against.
 */
import { isPlain, type Kind } from "./fuzz-values.js";

export interface NewDoc {
  id?: string;
  text: string;
  metadata?: Record<string, unknown>;
}
export interface Doc {
  text: string;
  metadata: Record<string, unknown>;
}
export interface CollectionModel {
  docs: Map<string, Doc>;
  /** Metadata columns: they outlive the documents that made them, until the collection is dropped. */
  kinds: Map<string, Kind>;
}
export type Model = Map<string, CollectionModel>;

export const SEED_DOCS: NewDoc[] = [
  {
    id: "a",
    text: "the quick brown fox",
    metadata: { topic: "animals", n: 1, flag: true, tags: ["fox", "dog"], _: false },
  },
  {
    id: "' OR 1=1 --",
    text: "'); DROP TABLE seed; -- \\ ''",
    metadata: { topic: "' OR 1=1 --", n: -1e308, tags: [] },
  },
  { id: "__proto__", text: "proto e\u0301 🦊 \u202e", metadata: { topic: "back\\slash", n: 5e-324 } },
  { id: "🦊", text: "NUL a\u0000b inside", metadata: { n: 2 ** 53, flag: false, labels: ["x"] } },
  { id: "constructor", text: "finance ünï", metadata: { topic: "finance", _: true } },
];

export function kindOf(value: unknown): Kind {
  return Array.isArray(value) ? "string[]" : (typeof value as Kind);
}

export function applyAdd(model: Model, collection: string, docs: NewDoc[], ids: string[]): void {
  const coll = model.get(collection) ?? { docs: new Map(), kinds: new Map() };
  docs.forEach((doc, i) => {
    const metadata = doc.metadata ?? {};
    coll.docs.set(ids[i] as string, { text: doc.text, metadata });
    for (const key of Object.keys(metadata)) coll.kinds.set(key, kindOf(metadata[key]));
  });
  model.set(collection, coll);
}

/** get_documents orders ids by UTF-16 code units. */
export const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const KEY_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** DataFusion compares strings as UTF-8 bytes (unpaired surrogates become U+FFFD on the way in). */
const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

export class Refused extends Error {}
export type Predicate = (metadata: Record<string, unknown>) => boolean;
type Scalar = string | number | boolean;

/**
 * An independent reading of the README's filter language: the predicate a valid filter means for a
 * collection with these metadata columns, or Refused. A condition matches only documents with the key;
 * a key no column exists for matches nothing; comparing a column with a value of another type is refused.
 */
export function referenceFilter(where: Record<string, unknown>, kinds: Map<string, Kind>): Predicate {
  let conditions = 0;
  const scalarOf = (v: unknown): Scalar => {
    if (typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    throw new Refused("not a scalar");
  };
  const literal = (v: Scalar) => {
    if (typeof v === "string" && v.includes("\u0000")) throw new Refused("NUL in a value");
  };
  const equal = (a: unknown, b: Scalar) =>
    typeof a === "string" && typeof b === "string" ? utf8Compare(a, b) === 0 : a === b;
  const order = (a: unknown, b: Scalar): number =>
    typeof a === "string" ? utf8Compare(a, b as string) : (a as number) - (b as number);
  const all =
    (parts: Predicate[]): Predicate =>
    (m) =>
      parts.every((p) => p(m));

  const parseObject = (obj: Record<string, unknown>, depth: number): Predicate => {
    if (depth > 8) throw new Refused("too deep");
    const keys = Object.keys(obj);
    if (keys.length === 0) throw new Refused("empty object");
    return all(keys.map((key) => parseEntry(key, obj[key], depth)));
  };
  const parseEntry = (key: string, value: unknown, depth: number): Predicate => {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(value) || value.length === 0) throw new Refused(`${key} needs items`);
      const parts = value.map((item) => {
        if (!isPlain(item)) throw new Refused(`${key} item`);
        return parseObject(item, depth + 1);
      });
      return key === "$and" ? all(parts) : (m) => parts.some((p) => p(m));
    }
    if (!KEY_PATTERN.test(key)) throw new Refused(`bad key ${JSON.stringify(key)}`);
    const ops: Array<[string, unknown]> = isPlain(value)
      ? Object.keys(value).map((op) => [op, value[op]])
      : [["$eq", value]];
    if (ops.length === 0) throw new Refused("empty condition");
    return all(ops.map(([op, operand]) => parseCondition(key, op, operand)));
  };
  const parseCondition = (key: string, op: string, operand: unknown): Predicate => {
    conditions += 1;
    if (conditions > 100) throw new Refused("too many conditions");
    const kind = kinds.get(key);
    const has = (m: Record<string, unknown>) => Object.hasOwn(m, key);
    if (["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"].includes(op)) {
      const value = scalarOf(operand);
      const ordered = op !== "$eq" && op !== "$ne";
      if (ordered && typeof value === "boolean") throw new Refused("boolean order");
      if (kind === undefined) return () => false;
      if (kind === "string[]") {
        if (typeof value !== "string" || ordered) throw new Refused("list compare");
        literal(value);
        const contains = (m: Record<string, unknown>) => (m[key] as string[]).some((x) => equal(x, value));
        return op === "$eq" ? (m) => has(m) && contains(m) : (m) => has(m) && !contains(m);
      }
      if (kindOf(value) !== kind) throw new Refused("type mismatch");
      literal(value);
      const compare: Record<string, (c: number) => boolean> = {
        $gt: (c) => c > 0,
        $gte: (c) => c >= 0,
        $lt: (c) => c < 0,
        $lte: (c) => c <= 0,
      };
      if (op === "$eq") return (m) => has(m) && equal(m[key], value);
      if (op === "$ne") return (m) => has(m) && !equal(m[key], value);
      return (m) => has(m) && (compare[op] as (c: number) => boolean)(order(m[key], value));
    }
    if (op === "$in" || op === "$nin") {
      if (!Array.isArray(operand) || operand.length === 0 || operand.length > 1000) throw new Refused("set");
      const values = operand.map(scalarOf);
      if (new Set(values.map((v) => typeof v)).size > 1) throw new Refused("mixed set");
      if (kind === undefined) return () => false;
      if (kindOf(values[0]) !== (kind === "string[]" ? "string" : kind)) throw new Refused("set type");
      values.forEach(literal);
      const inSet = (x: unknown) => values.some((v) => equal(x, v));
      const any = (m: Record<string, unknown>) =>
        kind === "string[]" ? (m[key] as string[]).some(inSet) : inSet(m[key]);
      return op === "$in" ? (m) => has(m) && any(m) : (m) => has(m) && !any(m);
    }
    throw new Refused(`unknown operator ${JSON.stringify(op)}`);
  };
  return Object.keys(where).length === 0 ? () => true : parseObject(where, 1);
}
