/**
 * README "Guarantees": on a full disk a write is a clear tool error, nothing of it is stored, the
 * server keeps answering, and once space is freed the same call succeeds. The disk is real: a small
 * tmpfs (needs root; skipped with the reason where mounting is refused).
 */
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { mountTmpfs } from "../support/mounts.js";
import { type StdioServer, spawnServer, TINY_BERT } from "../support/stdio.js";

/** Big enough for the database's first files; the filler takes all but LEAVE of the rest. */
const DISK_BYTES = 4 * 1024 * 1024;
/** A few batches fit in this, so some writes on the nearly full disk succeed before one fails. */
const LEAVE = 96 * 1024;
/** Enough for an empty table's or a schema change's commit (a few small files), far too little for 100 long notes. */
const ROOM_FOR_A_COMMIT = 48 * 1024;
const BATCH = 20;
const MAX_BATCHES = 40;

type Metadata = Record<string, string | number | boolean | string[]>;
interface Doc {
  id: string;
  text: string;
  metadata: Metadata;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
}

async function ok<T>(server: StdioServer, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await server.call(name, args);
  if (result.isError) throw new Error(`${name} returned isError: ${text(result)}`);
  return result.structuredContent as T;
}

function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Appends to `file` until only `leave` bytes are free on its file system. */
function fill(file: string, leave: number): void {
  const fd = openSync(file, "a");
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (let free = freeBytes(path.dirname(file)); free > leave; free = freeBytes(path.dirname(file)))
      writeSync(fd, chunk, 0, Math.min(chunk.length, free - leave));
  } finally {
    closeSync(fd);
  }
}

function batch(n: number): Doc[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: `b${n}-${i}`,
    // One word unique to each document, so every search mode can tell them apart.
    text: `note ${n}-${i} marker${n}x${i}: ${"harbor lantern meadow orbit ".repeat(12)}`,
    metadata: { batch: n, i, even: i % 2 === 0, tags: [`t${i % 3}`] },
  }));
}

/** Every stored document, through get_documents by id; fails on ids missing or stored twice. */
async function expectStored(server: StdioServer, docs: Doc[], why: string): Promise<void> {
  const listed = await ok<{ collections: Array<{ name: string; count: number }> }>(
    server,
    "list_collections",
    {},
  );
  expect(listed.collections.find((c) => c.name === "notes")?.count, `${why}: count`).toBe(docs.length);
  const ids = docs.map((d) => d.id);
  for (let start = 0; start < ids.length; start += 100) {
    const page = await ok<{
      documents: Array<Doc & { chunks?: number; created_at?: string | null; updated_at?: string | null }>;
      not_found: string[];
    }>(server, "get_documents", {
      collection: "notes",
      ids: ids.slice(start, start + 100),
    });
    expect(page.not_found, `${why}: missing`).toEqual([]);
    // `chunks` (how many a long text was split into) and the times are not what this compares.
    const documents = page.documents.map(
      ({ chunks: _chunks, created_at: _c, updated_at: _u, ...doc }) => doc,
    );
    expect(documents, `${why}: rows as sent`).toEqual(docs.slice(start, start + 100));
  }
}

describe("a full disk", () => {
  it("fails the write with a clear error, stores none of it, keeps serving, and takes the retry once space is freed", async (ctx) => {
    const { dir, cleanup } = tempDir("vmm-enospc-");
    cleanups.push(cleanup);
    const disk = path.join(dir, "disk");
    mkdirSync(disk);
    const mounted = mountTmpfs(disk, DISK_BYTES);
    if (mounted.reason !== undefined) {
      console.info(`disk-full case not tested: ${mounted.reason}`);
      ctx.skip(true, mounted.reason);
      return;
    }
    cleanups.push(mounted.unmount);
    const serverArgs = [
      "--db-path",
      path.join(disk, "db"),
      "--model",
      TINY_BERT,
      "--model-cache",
      path.join(dir, "cache"),
      "--offline",
    ];
    const server = await spawnServer(serverArgs);
    cleanups.push(() => server.close());

    const acknowledged: Doc[] = [];
    await ok(server, "add_documents", { collection: "notes", documents: batch(0) });
    acknowledged.push(...batch(0));

    const filler = path.join(disk, "filler");
    fill(filler, LEAVE);
    let failed: { docs: Doc[]; result: CallToolResult } | undefined;
    for (let n = 1; n <= MAX_BATCHES && !failed; n += 1) {
      const docs = batch(n);
      const result = await server.call("add_documents", { collection: "notes", documents: docs });
      if (result.isError) failed = { docs, result };
      else acknowledged.push(...docs);
    }
    if (!failed) throw new Error(`${MAX_BATCHES} batches fit in ${LEAVE} bytes: the disk never filled`);
    const message = text(failed.result);
    console.info(
      `disk full after ${acknowledged.length / BATCH - 1} more batches (${freeBytes(disk)} bytes free): ${message}`,
    );

    // A clear tool error that names the cause and the fix, not a protocol error or a crash.
    expect(server.transportErrors).toEqual([]);
    expect(message).toMatch(/full/i);
    expect(message).toMatch(/free space/i);
    expect(message).toContain("retry");
    expect(message).not.toContain("This is a bug");

    // Still serving, and nothing of the failed call was stored; every search mode works (keyword
    // search cannot write its index to a disk with not a byte free: it scans instead).
    fill(filler, 0);
    const again = await server.call("add_documents", { collection: "notes", documents: failed.docs });
    expect(again.isError, "a second try while the disk is still full").toBe(true);
    await expectStored(server, acknowledged, "while full");
    const absent = await ok<{ not_found: string[] }>(server, "get_documents", {
      collection: "notes",
      ids: failed.docs.map((d) => d.id),
    });
    expect(absent.not_found, "the failed batch left no rows").toEqual(failed.docs.map((d) => d.id));
    const last = acknowledged.at(-1) as Doc;
    for (const mode of ["semantic", "keyword", "hybrid"]) {
      const found = await ok<{ results: Array<{ id: string }> }>(server, "search_similar", {
        collection: "notes",
        query: last.text,
        mode,
        n_results: 3,
      });
      expect(found.results[0]?.id, `${mode} search while full`).toBe(last.id);
    }

    // Room for a new table's or a new column's commit, not for the rows: creating a collection or
    // adding a metadata key fails whole, with no empty collection left behind.
    rmSync(filler);
    fill(filler, ROOM_FOR_A_COMMIT);
    const big = (prefix: string) =>
      Array.from({ length: 100 }, (_, i) => ({
        id: `${prefix}${i}`,
        text: `${prefix} ${i} ${"a note too large for the space left ".repeat(60)}`,
        metadata: { fresh: `x${i}` },
      }));
    const create = await server.call("add_documents", { collection: "other", documents: big("o") });
    expect(create.isError, "creating a collection on a full disk").toBe(true);
    expect(text(create)).toMatch(/full/i);
    const addKey = await server.call("add_documents", { collection: "notes", documents: big("k") });
    expect(addKey.isError, "a new metadata key on a full disk").toBe(true);
    const listed = await ok<{ collections: Array<{ name: string }> }>(server, "list_collections", {});
    expect(
      listed.collections.map((c) => c.name),
      "the failed create left no empty collection",
    ).toEqual(["notes"]);
    await expectStored(server, acknowledged, "after the failed create and new key");

    // Space freed: the same call succeeds, and everything is there exactly once.
    rmSync(filler);
    const retried = await ok<{ added: number; replaced: number }>(server, "add_documents", {
      collection: "notes",
      documents: failed.docs,
    });
    expect(retried).toMatchObject({ added: BATCH, replaced: 0 });
    acknowledged.push(...failed.docs);
    const created = await ok<{ created: boolean; added: number }>(server, "add_documents", {
      collection: "other",
      documents: big("o"),
    });
    expect(created).toMatchObject({ created: true, added: 100 });
    await expectStored(server, acknowledged, "after freeing space");
    await server.close();

    // A fresh process on the same directory reads the same, complete data.
    const restarted = await spawnServer(serverArgs);
    cleanups.push(() => restarted.close());
    await expectStored(restarted, acknowledged, "after a restart");
    const found = await ok<{ results: Array<{ id: string }> }>(restarted, "search_similar", {
      collection: "notes",
      query: failed.docs[0]?.text,
      mode: "semantic",
    });
    expect(found.results[0]?.id).toBe(failed.docs[0]?.id);
  }, 30_000);
});
