import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiRequest, handleApi } from "../../src/ui/api.js";
import { type Harness, startHarness } from "../support/harness.js";

/** The web UI's JSON API on the memory core, without HTTP: validation, refusals, and the tools' rules. */
describe("the web UI's API", () => {
  let h: Harness;
  const call = (
    method: string,
    route: string,
    query: Record<string, string | string[]> = {},
    body?: unknown,
  ) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const item of [v].flat()) params.append(k, item);
    const request: ApiRequest = { method, route, query: params, body };
    return handleApi(h.app.memory, request);
  };

  beforeAll(async () => {
    h = await startHarness();
    await h.ok("add_documents", {
      collection: "notes",
      documents: [
        { id: "a", text: "alpha beta", metadata: { topic: "x", n: 1 } },
        { id: "b", text: "gamma delta", metadata: { topic: "y", n: 2 } },
      ],
    });
  });
  afterAll(() => h.close());

  it("lists collections with counts and the model", async () => {
    const reply = await call("GET", "/collections");
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ collections: [{ name: "notes", count: 2, dimensions: 64 }] });
  });

  it("shows each collection's index state", async () => {
    const before = await call("GET", "/collections");
    expect(before.body).toMatchObject({
      collections: [
        {
          name: "notes",
          indexes: {
            vector: { present: false, indexedRows: 0, unindexedRows: 0 },
            text: { present: expect.any(Boolean) },
          },
        },
      ],
    });
    await call("POST", "/search", undefined, { collection: "notes", query: "alpha", mode: "keyword" });
    const after = await call("GET", "/collections");
    expect(after.body).toMatchObject({
      collections: [{ indexes: { text: { present: true, indexedRows: 2, unindexedRows: 0 } } }],
    });
  });

  it("keeps pages right while documents are added and removed between them", async () => {
    await h.ok("add_documents", {
      collection: "paging",
      documents: ["c", "a", "e"].map((id) => ({ id, text: `text ${id}`, metadata: { k: 1 } })),
    });
    const first = await call("GET", "/documents", { collection: "paging", limit: "2" });
    expect(first.body).toMatchObject({ total: 3, documents: [{ id: "a" }, { id: "c" }] });
    await h.ok("add_documents", {
      collection: "paging",
      documents: [{ id: "d", text: "text d", metadata: { k: 2 } }],
    });
    const cursor = (first.body as { nextCursor: string }).nextCursor;
    const second = await call("GET", "/documents", { collection: "paging", limit: "2", cursor });
    expect(second.body).toMatchObject({ total: 4, nextCursor: null, documents: [{ id: "d" }, { id: "e" }] });
    await h.ok("delete", { collection: "paging", ids: ["d"] });
    const again = await call("GET", "/documents", { collection: "paging", limit: "2", cursor });
    expect(again.body).toMatchObject({ total: 3, documents: [{ id: "e" }] });
    const filtered = await call("GET", "/documents", { collection: "paging", where: '{"k":1}', cursor });
    expect(filtered.body).toMatchObject({ total: 3, documents: [{ id: "e" }] });
  });

  it("pages and filters documents as get_documents does", async () => {
    const page = await call("GET", "/documents", { collection: "notes", limit: "1" });
    expect(page.body).toMatchObject({ total: 2, documents: [{ id: "a" }] });
    const next = (page.body as { nextCursor: string }).nextCursor;
    expect((await call("GET", "/documents", { collection: "notes", cursor: next })).body).toMatchObject({
      documents: [{ id: "b" }],
      nextCursor: null,
    });
    const filtered = await call("GET", "/documents", { collection: "notes", where: '{"topic":"y"}' });
    expect(filtered.body).toMatchObject({ total: 1, documents: [{ id: "b" }] });
  });

  it("refuses bad input with 400 and a line naming the field, before touching the store", async () => {
    for (const [query, field] of [
      [{ collection: "../etc" }, "collection"],
      [{ collection: "notes", where: "not json" }, "where"],
      [{ collection: "notes", where: '{"__proto__": {"x": 1}}' }, "where"],
      [{ collection: "notes", limit: "0" }, "limit"],
      [{ collection: "notes", limit: "lots" }, "limit"],
    ] as const) {
      const reply = await call("GET", "/documents", query);
      expect(reply.status).toBe(400);
      expect((reply.body as { error: string }).error).toMatch(new RegExp(`^${field}`));
    }
    const badFilter = await call("GET", "/documents", {
      collection: "notes",
      where: '{"n": {"$regex": "x"}}',
    });
    expect(badFilter.status).toBe(400);
  });

  it("answers an unknown collection with 404 and the known ones", async () => {
    const reply = await call("GET", "/documents", { collection: "ghost" });
    expect(reply.status).toBe(404);
    expect((reply.body as { error: string }).error).toContain("Known collections: notes");
  });

  it("searches in each mode with snippets and matched_by", async () => {
    for (const mode of ["semantic", "keyword", "hybrid"]) {
      const reply = await call("POST", "/search", undefined, { collection: "notes", query: "alpha", mode });
      expect(reply.status).toBe(200);
      const [first] = (reply.body as { results: { id: string; snippet: string; matched_by: string[] }[] })
        .results;
      expect(first).toMatchObject({ id: "a", snippet: "alpha beta" });
      expect(first?.matched_by.length).toBeGreaterThan(0);
    }
    expect((await call("POST", "/search", undefined, { collection: "notes", query: " " })).status).toBe(400);
  });

  it("updates metadata with update_documents' rules, a type conflict refused", async () => {
    const ok = await call("POST", "/update", undefined, {
      collection: "notes",
      documents: [{ id: "a", metadata: { topic: "z", n: null } }],
    });
    expect(ok).toMatchObject({ status: 200, body: { updated: ["a"], reembedded: 0 } });
    expect((await call("GET", "/documents", { collection: "notes", id: "a" })).body).toMatchObject({
      documents: [{ metadata: { topic: "z" } }],
    });
    const conflict = await call("POST", "/update", undefined, {
      collection: "notes",
      documents: [{ id: "b", metadata: { topic: 5 } }],
    });
    expect(conflict.status).toBe(400);
  });

  it("deletes with a dry run first, and refuses an empty where", async () => {
    const dry = await call("POST", "/delete", undefined, { collection: "notes", ids: ["b"], dry_run: true });
    expect(dry.body).toMatchObject({ deleted: 1, dryRun: true, ids: ["b"] });
    expect((await call("GET", "/documents", { collection: "notes", id: "b" })).body).toMatchObject({
      documents: [{ id: "b" }],
    });
    expect((await call("POST", "/delete", undefined, { collection: "notes", where: {} })).status).toBe(400);
    expect(
      (await call("POST", "/delete", undefined, { collection: "notes", ids: ["b"] })).body,
    ).toMatchObject({
      deleted: 1,
    });
  });

  it("has no route for anything else", async () => {
    expect((await call("GET", "/update")).status).toBe(404);
    expect((await call("DELETE", "/documents")).status).toBe(404);
  });
});
