/**
 * The identity a collection records, so it is always embedded and searched with its own model.
 * Shared by the store (which records and checks it) and the embeddings (which produce it): neither
 * imports the other.
 */
export interface ModelRecord {
  /** Model id (hub id, "local:<abs path>", or a bundled name). */
  model: string;
  /** Weight precision, e.g. "q8", "fp32". */
  dtype: string;
  dimensions: number;
}

export function sameModel(a: ModelRecord, b: ModelRecord): boolean {
  return a.model === b.model && a.dtype === b.dtype && a.dimensions === b.dimensions;
}

export function describeModel(model: ModelRecord): string {
  return `model ${model.model} (${model.dtype}, ${model.dimensions} dimensions)`;
}
