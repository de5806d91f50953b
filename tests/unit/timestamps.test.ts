import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "../../src/embeddings/embedder.js";
import { silentLogger } from "../../src/logger.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../../src/store/vector-store.js";
import { formatTime, parseTime } from "../../src/time.js";
import { tempDir } from "../support/harness.js";

const model: ModelRecord = { model: "fixed", dtype: "fp32", dimensions: 3 };
const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const doc = (id: string, vector: Float32Array, text = `text of ${id}`): ChunkToWrite => ({
  id,
  text,
  vector,
  metadata: {},
});
const T0 = Date.parse("2026-11-01T08:00:00.000Z");

let dir: string;
let cleanup: () => void;
let now = T0;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  now = T0;
});
afterEach(() => cleanup());

/** A table as the store made them before times were kept: chunk columns, no time columns. */
async function makeTimelessTable(): Promise<void> {
  const lancedb = await import("@lancedb/lancedb");
  const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = await import("apache-arrow");
  const db = await lancedb.connect(path.join(dir, "db"));
  const schema = new Schema(
    [
      new Field("id", new Utf8(), false),
      new Field("text", new Utf8(), false),
      new Field("vector", new FixedSizeList(3, new Field("item", new Float32(), true)), false),
      new Field("metadata", new Utf8(), false),
      new Field("chunk", new Int32(), false),
      new Field("chunk_start", new Int32(), false),
    ],
    new Map([["vector_memory.model", JSON.stringify(model)]]),
  );
  const old = await db.createEmptyTable("c", schema);
  await old.add([
    { id: "a", text: "old a", vector: [1, 0, 0], metadata: "{}", chunk: 0, chunk_start: 0 },
    { id: "b", text: "old b", vector: [0, 1, 0], metadata: "{}", chunk: 0, chunk_start: 0 },
  ]);
  old.close();
  db.close();
}

describe("times in a table made before they were kept", () => {
  it("read as unknown (null), not now, and stay unknown until the document changes", async () => {
    await makeTimelessTable();
    const store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger, now: () => now });
    try {
      const unknown = { createdAt: null, updatedAt: null };
      expect(await store.fetch("c", ["a"])).toEqual([
        { id: "a", text: "old a", metadata: {}, chunk: 0, start: 0, ...unknown },
      ]);
      expect((await store.search("c", unit(1, 0, 0), { limit: 1 }))[0]).toMatchObject({
        id: "a",
        ...unknown,
      });

      now = T0 + 1000;
      // A new document, a repeat of a stored one (no change), and a change to another.
      await store.upsert("c", model, [
        doc("n", unit(0, 0, 1), "new"),
        doc("a", unit(1, 0, 0), "old a"),
        doc("b", unit(0, 1, 1), "b changed"),
      ]);
      const byId = Object.fromEntries((await store.fetch("c", ["a", "b", "n"])).map((r) => [r.id, r]));
      expect(byId.n).toMatchObject({ createdAt: formatTime(now), updatedAt: formatTime(now) });
      expect(byId.a).toMatchObject(unknown);
      expect(byId.b).toMatchObject({ createdAt: null, updatedAt: formatTime(now) });
      expect(await store.stats("c")).toMatchObject({ documents: 3, chunks: 3 });
    } finally {
      await store.close();
    }
  });

  it("are kept through a re-embedding, and given times (an import) are stored as they are", async () => {
    const store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger, now: () => now });
    try {
      const given = { createdAt: "2020-01-01T00:00:00.000Z", updatedAt: null };
      await store.upsert("c", model, [doc("a", unit(1, 0, 0)), { ...doc("b", unit(0, 1, 0)), times: given }]);
      now = T0 + 5000;
      const other: ModelRecord = { ...model, model: "other" };
      await store.rebuildCollection("c", other, async (rows) =>
        rows.map((row) => ({ ...row, vector: unit(1, 1, 1) })),
      );
      const byId = Object.fromEntries((await store.fetch("c", ["a", "b"])).map((r) => [r.id, r]));
      expect(byId.a).toMatchObject({ createdAt: formatTime(T0), updatedAt: formatTime(T0) });
      expect(byId.b).toMatchObject(given);
    } finally {
      await store.close();
    }
  });
});

describe("parseTime: the ISO 8601 forms accepted", () => {
  it("reads dates, date-times with Z or an offset, and fractions", () => {
    expect(parseTime("2026-11-01")).toBe(Date.parse("2026-11-01T00:00:00Z"));
    expect(parseTime("2026-11-01T09:30Z")).toBe(Date.parse("2026-11-01T09:30:00Z"));
    expect(parseTime("2026-11-01 09:30:00.5z")).toBe(Date.parse("2026-11-01T09:30:00.500Z"));
    expect(parseTime("2026-11-01T09:30:00+02:00")).toBe(Date.parse("2026-11-01T07:30:00Z"));
    expect(parseTime("2026-11-01T09:30:00-0530")).toBe(Date.parse("2026-11-01T15:00:00Z"));
    // Years below 100 are those years, not 1900 + the year (as Date.UTC would read them).
    expect(parseTime("0050-06-01")).toBe(Date.parse("0050-06-01T00:00:00Z"));
    expect(formatTime(parseTime("0099-12-31T23:59:59.999Z") as number)).toBe("0099-12-31T23:59:59.999Z");
  });
  it("refuses times without a zone, impossible dates and other text", () => {
    for (const bad of [
      "2026-11-01T09:30:00",
      "2026-02-30",
      "2026-13-01",
      "2026-11-01T24:00:00Z",
      "yesterday",
      "1793613600000",
      "",
      "2026-11-01T09:30:00Z; DROP TABLE c",
    ]) {
      expect(parseTime(bad), bad).toBeUndefined();
    }
  });
});

describe("listing by time in a table made before times were kept", () => {
  it("puts documents of unknown time last, by id", async () => {
    await makeTimelessTable();
    const store = new LanceStore({ dbPath: path.join(dir, "db"), logger: silentLogger, now: () => now });
    try {
      await store.upsert("c", model, [doc("z", unit(0, 0, 1), "new")]);
      const times = await store.listTimes("c");
      expect(times.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
        { id: "a", createdAt: null, updatedAt: null },
        { id: "b", createdAt: null, updatedAt: null },
        { id: "z", createdAt: formatTime(T0), updatedAt: formatTime(T0) },
      ]);
    } finally {
      await store.close();
    }
  });
});
