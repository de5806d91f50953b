import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { probeConditionalPut, probeTarget } from "../../src/store/commit-probe.js";
import { type Harness, startHarness } from "../support/harness.js";
import { HASH_WINDOW } from "../support/hash-embedder.js";
import { findRadosgw, type S3TestStore } from "../support/radosgw.js";

/**
 * The tools against `s3://` on a real S3-compatible server: Ceph radosgw on loopback, started by
 * tools/radosgw/start.sh (.ci/run starts it). Skipped, saying why, when it is not running; in CI
 * (CI set) its absence is a failure, so these never silently stop running there.
 */
const found = await findRadosgw();
const s3: S3TestStore | undefined = "bucket" in found ? found : undefined;
const reason = "reason" in found ? found.reason : "";

it.runIf(!s3 && process.env.CI)("radosgw runs in CI", () => {
  throw new Error(`CI must run the s3:// tests: ${reason}`);
});

interface AddOut {
  ids: string[];
  chunks: number[];
  added: number;
  replaced: number;
  created: boolean;
}
interface SearchOut {
  mode: string;
  results: Array<{
    id: string;
    text: string;
    score: number;
    matched_by: string[];
    metadata: Record<string, unknown>;
  }>;
}
interface GetOut {
  documents: Array<{ id: string; text: string; metadata: Record<string, unknown>; chunks: number }>;
  not_found: string[];
  total: number;
  next_cursor: string | null;
}
interface DeleteOut {
  deleted: number;
  not_found: string[];
  dropped_collection: boolean;
  dry_run: boolean;
  ids?: string[];
}
interface ListOut {
  collections: Array<{ name: string; count: number; dimensions: number }>;
}

const docs = [
  { id: "a", text: "the cat sat on the mat", metadata: { topic: "pets", year: 2019, tags: ["x", "y"] } },
  { id: "b", text: "dogs chase cats in the garden", metadata: { topic: "pets", year: 2021, draft: true } },
  { id: "c", text: "quarterly revenue grew by ten percent", metadata: { topic: "finance", year: 2022 } },
  { id: "d", text: "deploy key rotated for the vault server", metadata: { topic: "ops", year: 2023 } },
];

describe.skipIf(!s3)(`s3:// on radosgw${s3 ? "" : ` (skipped: ${reason})`}`, () => {
  const store = s3 as S3TestStore;
  const open: Harness[] = [];
  const cwdBefore = existsSync(path.resolve("s3:"));
  /** A fresh prefix per test: nothing is shared between tests, nothing needs cleaning between runs. */
  const uri = () => `s3://${store.bucket}/test-${randomUUID()}`;
  const harness = async (dbPath = uri()) => {
    const h = await startHarness({ dbPath, objectStore: store.options });
    open.push(h);
    return h;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.close()));
  });
  afterAll(() => {
    // The lock-file path of a local store would have made a directory "s3:" under the working directory.
    if (!cwdBefore) expect(existsSync(path.resolve("s3:"))).toBe(false);
  });

  it("the store honours conditional PUT (the probe passes)", async () => {
    const target = probeTarget(uri(), store.options, {});
    expect(target).toBeDefined();
    await expect(
      probeConditionalPut("s3://probe", target as NonNullable<typeof target>),
    ).resolves.toBeUndefined();
  });

  it("adds, upserts by id, lists and searches (hybrid by default)", async () => {
    const h = await harness();
    const added = await h.ok<AddOut>("add_documents", { collection: "notes", documents: docs });
    expect(added).toMatchObject({ ids: ["a", "b", "c", "d"], added: 4, replaced: 0, created: true });
    const again = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [
        { id: "a", text: "the cat sat on the mat again", metadata: { topic: "pets" } },
        { text: "new one" },
      ],
    });
    expect(again).toMatchObject({ added: 1, replaced: 1, created: false });
    const list = await h.ok<ListOut>("list_collections", {});
    expect(list.collections).toEqual([expect.objectContaining({ name: "notes", count: 5, dimensions: 64 })]);
    const hit = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "the cat sat on the mat again",
    });
    expect(hit.mode).toBe("hybrid");
    expect(hit.results[0]).toMatchObject({ id: "a", metadata: { topic: "pets" } });
    expect(hit.results[0]?.matched_by).toEqual(expect.arrayContaining(["semantic", "keyword"]));
    // A local store's lock file would have made a directory named "s3:" under the working directory.
    expect(existsSync(path.resolve("s3:"))).toBe(false);
    const keyword = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "vault",
      mode: "keyword",
    });
    expect(keyword.results.map((r) => r.id)).toEqual(["d"]);
  });

  it("stores a long text as chunks and returns it whole", async () => {
    const h = await harness();
    const long = Array.from({ length: 40 }, (_, i) =>
      i === 33
        ? "The zebra vault password is kumquat seven."
        : `Sentence ${i} is ordinary filler about topic ${i}.`,
    ).join(" ");
    expect(long.split(" ").length).toBeGreaterThan(HASH_WINDOW);
    const added = await h.ok<AddOut>("add_documents", {
      collection: "notes",
      documents: [{ id: "long", text: long }],
    });
    expect(added.chunks[0]).toBeGreaterThan(1);
    const got = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["long"] });
    expect(got.documents[0]).toMatchObject({ id: "long", text: long, chunks: added.chunks[0] });
    const hit = await h.ok<SearchOut>("search_similar", {
      collection: "notes",
      query: "zebra vault password kumquat",
    });
    expect(hit.results[0]?.id).toBe("long");
    expect(hit.results[0]?.text).toContain("kumquat");
  });

  it("filters inside the database and pages through get_documents", async () => {
    const h = await harness();
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const ids = async (where: Record<string, unknown>) =>
      (
        await h.ok<SearchOut>("search_similar", {
          collection: "notes",
          query: "anything",
          where,
          n_results: 10,
        })
      ).results
        .map((r) => r.id)
        .sort();
    expect(await ids({ topic: "pets" })).toEqual(["a", "b"]);
    expect(await ids({ year: { $gte: 2022 } })).toEqual(["c", "d"]);
    expect(await ids({ tags: { $in: ["y"] } })).toEqual(["a"]);
    expect(await ids({ $or: [{ topic: "ops" }, { draft: true }] })).toEqual(["b", "d"]);
    const page = await h.ok<GetOut>("get_documents", {
      collection: "notes",
      where: { topic: "pets" },
      limit: 1,
    });
    expect(page.documents.map((d) => d.id)).toEqual(["a"]);
    const next = await h.ok<GetOut>("get_documents", {
      collection: "notes",
      where: { topic: "pets" },
      limit: 1,
      cursor: page.next_cursor,
    });
    expect(next.documents.map((d) => d.id)).toEqual(["b"]);
    const byId = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["c", "zz"] });
    expect(byId.documents.map((d) => d.id)).toEqual(["c"]);
    expect(byId.not_found).toEqual(["zz"]);
  });

  it("updates metadata without re-embedding and re-embeds a changed text", async () => {
    const h = await harness();
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const meta = await h.ok<{ updated: string[]; reembedded: number }>("update_documents", {
      collection: "notes",
      documents: [{ id: "a", metadata: { topic: null, rating: 5 } }],
    });
    expect(meta).toMatchObject({ updated: ["a"], reembedded: 0 });
    const text = await h.ok<{ updated: string[]; reembedded: number }>("update_documents", {
      collection: "notes",
      documents: [{ id: "c", text: "annual profit fell sharply" }],
    });
    expect(text).toMatchObject({ updated: ["c"], reembedded: 1 });
    const got = await h.ok<GetOut>("get_documents", { collection: "notes", ids: ["a", "c"] });
    expect(got.documents[0]?.metadata).toEqual({ year: 2019, tags: ["x", "y"], rating: 5 });
    expect(got.documents[1]?.text).toBe("annual profit fell sharply");
  });

  it("dry-runs, then deletes by id, by where, and drops the collection", async () => {
    const h = await harness();
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const dry = await h.ok<DeleteOut>("delete", {
      collection: "notes",
      where: { topic: "pets" },
      dry_run: true,
    });
    expect(dry).toMatchObject({ deleted: 2, dry_run: true, ids: ["a", "b"] });
    const byId = await h.ok<DeleteOut>("delete", { collection: "notes", ids: ["c", "nope"] });
    expect(byId).toMatchObject({ deleted: 1, not_found: ["nope"] });
    const byWhere = await h.ok<DeleteOut>("delete", { collection: "notes", where: { topic: "pets" } });
    expect(byWhere.deleted).toBe(2);
    const dropped = await h.ok<DeleteOut>("delete", { collection: "notes", drop_collection: true });
    expect(dropped).toMatchObject({ deleted: 1, dropped_collection: true });
    expect((await h.ok<ListOut>("list_collections", {})).collections).toEqual([]);
  });

  it("refuses a wrong secret at the first write with a clear error, not a hang", async () => {
    const dbPath = uri();
    const h = await startHarness({ dbPath, objectStore: { ...store.options, secretAccessKey: "wrong" } });
    open.push(h);
    const text = await h.error("add_documents", { collection: "notes", documents: docs });
    expect(text).toMatch(
      /127\.0\.0\.1:\d+ answered HTTP 403 \(SignatureDoesNotMatch\): check the access key, secret and region/,
    );
    expect(text).not.toMatch(/RetryError|backtrace/);
  });

  it("names a missing bucket", async () => {
    const h = await startHarness({
      dbPath: `s3://no-such-bucket-${randomUUID()}/p`,
      objectStore: store.options,
    });
    open.push(h);
    expect(await h.error("list_collections", {})).toMatch(
      /HTTP 404 \(NoSuchBucket\): the bucket does not exist/,
    );
  });

  it("two servers creating the same collection at once: one creates, the other writes into it", async () => {
    const dbPath = uri();
    const [one, two] = [await harness(dbPath), await harness(dbPath)];
    const [a, b] = await Promise.all([
      one.ok<AddOut>("add_documents", { collection: "notes", documents: docs.slice(0, 2) }),
      two.ok<AddOut>("add_documents", { collection: "notes", documents: docs.slice(2) }),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const got = await one.ok<GetOut>("get_documents", { collection: "notes", where: { year: { $gt: 0 } } });
    expect(got.documents.map((d) => d.id)).toEqual(["a", "b", "c", "d"]);
  });

  it("two servers on one prefix see each other's writes on their next call", async () => {
    const dbPath = uri();
    const [one, two] = [await harness(dbPath), await harness(dbPath)];
    await one.ok("add_documents", { collection: "notes", documents: docs.slice(0, 2) });
    await two.ok("add_documents", { collection: "notes", documents: docs.slice(2) });
    for (const h of [one, two]) {
      const got = await h.ok<GetOut>("get_documents", { collection: "notes", where: { year: { $gt: 0 } } });
      expect(got.total).toBe(4);
    }
  });
});
