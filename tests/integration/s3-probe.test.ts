import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { type FakeS3, startFakeS3 } from "../support/fake-s3.js";
import { type Harness, startHarness } from "../support/harness.js";

/**
 * What an agent sees on an s3:// store that ignores If-None-Match (a local stand-in that accepts
 * every PUT, like the npm s3rver): the first write is refused with the reason, and nothing local
 * is made under the URI. Needs no radosgw, so it runs everywhere.
 */
const open: Array<Harness | FakeS3> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

async function onFake(honours: boolean, unsafeSingleWriter = false) {
  const s3 = await startFakeS3({ honours });
  open.push(s3);
  const h = await startHarness({
    dbPath: "s3://bucket/team/memory",
    objectStore: {
      endpoint: s3.endpoint,
      accessKeyId: "k",
      secretAccessKey: "s",
      allowHttp: true,
      unsafeSingleWriter,
    },
  });
  open.unshift(h);
  return { s3, h };
}

it("refuses the first write on a store that ignores conditional PUT, saying why and what to do", async () => {
  const { s3, h } = await onFake(false);
  const text = await h.error("add_documents", {
    collection: "notes",
    documents: [{ id: "a", text: "hello" }],
  });
  expect(text).toMatch(/cannot be used: the store ignores conditional writes/);
  expect(text).toMatch(/lose writes silently/);
  expect(text).toMatch(/--s3-unsafe-single-writer/);
  // The probe was the only thing PUT: no table, no manifest.
  const puts = s3.requests.filter((r) => r.method === "PUT").map((r) => r.url);
  expect(puts.every((url) => url.includes("/_vector_memory_probe/"))).toBe(true);
  // Reads still answer (an empty store); the refusal is for writes.
  expect(await h.ok("list_collections", {})).toEqual({ collections: [] });
  expect(existsSync(path.resolve("s3:"))).toBe(false);
});

it("makes no local directory or lock file for an s3:// database", async () => {
  const { h } = await onFake(true);
  await h.call("add_documents", { collection: "notes", documents: [{ id: "a", text: "hello" }] });
  expect(existsSync(path.resolve("s3:"))).toBe(false);
  expect(existsSync(path.resolve("s3:", "bucket"))).toBe(false);
});
