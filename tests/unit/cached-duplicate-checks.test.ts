import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { silentLogger } from "../../src/logger.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { VectorCache } from "../../src/store/vector-cache.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { random } from "../support/random.js";

/**
 * The two checks every add_documents runs, answered by the vector cache (hashed first-chunk texts,
 * ids and distances without reading rows back), against LanceDB answering them on the same
 * directory (a store without a cache): the same documents, through this store's writes applied in
 * place, another store's writes (a reload) and a load that reads whole rows (object storage).
 */

const DIM = 16;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };
const next = random(5);
const vector = () => Float32Array.from({ length: DIM }, () => next() - 0.5);
// Texts that begin one another, repeat, and hold characters beyond one UTF-16 unit.
const STEMS = ["note", "note about", "note about cats", "é\u{1F600} café", "it's 100%", "x"];

function doc(id: string, text: string, chunks = 1): ChunkToWrite[] {
  return Array.from({ length: chunks }, (_, chunk) => ({
    id,
    // A long document's first chunk is its text's beginning; the rest is the remainder.
    text: chunk === 0 ? text : `${text} continued ${chunk}`,
    metadata: {},
    vector: vector(),
    chunk,
    start: chunk * 100,
  }));
}
function batch(from: number, count: number): ChunkToWrite[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return doc(`d${i}`, `${STEMS[i % STEMS.length]}${i % 4 === 0 ? "" : ` ${i % 7}`}`, i % 5 === 0 ? 2 : 1);
  }).flat();
}
const probes = [
  ...STEMS,
  ...STEMS.map((s) => `${s} 3`),
  ...STEMS.map((s) => `${s} 3 and then some more words`),
  "no",
  "not a stored text",
  "note about cats 1 continued 1",
];

let cleanup: () => void;
let dbPath: string;
let cached: LanceStore;
let plain: LanceStore;
beforeAll(async () => {
  const made = tempDir();
  cleanup = made.cleanup;
  dbPath = path.join(made.dir, "db");
  cached = new LanceStore({ dbPath, logger: silentLogger });
  plain = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
  await plain.upsert("c", model, batch(0, 300));
});
afterAll(async () => {
  await cached.close();
  await plain.close();
  cleanup();
});

const sorted = (lists: string[][]) => lists.map((ids) => [...ids].sort());

async function expectSameChecks(store: LanceStore): Promise<void> {
  const spy = vi.spyOn(VectorCache.prototype, "textCandidates");
  const got = await store.exactTextCandidates("c", probes, 1000);
  const answered = await (spy.mock.results[0]?.value as Promise<unknown>);
  spy.mockRestore();
  expect(answered).toBeDefined(); // the cache answered, not LanceDB
  expect(sorted(got)).toEqual(sorted(await plain.exactTextCandidates("c", probes, 1000)));
  for (let q = 0; q < 5; q++) {
    const query = vector();
    const near = await store.nearest("c", query, { limit: 12 });
    const hits = await plain.search("c", query, { limit: 12 });
    expect(near.map((n) => [n.id, n.chunk])).toEqual(hits.map((h) => [h.id, h.chunk]));
    for (const [i, n] of near.entries()) expect(n.distance).toBeCloseTo(hits[i]?.distance as number, 5);
  }
}

describe("the duplicate checks on the vector cache", () => {
  it("finds the documents LanceDB finds, read once then followed through writes", async () => {
    await expectSameChecks(cached);
    // Its own writes, applied in place: new documents, rewritten ones (a first chunk changed,
    // a document shortened), deletes.
    await cached.upsert("c", model, batch(300, 40));
    await cached.upsert("c", model, [...doc("d0", "note about dogs"), ...doc("d5", "x 5 shorter")]);
    await cached.delete("c", { ids: ["d1", "d2", "d300"] });
    const read = vi.spyOn(VectorCache.prototype as unknown as { readTexts(): Promise<boolean> }, "readTexts");
    await expectSameChecks(cached);
    expect(read).not.toHaveBeenCalled(); // followed, not read again
    read.mockRestore();
    // Another store's write: the entry reloads and the texts are read again.
    await plain.upsert("c", model, [...doc("d7", "note"), ...doc("n1", "note about cats 1")]);
    await expectSameChecks(cached);
  });

  it("keeps the first texts it loads with whole rows (object storage)", async () => {
    const rows = new LanceStore({ dbPath, logger: silentLogger, cacheRows: true });
    try {
      const read = vi.spyOn(
        VectorCache.prototype as unknown as { readTexts(): Promise<boolean> },
        "readTexts",
      );
      await expectSameChecks(rows);
      expect(read).not.toHaveBeenCalled();
      read.mockRestore();
    } finally {
      await rows.close();
    }
  });

  it("finds a text LanceDB's text query cannot look for (a NUL in it)", async () => {
    await cached.upsert("c", model, doc("nul", "a\u0000b"));
    expect(await plain.exactTextCandidates("c", ["a\u0000b"], 10)).toEqual([[]]);
    expect(await cached.exactTextCandidates("c", ["a\u0000b", "a\u0000bc"], 10)).toEqual([["nul"], ["nul"]]);
  });

  it("leaves a collection that does not fit to LanceDB", async () => {
    const small = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 1000 });
    try {
      expect(sorted(await small.exactTextCandidates("c", probes, 1000))).toEqual(
        sorted(await plain.exactTextCandidates("c", probes, 1000)),
      );
      const query = vector();
      expect((await small.nearest("c", query, { limit: 5 })).map((n) => n.id)).toEqual(
        (await plain.search("c", query, { limit: 5 })).map((h) => h.id),
      );
    } finally {
      await small.close();
    }
  });
});
