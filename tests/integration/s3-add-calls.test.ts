import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/logger.js";
import type { ModelRecord } from "../../src/model-record.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { findRadosgw, type S3TestStore } from "../support/radosgw.js";

/**
 * On object storage each LanceDB call that checks the table is a request (~10–30 ms and billed on
 * real S3). A one-document add reads the version and the schema once, together, and then merges:
 * no second version read when nothing but the merge commits, and no schema read inside LanceDB's
 * mergeInsert (the store hands it the rows' schema). Skipped when radosgw is not running
 * (s3.test.ts fails CI then).
 */
const found = await findRadosgw();
const s3: S3TestStore | undefined = "bucket" in found ? found : undefined;
const reason = "reason" in found ? found.reason : "";

const DIM = 8;
const model: ModelRecord = { model: "random", dtype: "fp32", dimensions: DIM };
const doc = (id: string, text = `note ${id}`): ChunkToWrite => ({
  id,
  text,
  vector: Float32Array.from({ length: DIM }, (_, i) => Math.cos(i * 3 + id.length + text.length)),
  metadata: { topic: "t" },
});

describe.skipIf(!s3)(`LanceDB calls of one add on s3://${s3 ? "" : ` (skipped: ${reason})`}`, () => {
  const target = s3 as S3TestStore;
  const stores: LanceStore[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it("reads the version and the schema once each, and the rows land", async () => {
    const dbPath = `s3://${target.bucket}/add-calls-${randomUUID()}`;
    const store = new LanceStore({ dbPath, logger: silentLogger, objectStore: target.options });
    stores.push(store);
    await store.upsert("notes", model, [doc("a"), doc("b")]);
    await store.upsert("notes", model, [doc("c")]); // the key migration is behind this handle now
    await store.search("notes", doc("a").vector, { limit: 1 }); // the cache holds the collection

    // Every LanceDB table handle is of the one native-backed class; spy on its prototype.
    const dir = mkdtempSync(path.join(tmpdir(), "vmm-calls-"));
    try {
      const probe = await (await lancedb.connect(dir)).createTable("p", [{ x: 1 }]);
      const proto = Object.getPrototypeOf(probe) as lancedb.Table;
      const version = vi.spyOn(proto, "version");
      const schema = vi.spyOn(proto, "schema");
      // A new document, then a new text for a stored one (the merge path with its stored-chunks query).
      await store.upsert("notes", model, [doc("d")]);
      expect(version).toHaveBeenCalledTimes(1);
      expect(schema).toHaveBeenCalledTimes(1);
      version.mockClear();
      schema.mockClear();
      await store.upsert("notes", model, [doc("a", "a new text for a")]);
      expect(version).toHaveBeenCalledTimes(1);
      expect(schema.mock.calls.length).toBeLessThanOrEqual(2);
      probe.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    vi.restoreAllMocks();
    const hits = await store.search("notes", doc("d").vector, { limit: 4 });
    expect(hits.map((hit) => hit.id).sort()).toEqual(["a", "b", "c", "d"]);
    expect(hits.find((hit) => hit.id === "a")?.text).toBe("a new text for a");
  });
});
