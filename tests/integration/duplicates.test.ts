import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStsPairs } from "../../bench/lib/sts-data.js";
import { DEFAULT_DUPLICATE_THRESHOLD } from "../../src/contract/index.js";
import { createUseLiteEmbedder } from "../../src/embeddings/use-lite.js";
import { type Harness, startHarness } from "../support/harness.js";

type Added = {
  ids: string[];
  chunks: number[];
  added: number;
  duplicates: Array<{ id: string; duplicate_of: string; score: number; exact: boolean }>;
  skipped: string[];
};

const VAULT = "The deploy key lives in the team vault, next to the release checklist.";

describe("near-duplicate warnings in add_documents", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "vault", text: VAULT },
        { id: "lunch", text: "Lunch on Fridays is at the noodle place." },
      ],
    });
  });
  afterEach(async () => h.close());
  const add = (args: Record<string, unknown>) => h.ok<Added>("add_documents", { collection: "c", ...args });

  it("reports an exact repeat under another id, and stores it by default", async () => {
    const out = await add({ documents: [{ id: "copy", text: VAULT }] });
    expect(out.duplicates).toEqual([{ id: "copy", duplicate_of: "vault", score: 1, exact: true }]);
    expect(out).toMatchObject({ added: 1, skipped: [], chunks: [1] });
    const text = (await h.call("add_documents", { collection: "c", documents: [{ text: VAULT }] })).content;
    expect(JSON.stringify(text)).toMatch(/repeats (vault|copy) \(same text\)/);
  });

  it('with on_duplicate "skip" stores nothing for a repeat and says so', async () => {
    const out = await add({
      on_duplicate: "skip",
      documents: [
        { id: "copy", text: VAULT },
        { id: "fresh", text: "The office plants need water on Mondays." },
      ],
    });
    expect(out).toMatchObject({ skipped: ["copy"], added: 1, chunks: [0, 1] });
    const got = await h.ok<{ not_found: string[]; total: number }>("get_documents", {
      collection: "c",
      ids: ["copy", "fresh"],
    });
    expect(got.not_found).toEqual(["copy"]);
    const all = await h.ok<{ total: number }>("get_documents", { collection: "c" });
    expect(all.total).toBe(3);
    // All skipped: no commit at all.
    const none = await add({ on_duplicate: "skip", documents: [{ id: "again", text: VAULT }] });
    expect(none).toMatchObject({ skipped: ["again"], added: 0, chunks: [0] });
  });

  it("finds the closest stored document above the threshold, and nothing below it", async () => {
    const near = `${VAULT} Ask ops.`;
    const out = await add({ documents: [{ id: "near", text: near }], duplicate_threshold: 0.5 });
    expect(out.duplicates).toHaveLength(1);
    expect(out.duplicates[0]).toMatchObject({ id: "near", duplicate_of: "vault", exact: false });
    const score = out.duplicates[0]?.score ?? 0;
    expect(score).toBeGreaterThan(0.5);
    expect(score).toBeLessThan(1);
    // Just above that score: not a duplicate.
    const strict = await add({
      documents: [{ id: "near2", text: near }],
      duplicate_threshold: Math.min(1, score + 0.01),
    });
    expect(strict.duplicates.filter((d) => d.duplicate_of === "vault")).toEqual([]);
  });

  it("never counts a document as a duplicate of itself or of others written in the same call", async () => {
    const again = await add({ documents: [{ id: "vault", text: VAULT }] });
    expect(again.duplicates).toEqual([]);
    const pair = await add({
      documents: [
        { id: "p1", text: "Two new and identical notes." },
        { id: "p2", text: "Two new and identical notes." },
      ],
    });
    expect(pair.duplicates).toEqual([]);
    // A new collection has nothing to repeat.
    const fresh = await h.ok<Added>("add_documents", { collection: "new", documents: [{ text: VAULT }] });
    expect(fresh.duplicates).toEqual([]);
    expect(
      await h.error("add_documents", { collection: "c", documents: [{ text: "x" }], on_duplicate: "merge" }),
    ).toMatch(/on_duplicate/);
  });
});

describe("near-duplicate checks that must read deeper or wait their turn", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h.close());
  const add = (args: Record<string, unknown>) => h.ok<Added>("add_documents", { collection: "c", ...args });
  const P = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu";

  it("finds a duplicate behind the stored chunks of the document being rewritten", async () => {
    const first = await add({
      documents: [
        { id: "long", text: Array.from({ length: 8 }, () => P).join(" ") },
        { id: "near", text: `${P} nu` },
      ],
    });
    // The rewritten document's own chunks are the closest hits; they must not hide "near".
    expect(first.chunks[0]).toBeGreaterThan(2);
    const again = await add({ on_duplicate: "skip", documents: [{ id: "long", text: `${P} xi` }] });
    expect(again.duplicates).toEqual([
      expect.objectContaining({ id: "long", duplicate_of: "near", exact: false }),
    ]);
    // Skipped: the stored version stays as it was.
    expect(again).toMatchObject({ skipped: ["long"], chunks: [0] });
    const got = await h.ok<{ documents: Array<{ chunks: number }> }>("get_documents", {
      collection: "c",
      ids: ["long"],
    });
    expect(got.documents[0]?.chunks).toBe(first.chunks[0]);
  });

  it('stores a text once when two "skip" calls add it at the same time', async () => {
    await add({ documents: [{ id: "seed", text: "An unrelated note about lunch." }] });
    const [a, b] = await Promise.all([
      add({ on_duplicate: "skip", documents: [{ id: "x", text: VAULT }] }),
      add({ on_duplicate: "skip", documents: [{ id: "y", text: VAULT }] }),
    ]);
    expect(a.added + b.added).toBe(1);
    expect([...a.skipped, ...b.skipped]).toHaveLength(1);
    const all = await h.ok<{ documents: Array<{ id: string }> }>("get_documents", { collection: "c" });
    expect(all.documents.map((d) => d.id).sort()).toEqual(a.added === 1 ? ["seed", "x"] : ["seed", "y"]);
  });
});

describe("the default threshold with the bundled model", () => {
  it("separates STS-B dev pairs scored 5 from pairs below 3 as bench/duplicates.ts measured", async () => {
    const pairs = readStsPairs();
    if (!pairs) throw new Error("the STS-B dev data is needed (../shared/data/stsbenchmark/sts-dev.csv)");
    // Every pair scored 5, and a fixed sample of those below 3 (every 6th), to stay fast.
    const same = pairs.filter((p) => p.score === 5);
    const different = pairs.filter((p) => p.score < 3).filter((_, i) => i % 6 === 0);
    const embedder = createUseLiteEmbedder();
    try {
      const flaggedShare = async (list: typeof same) => {
        const firsts = await embedder.embedDocuments(list.map((p) => p.first));
        const seconds = await embedder.embedDocuments(list.map((p) => p.second));
        const flagged = list.filter((_, i) => {
          const [a, b] = [firsts[i] as Float32Array, seconds[i] as Float32Array];
          return a.reduce((sum, x, k) => sum + x * (b[k] as number), 0) >= DEFAULT_DUPLICATE_THRESHOLD;
        });
        return flagged.length / list.length;
      };
      // Measured on all pairs: 85.7% and 4.9% (bench/RESULTS.md); the sample allows some spread.
      expect(await flaggedShare(same)).toBeGreaterThanOrEqual(0.8);
      expect(await flaggedShare(different)).toBeLessThanOrEqual(0.09);
    } finally {
      await embedder.dispose();
    }
  }, 60_000);

  it("through the tools: a paraphrase scored 5 is reported at the default threshold", async () => {
    const h = await startHarness({ model: "use-lite", factory: async () => createUseLiteEmbedder() });
    try {
      await h.ok("add_documents", {
        collection: "c",
        documents: [{ id: "a", text: "A man with a hard hat is dancing." }],
      });
      const out = await h.ok<Added>("add_documents", {
        collection: "c",
        documents: [
          { id: "b", text: "A man wearing a hard hat is dancing." },
          { id: "c", text: "The stock market fell sharply today." },
        ],
      });
      expect(out.duplicates.map((d) => [d.id, d.duplicate_of, d.exact])).toEqual([["b", "a", false]]);
    } finally {
      await h.close();
    }
  });
});
