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
  /** Releases native resources (sessions, backends). Safe to call more than once. */
  dispose(): Promise<void>;
}

/** The identity a collection records, so it is always embedded and searched with its own model. */
export interface ModelRecord {
  /** Model id (hub id, "local:<abs path>", or a bundled name). */
  model: string;
  /** Weight precision, e.g. "q8", "fp32". */
  dtype: string;
  dimensions: number;
}

/** A model that could not be made ready; carries a message that tells the user what to do. */
export class ModelUnavailableError extends Error {
  override readonly name = "ModelUnavailableError";
}
