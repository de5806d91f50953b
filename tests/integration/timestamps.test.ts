import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

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
