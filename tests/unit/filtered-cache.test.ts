import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { parseWhere } from "../../src/filter.js";
import { silentLogger } from "../../src/logger.js";
import { compareCodePoints } from "../../src/store/filter-match.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { VectorCache } from "../../src/store/vector-cache.js";
import type { ChunkToWrite, Metadata } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { random } from "../support/random.js";

/**
 * Filtered searches answered by the vector cache (the filter evaluated in memory on the rows'
 * metadata columns) against LanceDB's own filtered exact search on the same directory: the same
 * hits in the same order, for random filters over random metadata, through writes applied in place.
 */

const DIM = 24;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };
// Strings that order differently by UTF-16 unit and by code point, and some that look like SQL.
const WORDS = ["a", "B", "b", "é", "zz", "\u{1F600}", "\uFF21", "it's", "%", ""];
const TAGS = ["x", "y", "z", "\u{1F600}"];

const next = random(11);
const vector = () => Float32Array.from({ length: DIM }, () => next() - 0.5);
const pickOf = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
function metadata(): Metadata {
  const meta: Metadata = {};
  if (next() < 0.7) meta.n = pickOf([-2, -1, 0, 1, 2, 3, 0.5, 2.25, 1e6]);
  if (next() < 0.7) meta.s = pickOf(WORDS);
  if (next() < 0.7) meta.flag = next() < 0.5;
  if (next() < 0.6) meta.tags = TAGS.filter(() => next() < 0.4);
  if (next() < 0.05) meta.rare = "yes";
  return meta;
}
function docs(from: number, count: number): ChunkToWrite[] {
  const rows: ChunkToWrite[] = [];
  for (let i = from; i < from + count; i++) {
    const meta = metadata();
    // Every fifth document is two chunks, both with its metadata.
    const chunks = i % 5 === 0 ? 2 : 1;
    for (let chunk = 0; chunk < chunks; chunk++)
      rows.push({
        id: `d${i}`,
        text: `doc ${i} part ${chunk}`,
        metadata: meta,
        vector: vector(),
        chunk,
        start: chunk * 10,
      });
  }
  return rows;
}

const number = fc.constantFrom(-2, -1, 0, 1, 2, 3, 0.5, 2.25, 1e6, 1.5);
const word = fc.constantFrom(...WORDS, ...TAGS);
const anyScalar = fc.oneof(number, word, fc.boolean());
/** Values of the key's own type, and now and then of another (which both stores must refuse alike). */
const valueFor = (key: string): fc.Arbitrary<string | number | boolean> => {
  const own = key === "n" ? number : key === "flag" ? fc.boolean() : word;
  return fc.oneof({ weight: 9, arbitrary: own }, { weight: 1, arbitrary: anyScalar });
};
const key = fc.constantFrom("n", "s", "flag", "tags", "rare", "ghost");
const ops = (k: string) =>
  // Lists of strings take $eq/$ne only; asking for an order is refused (both stores alike).
  k === "tags"
    ? fc.constantFrom("$eq", "$ne", "$eq", "$ne", "$gt")
    : fc.constantFrom("$eq", "$ne", "$gt", "$gte", "$lt", "$lte");
const condition = key.chain((k) =>
  fc.oneof(
    valueFor(k).map((value) => ({ [k]: value })),
    fc.tuple(ops(k), valueFor(k)).map(([op, value]) => ({ [k]: { [op]: value } })),
    fc
      .tuple(fc.constantFrom("$in", "$nin"), fc.array(valueFor(k), { minLength: 1, maxLength: 3 }))
      // One type per list, as the parser wants: the first value's.
      .map(([op, values]) => ({ [k]: { [op]: values.filter((v) => typeof v === typeof values[0]) } })),
  ),
);
const whereArb: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  where: fc.oneof(
    { depthSize: "small" },
    condition,
    fc.record({ $and: fc.array(tie("where"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie("where"), { minLength: 1, maxLength: 3 }) }),
  ),
})).where as fc.Arbitrary<Record<string, unknown>>;

let cleanup: () => void;
let cached: LanceStore;
let flat: LanceStore;
beforeAll(async () => {
  const made = tempDir();
  cleanup = made.cleanup;
  const dbPath = path.join(made.dir, "db");
  // The store's default: filtered searches answered from the vector cache.
  cached = new LanceStore({ dbPath, logger: silentLogger });
  flat = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
  // "small": below the int8 path's 4096 rows; "large": above it (masked int8 scan and subsets).
  await flat.upsert("small", model, docs(0, 400));
  await flat.upsert("large", model, docs(0, 4500));
});
afterAll(async () => {
  await cached.close();
  await flat.close();
  cleanup();
});

type Outcome = { hits: Array<[string, number, number]> } | { error: string };
async function outcome(
  store: LanceStore,
  collection: string,
  where: Record<string, unknown>,
  q: Float32Array,
  limit: number,
): Promise<Outcome> {
  try {
    const filter = parseWhere(where);
    const hits = await store.search(collection, q, { limit, ...(filter ? { where: filter } : {}) });
    return { hits: hits.map((h) => [h.id, h.chunk, h.distance]) };
  } catch (error) {
    return { error: String(error) };
  }
}

function expectSame(got: Outcome, want: Outcome): void {
  if ("error" in want || "error" in got) {
    expect(got).toEqual(want);
    return;
  }
  expect(got.hits.map(([id, chunk]) => [id, chunk])).toEqual(want.hits.map(([id, chunk]) => [id, chunk]));
  got.hits.forEach(([, , distance], at) => {
    expect(Math.abs(distance - (want.hits[at]?.[2] as number))).toBeLessThan(1e-5);
  });
}

async function property(collection: string, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(whereArb, fc.constantFrom(1, 10, 50), async (where, limit) => {
      const q = vector();
      expectSame(
        await outcome(cached, collection, where, q, limit),
        await outcome(flat, collection, where, q, limit),
      );
    }),
    { numRuns: runs, seed: 17 },
  );
}

describe("filtered search on the vector cache", () => {
  it("gives LanceDB's filtered exact answers for random filters, from the cache", async () => {
    const search = vi.spyOn(VectorCache.prototype, "search");
    await property("small", 250);
    await property("large", 150);
    const answered = await Promise.all(search.mock.results.map((r) => r.value as Promise<unknown>));
    // Every search that was not refused (a type mismatch) was answered by the cache.
    expect(answered.length).toBeGreaterThan(60);
    expect(answered.every((hits) => hits !== undefined)).toBe(true);
    search.mockRestore();
  });

  it("stays exact through its own updates (metadata changed), deletes and a new key", async () => {
    await cached.upsert("small", model, docs(390, 20)); // 10 updated (new metadata), 10 new
    await cached.delete("small", { ids: ["d3", "d10", "d395"] });
    await cached.delete("small", {
      where: parseWhere({ rare: "yes" }) as NonNullable<ReturnType<typeof parseWhere>>,
    });
    await cached.upsert("small", model, [
      { id: "d1", text: "new key", metadata: { fresh: 1, n: 2 }, vector: vector() },
    ]);
    await property("small", 30);
    const q = vector();
    expectSame(
      await outcome(cached, "small", { fresh: 1 }, q, 10),
      await outcome(flat, "small", { fresh: 1 }, q, 10),
    );
  });
});

describe("compareCodePoints", () => {
  it("orders strings as their UTF-8 bytes do", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(Math.sign(compareCodePoints(a, b))).toBe(bytes);
      }),
    );
  });
});
