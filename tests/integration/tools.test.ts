import { readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, remoteDatabases, startHarness } from "../support/harness.js";
import { TOOL_NAMES } from "../support/tools.js";

interface AddOut {
  collection: string;
  ids: string[];
  added: number;
  replaced: number;
  created: boolean;
  model: { model: string; dtype: string; dimensions: number };
}
interface SearchOut {
  results: Array<{
    id: string;
    text: string;
    score: number;
    distance: number;
    metadata: Record<string, unknown>;
  }>;
}
interface DeleteOut {
  deleted: number;
  not_found: string[];
  dropped_collection: boolean;
}
interface ListOut {
  collections: Array<{ name: string; count: number; model: string; dtype: string; dimensions: number }>;
}

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const docs = [
  {
    id: "a",
    text: "the quick brown fox jumps",
    metadata: { topic: "animals", year: 2020, draft: false, tags: ["fox", "dog"] },
  },
  {
    id: "b",
    text: "a lazy dog sleeps all day",
    metadata: { topic: "animals", year: 2022, draft: true, tags: ["dog"] },
  },
  { id: "c", text: "stock markets fell sharply", metadata: { topic: "finance", year: 2023, draft: false } },
  {
    id: "d",
    text: "interest rates and bond yields",
    metadata: { topic: "finance", year: 2019, rating: 4.5 },
  },
];

async function count(name: string): Promise<number | undefined> {
  const list = await h.ok<ListOut>("list_collections", {});
  return list.collections.find((c) => c.name === name)?.count;
}

async function ids(where: Record<string, unknown>): Promise<string[]> {
  const out = await h.ok<SearchOut>("search_similar", {
    collection: "notes",
    query: "anything at all",
    n_results: 100,
    where,
  });
  return out.results.map((r) => r.id).sort();
}

describe("tools/list", () => {
  it("lists every tool with schemas, descriptions and annotations", async () => {
    const { tools } = await h.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(TOOL_NAMES);
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(40);
      expect(tool.outputSchema?.type).toBe("object");
      expect(tool.inputSchema.type).toBe("object");
    }
    expect(byName.search_similar?.annotations?.readOnlyHint).toBe(true);
    expect(byName.list_collections?.annotations?.readOnlyHint).toBe(true);
    expect(byName.delete?.annotations?.destructiveHint).toBe(true);
    expect(byName.delete?.annotations?.idempotentHint).toBe(true);
    expect(byName.add_documents?.annotations?.readOnlyHint).toBe(false);
    expect(byName.get_documents?.annotations?.readOnlyHint).toBe(true);
    expect(byName.update_documents?.annotations?.idempotentHint).toBe(true);
  });
});

describe("add_documents", () => {
  it("creates the collection, returns ids and counts, and records the model", async () => {
    const out = await h.ok<AddOut>("add_documents", { collection: "notes", documents: docs });
    expect(out).toMatchObject({
      collection: "notes",
      ids: ["a", "b", "c", "d"],
      added: 4,
      replaced: 0,
      created: true,
    });
    expect(out.model).toEqual({ model: "test/hash-64", dtype: "fp32", dimensions: 64 });
    expect(await count("notes")).toBe(4);
  });

  it("generates missing ids and upserts by id without duplicating", async () => {
    const first = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [{ text: "one" }, { id: "x", text: "two" }],
    });
    expect(first.ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.ids[1]).toBe("x");
    const second = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [
        { id: "x", text: "two, rewritten", metadata: { v: 2 } },
        { id: "y", text: "three" },
      ],
    });
    expect(second).toMatchObject({ added: 1, replaced: 1, created: false });
    expect(await count("notes")).toBe(3);
    const hit = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "two, rewritten",
      n_results: 1,
    });
    expect(hit.results[0]).toMatchObject({ id: "x", text: "two, rewritten", metadata: { v: 2 } });
  });

  it("replacing a document drops metadata keys the new version does not have", async () => {
    await h.ok("add_documents", {
      collection: "notes",
      documents: [{ id: "k", text: "keep", metadata: { topic: "old", n: 1 } }],
    });
    await h.ok("add_documents", {
      collection: "notes",
      documents: [{ id: "k", text: "keep", metadata: { n: 2 } }],
    });
    expect(await ids({ topic: "old" })).toEqual([]);
    expect(await ids({ n: 2 })).toEqual(["k"]);
  });

  it("stores and returns metadata exactly as given", async () => {
    const metadata = {
      s: "héllo ✓ 'quoted' \\ back",
      i: 42,
      f: -3.25,
      big: 1e300,
      t: true,
      f2: false,
      arr: ["x", "y'z"],
      empty: [],
    };
    await h.ok("add_documents", {
      collection: "notes",
      documents: [{ id: "m", text: "metadata round trip", metadata }],
    });
    const out = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "metadata round trip",
      n_results: 1,
    });
    expect(out.results[0]?.metadata).toEqual(metadata);
  });

  it("refuses a metadata key whose type changes, and writes nothing", async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const message = await h.error("add_documents", {
      collection: "notes",
      documents: [
        { id: "new", text: "fine" },
        { id: "bad", text: "year as text", metadata: { year: "2020" } },
      ],
    });
    expect(message).toMatch(/"year" holds numbers/);
    expect(await count("notes")).toBe(4);
    const mixed = await h.error("add_documents", {
      collection: "other",
      documents: [
        { text: "a", metadata: { k: 1 } },
        { text: "b", metadata: { k: "1" } },
      ],
    });
    expect(mixed).toMatch(/both numbers and strings/);
    expect(await count("other")).toBeUndefined();
  });

  it("refuses duplicate ids within one call", async () => {
    const message = await h.error("add_documents", {
      collection: "notes",
      documents: [
        { id: "z", text: "1" },
        { id: "z", text: "2" },
      ],
    });
    expect(message).toMatch(/appears more than once/);
    expect(await count("notes")).toBeUndefined();
  });

  it("sends progress notifications for a large add when asked", async () => {
    const progress: Array<{ progress: number; total?: number }> = [];
    const documents = Array.from({ length: 150 }, (_, i) => ({ id: `p${i}`, text: `document number ${i}` }));
    await h.client.callTool(
      { name: "add_documents", arguments: { collection: "bulk", documents } },
      undefined,
      {
        onprogress: (p) => progress.push(p),
      },
    );
    // One step for the model (already loaded here, so not reported) and one per document.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ progress: 151, total: 151 });
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]?.progress).toBeGreaterThan(progress[i - 1]?.progress as number);
    expect(await count("bulk")).toBe(150);
  });
});

describe("search_similar", () => {
  beforeEach(async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
  });

  it("ranks the exact text first with score 1, best first, distance = 1 - score", async () => {
    const out = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "stock markets fell sharply",
    });
    expect(out.results[0]?.id).toBe("c");
    expect(out.results[0]?.score).toBeCloseTo(1, 5);
    expect(out.results).toHaveLength(4);
    for (let i = 1; i < out.results.length; i++) {
      expect(out.results[i - 1]?.score).toBeGreaterThanOrEqual(out.results[i]?.score as number);
    }
    for (const r of out.results) expect(r.distance).toBeCloseTo(1 - r.score, 6);
  });

  it("honours n_results", async () => {
    const out = await h.ok<SearchOut>("search_similar", { collection: "notes", query: "dog", n_results: 2 });
    expect(out.results).toHaveLength(2);
  });

  it("filters with every operator, inside the database", async () => {
    expect(await ids({ topic: "finance" })).toEqual(["c", "d"]);
    expect(await ids({ topic: { $eq: "animals" } })).toEqual(["a", "b"]);
    expect(await ids({ topic: { $ne: "animals" } })).toEqual(["c", "d"]);
    expect(await ids({ year: { $gt: 2020 } })).toEqual(["b", "c"]);
    expect(await ids({ year: { $gte: 2020 } })).toEqual(["a", "b", "c"]);
    expect(await ids({ year: { $lt: 2020 } })).toEqual(["d"]);
    expect(await ids({ year: { $lte: 2020 } })).toEqual(["a", "d"]);
    expect(await ids({ year: { $in: [2019, 2023] } })).toEqual(["c", "d"]);
    expect(await ids({ year: { $nin: [2019, 2023] } })).toEqual(["a", "b"]);
    expect(await ids({ draft: true })).toEqual(["b"]);
    expect(await ids({ rating: { $gte: 4.5 } })).toEqual(["d"]);
    expect(await ids({ $and: [{ topic: "animals" }, { year: { $gte: 2021 } }] })).toEqual(["b"]);
    expect(await ids({ $or: [{ topic: "finance" }, { draft: true }] })).toEqual(["b", "c", "d"]);
    expect(await ids({ topic: "finance", year: { $gte: 2020, $lte: 2023 } })).toEqual(["c"]);
    expect(await ids({ $or: [{ $and: [{ topic: "animals" }, { draft: false }] }, { year: 2019 }] })).toEqual([
      "a",
      "d",
    ]);
    // Array metadata: $eq / $in test membership.
    expect(await ids({ tags: "dog" })).toEqual(["a", "b"]);
    expect(await ids({ tags: { $in: ["fox", "cat"] } })).toEqual(["a"]);
    expect(await ids({ tags: { $nin: ["fox"] } })).toEqual(["b"]);
    expect(await ids({ tags: { $ne: "fox" } })).toEqual(["b"]);
    // A key no document has matches nothing; a condition needs the key to be present.
    expect(await ids({ nosuchkey: "x" })).toEqual([]);
    expect(await ids({ rating: { $ne: 1 } })).toEqual(["d"]);
    expect(await ids({})).toEqual(["a", "b", "c", "d"]);
  });

  it("filters before the top-k: a far-away match is still found", async () => {
    const out = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "stock markets fell sharply",
      n_results: 1,
      where: { topic: "animals", draft: true },
    });
    expect(out.results.map((r) => r.id)).toEqual(["b"]);
  });

  it("explains bad filters", async () => {
    expect(
      await h.error("search_similar", { collection: "notes", query: "q", where: { year: { $gt: "2020" } } }),
    ).toMatch(/"year" holds numbers/);
    expect(
      await h.error("search_similar", { collection: "notes", query: "q", where: { year: { $regex: "x" } } }),
    ).toMatch(/unknown operator "\$regex"/);
    expect(await h.error("search_similar", { collection: "notes", query: "q", where: { $not: [] } })).toMatch(
      /unknown operator/,
    );
    expect(await h.error("search_similar", { collection: "notes", query: "q", where: { $or: [] } })).toMatch(
      /non-empty array/,
    );
    expect(
      await h.error("search_similar", { collection: "notes", query: "q", where: { topic: null } }),
    ).toMatch(/got null/);
    expect(
      await h.error("search_similar", {
        collection: "notes",
        query: "q",
        where: { topic: { $in: [1, "a"] } },
      }),
    ).toMatch(/mixes value types/);
    expect(
      await h.error("search_similar", { collection: "notes", query: "q", where: { draft: { $gt: true } } }),
    ).toMatch(/not a boolean/);
    expect(
      await h.error("search_similar", { collection: "notes", query: "q", where: { "bad key": 1 } }),
    ).toMatch(/not valid/);
    let deep: Record<string, unknown> = { topic: "animals" };
    for (let i = 0; i < 12; i++) deep = { $and: [deep] };
    expect(await h.error("search_similar", { collection: "notes", query: "q", where: deep })).toMatch(
      /nesting deeper/,
    );
  });

  it("names the known collections when the collection does not exist", async () => {
    expect(await h.error("search_similar", { collection: "nope", query: "q" })).toMatch(
      /Collection "nope" does not exist\. Known collections: notes\./,
    );
  });
});

describe("delete", () => {
  beforeEach(async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
  });

  it("deletes by id and reports unknown ids", async () => {
    const out = await h.ok<DeleteOut>("delete", { collection: "notes", ids: ["a", "zzz"] });
    expect(out).toEqual({
      collection: "notes",
      deleted: 1,
      not_found: ["zzz"],
      dropped_collection: false,
      dry_run: false,
    });
    expect(await count("notes")).toBe(3);
    const again = await h.ok<DeleteOut>("delete", { collection: "notes", ids: ["a"] });
    expect(again).toMatchObject({ deleted: 0, not_found: ["a"] });
  });

  it("deletes by where", async () => {
    const out = await h.ok<DeleteOut>("delete", { collection: "notes", where: { topic: "finance" } });
    expect(out.deleted).toBe(2);
    expect(await ids({})).toEqual(["a", "b"]);
    expect((await h.ok<DeleteOut>("delete", { collection: "notes", where: { nosuchkey: 1 } })).deleted).toBe(
      0,
    );
  });

  it("drops a collection", async () => {
    const out = await h.ok<DeleteOut>("delete", { collection: "notes", drop_collection: true });
    expect(out).toMatchObject({ deleted: 4, dropped_collection: true });
    expect((await h.ok<ListOut>("list_collections", {})).collections).toEqual([]);
    expect(await h.error("search_similar", { collection: "notes", query: "q" })).toMatch(
      /no collections yet/,
    );
  });

  it("needs exactly one selector and refuses an empty where", async () => {
    expect(await h.error("delete", { collection: "notes" })).toMatch(
      /exactly one of ids, where or drop_collection/,
    );
    expect(await h.error("delete", { collection: "notes", ids: ["a"], where: { topic: "x" } })).toMatch(
      /exactly one/,
    );
    expect(await h.error("delete", { collection: "notes", where: {} })).toMatch(/drop_collection/);
    expect(await h.error("delete", { collection: "notes", drop_collection: false })).toBeTruthy();
    expect(await count("notes")).toBe(4);
  });

  it("reports an unknown collection", async () => {
    expect(await h.error("delete", { collection: "nope", ids: ["a"] })).toMatch(/Known collections: notes/);
    expect(await h.error("delete", { collection: "nope", drop_collection: true })).toMatch(/does not exist/);
  });
});

describe("list_collections", () => {
  it("shows name, count, model and dimensions, sorted", async () => {
    expect((await h.ok<ListOut>("list_collections", {})).collections).toEqual([]);
    await h.ok("add_documents", { collection: "zeta", documents: [{ text: "z" }] });
    await h.ok("add_documents", { collection: "alpha", documents: docs });
    expect((await h.ok<ListOut>("list_collections", {})).collections).toEqual([
      { name: "alpha", count: 4, model: "test/hash-64", dtype: "fp32", dimensions: 64 },
      { name: "zeta", count: 1, model: "test/hash-64", dtype: "fp32", dimensions: 64 },
    ]);
  });
});

describe("hostile input", () => {
  const hostileIds = [
    "x' OR '1'='1",
    "'; DROP TABLE notes; --",
    "back\\slash\\'",
    'double "quote"',
    "ünïcødé 🦊 𝔘",
    "id) OR (1=1",
    "%_*?[]",
    "../../etc/passwd",
  ];

  it("stores, finds and deletes ids full of quotes and SQL exactly", async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const added = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: hostileIds.map((id, i) => ({ id, text: `hostile ${i}`, metadata: { kind: id } })),
    });
    expect(added.added).toBe(hostileIds.length);
    for (const id of hostileIds) expect(await ids({ kind: id })).toEqual([id]);
    expect(await ids({ kind: { $in: hostileIds.slice(0, 3) } })).toEqual([...hostileIds.slice(0, 3)].sort());
    const out = await h.ok<DeleteOut>("delete", { collection: "notes", ids: hostileIds.slice(0, 4) });
    expect(out).toMatchObject({ deleted: 4, not_found: [] });
    expect(await count("notes")).toBe(4 + hostileIds.length - 4);
    expect(await ids({ topic: "animals" })).toEqual(["a", "b"]);
  });

  it("refuses bad collection names without touching the file system outside the database", async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
    // On s3:// (s3-tools.test.ts) there is no directory to look at; the store's tables are checked below.
    const local = !remoteDatabases();
    const parent = local ? path.dirname(h.dbPath) : process.cwd();
    const before = readdirSync(parent).sort();
    for (const collection of [
      "../evil",
      "/abs/path",
      "a/b",
      "a\\b",
      "..",
      ".",
      "",
      "UPPER",
      "a.b",
      "x".repeat(65),
      "-lead",
      " sp",
    ]) {
      for (const tool of ["add_documents", "search_similar", "delete"]) {
        const args =
          tool === "add_documents"
            ? { collection, documents: [{ text: "x" }] }
            : tool === "search_similar"
              ? { collection, query: "x" }
              : { collection, drop_collection: true };
        expect(await h.error(tool, args)).toMatch(/collection/i);
      }
    }
    expect(readdirSync(parent).sort()).toEqual(before);
    if (local) expect(readdirSync(h.dbPath).filter((name) => name !== ".locks")).toEqual(["notes.lance"]);
    expect((await h.ok<ListOut>("list_collections", {})).collections.map((c) => c.name)).toEqual(["notes"]);
    expect(await count("notes")).toBe(4);
  });

  it("refuses oversized and malformed input with clear errors, leaving stored rows untouched", async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const bad: Array<[string, Record<string, unknown>]> = [
      [
        "add_documents",
        { collection: "notes", documents: Array.from({ length: 1001 }, () => ({ text: "x" })) },
      ],
      ["add_documents", { collection: "notes", documents: [] }],
      ["add_documents", { collection: "notes", documents: [{ text: "x".repeat(100_001) }] }],
      ["add_documents", { collection: "notes", documents: [{ text: "   " }] }],
      ["add_documents", { collection: "notes", documents: "not an array" }],
      ["add_documents", { collection: "notes", documents: [{ text: 42 }] }],
      ["add_documents", { collection: "notes", documents: [{ id: "", text: "x" }] }],
      ["add_documents", { collection: "notes", documents: [{ id: "nul\u0000id", text: "x" }] }],
      ["add_documents", { collection: "notes", documents: [{ id: "i".repeat(257), text: "x" }] }],
      [
        "add_documents",
        { collection: "notes", documents: [{ id: "a", text: "x", metadata: { nested: { deep: 1 } } }] },
      ],
      ["add_documents", { collection: "notes", documents: [{ id: "a", text: "x", metadata: { n: null } }] }],
      [
        "add_documents",
        { collection: "notes", documents: [{ id: "a", text: "x", metadata: { "bad key": 1 } }] },
      ],
      [
        "add_documents",
        { collection: "notes", documents: [{ id: "a", text: "x", metadata: { "m; DROP": 1 } }] },
      ],
      [
        "add_documents",
        { collection: "notes", documents: [{ id: "a", text: "x", metadata: { arr: [1, 2] } }] },
      ],
      [
        "add_documents",
        {
          collection: "notes",
          documents: [
            {
              id: "a",
              text: "x",
              metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
            },
          ],
        },
      ],
      ["search_similar", { collection: "notes", query: "" }],
      ["search_similar", { collection: "notes", query: "x".repeat(10_001) }],
      ["search_similar", { collection: "notes", query: "q", n_results: 0 }],
      ["search_similar", { collection: "notes", query: "q", n_results: 101 }],
      ["search_similar", { collection: "notes", query: "q", n_results: 2.5 }],
      ["search_similar", { collection: "notes", query: "q", n_results: "5" }],
      ["search_similar", { collection: "notes", query: "q", where: "topic = 'x'" }],
      [
        "search_similar",
        { collection: "notes", query: "q", where: { topic: { $in: Array(1001).fill("x") } } },
      ],
      ["delete", { collection: "notes", ids: [] }],
      ["delete", { collection: "notes", ids: Array.from({ length: 1001 }, (_, i) => `i${i}`) }],
      ["delete", { collection: "notes", where: { topic: { $eq: ["animals"] } } }],
    ];
    for (const [tool, args] of bad) {
      const result = await h.call(tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args).slice(0, 120)}`).toBe(true);
    }
    expect(await count("notes")).toBe(4);
    expect(await ids({})).toEqual(["a", "b", "c", "d"]);
    const intact = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "the quick brown fox jumps",
      n_results: 1,
    });
    expect(intact.results[0]).toMatchObject({ id: "a", metadata: docs[0]?.metadata });
  });

  it("treats SQL in filter values as plain text", async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
    expect(await ids({ topic: "animals' OR '1'='1" })).toEqual([]);
    expect(await ids({ topic: { $in: ["x') OR (1=1", "finance"] } })).toEqual(["c", "d"]);
    expect(
      (await h.ok<DeleteOut>("delete", { collection: "notes", where: { topic: "' OR 1=1 --" } })).deleted,
    ).toBe(0);
    expect(await count("notes")).toBe(4);
  });
});

interface GetOut {
  documents: Array<{ id: string; text: string; metadata: Record<string, unknown> }>;
  not_found: string[];
  next_cursor: string | null;
  total: number;
}

describe("get_documents", () => {
  beforeEach(async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
  });

  it("fetches exactly by id, in the order asked, reporting unknown ids", async () => {
    const out = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["c", "zz", "a"] });
    expect(out.documents.map((d) => d.id)).toEqual(["c", "a"]);
    expect(out.documents[1]).toEqual({
      id: "a",
      text: docs[0]?.text,
      metadata: docs[0]?.metadata,
      chunks: 1,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(out.not_found).toEqual(["zz"]);
    expect(out.next_cursor).toBeNull();
  });

  it("pages through a filter with a cursor, every document once, ordered by id", async () => {
    const many = Array.from({ length: 25 }, (_, i) => ({
      id: `m${String(i).padStart(2, "0")}`,
      text: `memo ${i}`,
      metadata: { kind: "memo", i },
    }));
    await h.ok("add_documents", { collection: "notes", documents: many });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const out: GetOut = await h.ok<GetOut>("get_documents", {
        collection: "notes",
        where: { kind: "memo" },
        limit: 10,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...out.documents.map((d) => d.id));
      cursor = out.next_cursor ?? undefined;
      pages += 1;
      if (pages === 1) {
        expect(out.total).toBe(25);
        // A document added between pages (after the cursor) is picked up, not skipped or duplicated.
        await h.ok("add_documents", {
          collection: "notes",
          documents: [{ id: "m99", text: "late", metadata: { kind: "memo" } }],
        });
      }
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...many.map((m) => m.id), "m99"]);
    const all = await h.ok<GetOut>("get_documents", { collection: "notes", limit: 100 });
    expect(all.total).toBe(4 + 26);
  });

  it("explains bad cursors, mixed selectors and unknown collections", async () => {
    expect(await h.error("get_documents", { collection: "notes", cursor: "garbage!" })).toMatch(
      /cursor is not one this server returned/,
    );
    expect(
      await h.error("get_documents", { collection: "notes", ids: ["a"], where: { topic: "x" } }),
    ).toMatch(/either ids/);
    expect(await h.error("get_documents", { collection: "nope", ids: ["a"] })).toMatch(
      /Known collections: notes/,
    );
    expect(await h.error("get_documents", { collection: "notes", limit: 0 })).toBeTruthy();
  });
});

describe("update_documents", () => {
  beforeEach(async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
  });

  it("merges metadata without re-embedding; null removes a key", async () => {
    const query = { collection: "notes", query: "the quick brown fox jumps", n_results: 1 };
    const before = await h.ok<SearchOut>("search_similar", query);
    const out = await h.ok<{ updated: string[]; reembedded: number; not_found: string[] }>(
      "update_documents",
      {
        collection: "notes",
        documents: [
          { id: "a", metadata: { topic: "foxes", tags: null, reviewed: true } },
          { id: "ghost", metadata: { x: 1 } },
        ],
      },
    );
    expect(out).toMatchObject({ updated: ["a"], reembedded: 0, not_found: ["ghost"] });
    const after = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["a"] });
    expect(after.documents[0]?.metadata).toEqual({
      topic: "foxes",
      year: 2020,
      draft: false,
      reviewed: true,
    });
    expect(await ids({ topic: "foxes" })).toEqual(["a"]);
    expect(await ids({ tags: "fox" })).toEqual([]);
    // Same vector: the score for the same query is unchanged.
    const again = await h.ok<SearchOut>("search_similar", query);
    expect(again.results[0]?.score).toBeCloseTo(before.results[0]?.score as number, 6);
    expect(await count("notes")).toBe(4);
  });

  it("re-embeds a changed text", async () => {
    const out = await h.ok<{ reembedded: number }>("update_documents", {
      collection: "notes",
      documents: [{ id: "d", text: "penguins waddle on the ice" }],
    });
    expect(out.reembedded).toBe(1);
    const hit = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "penguins waddle on the ice",
      n_results: 1,
    });
    expect(hit.results[0]).toMatchObject({
      id: "d",
      text: "penguins waddle on the ice",
      metadata: docs[3]?.metadata,
    });
    expect(hit.results[0]?.score).toBeCloseTo(1, 5);
  });

  it("refuses type changes, a __proto__ key and duplicate ids, changing nothing", async () => {
    expect(
      await h.error("update_documents", {
        collection: "notes",
        documents: [{ id: "a", metadata: { year: "twenty" } }],
      }),
    ).toMatch(/"year" holds numbers/);
    // A `__proto__` key is refused before zod's record() could silently drop it.
    expect(
      await h.error("update_documents", {
        collection: "notes",
        documents: [{ id: "a", metadata: JSON.parse('{"__proto__": 1}') }],
      }),
    ).toMatch(/"__proto__" is not allowed/);
    expect(
      await h.error("update_documents", {
        collection: "notes",
        documents: [
          { id: "a", text: "x" },
          { id: "a", text: "y" },
        ],
      }),
    ).toMatch(/more than once/);
    const still = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["a"] });
    expect(still.documents[0]).toEqual({
      id: "a",
      text: docs[0]?.text,
      metadata: docs[0]?.metadata,
      chunks: 1,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });
});

describe("delete dry_run", () => {
  beforeEach(async () => {
    await h.ok("add_documents", { collection: "notes", documents: docs });
  });

  it("reports what ids, where and drop_collection would delete, and deletes nothing", async () => {
    type DryOut = DeleteOut & { ids: string[]; dry_run: boolean };
    const byWhere = await h.ok<DryOut>("delete", {
      collection: "notes",
      where: { topic: "animals" },
      dry_run: true,
    });
    expect(byWhere).toMatchObject({ deleted: 2, dry_run: true, ids: ["a", "b"] });
    const byIds = await h.ok<DryOut>("delete", { collection: "notes", ids: ["d", "nope"], dry_run: true });
    expect(byIds).toMatchObject({ deleted: 1, ids: ["d"], not_found: ["nope"] });
    const drop = await h.ok<DryOut>("delete", { collection: "notes", drop_collection: true, dry_run: true });
    expect(drop).toMatchObject({ deleted: 4, dropped_collection: true, ids: ["a", "b", "c", "d"] });
    expect(await count("notes")).toBe(4);
  });
});

describe("search modes and result sizing", () => {
  type Result = {
    id: string;
    text?: string;
    snippet: string;
    truncated: boolean;
    text_chars: number;
    score: number;
    matched_by: string[];
  };
  type ModeOut = { mode: string; results: Result[]; truncated: boolean };
  const search = (args: Record<string, unknown>) =>
    h.ok<ModeOut>("search_similar", { collection: "notes", ...args });

  beforeEach(async () => {
    await h.ok("add_documents", {
      collection: "notes",
      documents: [
        ...docs,
        { id: "code", text: "Error code XK-4471 means the vault token expired" },
        { id: "dup1", text: "the quick brown fox jumps high" },
        { id: "dup2", text: "the quick brown fox jumps higher" },
      ],
    });
  });

  it("keyword mode finds exact terms by full-text search and says how each result matched", async () => {
    const out = await search({ query: "XK-4471", mode: "keyword" });
    expect(out.mode).toBe("keyword");
    expect(out.results[0]).toMatchObject({ id: "code", matched_by: ["keyword"] });
    // The cosine score is reported in every mode.
    expect(out.results[0]?.score).toBeGreaterThan(-1);
    expect(out.results[0]?.score).toBeLessThanOrEqual(1.0001);
    const filtered = await search({ query: "fox", mode: "keyword", where: { draft: true } });
    expect(filtered.results).toEqual([]);
  });

  it("hybrid mode is the default and marks documents found by both searches", async () => {
    const out = await search({ query: "the quick brown fox jumps" });
    expect(out.mode).toBe("hybrid");
    expect(out.results[0]?.id).toBe("a");
    expect(out.results[0]?.matched_by).toEqual(["semantic", "keyword"]);
  });

  it("min_score drops weak results", async () => {
    const all = await search({ query: "the quick brown fox jumps", mode: "semantic", n_results: 20 });
    const strong = await search({
      query: "the quick brown fox jumps",
      mode: "semantic",
      n_results: 20,
      min_score: 0.5,
    });
    expect(strong.results.length).toBeLessThan(all.results.length);
    expect(strong.results.every((r) => r.score >= 0.5)).toBe(true);
  });

  it("diversity keeps near-duplicates from filling the results", async () => {
    const plain = await search({ query: "the quick brown fox jumps", mode: "semantic", n_results: 3 });
    expect(plain.results.map((r) => r.id)).toEqual(["a", "dup1", "dup2"]);
    const diverse = await search({
      query: "the quick brown fox jumps",
      mode: "semantic",
      n_results: 3,
      diversity: 0.6,
    });
    expect(diverse.results[0]?.id).toBe("a");
    expect(diverse.results.map((r) => r.id).filter((id) => id.startsWith("dup")).length).toBeLessThan(2);
  });

  it("keeps the whole result within max_chars, says so, and can return snippets only", async () => {
    // Each fits the test model's window (32 words), so each is stored whole; together they exceed the budget.
    const texts = [0, 1, 2, 3, 4].map(
      (n) => `Note ${n}: the needle is here. ${"filler words about it. ".repeat(6)}`,
    );
    await h.ok("add_documents", {
      collection: "notes",
      documents: texts.map((text, n) => ({ id: `long${n}`, text })),
    });
    const cut = await search({ query: "needle", mode: "keyword", max_chars: 500, n_results: 2 });
    expect(cut.truncated).toBe(true);
    const hit = cut.results.find((r) => r.truncated);
    expect(hit?.text_chars).toBe(texts[0]?.length);
    expect(cut.results.every((r) => r.snippet.includes("needle") && r.snippet.length <= 200)).toBe(true);
    const total = cut.results.reduce((n, r) => n + (r.text?.length ?? 0) + r.snippet.length, 0);
    expect(total).toBeLessThanOrEqual(500);
    const raw = await h.call("search_similar", {
      collection: "notes",
      query: "needle",
      mode: "keyword",
      max_chars: 500,
    });
    expect(JSON.stringify(raw.content)).toContain("get_documents");
    const lean = await search({ query: "needle", include_text: false });
    expect(lean.results.every((r) => r.text === undefined && r.snippet.length > 0)).toBe(true);
  });
});
