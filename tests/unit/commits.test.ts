import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Filter, parseWhere } from "../../src/filter.js";
import { silentLogger } from "../../src/logger.js";
import type { ModelRecord } from "../../src/model-record.js";
import type { Commit } from "../../src/store/commits.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { tempDir } from "../support/harness.js";

const DIM = 8;
const model: ModelRecord = { model: "fixed", dtype: "fp32", dimensions: DIM };
const doc = (id: string, metadata: ChunkToWrite["metadata"] = {}): ChunkToWrite => ({
  id,
  text: `the text of ${id}`,
  vector: Float32Array.from({ length: DIM }, (_, i) => Math.sin(id.length * 7 + id.charCodeAt(0) + i)),
  metadata,
});

let dbPath: string;
let cleanup: () => void;
let store: LanceStore | undefined;
beforeEach(() => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  dbPath = path.join(dir, "db");
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  cleanup();
});

/** The store, and every commit it publishes from now on, as `kind` or `kind:column`. */
function observed(options: { vectorCacheBytes?: number; vectorIndexMinRows?: number } = {}) {
  store = new LanceStore({ dbPath, logger: silentLogger, compactIdleMs: 60_000, ...options });
  const commits: Commit[] = [];
  store.onCommit((commit) => {
    commits.push(commit);
  });
  const kinds = () => commits.splice(0).map((c) => (c.kind === "index" ? `index:${c.column}` : c.kind));
  return { store, commits, kinds };
}

describe("commit seam", () => {
  it("tells a subscriber of each commit once, by kind, in commit order", async () => {
    const { store, commits, kinds } = observed({ vectorIndexMinRows: 300 });
    const many = Array.from({ length: 300 }, (_, i) => doc(`r${i}`));
    await store.upsert("c", model, many);
    expect(kinds()).toEqual(["create"]);
    // The cache proves "new" new: appended; "r0" is stored: merged.
    await store.upsert("c", model, [doc("new")]);
    expect(kinds()).toEqual(["add"]);
    await store.upsert("c", model, [doc("r0")]);
    const [merge] = commits;
    expect(kinds()).toEqual(["merge"]);
    expect(merge?.kind === "merge" && merge.rows.map((row) => row.id)).toEqual(["r0"]);
    // A new metadata key is a column first, its own commit.
    await store.upsert("c", model, [doc("tagged", { tag: "x" })]);
    expect(kinds()).toEqual(["schema", "add"]);
    await store.delete("c", { ids: ["r1", "missing"] });
    const [deleted] = commits;
    expect(kinds()).toEqual(["delete"]);
    expect(deleted?.kind === "delete" && deleted.removed).toEqual(["r1"]);
    // Deletes that remove nothing commit nothing.
    await store.delete("c", { ids: ["missing"] });
    await store.delete("c", { where: parseWhere({ tag: "none" }) as Filter });
    expect(kinds()).toEqual([]);
    await store.keywordSearch("c", "text", { limit: 3 });
    await store.keywordSearch("c", "text", { limit: 3 });
    expect(kinds()).toEqual(["index:text"]);
    await store.compact("c");
    await store.vectorIndexSettled("c");
    expect(kinds()).toEqual(["optimize", "index:vector"]);
    await store.rebuildCollection("c", { ...model, model: "next" }, async (rows) =>
      rows.map((row) => ({ ...row, vector: doc(row.id).vector })),
    );
    const [rebuild] = commits;
    expect(kinds()).toEqual(["rebuild"]);
    expect(rebuild?.kind === "rebuild" && rebuild.generation).toBe(1);
    await store.dropCollection("c");
    expect(commits).toEqual([{ kind: "forget", collection: "c", reason: "dropped" }]);
  });

  it("gives each commit of a collection a newer version than the last", async () => {
    const { store, commits } = observed();
    await store.upsert("c", model, [doc("a")]);
    await store.upsert("c", model, [doc("b", { n: 1 })]);
    await store.upsert("c", model, [doc("a")]);
    await store.delete("c", { ids: ["b"] });
    const versions = commits.map((c) => (c.kind === "forget" ? -1 : c.version));
    expect(commits.map((c) => c.kind)).toEqual(["create", "schema", "add", "merge", "delete"]);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
  });

  it("publishes the same commits without a vector cache, merging where the cache would append", async () => {
    const { store, kinds } = observed({ vectorCacheBytes: 0 });
    await store.upsert("c", model, [doc("a")]);
    await store.upsert("c", model, [doc("b")]);
    expect(kinds()).toEqual(["create", "merge"]);
  });

  it("stops telling a subscriber that unsubscribed", async () => {
    store = new LanceStore({ dbPath, logger: silentLogger });
    const seen: string[] = [];
    const stop = store.onCommit((commit) => {
      seen.push(commit.kind);
    });
    await store.upsert("c", model, [doc("a")]);
    stop();
    await store.upsert("c", model, [doc("b")]);
    expect(seen).toEqual(["create"]);
  });
});
