import { createHash } from "node:crypto";
import type { Embedder, TokenWindow } from "../../src/embeddings/embedder.js";
import type { ModelSpec } from "../../src/embeddings/model-spec.js";
import type { EmbedderFactory } from "../../src/embeddings/registry.js";

/**
 * Test-only embedder: feature hashing of lower-cased words into `dimensions` buckets, L2-normalised.
 * Deterministic and instant; texts sharing words are closer. It is not a language model and is never
 * reachable from the server's configuration. Its "tokens" are whitespace-separated words and its
 * window is HASH_WINDOW of them, so tests can make documents that must be split with little text.
 */
export class HashEmbedder implements Embedder {
  readonly id: string;
  calls = 0;

  constructor(
    name: string,
    readonly dimensions = 64,
    /** Words one embedding covers; longer texts are stored as chunks. */
    readonly window = HASH_WINDOW,
  ) {
    this.id = `${name}@fp32`;
  }

  async embedDocuments(texts: string[]): Promise<Float32Array[]> {
    this.calls += 1;
    return texts.map((text) => this.embed(text));
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return this.embed(text);
  }

  async tokenWindow(): Promise<TokenWindow> {
    return { maxTokens: this.window, countTokens: countWords };
  }

  async dispose(): Promise<void> {}

  private embed(text: string): Float32Array {
    const vector = new Float32Array(this.dimensions);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      const digest = createHash("sha256").update(word).digest();
      const bucket = digest.readUInt32LE(0) % this.dimensions;
      vector[bucket] = (vector[bucket] ?? 0) + ((digest[4] ?? 0) & 1 ? 1 : -1);
    }
    let norm = 0;
    for (const x of vector) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    if (norm === 1 && vector.every((x) => x === 0)) vector[0] = 1;
    for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm;
    return vector;
  }
}

/** Words (whitespace-separated) one hash embedding covers. */
export const HASH_WINDOW = 32;

function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}

/** A factory that serves a HashEmbedder for any spec; `dims` picks the dimension per model name. */
export function hashFactory(
  dims: (name: string) => number = () => 64,
): EmbedderFactory & { specs: ModelSpec[] } {
  const specs: ModelSpec[] = [];
  const factory = async (spec: ModelSpec) => {
    specs.push(spec);
    return new HashEmbedder(spec.name, dims(spec.name));
  };
  return Object.assign(factory, { specs });
}
