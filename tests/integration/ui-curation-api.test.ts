import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiRequest, handleApi } from "../../src/ui/api.js";
import { type Harness, startHarness } from "../support/harness.js";

/** The curation routes on the memory core, without HTTP: the map payload, find similar, duplicates, merge. */
describe("the web UI's curation API", () => {
  let h: Harness;
  const call = (method: string, route: string, query: Record<string, string> | undefined, body?: unknown) => {
    const request: ApiRequest = { method, route, query: new URLSearchParams(query ?? {}), body };
    return handleApi(h.app.memory, request);
  };
  /** Decodes the map's binary payload as the page does. */
  const decode = (bytes: Buffer) => {
    const headerLength = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString("utf8")) as {
      total: number;
      count: number;
      sampled: boolean;
      dimensions: number;
      ids: string[];
    };
    const scalesAt = Math.ceil((4 + headerLength) / 4) * 4;
    const vectorsAt = scalesAt + 4 * header.count;
    expect(bytes.length).toBe(vectorsAt + header.count * header.dimensions);
    return { ...header, scale0: bytes.readFloatLE(scalesAt), first: bytes.readInt8(vectorsAt) };
  };

  beforeAll(async () => {
    h = await startHarness();
    await h.ok("add_documents", {
      collection: "notes",
      documents: [
        { id: "a", text: "alpha beta gamma", metadata: { topic: "x", tags: ["one"] } },
        { id: "b", text: "alpha beta gamma", metadata: { topic: "y", tags: ["two"], extra: true } },
        { id: "c", text: "completely different words here", metadata: { topic: "x" } },
      ],
    });
  });
  afterAll(() => h.close());

  it("sends every document's vector for the map, filtered or sampled as asked", async () => {
    const all = await call("GET", "/map", { collection: "notes" });
    expect(all.status).toBe(200);
    const map = decode(all.binary as Buffer);
    expect(map).toMatchObject({ total: 3, count: 3, sampled: false, dimensions: 64, ids: ["a", "b", "c"] });
    expect(map.scale0).toBeGreaterThan(0);
    const filtered = decode(
      (await call("GET", "/map", { collection: "notes", where: '{"topic":"x"}' })).binary as Buffer,
    );
    expect(filtered).toMatchObject({ total: 2, count: 2, ids: ["a", "c"] });
    const sampled = decode((await call("GET", "/map", { collection: "notes", max: "2" })).binary as Buffer);
    expect(sampled).toMatchObject({ total: 3, count: 2, sampled: true });
    expect((await call("GET", "/map", { collection: "ghost" })).status).toBe(404);
    expect((await call("GET", "/map", { collection: "notes", max: "0" })).status).toBe(400);
  });

  it("finds similar documents without the document itself", async () => {
    const reply = await call("GET", "/similar", { collection: "notes", id: "a", n: "5" });
    const ids = (reply.body as { results: { id: string; score: number }[] }).results.map((r) => r.id);
    expect(ids[0]).toBe("b");
    expect(ids).not.toContain("a");
    expect((await call("GET", "/similar", { collection: "notes", id: "nope" })).status).toBe(404);
  });

  it("pairs identical texts as duplicates and merges them by the stated rule", async () => {
    const reply = await call("GET", "/duplicates", { collection: "notes", min: "0.999" });
    expect(reply.body).toMatchObject({
      checked: 3,
      total: 3,
      nextCursor: null,
      pairs: [{ a: { id: "a" }, b: { id: "b" } }],
    });
    const merged = await call("POST", "/merge", undefined, { collection: "notes", keep: "a", drop: "b" });
    expect(merged.body).toEqual({ kept: "a", deleted: 1, addedKeys: ["tags", "extra"] });
    const a = await call("GET", "/documents", { collection: "notes", id: "a" });
    expect((a.body as { documents: { metadata: unknown }[] }).documents[0]?.metadata).toEqual({
      topic: "x",
      tags: ["one", "two"],
      extra: true,
    });
    expect(
      (await call("POST", "/merge", undefined, { collection: "notes", keep: "a", drop: "a" })).status,
    ).toBe(400);
    expect(
      (await call("POST", "/merge", undefined, { collection: "notes", keep: "a", drop: "b" })).status,
    ).toBe(400);
  });
});
