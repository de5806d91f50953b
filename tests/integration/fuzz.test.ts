/**
 * Property-based fuzzing of the tools through a real MCP Client (issue "Safe under hostile input").
 *
 * Each run starts a fresh server on a private database, seeds one collection, then plays a generated
 * sequence of calls to add_documents, search_similar, get_documents, delete and list_collections: valid
 * ones, and valid ones with one field made hostile (SQL, quotes, control and odd Unicode characters,
 * path-like names, huge and deeply nested values, NaN/Infinity/-0, wrong types, unknown fields), sent
 * either as a JSON transport would deliver them or as raw objects. After every call it checks that:
 *   1. the server still answers (list_collections succeeds);
 *   2. the answer is a result whose structuredContent matches the tool's outputSchema (the client
 *      validates it, having listed the tools) and survives JSON, or an isError result with a clear
 *      text: never the internal-error ("This is a bug") or output-validation path;
 *   3. the stored data equals a model of what should be there, read whole with get_documents (search
 *      texts are cut to a budget): refused calls change nothing, accepted ones change exactly what they
 *      say, and every filter selects what an independent reference evaluator selects;
 *   4. nothing was written outside the database directory, and inside it only `<collection>.lance`.
 *
 * Reproducible: a fixed seed. More runs locally: FUZZ_RUNS=500 npx vitest run tests/integration/fuzz.test.ts
 * (FUZZ_SEED=<n> for another seed, FUZZ_VERBOSE=1 for a tally of outcomes).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
const VERBOSE = process.env.FUZZ_VERBOSE === "1";

/**
 * Strings that can be stored as given: well-formed UTF-16 (UTF-8 has no unpaired surrogates), and for
 * ids and texts no leading U+FEFF (LanceDB's reader drops it). Valid calls use only these; hostile
 * calls use the others, which must be refused or round-trip exactly (fuzz findings 1 and 2).
 */
const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (s: string) => s.replace(UNPAIRED, "\ufffd");
const storable = (s: string) => wellFormed(s).replace(/^\ufeff/, "_\ufeff");

// ---------------------------------------------------------------------------------------------
// Hostile material
// ---------------------------------------------------------------------------------------------

/** A big value, built only when sent, so that fast-check prints `"x".repeat(100001)`, not the value. */
class Lazy {
  constructor(
    readonly label: string,
    readonly make: () => unknown,
  ) {}
  [fc.toStringMethod](): string {
    return this.label;
  }
}
const repeat = (c: string, n: number) =>
  new Lazy(`${JSON.stringify(c)}.repeat(${n})`, () => c.repeat(n).slice(0, n));
const filled = (n: number, item: unknown) =>
  new Lazy(`Array(${n}).fill(${JSON.stringify(item)})`, () => Array.from({ length: n }, () => item));
const numbered = (n: number, make: (i: number) => unknown, label: string) =>
  new Lazy(`Array.from({length: ${n}}, (_, i) => ${label})`, () =>
    Array.from({ length: n }, (_, i) => make(i)),
  );

function materialize(value: unknown): unknown {
  if (value instanceof Lazy) return value.make();
  if (Array.isArray(value)) return value.map(materialize);
  if (isPlain(value)) return objectOf(Object.keys(value).map((k) => [k, materialize(value[k])]));
  return value;
}

/** An object with exactly these own keys, `__proto__` included (as JSON.parse makes it). */
function objectOf(entries: Array<[string, unknown]>): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [key, value] of entries)
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Lazy);
}

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const SQLISH = [
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
const CONTROL = ["\u0000", "a\u0000b", "\u0001", "\t", "\n", "\r\n", "\u001b[31mred", "\u007f", "\u0085"];
const UNICODE = [
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
const HOSTILE = [...SQLISH, ...CONTROL, ...UNICODE];
const PATHS = [
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
const COLLECTIONS = ["seed", "seed", "other", "x-1", "0", "a_b", "z".repeat(64)];
const NUMBERS = [
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
type Kind = "string" | "number" | "boolean" | "string[]";
/** Metadata keys that valid calls use, each always with one type so valid calls never conflict. */
const KEY_KINDS = new Map<string, Kind>([
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
const KEYS = [...KEY_KINDS.keys()];
const BAD_KEYS = [
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
const BAD_VALUES: unknown[] = [
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
const WRONG_TYPES: unknown[] = [
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

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...HOSTILE, "fox", " ", "note"), { minLength: 2, maxLength: 4 })
      .map((parts) => parts.join("")),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
);
const longString = fc
  .tuple(
    fc.constantFrom(255, 256, 257, 4096, 4097, 10_000, 10_001, 100_000, 100_001),
    fc.constantFrom("x", "é", "🦊", "'", "\\", "\u0301"),
  )
  .map(([n, c]) => repeat(c, n));
const anyString = fc.oneof(
  { weight: 6, arbitrary: hostileString as fc.Arbitrary<string | Lazy> },
  { weight: 1, arbitrary: longString },
);
const wrongType = fc.oneof(fc.constantFrom(...WRONG_TYPES), fc.jsonValue({ maxDepth: 2 }));
const numberArb = fc.oneof(
  fc.constantFrom(...NUMBERS),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

// biome-ignore lint/suspicious/noControlCharactersInRegex: ids with control characters are the point
const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const ID_POOL = [
  "a",
  "b",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "' OR 1=1 --",
  "'); DROP TABLE seed; --",
  "back\\slash\\'",
  "🦊",
  "e\u0301",
  "\u202eid",
  "id) OR (1=1",
  "x".repeat(256),
];
const validId = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ID_POOL) },
    { weight: 2, arbitrary: hostileString.filter((s) => s.length >= 1 && s.length <= 256 && noControl(s)) },
  )
  .map(storable);
const badId = fc.oneof(
  fc.constantFrom<unknown>("", "\u0000", "a\u0000b", "tab\tid", "nl\n", "\u007f", repeat("x", 257)),
  fc.constantFrom<unknown>("\ud800", "\udc00", "a\ud800b", "\ufeff", "\ufeffid"),
  wrongType.filter((v) => typeof v !== "string" && v !== undefined),
);
const validText = fc
  .tuple(fc.constantFrom("fox ", "note ", "alpha ", "ünï ", ""), anyString)
  .filter(([word, rest]) => word !== "" || rest instanceof Lazy || rest.trim().length > 0)
  .map(([word, rest]) =>
    rest instanceof Lazy
      ? new Lazy(`${JSON.stringify(word)} + ${rest.label}`, () =>
          storable(`${word}${rest.make() as string}`.slice(0, 100_000)),
        )
      : storable(`${word}${rest}`),
  );
const badText = fc.oneof(
  fc.constantFrom<unknown>("", " ", "\n\t ", "\u3000", repeat("x", 100_001), "a\ud800b", "\ufeffhello"),
  wrongType.filter((v) => typeof v !== "string"),
);

const SEED_STRINGS = ["animals", "finance", "' OR 1=1 --", "back\\slash", "fox", "dog", "x", ""];
const valueOfKind: Record<Kind, fc.Arbitrary<unknown>> = {
  string: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SEED_STRINGS) },
    { weight: 4, arbitrary: hostileString.map(wellFormed) },
    { weight: 1, arbitrary: fc.constant(repeat("m", 4096)) },
  ),
  // -0 often: JSON can carry it ("-0.0"), and it must behave as 0 (fuzz finding 6).
  number: fc.oneof({ weight: 8, arbitrary: numberArb }, { weight: 1, arbitrary: fc.constant(-0) }),
  boolean: fc.boolean(),
  "string[]": fc.oneof(
    fc.array(fc.oneof(fc.constantFrom(...SEED_STRINGS), hostileString.map(wellFormed)), { maxLength: 4 }),
    fc.constant([]),
    fc.constant(filled(100, "v")),
  ),
};
const validMetadata = fc
  .subarray(KEYS, { maxLength: 5 })
  .chain((keys) =>
    fc.tuple(
      ...keys.map((key) => valueOfKind[KEY_KINDS.get(key) as Kind].map((v): [string, unknown] => [key, v])),
    ),
  )
  .map((entries) => objectOf(entries));
/** A bad key, `__proto__` often: a JavaScript object does not keep it as a plain key (findings 4, 5). */
const badKey = fc.oneof(
  { weight: 1, arbitrary: fc.constant("__proto__") },
  { weight: 3, arbitrary: fc.constantFrom(...BAD_KEYS.filter((k) => k !== "__proto__")) },
);
const badMetadata = fc.oneof(
  // Valid metadata plus one bad key, or one bad value.
  fc
    .tuple(validMetadata, badKey, valueOfKind.string)
    .map(([m, k, v]) => objectOf([...Object.entries(m), [k, v]])),
  fc
    .tuple(validMetadata, fc.constantFrom(...KEYS), fc.constantFrom(...BAD_VALUES))
    .map(([m, k, v]) => objectOf([...Object.entries(m).filter(([key]) => key !== k), [k, v]])),
  // A key with a type other than its usual one: a conflict if the collection already has the key.
  fc.constantFrom<unknown>(
    { topic: 5 },
    { n: "5" },
    { flag: 1 },
    { tags: "x" },
    { n: true },
    { flag: "true" },
  ),
  fc.constant(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))),
  fc.constant(Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`c${i}`, `v${i}`]))),
  wrongType.filter((v) => v !== undefined && v !== null && (typeof v !== "object" || Array.isArray(v))),
);

const validDoc = fc.record(
  { id: validId, text: validText, metadata: validMetadata },
  { requiredKeys: ["text"] },
);
const invalidDoc = fc.oneof(
  fc.record({ id: badId, text: validText }),
  fc.record({ text: badText }),
  fc.record({ id: validId, text: validText, metadata: badMetadata }),
  fc.record({ text: validText, embedding: fc.constant([0.1, 0.2]), score: numberArb, vector: wrongType }),
  wrongType,
);

// Where filters: a recursive grammar of valid and invalid pieces, plus deep, wide and huge ones.
const BAD_OPS = ["$regex", "$not", "$exists", "$EQ", "", "eq", "$and", "$or", "$contains", "__proto__"];
const whereKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...KEYS, "nosuch", "Topic") },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_KEYS, "$bogus") },
);
const scalar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEED_STRINGS) },
  { weight: 2, arbitrary: hostileString },
  { weight: 3, arbitrary: numberArb },
  { weight: 2, arbitrary: fc.boolean() },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(null, Number.NaN, Number.POSITIVE_INFINITY, [], {}, ["x"]),
  },
);
const setOperand = fc.oneof(
  { weight: 6, arbitrary: fc.array(scalar, { minLength: 1, maxLength: 4 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...SEED_STRINGS), { minLength: 1, maxLength: 4 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...NUMBERS), { minLength: 1, maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      [],
      "animals",
      filled(1000, "x"),
      filled(1001, "x"),
      filled(10_000, 1),
    ),
  },
);
const opEntry = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"), scalar) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom("$in", "$nin"), setOperand) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...BAD_OPS), scalar) },
);
const condition = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 4, arbitrary: fc.array(opEntry, { maxLength: 3 }).map(objectOf) },
);
const { filter: filterArb } = fc.letrec<{ filter: Record<string, unknown>; entry: [string, unknown] }>(
  (tie) => ({
    filter: fc.array(tie("entry"), { minLength: 1, maxLength: 3 }).map(objectOf),
    entry: fc.oneof(
      { maxDepth: 3, depthSize: "small" },
      fc.tuple(whereKey, condition),
      fc.tuple(
        fc.constantFrom("$and", "$or"),
        fc.oneof(
          fc.array(tie("filter"), { minLength: 1, maxLength: 3 }),
          fc.constantFrom<unknown>([], [{}], [null], "x", { topic: "animals" }),
        ),
      ),
    ),
  }),
);
const deepFilter = fc
  .tuple(filterArb, fc.constantFrom(6, 7, 8, 50), fc.constantFrom("$and", "$or"))
  .map(([base, levels, op]) => {
    let where: Record<string, unknown> = base;
    for (let i = 0; i < levels; i++) where = { [op]: [where] };
    return where;
  });
const wideFilter = fc
  .constantFrom(100, 101, 10_000)
  .map((n) => ({ $or: numbered(n, (i) => ({ n: i }), "({n: i})") }));

// Filters that are valid for the keys' usual types (they may still clash with a column that a hostile
// add made with another type, which the reference evaluator knows about).
const filterValue: Record<Exclude<Kind, "string[]">, fc.Arbitrary<unknown>> = {
  string: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...SEED_STRINGS) },
    { weight: 1, arbitrary: hostileString },
  ),
  number: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
    { weight: 1, arbitrary: numberArb },
  ),
  boolean: fc.boolean(),
};
const typedCondition = (key: string): fc.Arbitrary<unknown> => {
  const kind = KEY_KINDS.get(key) ?? "string";
  const value = filterValue[kind === "string[]" ? "string" : kind];
  const ops =
    kind === "boolean" || kind === "string[]" ? ["$eq", "$ne"] : ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"];
  return fc.oneof(
    value,
    fc.tuple(fc.constantFrom(...ops), value).map(([op, v]) => objectOf([[op, v]])),
    fc
      .tuple(fc.constantFrom("$in", "$nin"), fc.array(value, { minLength: 1, maxLength: 4 }))
      .map(([op, vs]) => objectOf([[op, vs]])),
  );
};
const SEED_KEYS = ["topic", "n", "flag", "tags", "_", "labels"];
const { filter: typedFilter } = fc.letrec<{ filter: Record<string, unknown>; entry: [string, unknown] }>(
  (tie) => ({
    filter: fc.array(tie("entry"), { minLength: 1, maxLength: 2 }).map(objectOf),
    entry: fc.oneof(
      { maxDepth: 3, depthSize: "small" },
      fc
        .oneof(
          { weight: 4, arbitrary: fc.constantFrom(...SEED_KEYS) },
          { weight: 1, arbitrary: fc.constantFrom(...KEYS, "nosuch") },
        )
        .chain((key) => typedCondition(key).map((c): [string, unknown] => [key, c])),
      fc.tuple(fc.constantFrom("$and", "$or"), fc.array(tie("filter"), { minLength: 1, maxLength: 3 })),
    ),
  }),
);

const whereArb = fc.oneof(
  { weight: 6, arbitrary: filterArb as fc.Arbitrary<unknown> },
  // A valid filter plus one bad entry at the top level: the whole filter must be refused.
  {
    weight: 4,
    arbitrary: fc
      .tuple(typedFilter, fc.oneof(badKey, fc.constantFrom("$bogus", "$not")), scalar)
      .map(([where, key, value]) => objectOf([...Object.entries(where), [key, value]])),
  },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: deepFilter },
  { weight: 1, arbitrary: wideFilter },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("topic = 'x'", 5, null, [], [{ topic: "x" }], true, "") },
);

// Steps: a valid call, or the same call with one field replaced by a hostile value, or removed.
// `valid` marks the unchanged ones, which must succeed whenever the model says their preconditions hold.
type Route = "json" | "raw";
interface Step {
  tool: string;
  args: unknown;
  route: Route;
  valid?: boolean;
}
const route = fc.constantFrom<Route>("json", "json", "raw");
const EXTRA_KEYS = ["extra", "__proto__", "constructor", "toString", "$schema", "vector", "embedding"];
/** Unknown fields: the schemas strip them, so a call with them stays valid. */
const extras = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Array<[string, unknown]>>([]) },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(fc.constantFrom(...EXTRA_KEYS), fc.jsonValue({ maxDepth: 2 })), {
      minLength: 1,
      maxLength: 2,
    }),
  },
);

function calls(
  tool: string,
  valid: fc.Arbitrary<Record<string, unknown>>,
  hostile: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Step> {
  const fields = Object.keys(hostile);
  const without = (a: Record<string, unknown>, field: string) =>
    Object.entries(a).filter(([k]) => k !== field);
  const args = fc.oneof(
    { weight: 3, arbitrary: valid.map((a) => ({ a, ok: true })) },
    {
      weight: 4,
      arbitrary: fc.tuple(valid, fc.constantFrom(...fields)).chain(([a, field]) =>
        (hostile[field] as fc.Arbitrary<unknown>).map((v) => ({
          a: objectOf([...without(a, field), [field, v]]),
          ok: false,
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...fields))
        .map(([a, field]) => ({ a: objectOf(without(a, field)), ok: false })),
    },
  );
  return fc.tuple(args, extras, route).map(([{ a, ok }, extra, r]) => ({
    tool,
    args: extra.length > 0 ? objectOf([...Object.entries(a), ...extra]) : a,
    route: r,
    ...(ok ? { valid: true } : {}),
  }));
}

const validCollection = fc.oneof(
  { weight: 3, arbitrary: fc.constant("seed") },
  { weight: 1, arbitrary: fc.constantFrom(...COLLECTIONS) },
);
const hostileCollection = fc.oneof(fc.constantFrom<unknown>(...PATHS), hostileString, wrongType);
const validDocs = fc.uniqueArray(validDoc, {
  minLength: 1,
  maxLength: 5,
  selector: (d) => d.id ?? Symbol(),
});
const addStep = calls("add_documents", fc.record({ collection: validCollection, documents: validDocs }), {
  collection: hostileCollection,
  documents: fc.oneof(
    // Valid documents with one of them made invalid: the whole call must be refused.
    {
      weight: 4,
      arbitrary: fc
        .tuple(validDocs, invalidDoc, fc.nat())
        .map(([docs, bad, at]) => docs.map((d, i) => (i === at % docs.length ? bad : d))),
    },
    { weight: 2, arbitrary: fc.array(fc.oneof(validDoc, invalidDoc), { minLength: 1, maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>([], filled(1001, { text: "x" }), filled(10_000, { text: "x" }), [
        { id: "dup", text: "one" },
        { id: "dup", text: "two" },
      ]),
    },
    { weight: 1, arbitrary: wrongType },
  ),
});
const addBulk = fc.constant<Step>({
  tool: "add_documents",
  args: {
    collection: "bulk",
    documents: numbered(
      1000,
      (i) => ({ id: `bulk-${i}`, text: `bulk document ${i}` }),
      '({ id: "bulk-" + i, text: "bulk document " + i })',
    ),
  },
  route: "json",
  valid: true,
});

const validQuery = fc
  .tuple(fc.constantFrom("fox ", "note ", "the ", ""), hostileString)
  .map(([word, rest]) => wellFormed(`${word}${rest}`))
  .filter((q) => q.trim().length > 0);
const searchStep = calls(
  "search_similar",
  fc.record(
    {
      collection: validCollection,
      query: validQuery,
      n_results: fc.oneof(fc.constantFrom(1, 5, 100), fc.integer({ min: 1, max: 100 })),
      where: typedFilter,
      mode: fc.constantFrom("semantic", "keyword", "hybrid"),
      min_score: fc.oneof(fc.constantFrom(-1, 0, 0.3, 1), fc.double({ min: -1, max: 1, noNaN: true })),
      diversity: fc.oneof(fc.constantFrom(0, 0.3, 1), fc.double({ min: 0, max: 1, noNaN: true })),
      include_text: fc.boolean(),
      max_chars: fc.oneof(fc.constantFrom(200, 12_000, 100_000), fc.integer({ min: 200, max: 100_000 })),
    },
    { requiredKeys: ["collection", "query"] },
  ),
  {
    collection: hostileCollection,
    query: fc.oneof(
      fc.constantFrom<unknown>("", "   ", "\u3000", repeat("x", 10_001), repeat("x", 10_000)),
      anyString,
      wrongType,
    ),
    n_results: fc.constantFrom<unknown>(0, 101, -1, 2.5, -0, 1e308, Number.NaN, Infinity, "5", null, true),
    where: whereArb,
    mode: fc.constantFrom<unknown>("SEMANTIC", "", "both", 5, null, ["semantic"]),
    min_score: fc.constantFrom<unknown>(1.5, -2, Number.NaN, Number.NEGATIVE_INFINITY, "0.3", null),
    diversity: fc.constantFrom<unknown>(-0.1, 2, Number.NaN, "0", null),
    include_text: fc.constantFrom<unknown>("false", 0, null, []),
    max_chars: fc.constantFrom<unknown>(199, 100_001, 2.5, -1, 0, Infinity, "200"),
  },
);

const SEED_IDS = ["a", "' OR 1=1 --", "__proto__", "constructor", "🦊", "b", "nope"];
const validIds = fc.array(fc.oneof(fc.constantFrom(...SEED_IDS), validId), { minLength: 1, maxLength: 4 });
const hostileIds = fc.oneof(
  { weight: 2, arbitrary: fc.array(fc.oneof(validId, badId), { minLength: 1, maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      [],
      numbered(1000, (i) => `i${i}`, '"i" + i'),
      numbered(1001, (i) => `i${i}`, '"i" + i'),
      numbered(10_000, (i) => `i${i}`, '"i" + i'),
    ),
  },
  { weight: 1, arbitrary: wrongType },
);
const deleteStep = calls(
  "delete",
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record(
        { collection: validCollection, ids: validIds, dry_run: fc.boolean() },
        { requiredKeys: ["collection", "ids"] },
      ),
    },
    {
      weight: 4,
      arbitrary: fc.record(
        { collection: validCollection, where: typedFilter, dry_run: fc.boolean() },
        { requiredKeys: ["collection", "where"] },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record(
        { collection: validCollection, drop_collection: fc.constant(true), dry_run: fc.boolean() },
        { requiredKeys: ["collection", "drop_collection"] },
      ),
    },
  ),
  {
    collection: hostileCollection,
    ids: hostileIds,
    where: whereArb,
    drop_collection: fc.oneof(fc.constantFrom<unknown>(false, "true", 1), wrongType),
    dry_run: fc.constantFrom<unknown>("true", 1, null, "yes"),
  },
);
const validCursor = validId.map((after) =>
  Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url"),
);
const getStep = calls(
  "get_documents",
  fc.oneof(
    fc.record({ collection: validCollection, ids: validIds }),
    fc.record(
      {
        collection: validCollection,
        where: typedFilter,
        limit: fc.oneof(fc.constantFrom(1, 2, 20, 100), fc.integer({ min: 1, max: 100 })),
        cursor: validCursor,
      },
      { requiredKeys: ["collection"] },
    ),
  ),
  {
    collection: hostileCollection,
    ids: hostileIds,
    where: whereArb,
    limit: fc.constantFrom<unknown>(0, 101, 2.5, "5", -1, Number.NaN, null),
    cursor: fc.constantFrom<unknown>("", "x", "!!!", "eyJhZnRlciI6MX0", "bnVsbA", repeat("x", 2001), 5, null),
  },
);
const listStep = calls("list_collections", fc.constant({}), { extra: fc.jsonValue({ maxDepth: 2 }) });
/** Hostile filters on the seeded collection, where they can match (or wrongly delete) something. */
const filterStep = fc
  .tuple(fc.constantFrom("search_similar", "get_documents", "delete"), whereArb, fc.boolean(), route)
  .map(([tool, where, dry, r]): Step => {
    const rest =
      tool === "search_similar"
        ? { query: "fox", mode: "semantic", n_results: 100 }
        : tool === "delete"
          ? { dry_run: dry }
          : { limit: 100 };
    return { tool, args: { collection: "seed", where, ...rest }, route: r };
  });
/** Arguments that are not an object at all, or a tool that does not exist. */
const weird = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("add_documents", "search_similar", "get_documents", "delete", "list_collections"),
      wrongType,
    )
    .map(([tool, args]): Step => ({ tool, args, route: "raw" })),
  fc.constant<Step>({ tool: "no_such_tool", args: {}, route: "json" }),
  fc.constant<Step>({ tool: "__proto__", args: {}, route: "json" }),
);
const stepArb = fc.oneof(
  { weight: 8, arbitrary: addStep },
  { weight: 5, arbitrary: searchStep },
  { weight: 5, arbitrary: deleteStep },
  { weight: 3, arbitrary: getStep },
  { weight: 3, arbitrary: filterStep },
  { weight: 1, arbitrary: listStep },
  { weight: 1, arbitrary: weird },
  { weight: 1, arbitrary: addBulk },
);

// ---------------------------------------------------------------------------------------------
// The model: what every collection must hold, and a reference implementation of `where`
// ---------------------------------------------------------------------------------------------

interface NewDoc {
  id?: string;
  text: string;
  metadata?: Record<string, unknown>;
}
interface Doc {
  text: string;
  metadata: Record<string, unknown>;
}
interface CollectionModel {
  docs: Map<string, Doc>;
  /** Metadata columns: they outlive the documents that made them, until the collection is dropped. */
  kinds: Map<string, Kind>;
}
type Model = Map<string, CollectionModel>;

const SEED_DOCS: NewDoc[] = [
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

function kindOf(value: unknown): Kind {
  return Array.isArray(value) ? "string[]" : (typeof value as Kind);
}

function applyAdd(model: Model, collection: string, docs: NewDoc[], ids: string[]): void {
  const coll = model.get(collection) ?? { docs: new Map(), kinds: new Map() };
  docs.forEach((doc, i) => {
    const metadata = doc.metadata ?? {};
    coll.docs.set(ids[i] as string, { text: doc.text, metadata });
    for (const key of Object.keys(metadata)) coll.kinds.set(key, kindOf(metadata[key]));
  });
  model.set(collection, coll);
}

/** get_documents orders ids by UTF-16 code units. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const KEY_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** DataFusion compares strings as UTF-8 bytes (unpaired surrogates become U+FFFD on the way in). */
const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

class Refused extends Error {}
type Predicate = (metadata: Record<string, unknown>) => boolean;
type Scalar = string | number | boolean;

/**
 * An independent reading of the README's filter language: the predicate a valid filter means for a
 * collection with these metadata columns, or Refused. A condition matches only documents with the key;
 * a key no column exists for matches nothing; comparing a column with a value of another type is refused.
 */
function referenceFilter(where: Record<string, unknown>, kinds: Map<string, Kind>): Predicate {
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

/** The ids a filter selects (all without one), or the reason the reference refuses it. */
function expectedIds(where: unknown, coll: CollectionModel): Set<string> | Refused {
  if (where === undefined) return new Set(coll.docs.keys());
  try {
    if (!isPlain(where)) throw new Refused("not an object");
    const predicate = referenceFilter(where, coll.kinds);
    const ids = new Set([...coll.docs].filter(([, doc]) => predicate(doc.metadata)).map(([id]) => id));
    if (VERBOSE)
      count(`filter selects ${ids.size === 0 ? "none" : ids.size === coll.docs.size ? "all" : "some"}`);
    return ids;
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Running calls and checking the invariants
// ---------------------------------------------------------------------------------------------

/** What a JSON transport delivers: NaN and Infinity become null, -0 becomes 0, undefined disappears. */
const wire = (value: unknown): unknown =>
  value === undefined ? undefined : JSON.parse(JSON.stringify(value));
function noNegZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(noNegZero);
  if (isPlain(value)) return objectOf(Object.keys(value).map((k) => [k, noNegZero(value[k])]));
  return value;
}
/** Equal as sent over any wire (-0 is 0 there), and exactly equal otherwise (NaN is not null). */
const same = (a: unknown, b: unknown) => isDeepStrictEqual(noNegZero(a), noNegZero(b));
const show = (value: unknown, max = 400): string => {
  const text =
    JSON.stringify(value, (_k, v) =>
      typeof v === "number" && !Number.isFinite(v) ? `<${v}>` : v === undefined ? "<undefined>" : v,
    ) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
};

const BUG_TEXT = /internal error|this is a bug|output validation error|unknown error|\[object Object\]/i;
const COLLECTION_DIR = /^([a-z0-9][a-z0-9_-]{0,63}(\.g[1-9][0-9]*)?\.lance|\.locks)$/;
const LOCK_DIR = /^[a-z0-9][a-z0-9_-]{0,63}\.lock$/;
const COLLECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

type Outcome =
  | { kind: "ok"; sc: Record<string, unknown>; result: CallToolResult }
  | { kind: "error"; text: string }
  | { kind: "thrown"; message: string };

interface Run {
  h: Harness;
  model: Model;
  base: string;
  /** Paths under `base` that may exist: the directories down to the database. */
  allowed: Set<string>;
  /** Directories a path escape could reach, with what they held before the run. */
  outside: Map<string, Set<string>>;
  log: string[];
}

const tally = new Map<string, number>();
const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

async function invoke(h: Harness, tool: string, args: unknown): Promise<Outcome> {
  try {
    const result = (await h.client.callTool({
      name: tool,
      arguments: args as Record<string, unknown>,
    })) as CallToolResult;
    if (result.isError) {
      return { kind: "error", text: result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n") };
    }
    return { kind: "ok", sc: result.structuredContent as Record<string, unknown>, result };
  } catch (error) {
    return { kind: "thrown", message: error instanceof Error ? error.message : String(error) };
  }
}

function fail(run: Run, message: string): never {
  throw new Error(`${message}\n  steps:\n    ${run.log.join("\n    ")}`);
}

async function playStep(run: Run, s: Step): Promise<void> {
  const args = materialize(s.args);
  const arrived = s.route === "json" ? wire(args) : args;
  run.log.push(`${s.tool} [${s.route}] ${show(arrived, 300)}`);
  const outcome = await invoke(run.h, s.tool, arrived);
  if (VERBOSE) {
    const why = outcome.kind === "error" ? outcome.text : outcome.kind === "thrown" ? outcome.message : "";
    count(
      `${s.tool} ${s.valid ? "valid" : "mutated"} ${outcome.kind} ${why.replace(/\s+/g, " ").slice(0, 90)}`,
    );
  }

  if (outcome.kind === "thrown") {
    // Only a request that is not a tool call at all (arguments not an object) may fail at the protocol level.
    if (isPlain(arrived) || /structured content|output schema/i.test(outcome.message))
      fail(run, `the call threw instead of returning a result: ${outcome.message}`);
  } else if (outcome.kind === "error") {
    if (outcome.text.trim().length === 0) fail(run, "isError result without text");
    if (BUG_TEXT.test(outcome.text)) fail(run, `internal error: ${outcome.text}`);
    if (s.valid && mustSucceed(run.model, s.tool, arrived as Record<string, unknown>))
      fail(run, `a valid call was refused: ${outcome.text}`);
  } else {
    checkResultShape(run, outcome);
    checkSuccess(run, s.tool, isPlain(arrived) ? arrived : {}, outcome.sc);
  }
  await checkState(run);
  checkFiles(run);
}

/**
 * Whether an unchanged valid call must succeed: its collection exists (an add creates it), its filter
 * is one the reference accepts for the collection's columns, and an add gives no key a second type.
 */
function mustSucceed(model: Model, tool: string, args: Record<string, unknown>): boolean {
  const coll = model.get(args.collection as string);
  if (tool === "list_collections") return true;
  if (tool !== "add_documents")
    return coll !== undefined && !(expectedIds(args.where, coll) instanceof Refused);
  const kinds = coll?.kinds ?? new Map<string, Kind>();
  const keys = new Set(kinds.keys());
  for (const doc of args.documents as NewDoc[]) {
    const metadata = doc.metadata ?? {};
    for (const key of Object.keys(metadata)) {
      const known = kinds.get(key);
      if (known !== undefined && known !== kindOf(metadata[key])) return false;
      keys.add(key);
    }
  }
  return keys.size <= 256;
}

function checkResultShape(run: Run, outcome: Extract<Outcome, { kind: "ok" }>): void {
  // The client has listed the tools, so it already validated structuredContent against the outputSchema.
  if (!isPlain(outcome.sc)) fail(run, "success without structuredContent");
  if (!isDeepStrictEqual(noNegZero(outcome.sc), wire(outcome.sc)))
    fail(run, `structuredContent does not survive JSON (NaN, Infinity, undefined?): ${show(outcome.sc)}`);
  const text = outcome.result.content.find((c) => c.type === "text");
  if (text?.type !== "text" || text.text.length === 0) fail(run, "success without a text block");
}

interface SearchHit {
  id: string;
  text?: string;
  truncated: boolean;
  text_chars: number;
  score: number;
  distance: number;
  metadata: unknown;
}

function checkSuccess(
  run: Run,
  tool: string,
  args: Record<string, unknown>,
  sc: Record<string, unknown>,
): void {
  const model = run.model;
  const collection = args.collection as string;
  if (tool !== "list_collections" && !COLLECTION_NAME.test(String(collection)))
    fail(run, `accepted a bad collection name ${show(collection)}`);
  const coll = model.get(collection);
  const stored = (id: string, what: unknown) => {
    const doc = coll?.docs.get(id);
    if (!doc) fail(run, `${tool} returned ${show(what)}, which is not stored`);
    return doc;
  };
  switch (tool) {
    case "add_documents": {
      const docs = args.documents as NewDoc[];
      const out = sc as { ids: string[]; added: number; replaced: number; created: boolean };
      if (out.ids.length !== docs.length)
        fail(run, `add returned ${out.ids.length} ids for ${docs.length} documents`);
      docs.forEach((d, i) => {
        if (d.id !== undefined && out.ids[i] !== d.id)
          fail(run, `add returned id ${show(out.ids[i])} for ${show(d.id)}`);
      });
      const replaced = out.ids.filter((id) => coll?.docs.has(id)).length;
      if (out.created !== (coll === undefined)) fail(run, `add: created=${out.created}`);
      if (out.replaced !== replaced || out.added !== docs.length - replaced)
        fail(run, `add: added ${out.added} replaced ${out.replaced}, expected ${replaced} replaced`);
      applyAdd(model, collection, docs, out.ids);
      return;
    }
    case "search_similar": {
      if (!coll) fail(run, "search succeeded on a collection that does not exist");
      const limit = (args.n_results as number | undefined) ?? 5;
      const exact = args.mode === "semantic" && !args.diversity && args.min_score === undefined;
      const expected = expectedIds(args.where, coll);
      if (expected instanceof Refused)
        fail(run, `search accepted a filter the reference refuses (${expected.message})`);
      const results = (sc as { results: SearchHit[] }).results;
      const ids = results.map((r) => r.id);
      if (new Set(ids).size !== ids.length) fail(run, `search returned an id twice: ${show(ids)}`);
      if (
        ids.length > limit ||
        ids.some((id) => !expected.has(id)) ||
        (exact && ids.length !== Math.min(limit, expected.size))
      )
        fail(run, `search returned ${show(ids)}; the filter selects ${show([...expected])} (limit ${limit})`);
      results.forEach((r, i) => {
        const doc = stored(r.id, r);
        const textOk =
          args.include_text === false
            ? r.text === undefined
            : r.text !== undefined &&
              doc.text.startsWith(r.text) &&
              r.truncated === r.text.length < doc.text.length;
        if (!textOk || r.text_chars !== doc.text.length || !same(r.metadata, doc.metadata))
          fail(run, `search returned ${show(r)}, stored is ${show(doc)}`);
        if (Math.abs(r.distance - (1 - r.score)) > 1e-5 || r.score > 1 + 1e-5)
          fail(run, `score ${r.score} / distance ${r.distance}`);
        if (typeof args.min_score === "number" && r.score < args.min_score)
          fail(run, `score below min_score`);
        if (exact && i > 0 && r.score > (results[i - 1]?.score as number) + 1e-6)
          fail(run, "results not best first");
      });
      return;
    }
    case "get_documents": {
      if (!coll) fail(run, "get_documents succeeded on a collection that does not exist");
      const out = sc as { documents: Array<{ id: string } & Doc>; not_found: string[]; total: number };
      for (const d of out.documents) {
        const doc = stored(d.id, d);
        if (d.text !== doc.text || !same(d.metadata, doc.metadata))
          fail(run, `get_documents returned ${show(d)}, stored is ${show(doc)}`);
      }
      const got = out.documents.map((d) => d.id);
      if (args.ids !== undefined) {
        const requested = [...new Set(args.ids as string[])];
        const present = requested.filter((id) => coll.docs.has(id));
        if (
          !same(got, present) ||
          !same(
            out.not_found,
            requested.filter((id) => !coll.docs.has(id)),
          )
        )
          fail(run, `get_documents by ids returned ${show(got)} / not found ${show(out.not_found)}`);
        return;
      }
      const expected = expectedIds(args.where, coll);
      if (expected instanceof Refused)
        fail(run, `get_documents accepted a filter the reference refuses (${expected.message})`);
      const sorted = [...expected].sort(byCodeUnits);
      const limit = (args.limit as number | undefined) ?? 20;
      if (out.total !== expected.size || got.some((id) => !expected.has(id)) || got.length > limit)
        fail(run, `get_documents returned ${show(got)} of ${out.total}; the filter selects ${show(sorted)}`);
      if (args.cursor === undefined && !same(got, sorted.slice(0, limit)))
        fail(run, `get_documents first page ${show(got)}, expected ${show(sorted.slice(0, limit))}`);
      return;
    }
    case "delete": {
      if (!coll) fail(run, "delete succeeded on a collection that does not exist");
      const out = sc as {
        deleted: number;
        not_found: string[];
        dropped_collection: boolean;
        dry_run?: boolean;
      };
      const dry = args.dry_run === true;
      if ((out.dry_run ?? false) !== dry) fail(run, `delete: dry_run=${out.dry_run}`);
      let gone: string[];
      if (args.ids !== undefined) {
        const requested = [...new Set(args.ids as string[])];
        gone = requested.filter((id) => coll.docs.has(id));
        const missing = requested.filter((id) => !coll.docs.has(id));
        if (!same(out.not_found, missing))
          fail(run, `delete: not_found ${show(out.not_found)}, expected ${show(missing)}`);
      } else if (args.where !== undefined) {
        const expected = expectedIds(args.where, coll);
        if (expected instanceof Refused)
          fail(run, `delete accepted a filter the reference refuses (${expected.message})`);
        if (isPlain(args.where) && Object.keys(args.where).length === 0)
          fail(run, "delete accepted an empty where");
        gone = [...expected];
      } else {
        gone = [...coll.docs.keys()];
        if (!out.dropped_collection) fail(run, "drop_collection did not report dropped_collection");
        if (!dry) model.delete(collection);
      }
      if (out.deleted !== gone.length)
        fail(run, `delete: deleted ${out.deleted}, expected ${gone.length} (${show(gone)})`);
      if (!dry) for (const id of gone) coll.docs.delete(id);
      return;
    }
    case "list_collections":
      return; // checkState compares the listing with the model after every step.
    default:
      fail(run, `tool ${tool} succeeded but does not exist`);
  }
}

/** The server answers, and every collection holds exactly what the model says (read whole, by paging). */
async function checkState(run: Run): Promise<void> {
  const listed = await invoke(run.h, "list_collections", {});
  if (listed.kind !== "ok") fail(run, `list_collections failed after the step: ${show(listed)}`);
  const collections = (
    listed.sc as { collections: Array<{ name: string; count: number; dimensions: number }> }
  ).collections;
  const names = collections.map((c) => c.name).sort();
  const expectedNames = [...run.model.keys()].sort();
  if (!same(names, expectedNames)) fail(run, `collections ${show(names)}, expected ${show(expectedNames)}`);
  for (const c of collections) {
    const coll = run.model.get(c.name) as CollectionModel;
    if (c.count !== coll.docs.size)
      fail(run, `"${c.name}" holds ${c.count} documents, expected ${coll.docs.size}`);
    if (c.dimensions !== 64) fail(run, `"${c.name}" has ${c.dimensions} dimensions`);
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await invoke(run.h, "get_documents", {
        collection: c.name,
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      if (page.kind !== "ok") fail(run, `reading "${c.name}" failed: ${show(page)}`);
      const out = page.sc as { documents: Array<{ id: string } & Doc>; next_cursor: string | null };
      for (const d of out.documents) {
        const doc = coll.docs.get(d.id);
        if (!doc || seen.has(d.id) || doc.text !== d.text || !same(doc.metadata, d.metadata))
          fail(run, `"${c.name}" holds ${show(d)}, expected ${show(doc ?? "nothing with that id")}`);
        seen.add(d.id);
      }
      cursor = out.next_cursor ?? undefined;
    } while (cursor);
    if (seen.size !== coll.docs.size)
      fail(run, `"${c.name}": read ${seen.size} documents of ${coll.docs.size}`);
  }
}

/**
 * Every metadata column holds a value exactly for the documents that have the key, and that value
 * behaves like the one returned in `metadata`: probe filters that any present value satisfies, and a
 * range split at 0, must select what the reference selects (once per run: it costs a call per probe).
 */
async function checkColumns(run: Run): Promise<void> {
  const probes: Record<Kind, unknown[]> = {
    string: [{ $ne: "\u0001never" }],
    number: [{ $ne: 1.2345678912345e-300 }, { $gte: 0 }],
    boolean: [{ $in: [true, false] }, true],
    "string[]": [{ $nin: ["\u0001never"] }],
  };
  for (const [name, coll] of run.model) {
    for (const [key, kind] of coll.kinds) {
      for (const probe of probes[kind]) {
        const where = objectOf([[key, probe]]);
        const expected = [...(expectedIds(where, coll) as Set<string>)].sort(byCodeUnits);
        const page = await invoke(run.h, "get_documents", { collection: name, where, limit: 100 });
        if (page.kind !== "ok") fail(run, `get_documents ${show(where)} on "${name}" failed: ${show(page)}`);
        const out = page.sc as { documents: Array<{ id: string }>; total: number };
        const got = out.documents.map((d) => d.id);
        if (out.total !== expected.length || !same(got, expected.slice(0, 100)))
          fail(
            run,
            `"${name}": ${show(where)} selects ${show(got)} (${out.total}), expected ${show(expected)}`,
          );
      }
    }
  }
}

function listDir(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/**
 * Nothing new outside the database directory; inside it, only `<collection>[.gN].lance` directories
 * and `.locks`, the cross-process lock directory, holding only `<collection>.lock` entries.
 */
function checkFiles(run: Run): void {
  const walk = (dir: string, rel: string): void => {
    for (const entry of readdirSync(dir)) {
      const relPath = rel ? `${rel}/${entry}` : entry;
      if (!run.allowed.has(relPath)) fail(run, `a file outside the database: ${path.join(dir, entry)}`);
      if (path.join(dir, entry) !== run.h.dbPath) walk(path.join(dir, entry), relPath);
    }
  };
  walk(run.base, "");
  const onlyDirectories = (dir: string, pattern: RegExp) => {
    for (const entry of listDir(dir)) {
      // A lock may be released between the listing and the stat: a vanished entry is fine.
      const isDirectory = statSync(path.join(dir, entry), { throwIfNoEntry: false })?.isDirectory() ?? true;
      if (!pattern.test(entry) || !isDirectory) fail(run, `unexpected entry in ${dir}: ${show(entry)}`);
    }
  };
  onlyDirectories(run.h.dbPath, COLLECTION_DIR);
  onlyDirectories(path.join(run.h.dbPath, ".locks"), LOCK_DIR);
  // The shared temp dir and / change under other processes: only names an escape could make count there.
  for (const [dir, before] of run.outside) {
    for (const entry of listDir(dir)) {
      if (!before.has(entry) && (dir === "/" || /\.lance$|^(x|etc|passwd|share)$/.test(entry)))
        fail(run, `new entry ${show(entry)} in ${dir}`);
    }
  }
}

async function withRun(body: (run: Run) => Promise<void>): Promise<void> {
  // The database sits four levels down a private directory, so "../"-style escapes land where we look.
  const base = mkdtempSync(path.join(tmpdir(), "vmm-fuzz-"));
  const levels = ["l1", "l1/l2", "l1/l2/l3", "l1/l2/l3/l4"];
  mkdirSync(path.join(base, "l1", "l2", "l3", "l4"), { recursive: true });
  const dbPath = path.join(base, "l1", "l2", "l3", "l4", "db");
  const outside = new Map([tmpdir(), "/"].map((dir) => [dir, listDir(dir)]));
  const h = await startHarness({ dbPath });
  const run: Run = {
    h,
    model: new Map(),
    base,
    allowed: new Set([...levels, "l1/l2/l3/l4/db", "l1/l2/l3/l4/cache"]),
    outside,
    log: [],
  };
  try {
    await h.client.listTools(); // from now on the client validates structuredContent against each outputSchema
    await h.ok("add_documents", { collection: "seed", documents: SEED_DOCS });
    applyAdd(
      run.model,
      "seed",
      SEED_DOCS,
      SEED_DOCS.map((d) => d.id as string),
    );
    await checkState(run);
    await body(run);
  } finally {
    await h.close();
    rmSync(base, { recursive: true, force: true });
  }
}

describe("fuzz: the tools under generated valid and hostile input", () => {
  it(
    `stay up, answer clearly, change nothing on refusal and write only their directory (${RUNS} runs, seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 10 }), async (steps) => {
          await withRun(async (run) => {
            for (const s of steps) await playStep(run, s);
            await checkColumns(run);
          });
        }),
        { numRuns: RUNS, seed: SEED },
      );
      if (VERBOSE)
        console.log(
          [...tally]
            .sort()
            .map(([k, v]) => `${k}: ${v}`)
            .join("\n"),
        );
    },
    Math.max(60_000, RUNS * 4_000),
  );
});

/**
 * The bugs the fuzzer found, each as its minimal reproduction. Unpaired surrogates and a leading U+FEFF
 * may be refused or stored exactly; anything else (a silent change) is the bug.
 */
describe("fuzz findings", () => {
  let h: Harness;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  /** Refused with a clear error, or stored and read back exactly: either is fine, silent change is not. */
  async function refusedOrExact(documents: NewDoc[]): Promise<void> {
    const added = await h.call("add_documents", { collection: "k", documents });
    if (added.isError) {
      expect(text(added)).not.toMatch(BUG_TEXT);
      expect(await h.error("get_documents", { collection: "k" })).toMatch(/does not exist/);
      return;
    }
    const ids = documents.map((d) => d.id as string);
    const got = await h.ok<{ documents: Array<{ id: string } & Doc>; not_found: string[] }>("get_documents", {
      collection: "k",
      ids,
    });
    expect(got.not_found).toEqual([]);
    expect(got.documents).toEqual(
      documents.map((d) => ({ id: d.id, text: d.text, metadata: d.metadata ?? {} })),
    );
    const all = await h.ok<{ documents: Array<{ id: string }> }>("get_documents", { collection: "k" });
    expect(all.documents.map((d) => d.id).sort()).toEqual([...ids].sort());
  }

  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  // 1. Arrow encodes strings with TextEncoder, which turns an unpaired surrogate into U+FFFD: the text
  // was stored changed, and ids "\ud800" and "\udc00" became one stored id, twice.
  it("1a: a text with an unpaired surrogate is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "u", text: "a\ud800b" }]);
  });
  it("1b: ids '\\ud800' and '\\udc00' are refused or stay two ids", async () => {
    await refusedOrExact([
      { id: "\ud800", text: "one" },
      { id: "\udc00", text: "two" },
    ]);
  });

  // 2. Strings are read back through TextDecoder, which drops a leading U+FEFF: "\ufeffhello" came back
  // as "hello"; an id "\ufeffid" came back from search as "id", could not be fetched, and delete by it
  // deleted the row while reporting it in not_found.
  it("2a: a text starting with U+FEFF is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "t", text: "\ufeffhello" }]);
  });
  it("2b: an id starting with U+FEFF is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "\ufeffid", text: "bom id" }]);
  });

  // 3. The store filled each metadata column from `row.metadata[key]`, so a document without the key
  // `constructor` (toString, valueOf...) got Object.prototype's member in that column, and filters,
  // delete included, matched documents that do not have the key.
  it("3: a filter on `constructor` matches only documents with that key", async () => {
    await h.ok("add_documents", {
      collection: "k",
      documents: [
        { id: "a", text: "has it", metadata: { constructor: "c" } },
        { id: "b", text: "does not" },
      ],
    });
    const out = await h.ok<{ ids: string[] }>("delete", {
      collection: "k",
      where: { constructor: { $ne: "zz" } },
      dry_run: true,
    });
    expect(out.ids).toEqual(["a"]);
  });

  // 4. zod's record() drops an own `__proto__` key, so a top-level `__proto__` condition in `where`
  // vanished instead of being refused: this delete would have removed every document with n >= 1.
  it("4: a top-level __proto__ key in where is refused", async () => {
    await h.ok("add_documents", { collection: "k", documents: [{ id: "a", text: "x", metadata: { n: 1 } }] });
    const where = JSON.parse('{"__proto__": {"n": 5}, "n": {"$gte": 1}}') as Record<string, unknown>;
    expect(await h.error("delete", { collection: "k", where, dry_run: true })).not.toMatch(BUG_TEXT);
  });

  // 5. The same zod behaviour dropped a `__proto__` metadata key: the add succeeded without it.
  it("5: a __proto__ metadata key is refused or kept", async () => {
    const metadata = JSON.parse('{"__proto__": 1, "n": 3}') as Record<string, unknown>;
    await refusedOrExact([{ id: "p", text: "proto", metadata }]);
  });

  // 6. JSON can carry -0 (Python's json.dumps(-0.0) is "-0.0"). The metadata JSON returned 0, but the
  // typed column kept -0.0, which Arrow orders below 0.0: {"n": 0} and {"n": {"$gte": 0}} missed the
  // document and {"n": {"$lt": 0}} found it.
  it("6: a metadata value -0 behaves as 0 in filters", async () => {
    const args = JSON.parse(
      '{"collection": "k", "documents": [{"id": "z", "text": "zero", "metadata": {"n": -0.0}}]}',
    );
    await h.ok("add_documents", args);
    const ids = async (where: string) =>
      (
        await h.ok<{ documents: Array<{ id: string }> }>("get_documents", {
          collection: "k",
          where: JSON.parse(where),
        })
      ).documents.map((d) => d.id);
    expect(await ids('{"n": 0}')).toEqual(["z"]);
    expect(await ids('{"n": {"$gte": 0}}')).toEqual(["z"]);
    expect(await ids('{"n": {"$lt": 0}}')).toEqual([]);
  });
});
