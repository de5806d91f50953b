import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { type Filter, parseWhere } from "../../src/filter.js";
import { createLogger, silentLogger } from "../../src/logger.js";
import { CommitFeed } from "../../src/store/commits.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { topK } from "../../src/store/simd-scan.js";
import { type CacheSource, VectorCache } from "../../src/store/vector-cache.js";
import type { ChunkToWrite, Hit, KeywordHit } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { random } from "../support/random.js";

// 37 dimensions: not a multiple of the kernel's 16 lanes, so the padding is exercised too.
const DIM = 37;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };

const next = random(7);
/** Not normalised: lengths vary, as cosine must not care. */
const vector = () => Float32Array.from({ length: DIM }, () => (next() - 0.5) * (1 + next() * 3));
const doc = (id: string, n = Number(id.slice(1))): ChunkToWrite => ({
  id,
  text: `text of ${id}`,
  vector: vector(),
  metadata: { n, even: n % 2 === 0 },
});
const docs = (from: number, count: number, prefix = "r") =>
  Array.from({ length: count }, (_, i) => doc(`${prefix}${from + i}`, from + i));

let dir: string;
let dbPath: string;
let cleanup: () => void;
let cached: LanceStore;
/** The same directory without a cache: every search is LanceDB's flat search. */
let flat: LanceStore;
/** The cache keeps rows' text and metadata too (as on object storage) in the second run of the suite. */
let cacheRows = false;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  dbPath = path.join(dir, "db");
  cached = new LanceStore({ dbPath, logger: silentLogger, cacheRows });
  flat = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await cached.close();
  await flat.close();
  cleanup();
});

/**
 * Hits whose distances differ by less than float rounding (the SIMD kernel's sums and LanceDB's
 * differ in the 7th digit) in id order among themselves: such a tie may come either way.
 */
function tiesById(hits: Hit[]): Hit[] {
  const sorted = [...hits];
  for (let swapped = true; swapped; ) {
    swapped = false;
    for (let i = 0; i + 1 < sorted.length; i++) {
      const [a, b] = [sorted[i] as Hit, sorted[i + 1] as Hit];
      if (Math.abs(a.distance - b.distance) < 1e-6 && `${a.id}:${a.chunk}` > `${b.id}:${b.chunk}`) {
        [sorted[i], sorted[i + 1]] = [b, a];
        swapped = true;
      }
    }
  }
  return sorted;
}

/** Both stores answer the same queries with the same ids (ties aside), distances within 1e-5. */
async function expectSameAsFlat(collection = "c", queries = 8, limit = 10): Promise<void> {
  for (let i = 0; i < queries; i++) {
    const q = vector();
    const got = tiesById(await cached.search(collection, q, { limit }));
    const want = tiesById(await flat.search(collection, q, { limit }));
    expect(got.map((h) => [h.id, h.chunk, h.start])).toEqual(want.map((h) => [h.id, h.chunk, h.start]));
    got.forEach((hit: Hit, at) => {
      expect(Math.abs(hit.distance - (want[at] as Hit).distance)).toBeLessThan(1e-5);
      expect(hit.text).toBe(want[at]?.text);
      expect(hit.metadata).toEqual(want[at]?.metadata);
      expect([hit.createdAt, hit.updatedAt]).toEqual([want[at]?.createdAt, want[at]?.updatedAt]);
    });
  }
}

describe.each([false, true])("vector cache (rows kept: %s)", (keepRows) => {
  beforeAll(() => {
    cacheRows = keepRows;
  });
  afterAll(() => {
    cacheRows = false;
  });

  it("answers exactly as LanceDB's flat search on random data, from the cache", async () => {
    const search = vi.spyOn(VectorCache.prototype, "search");
    await cached.upsert("c", model, docs(0, 600));
    await expectSameAsFlat("c", 10, 10);
    await expectSameAsFlat("c", 2, 700); // more than there are rows
    expect(search).toHaveBeenCalled();
    for (const result of search.mock.results) expect(await result.value).toBeDefined();
  });

  it("answers exactly from the int8 copy too (collections of 4096 rows and more)", async () => {
    await cached.upsert("c", model, docs(0, 5000));
    await expectSameAsFlat("c", 12, 10);
    await expectSameAsFlat("c", 2, 50);
  });

  it("stays exact when thousands of rows tie (the int8 bound cannot separate them)", async () => {
    const same = vector();
    const rows = docs(0, 5000).map((row, i) => (i < 4000 ? { ...row, vector: same } : row));
    await cached.upsert("c", model, rows);
    for (const q of [same, vector()]) {
      const got = await cached.search("c", q, { limit: 10 });
      const want = await flat.search("c", q, { limit: 10 });
      got.forEach((hit, at) => {
        expect(Math.abs(hit.distance - (want[at] as Hit).distance)).toBeLessThan(1e-5);
      });
    }
  });

  it("returns stored vectors when asked", async () => {
    const rows = docs(0, 50);
    await cached.upsert("c", model, rows);
    const [hit] = await cached.search("c", rows[3]?.vector as Float32Array, { limit: 1, withVectors: true });
    expect(hit?.id).toBe("r3");
    expect(Array.from(hit?.vector ?? [])).toEqual(Array.from(rows[3]?.vector ?? []));
  });

  it("stays consistent through its own upserts, updates and deletes, applied without reloading", async () => {
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    // Written without a cache, so the cached store loads it on its first search.
    await flat.upsert("c", model, docs(0, 300));
    await expectSameAsFlat();
    await cached.upsert("c", model, docs(300, 5)); // new rows
    await cached.upsert("c", model, [doc("r1"), doc("r7"), doc("r301")]); // updates
    await expectSameAsFlat();
    await cached.delete("c", { ids: ["r2", "r304", "missing"] });
    await expectSameAsFlat();
    expect(loads).toHaveBeenCalledTimes(1);
    // A delete by filter too: the store reads which documents match before it deletes them.
    await cached.delete("c", { where: parseWhere({ even: true }) as Filter });
    await expectSameAsFlat();
    expect(loads).toHaveBeenCalledTimes(1);
    // A new metadata key adds a column first: a commit that changes no vector, followed as well.
    await cached.upsert("c", model, [{ ...doc("r9"), metadata: { n: 9, extra: "new key" } }]);
    await expectSameAsFlat();
    expect(loads).toHaveBeenCalledTimes(1);
    expect((await cached.search("c", vector(), { limit: 1000 })).length).toBe(
      (await cached.getCollection("c"))?.count,
    );
  });

  it("waits for its own commit's publication, not reloading, when a search reads that version first", async () => {
    await cached.upsert("c", model, docs(0, 50));
    await cached.search("c", vector(), { limit: 1 }); // loaded
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    const publish = CommitFeed.prototype.publish;
    let landed: () => void = () => {};
    const inLance = new Promise<void>((resolve) => {
      landed = resolve;
    });
    vi.spyOn(CommitFeed.prototype, "publish").mockImplementation(async function (this: CommitFeed, commit) {
      landed();
      await new Promise((resolve) => setTimeout(resolve, 100));
      return publish.call(this, commit);
    });
    const fresh = doc("r900");
    const writing = cached.upsert("c", model, [fresh]);
    await inLance; // LanceDB has the commit; the cache has not heard of it yet
    const hits = await cached.search("c", fresh.vector, { limit: 1 });
    await writing;
    expect(hits[0]?.id).toBe("r900");
    expect(loads).not.toHaveBeenCalled();
  });

  it("applies its own commits published while it loads once the load is in, not loading again", async () => {
    await flat.upsert("c", model, docs(0, 50)); // not in this store's cache yet
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    type Sourcing = { cacheSourceOf: (...args: unknown[]) => CacheSource };
    const prototype = LanceStore.prototype as unknown as Sourcing;
    const sourceOf = prototype.cacheSourceOf;
    const during = [doc("r901"), doc("r2")]; // a new document and an update
    let wrote = false;
    vi.spyOn(prototype, "cacheSourceOf").mockImplementation(function (this: unknown, ...args) {
      const source = sourceOf.apply(this, args);
      return {
        ...source,
        vectors: async function* () {
          for await (const batch of source.vectors()) {
            yield batch;
            // Mid-load: this commit lands and is published before the entry is in.
            if (!wrote) {
              wrote = true;
              await cached.upsert("c", model, during);
            }
          }
        },
      };
    });
    await cached.search("c", vector(), { limit: 1 });
    expect(wrote).toBe(true);
    for (const row of during)
      expect((await cached.search("c", row.vector, { limit: 1 }))[0]?.id).toBe(row.id);
    await expectSameAsFlat();
    expect(loads).toHaveBeenCalledTimes(1);
  });

  it("answers from memory while its own compaction runs beside the writes, not reloading", async () => {
    const rows = docs(0, 120);
    for (let i = 0; i < rows.length; i += 20) await cached.upsert("c", model, rows.slice(i, i + 20));
    await expectSameAsFlat();
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    const publish = CommitFeed.prototype.publish;
    let during: Hit[] | undefined;
    vi.spyOn(CommitFeed.prototype, "publish").mockImplementation(async function (this: CommitFeed, commit) {
      // The compaction has committed (fragments merged, rows moved) and is not yet published.
      if (commit.kind === "optimize" && !during)
        during = await cached.search("c", (rows[5] as ChunkToWrite).vector, { limit: 1 });
      return publish.call(this, commit);
    });
    await cached.compact("c");
    expect(during?.[0]?.id).toBe("r5");
    expect(during?.[0]?.text).toBe("text of r5");
    await expectSameAsFlat();
    expect(loads).not.toHaveBeenCalled();
  });

  it("sees writes made by another store on the same directory (another process)", async () => {
    await cached.upsert("c", model, docs(0, 200));
    await expectSameAsFlat();
    const other = new LanceStore({ dbPath, logger: silentLogger });
    await other.upsert("c", model, [...docs(200, 10), doc("r5")]);
    await expectSameAsFlat();
    await other.delete("c", { ids: ["r6", "r201"] });
    await expectSameAsFlat();
    await other.compact("c");
    await expectSameAsFlat();
    await other.close();
  });

  it("caches a collection it creates as it writes, through its own compaction", async () => {
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    for (let i = 0; i < 5; i++) await cached.upsert("c", model, docs(i * 40, 40));
    await expectSameAsFlat();
    await cached.upsert("c", model, [doc("r3")]);
    await cached.compact("c");
    await expectSameAsFlat();
    await cached.upsert("c", model, docs(1000, 3));
    await expectSameAsFlat();
    // Cached from the creation on: never loaded.
    expect(loads).not.toHaveBeenCalled();
  });

  it("learns the row ids of rows it wrote itself once many lack one, then reads hits by row id", async () => {
    const relocate = vi.spyOn(
      VectorCache.prototype as unknown as { relocate: () => Promise<boolean> },
      "relocate",
    );
    // Created and written by this store: no row id known for any row (no load, no compaction).
    await cached.upsert("c", model, docs(0, 400));
    await expectSameAsFlat("c", 3, 10);
    expect(relocate).toHaveBeenCalledTimes(1);
    expect(await relocate.mock.results[0]?.value).toBe(true);
    // Known now: more searches read rows by row id, and updates since are still found by id.
    await cached.upsert("c", model, [doc("r5"), ...docs(400, 3)]);
    await expectSameAsFlat("c", 6, 50);
    expect(relocate).toHaveBeenCalledTimes(1);
  });

  it("follows the vector index's commit without reloading", async () => {
    await cached.close();
    cached = new LanceStore({ dbPath, logger: silentLogger, vectorIndexMinRows: 300, cacheRows });
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    await cached.upsert("c", model, docs(0, 400));
    await cached.compact("c");
    await cached.vectorIndexSettled("c");
    await expectSameAsFlat();
    expect(loads).not.toHaveBeenCalled();
  });

  it("keeps a document's chunks: a shorter new version and a delete leave none of the old ones", async () => {
    /** A document stored as `count` chunks, as VectorMemory writes a long text. */
    const chunked = (id: string, count: number): ChunkToWrite[] =>
      Array.from({ length: count }, (_, chunk) => ({
        id,
        text: `chunk ${chunk} of ${id}`,
        vector: vector(),
        metadata: { n: count },
        chunk,
        start: chunk * 100,
      }));
    await cached.upsert("c", model, [...docs(0, 50), ...chunked("long", 4)]);
    await expectSameAsFlat("c", 6, 60);
    await cached.upsert("c", model, chunked("long", 2));
    await expectSameAsFlat("c", 6, 60);
    const all = await cached.search("c", vector(), { limit: 100 });
    expect(
      all
        .filter((h) => h.id === "long")
        .map((h) => h.chunk)
        .sort(),
    ).toEqual([0, 1]);
    await cached.upsert("c", model, [...chunked("long", 3), ...chunked("other", 2)]);
    await cached.delete("c", { ids: ["other", "r3"] });
    await expectSameAsFlat("c", 6, 60);
    await cached.delete("c", { where: parseWhere({ n: 3 }) as Filter });
    await expectSameAsFlat("c", 6, 60);
    expect((await cached.search("c", vector(), { limit: 100 })).some((h) => h.id === "long")).toBe(false);
  });

  it("forgets a dropped collection and follows a rebuilt one", async () => {
    await cached.upsert("c", model, docs(0, 100));
    await expectSameAsFlat();
    await cached.dropCollection("c");
    await cached.upsert("c", model, docs(500, 60));
    await expectSameAsFlat();
    expect(
      (await cached.search("c", vector(), { limit: 100 })).every((h) => Number(h.id.slice(1)) >= 500),
    ).toBe(true);
    await cached.rebuildCollection("c", { ...model, model: "random-2" }, async (rows) =>
      rows.map((row) => ({ ...row, vector: vector() })),
    );
    await flat.close();
    flat = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
    await expectSameAsFlat();
  });

  it("sees another store's write after a delete of its own that removed nothing", async () => {
    await cached.upsert("c", model, docs(0, 50));
    await expectSameAsFlat();
    const other = new LanceStore({ dbPath, logger: silentLogger });
    await other.upsert("c", model, docs(900, 1));
    await other.close();
    // Nothing matches: the delete commits nothing, so the version it sees is the other store's.
    expect(await cached.delete("c", { where: parseWhere({ n: -1 }) as Filter })).toEqual({
      deleted: 0,
      notFound: [],
    });
    await cached.delete("c", { ids: ["missing"] });
    expect((await cached.search("c", vector(), { limit: 100 })).some((h) => h.id === "r900")).toBe(true);
    await expectSameAsFlat();
  });

  it("follows a collection another store dropped and re-created", async () => {
    await cached.upsert("c", model, docs(0, 100));
    await expectSameAsFlat();
    const other = new LanceStore({ dbPath, logger: silentLogger });
    await other.dropCollection("c");
    await other.upsert("c", model, docs(700, 30));
    await other.close();
    const hits = await cached.search("c", vector(), { limit: 100 });
    expect(hits.map((h) => h.id).sort()).toEqual(
      docs(700, 30)
        .map((d) => d.id)
        .sort(),
    );
    await expectSameAsFlat();
  });

  it("leaves a collection larger than its memory budget to LanceDB, with the same answers", async () => {
    await cached.close();
    cached = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 10_000, cacheRows });
    await cached.upsert("c", model, docs(0, 300));
    await expectSameAsFlat();
  });

  it("says once on the log, through the logger, that a collection does not fit and goes to LanceDB", async () => {
    await cached.close();
    const lines: string[] = [];
    const logger = createLogger("info", (line) => lines.push(line));
    await flat.upsert("c", model, docs(0, 300));
    cached = new LanceStore({ dbPath, logger, vectorCacheBytes: 10_000 });
    await expectSameAsFlat();
    const tooBig = lines.filter((l) => l.includes("does not fit") || l.includes("needs"));
    expect(tooBig).toHaveLength(1);
    expect(tooBig[0]).toMatch(
      /^\[vector-memory-mcp\] warn: vector cache: collection "c" \(300 rows x 37 dims\)/,
    );
    expect(tooBig[0]).toMatch(/go to LanceDB/);
    expect(tooBig[0]).toMatch(/--vector-cache-mb \/ VECTOR_MEMORY_VECTOR_CACHE_MB/);
    // A new version reloads and still does not fit: not said again.
    await flat.upsert("c", model, docs(300, 5));
    await expectSameAsFlat();
    expect(lines.filter((l) => l.includes("needs"))).toHaveLength(1);
  });

  it("says so when a collection it fills grows past its budget, and not for one that fits", async () => {
    await cached.close();
    const lines: string[] = [];
    const logger = createLogger("info", (line) => lines.push(line));
    // Room for the first 1,536 rows of 37 dimensions, not for 2,304 (as the next test).
    cached = new LanceStore({ dbPath, logger, vectorCacheBytes: 400_000 });
    for (let i = 0; i < 3; i++) await cached.upsert("c", model, docs(i * 1000, 1000));
    const tooBig = lines.filter((l) => l.includes("vector cache"));
    expect(tooBig).toHaveLength(1);
    expect(tooBig[0]).toMatch(
      /collection "c" \(\d+ rows x 37 dims\) needs [\d.]+ MiB but the cache has [\d.]+ MiB free of 0\.4 MiB; its searches go to LanceDB/,
    );
    // And it needs more than it has (it once said "needs 828 MiB but has 1024 MiB free of 1024").
    const [needed, free] = [...(tooBig[0] as string).matchAll(/([\d.]+) MiB/g)].map((m) => Number(m[1]));
    expect(needed).toBeGreaterThan(free as number);
    await expectSameAsFlat();
    // A small collection beside it fits (the big one holds only ids now): nothing more is said.
    await cached.upsert("small", model, docs(0, 50, "s"));
    await cached.search("small", vector(), { limit: 3 });
    expect(lines.filter((l) => l.includes("vector cache"))).toHaveLength(1);
  });

  it("past its budget keeps the ids of a collection it created, to append new rows still", async () => {
    await cached.close();
    // Room for the first 1,536 rows of 37 dimensions, not for 2,304.
    cached = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 400_000, cacheRows });
    const absent = vi.spyOn(VectorCache.prototype, "absent");
    for (let i = 0; i < 3; i++) await cached.upsert("c", model, docs(i * 1000, 1000));
    // The first call creates the collection with its rows; the next two are proven new.
    expect(absent.mock.results.map((r) => r.value)).toEqual([true, true]);
    // An existing id among new ones: merged, not appended.
    await cached.upsert("c", model, [doc("r5"), doc("r3000")]);
    expect(absent.mock.results.at(-1)?.value).toBe(false);
    await cached.upsert("c", model, [doc("r3001")]);
    expect(absent.mock.results.at(-1)?.value).toBe(true);
    expect((await cached.getCollection("c"))?.count).toBe(3002);
    await expectSameAsFlat();
  });

  it("past its budget reads the ids of a collection it opened on a write, to append new rows; not when another process wrote meanwhile", async () => {
    await cached.upsert("c", model, docs(0, 2000));
    await cached.close();
    // 2,000 rows of 37 dimensions do not fit; their ids (~120 kB) do.
    cached = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 300_000, cacheRows });
    const reads = vi.spyOn(VectorCache.prototype, "readIds");
    const absent = vi.spyOn(VectorCache.prototype, "absent");
    // A search finds the collection too big; the first write reads its ids and is appended.
    await cached.search("c", vector(), { limit: 3 });
    await cached.upsert("c", model, docs(2000, 10));
    expect(await reads.mock.results.at(-1)?.value).toBe(true);
    expect(absent.mock.results.at(-1)?.value).toBe(true);
    // The ids follow this store's writes: an existing id is merged, new ones appended, no new read.
    await cached.upsert("c", model, [doc("r5"), doc("r3000")]);
    expect(absent.mock.results.at(-1)?.value).toBe(false);
    await cached.upsert("c", model, [doc("r3001")]);
    expect(absent.mock.results.at(-1)?.value).toBe(true);
    expect(await Promise.all(reads.mock.results.map((r) => r.value))).toEqual([true, false]);
    expect((await cached.getCollection("c"))?.count).toBe(2012);
    await expectSameAsFlat();

    // Another process writes: the ids are stale, the next write merges, and they are not read again
    // at once (each of that process's commits would make them stale again).
    await flat.upsert("c", model, [doc("r3002")]);
    await cached.search("c", vector(), { limit: 3 });
    await cached.upsert("c", model, [doc("r3002"), doc("r3003")]);
    expect(await reads.mock.results.at(-1)?.value).toBe(false);
    expect(absent.mock.results.at(-1)?.value).toBe(false);
    expect((await cached.getCollection("c"))?.count).toBe(2014);
    await expectSameAsFlat();
  });

  it("keeps no ids read while another process committed", async () => {
    await cached.upsert("c", model, docs(0, 2000));
    await cached.close();
    cached = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 300_000, cacheRows });
    await cached.search("c", vector(), { limit: 3 });
    // Another writer commits while this store reads the ids (as one could on object storage, or
    // past a lock this store does not know of): the ids read may miss what it did.
    const reading = VectorCache.prototype.readIds;
    vi.spyOn(VectorCache.prototype, "readIds").mockImplementation(function (this: VectorCache, ...args) {
      const [collection, generation, version, sourceOf] = args;
      return reading.call(this, collection, generation, version, async () => {
        const source = await sourceOf();
        const ids = source.ids as NonNullable<CacheSource["ids"]>;
        return {
          ...source,
          ids: async function* () {
            const db = await lancedb.connect(dbPath);
            await (await db.openTable("c")).delete("id = 'r1999'");
            db.close();
            yield* ids();
          },
        };
      });
    });
    const absent = vi.spyOn(VectorCache.prototype, "absent");
    await cached.upsert("c", model, [doc("r2500"), doc("r2501")]);
    expect(absent.mock.results.at(-1)?.value).toBe(false);
    expect((await cached.getCollection("c"))?.count).toBe(2001);
    await expectSameAsFlat();
  });

  it("finds rows by their exact text from the kept texts, with a filter and vectors, or else by the nearest rows", async () => {
    const rows = docs(0, 300);
    // Three rows share one text (one of them odd), so the limit and the filter both bite.
    for (const at of [10, 20, 31]) (rows[at] as ChunkToWrite).text = "the same words";
    await cached.upsert("c", model, rows);
    const query = (rows[20] as ChunkToWrite).vector;
    const cosine = (a: Float32Array, b: Float32Array) => {
      let dot = 0;
      for (let i = 0; i < DIM; i++) dot += (a[i] as number) * (b[i] as number);
      return dot / (Math.hypot(...a) * Math.hypot(...b));
    };
    const scans = vi.spyOn(VectorCache.prototype, "search");
    const exact = (hits: Hit[]) =>
      hits.filter((h) => h.text === "the same words").map((h) => [h.id, h.metadata.even]);
    const all = await cached.textMatches("c", "the same words", query, { limit: 10, withVectors: true });
    const even = await cached.textMatches("c", "the same words", query, {
      limit: 10,
      where: parseWhere({ even: true }),
    });
    const one = await cached.textMatches("c", "the same words", query, { limit: 1 });
    if (keepRows) {
      // The cache compared texts: rows in write order, each with its cosine distance and vector.
      expect(scans).not.toHaveBeenCalled();
      expect(all.map((h) => h.id)).toEqual(["r10", "r20", "r31"]);
      for (const hit of all) {
        const stored = rows[Number(hit.id.slice(1))] as ChunkToWrite;
        expect(hit.distance).toBeCloseTo(1 - cosine(query, stored.vector), 5);
        expect(cosine(hit.vector as Float32Array, stored.vector)).toBeCloseTo(1, 5);
        expect([hit.text, hit.metadata]).toEqual([stored.text, stored.metadata]);
      }
      expect(exact(even)).toEqual([
        ["r10", true],
        ["r20", true],
      ]);
      expect(one.map((h) => h.id)).toEqual(["r10"]);
      expect(await cached.textMatches("c", "the same", query, { limit: 10 })).toEqual([]);
    } else {
      // Texts not kept: the nearest rows, among which the one whose vector is the query's.
      expect(scans).toHaveBeenCalled();
      expect(all).toHaveLength(10);
      expect(exact(all)).toContainEqual(["r20", true]);
      expect(even.every((h) => h.metadata.even === true)).toBe(true);
      expect(one.map((h) => h.id)).toEqual(["r20"]);
    }
  });

  it("keyword search ranks from the cache's own BM25 index as LanceDB's full-text index does, until another process writes", async () => {
    await cached.upsert("c", model, docs(0, 200));
    // A new row, not a rewrite: LanceDB's index would count a rewritten row's old version too.
    await cached.upsert("c", model, [{ ...doc("r300"), text: "text text of r300, texts and more texting" }]);
    // The first keyword search starts the cache's index (LanceDB answers it, and writes its own,
    // a commit the cache follows without reloading: the build goes on).
    await cached.keywordSearch("c", "text", { limit: 3 });
    await cached.keywordIndexSettled("c");
    const lanceSearches = vi.spyOn(lancedb.Query.prototype, "fullTextSearch");
    const unit = (v: Float32Array) => {
      const norm = Math.hypot(...v);
      return Array.from(v, (x) => x / norm);
    };
    /** LanceDB's full-text searches expected after `checks` checks, `own` of them answered by the cache. */
    const calls = (checks: number, own: number) => (cacheRows ? 2 * checks - own : 2 * checks);
    // Without the rows' texts (not kept: cacheRows false) the cache builds no index: LanceDB answers.
    const check = async (where?: Filter, sameScores = true) => {
      // Sorted by id: BM25 ties (every text holds "text of") come in any order.
      const byId = (hits: KeywordHit[]) =>
        hits.sort((a, b) => b.keywordScore - a.keywordScore || (a.id < b.id ? -1 : 1));
      const options = { limit: 300, ...(where ? { where } : {}) };
      const fromCache = byId(await cached.keywordSearch("c", "text of r7 r300", options));
      const fromLance = byId(await flat.keywordSearch("c", "text of r7 r300", options));
      const shape = (hits: KeywordHit[]) => hits.map(({ vector: _v, keywordScore: _s, ...hit }) => hit);
      expect(shape(fromCache)).toEqual(shape(fromLance));
      for (const [i, hit] of fromCache.entries()) {
        const lance = fromLance[i]?.keywordScore as number;
        // LanceDB computes in float32: an idf near 0 (a term in every row) keeps ~5 digits.
        if (sameScores) expect(hit.keywordScore).toBeCloseTo(lance, 5);
        const want = unit(fromLance[i]?.vector as Float32Array);
        // The same direction (the cache keeps unit vectors; cosine is all the ranking reads).
        const got = unit(hit.vector);
        expect(Math.max(...got.map((x, j) => Math.abs(x - (want[j] as number))))).toBeLessThan(1e-6);
      }
      return fromCache;
    };
    const hits = await check();
    expect(hits.length).toBe(201);
    expect(
      hits
        .slice(0, 2)
        .map((hit) => hit.id)
        .sort(),
    ).toEqual(["r300", "r7"]);
    expect((await check(parseWhere({ even: true }))).length).toBe(101);
    // Both were the cache's answers; only `flat` asked LanceDB.
    expect(lanceSearches).toHaveBeenCalledTimes(calls(2, 2));
    // This store's own writes keep the index (a deleted row leaves it; a new one joins). LanceDB's
    // index still counts the deleted row, and scores the new one with its old figures: the scores
    // differ (0.3% for a term in every row), not the order.
    await cached.delete("c", { ids: ["r300"] });
    await cached.upsert("c", model, [{ ...doc("r500"), text: "r7 r7 r7" }]);
    expect((await check(undefined, false)).map((hit) => hit.id).slice(0, 2)).toEqual(["r500", "r7"]);
    expect(lanceSearches).toHaveBeenCalledTimes(calls(3, 3));
    // Another process's write: the cache reloads, LanceDB answers until the index is built again.
    await flat.upsert("c", model, [doc("r7", 7)]);
    expect((await check(undefined, false)).length).toBe(201);
    expect(lanceSearches).toHaveBeenCalledTimes(calls(4, 3));
    await cached.keywordIndexSettled("c");
    expect((await check(undefined, false)).length).toBe(201);
    expect(lanceSearches).toHaveBeenCalledTimes(calls(5, 4));
  });

  it("filtered searches give LanceDB's answers (more in filtered-cache.test.ts)", async () => {
    await cached.upsert("c", model, docs(0, 200));
    const where = parseWhere({ even: true });
    const q = vector();
    const got = await cached.search("c", q, { limit: 5, where });
    const want = await flat.search("c", q, { limit: 5, where });
    expect(got.map(({ distance, ...rest }) => rest)).toEqual(want.map(({ distance, ...rest }) => rest));
    got.forEach((hit, at) => {
      expect(hit.distance).toBeCloseTo((want[at] as Hit).distance, 5);
    });
  });
});

describe("vector cache keeping rows (as on object storage)", () => {
  /** Spies on every LanceDB table's row reads (all tables share one class). */
  async function rowReads() {
    const db = await lancedb.connect(dbPath);
    const proto = Object.getPrototypeOf(await db.openTable("c")) as lancedb.Table;
    return [vi.spyOn(proto, "takeRowIds"), vi.spyOn(proto, "query")];
  }

  it("answers searches from memory after the load: no row read, the same hits", async () => {
    await cached.close();
    cached = new LanceStore({ dbPath, logger: silentLogger, cacheRows: true });
    await flat.upsert("c", model, docs(0, 300));
    await cached.search("c", vector(), { limit: 5 }); // loads
    const reads = await rowReads();
    await expectSameAsFlat("c", 5, 10);
    // The flat store's searches are queries too: only the cached store's are counted here.
    const before = reads.map((r) => r.mock.calls.length);
    for (let i = 0; i < 5; i++) await cached.search("c", vector(), { limit: 10 });
    expect(reads.map((r) => r.mock.calls.length)).toEqual(before);
    // Rows it writes are kept as written (no read back); another store's write reloads them.
    await cached.upsert("c", model, [{ ...doc("r7"), text: "new text of r7" }]);
    const probe = (await cached.fetch("c", ["r7"], { vectors: true }))[0]?.vector as Float32Array;
    const written = reads.map((r) => r.mock.calls.length);
    const [mine] = await cached.search("c", probe, { limit: 1 });
    expect(reads.map((r) => r.mock.calls.length)).toEqual(written);
    const { distance, ...row } = mine as Hit;
    const { distance: want, ...wantRow } = (await flat.search("c", probe, { limit: 1 }))[0] as Hit;
    expect(row).toEqual(wantRow);
    expect(distance).toBeCloseTo(want, 5);
    const other = new LanceStore({ dbPath, logger: silentLogger });
    await other.upsert("c", model, [{ ...doc("r7"), text: "other's text", vector: probe }]);
    await other.close();
    expect((await cached.search("c", probe, { limit: 1 }))[0]?.text).toBe("other's text");
    // A hit's metadata is the caller's to change: the kept row stays.
    const [hit] = await cached.search("c", probe, { limit: 1 });
    (hit as Hit).metadata.n = -1;
    expect((await cached.search("c", probe, { limit: 1 }))[0]?.metadata.n).toBe(7);
    await expectSameAsFlat("c", 5, 10);
  });

  it("counts a deleted row's kept text out of the budget", async () => {
    await cached.close();
    cached = new LanceStore({ dbPath, logger: silentLogger, cacheRows: true });
    await flat.upsert("c", model, docs(0, 300));
    await cached.search("c", vector(), { limit: 5 }); // loads, with every row's text
    const cache = (cached as unknown as { vectors: VectorCache }).vectors;
    const loaded = cache.bytes();
    // Rows from the front: each deletion moves the last row into the freed slot.
    await cached.delete("c", { ids: Array.from({ length: 150 }, (_, i) => `r${i}`) });
    await expectSameAsFlat("c", 3, 10);
    // The vectors' buffers keep their size; the kept rows (>= 160 bytes each) must leave the count.
    expect(cache.bytes()).toBeLessThanOrEqual(loaded - 150 * 160);
  });
});

describe("topK", () => {
  it("picks the largest scores, best first, whatever k and n", () => {
    const scores = Float32Array.from({ length: 200 }, () => next());
    for (const k of [1, 5, 10, 199, 200, 300]) {
      const expected = Array.from(scores.keys())
        .sort((a, b) => (scores[b] as number) - (scores[a] as number))
        .slice(0, k);
      expect(Array.from(topK(scores, scores.length, k))).toEqual(expected);
    }
    expect(Array.from(topK(scores, 0, 10))).toEqual([]);
  });
});
