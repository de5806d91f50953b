import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelUnavailableError } from "../../src/embeddings/embedder.js";
import { createEmbedderFactory } from "../../src/embeddings/providers.js";
import { TransformersEmbedder } from "../../src/embeddings/transformers.js";
import { type Harness, startHarness, tempDir } from "../support/harness.js";
import { TINY_BERT } from "../support/stdio.js";

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);
const norm = (a: Float32Array) => Math.sqrt(cosine(a, a));

describe("TransformersEmbedder on the tiny BERT fixture (real transformers.js + onnxruntime)", () => {
  let embedder: TransformersEmbedder;
  const cache = tempDir("vmm-cache-");
  beforeAll(async () => {
    embedder = await TransformersEmbedder.create({
      model: TINY_BERT,
      dtype: "fp32",
      local: true,
      cacheDir: cache.dir,
      offline: true,
    });
  });
  afterAll(async () => {
    await embedder.dispose();
    cache.cleanup();
  });

  it("reports its identity and dimension", () => {
    expect(embedder.id).toBe(`${TINY_BERT}@fp32`);
    expect(embedder.dimensions).toBe(32);
  });

  it("returns unit vectors, deterministic and independent of batching and padding", async () => {
    const texts = [
      "hi",
      "the quick brown fox jumps over the lazy dog",
      "hi",
      "a much longer sentence about vector databases and memory",
    ];
    const batch = await embedder.embedDocuments(texts);
    expect(batch).toHaveLength(4);
    for (const v of batch) {
      expect(v).toHaveLength(32);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(cosine(batch[0] as Float32Array, batch[2] as Float32Array)).toBeCloseTo(1, 6);
    const single = await embedder.embedQuery("hi");
    expect(cosine(single, batch[0] as Float32Array)).toBeCloseTo(1, 5);
    expect(cosine(batch[0] as Float32Array, batch[1] as Float32Array)).toBeLessThan(0.999);
  });

  it("measures texts with its tokenizer against the model's limit less [CLS] and [SEP]", async () => {
    const window = await embedder.tokenWindow();
    // The fixture's tokenizer_config and config both say 512.
    expect(window.maxTokens).toBe(510);
    expect(window.countTokens("")).toBe(0);
    const short = window.countTokens("the quick brown fox");
    expect(short).toBeGreaterThanOrEqual(4);
    expect(window.countTokens("the quick brown fox ".repeat(200))).toBe(short * 200);
  });

  it("embeds more texts than one internal batch, in order", async () => {
    const texts = Array.from({ length: 70 }, (_, i) => `sentence number ${i} about topic ${i % 7}`);
    const all = await embedder.embedDocuments(texts);
    expect(all).toHaveLength(70);
    const last = await embedder.embedQuery(texts[69] as string);
    expect(cosine(last, all[69] as Float32Array)).toBeCloseTo(1, 5);
  });
});

describe("ONNX Runtime thread spinning (--ort-spinning)", () => {
  it("gives the same vectors with spinning off as with the runtime's default", async () => {
    const cache = tempDir("vmm-cache-");
    const open = (spinning?: boolean) =>
      TransformersEmbedder.create({
        model: TINY_BERT,
        dtype: "fp32",
        local: true,
        cacheDir: cache.dir,
        offline: true,
        ...(spinning === undefined ? {} : { spinning }),
      });
    const [byDefault, sleeping] = await Promise.all([open(), open(false)]);
    try {
      const texts = ["hi", "the quick brown fox jumps over the lazy dog"];
      const [a, b] = await Promise.all([byDefault.embedDocuments(texts), sleeping.embedDocuments(texts)]);
      for (let i = 0; i < texts.length; i++) {
        expect(cosine(a[i] as Float32Array, b[i] as Float32Array)).toBeCloseTo(1, 6);
      }
    } finally {
      await Promise.all([byDefault.dispose(), sleeping.dispose()]);
      cache.cleanup();
    }
  });
});

describe("model loading failures", () => {
  it("names the missing files of a local directory", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const error = await TransformersEmbedder.create({
        model: dir,
        dtype: "fp32",
        local: true,
        cacheDir: dir,
        offline: true,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect((error as Error).message).toContain("missing config.json, tokenizer.json, onnx/model.onnx");
    } finally {
      cleanup();
    }
  });

  it("names the weights file a dtype needs", async () => {
    const error = await TransformersEmbedder.create({
      model: TINY_BERT,
      dtype: "q8",
      local: true,
      cacheDir: TINY_BERT,
      offline: true,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(path.join("onnx", "model_quantized.onnx"));
  });

  it("fails fast offline for an uncached hub model, naming the model, the cache and the fixes", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const factory = createEmbedderFactory({ cacheDir: dir, offline: true });
      const error = await factory(
        { kind: "hub", name: "Xenova/all-MiniLM-L6-v2", dtype: "q8" },
        () => undefined,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain("Xenova/all-MiniLM-L6-v2");
      expect(message).toContain(dir);
      expect(message).toContain("without --offline");
      expect(message).toContain("--model use-lite");
    } finally {
      cleanup();
    }
  });
});

describe("the server with a transformers.js model", () => {
  let h: Harness;
  beforeAll(async () => {
    const { dir } = tempDir();
    h = await startHarness({
      dbPath: path.join(dir, "db"),
      model: TINY_BERT,
      factory: createEmbedderFactory({ cacheDir: path.join(dir, "cache"), offline: true }),
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it("finds a stored text first with score ≈ 1 when queried with that text", async () => {
    const texts = [
      "Paris is the capital of France.",
      "The mitochondria is the powerhouse of the cell.",
      "Vector databases index embeddings for similarity search.",
      "The Pacific is the largest ocean on Earth.",
      "Git rebase rewrites commit history.",
    ];
    const added = await h.ok<{ model: { dimensions: number; dtype: string } }>("add_documents", {
      collection: "facts",
      documents: texts.map((text, i) => ({ id: `f${i}`, text })),
    });
    expect(added.model).toMatchObject({ dimensions: 32, dtype: "fp32" });
    for (const [i, text] of texts.entries()) {
      const out = await h.ok<{ results: Array<{ id: string; score: number }> }>("search_similar", {
        collection: "facts",
        query: text,
      });
      expect(out.results[0]?.id).toBe(`f${i}`);
      expect(out.results[0]?.score).toBeCloseTo(1, 4);
    }
  });
});
