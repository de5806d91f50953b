import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ModelUnavailableError } from "../../src/embeddings/embedder.js";
import type { ModelSpec } from "../../src/embeddings/model-spec.js";
import { type Harness, startHarness, tempDir } from "../support/harness.js";
import { HashEmbedder, hashFactory } from "../support/hash-embedder.js";

const open: Harness[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  for (const c of cleanups.splice(0)) c();
});

async function server(
  dbPath: string,
  model: string,
  factory = hashFactory((name) => (name === "m/b" ? 16 : 64)),
) {
  const h = await startHarness({ dbPath, model, factory });
  open.push(h);
  return { h, factory };
}

function sharedDb(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return path.join(dir, "db");
}

describe("embedding identity", () => {
  it("embeds and searches a collection with its own model, whatever the server's default", async () => {
    const dbPath = sharedDb();
    const first = await server(dbPath, "m/a");
    await first.h.ok("add_documents", {
      collection: "notes",
      documents: [{ id: "1", text: "alpha beta gamma" }],
    });

    // Restarted with another default model: old collection keeps m/a (64-d), a new one gets m/b (16-d).
    const second = await server(dbPath, "m/b");
    await second.h.ok("add_documents", { collection: "notes", documents: [{ id: "2", text: "delta" }] });
    await second.h.ok("add_documents", { collection: "fresh", documents: [{ id: "x", text: "epsilon" }] });
    const hit = await second.h.ok<{ results: Array<{ id: string; score: number }> }>("search_similar", {
      collection: "notes",
      query: "alpha beta gamma",
    });
    expect(hit.results[0]).toMatchObject({ id: "1" });
    expect(hit.results[0]?.score).toBeCloseTo(1, 5);
    expect(second.factory.specs.map((s: ModelSpec) => s.name).sort()).toEqual(["m/a", "m/b"]);
    const list = await second.h.ok<{
      collections: Array<{ name: string; model: string; dimensions: number; count: number }>;
    }>("list_collections", {});
    expect(list.collections).toEqual([
      { name: "fresh", count: 1, model: "m/b", dtype: "fp32", dimensions: 16 },
      { name: "notes", count: 2, model: "m/a", dtype: "fp32", dimensions: 64 },
    ]);
  });

  it("says which model a collection needs and how to fix it when that model cannot load", async () => {
    const dbPath = sharedDb();
    const first = await server(dbPath, "m/a");
    await first.h.ok("add_documents", { collection: "notes", documents: [{ text: "kept safe" }] });

    const failing = async (spec: ModelSpec) => {
      if (spec.name === "m/a")
        throw new ModelUnavailableError("weights for m/a are not in the cache; run with network once");
      return new HashEmbedder(spec.name, 16);
    };
    const second = await startHarness({ dbPath, model: "m/b", factory: failing });
    open.push(second);
    for (const [tool, args] of [
      ["search_similar", { collection: "notes", query: "kept" }],
      ["add_documents", { collection: "notes", documents: [{ text: "more" }] }],
    ] as const) {
      const message = await second.error(tool, args);
      expect(message).toContain('Collection "notes" was made with model m/a (fp32, 64 dimensions)');
      expect(message).toContain("run with network once");
    }
    expect(
      (await second.ok<{ collections: Array<{ count: number }> }>("list_collections", {})).collections[0]
        ?.count,
    ).toBe(1);
  });

  it("refuses to mix vectors when a model's output dimension changed", async () => {
    const dbPath = sharedDb();
    const first = await server(dbPath, "m/a");
    await first.h.ok("add_documents", { collection: "notes", documents: [{ text: "one" }] });
    const second = await server(
      dbPath,
      "m/a",
      hashFactory(() => 8),
    );
    expect(
      await second.h.error("add_documents", { collection: "notes", documents: [{ text: "two" }] }),
    ).toMatch(/holds 64-dimensional vectors, but m\/a now gives 8/);
    expect(await second.h.error("search_similar", { collection: "notes", query: "one" })).toMatch(
      /64-dimensional/,
    );
  });

  it("makes a call that arrives during a model load wait for it, reporting the load and the embedding", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = async (
      spec: ModelSpec,
      onEvent: (e: { file: string; loaded: number; total: number }) => void,
    ) => {
      await gate;
      onEvent({ file: "onnx/model.onnx", loaded: 50, total: 100 });
      onEvent({ file: "onnx/model.onnx", loaded: 100, total: 100 });
      return new HashEmbedder(spec.name);
    };
    const h = await startHarness({ model: "m/slow", factory: slow });
    open.push(h);
    h.app.embedders.warm(h.app.defaultModel);
    // The handshake is done and tools are listed while the model is still loading.
    expect((await h.client.listTools()).tools.length).toBeGreaterThanOrEqual(4);
    const updates: Array<{ progress: number; total?: number; message?: string }> = [];
    const call = h.client.callTool(
      { name: "add_documents", arguments: { collection: "c", documents: [{ text: "a" }, { text: "b" }] } },
      undefined,
      { onprogress: (p) => updates.push(p) },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.app.embedders.isReady(h.app.defaultModel)).toBe(false);
    release();
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(updates.map((u) => u.progress)).toEqual([0, 0.5, 0.99, 1, 3]);
    expect(updates[0]?.message).toContain("loading embedding model m/slow@fp32");
    expect(updates[1]?.message).toContain("onnx/model.onnx 0.0 of 0.0 MB");
    expect(updates[3]?.message).toContain("ready");
    expect(updates.at(-1)).toMatchObject({ total: 3, message: "embedded 2 of 2 documents" });
  });

  it("reports a default model that cannot load, and retries on the next call", async () => {
    let attempts = 0;
    const flaky = async (spec: ModelSpec) => {
      attempts += 1;
      if (attempts === 1) throw new ModelUnavailableError("download interrupted");
      return new HashEmbedder(spec.name);
    };
    const h = await startHarness({ model: "m/a", factory: flaky });
    open.push(h);
    expect(await h.error("add_documents", { collection: "notes", documents: [{ text: "x" }] })).toMatch(
      /default embedding model could not be loaded: download interrupted/,
    );
    await h.ok("add_documents", { collection: "notes", documents: [{ text: "x" }] });
    expect(attempts).toBe(2);
  });

  it("re-embeds a collection with another model, keeping ids, texts and metadata", async () => {
    const dbPath = sharedDb();
    const { h, factory } = await server(dbPath, "m/a");
    const docs = [
      { id: "1", text: "alpha beta", metadata: { n: 1 } },
      { id: "2", text: "gamma delta", metadata: { n: 2 } },
    ];
    await h.ok("add_documents", { collection: "notes", documents: docs });
    const updates: number[] = [];
    const result = await h.app.memory.reembed(
      "notes",
      { kind: "hub", name: "m/b", dtype: "fp32" },
      {
        onProgress: (u) => updates.push(u.progress),
      },
    );
    expect(result).toMatchObject({
      changed: true,
      documents: 2,
      from: { model: "m/a", dimensions: 64 },
      to: { model: "m/b", dimensions: 16 },
    });
    expect(updates.at(-1)).toBe(3);
    const out = await h.ok<{ results: Array<{ id: string; score: number; metadata: unknown }> }>(
      "search_similar",
      {
        collection: "notes",
        query: "gamma delta",
      },
    );
    expect(out.results[0]).toMatchObject({ id: "2", metadata: { n: 2 } });
    expect(out.results[0]?.score).toBeCloseTo(1, 5);
    expect(factory.specs.map((s: ModelSpec) => s.name)).toEqual(["m/a", "m/b"]);
    const again = await h.app.memory.reembed("notes", { kind: "hub", name: "m/b", dtype: "fp32" });
    expect(again.changed).toBe(false);
    await expect(h.app.memory.reembed("nope", { kind: "hub", name: "m/b", dtype: "fp32" })).rejects.toThrow(
      /does not exist/,
    );
  });
});

describe("cancellation", () => {
  it("stops a long add_documents on notifications/cancelled, storing nothing from it, and keeps serving", async () => {
    let embedded = 0;
    const slow = async (spec: ModelSpec) => {
      const inner = new HashEmbedder(spec.name);
      return Object.assign(Object.create(inner) as HashEmbedder, {
        embedDocuments: async (texts: string[]) => {
          await new Promise((resolve) => setTimeout(resolve, 40));
          embedded += texts.length;
          return inner.embedDocuments(texts);
        },
      });
    };
    const h = await startHarness({ model: "m/slow", factory: slow });
    open.push(h);
    await h.ok("add_documents", {
      collection: "c",
      documents: [{ id: "kept", text: "acknowledged earlier" }],
    });
    const controller = new AbortController();
    const documents = Array.from({ length: 1000 }, (_, i) => ({ id: `big${i}`, text: `document ${i}` }));
    const call = h.client.callTool(
      { name: "add_documents", arguments: { collection: "c", documents } },
      undefined,
      {
        signal: controller.signal,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    controller.abort("user pressed stop");
    await expect(call).rejects.toThrow();
    const before = embedded;
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Embedding stopped at the next step, well short of the 1000 documents, and nothing was stored.
    expect(embedded).toBeLessThan(1000);
    expect(embedded - before).toBeLessThanOrEqual(64);
    const list = await h.ok<{ collections: Array<{ count: number }> }>("list_collections", {});
    expect(list.collections[0]?.count).toBe(1);
    await h.ok("add_documents", { collection: "c", documents: [{ id: "after", text: "still works" }] });
  });
});

describe("an unusable database directory", () => {
  it("answers with a clear storage error, writes nothing, and keeps serving", async () => {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, "not-a-directory");
    writeFileSync(file, "");
    try {
      const h = await startHarness({ dbPath: path.join(file, "db") });
      open.push(h);
      for (const [tool, args] of [
        ["add_documents", { collection: "c", documents: [{ text: "x" }] }],
        ["list_collections", {}],
        ["search_similar", { collection: "c", query: "x" }],
      ] as const) {
        const message = await h.error(tool, args);
        expect(message).toContain("cannot be used");
        expect(message).toContain("Not a directory");
        expect(message).toContain("--db-path");
        expect(message).not.toContain("This is a bug");
      }
      expect((await h.client.listTools()).tools.length).toBeGreaterThan(3);
    } finally {
      cleanup();
    }
  });

  it("connects once the directory is usable again (a failed connect is not remembered)", async () => {
    const { dir, cleanup } = tempDir();
    const blocker = path.join(dir, "db");
    writeFileSync(blocker, "");
    try {
      const h = await startHarness({ dbPath: path.join(blocker, "inner") });
      open.push(h);
      expect(await h.error("list_collections", {})).toContain("cannot be used");
      rmSync(blocker);
      await h.ok("add_documents", { collection: "c", documents: [{ text: "x" }] });
    } finally {
      cleanup();
    }
  });
});
