import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkText, joinChunks, type TextChunk } from "../../src/chunking.js";

/** Whitespace-separated words, as the hash test embedder counts them. */
const words = (text: string) => text.split(/\s+/).filter((w) => w.length > 0).length;
/** One token per character: makes "words" longer than any window. */
const chars = (text: string) => [...text].length;

function sentence(n: number): string {
  return `Sentence ${n} says something about topic ${n} here.`;
}

/** The properties every chunking must have, whatever the text and the window. */
function checkChunks(text: string, chunks: TextChunk[], maxTokens: number, count: (t: string) => number) {
  expect(chunks.length).toBeGreaterThan(0);
  expect(chunks[0]?.start).toBe(0);
  expect(chunks.at(-1)?.end).toBe(text.length);
  chunks.forEach((chunk, i) => {
    expect(chunk.text).toBe(text.slice(chunk.start, chunk.end));
    expect(chunk.end).toBeGreaterThan(chunk.start);
    if (chunks.length > 1) expect(count(chunk.text)).toBeLessThanOrEqual(maxTokens);
    const previous = chunks[i - 1];
    if (previous) {
      // No gap (every character is in some chunk) and always progress.
      expect(chunk.start).toBeLessThanOrEqual(previous.end);
      expect(chunk.start).toBeGreaterThan(previous.start);
      expect(chunk.end).toBeGreaterThan(previous.end);
    }
  });
  expect(joinChunks(chunks)).toBe(text);
  expect(joinChunks([...chunks].reverse())).toBe(text);
}

describe("chunkText", () => {
  it("keeps a text that fits the window as one chunk", () => {
    const text = "  A short note.\n\nWith two paragraphs.  ";
    expect(chunkText(text, { maxTokens: 32, countTokens: words })).toEqual([
      { text, start: 0, end: text.length },
    ]);
  });

  it("cuts between sentences, repeating the last sentence as overlap", () => {
    const text = Array.from({ length: 12 }, (_, i) => sentence(i)).join(" ");
    // 8 words a sentence, 32 a window: 4 sentences per chunk, overlap 0.3 * 32 = 9 words = 1 sentence.
    const chunks = chunkText(text, { maxTokens: 32, countTokens: words, overlap: 0.3 });
    checkChunks(text, chunks, 32, words);
    for (const chunk of chunks) {
      expect(chunk.text).toMatch(/^Sentence \d+/);
      expect(chunk.text.trimEnd()).toMatch(/here\.$/);
    }
    expect(chunks[0]?.text.trimEnd()).toBe([0, 1, 2, 3].map(sentence).join(" "));
    expect(chunks[1]?.text).toMatch(/^Sentence 3 /);
  });

  it("prefers paragraph boundaries to sentence boundaries", () => {
    const paragraph = (p: number) => [1, 2].map((s) => sentence(p * 10 + s)).join(" ");
    const text = [0, 1, 2, 3].map(paragraph).join("\n\n");
    // 16 words a paragraph: exactly two fit a 40-word window, and overlap (0) never splits one.
    const chunks = chunkText(text, { maxTokens: 40, countTokens: words, overlap: 0 });
    checkChunks(text, chunks, 40, words);
    expect(chunks.map((c) => c.text.trim())).toEqual([
      `${paragraph(0)}\n\n${paragraph(1)}`,
      `${paragraph(2)}\n\n${paragraph(3)}`,
    ]);
  });

  it("falls back to words for one enormous sentence, and to characters for one enormous word", () => {
    const text = `${"word ".repeat(100)}${"x".repeat(70)} end`;
    const byWords = chunkText(text, { maxTokens: 32, countTokens: words });
    checkChunks(text, byWords, 32, words);
    expect(byWords.length).toBeGreaterThanOrEqual(4);
    const byChars = chunkText(text, { maxTokens: 30, countTokens: chars });
    checkChunks(text, byChars, 30, chars);
    expect(byChars.some((c) => /^x+$/.test(c.text))).toBe(true);
  });

  it("never splits a surrogate pair", () => {
    const text = "😀".repeat(50);
    const chunks = chunkText(text, { maxTokens: 7, countTokens: chars });
    checkChunks(text, chunks, 7, chars);
    for (const chunk of chunks) expect(chunk.text).toMatch(/^(😀)+$/u);
  });

  it("checks the joined count when the tokenizer is not additive", () => {
    // A counter under which joined text costs more than its pieces: one extra token per line break.
    const count = (t: string) => words(t) + (t.match(/\n/g)?.length ?? 0);
    const text = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n");
    const chunks = chunkText(text, { maxTokens: 10, countTokens: count });
    checkChunks(text, chunks, 10, count);
  });

  it("never makes a chunk the previous one already holds (found by the property below)", () => {
    const text = ". ! !   ";
    const chunks = chunkText(text, { maxTokens: 5, countTokens: chars, overlap: 0.4 });
    checkChunks(text, chunks, 5, chars);
    expect(chunks.map((c) => c.text)).toEqual([". ! ", "!   "]);
  });

  it("covers every character exactly, for any text and window (property)", () => {
    const textArb = fc
      .array(
        fc.oneof(
          fc.constantFrom(" ", "  ", "\n", "\n\n", ". ", "! ", "\t", "😀", "é"),
          fc.string({ minLength: 1, maxLength: 12 }),
        ),
        { maxLength: 120 },
      )
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(
        textArb,
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        (text, maxTokens, overlap, byWords) => {
          fc.pre(text.length > 0);
          const count = byWords ? words : chars;
          const chunks = chunkText(text, { maxTokens, countTokens: count, overlap });
          checkChunks(text, chunks, maxTokens, count);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
