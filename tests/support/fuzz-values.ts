/**
 * The hostile material of the tool fuzzer (tests/integration/fuzz.test.ts): SQL-ish, control,
 * odd-Unicode and path-like strings, awkward numbers, bad metadata keys and values, wrong types, and
 * `Lazy`, a big value built only when it is sent.
 */
import fc from "fast-check";

/**
 * Strings that can be stored as given: well-formed UTF-16 (UTF-8 has no unpaired surrogates), and for
 * ids and texts no leading U+FEFF (LanceDB's reader drops it). Valid calls use only these; hostile
 * calls use the others, which must be refused or round-trip exactly (fuzz findings 1 and 2).
 */
const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export const wellFormed = (s: string) => s.replace(UNPAIRED, "\ufffd");
export const storable = (s: string) => wellFormed(s).replace(/^\ufeff/, "_\ufeff");

/** A big value, built only when sent, so that fast-check prints `"x".repeat(100001)`, not the value. */
export class Lazy {
  constructor(
    readonly label: string,
    readonly make: () => unknown,
  ) {}
  [fc.toStringMethod](): string {
    return this.label;
  }
}
export const repeat = (c: string, n: number) =>
  new Lazy(`${JSON.stringify(c)}.repeat(${n})`, () => c.repeat(n).slice(0, n));
export const filled = (n: number, item: unknown) =>
  new Lazy(`Array(${n}).fill(${JSON.stringify(item)})`, () => Array.from({ length: n }, () => item));
export const numbered = (n: number, make: (i: number) => unknown, label: string) =>
  new Lazy(`Array.from({length: ${n}}, (_, i) => ${label})`, () =>
    Array.from({ length: n }, (_, i) => make(i)),
  );

export function materialize(value: unknown): unknown {
  if (value instanceof Lazy) return value.make();
  if (Array.isArray(value)) return value.map(materialize);
  if (isPlain(value)) return objectOf(Object.keys(value).map((k) => [k, materialize(value[k])]));
  return value;
}

/** An object with exactly these own keys, `__proto__` included (as JSON.parse makes it). */
export function objectOf(entries: Array<[string, unknown]>): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [key, value] of entries)
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

export function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Lazy);
}

export function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

export const SQLISH = [
  "' OR 1=1 --",
  "'); DROP TABLE seed; --",
  "\\",
  "\\'",
  "''",
  '"',
  "`id`",
  "%",
  "_",
  "a' || 'b",
  "1; DELETE FROM seed",
  "x') OR ('1'='1",
  "NULL",
  "m_topic = 'animals'",
  "text:fox OR *",
  '"unclosed',
  "(",
  "fox AND NOT dog",
];
export const CONTROL = [
  "\u0000",
  "a\u0000b",
  "\u0001",
  "\t",
  "\n",
  "\r\n",
  "\u001b[31mred",
  "\u007f",
  "\u0085",
];
export const UNICODE = [
  "\ud800",
  "\udfff",
  "a\ud800b",
  "\udc00\ud800",
  "\u202eevil",
  "\u200f",
  "\u200d",
  "\u200b",
  "\ufeff",
  "\u2028",
  "👨‍👩‍👧‍👦",
  "🦊",
  "🏳️‍🌈",
  "e\u0301",
  "Z\u0335\u0322\u0349a\u0338",
  "𝔘𝔫𝔦",
  "\uffff",
  "\ufffd",
  "İı",
  "ß",
];
export const HOSTILE = [...SQLISH, ...CONTROL, ...UNICODE];
export const PATHS = [
  "../x",
  "../../x",
  "../../../../../../x",
  "/etc",
  "/etc/passwd",
  "a/b",
  "C:\\x",
  "\\\\server\\share",
  ".",
  "..",
  "x\u0000y",
  "seed\u0000",
  "~",
  "$HOME",
  "x.lance",
  "seed.lance",
  "seed.g1",
  "SEED",
  "-x",
  "_x",
  " seed",
  "seed ",
  "",
  "x".repeat(65),
];
export const COLLECTIONS = ["seed", "seed", "other", "x-1", "0", "a_b", "z".repeat(64)];
export const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2.5,
  0.1 + 0.2,
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  Number.EPSILON,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e15,
  1e15 + 0.5,
  1e16,
  1e20,
  1e21,
  -1e21,
  2 ** 64,
  123456789.125,
];
export type Kind = "string" | "number" | "boolean" | "string[]";
/** Metadata keys that valid calls use, each always with one type so valid calls never conflict. */
export const KEY_KINDS = new Map<string, Kind>([
  ["topic", "string"],
  ["n", "number"],
  ["flag", "boolean"],
  ["tags", "string[]"],
  ["_", "boolean"],
  ["__", "string"],
  ["constructor", "string"],
  ["toString", "number"],
  ["valueOf", "string[]"],
  ["labels", "string[]"],
  ["hasOwnProperty", "boolean"],
  ["id", "string"],
  ["vector", "number"],
  ["m_topic", "string"],
  ["_distance", "number"],
  ["k".repeat(64), "number"],
]);
export const KEYS = [...KEY_KINDS.keys()];
export const BAD_KEYS = [
  "__proto__",
  "",
  " ",
  "bad key",
  "m; DROP TABLE seed; --",
  "1abc",
  "$eq",
  "a-b",
  "k".repeat(65),
  "ünï",
  "a.b",
  "a\u0000",
  "`x`",
];
export const BAD_VALUES: unknown[] = [
  null,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  undefined,
  {},
  { deep: 1 },
  nested(50, 1),
  [1, 2],
  [null],
  [["x"]],
  [repeat("x", 4097)],
  filled(101, "x"),
  filled(10_000, "x"),
  repeat("x", 4097),
  "a\ud800b",
  ["\udc00"],
];
export const WRONG_TYPES: unknown[] = [
  null,
  0,
  -0,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  [],
  ["seed"],
  {},
  { name: "seed" },
  undefined,
  "",
  nested(50, "x"),
];
