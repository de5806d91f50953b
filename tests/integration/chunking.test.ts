import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Schema, Utf8 } from "apache-arrow";
import { afterEach, describe, expect, it } from "vitest";
import type { ModelSpec } from "../../src/embeddings/model-spec.js";
import { createUseLiteEmbedder } from "../../src/embeddings/use-lite.js";
import { type Harness, type HarnessOptions, startHarness, tempDir } from "../support/harness.js";
import { HASH_WINDOW, HashEmbedder } from "../support/hash-embedder.js";

const someTimes = { created_at: expect.any(String), updated_at: expect.any(String) };

interface AddOut {
  ids: string[];
  chunks: number[];
  added: number;
  replaced: number;
}
interface SearchOut {
  query_truncated: boolean;
  results: Array<{
    id: string;
    text: string;
    chunk: number;
    start: number;
    end: number;
    text_chars: number;
    snippet: string;
    metadata: Record<string, unknown>;
  }>;
}
interface GetOut {
  documents: Array<{ id: string; text: string; metadata: Record<string, unknown>; chunks: number }>;
  total: number;
}

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  open.push(h);
  return h;
}

/** 8 words a sentence, the test model's window is 32 words: 40 sentences make a dozen chunks. */
const filler = (n: number) => `Sentence ${n} is ordinary filler about topic ${n}.`;
const SECRET = "The zebra vault password is kumquat seven.";
const longText = (secretAt = 33, sentences = 40) =>
  Array.from({ length: sentences }, (_, i) => (i === secretAt ? SECRET : filler(i))).join(" ");

const search = (h: Harness, args: Record<string, unknown>) =>
  h.ok<SearchOut>("search_similar", { collection: "notes", ...args });
const get = (h: Harness, ids: string[]) => h.ok<GetOut>("get_documents", { collection: "notes", ids });
const chunksStored = async (h: Harness) => (await h.app.memory.stats("notes")).chunks;

describe("long documents are stored as chunks", () => {
  it("splits a text longer than the model's window, counts it once and returns it whole", async () => {
    const h = await harness();
    const long = longText();
    const added = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [
        { id: "long", text: long, metadata: { kind: "report" } },
        { id: "short", text: "a short note" },
      ],
    });
    const [longChunks = 0] = added.chunks;
    expect(longChunks).toBeGreaterThanOrEqual(long.split(" ").length / HASH_WINDOW);
    expect(added).toMatchObject({ ids: ["long", "short"], chunks: [longChunks, 1], added: 2, replaced: 0 });
    const raw = await h.call("add_documents", {
      collection: "notes",
      documents: [{ id: "long", text: long }],
    });
    expect(JSON.stringify(raw.content)).toContain(`1 long document(s) were split; ${longChunks} chunks`);

    const list = await h.ok<{ collections: Array<{ count: number }> }>("list_collections", {});
    expect(list.collections[0]?.count).toBe(2);
    expect(await h.app.memory.stats("notes")).toMatchObject({ documents: 2, chunks: longChunks + 1 });

    const got = await get(h, ["long"]);
    expect(got.documents).toEqual([
      { id: "long", text: long, metadata: {}, chunks: longChunks, ...someTimes },
    ]);
    const page = await h.ok<GetOut>("get_documents", { collection: "notes", limit: 10 });
    expect(page.documents.map((d) => d.id)).toEqual(["long", "short"]);
    expect(page.total).toBe(2);
  });

  it("finds a passage deep inside a long document, once per document or chunk by chunk", async () => {
    const h = await harness();
    const long = longText();
    await h.ok("add_documents", {
      collection: "notes",
      documents: [
        { id: "long", text: long },
        { id: "other", text: longText(-1, 20) },
        { id: "short", text: "a short note about filler" },
      ],
    });
    const found = await search(h, { query: "zebra vault password kumquat", mode: "semantic" });
    const best = found.results[0];
    expect(best).toMatchObject({ id: "long" });
    expect(best?.chunk).toBeGreaterThan(0);
    expect(best?.text).toContain(SECRET);
    expect(long.slice(best?.start, best?.end)).toBe(best?.text);
    expect(best?.text_chars).toBe(best?.text.length);
    expect(best?.snippet).toContain("kumquat");

    for (const mode of ["semantic", "keyword", "hybrid"]) {
      const byDocument = await search(h, { query: "ordinary filler topic", mode, n_results: 10 });
      const ids = byDocument.results.map((r) => r.id);
      expect(new Set(ids).size, mode).toBe(ids.length);
      // The chunks of "long" and "other" fill the first pool; search reads deeper to reach "short".
      expect([...ids].sort(), mode).toEqual(["long", "other", "short"]);

      const byChunk = await search(h, {
        query: "ordinary filler topic",
        mode,
        n_results: 10,
        group_by: "chunk",
      });
      expect(byChunk.results, mode).toHaveLength(10);
      const longChunks = byChunk.results.filter((r) => r.id === "long");
      expect(longChunks.length, mode).toBeGreaterThan(1);
      expect(new Set(longChunks.map((r) => r.chunk)).size, mode).toBe(longChunks.length);
      for (const r of longChunks) expect(long.slice(r.start, r.end), mode).toBe(r.text);
    }
    // Only a query can be longer than the window, and then the result says so.
    expect(found).toMatchObject({ query_truncated: false });
    const longQuery = await h.call("search_similar", {
      collection: "notes",
      query: `kumquat ${"word ".repeat(HASH_WINDOW)}`,
    });
    expect(longQuery.structuredContent).toMatchObject({ query_truncated: true });
    expect(JSON.stringify(longQuery.content)).toContain("Use a shorter query");

    // The deep passage is found by keyword too, through its own chunk.
    const keyword = await search(h, { query: "kumquat", mode: "keyword" });
    expect(keyword.results.map((r) => r.id)).toEqual(["long"]);
    expect(keyword.results[0]?.text).toContain("kumquat");
  });

  it("re-chunks a changed text, leaving no stale chunks, and moves metadata to every chunk", async () => {
    const h = await harness();
    await h.ok("add_documents", {
      collection: "notes",
      documents: [{ id: "long", text: longText(), metadata: { v: 1 } }],
    });
    const chunks = await chunksStored(h);
    expect(chunks).toBeGreaterThan(2);

    const meta = await h.ok("update_documents", {
      collection: "notes",
      documents: [{ id: "long", metadata: { v: 2 } }],
    });
    expect(meta).toMatchObject({ updated: ["long"], reembedded: 0 });
    expect(await chunksStored(h)).toBe(chunks);
    // The deep chunk carries the new metadata: a filter on it finds the passage.
    const filtered = await search(h, { query: "kumquat", mode: "keyword", where: { v: 2 } });
    expect(filtered.results[0]).toMatchObject({ id: "long", metadata: { v: 2 } });
    expect(filtered.results[0]?.chunk).toBeGreaterThan(0);
    expect(
      (await search(h, { query: "kumquat", mode: "keyword", where: { v: 1 }, group_by: "chunk" })).results,
    ).toEqual([]);

    const shorter = await h.ok("update_documents", {
      collection: "notes",
      documents: [{ id: "long", text: "Now it is short." }],
    });
    expect(shorter).toMatchObject({ updated: ["long"], reembedded: 1 });
    expect(await chunksStored(h)).toBe(1);
    expect((await get(h, ["long"])).documents).toEqual([
      { id: "long", text: "Now it is short.", metadata: { v: 2 }, chunks: 1, ...someTimes },
    ]);
    expect((await search(h, { query: "kumquat", mode: "keyword", group_by: "chunk" })).results).toEqual([]);

    // The same through add_documents: an upsert of a shorter text replaces every old chunk.
    await h.ok("add_documents", { collection: "notes", documents: [{ id: "long", text: longText() }] });
    expect(await chunksStored(h)).toBe(chunks);
    const replaced = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [{ id: "long", text: longText(5, 12) }],
    });
    expect(replaced).toMatchObject({ added: 0, replaced: 1 });
    expect(await chunksStored(h)).toBe(replaced.chunks[0]);
    expect((await get(h, ["long"])).documents[0]?.text).toBe(longText(5, 12));
  });

  it("deletes every chunk of a document, by id and by where; a dry run counts documents", async () => {
    const h = await harness();
    await h.ok("add_documents", {
      collection: "notes",
      documents: [
        { id: "long1", text: longText(), metadata: { tag: "x" } },
        { id: "long2", text: longText(3), metadata: { tag: "y" } },
        { id: "short", text: "a short note", metadata: { tag: "x" } },
      ],
    });
    const dry = await h.ok("delete", { collection: "notes", where: { tag: "x" }, dry_run: true });
    expect(dry).toMatchObject({ deleted: 2, ids: ["long1", "short"], dry_run: true });
    const dryIds = await h.ok("delete", { collection: "notes", ids: ["long1", "nope"], dry_run: true });
    expect(dryIds).toMatchObject({ deleted: 1, ids: ["long1"], not_found: ["nope"] });

    expect(await h.ok("delete", { collection: "notes", ids: ["long1"] })).toMatchObject({ deleted: 1 });
    const long2Chunks = (await get(h, ["long2"])).documents[0]?.chunks ?? 0;
    expect(await chunksStored(h)).toBe(long2Chunks + 1);
    expect(await h.ok("delete", { collection: "notes", where: { tag: "y" } })).toMatchObject({ deleted: 1 });
    expect(await h.app.memory.stats("notes")).toMatchObject({ documents: 1, chunks: 1 });
    expect((await search(h, { query: "kumquat zebra", group_by: "chunk" })).results.map((r) => r.id)).toEqual(
      ["short"],
    );
    const dropped = await h.ok("delete", { collection: "notes", drop_collection: true });
    expect(dropped).toMatchObject({ deleted: 1 });
  });

  it("keeps ids that look like chunk names apart, and texts exactly as given", async () => {
    const h = await harness();
    const tricky = `Line one\r\nline two\ttabbed 😀 émoji.\n\n${"x".repeat(3000)} ${"y ".repeat(80)}end  `;
    const ids = ["doc", "doc#1", "doc#0", '["doc",1]', "doc\u2063", "doc 1", "doc'); DROP TABLE notes;--"];
    const documents = ids.map((id, i) => ({
      id,
      text: i === 0 ? longText() : i === 1 ? tricky : `plain text of ${i}`,
    }));
    const added = await h.ok<AddOut>("add_documents", { collection: "notes", documents });
    expect(added.chunks[0]).toBeGreaterThan(1);
    expect(added.chunks[1]).toBeGreaterThan(1);
    const got = await get(h, ids);
    expect(got.documents.map((d) => [d.id, d.text])).toEqual(documents.map((d) => [d.id, d.text]));

    await h.ok("delete", { collection: "notes", ids: ["doc"] });
    const rest = await h.ok<GetOut>("get_documents", { collection: "notes", limit: 20 });
    expect(rest.documents.map((d) => d.id).sort()).toEqual(ids.slice(1).sort());
    expect(await chunksStored(h)).toBe(added.chunks.slice(1).reduce((a, b) => a + b, 0));
  });

  it("re-embedding chunks every text anew for the new model's window", async () => {
    const factory = async (spec: ModelSpec) =>
      new HashEmbedder(spec.name, 64, spec.name === "m/small" ? 8 : 32);
    const h = await harness({ model: "m/big", factory });
    const long = longText();
    await h.ok("add_documents", { collection: "notes", documents: [{ id: "long", text: long }] });
    const before = await chunksStored(h);
    const result = await h.app.memory.reembed("notes", { kind: "hub", name: "m/small", dtype: "fp32" });
    expect(result).toMatchObject({ changed: true, documents: 1 });
    expect(await chunksStored(h)).toBeGreaterThan(before * 3);
    expect((await get(h, ["long"])).documents[0]?.text).toBe(long);
    const found = await search(h, { query: "zebra vault password kumquat", mode: "semantic" });
    expect(found.results[0]?.text).toContain("kumquat");
  });
});

describe("long documents with a real model", () => {
  it("finds a passage that lies past use-lite's 128-token window", async () => {
    const h = await harness({ model: "use-lite", factory: async () => createUseLiteEmbedder() });
    const cooking = [
      "Start by browning the onions slowly in butter until they turn golden.",
      "Add the garlic and stir for a minute so that it does not burn.",
      "Pour in the stock, season with salt and pepper, and let it simmer.",
      "Meanwhile, chop the parsley and grate some parmesan cheese.",
      "Taste the soup and adjust the seasoning before serving it hot.",
    ];
    const buried =
      "The spacecraft's heat shield cracked during re-entry, and the capsule was lost over the ocean.";
    const text = [...cooking, ...cooking, ...cooking, buried, ...cooking].join(" ");
    const added = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [
        { id: "recipe", text },
        { id: "garden", text: "Water the tomatoes every morning and pull the weeds." },
      ],
    });
    expect(added.chunks[0]).toBeGreaterThan(1);
    const found = await search(h, {
      query: "space capsule destroyed while returning to Earth",
      mode: "semantic",
    });
    expect(found.results[0]?.id).toBe("recipe");
    expect(found.results[0]?.text).toContain("heat shield");
    expect(found.results[0]?.chunk).toBeGreaterThan(0);
  });
});

describe("collections made before chunking", () => {
  it("read as whole documents, and split a long text the next time it is written", async () => {
    const { dir, cleanup } = tempDir();
    let h: Harness | undefined;
    try {
      // The table layout before chunking: no chunk columns; a long text stored whole as one row.
      const dbPath = path.join(dir, "db");
      const db = await lancedb.connect(dbPath);
      const model = { model: "test/hash-64", dtype: "fp32", dimensions: 64 };
      const schema = new Schema(
        [
          new Field("id", new Utf8(), false),
          new Field("text", new Utf8(), false),
          new Field("vector", new FixedSizeList(64, new Field("item", new Float32(), true)), false),
          new Field("metadata", new Utf8(), false),
        ],
        new Map([["vector_memory.model", JSON.stringify(model)]]),
      );
      const table = await db.createEmptyTable("notes", schema);
      const embedder = new HashEmbedder("test/hash-64");
      const long = longText();
      const [vector] = await embedder.embedDocuments([long]);
      await table.add([{ id: "old", text: long, vector: Array.from(vector ?? []), metadata: '{"v":1}' }]);
      table.close();
      db.close();

      h = await startHarness({ dbPath });
      expect((await get(h, ["old"])).documents).toEqual([
        // Stored before times were kept: unknown, not now.
        { id: "old", text: long, metadata: { v: 1 }, chunks: 1, created_at: null, updated_at: null },
      ]);
      const found = await search(h, { query: "kumquat", mode: "hybrid" });
      expect(found.results[0]).toMatchObject({ id: "old", chunk: 0, start: 0, end: long.length });

      await h.ok("add_documents", { collection: "notes", documents: [{ id: "new", text: "a short note" }] });
      expect(await h.app.memory.stats("notes")).toMatchObject({ documents: 2, chunks: 2 });
      await h.ok("update_documents", {
        collection: "notes",
        documents: [{ id: "old", text: `${long} More.` }],
      });
      const updated = (await get(h, ["old"])).documents[0];
      expect(updated?.text).toBe(`${long} More.`);
      expect(updated?.chunks).toBeGreaterThan(1);
      expect((await search(h, { query: "kumquat", mode: "keyword" })).results[0]?.chunk).toBeGreaterThan(0);
    } finally {
      await h?.close();
      cleanup();
    }
  });
});
