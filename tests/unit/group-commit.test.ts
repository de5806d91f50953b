import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { silentLogger } from "../../src/logger.js";
import type { Commit } from "../../src/store/commits.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import type { ChunkToWrite, Metadata } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";
import { random } from "../support/random.js";

/** Concurrent upserts to one collection share a commit (LanceStore.upsert); each result is its own. */

const DIM = 8;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };
const next = random(3);
const doc = (id: string, metadata: Metadata = {}, text = `text ${id}`): ChunkToWrite => ({
  id,
  text,
  metadata,
  vector: Float32Array.from({ length: DIM }, () => next() - 0.5),
});

let cleanup: () => void;
let store: LanceStore;
let writes: Commit[];
let deletes: Commit[];
beforeEach(() => {
  const made = tempDir();
  cleanup = made.cleanup;
  store = new LanceStore({ dbPath: path.join(made.dir, "db"), logger: silentLogger });
  writes = [];
  deletes = [];
  store.onCommit((commit) => {
    if (commit.kind === "add" || commit.kind === "merge" || commit.kind === "create") writes.push(commit);
    if (commit.kind === "delete") deletes.push(commit);
  });
});
afterEach(async () => {
  await store.close();
  cleanup();
});

describe("group commit", () => {
  it("commits concurrent upserts together, each call with its own counts", async () => {
    await store.upsert("c", model, [doc("a", { n: 1 }), doc("b", { n: 2 })]);
    writes = [];
    const calls = [
      store.upsert("c", model, [doc("x1", { n: 3 })]),
      store.upsert("c", model, [doc("x2", { n: 4 }), doc("x3")]),
      store.upsert("c", model, [doc("a", { n: 5 }, "a again")]),
      store.upsert("c", model, [doc("x4", { tag: "new key" })]),
      store.upsert("c", model, [doc("b", { n: 6 }), doc("x5")]),
    ];
    expect(await Promise.all(calls)).toEqual([
      { inserted: 1, updated: 0, created: false },
      { inserted: 2, updated: 0, created: false },
      { inserted: 0, updated: 1, created: false },
      { inserted: 1, updated: 0, created: false },
      { inserted: 1, updated: 1, created: false },
    ]);
    // Calls that arrive before the group takes the lock join it: one commit (two, if the first took it already).
    expect(writes.length).toBeLessThanOrEqual(2);
    expect((await store.listIds("c")).sort()).toEqual(["a", "b", "x1", "x2", "x3", "x4", "x5"]);
    const [a] = await store.fetch("c", ["a"]);
    expect(a).toMatchObject({ text: "a again", metadata: { n: 5 } });
  });

  it("fails only the call with bad input; the others land", async () => {
    await store.upsert("c", model, [doc("a", { n: 1 })]);
    const calls = [
      store.upsert("c", model, [doc("x1", { n: 2 })]),
      store.upsert("c", model, [doc("x2", { n: 3 })]),
      store.upsert("c", model, [doc("bad", { n: "not a number" })]),
      store.upsert("c", model, [doc("x3", { n: 4 })]),
      store.upsert("c", { ...model, model: "other" }, [doc("x4")]),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "rejected",
    ]);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/holds numbers/);
    expect(String((settled[4] as PromiseRejectedResult).reason)).toMatch(/refusing to add vectors/);
    expect((await store.listIds("c")).sort()).toEqual(["a", "x1", "x2", "x3"]);
  });

  it("keeps arrival order: the same id twice, and a delete queued between two upserts", async () => {
    await store.upsert("c", model, [doc("a")]);
    const first = store.upsert("c", model, [doc("x", {}, "first")]);
    const second = store.upsert("c", model, [doc("x", {}, "second")]);
    const removed = store.delete("c", { ids: ["y"] });
    const y = store.upsert("c", model, [doc("y", {}, "after the delete")]);
    expect(await first).toEqual({ inserted: 1, updated: 0, created: false });
    expect(await second).toEqual({ inserted: 0, updated: 1, created: false });
    expect((await removed).deleted).toBe(0);
    expect(await y).toEqual({ inserted: 1, updated: 0, created: false });
    const got = await store.fetch("c", ["x", "y"]);
    expect(got.map((d) => [d.id, d.text]).sort()).toEqual([
      ["x", "second"],
      ["y", "after the delete"],
    ]);
  });

  it("commits concurrent deletes by ids together, each call with its own result, in arrival order", async () => {
    await store.upsert(
      "c",
      model,
      ["a", "b", "c", "d", "e"].map((id) => doc(id)),
    );
    const busy = store.upsert("c", model, [doc("f")]); // holds the lock while the deletes arrive
    const calls = [
      store.delete("c", { ids: ["a", "ghost"] }),
      store.delete("c", { ids: ["b", "a"] }), // "a" is the first call's
      store.delete("c", { ids: ["c", "c"] }),
    ];
    const later = store.upsert("c", model, [doc("b", {}, "b is back")]); // after the deletes
    const last = store.delete("c", { ids: ["d"] }); // after that upsert, not with the deletes before it
    await busy;
    expect(await Promise.all(calls)).toEqual([
      { deleted: 1, notFound: ["ghost"] },
      { deleted: 1, notFound: ["a"] },
      { deleted: 1, notFound: [] },
    ]);
    expect(await later).toEqual({ inserted: 1, updated: 0, created: false });
    expect(await last).toEqual({ deleted: 1, notFound: [] });
    expect(deletes).toHaveLength(2); // the three together, then the last one
    expect((await store.listIds("c")).sort()).toEqual(["b", "e", "f"]);
    const [b] = await store.fetch("c", ["b"]);
    expect(b?.text).toBe("b is back");
  });

  it("fails every delete of a group when its commit fails, and writes nothing", async () => {
    await expect(
      Promise.all([store.delete("none", { ids: ["a"] }), store.delete("none", { ids: ["b"] })]),
    ).rejects.toThrow(/none/);
  });

  it("says created for exactly the first of the calls that made the collection", async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => store.upsert("fresh", model, [doc(`d${i}`)])),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results[0]?.created).toBe(true);
    expect(results.every((r) => r.inserted === 1 && r.updated === 0)).toBe(true);
    expect(writes.length).toBeLessThanOrEqual(2);
    expect((await store.getCollection("fresh"))?.count).toBe(6);
  });
});
