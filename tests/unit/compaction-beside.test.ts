import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { silentLogger } from "../../src/logger.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { VectorCache } from "../../src/store/vector-cache.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { gateTable } from "../support/lance-gate.js";
import { random } from "../support/random.js";

/** Compaction runs beside this process's writes (LanceStore.compact), not in their queue. */

const DIM = 16;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };
const next = random(5);
const doc = (id: string): ChunkToWrite => ({
  id,
  text: `text ${id}`,
  metadata: { n: Number(id.slice(1)) },
  vector: Float32Array.from({ length: DIM }, () => next() - 0.5),
});

let cleanup: () => void;
let dbPath: string;
let store: LanceStore;
let flat: LanceStore;
beforeEach(() => {
  const made = tempDir();
  cleanup = made.cleanup;
  dbPath = path.join(made.dir, "db");
  store = new LanceStore({ dbPath, logger: silentLogger, compactEvery: 1_000_000, compactIdleMs: 3_600_000 });
  flat = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
  await flat.close();
  cleanup();
});

async function expectSameAsFlat(ids: string[]): Promise<void> {
  expect((await store.getCollection("c"))?.count).toBe(ids.length);
  for (const id of ids.slice(0, 5)) {
    const [probe] = await flat.fetch("c", [id], { vectors: true });
    const q = probe?.vector as Float32Array;
    const got = await store.search("c", q, { limit: 5 });
    const want = await flat.search("c", q, { limit: 5 });
    expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
    expect(got[0]?.id).toBe(id);
  }
}

describe("compaction beside writes", () => {
  it("lets this process's writes commit while a compaction runs, and the cache follows both without a reload", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      await store.upsert("c", model, [doc(`r${i}`)]);
      ids.push(`r${i}`);
    }
    await expectSameAsFlat(ids);
    const loads = vi.spyOn(VectorCache.prototype as unknown as { load: () => Promise<unknown> }, "load");
    const { entered, open } = await gateTable(path.dirname(dbPath), "optimize");
    const compaction = store.compact("c");
    await entered;
    // The compaction holds on: writes (adds, an update, a delete) still commit and are searchable.
    for (let i = 40; i < 45; i++) {
      await store.upsert("c", model, [doc(`r${i}`)]);
      ids.push(`r${i}`);
    }
    await store.upsert("c", model, [doc("r3")]);
    await store.delete("c", { ids: ["r7"] });
    ids.splice(ids.indexOf("r7"), 1);
    await expectSameAsFlat(ids.slice().reverse());
    // Released: the compaction commits beside more writes.
    open();
    const writes = (async () => {
      for (let i = 45; i < 60; i++) {
        await store.upsert("c", model, [doc(`r${i}`)]);
        ids.push(`r${i}`);
      }
    })();
    await Promise.all([compaction, writes]);
    const stats = await store.stats("c");
    expect(stats.fragments).toBeLessThan(20);
    await expectSameAsFlat(ids.slice().reverse());
    await expectSameAsFlat(ids);
    expect(loads).not.toHaveBeenCalled();
    // Every acknowledged write is there, once, as a fresh store reads it.
    const fresh = new LanceStore({ dbPath, logger: silentLogger });
    expect((await fresh.listIds("c")).sort()).toEqual([...ids].sort());
    await fresh.close();
  });

  it("does not take another process's commit before it for one of the compaction's", async () => {
    for (let i = 0; i < 10; i++) await store.upsert("c", model, [doc(`r${i}`)]);
    await store.search("c", doc("q0").vector, { limit: 1 }); // cached at this version
    const other = new LanceStore({ dbPath, logger: silentLogger });
    const theirs = doc("t100");
    await other.upsert("c", model, [theirs]); // a version this store has not seen
    const { entered, open } = await gateTable(path.dirname(dbPath), "optimize");
    const compaction = store.compact("c");
    await entered;
    await store.upsert("c", model, [doc("o101")]); // the next version after theirs
    const found = await store.search("c", theirs.vector, {
      limit: 1,
      where: { kind: "compare", key: "n", op: "$gte", value: 0 },
    });
    expect(found[0]?.id).toBe("t100");
    open();
    await compaction;
    await expectSameAsFlat(["t100", "o101", ...Array.from({ length: 10 }, (_, i) => `r${i}`)]);
    await other.close();
  });

  it("keeps other processes out while it runs: their writes wait for it", async () => {
    for (let i = 0; i < 10; i++) await store.upsert("c", model, [doc(`r${i}`)]);
    const other = new LanceStore({ dbPath, logger: silentLogger });
    const { entered, open } = await gateTable(path.dirname(dbPath), "optimize");
    const compaction = store.compact("c");
    await entered;
    let done = false;
    const theirs = other.upsert("c", model, [doc("r99")]).then(() => {
      done = true;
    });
    await store.upsert("c", model, [doc("r98")]); // ours goes on
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    open();
    await Promise.all([compaction, theirs]);
    await expectSameAsFlat(["r99", "r98", ...Array.from({ length: 10 }, (_, i) => `r${i}`)]);
    await other.close();
  });

  it("tries a compaction a write preempted once more beside the writes before it queues with them", async () => {
    for (let i = 0; i < 10; i++) await store.upsert("c", model, [doc(`r${i}`)]);
    const { entered, open } = await gateTable(path.dirname(dbPath), "optimize", { conflicts: 1 });
    const compaction = store.compact("c");
    await entered; // the second attempt
    // Beside the writes still: this write commits while that attempt holds on (queued, it would wait).
    const write = store.upsert("c", model, [doc("r10")]).then(() => "committed");
    const waiting = new Promise((resolve) => setTimeout(() => resolve("waiting"), 5_000));
    expect(await Promise.race([write, waiting])).toBe("committed");
    open();
    await compaction;
    await expectSameAsFlat(Array.from({ length: 11 }, (_, i) => `r${i}`));
  });
});
