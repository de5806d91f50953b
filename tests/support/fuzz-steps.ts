/** The fuzzer's steps: one generated call to a tool, valid or with one field made hostile. */
import fc from "fast-check";
import {
  anyString,
  anyWhere,
  badId,
  hostileString,
  invalidDoc,
  typedFilter,
  validDoc,
  validId,
  wrongType,
} from "./fuzz-arbitraries.js";
import { COLLECTIONS, filled, numbered, objectOf, PATHS, repeat, wellFormed } from "./fuzz-values.js";

// Steps: a valid call, or the same call with one field replaced by a hostile value, or removed.
// `valid` marks the unchanged ones, which must succeed whenever the model says their preconditions hold.
export type Route = "json" | "raw";
export interface Step {
  tool: string;
  args: unknown;
  route: Route;
  valid?: boolean;
}
export const route = fc.constantFrom<Route>("json", "json", "raw");
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

export function calls(
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

/** A valid collection name, mostly the seeded one. */
export const validCollection = fc.oneof(
  { weight: 3, arbitrary: fc.constant("seed") },
  { weight: 1, arbitrary: fc.constantFrom(...COLLECTIONS) },
);
/** A hostile collection name: path-like, hostile characters, or not a string. */
export const hostileCollection = fc.oneof(fc.constantFrom<unknown>(...PATHS), hostileString, wrongType);
export const validDocs = fc.uniqueArray(validDoc, {
  minLength: 1,
  maxLength: 5,
  selector: (d) => d.id ?? Symbol(),
});
export const addDocumentsStep = calls(
  "add_documents",
  fc.record({ collection: validCollection, documents: validDocs }),
  {
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
  },
);
export const bulkAddStep = fc.constant<Step>({
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

/** A non-blank, well-formed search_similar query, mostly hostile characters after a word. */
export const validSearchQuery = fc
  .tuple(fc.constantFrom("fox ", "note ", "the ", ""), hostileString)
  .map(([word, rest]) => wellFormed(`${word}${rest}`))
  .filter((q) => q.trim().length > 0);
export const searchSimilarStep = calls(
  "search_similar",
  fc.record(
    {
      collection: validCollection,
      query: validSearchQuery,
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
    where: anyWhere,
    mode: fc.constantFrom<unknown>("SEMANTIC", "", "both", 5, null, ["semantic"]),
    min_score: fc.constantFrom<unknown>(1.5, -2, Number.NaN, Number.NEGATIVE_INFINITY, "0.3", null),
    diversity: fc.constantFrom<unknown>(-0.1, 2, Number.NaN, "0", null),
    include_text: fc.constantFrom<unknown>("false", 0, null, []),
    max_chars: fc.constantFrom<unknown>(199, 100_001, 2.5, -1, 0, Infinity, "200"),
  },
);

const SEED_IDS = ["a", "' OR 1=1 --", "__proto__", "constructor", "🦊", "b", "nope"];
export const validIds = fc.array(fc.oneof(fc.constantFrom(...SEED_IDS), validId), {
  minLength: 1,
  maxLength: 4,
});
export const hostileIds = fc.oneof(
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
export const deleteStep = calls(
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
    where: anyWhere,
    drop_collection: fc.oneof(fc.constantFrom<unknown>(false, "true", 1), wrongType),
    dry_run: fc.constantFrom<unknown>("true", 1, null, "yes"),
  },
);
export const validCursor = validId.map((after) =>
  Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url"),
);
export const getDocumentsStep = calls(
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
    where: anyWhere,
    limit: fc.constantFrom<unknown>(0, 101, 2.5, "5", -1, Number.NaN, null),
    cursor: fc.constantFrom<unknown>("", "x", "!!!", "eyJhZnRlciI6MX0", "bnVsbA", repeat("x", 2001), 5, null),
  },
);
export const listCollectionsStep = calls("list_collections", fc.constant({}), {
  extra: fc.jsonValue({ maxDepth: 2 }),
});
/** Hostile filters on the seeded collection, where they can match (or wrongly delete) something. */
export const seededFilterStep = fc
  .tuple(fc.constantFrom("search_similar", "get_documents", "delete"), anyWhere, fc.boolean(), route)
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
export const malformedCallStep = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("add_documents", "search_similar", "get_documents", "delete", "list_collections"),
      wrongType,
    )
    .map(([tool, args]): Step => ({ tool, args, route: "raw" })),
  fc.constant<Step>({ tool: "no_such_tool", args: {}, route: "json" }),
  fc.constant<Step>({ tool: "__proto__", args: {}, route: "json" }),
);
/** One step of a fuzz run, drawn across all the tools. */
export const anyStep = fc.oneof(
  { weight: 8, arbitrary: addDocumentsStep },
  { weight: 5, arbitrary: searchSimilarStep },
  { weight: 5, arbitrary: deleteStep },
  { weight: 3, arbitrary: getDocumentsStep },
  { weight: 3, arbitrary: seededFilterStep },
  { weight: 1, arbitrary: listCollectionsStep },
  { weight: 1, arbitrary: malformedCallStep },
  { weight: 1, arbitrary: bulkAddStep },
);
