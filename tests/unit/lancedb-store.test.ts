import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { MemoryError } from "../../src/errors.js";
import { type Filter, parseWhere } from "../../src/filter.js";
import { silentLogger } from "../../src/logger.js";
import { CompactionScheduler, compactionDue } from "../../src/store/compaction.js";
import { INDEX_IDLE_MS } from "../../src/store/lance/vector-index.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { gateTable, warningLogger } from "../support/lance-gate.js";

const model: ModelRecord = { model: "fixed", dtype: "fp32", dimensions: 3 };
const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const doc = (id: string, vector: Float32Array, metadata: ChunkToWrite["metadata"] = {}): ChunkToWrite => ({
  id,
  text: `text of ${id}`,
  vector,
  metadata,
});

let store: LanceStore;
let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger });
});
afterEach(async () => {
  await store.close();
  cleanup();
});

describe("LanceStore", () => {
  it("creates a collection on first upsert and records its model", async () => {
    expect(await store.getCollection("c")).toBeUndefined();
    expect(await store.upsert("c", model, [doc("a", unit(1, 0, 0)), doc("b", unit(0, 1, 0))])).toEqual({
      inserted: 2,
      updated: 0,
      created: true,
    });
    expect(await store.getCollection("c")).toEqual({ name: "c", count: 2, model });
    expect(await store.collectionModel("c")).toEqual(model);
    expect(await store.collectionModel("other")).toBeUndefined();
  });

  it("replaces rows with the same id", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0), { v: 1 })]);
    expect(
      await store.upsert("c", model, [doc("a", unit(0, 0, 1), { v: 2 }), doc("b", unit(0, 1, 0))]),
    ).toEqual({
      inserted: 1,
      updated: 1,
      created: false,
    });
    const [hit] = await store.search("c", unit(0, 0, 1), { limit: 1 });
    expect(hit).toMatchObject({ id: "a", metadata: { v: 2 } });
    expect(hit?.distance).toBeCloseTo(0, 6);
  });

  it("returns cosine distances, nearest first", async () => {
    await store.upsert("c", model, [
      doc("x", unit(1, 0, 0)),
      doc("xy", unit(1, 1, 0)),
      doc("neg", unit(-1, 0, 0)),
    ]);
    const hits = await store.search("c", unit(1, 0, 0), { limit: 3 });
    expect(hits.map((h) => h.id)).toEqual(["x", "xy", "neg"]);
    expect(hits.map((h) => Number(h.distance.toFixed(4)))).toEqual([
      0,
      Number((1 - Math.SQRT1_2).toFixed(4)),
      2,
    ]);
  });

  it("writes a batch where no row has a boolean key the collection knows (all-null Int8 column)", async () => {
    // Regression: an all-null arrow Bool column is serialised without a data buffer and LanceDB rejects it.
    await store.upsert("c", model, [doc("a", unit(1, 0, 0), { flag: true })]);
    await expect(store.upsert("c", model, [doc("b", unit(0, 1, 0), { other: "x" })])).resolves.toEqual({
      inserted: 1,
      updated: 0,
      created: false,
    });
    const where = parseWhere({ flag: true });
    expect(
      (await store.search("c", unit(1, 0, 0), { limit: 5, ...(where ? { where } : {}) })).map((h) => h.id),
    ).toEqual(["a"]);
  });

  it("refuses vectors of another model without writing", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0))]);
    const other = { model: "other", dtype: "fp32", dimensions: 3 };
    await expect(store.upsert("c", other, [doc("b", unit(0, 1, 0))])).rejects.toThrow(
      /refusing to add vectors of model other/,
    );
    expect((await store.getCollection("c"))?.count).toBe(1);
  });

  it("refuses a metadata type change before writing anything", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0), { n: 1 })]);
    await expect(store.upsert("c", model, [doc("b", unit(0, 1, 0), { n: "one" })])).rejects.toBeInstanceOf(
      MemoryError,
    );
    expect((await store.getCollection("c"))?.count).toBe(1);
  });

  it("deletes by ids (reporting unknown ones) and by filter, and drops collections", async () => {
    await store.upsert("c", model, [
      doc("a", unit(1, 0, 0), { k: "x" }),
      doc("b", unit(0, 1, 0), { k: "y" }),
      doc("c", unit(0, 0, 1)),
    ]);
    expect(await store.delete("c", { ids: ["a", "nope", "a"] })).toEqual({ deleted: 1, notFound: ["nope"] });
    const where = parseWhere({ k: "y" });
    if (!where) throw new Error("filter");
    expect(await store.delete("c", { where })).toEqual({ deleted: 1, notFound: [] });
    expect(await store.dropCollection("c")).toBe(1);
    expect(await store.dropCollection("c")).toBeUndefined();
    expect(await store.listCollections()).toEqual([]);
  });

  it("persists across store instances (a restart)", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0), { k: "x" })]);
    await store.close();
    store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger });
    expect(await store.listCollections()).toEqual([{ name: "c", count: 1, model }]);
    expect((await store.search("c", unit(1, 0, 0), { limit: 1 }))[0]).toMatchObject({
      id: "a",
      metadata: { k: "x" },
    });
  });

  it("sees another connection's writes on its next read", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0))]);
    expect((await store.getCollection("c"))?.count).toBe(1);
    const other = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger });
    await other.upsert("c", model, [doc("b", unit(0, 1, 0))]);
    await other.close();
    expect((await store.getCollection("c"))?.count).toBe(2);
    expect((await store.search("c", unit(0, 1, 0), { limit: 1 }))[0]?.id).toBe("b");
  });

  it("serialises concurrent writes to one collection without losing rows", async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.upsert("c", model, [doc(`r${i}`, unit(1, i, 0), { [`key${i % 3}`]: i })]),
      ),
    );
    expect((await store.getCollection("c"))?.count).toBe(10);
  });

  it("never creates anything outside its directory and refuses unvalidated names", async () => {
    await expect(store.upsert("../x", model, [doc("a", unit(1, 0, 0))])).rejects.toThrow(
      /unvalidated collection name/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("rebuilds a collection under a new model as a new generation, atomically, and drops the old one", async () => {
    await store.upsert("c", model, [
      doc("a", unit(1, 0, 0), { k: "x" }),
      doc("b", unit(0, 1, 0), { flag: true }),
    ]);
    const next: ModelRecord = { model: "next", dtype: "fp32", dimensions: 2 };
    const seen: string[] = [];
    const count = await store.rebuildCollection("c", next, async (docs) => {
      seen.push(...docs.map((d) => d.id));
      // The old collection is still fully readable while the new one is being built.
      expect((await store.getCollection("c"))?.model).toEqual(model);
      return docs.map((d) => ({
        ...d,
        vector: d.id === "a" ? Float32Array.of(1, 0) : Float32Array.of(0, 1),
      }));
    });
    expect(count).toBe(2);
    expect(seen.sort()).toEqual(["a", "b"]);
    expect(await store.getCollection("c")).toEqual({ name: "c", count: 2, model: next });
    const where = parseWhere({ flag: true });
    const hits = await store.search("c", Float32Array.of(0, 1), { limit: 2, ...(where ? { where } : {}) });
    expect(hits.map((h) => [h.id, h.metadata])).toEqual([["b", { flag: true }]]);
    expect(readdirSync(path.join(dir, "db")).sort()).toEqual([".locks", "c.g1.lance"]);

    // A restarted store finds the live generation; writes go there.
    await store.close();
    store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger });
    await store.upsert("c", next, [doc("z", Float32Array.of(1, 0))]);
    expect(await store.listCollections()).toEqual([{ name: "c", count: 3, model: next }]);
  });

  it("follows another process's re-embedding instead of losing the collection", async () => {
    await store.upsert("c", model, [doc("a", unit(1, 0, 0))]);
    expect((await store.getCollection("c"))?.model).toEqual(model); // caches a handle on generation 0
    const other = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger });
    const next: ModelRecord = { model: "next", dtype: "fp32", dimensions: 2 };
    await other.rebuildCollection("c", next, async (docs) =>
      docs.map((d) => ({ ...d, vector: Float32Array.of(1, 0) })),
    );
    await other.close();
    // The stale handle fails with "not found"; the store re-resolves rather than reporting no collection.
    expect(await store.getCollection("c")).toEqual({ name: "c", count: 1, model: next });
    expect((await store.search("c", Float32Array.of(1, 0), { limit: 1 }))[0]?.id).toBe("a");
    expect(await store.listCollections()).toHaveLength(1);
  });
});

describe("automatic compaction", () => {
  it("compacts after every N writes without losing or changing rows", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const compacting = new LanceStore({ dbPath: path.join(d, "db"), logger: silentLogger, compactEvery: 10 });
    try {
      for (let i = 0; i < 25; i++) {
        await compacting.upsert("c", model, [doc(`r${i}`, unit(1, i, 0), { i })]);
      }
      await compacting.delete("c", { ids: ["r0"] });
      // Let the background compaction (queued behind the last write) finish.
      await compacting.compact("c");
      expect((await compacting.getCollection("c"))?.count).toBe(24);
      const all = await compacting.fetch(
        "c",
        Array.from({ length: 25 }, (_, i) => `r${i}`),
      );
      expect(all.map((d) => d.id).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `r${i + 1}`).sort());
      expect(all.find((d) => d.id === "r7")?.metadata).toEqual({ i: 7 });
      // 25 one-row writes made 25 fragments; compaction merged them.
      const stats = await compacting.stats("c");
      expect(stats.documents).toBe(24);
      expect(stats.fragments).toBeLessThanOrEqual(2);
      expect((await compacting.search("c", unit(1, 7, 0), { limit: 1 }))[0]?.id).toBe("r7");
    } finally {
      await compacting.close();
      c();
    }
  });
});

describe("compaction policy", () => {
  /** One-row writes with idle compaction out of reach; they end up compacted in the background. */
  async function expectCompactedAfter(writes: number, compactMaxBusyMs: number): Promise<void> {
    const { dir: d, cleanup: c } = tempDir();
    const compacting = new LanceStore({
      dbPath: path.join(d, "db"),
      logger: silentLogger,
      compactEvery: 8,
      compactIdleMs: 3_600_000,
      compactMaxBusyMs,
    });
    try {
      for (let i = 0; i < writes; i++) await compacting.upsert("c", model, [doc(`r${i}`, unit(1, i, 0))]);
      await vi.waitFor(async () => expect((await compacting.stats("c")).fragments).toBeLessThan(10), {
        timeout: 20_000,
        interval: 50,
      });
      expect((await compacting.stats("c")).documents).toBe(writes);
    } finally {
      await compacting.close();
      c();
    }
  }

  it("compacts at once, without waiting for idle, when small fragments are overdue", async () => {
    // 32 x 4 = 128 small fragments make it overdue; the check at write 128 starts the compaction.
    await expectCompactedAfter(130, 3_600_000);
  });

  it("compacts once due, not overdue, when writes go on without a pause for long", async () => {
    // Due at 32 small fragments, far from overdue (128): the check at write 32 or 40 starts it.
    await expectCompactedAfter(40, 0);
  });

  it("waits for small fragments that are many relative to the rows", () => {
    expect(compactionDue({ rows: 10, smallFragments: 31 })).toBe(false);
    expect(compactionDue({ rows: 10, smallFragments: 32 })).toBe(true);
    expect(compactionDue({ rows: 100_000, smallFragments: 49 })).toBe(false);
    expect(compactionDue({ rows: 100_000, smallFragments: 50 })).toBe(true);
    expect(compactionDue({ rows: 1_000_000, smallFragments: 499 })).toBe(false);
  });

  for (const [label, options, kept] of [
    ["with history off", { historyMs: 0 }, 12],
    ["over the history disk cap", { historyCapBytes: 1 }, 12],
  ] as const) {
    it(`compacts by itself once due, and removes the versions it replaced ${label}`, async () => {
      const { dir: d, cleanup: c } = tempDir();
      const dbPath = path.join(d, "db");
      let compacting = new LanceStore({
        dbPath,
        logger: silentLogger,
        compactEvery: 8,
        compactIdleMs: 0,
        ...options,
      });
      try {
        for (let i = 0; i < 40; i++)
          await compacting.upsert("c", model, [doc(`r${i}`, unit(1, i, 0), { i })]);
        // Due at 32 small fragments and idle (0 ms here: between two writes): compacted in the background.
        await vi.waitFor(async () => expect((await compacting.stats("c")).fragments).toBeLessThanOrEqual(9), {
          timeout: 20_000,
          interval: 50,
        });
        await compacting.close();
        compacting = new LanceStore({ dbPath, logger: silentLogger });
        const stats = await compacting.stats("c");
        expect(stats.documents).toBe(40);
        const versions = readdirSync(path.join(dbPath, "c.lance", "_versions"));
        expect(versions.length).toBeLessThanOrEqual(kept);
        const all = await compacting.fetch(
          "c",
          Array.from({ length: 40 }, (_, i) => `r${i}`),
        );
        expect(all).toHaveLength(40);
      } finally {
        await compacting.close();
        c();
      }
    });
  }

  it("keeps the versions a compaction replaced for the history window, by default", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const dbPath = path.join(d, "db");
    const compacting = new LanceStore({ dbPath, logger: silentLogger, compactEvery: 1000 });
    try {
      for (let i = 0; i < 10; i++) await compacting.upsert("c", model, [doc(`r${i}`, unit(1, i, 0), { i })]);
      await compacting.compact("c");
      const history = await compacting.history("c");
      expect(history.length).toBeGreaterThanOrEqual(11);
      expect(history.at(-1)?.operation).toBe("compact");
      expect(history[0]).toMatchObject({ version: 1, operation: "create", rows: 1 });
    } finally {
      await compacting.close();
      c();
    }
  });
});

describe("vector index", () => {
  it("is built in the background above the row threshold, and rows added after it are found at once", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const dbPath = path.join(d, "db");
    // No vector cache: every search goes through LanceDB and its index.
    const indexed = new LanceStore({
      dbPath,
      logger: silentLogger,
      vectorCacheBytes: 0,
      vectorIndexMinRows: 300,
    });
    try {
      // Spread evenly over the sphere (a Fibonacci lattice): rows bunched along one direction, as
      // this test once had, leave HNSW's graph poorly connected around the few rows outside the bunch.
      const spread = (i: number) => {
        const z = 1 - (2 * (i + 0.5)) / 400;
        const angle = i * Math.PI * (3 - Math.sqrt(5));
        return unit(Math.sqrt(1 - z * z) * Math.cos(angle), Math.sqrt(1 - z * z) * Math.sin(angle), z);
      };
      const rows = Array.from({ length: 400 }, (_, i) => doc(`r${i}`, spread(i), { i }));
      await indexed.upsert("c", model, rows);
      await indexed.compact("c");
      await indexed.vectorIndexSettled("c");
      expect(readdirSync(path.join(dbPath, "c.lance", "_indices")).length).toBeGreaterThan(0);
      const fresh = unit(-5, 1, 9);
      await indexed.upsert("c", model, [doc("new", fresh, { i: -1 })]);
      expect((await indexed.search("c", fresh, { limit: 1 }))[0]?.id).toBe("new");
      const where = parseWhere({ i: -1 }) as Filter;
      expect((await indexed.search("c", fresh, { limit: 3, where })).map((h) => h.id)).toEqual(["new"]);
      // Indexed rows through the index. It is approximate: HNSW may miss a row's own vector now and
      // then (LanceDB's own tests ask recall, not exactness), so 10 rows are asked and 9 must be found.
      const asked = [5, 47, 93, 141, 188, 230, 277, 319, 362, 398];
      const found = await Promise.all(
        asked.map(async (i) => (await indexed.search("c", spread(i), { limit: 1 }))[0]?.id === `r${i}`),
      );
      expect(found.filter(Boolean).length).toBeGreaterThanOrEqual(9);
    } finally {
      await indexed.close();
      c();
    }
  });

  it("is built even when a compaction is asked for during the build: the compaction waits", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const dbPath = path.join(d, "db");
    const { logger, warnings } = warningLogger();
    const indexed = new LanceStore({
      dbPath,
      logger,
      vectorCacheBytes: 0,
      vectorIndexMinRows: 300,
      compactEvery: 1_000_000,
      compactIdleMs: 3_600_000,
    });
    try {
      for (let b = 0; b < 4; b++)
        await indexed.upsert(
          "c",
          model,
          Array.from({ length: 100 }, (_, i) => doc(`r${b}-${i}`, unit(i, b, 1))),
        );
      // Holds the vector index's createIndex until the second compaction has been asked for.
      const { entered, open } = await gateTable(d, "createIndex", { holds: (args) => args[0] === "vector" });
      await indexed.compact("c"); // starts the build (after INDEX_IDLE_MS without writes)
      await entered;
      // Rows written during the build, and a compaction asked for: it would rewrite the indexed
      // fragments, and LanceDB would then refuse the index's commit.
      await indexed.upsert(
        "c",
        model,
        Array.from({ length: 50 }, (_, i) => doc(`late${i}`, unit(i, 9, 1))),
      );
      const compaction = indexed.compact("c");
      open();
      await Promise.all([indexed.vectorIndexSettled("c"), compaction]);
      expect(warnings).toEqual([]);
      const stored = await lancedb.connect(dbPath);
      const table = await stored.openTable("c");
      expect((await table.listIndices()).map((index) => index.columns)).toContainEqual(["vector"]);
      table.close();
      stored.close();
    } finally {
      await indexed.close();
      c();
    }
  });

  it("gives a large collection's filtered columns a BTREE index after a filtered search reaches LanceDB", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const dbPath = path.join(d, "db");
    // No vector cache: every filtered search is LanceDB's, as for a collection past the cache's budget.
    const { logger, warnings } = warningLogger();
    const indexed = new LanceStore({ dbPath, logger, vectorCacheBytes: 0, vectorIndexMinRows: 300 });
    try {
      const rows = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) =>
          doc(`r${from + i}`, unit(from + i, 1, 2), { g: (from + i) % 10, tags: [`t${(from + i) % 3}`] }),
        );
      const indices = async (name: string) => {
        const db = await lancedb.connect(dbPath);
        const table = await db.openTable(name);
        const columns = (await table.listIndices()).map((index) => index.columns.join(","));
        table.close();
        db.close();
        return columns;
      };
      const where = parseWhere({ g: 3 }) as Filter;
      // Below the threshold: filtered searches make no index.
      await indexed.upsert("small", model, rows(0, 200));
      await indexed.search("small", unit(1, 1, 1), { limit: 5, where });
      await indexed.compact("small"); // queued behind any index build of the collection
      expect(await indices("small")).not.toContain("m_g");
      await indexed.upsert("c", model, rows(0, 400));
      const before = await indexed.search("c", unit(1, 1, 1), { limit: 5, where });
      await indexed.compact("c");
      expect(await indices("c")).toContain("m_g");
      const after = await indexed.search("c", unit(1, 1, 1), { limit: 5, where });
      expect(after.map((h) => h.id)).toEqual(before.map((h) => h.id));
      expect(after.every((h) => h.metadata.g === 3)).toBe(true);
      // Lists of strings (filtered with array_has) get no index, and no complaint.
      const tagged = await indexed.search("c", unit(1, 1, 1), {
        limit: 5,
        where: parseWhere({ tags: "t1" }) as Filter,
      });
      await indexed.compact("c");
      expect(tagged.every((h) => (h.metadata.tags as string[]).includes("t1"))).toBe(true);
      expect(await indices("c")).not.toContain("m_tags");
      // Dropped and made again by this store: the new table gets its index too.
      await indexed.dropCollection("c");
      await indexed.upsert("c", model, rows(0, 400));
      await indexed.search("c", unit(1, 1, 1), { limit: 5, where });
      await indexed.compact("c");
      expect(await indices("c")).toContain("m_g");
      expect(warnings).toEqual([]);
    } finally {
      await indexed.close();
      c();
    }
  });

  it("is not built by a store closed while the build waits for the writes to pause", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const dbPath = path.join(d, "db");
    const { logger, warnings } = warningLogger();
    const indexed = new LanceStore({ dbPath, logger, vectorCacheBytes: 0, vectorIndexMinRows: 300 });
    try {
      const rows = Array.from({ length: 400 }, (_, i) => doc(`r${i}`, unit(i, 1, 2), { i }));
      await indexed.upsert("c", model, rows);
      await indexed.compact("c"); // starts the build, which waits INDEX_IDLE_MS after the last write
      await indexed.close();
      // Past that wait: a build that went on would fail on the closed table and say so.
      await new Promise((resolve) => setTimeout(resolve, INDEX_IDLE_MS + 500));
      expect(warnings).toEqual([]);
      expect(existsSync(path.join(dbPath, "c.lance", "_indices"))).toBe(false);
    } finally {
      c();
    }
  });
});

describe("waiting for writes to pause (before a vector index build)", () => {
  it("settles only once the collection has gone idleMs without a write, or after maxMs of writes", async () => {
    const compacted: string[] = [];
    const scheduler = new CompactionScheduler(
      async (collection) => {
        compacted.push(collection);
      },
      { every: 1000, idleMs: 60_000, maxBusyMs: 60_000 },
      () => {},
    );
    try {
      const never = performance.now();
      await scheduler.quiet("untouched", 60_000, 120_000); // never written: idle already
      expect(performance.now() - never).toBeLessThan(30_000);
      scheduler.noteWrite("busy");
      let last = performance.now();
      const writes = setInterval(() => {
        scheduler.noteWrite("busy");
        last = performance.now();
      }, 20);
      const started = performance.now();
      await scheduler.quiet("busy", 10_000, 300); // writes go on: settles after maxMs
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
      clearInterval(writes);
      await scheduler.quiet("busy", 200, 60_000);
      expect(performance.now() - last).toBeGreaterThanOrEqual(195); // not before the pause
      expect(compacted).toEqual([]); // idle compaction timers are the scheduler's own concern
    } finally {
      await scheduler.close();
    }
  });
});

describe("keyword search", () => {
  it("creates the full-text index once when first keyword searches race, in one process or two", async () => {
    const { dir: d, cleanup: c } = tempDir();
    const one = new LanceStore({ dbPath: path.join(d, "db"), logger: silentLogger });
    const two = new LanceStore({ dbPath: path.join(d, "db"), logger: silentLogger });
    try {
      await one.upsert("c", model, [doc("a", unit(1, 0, 0)), doc("b", unit(0, 1, 0))]);
      const searches = await Promise.all([
        ...Array.from({ length: 4 }, () => one.keywordSearch("c", "text", { limit: 5 })),
        ...Array.from({ length: 4 }, () => two.keywordSearch("c", "text", { limit: 5 })),
      ]);
      for (const hits of searches) expect(hits.map((h) => h.id).sort()).toEqual(["a", "b"]);
    } finally {
      await one.close();
      await two.close();
      c();
    }
  });
});

describe("chunks: rows that share an id", () => {
  const chunk = (id: string, n: number, vector: Float32Array, metadata = {}): ChunkToWrite => ({
    id,
    text: `chunk ${n} of ${id}`,
    vector,
    metadata,
    chunk: n,
    start: n * 10,
  });

  it("counts documents, replaces all of a document's chunks, and deletes them together", async () => {
    const long = [0, 1, 2].map((n) => chunk("long", n, unit(1, n, 0), { k: "x" }));
    expect(await store.upsert("c", model, [...long, doc("short", unit(0, 0, 1))])).toEqual({
      inserted: 2,
      updated: 0,
      created: true,
    });
    expect(await store.getCollection("c")).toMatchObject({ count: 2 });
    expect(await store.stats("c")).toMatchObject({ documents: 2, chunks: 4 });
    expect((await store.listIds("c")).sort()).toEqual(["long", "short"]);
    const fetched = await store.fetch("c", ["long"]);
    expect(fetched.map((f) => [f.chunk, f.start]).sort()).toEqual([
      [0, 0],
      [1, 10],
      [2, 20],
    ]);
    const hits = await store.search("c", unit(1, 2, 0), { limit: 1 });
    expect(hits[0]).toMatchObject({ id: "long", chunk: 2, start: 20 });

    // A shorter new version: its one chunk replaces all three, in the same upsert.
    expect(await store.upsert("c", model, [chunk("long", 0, unit(1, 0, 0), { k: "y" })])).toEqual({
      inserted: 0,
      updated: 1,
      created: false,
    });
    expect(await store.fetch("c", ["long"])).toHaveLength(1);
    expect(await store.stats("c")).toMatchObject({ documents: 2, chunks: 2 });

    await store.upsert("c", model, long);
    const where = parseWhere({ k: "x" });
    expect(await store.delete("c", where ? { where } : { ids: [] })).toEqual({ deleted: 1, notFound: [] });
    expect(await store.stats("c")).toMatchObject({ documents: 1, chunks: 1 });
    await store.upsert("c", model, long);
    expect(await store.delete("c", { ids: ["long", "nope"] })).toEqual({ deleted: 1, notFound: ["nope"] });
    expect(await store.listIds("c")).toEqual(["short"]);
  });

  it("reads a table made before chunking as whole documents, and adds the columns on its first write", async () => {
    const lancedb = await import("@lancedb/lancedb");
    const { Field, FixedSizeList, Float32, Schema, Utf8 } = await import("apache-arrow");
    const db = await lancedb.connect(path.join(dir, "db"));
    const schema = new Schema(
      [
        new Field("id", new Utf8(), false),
        new Field("text", new Utf8(), false),
        new Field("vector", new FixedSizeList(3, new Field("item", new Float32(), true)), false),
        new Field("metadata", new Utf8(), false),
      ],
      new Map([["vector_memory.model", JSON.stringify(model)]]),
    );
    const old = await db.createEmptyTable("c", schema);
    await old.add([{ id: "a", text: "old a", vector: [1, 0, 0], metadata: "{}" }]);
    old.close();
    db.close();

    expect(await store.getCollection("c")).toEqual({ name: "c", count: 1, model });
    expect(await store.fetch("c", ["a"])).toEqual([
      { id: "a", text: "old a", metadata: {}, chunk: 0, start: 0, createdAt: null, updatedAt: null },
    ]);
    expect((await store.search("c", unit(1, 0, 0), { limit: 1 }))[0]).toMatchObject({ id: "a", chunk: 0 });
    await store.upsert(
      "c",
      model,
      [0, 1].map((n) => chunk("b", n, unit(0, 1, n))),
    );
    expect(await store.upsert("c", model, [doc("a", unit(1, 1, 0))])).toEqual({
      inserted: 0,
      updated: 1,
      created: false,
    });
    expect(await store.stats("c")).toMatchObject({ documents: 2, chunks: 3 });
  });
});
