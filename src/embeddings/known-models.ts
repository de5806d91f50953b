/**
 * Models we know how to use well: their pooling and the prefixes their authors trained with.
 * e5 and nomic models expect "query: "/"passage: "-style markers on both sides; bge and mxbai
 * prepend an instruction to queries only. Using a model without its prefixes costs retrieval
 * quality silently, so they are applied by `embedQuery`/`embedDocuments`, not left to the caller.
 * Models not listed here get mean pooling and no prefixes (the sentence-transformers default).
 */
export interface KnownModel {
  id: string;
  dimensions: number;
  pooling: "mean" | "cls";
  queryPrefix?: string;
  documentPrefix?: string;
  /** Tokens the model reads; longer input is cut by the tokenizer. */
  maxTokens: number;
  /** One line for `models list`. */
  note: string;
}

const BGE_QUERY = "Represent this sentence for searching relevant passages: ";

export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    id: "Xenova/all-MiniLM-L6-v2",
    dimensions: 384,
    pooling: "mean",
    maxTokens: 256,
    note: "default; small and fast, English",
  },
  {
    id: "Xenova/all-MiniLM-L12-v2",
    dimensions: 384,
    pooling: "mean",
    maxTokens: 256,
    note: "a little better than L6, twice the cost",
  },
  {
    id: "Xenova/all-mpnet-base-v2",
    dimensions: 768,
    pooling: "mean",
    maxTokens: 384,
    note: "strong general-purpose English",
  },
  {
    id: "Xenova/paraphrase-multilingual-MiniLM-L12-v2",
    dimensions: 384,
    pooling: "mean",
    maxTokens: 128,
    note: "50+ languages",
  },
  {
    id: "Xenova/bge-small-en-v1.5",
    dimensions: 384,
    pooling: "cls",
    queryPrefix: BGE_QUERY,
    maxTokens: 512,
    note: "better retrieval than MiniLM at the same size",
  },
  {
    id: "Xenova/bge-base-en-v1.5",
    dimensions: 768,
    pooling: "cls",
    queryPrefix: BGE_QUERY,
    maxTokens: 512,
    note: "strong English retrieval",
  },
  {
    id: "mixedbread-ai/mxbai-embed-large-v1",
    dimensions: 1024,
    pooling: "cls",
    queryPrefix: BGE_QUERY,
    maxTokens: 512,
    note: "large; best quality here, slowest",
  },
  {
    id: "Xenova/e5-small-v2",
    dimensions: 384,
    pooling: "mean",
    queryPrefix: "query: ",
    documentPrefix: "passage: ",
    maxTokens: 512,
    note: "English retrieval",
  },
  {
    id: "Xenova/multilingual-e5-small",
    dimensions: 384,
    pooling: "mean",
    queryPrefix: "query: ",
    documentPrefix: "passage: ",
    maxTokens: 512,
    note: "multilingual retrieval",
  },
  {
    id: "nomic-ai/nomic-embed-text-v1.5",
    dimensions: 768,
    pooling: "mean",
    queryPrefix: "search_query: ",
    documentPrefix: "search_document: ",
    maxTokens: 2048,
    note: "long inputs (2048 tokens)",
  },
];

export function knownModel(id: string): KnownModel | undefined {
  return KNOWN_MODELS.find((m) => m.id === id);
}
