import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness, tempDir } from "../support/harness.js";

/** History and restore: through the memory the CLI uses, checked through the MCP tools. */

type Doc = {
  id: string;
  text: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
};

const T0 = Date.parse("2026-11-01T08:00:00.000Z");

describe("history and restore", () => {
  let h: Harness;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    h = await startHarness({ now: () => now });
  });
  afterEach(async () => h.close());

  const all = async () =>
    (await h.ok<{ documents: Doc[] }>("get_documents", { collection: "c", limit: 100 })).documents;
  const vectors = async () => {
    const rows = await h.app.memory.search("c", "release notes", { limit: 20, mode: "semantic" });
    return new Map(rows.results.map((r) => [r.id, r.score]));
  };

  it("undoes a delete by where: every document, vector and time back; the restore itself undoable", async () => {
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "a", text: "release notes for version one", metadata: { team: "x" } },
        { id: "b", text: "release notes for version two", metadata: { team: "x" } },
        { id: "c", text: "lunch menu", metadata: { team: "y" } },
      ],
    });
    now += 60_000;
    await h.ok("update_documents", {
      collection: "c",
      documents: [{ id: "c", text: "lunch menu, updated" }],
    });
    const before = await all();
    const scoresBefore = await vectors();
    const good = (await h.app.memory.history("c")).at(-1)?.version as number;

    await h.ok("delete", { collection: "c", where: { team: "x" } });
    expect((await all()).map((d) => d.id)).toEqual(["c"]);
    const history = await h.app.memory.history("c");
    expect(history.at(-1)).toMatchObject({ operation: "delete", rowsChanged: -2 });
    expect(history[0]).toMatchObject({ operation: "create", rows: 3 });

    const dry = await h.app.memory.restore("c", { version: good }, { dryRun: true });
    expect(dry).toMatchObject({ version: good, documents: 3, back: ["a", "b"], gone: [], changed: [] });
    expect(dry.restoredAs).toBeUndefined();
    expect((await all()).map((d) => d.id)).toEqual(["c"]);

    const done = await h.app.memory.restore("c", { version: good }, { dryRun: false });
    expect(done.restoredAs).toBeGreaterThan(done.from);
    expect(await all()).toEqual(before);
    expect(await vectors()).toEqual(scoresBefore);

    // Undo the restore: back to the state after the delete.
    const undo = await h.app.memory.restore("c", { version: done.from }, { dryRun: false });
    expect(undo.gone).toEqual(["a", "b"]);
    expect((await all()).map((d) => d.id)).toEqual(["c"]);
    // And by time: the newest version at or before it.
    const at = Date.parse(history.find((v) => v.version === good)?.time ?? "");
    await h.app.memory.restore("c", { at }, { dryRun: false });
    expect(await all()).toEqual(before);
  });

  it("refuses a version that is not kept, or a time before every version, saying what is kept", async () => {
    await h.ok("add_documents", { collection: "c", documents: [{ id: "a", text: "x" }] });
    await expect(h.app.memory.restore("c", { version: 999 }, { dryRun: true })).rejects.toThrow(/not kept/);
    await expect(
      h.app.memory.restore("c", { at: Date.parse("2000-01-01") }, { dryRun: true }),
    ).rejects.toThrow(/No kept version/);
    await expect(h.app.memory.history("ghost")).rejects.toThrow(/does not exist/);
  });
});

describe("backup and restore-backup", () => {
  it("copies every collection consistently while a writer writes, and restores it whole elsewhere", async () => {
    const { dir, cleanup } = tempDir();
    const h = await startHarness({ dbPath: path.join(dir, "db") });
    let other: Harness | undefined;
    try {
      await h.ok("add_documents", {
        collection: "notes",
        documents: Array.from({ length: 50 }, (_, i) => ({
          id: `n${i}`,
          text: `note ${i}`,
          metadata: { i },
        })),
      });
      await h.ok("add_documents", { collection: "long", documents: [{ id: "l", text: longText() }] });
      // A writer that keeps writing, one document per call, while the backup runs.
      let writing = true;
      let written = 0;
      const writer = (async () => {
        while (writing) {
          await h.ok("add_documents", {
            collection: "notes",
            documents: [{ id: `w${written}`, text: `more ${written}` }],
          });
          written += 1;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const copied = await h.app.memory.backup(path.join(dir, "backup"));
      writing = false;
      await writer;
      expect(copied.map((c) => c.collection).sort()).toEqual(["long", "notes"]);
      expect(written).toBeGreaterThan(0);

      other = await startHarness({ dbPath: path.join(dir, "restored") });
      const restored = await other.app.memory.restoreBackup(path.join(dir, "backup"));
      expect(restored.map((c) => c.collection).sort()).toEqual(["long", "notes"]);
      const notes = await other.ok<{ total: number; documents: Array<{ id: string }> }>("get_documents", {
        collection: "notes",
        limit: 100,
      });
      // Whole: the 50 first documents and a prefix of the writer's, as of one version.
      const rows = copied.find((c) => c.collection === "notes")?.rows;
      expect(notes.total).toBe(rows);
      expect(notes.total).toBeGreaterThanOrEqual(50);
      const ws = notes.documents.map((d) => d.id).filter((id) => id.startsWith("w"));
      expect(ws.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))).toEqual(
        Array.from({ length: ws.length }, (_, i) => `w${i}`),
      );
      const long = await other.ok<{ documents: Array<{ text: string; chunks: number }> }>("get_documents", {
        collection: "long",
        ids: ["l"],
      });
      expect(long.documents[0]?.text).toBe(longText());
      const found = await other.ok<{ results: Array<{ id: string }> }>("search_similar", {
        collection: "notes",
        query: "note 7",
        mode: "keyword",
      });
      expect(found.results[0]?.id).toBe("n7");
      // Into a store that has them already: refused, nothing written.
      await expect(other.app.memory.restoreBackup(path.join(dir, "backup"))).rejects.toThrow(
        /exist here already/,
      );
      await expect(h.app.memory.backup(path.join(dir, "backup"))).rejects.toThrow(/already holds/);
    } finally {
      await other?.close();
      await h.close();
      cleanup();
    }
  });
});

function longText(): string {
  return Array.from({ length: 60 }, (_, i) => `Sentence ${i} of a long document about backups.`).join(" ");
}

describe("restoring a version from before times were kept", () => {
  it("reads and writes on, the times unknown again, and adds the columns on the next write", async () => {
    const { dir, cleanup } = tempDir();
    const dbPath = path.join(dir, "db");
    const lancedb = await import("@lancedb/lancedb");
    const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = await import("apache-arrow");
    const { HashEmbedder } = await import("../support/hash-embedder.js");
    const db = await lancedb.connect(dbPath);
    const schema = new Schema(
      [
        new Field("id", new Utf8(), false),
        new Field("text", new Utf8(), false),
        new Field("vector", new FixedSizeList(64, new Field("item", new Float32(), true)), false),
        new Field("metadata", new Utf8(), false),
        new Field("chunk", new Int32(), false),
        new Field("chunk_start", new Int32(), false),
      ],
      new Map([
        ["vector_memory.model", JSON.stringify({ model: "test/hash-64", dtype: "fp32", dimensions: 64 })],
      ]),
    );
    const table = await db.createEmptyTable("c", schema);
    const [vector] = await new HashEmbedder("test/hash-64").embedDocuments(["old"]);
    await table.add([
      { id: "old", text: "old", vector: Array.from(vector ?? []), metadata: "{}", chunk: 0, chunk_start: 0 },
    ]);
    table.close();
    db.close();
    const h = await startHarness({ dbPath });
    try {
      const timeless = (await h.app.memory.history("c")).at(-1)?.version as number;
      await h.ok("add_documents", { collection: "c", documents: [{ id: "new", text: "new" }] });
      await h.app.memory.restore("c", { version: timeless }, { dryRun: false });
      const got = await h.ok<{ documents: Doc[] }>("get_documents", { collection: "c" });
      expect(got.documents.map((d) => [d.id, d.created_at])).toEqual([["old", null]]);
      await h.ok("add_documents", { collection: "c", documents: [{ id: "again", text: "again" }] });
      const after = await h.ok<{ documents: Doc[] }>("get_documents", {
        collection: "c",
        order_by: "created_at",
      });
      expect(after.documents.map((d) => d.id)).toEqual(["again", "old"]);
    } finally {
      await h.close();
      cleanup();
    }
  });
});
