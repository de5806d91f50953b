import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness, tempDir } from "../support/harness.js";
import { HashEmbedder } from "../support/hash-embedder.js";

/** Documents' created_at / updated_at through a real MCP client, on a clock the test moves. */

type Doc = { id: string; created_at: string | null; updated_at: string | null };

const T0 = Date.parse("2026-11-01T08:00:00.000Z");
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("document times", () => {
  let h: Harness;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    h = await startHarness({ now: () => now });
  });
  afterEach(async () => h.close());

  async function times(...ids: string[]): Promise<Record<string, [string | null, string | null]>> {
    const { documents } = await h.ok<{ documents: Doc[] }>("get_documents", { collection: "c", ids });
    return Object.fromEntries(documents.map((d) => [d.id, [d.created_at, d.updated_at]]));
  }

  it("are set on create and returned by get_documents and every search mode", async () => {
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "a", text: "the deploy key lives in the vault", metadata: { topic: "ops" } },
        { id: "b", text: "lunch is at noon" },
      ],
    });
    expect(await times("a", "b")).toEqual({ a: [iso(T0), iso(T0)], b: [iso(T0), iso(T0)] });
    for (const mode of ["semantic", "keyword", "hybrid"]) {
      const { results } = await h.ok<{ results: Doc[] }>("search_similar", {
        collection: "c",
        query: "deploy key vault",
        mode,
      });
      expect(results[0]).toMatchObject({ id: "a", created_at: iso(T0), updated_at: iso(T0) });
    }
    // A filtered search runs in LanceDB, not the vector cache: the same times.
    const { results } = await h.ok<{ results: Doc[] }>("search_similar", {
      collection: "c",
      query: "deploy key",
      where: { topic: "ops" },
      mode: "semantic",
    });
    expect(results[0]).toMatchObject({ id: "a", created_at: iso(T0), updated_at: iso(T0) });
  });

  it("keep created_at on upsert; updated_at moves on a text or metadata change, not on a repeat", async () => {
    const add = (documents: unknown[]) => h.ok("add_documents", { collection: "c", documents });
    await add([
      { id: "a", text: "alpha", metadata: { x: 1, y: "k" } },
      { id: "b", text: "beta" },
    ]);
    now = T0 + HOUR;
    // The same call again, metadata keys in another order: nothing changed.
    await add([
      { id: "a", text: "alpha", metadata: { y: "k", x: 1 } },
      { id: "b", text: "beta" },
    ]);
    expect(await times("a", "b")).toEqual({ a: [iso(T0), iso(T0)], b: [iso(T0), iso(T0)] });

    now = T0 + 2 * HOUR;
    await add([
      { id: "a", text: "alpha", metadata: { x: 2, y: "k" } },
      { id: "b", text: "beta, changed" },
    ]);
    expect(await times("a", "b")).toEqual({
      a: [iso(T0), iso(T0 + 2 * HOUR)],
      b: [iso(T0), iso(T0 + 2 * HOUR)],
    });

    now = T0 + 3 * HOUR;
    await h.ok("update_documents", { collection: "c", documents: [{ id: "a", metadata: { x: 2 } }] });
    await h.ok("update_documents", { collection: "c", documents: [{ id: "b", text: "beta, changed" }] });
    expect(await times("a", "b")).toEqual({
      a: [iso(T0), iso(T0 + 2 * HOUR)],
      b: [iso(T0), iso(T0 + 2 * HOUR)],
    });
    await h.ok("update_documents", { collection: "c", documents: [{ id: "a", metadata: { y: null } }] });
    await h.ok("update_documents", { collection: "c", documents: [{ id: "b", text: "beta again" }] });
    expect(await times("a", "b")).toEqual({
      a: [iso(T0), iso(T0 + 3 * HOUR)],
      b: [iso(T0), iso(T0 + 3 * HOUR)],
    });

    // Delete and add again: a new document, created now.
    now = T0 + 4 * HOUR;
    await h.ok("delete", { collection: "c", ids: ["a"] });
    await add([{ id: "a", text: "alpha" }]);
    expect(await times("a")).toEqual({ a: [iso(T0 + 4 * HOUR), iso(T0 + 4 * HOUR)] });
  });

  it("are one document's, across all its chunks, and survive a shorter new version", async () => {
    const long = Array.from({ length: 80 }, (_, i) => `Sentence number ${i} about the roadmap.`).join(" ");
    const added = await h.ok<{ chunks: number[] }>("add_documents", {
      collection: "c",
      documents: [{ id: "long", text: long }],
    });
    expect(added.chunks[0]).toBeGreaterThan(1);
    now = T0 + HOUR;
    await h.ok("add_documents", { collection: "c", documents: [{ id: "long", text: "short now" }] });
    expect(await times("long")).toEqual({ long: [iso(T0), iso(T0 + HOUR)] });
    const { results } = await h.ok<{ results: Doc[] }>("search_similar", {
      collection: "c",
      query: "short now",
      group_by: "chunk",
    });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ created_at: iso(T0), updated_at: iso(T0 + HOUR) });
  });
});

describe("time filters in where", () => {
  let h: Harness;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    h = await startHarness({ now: () => now });
    for (const [i, id] of ["a", "b", "c"].entries()) {
      now = T0 + i * HOUR;
      await h.ok("add_documents", {
        collection: "c",
        documents: [{ id, text: `note ${id} about the release plan`, metadata: { team: i < 2 ? "x" : "y" } }],
      });
    }
  });
  afterEach(async () => h.close());

  const ids = (docs: Array<{ id: string }>) => docs.map((d) => d.id).sort();

  it("select by created_at / updated_at in search, get and delete, with metadata conditions too", async () => {
    const since = { updated_at: { $gte: iso(T0 + HOUR) } };
    for (const mode of ["semantic", "keyword", "hybrid"]) {
      const { results } = await h.ok<{ results: Doc[] }>("search_similar", {
        collection: "c",
        query: "release plan",
        where: since,
        mode,
      });
      expect(ids(results), mode).toEqual(["b", "c"]);
    }
    const got = await h.ok<{ documents: Doc[]; total: number }>("get_documents", {
      collection: "c",
      where: { $and: [{ created_at: { $lt: "2026-11-01T10:30:00+01:00" } }, { team: "x" }] },
    });
    expect(ids(got.documents)).toEqual(["a", "b"]);
    expect(got.total).toBe(2);
    const exact = await h.ok<{ documents: Doc[] }>("get_documents", {
      collection: "c",
      where: { created_at: iso(T0 + 2 * HOUR) },
    });
    expect(ids(exact.documents)).toEqual(["c"]);

    const dry = await h.ok<{ deleted: number; ids: string[] }>("delete", {
      collection: "c",
      where: { updated_at: { $lt: iso(T0 + HOUR) } },
      dry_run: true,
    });
    expect(dry).toMatchObject({ deleted: 1, ids: ["a"] });
    await h.ok("delete", { collection: "c", where: { updated_at: { $lt: iso(T0 + HOUR) } } });
    const left = await h.ok<{ documents: Doc[] }>("get_documents", { collection: "c" });
    expect(ids(left.documents)).toEqual(["b", "c"]);
  });

  it("refuse times that are not ISO 8601, saying which forms work, and change nothing", async () => {
    for (const bad of ["yesterday", "2026-11-01T00:00:00", "1' OR 1=1 --", "2026-02-30"]) {
      const text = await h.error("search_similar", {
        collection: "c",
        query: "plan",
        where: { updated_at: { $gte: bad } },
      });
      expect(text).toMatch(/ISO 8601/);
    }
    expect(
      await h.error("get_documents", { collection: "c", where: { created_at: { $in: ["x"] } } }),
    ).toMatch(/own time/);
    const all = await h.ok<{ total: number }>("get_documents", { collection: "c" });
    expect(all.total).toBe(3);
  });

  it("cannot be shadowed: metadata keys named created_at / updated_at are refused", async () => {
    const text = await h.error("add_documents", {
      collection: "c",
      documents: [{ id: "d", text: "x", metadata: { created_at: "2001-01-01" } }],
    });
    expect(text).toMatch(/own times/);
    expect(
      await h.error("update_documents", {
        collection: "c",
        documents: [{ id: "a", metadata: { updated_at: "soon" } }],
      }),
    ).toMatch(/own times/);
    const all = await h.ok<{ total: number }>("get_documents", { collection: "c" });
    expect(all.total).toBe(3);
  });
});

describe("get_documents ordered by time", () => {
  let h: Harness;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    h = await startHarness({ now: () => now });
    // Created in the order a..e, one hour apart; ids chosen so id order is not time order.
    for (const [i, id] of ["m", "b", "x", "a", "k"].entries()) {
      now = T0 + i * HOUR;
      await h.ok("add_documents", { collection: "c", documents: [{ id, text: `memory ${id}` }] });
    }
    now = T0 + 10 * HOUR;
  });
  afterEach(async () => h.close());

  type Page = { documents: Doc[]; next_cursor: string | null; total: number };
  const page = (args: Record<string, unknown>) =>
    h.ok<Page>("get_documents", { collection: "c", limit: 2, ...args });

  it("lists newest first by created_at or updated_at, ties by id", async () => {
    await h.ok("update_documents", { collection: "c", documents: [{ id: "b", text: "memory b, revised" }] });
    const created = await page({ order_by: "created_at", limit: 10 });
    expect(created.documents.map((d) => d.id)).toEqual(["k", "a", "x", "b", "m"]);
    const updated = await page({ order_by: "updated_at", limit: 10 });
    expect(updated.documents.map((d) => d.id)).toEqual(["b", "k", "a", "x", "m"]);
    // Same time: by id.
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "z2", text: "tie" },
        { id: "z1", text: "tie too" },
      ],
    });
    const ties = await page({ order_by: "created_at", limit: 3 });
    expect(ties.documents.map((d) => d.id)).toEqual(["z1", "z2", "k"]);
  });

  it("pages with a keyset cursor: nothing twice and nothing lost while documents are written", async () => {
    const first = await page({ order_by: "created_at" });
    expect(first.documents.map((d) => d.id)).toEqual(["k", "a"]);
    // Between pages: a new document, a change to one not yet listed, a delete of one listed.
    await h.ok("add_documents", { collection: "c", documents: [{ id: "new", text: "memory new" }] });
    await h.ok("update_documents", { collection: "c", documents: [{ id: "m", text: "memory m, revised" }] });
    await h.ok("delete", { collection: "c", ids: ["k"] });
    const second = await page({ order_by: "created_at", cursor: first.next_cursor });
    expect(second.documents.map((d) => d.id)).toEqual(["x", "b"]);
    const third = await page({ order_by: "created_at", cursor: second.next_cursor });
    expect(third.documents.map((d) => d.id)).toEqual(["m"]);
    expect(third.next_cursor).toBeNull();
    // The new document is at the front of a fresh listing.
    expect((await page({ order_by: "created_at" })).documents[0]?.id).toBe("new");

    // By updated_at, a document changed while paging moves to the front: not returned twice.
    const u1 = await page({ order_by: "updated_at" });
    expect(u1.documents.map((d) => d.id)).toEqual(["m", "new"]); // same time: by id
    now += HOUR;
    await h.ok("update_documents", { collection: "c", documents: [{ id: "new", text: "changed again" }] });
    const u2 = await page({ order_by: "updated_at", cursor: u1.next_cursor });
    expect(u2.documents.map((d) => d.id)).toEqual(["a", "x"]);
    const u3 = await page({ order_by: "updated_at", cursor: u2.next_cursor });
    expect(u3.documents.map((d) => d.id)).toEqual(["b"]);
  });

  it("combines with where, and refuses a cursor of another order", async () => {
    const filtered = await page({
      order_by: "updated_at",
      where: { updated_at: { $lt: iso(T0 + 3 * HOUR) } },
    });
    expect(filtered.documents.map((d) => d.id)).toEqual(["x", "b"]);
    expect(filtered.total).toBe(3);
    const byTime = await page({ order_by: "created_at" });
    expect(await h.error("get_documents", { collection: "c", cursor: byTime.next_cursor })).toMatch(
      /ordered by created_at, not id/,
    );
    expect(await h.error("get_documents", { collection: "c", ids: ["a"], order_by: "created_at" })).toMatch(
      /not both/,
    );
    // An id-ordered cursor from before this change still pages by id.
    const old = Buffer.from(JSON.stringify({ after: "b" })).toString("base64url");
    expect((await page({ cursor: old })).documents.map((d) => d.id)).toEqual(["k", "m"]);
  });
});

describe("a collection stored before times were kept, through the tools", () => {
  it("reads unknown times as null, lists them last, matches no time filter, and times new writes", async () => {
    const { dir, cleanup } = tempDir();
    let h: Harness | undefined;
    try {
      const dbPath = path.join(dir, "db");
      const db = await lancedb.connect(dbPath);
      const model = { model: "test/hash-64", dtype: "fp32", dimensions: 64 };
      const schema = new Schema(
        [
          new Field("id", new Utf8(), false),
          new Field("text", new Utf8(), false),
          new Field("vector", new FixedSizeList(64, new Field("item", new Float32(), true)), false),
          new Field("metadata", new Utf8(), false),
          new Field("chunk", new Int32(), false),
          new Field("chunk_start", new Int32(), false),
        ],
        new Map([["vector_memory.model", JSON.stringify(model)]]),
      );
      const table = await db.createEmptyTable("c", schema);
      const embedder = new HashEmbedder("test/hash-64");
      const texts = { old1: "an old memory", old2: "another old memory" };
      const vectors = await embedder.embedDocuments(Object.values(texts));
      await table.add(
        Object.entries(texts).map(([id, text], i) => ({
          id,
          text,
          vector: Array.from(vectors[i] ?? []),
          metadata: "{}",
          chunk: 0,
          chunk_start: 0,
        })),
      );
      table.close();
      db.close();

      h = await startHarness({ dbPath, now: () => T0 });
      const { results } = await h.ok<{ results: Doc[] }>("search_similar", {
        collection: "c",
        query: "old memory",
      });
      expect(results.map((r) => [r.created_at, r.updated_at])).toEqual([
        [null, null],
        [null, null],
      ]);
      const filtered = await h.ok<{ total: number }>("get_documents", {
        collection: "c",
        where: { created_at: { $lt: "2100-01-01" } },
      });
      expect(filtered.total).toBe(0);
      await h.ok("add_documents", { collection: "c", documents: [{ id: "fresh", text: "a new memory" }] });
      const listed = await h.ok<{ documents: Doc[] }>("get_documents", {
        collection: "c",
        order_by: "updated_at",
      });
      expect(listed.documents.map((d) => [d.id, d.updated_at])).toEqual([
        ["fresh", iso(T0)],
        ["old1", null],
        ["old2", null],
      ]);
      const after = await h.ok<{ total: number }>("get_documents", {
        collection: "c",
        where: { created_at: { $lt: "2100-01-01" } },
      });
      expect(after.total).toBe(1);
    } finally {
      await h?.close();
      cleanup();
    }
  });
});

describe("recency in search_similar", () => {
  const DAY = 24 * HOUR;
  const query = "the deploy key rotates every ninety days";
  type Result = Doc & { score: number; weighted_score?: number };

  async function seeded() {
    let now = T0;
    const h = await startHarness({ now: () => now });
    await h.ok("add_documents", { collection: "c", documents: [{ id: "old-exact", text: query }] });
    now = T0 + 30 * DAY;
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "new-close", text: "the deploy key rotates every ninety days now, says ops" },
        { id: "unrelated", text: "lunch on fridays is at the noodle place" },
      ],
    });
    return h;
  }

  it("is off by default; on, a newer close match passes an older exact one, in every mode", async () => {
    const h = await seeded();
    try {
      for (const mode of ["semantic", "keyword", "hybrid"]) {
        const plain = await h.ok<{ results: Result[] }>("search_similar", { collection: "c", query, mode });
        expect(plain.results.map((r) => r.id).slice(0, 2), mode).toEqual(["old-exact", "new-close"]);
        expect(plain.results[0]?.weighted_score).toBeUndefined();

        const recent = await h.ok<{ results: Result[] }>("search_similar", {
          collection: "c",
          query,
          mode,
          recency_half_life_days: 30,
        });
        expect(recent.results.map((r) => r.id).slice(0, 2), mode).toEqual(["new-close", "old-exact"]);
        const [first, second] = recent.results;
        // The cosine score is kept; the weighted one is added and orders the results.
        expect(second?.score).toBeCloseTo(1, 5);
        expect(first?.score).toBeLessThan(1);
        expect(first?.weighted_score).toBeGreaterThan(second?.weighted_score ?? 1);
        if (mode === "semantic") {
          expect(second?.weighted_score).toBeCloseTo(0.5, 5); // one half-life old
          expect(first?.weighted_score).toBeCloseTo(first?.score ?? 0, 5);
          // Newness does not lift what does not match: the unrelated new text stays last.
          expect(recent.results.at(-1)?.id).toBe("unrelated");
        }
      }
      // A long half-life barely weighs age: the exact match stays first.
      const lax = await h.ok<{ results: Result[] }>("search_similar", {
        collection: "c",
        query,
        mode: "semantic",
        recency_half_life_days: 10_000,
      });
      expect(lax.results[0]?.id).toBe("old-exact");
      expect(await h.error("search_similar", { collection: "c", query, recency_half_life_days: 0 })).toMatch(
        /recency_half_life_days/,
      );
    } finally {
      await h.close();
    }
  });
});
