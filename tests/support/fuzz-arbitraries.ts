/**
 * fast-check arbitraries for the tools' inputs, valid and hostile: strings, ids, texts, metadata,
 * documents and `where` filters. The fuzzer's steps (fuzz-steps.ts) build calls from them; other
 * property tests may import them too.
 */
import fc from "fast-check";
import {
  BAD_KEYS,
  BAD_VALUES,
  filled,
  HOSTILE,
  KEY_KINDS,
  KEYS,
  type Kind,
  Lazy,
  NUMBERS,
  numbered,
  objectOf,
  repeat,
  storable,
  WRONG_TYPES,
  wellFormed,
} from "./fuzz-values.js";

/** Short strings from the hostile pools, their concatenations, and random binary and grapheme strings. */
export const hostileString = fc.oneof(
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
/** A long repeated character (255 to 100,001 of them) around the tools' length limits, built lazily. */
export const longString = fc
  .tuple(
    fc.constantFrom(255, 256, 257, 4096, 4097, 10_000, 10_001, 100_000, 100_001),
    fc.constantFrom("x", "é", "🦊", "'", "\\", "\u0301"),
  )
  .map(([n, c]) => repeat(c, n));
/** A hostile string, sometimes a long one. */
export const anyString = fc.oneof(
  { weight: 6, arbitrary: hostileString as fc.Arbitrary<string | Lazy> },
  { weight: 1, arbitrary: longString },
);
/** A value of the wrong type for a string or object field: null, numbers, arrays, objects, JSON. */
export const wrongType = fc.oneof(fc.constantFrom(...WRONG_TYPES), fc.jsonValue({ maxDepth: 2 }));
/** Awkward numbers (-0, extremes, subnormals, 2^53 + 2...), any finite double, any integer. */
export const anyNumber = fc.oneof(
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
/** An id the tools must accept and store exactly: SQL-ish, prototype names, odd Unicode. */
export const validId = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ID_POOL) },
    { weight: 2, arbitrary: hostileString.filter((s) => s.length >= 1 && s.length <= 256 && noControl(s)) },
  )
  .map(storable);
/** An id the tools must refuse: empty, control characters, too long, unpaired surrogates, not a string. */
export const badId = fc.oneof(
  fc.constantFrom<unknown>("", "\u0000", "a\u0000b", "tab\tid", "nl\n", "\u007f", repeat("x", 257)),
  fc.constantFrom<unknown>("\ud800", "\udc00", "a\ud800b", "\ufeff", "\ufeffid"),
  wrongType.filter((v) => typeof v !== "string" && v !== undefined),
);
/** A document text the tools must accept (non-blank, storable), sometimes long. */
export const validText = fc
  .tuple(fc.constantFrom("fox ", "note ", "alpha ", "ünï ", ""), anyString)
  .filter(([word, rest]) => word !== "" || rest instanceof Lazy || rest.trim().length > 0)
  .map(([word, rest]) =>
    rest instanceof Lazy
      ? new Lazy(`${JSON.stringify(word)} + ${rest.label}`, () =>
          storable(`${word}${rest.make() as string}`.slice(0, 100_000)),
        )
      : storable(`${word}${rest}`),
  );
/** A document text the tools must refuse. */
export const badText = fc.oneof(
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
  number: fc.oneof({ weight: 8, arbitrary: anyNumber }, { weight: 1, arbitrary: fc.constant(-0) }),
  boolean: fc.boolean(),
  "string[]": fc.oneof(
    fc.array(fc.oneof(fc.constantFrom(...SEED_STRINGS), hostileString.map(wellFormed)), { maxLength: 4 }),
    fc.constant([]),
    fc.constant(filled(100, "v")),
  ),
};
/** Metadata with the usual type for each key (KEY_KINDS), so valid calls never conflict. */
export const validMetadata = fc
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
/** Metadata to refuse: a bad key or value, a conflicting type, too many keys, not an object. */
export const badMetadata = fc.oneof(
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

/** A document for add_documents that must be accepted. */
export const validDoc = fc.record(
  { id: validId, text: validText, metadata: validMetadata },
  { requiredKeys: ["text"] },
);
/** A document for add_documents that must be refused. */
export const invalidDoc = fc.oneof(
  fc.record({ id: badId, text: validText }),
  fc.record({ text: badText }),
  fc.record({ id: validId, text: validText, metadata: badMetadata }),
  fc.record({ text: validText, embedding: fc.constant([0.1, 0.2]), score: anyNumber, vector: wrongType }),
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
  { weight: 3, arbitrary: anyNumber },
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
export const { filter: grammarFilter } = fc.letrec<{
  filter: Record<string, unknown>;
  entry: [string, unknown];
}>((tie) => ({
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
}));
/** A filter nested 6 to 50 levels deep in $and or $or (the limit is 8). */
export const deepFilter = fc
  .tuple(grammarFilter, fc.constantFrom(6, 7, 8, 50), fc.constantFrom("$and", "$or"))
  .map(([base, levels, op]) => {
    let where: Record<string, unknown> = base;
    for (let i = 0; i < levels; i++) where = { [op]: [where] };
    return where;
  });
/** An $or of 100 to 10,000 conditions (the limit is 100). */
export const wideFilter = fc
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
    { weight: 1, arbitrary: anyNumber },
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
/** A valid filter over the seeded keys (and sometimes others) with values of each key's usual type. */
export const { filter: typedFilter } = fc.letrec<{
  filter: Record<string, unknown>;
  entry: [string, unknown];
}>((tie) => ({
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
}));

/** Any `where` value for a hostile call: grammar filters, valid ones with one bad entry, deep, wide, not objects. */
export const anyWhere = fc.oneof(
  { weight: 6, arbitrary: grammarFilter as fc.Arbitrary<unknown> },
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
