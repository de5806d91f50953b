/**
 * What the rest of the server knows about a model: it turns text into unit-length vectors.
 * Everything model-specific (runtime, tokenizer, weights, prefixes) stays behind this interface.
 */
export interface Embedder {
  /** Stable identity recorded with each collection, e.g. "Xenova/all-MiniLM-L6-v2@q8". */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dimensions: number;
  /** Embeds texts to be stored. Vectors are L2-normalised. */
  embedDocuments(texts: string[]): Promise<Float32Array[]>;
  /** Embeds a search query; models with query prefixes/instructions differ from documents here. */
  embedQuery(text: string): Promise<Float32Array>;
  /**
   * How much text one vector covers, measured with the model's own tokenizer, so that long texts
   * are split into chunks the model reads whole instead of being cut at its limit. May load the model.
   */
  tokenWindow(): Promise<TokenWindow>;
  /** Releases native resources (sessions, backends). Safe to call more than once. */
  dispose(): Promise<void>;
}

export interface TokenWindow {
  /** Tokens of document text one embedding reads whole: the model's limit less special tokens and prefixes. */
  maxTokens: number;
  /** Tokens `text` becomes as a document, without special tokens or prefixes. */
  countTokens(text: string): number;
}

export type { ModelRecord } from "../model-record.js";

/** A model that could not be made ready; carries a message that tells the user what to do. */
export class ModelUnavailableError extends Error {
  override readonly name = "ModelUnavailableError";
}
